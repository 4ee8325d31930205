"""Messages name settings; each front end spells them its way (podshm.settings.fronts)."""

from __future__ import annotations

import pytest

from podshm import errors
from podshm.errors import PodshmError
from podshm.settings import FRONT_END_ENV, PODSHM, PYTEST, front_end, render, renderer_for, resolve


def test_pytest_spells_the_pytest_flag_and_the_variable():
    assert render("pass it to {context}", PYTEST) == (
        "pass it to --podshm-context (or PODSHM_CONTEXT)"
    )


def test_podshm_commands_spell_their_own_flag():
    assert render("pass it to {context}", PODSHM) == "pass it to --context (or PODSHM_CONTEXT)"


def test_a_setting_without_a_podshm_flag_is_the_pytest_flag_podshm_run_passes_through():
    assert render("{manifests}", PODSHM) == "--podshm-manifests (or PODSHM_MANIFESTS)"


def test_braces_that_name_no_setting_are_left_alone():
    text = 'use ${NAME} and {"kind": "Pod"} or {nothing}'
    assert render(text, PYTEST) == text


def test_podshm_run_tells_its_pytest_child_which_front_end_it_is():
    assert front_end({FRONT_END_ENV: PODSHM}) == PODSHM
    assert front_end({}) == PYTEST


def test_an_installed_renderer_reaches_every_error_shown(monkeypatch):
    previous = errors.use_renderer(renderer_for(PODSHM))
    try:
        err = PodshmError("no context {context}", "pass one to {context}")
        assert str(err) == (
            "no context --context (or PODSHM_CONTEXT) -- pass one to --context (or PODSHM_CONTEXT)"
        )
        assert err.raw_fix == "pass one to {context}"
    finally:
        errors.use_renderer(previous)


@pytest.mark.parametrize(
    ("front", "flag"), [(PYTEST, "--podshm-pod-timeout"), (PODSHM, "--pod-timeout")]
)
def test_a_bad_value_names_the_flag_of_the_front_end(front, flag):
    with pytest.raises(PodshmError) as bad:
        resolve({"pod_timeout": "soon"}, environ={})
    assert render(bad.value.raw_cause, front).startswith(f"{flag} (or PODSHM_POD_TIMEOUT): ")


def test_a_manifests_directory_that_does_not_exist_is_refused_when_resolved(tmp_path):
    with pytest.raises(PodshmError) as bad:
        resolve({"manifests": str(tmp_path / "nope")}, environ={})
    assert "does not exist" in bad.value.raw_cause
    assert resolve({"manifests": str(tmp_path)}, environ={}).manifests == str(tmp_path)
