"""Sweeps: a run's own namespaces and only those, dead runs' once expired, never kept ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fakenamespaceapi import FakeApi, ns
from kubernetes.client.exceptions import ApiException

from podshm.kube.namespaces import (
    EXPIRES_ANNOTATION,
    KEEP_LABEL,
    RUN_ID_LABEL,
    STARTED_ANNOTATION,
    NamespaceManager,
    rfc3339,
    run_selector,
)
from podshm.kube.sweep import Leftover, live_namespaces_of_run, select_garbage, sweep_run


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
    assert "started 60 min ago, expired" in found[0].describe(NOW)
    assert found[1].describe(NOW).endswith("live)")


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
