"""Bad run inputs, refused once, before any namespace exists.

A manifest that does not parse, or lacks a placeholder its scenario fills, would otherwise
fail every test that uses it, each after creating a namespace; so every pod the selected
tests declare is rendered here first (as prestart will render it), and the run stops with
one line naming the manifest, the scenario and the fix. Files of the user's own manifests
directory that no selected test renders must at least parse.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import yaml

from podshm import manifests
from podshm.errors import InputError, PodshmError
from podshm.kube.launch import PodOptions, render_pod, uses_workload_image
from podshm.plugin.params import NODE_FIXTURE, RUNTIME_FIXTURE, item_param
from podshm.plugin.prestart import declared_pods
from podshm.settings import Settings
from podshm.yamlfile import where_in_yaml

CHECK_IMAGE = "podshm.local/check:input"
"""Stands for the pod images while manifests are checked (no cluster is asked yet)."""


def _manifest_problem(
    settings: Settings, item: pytest.Item, manifest: str, params: dict[str, str]
) -> str | None:
    options = PodOptions(
        image=CHECK_IMAGE,
        workload_image=CHECK_IMAGE,
        pull_policy=settings.pull_policy,
        run_id="check",
        node=item_param(item, NODE_FIXTURE) or settings.node,
        runtime_class=item_param(item, RUNTIME_FIXTURE),
        manifests=settings.manifests,
    )
    try:
        render_pod(
            manifest,
            "check",
            options,
            params=manifests.params_from_kwargs(params),
        )
    except PodshmError as err:
        return err.cause
    return None


def _parse_problem(path: Path) -> str | None:
    """A user's manifest that no selected test renders must still be one parseable object."""
    text = path.read_text(errors="replace")
    try:
        names = manifests.placeholders(text, path.name)
        filled = string.Template(text).safe_substitute(dict.fromkeys(names, "x"))
        docs = [d for d in yaml.safe_load_all(filled) if d is not None]
    except PodshmError as err:
        return f"{path}: not a valid manifest: {err.cause}"
    except yaml.YAMLError as err:
        return f"{path}: not valid YAML{where_in_yaml(err)}"
    if len(docs) != 1 or not isinstance(docs[0], dict):
        return f"{path}: expected exactly one object, found {len(docs)}"
    return None


def check_manifests(settings: Settings, items: list[pytest.Item]) -> None:
    """Render every declared pod of ``items``; the first problem stops the run (InputError)."""
    problems: dict[str, list[str]] = {}
    rendered: set[str] = set()
    for item in items:
        for declared in declared_pods(item):
            rendered.add(declared.manifest)
            problem = _manifest_problem(settings, item, declared.manifest, declared.kwargs())
            if problem is not None:
                problems.setdefault(problem, []).append(item.nodeid)
    if settings.manifests:
        for path in sorted(Path(settings.manifests).glob("*.yaml")):
            if path.name not in rendered and (problem := _parse_problem(path)):
                problems.setdefault(problem, [])
    if not problems:
        return
    first, users = next(iter(problems.items()))
    where = f" (used by {users[0]}" + (f" and {len(users) - 1} more" if len(users) > 1 else "")
    where = where + ")" if users else ""
    more = f"; {len(problems) - 1} more manifest problem(s)" if len(problems) > 1 else ""
    raise InputError(
        f"a manifest cannot be used{where}: {first}{more}",
        "fix the manifest (or the directory given to {manifests}); nothing was created",
    )


def run_workload_image(settings: Settings, items: list[pytest.Item]) -> list[str]:
    """The tests among ``items`` whose declared pods run the workload image: the run looks the
    image up (and stops without it) only when there are some. Call after
    :func:`check_manifests` (every declared manifest renders)."""
    found = []
    for item in items:
        for declared in declared_pods(item):
            text = manifests.read(declared.manifest, settings.manifests)
            if uses_workload_image(text, declared.manifest):
                found.append(item.nodeid)
                break
    return found
