"""The run's namespaces: names, labels, lifetime, heartbeat, tests' pods in them, and the
manager that creates and deletes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakenamespaceapi import FakeApi
from kubernetes.client.exceptions import ApiException

from podshm.errors import PodshmError
from podshm.kube.heartbeat import HEARTBEAT_ANNOTATION, LEASE_NAME
from podshm.kube.namespaces import (
    EXPIRES_ANNOTATION,
    KEEP_LABEL,
    KEPT_ANNOTATION_PREFIX,
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


def manager_of(api: FakeApi, **kwargs) -> NamespaceManager:
    """A manager whose heartbeat thread never beats by itself (tests call ``beat()``)."""
    return NamespaceManager(api, "podshm", "abc123", "main", heartbeat_period_s=3600, **kwargs)


def annotations(body: dict) -> dict:
    return body["metadata"].get("annotations") or {}


def test_one_shared_namespace_per_level_the_first_with_the_heartbeat():
    api = FakeApi()
    manager = manager_of(api)
    try:
        home = manager.shared("restricted")
        assert manager.shared("restricted") is home
        baseline = manager.shared("baseline")
        assert [n.name for n in (home, baseline)] == [b["metadata"]["name"] for b in api.created]
        ref = f"{home.name}/{LEASE_NAME}"
        assert annotations(api.created[0])[HEARTBEAT_ANNOTATION] == ref
        assert annotations(api.created[1])[HEARTBEAT_ANNOTATION] == ref
        assert list(api.leases) == [(home.name, LEASE_NAME)]
        assert api.created[1]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == (
            "baseline"
        )
        manager.heartbeat.beat()
        assert [(n, name) for n, name, _ in api.renewals] == [(home.name, LEASE_NAME)]
        assert manager.heartbeat_problem is None
    finally:
        manager.delete_all()
    assert sorted(api.deleted) == sorted([home.name, baseline.name])
    assert manager.heartbeat._stop.is_set()


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (404, 'namespaces "{name}" not found'),
        (
            403,
            'pods "p" is forbidden: unable to create new content in namespace {name} because it'
            " is being terminated",
        ),
    ],
)
def test_a_namespace_deleted_under_the_run_is_replaced_for_the_next_test(status, message):
    api = FakeApi()
    manager = manager_of(api)
    try:
        gone = manager.shared("baseline")
        assert manager.forget_if_gone(gone.name, status, message.format(name=gone.name))
        again = manager.shared("baseline")
        assert again.name != gone.name
        assert gone.name not in manager.live
    finally:
        manager.delete_all()


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (403, 'violates PodSecurity "restricted:latest": hostIPC=true'),
        (404, 'namespaces "another" not found'),
        (422, "spec.containers[0].image: Required value"),
    ],
)
def test_other_refusals_keep_the_namespace(status, message):
    api = FakeApi()
    manager = manager_of(api)
    try:
        home = manager.shared()
        assert not manager.forget_if_gone(home.name, status, message)
        assert manager.shared() is home
    finally:
        manager.delete_all()


def test_a_lease_that_cannot_be_created_leaves_the_expiry_to_decide():
    api = FakeApi()
    api.lease_error = ApiException(status=403, reason="Forbidden")
    manager = manager_of(api)
    home = manager.shared()
    manager.delete_all()
    assert manager.heartbeat_problem == "HTTP 403: Forbidden"
    assert api.annotated[home.name] == {HEARTBEAT_ANNOTATION: None}  # un-named again
    assert api.renewals == []


def test_a_tests_pods_go_by_its_label_and_labels_are_unique():
    api = FakeApi()
    manager = manager_of(api)
    labels = {manager.new_test_label() for _ in range(50)}
    assert len(labels) == 50
    manager.release("t7", ["ns-a", "ns-b", "ns-a"])
    assert api.pod_selectors == [("ns-a", "podshm.io/test=t7"), ("ns-b", "podshm.io/test=t7")]
    assert api.deleted == []


def test_a_failed_tests_pods_are_kept_and_everything_else_goes():
    api = FakeApi()
    manager = manager_of(api)
    home = manager.shared()
    other = manager.shared("privileged")
    manager.keep(home.name, "t3", "t.py::test_fails")
    manager.keep(home.name, "t9", "t.py::test_too")
    assert api.labelled[home.name] == {KEEP_LABEL: "true"}
    assert api.annotated[home.name] == {
        f"{KEPT_ANNOTATION_PREFIX}t3": "t.py::test_fails",
        f"{KEPT_ANNOTATION_PREFIX}t9": "t.py::test_too",
    }
    result = manager.delete_all()
    assert result.deleted == [other.name] and result.failed == []
    assert (home.name, "podshm.io/test notin (t3,t9)") in api.pod_selectors
    assert home.name not in api.deleted


def test_a_live_runs_namespaces_never_expire():
    api = FakeApi()
    manager = manager_of(api, expiry_s=600)
    home = manager.shared()
    try:
        assert manager.renew_expiry() == []  # the whole expiry is still ahead
        later = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=400)
        assert manager.renew_expiry(later) == [home.name]
        expires = parse_rfc3339(api.annotated[home.name][EXPIRES_ANNOTATION])
        assert expires is not None and (expires - datetime.now(UTC)).total_seconds() > 590
    finally:
        manager.delete_all()
