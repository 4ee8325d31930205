"""The kind provider's pure pieces: the cluster config, the pod network, the runc wrapper."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml

from podshm.data import data_path
from podshm.errors import PodshmError
from podshm.image import mmdebstrap
from podshm.providers.kind import cluster as kind
from podshm.providers.kind import components as kind_components
from podshm.providers.kind import docker_engine, network


def test_config_has_one_control_plane_and_workers_on_the_node_image() -> None:
    cfg = yaml.safe_load(kind.render_config("podshm", "podshm.local/kind-node:v1.37.2-x", 3))
    assert cfg["kind"] == "Cluster" and cfg["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert [n["role"] for n in cfg["nodes"]] == ["control-plane", "worker", "worker"]
    assert {n["image"] for n in cfg["nodes"]} == {"podshm.local/kind-node:v1.37.2-x"}


def test_config_allows_cgroup_v1_through_kinds_own_kubelet_patch() -> None:
    cfg = yaml.safe_load(kind.render_config("podshm", "img", 1))
    patches = [yaml.safe_load(p) for p in cfg["kubeadmConfigPatches"]]
    kubelet = [p for p in patches if p["kind"] == "KubeletConfiguration"]
    assert kubelet == [
        {
            "kind": "KubeletConfiguration",
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "failCgroupV1": False,
        }
    ]


def test_config_disables_kindnetd_and_avoids_the_local_clusters_pod_range() -> None:
    net = yaml.safe_load(kind.render_config("podshm", "img", 2))["networking"]
    assert net["disableDefaultCNI"] is True
    assert net["podSubnet"] != "10.244.0.0/16"
    assert net["apiServerAddress"] == "127.0.0.1" and net["ipFamily"] == "ipv4"


def test_config_rejects_zero_nodes() -> None:
    with pytest.raises(PodshmError):
        kind.render_config("podshm", "img", 0)


def test_cni_config_is_ptp_with_host_local_from_the_node_cidr() -> None:
    conf = json.loads(network.cni_config("10.245.1.0/24"))
    ptp, portmap = conf["plugins"]
    assert ptp["type"] == "ptp" and portmap["type"] == "portmap"
    assert ptp["ipam"]["ranges"] == [[{"subnet": "10.245.1.0/24"}]]


def test_routes_go_to_every_other_node() -> None:
    table = {"a": ("172.18.0.2", "10.245.0.0/24"), "b": ("172.18.0.3", "10.245.1.0/24"),
             "c": ("172.18.0.4", "10.245.2.0/24")}  # fmt: skip
    assert network.routes_for("a", table) == [
        ["ip", "route", "replace", "10.245.1.0/24", "via", "172.18.0.3"],
        ["ip", "route", "replace", "10.245.2.0/24", "via", "172.18.0.4"],
    ]


def test_engine_uses_only_its_own_paths_and_the_wrapper() -> None:
    args = docker_engine.daemon_args(docker_engine.STATE / "runtime" / "runc-wrapper")
    joined = " ".join(args)
    for flag in ("--data-root", "--exec-root", "--pidfile", "--host"):
        assert flag in args
    assert "/var/lib/docker" not in joined and "/run/docker.sock" not in joined
    assert f"--default-runtime {docker_engine.RUNTIME}" in joined
    assert "--iptables=false" in args


def test_go_string_const_joins_raw_strings_and_constants() -> None:
    src = 'const img = "x/y:1"\n\nconst m = `a: ` + img + `\nb: 2\n`\n'
    assert kind_components.go_string_const(src, "m") == "a: x/y:1\nb: 2\n"


def test_mmdebstrap_command_includes_packages_and_hooks(tmp_path) -> None:
    cmd = mmdebstrap.command(tmp_path / "s.sources", tmp_path / "o.tar",
                             ["systemd", "iptables"], ["echo hi"])  # fmt: skip
    assert "--include=systemd,iptables" in cmd
    assert "--customize-hook=echo hi" in cmd
    assert cmd[-3:] == ["bookworm", str(tmp_path / "o.tar"), str(tmp_path / "s.sources")]


def _wrapper():
    spec = importlib.util.spec_from_file_location(
        "runc_wrapper", data_path("docker") / "runc-wrapper.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wrapper_drops_only_capabilities_outside_the_bounding_set() -> None:
    wrapper = _wrapper()
    process = {"capabilities": {s: ["CAP_SYS_ADMIN", "CAP_SYS_RESOURCE"] for s in wrapper.SETS}}
    assert wrapper.filter_process(process, {"CAP_SYS_ADMIN"})
    assert all(v == ["CAP_SYS_ADMIN"] for v in process["capabilities"].values())
    assert not wrapper.filter_process(process, {"CAP_SYS_ADMIN"})


def test_wrapper_finds_bundle_and_process_options() -> None:
    wrapper = _wrapper()
    assert wrapper.option(["--bundle", "/b", "id"], ("--bundle", "-b")) == "/b"
    assert wrapper.option(["--process=/p.json", "id"], ("--process", "-p")) == "/p.json"
    assert wrapper.option(["id"], ("--process", "-p")) is None


def test_config_restricts_oom_score_only_when_asked() -> None:
    plain = yaml.safe_load(kind.render_config("podshm", "img", 1))
    assert "containerdConfigPatches" not in plain
    cfg = yaml.safe_load(kind.render_config("podshm", "img", 1, restrict_oom=True))
    assert "restrict_oom_score_adj = true" in cfg["containerdConfigPatches"][0]


def test_config_uses_cgroupfs_everywhere_only_when_asked() -> None:
    """On cgroup v1 hosts the kubelet and both runc handlers leave the systemd driver."""
    plain = yaml.safe_load(kind.render_config("podshm", "img", 1))
    assert "cgroupDriver" not in plain["kubeadmConfigPatches"][0]
    cfg = yaml.safe_load(kind.render_config("podshm", "img", 1, restrict_oom=True, cgroupfs=True))
    kubelet = yaml.safe_load(cfg["kubeadmConfigPatches"][0])
    assert kubelet["cgroupDriver"] == "cgroupfs" and kubelet["failCgroupV1"] is False
    patches = "\n".join(cfg["containerdConfigPatches"])
    for handler in ("runc", "test-handler"):
        assert f"runtimes.{handler}.options]\n  SystemdCgroup = false" in patches
    assert "restrict_oom_score_adj = true" in patches
