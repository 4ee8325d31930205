"""Cluster facts from Node objects, and the report header they make."""

from __future__ import annotations

from podshm.kube.facts import (
    ClusterFacts,
    NodeFacts,
    RuntimeClassFacts,
    cgroup_version,
    parse_version,
)

NODE = {
    "metadata": {"name": "node-1"},
    "status": {
        "allocatable": {"memory": "16176264Ki", "cpu": "2"},
        "capacity": {"memory": "16278664Ki"},
        "conditions": [{"type": "Ready", "status": "True"}],
        "nodeInfo": {
            "kubeletVersion": "v1.37.2",
            "containerRuntimeVersion": "containerd://2.1.4",
            "kernelVersion": "6.1.0-28-amd64",
            "osImage": "Debian GNU/Linux 12 (bookworm)",
            "architecture": "amd64",
        },
    },
}


def test_node_facts():
    node = NodeFacts.from_node(NODE)
    assert node.ready and node.name == "node-1"
    assert node.allocatable_memory_bytes == 16176264 * 1024
    assert node.runtime_name == "containerd" and node.runtime_version == "2.1.4"
    assert node.kubelet_minor == (1, 37)


def test_versions():
    assert parse_version("v1.31.4-eks-1234") == (1, 31)
    assert parse_version("garbage") is None


def test_memory_a_node_leaves_out_is_unknown_not_zero():
    status = {**NODE["status"], "allocatable": {"memory": ""}, "capacity": {}}
    node = NodeFacts.from_node({**NODE, "status": status})
    assert node.allocatable_memory_bytes is None and node.capacity_memory_bytes is None
    assert "allocatable memory unknown" in node.describe()


def test_header_lines():
    facts = ClusterFacts(
        api_server_url="https://127.0.0.1:6443",
        context="podshm",
        server_version="v1.37.2",
        nodes=(NodeFacts.from_node(NODE),),
    )
    lines = facts.header_lines("registry/podshm:1")
    assert lines[0].startswith("podshm: API server https://127.0.0.1:6443 (context podshm)")
    assert "Kubernetes v1.37.2" in lines[0]
    assert any("node node-1: Ready, kubelet v1.37.2, containerd://2.1.4" in line for line in lines)
    assert any("kernel 6.1.0-28-amd64" in line for line in lines)
    assert lines[-1] == "podshm: test image registry/podshm:1"
    assert facts.node("node-1") and facts.node("nope") is None


def test_images_digests_labels_and_runtime_classes():
    ref = "podshm.local/podshm-test:0.1.0-abc-def"
    node = NodeFacts.from_node(
        {
            **NODE,
            "metadata": {"name": "n", "labels": {"a": "b"}, "annotations": {"x": "y"}},
            "status": {
                **NODE["status"],
                "images": [{"names": [ref, "podshm.local/podshm-test@sha256:0123"]}],
            },
        }
    )
    assert node.images == (ref, "podshm.local/podshm-test@sha256:0123")
    assert node.labels == {"a": "b"} and node.annotations == {"x": "y"}
    facts = ClusterFacts(
        "https://x",
        "c",
        "v1.37.2",
        nodes=(node,),
        runtime_classes=(
            RuntimeClassFacts.from_object(
                {"metadata": {"name": "gvisor"}, "handler": "runsc",
                 "overhead": {"podFixed": {"memory": "64Mi"}}}
            ),
        ),
    )  # fmt: skip
    assert facts.image_digest(ref) == "sha256:0123"
    assert facts.image_digest("other:1") is None
    assert "podshm: RuntimeClasses gvisor (handler runsc, overhead 67108864 B)" in (
        facts.header_lines("i")
    )


def test_cgroup_version_from_inside_a_pod():
    assert cgroup_version("0::/\n") == 2  # unified, private cgroup namespace
    assert cgroup_version("0::/kubepods/burstable/pod1/abc\n") == 2
    hybrid = "12:memory:/podshm/pod1/abc\n11:pids:/podshm/pod1/abc\n0::/podshm/pod1/abc\n"
    assert cgroup_version(hybrid) == 1
    assert cgroup_version("3:cpu,cpuacct:/x\n") == 1
    assert cgroup_version("") is None and cgroup_version("\n\n") is None
