"""Sweeps: a run's own namespaces and only those, dead runs' (heartbeat stopped, else expired),
never a live run's, never kept ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fakenamespaceapi import FakeApi, ns
from kubernetes.client.exceptions import ApiException

from podshm.kube.heartbeat import HEARTBEAT_ANNOTATION, LEASE_NAME, lease_manifest
from podshm.kube.namespaces import (
    EXPIRES_ANNOTATION,
    KEEP_LABEL,
    RUN_ID_LABEL,
    STARTED_ANNOTATION,
    NamespaceManager,
    rfc3339,
    run_selector,
)
from podshm.kube.sweep import (
    Leftover,
    live_namespaces_of_run,
    read_beats,
    select_garbage,
    sweep_run,
)


def test_sweep_deletes_only_this_runs_namespaces():
    api = FakeApi(
        [ns("podshm-abc123-a", "abc123"), ns("other", "zzz999"), ns("t", "abc123", "Terminating")]
    )
    assert sweep_run(api, "abc123").deleted == ["podshm-abc123-a"]
    assert api.deleted == ["podshm-abc123-a"]
    assert api.selectors == [run_selector("abc123")]


NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def aged(name, run, started_min_ago, expires_in_min, kept=False, phase="Active") -> dict:
    labels = {RUN_ID_LABEL: run, **({KEEP_LABEL: "true"} if kept else {})}
    notes = {
        STARTED_ANNOTATION: rfc3339(NOW - timedelta(minutes=started_min_ago)),
        EXPIRES_ANNOTATION: rfc3339(NOW + timedelta(minutes=expires_in_min)),
    }
    return {
        "metadata": {"name": name, "labels": labels, "annotations": notes},
        "status": {"phase": phase},
    }


def test_garbage_is_what_expired_never_kept_or_terminating():
    found = [
        Leftover.from_namespace(n)
        for n in (
            aged("dead", "r1", 60, -30),
            aged("live", "r2", 1, 29),
            aged("kept", "r3", 60, -30, kept=True),
            aged("going", "r4", 60, -30, phase="Terminating"),
            {"metadata": {"name": "old-podshm", "labels": {RUN_ID_LABEL: "r5"}}},
        )
    ]
    names = lambda chosen: [n.name for n in chosen]  # noqa: E731
    assert names(select_garbage(found, NOW)) == ["dead", "old-podshm"]
    assert names(select_garbage(found, NOW, older_than_s=1800)) == ["dead", "old-podshm"]
    assert names(select_garbage(found, NOW, older_than_s=0)) == ["dead", "live", "old-podshm"]
    assert names(select_garbage(found, NOW, everything=True)) == [
        "dead",
        "live",
        "kept",
        "old-podshm",
    ]
    assert "started 60 min ago, dead: expired" in found[0].describe(NOW)
    assert found[1].describe(NOW).endswith("live: no heartbeat to read; expires in 29 min)")


def test_a_run_id_held_by_unexpired_namespaces_is_live():
    api = FakeApi([aged("a", "r1", 1, 29), aged("b", "r1", 60, -30)])
    assert live_namespaces_of_run(api, "r1", NOW) == ["a"]


def test_refused_deletions_are_reported_with_the_apis_message():
    class Refusing(FakeApi):
        def delete_namespace(self, name):
            raise ApiException(status=403, reason="Forbidden")

    result = sweep_run(Refusing([ns("podshm-abc123-a", "abc123")]), "abc123")
    assert result.deleted == []
    assert result.failure_lines() == [
        "cannot delete namespace podshm-abc123-a: HTTP 403: Forbidden"
    ]


def test_a_namespaces_pods_are_deleted_before_it():
    """The namespace controller then finds no pods to wait for (one pass, not a poll loop)."""
    api = FakeApi([ns("podshm-abc123-a", "abc123")])
    manager = NamespaceManager(api, "podshm", "abc123")
    manager.delete("podshm-abc123-b")
    sweep_run(api, "abc123")
    assert api.order == [
        ("pods", "podshm-abc123-b"),
        ("namespace", "podshm-abc123-b"),
        ("pods", "podshm-abc123-a"),
        ("namespace", "podshm-abc123-a"),
    ]


def test_a_namespace_already_gone_is_not_an_error():
    class Gone(FakeApi):
        def delete_pods(self, namespace):
            raise ApiException(status=404, reason="Not Found")

    result = sweep_run(Gone([ns("podshm-abc123-a", "abc123")]), "abc123")
    assert result.deleted == [] and result.failed == []


def beating(name, run, beat_s_ago, created_s_ago=600, expires_in_min=29) -> tuple[dict, dict]:
    """A namespace naming its run's heartbeat, and that Lease renewed ``beat_s_ago`` seconds
    before NOW by the API server's clock (None: no Lease)."""
    body = aged(name, run, 10, expires_in_min)
    body["metadata"]["annotations"][HEARTBEAT_ANNOTATION] = f"home-{run}/{LEASE_NAME}"
    body["metadata"]["creationTimestamp"] = rfc3339(NOW - timedelta(seconds=created_s_ago))
    lease = lease_manifest(LEASE_NAME, run, 10, NOW - timedelta(hours=1))
    renewed = NOW - timedelta(seconds=beat_s_ago or 0)
    lease["metadata"]["managedFields"] = [
        {"fieldsV1": {"f:spec": {"f:holderIdentity": {}}}, "time": rfc3339(NOW)},
        {"fieldsV1": {"f:spec": {"f:renewTime": {}}}, "time": rfc3339(renewed)},
    ]
    return body, lease


