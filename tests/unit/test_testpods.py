"""What a test's pod gets, decided in one place for prestart and the podshm_pod factory."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from podshm.errors import PodshmError
from podshm.kube.launch import PodOptions
from podshm.kube.namespaces import RUN_ID_LABEL, TEST_ANNOTATION, TEST_LABEL, Namespace
from podshm.plugin.testpods import PodNames, render_test_pod

OPTIONS = PodOptions(
    image="img:1",
    pull_policy="Never",
    run_id="abc123",
    runtime_class="gvisor",
    labels={TEST_LABEL: "t3"},
    annotations={TEST_ANNOTATION: "t.py::test_x"},
)
NAMESPACE = Namespace("podshm-abc123-x", "restricted")


def cluster(*nodes: str) -> SimpleNamespace:
    facts = SimpleNamespace(nodes=tuple(SimpleNamespace(name=n) for n in nodes))
    return SimpleNamespace(facts=facts)


def test_a_test_pod_gets_its_name_label_options_and_params():
    names = PodNames("t3")
    args = (cluster("n1"), NAMESPACE, names, OPTIONS, "devshm-memory-sizelimit.yaml")
    pod = render_test_pod(*args, {"size_limit": "1Gi"}, node="n1")
    again = render_test_pod(*args, {})
    assert (pod["metadata"]["name"], again["metadata"]["name"]) == (
        "devshm-memory-sizelimit-t3",
        "devshm-memory-sizelimit-t3-2",
    )
    assert pod["metadata"]["labels"][RUN_ID_LABEL] == "abc123"
    assert pod["metadata"]["labels"][TEST_LABEL] == "t3"
    assert pod["metadata"]["annotations"][TEST_ANNOTATION] == "t.py::test_x"
    assert pod["spec"]["nodeName"] == "n1" and pod["spec"]["runtimeClassName"] == "gvisor"
    assert "1Gi" in [(v.get("emptyDir") or {}).get("sizeLimit") for v in pod["spec"]["volumes"]]


def test_a_test_pod_is_checked_against_its_namespace_and_the_clusters_nodes():
    args = (cluster("n1"), NAMESPACE, PodNames("t1"), OPTIONS)
    with pytest.raises(PodshmError, match="breaks Pod Security 'restricted'"):
        render_test_pod(*args, "hostipc.yaml", {})
    assert render_test_pod(*args, "hostipc.yaml", {}, check_pod_security=False)["spec"]["hostIPC"]
    with pytest.raises(PodshmError, match="node 'n2' does not exist"):
        render_test_pod(*args, "devshm-default.yaml", {}, node="n2")
