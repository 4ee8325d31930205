"""Prestart's bookkeeping: how a podshm_pod() call finds the pod declared for it."""

from __future__ import annotations

import pytest

from podshm.kube.namespaces import Namespace
from podshm.plugin.prestart import Declared, Prepared
from podshm.plugin.testpods import PodNames, PodsOfTest


def test_a_call_matches_its_declaration_whatever_the_value_types():
    declared = Declared.of("ipc-pair.yaml", {"share_process_namespace": True, "size": "1Gi"})
    called = Declared.of("ipc-pair.yaml", {"size": "1Gi", "share_process_namespace": True})
    assert declared == called
    assert declared != Declared.of("ipc-pair.yaml", {"share_process_namespace": False})
    assert declared.kwargs() == {"share_process_namespace": "True", "size": "1Gi"}


def test_pod_names_follow_the_manifest_and_the_test_and_count_up_per_namespace():
    """The run's tests share a namespace: the test's label makes its pods' names its own."""
    names = PodNames("t7")
    assert names.next("sub/ipc-pair.yaml", "ns1") == "ipc-pair-t7"
    assert names.next("ipc-pair.yaml", "ns1") == "ipc-pair-t7-2"
    assert names.next("ipc-pair.yaml", "ns2") == "ipc-pair-t7"
    assert PodNames("t8").next("ipc-pair.yaml", "ns1") == "ipc-pair-t8"
    assert names.namespaces() == ["ns1", "ns2"]
    longest = PodNames("t99999").next("x" * 80 + ".yaml", "ns1")
    assert len(f"{longest}-99") <= 63


def test_prepared_pods_are_taken_once_in_order_and_errors_are_raised_where_asked():
    key = Declared.of("ipc-pair.yaml", {})
    refused = ValueError("refused")
    test = PodsOfTest("t.py::x", PodNames("t1"))
    prepared = Prepared(Namespace("ns", "restricted"), test, {key: ["first", refused]})
    assert prepared.unused() == ["ipc-pair.yaml {}", "ipc-pair.yaml {}"]
    assert prepared.take(key) == "first"
    with pytest.raises(ValueError, match="refused"):
        prepared.take(key)
    assert prepared.take(key) is None
    assert prepared.take(Declared.of("other.yaml", {})) is None
    assert prepared.unused() == []
