"""Per-test namespaces: names, labels, lifetime, and the manager that creates and deletes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fakenamespaceapi import FakeApi
from kubernetes.client.exceptions import ApiException

from podshm.errors import PodshmError
from podshm.kube.namespaces import (
    EXPIRES_ANNOTATION,
    KEEP_LABEL,
    RUN_ID_LABEL,
    STARTED_ANNOTATION,
    NamespaceManager,
    namespace_manifest,
    parse_rfc3339,
    run_selector,
)
from podshm.names import namespace_name, new_run_id, validate_prefix


def test_names_are_prefix_run_short():
    run = new_run_id()
    name = namespace_name("podshm", run)
    prefix, run_part, short = name.split("-")
    assert (prefix, run_part, len(short)) == ("podshm", run, 6)
    assert namespace_name("podshm", "abc123", "x1") == "podshm-abc123-x1"


@pytest.mark.parametrize("bad", ["", "Upper", "-lead", "trail-", "a" * 50, "dot.ted"])
def test_bad_prefixes_are_refused_with_the_option_name(bad):
    with pytest.raises(PodshmError) as err:
        validate_prefix(bad)
    assert "--podshm-namespace-prefix" in err.value.fix


def test_manifest_labels_run_and_pod_security():
    labels = namespace_manifest("n", "abc123", "gw1", "baseline", "t.py::x")["metadata"]["labels"]
    assert labels[RUN_ID_LABEL] == "abc123"
    assert labels["podshm.io/worker"] == "gw1"
    for mode in ("enforce", "warn", "audit"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "baseline"


def test_selector_excludes_kept_namespaces():
    assert run_selector("abc123") == f"{RUN_ID_LABEL}=abc123,{KEEP_LABEL}!=true"
    assert run_selector("abc123", "gw0").endswith(",podshm.io/worker=gw0")


def test_manager_create_retry_keep_and_delete():
    api = FakeApi()
    api.conflicts = 1
    manager = NamespaceManager(api, "podshm", "abc123", "main")
    first = manager.create()
    second = manager.create("baseline")
    assert first.name.startswith("podshm-abc123-") and second.pod_security == "baseline"
    manager.keep(first.name)
    assert api.labelled[first.name] == {KEEP_LABEL: "true"}
    assert manager.delete_all().deleted == [second.name]
    assert api.deleted == [second.name]


def test_manager_create_error_is_clear():
    class Forbidden(FakeApi):
        def create_namespace(self, body):
            raise ApiException(status=403, reason="Forbidden")

    with pytest.raises(PodshmError, match=r"cannot create namespace podshm-abc123-.*HTTP 403"):
        NamespaceManager(Forbidden(), "podshm", "abc123").create()


NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def test_namespaces_carry_start_and_expiry():
    manager = NamespaceManager(FakeApi(), "podshm", "abc123", expiry_s=90, started=NOW)
    api = manager.api
    manager.create()
    notes = api.created[0]["metadata"]["annotations"]
    assert parse_rfc3339(notes[STARTED_ANNOTATION]) == NOW
    expires = parse_rfc3339(notes[EXPIRES_ANNOTATION])
    assert expires is not None
    assert 80 <= (expires - datetime.now(UTC)).total_seconds() <= 90
