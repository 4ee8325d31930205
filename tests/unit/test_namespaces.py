"""Per-test namespaces: names, labels, and a sweep that touches only this run."""

from __future__ import annotations

import os
import signal

import pytest
from kubernetes.client.exceptions import ApiException

from podshm.errors import PodshmError
from podshm.kube.namespaces import (
    KEEP_LABEL,
    RUN_ID_LABEL,
    NamespaceManager,
    namespace_manifest,
    namespace_name,
    new_run_id,
    run_selector,
    sigint_deferred,
    sweep_run,
    validate_prefix,
)


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

    def create_namespace(self, body):
        if self.conflicts:
            self.conflicts -= 1
            raise ApiException(status=409, reason="AlreadyExists")
        self.created.append(body)
        return body

    def delete_namespace(self, name):
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
    assert sweep_run(api, "abc123") == ["podshm-abc123-a"]
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
    assert manager.delete_all() == [second.name]
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
