"""Scenario manifests: every one renders, is a valid Pod, and is admissible under restricted."""

from __future__ import annotations

import pytest
from kubernetes import client

from podshm import manifests
from podshm.kube.podsecurity import baseline_violations, restricted_violations

COMMON = {"IMAGE": "registry.example/podshm:1", "NAME": "pod", "PULL_POLICY": "IfNotPresent"}
WORKLOAD_IMAGE = "registry.example/podshm-workload:1"
"""Passed to the manifests that run the workload image (the others refuse the parameter)."""
ALL = manifests.available()
EXPECTED = {
    "sysv-shared-ftok.yaml",
    "sysv-no-shared-file.yaml",
    "posix-shm.yaml",
    "ipc-pair.yaml",
    "devshm-default.yaml",
    "devshm-memory.yaml",
    "devshm-memory-sizelimit.yaml",
    "devshm-memory-sizelimit-memlimit.yaml",
    "devshm-disk.yaml",
    "isolation-owner.yaml",
    "isolation-observer.yaml",
    "hostipc.yaml",
    "sysctl-ipc.yaml",
    "devshm-memory-one-limit.yaml",
    "devshm-memory-init-limit.yaml",
    "devshm-memory-sidecar.yaml",
    "devshm-memory-sidecar-init-order.yaml",
    "devshm-memory-empty-pod-resources.yaml",
    "devshm-memory-pod-limit.yaml",
    "devshm-memory-overhead.yaml",
}


def render(name: str, **params) -> dict:
    if "WORKLOAD_IMAGE" in manifests.placeholders(manifests.read(name), name):
        params = {"WORKLOAD_IMAGE": WORKLOAD_IMAGE, **params}
    return manifests.render(name, {**COMMON, **params})


def test_every_scenario_manifest_is_shipped():
    assert set(ALL) >= EXPECTED


@pytest.mark.parametrize("name", ALL)
def test_manifest_renders_to_a_valid_pod(name):
    pod = render(name)
    assert pod["kind"] == "Pod" and pod["metadata"]["name"] == "pod"
    # The client's model forbids unknown fields: a typo in a manifest fails here.
    client.V1Pod.from_dict(pod)


@pytest.mark.parametrize("name", ["postgres.yaml", "postgres-memory.yaml"])
def test_postgres_manifests_run_the_server_from_the_workload_image_beside_a_probe(name):
    """The server from the workload image (DSM type posix unless told), the probe that
    measures /dev/shm from the test image; the memory-backed one mounts /dev/shm in both."""
    spec = render(name)["spec"]
    server, probe = spec["containers"]
    assert (server["name"], server["image"]) == ("postgres", WORKLOAD_IMAGE)
    assert (probe["name"], probe["image"]) == ("probe", COMMON["IMAGE"])
    assert "dynamic_shared_memory_type=posix" in server["command"][-1]
    sysv = render(name, DSM_TYPE="sysv")["spec"]["containers"][0]["command"][-1]
    assert "dynamic_shared_memory_type=sysv" in sysv
    mounts = [{m["mountPath"] for m in c.get("volumeMounts", [])} for c in (server, probe)]
    memory = name == "postgres-memory.yaml"
    assert all(("/dev/shm" in m) is memory for m in mounts)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_manifest_has_sender_and_receiver_running_sleep(name):
    containers = render(name)["spec"]["containers"]
    assert [c["name"] for c in containers] == ["sender", "receiver"]
    for c in containers:
        assert c["image"] == COMMON["IMAGE"]
        assert c["imagePullPolicy"] == "IfNotPresent"
        assert c["command"][0] in ("sleep", "/bin/sleep")


UNSAFE_SYSCTLS = {"sysctl-unsafe.yaml", "sysctl-sysv-limits.yaml"}
"""Unsafe namespaced sysctls: their tests run them in a privileged namespace."""


@pytest.mark.parametrize(
    "name", [n for n in ALL if n != "hostipc.yaml" and n not in UNSAFE_SYSCTLS]
)
def test_manifest_passes_pod_security_restricted(name):
    assert restricted_violations(render(name)) == []


@pytest.mark.parametrize("name", sorted(UNSAFE_SYSCTLS))
def test_unsafe_sysctl_manifests_break_exactly_the_sysctl_rule(name):
    pod = render(name)
    names = [s["name"] for s in pod["spec"]["securityContext"]["sysctls"]]
    assert baseline_violations(pod) == [f"forbidden sysctls ({', '.join(names)})"]
    assert restricted_violations(pod) == baseline_violations(pod)


def test_the_sysv_limits_manifest_raises_what_its_precondition_names():
    from podshm.sysctls import SYSV_LIMITS

    sysctls = render("sysctl-sysv-limits.yaml")["spec"]["securityContext"]["sysctls"]
    assert tuple(s["name"] for s in sysctls) == SYSV_LIMITS
    assert [c["name"] for c in render("sysctl-sysv-limits.yaml")["spec"]["containers"]] == [
        "sender",
        "receiver",
    ]
    refused = render("sysctl-unsafe.yaml", SYSCTL="kernel.sem", SYSCTL_VALUE="1 2 3 4")
    assert refused["spec"]["securityContext"]["sysctls"] == [
        {"name": "kernel.sem", "value": "1 2 3 4"}
    ]