def heartbeat_api(*runs: tuple[str, str, float | None, float]) -> FakeApi:
    api = FakeApi()
    api.server_now = NOW
    for name, run, beat_s_ago, created_s_ago in runs:
        body, lease = beating(name, run, beat_s_ago, created_s_ago)
        api.namespaces.append(body)
        if beat_s_ago is not None:
            api.leases[(f"home-{run}", LEASE_NAME)] = lease
    return api


def test_a_stopped_heartbeat_is_a_dead_run_whatever_its_expiry_a_beating_one_is_live():
    api = heartbeat_api(
        ("killed", "r1", 31, 600),  # limit 30 s: dead, 29 min before its expiry
        ("beating", "r2", 4, 600),
        ("no-lease", "r3", None, 600),  # named a Lease that is gone
        ("just-made", "r4", None, 5),  # killed between its namespace and its Lease, or not yet
    )
    found = [Leftover.from_namespace(n) for n in api.namespaces]
    beats = read_beats(api, found)
    states = {n.name: str(n.state(beats, NOW)) for n in found}
    assert states == {
        "killed": "dead: no heartbeat for 31 s",
        "beating": "live: heartbeat 4 s ago",
        "no-lease": "dead: its heartbeat is gone",
        "just-made": "live: created 5 s ago, no heartbeat yet",
    }
    assert [n.name for n in select_garbage(found, NOW, beats=beats)] == ["killed", "no-lease"]
    # --older-than still takes a live run's, when asked for by a human.
    assert len(select_garbage(found, NOW, older_than_s=0, beats=beats)) == 4


def test_a_heartbeat_that_cannot_be_read_leaves_the_expiry_to_decide():
    class NoLeaseRights(FakeApi):
        def read_lease(self, namespace, name):
            raise ApiException(status=403, reason="Forbidden")

    api = NoLeaseRights()
    body, _lease = beating("mine", "r1", 100)
    expired, _ = beating("old", "r2", 100)
    expired["metadata"]["annotations"][EXPIRES_ANNOTATION] = rfc3339(NOW - timedelta(minutes=1))
    api.namespaces = [body, expired]
    found = [Leftover.from_namespace(n) for n in api.namespaces]
    beats = read_beats(api, found)
    assert beats == {f"home-r1/{LEASE_NAME}": None, f"home-r2/{LEASE_NAME}": None}
    assert [n.name for n in select_garbage(found, NOW, beats=beats)] == ["old"]


def test_a_run_id_with_a_beating_heartbeat_is_live_even_past_its_expiry():
    api = heartbeat_api(("a", "r1", 2, 600))
    api.namespaces[0]["metadata"]["annotations"][EXPIRES_ANNOTATION] = rfc3339(NOW)
    assert live_namespaces_of_run(api, "r1", NOW) == ["a"]
    stopped = heartbeat_api(("a", "r1", 45, 600))
    assert live_namespaces_of_run(stopped, "r1", NOW) == []
