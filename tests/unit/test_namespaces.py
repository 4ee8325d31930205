"""Per-test namespaces: names, labels, and a sweep that touches only this run."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes.client.exceptions import ApiException

from podshm.errors import PodshmError
from podshm.kube.namespaces import (
    EXPIRES_ANNOTATION,
    KEEP_LABEL,
    RUN_ID_LABEL,
    STARTED_ANNOTATION,
    Leftover,
    NamespaceManager,
    live_namespaces_of_run,
    namespace_manifest,
    parse_rfc3339,
    rfc3339,
    run_selector,
    select_garbage,
    sigint_deferred,
    sweep_run,
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


class FakeApi:
    def __init__(self, namespaces: list[dict] | None = None) -> None:
        self.namespaces = namespaces or []
        self.created: list[dict] = []
        self.deleted: list[str] = []
        self.labelled: dict[str, dict] = {}
        self.selectors: list[str] = []
        self.conflicts = 0
        self.order: list[tuple[str, str]] = []

    def create_namespace(self, body):
        if self.conflicts:
            self.conflicts -= 1
            raise ApiException(status=409, reason="AlreadyExists")
        self.created.append(body)
        return body

    def delete_pods(self, namespace):
        self.order.append(("pods", namespace))

    def delete_namespace(self, name):
        self.order.append(("namespace", name))
        self.deleted.append(name)
        return True

    def label_namespace(self, name, labels):
        self.labelled[name] = labels

    def list_namespaces(self, label_selector):
        self.selectors.append(label_selector)
        return self.namespaces


def ns(name: str, run: str, phase: str = "Active") -> dict:
    return {"metadata": {"name": name, "labels": {RUN_ID_LABEL: run}}, "status": {"phase": phase}}


def test_sweep_deletes_only_this_runs_namespaces():
    api = FakeApi(
        [ns("podshm-abc123-a", "abc123"), ns("other", "zzz999"), ns("t", "abc123", "Terminating")]
    )
    assert sweep_run(api, "abc123").deleted == ["podshm-abc123-a"]
    assert api.deleted == ["podshm-abc123-a"]
    assert api.selectors == [run_selector("abc123")]


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


def test_second_ctrl_c_waits_for_cleanup():
    before = signal.getsignal(signal.SIGINT)
    done = []
    with pytest.raises(KeyboardInterrupt), sigint_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        done.append("cleanup finished")
    assert done == ["cleanup finished"]
    assert signal.getsignal(signal.SIGINT) is before


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


def test_namespaces_carry_start_and_expiry():
    manager = NamespaceManager(FakeApi(), "podshm", "abc123", expiry_s=90, started=NOW)
    api = manager.api
    manager.create()
    notes = api.created[0]["metadata"]["annotations"]
    assert parse_rfc3339(notes[STARTED_ANNOTATION]) == NOW
    expires = parse_rfc3339(notes[EXPIRES_ANNOTATION])
    assert expires is not None
    assert 80 <= (expires - datetime.now(UTC)).total_seconds() <= 90


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