def test_hostipc_breaks_exactly_the_host_namespace_rule():
    pod = render("hostipc.yaml")
    assert pod["spec"]["hostIPC"] is True
    assert restricted_violations(pod) == ["host namespaces (hostIPC=true)"]
    assert baseline_violations(pod) == ["host namespaces (hostIPC=true)"]


def test_defaults_and_parameters():
    assert render("sysv-shared-ftok.yaml")["spec"]["shareProcessNamespace"] is True
    assert render("posix-shm.yaml")["spec"]["shareProcessNamespace"] is False
    assert render("posix-shm.yaml", SHARE_PROCESS_NAMESPACE=True)["spec"]["shareProcessNamespace"]
    pod = render("devshm-memory-sizelimit-memlimit.yaml", SIZE_LIMIT="1Gi", MEMORY_LIMIT="64Mi")
    assert pod["spec"]["volumes"][0]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Gi"}
    assert {c["resources"]["limits"]["memory"] for c in pod["spec"]["containers"]} == {"64Mi"}


def test_seed_ftok_paths():
    env = render("sysv-shared-ftok.yaml")["spec"]["containers"][0]["env"]
    assert {"name": "FTOK_PATH", "value": "/shared/me"} in env
    env = render("sysv-no-shared-file.yaml")["spec"]["containers"][1]["env"]
    assert {"name": "FTOK_PATH", "value": "/dummy"} in env


def test_sysctl_manifest_sets_shm_rmid_forced():
    sysctls = render("sysctl-ipc.yaml")["spec"]["securityContext"]["sysctls"]
    assert sysctls == [{"name": "kernel.shm_rmid_forced", "value": "1"}]


def test_unknown_parameter_is_an_error():
    with pytest.raises(manifests.ManifestError, match="no placeholder named SIZE_LIMT"):
        render("devshm-memory-sizelimit.yaml", SIZE_LIMT="1Gi")


def test_missing_value_is_an_error():
    with pytest.raises(manifests.ManifestError, match=r"no value for placeholder \$\{IMAGE\}"):
        manifests.render("devshm-default.yaml", {"NAME": "x", "PULL_POLICY": "Never"})


def test_unknown_manifest_lists_the_available_ones():
    with pytest.raises(manifests.ManifestError, match=r"available: .*devshm-default\.yaml"):
        manifests.read("nope.yaml")


def test_render_text_rules():
    text = "# podshm:default A=1\nkind: Pod\nmetadata: {name: ${A}, x: '$$'}\n"
    assert manifests.render_text(text, {})["metadata"] == {"name": 1, "x": "$"}
    assert manifests.render_text(text, {"A": "two"})["metadata"]["name"] == "two"
    with pytest.raises(manifests.ManifestError, match="malformed placeholder"):
        manifests.render_text("a: ${bad-name}\n", {})
    with pytest.raises(manifests.ManifestError, match="exactly one object"):
        manifests.render_text("a: 1\n---\nb: 2\n", {})
    with pytest.raises(manifests.ManifestError, match="control characters"):
        manifests.render_text("a: ${A}\n", {"A": "x\ny: 1"})


def test_params_from_kwargs_and_injection():
    assert manifests.params_from_kwargs({"size_limit": "1Gi"}) == {"SIZE_LIMIT": "1Gi"}
    pod = render("devshm-default.yaml")
    pinned = manifests.pin_to_node(pod, "node-2")
    assert pinned["spec"]["nodeName"] == "node-2" and "nodeName" not in pod["spec"]
    limited = manifests.set_memory_limit(pod, "32Mi", ["sender"])
    assert limited["spec"]["containers"][0]["resources"]["limits"]["memory"] == "32Mi"
    assert "resources" not in limited["spec"]["containers"][1]
    labelled = manifests.add_labels(pod, {"podshm.io/run-id": "abc123"})
    assert labelled["metadata"]["labels"]["podshm.io/run-id"] == "abc123"


def test_users_manifests_come_first_and_add_to_the_shipped_ones(tmp_path):
    (tmp_path / "one.yaml").write_text("kind: Pod\nmetadata: {name: ${NAME}}\n")
    (tmp_path / "hostipc.yaml").write_text("kind: Pod\nmetadata: {name: mine-${NAME}}\n")
    names = manifests.available(tmp_path)
    assert "one.yaml" in names and "sysv-shared-ftok.yaml" in names
    assert manifests.render("one", {"NAME": "x"}, tmp_path)["metadata"]["name"] == "x"
    assert manifests.render("hostipc", {"NAME": "x"}, tmp_path)["metadata"]["name"] == "mine-x"
    assert "one.yaml" not in manifests.available()


def test_a_missing_manifests_directory_is_one_clear_error(tmp_path):
    with pytest.raises(manifests.ManifestError, match="does not exist"):
        manifests.render("one", {}, tmp_path / "missing")
