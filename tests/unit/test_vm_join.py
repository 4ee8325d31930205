"""The VM node's join, pure parts: the files the guest boots with, its boot script, the
host's routes and hosts line, the image store's builder and the count/kernel checks. The
join itself runs in tests/plugin/test_nodes.py on a cluster with a VM node."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from podshm.build.pins import pins_for
from podshm.errors import PodshmError
from podshm.providers.local import configs, vmnodes
from podshm.providers.local.pki import Pair
from podshm.providers.local.vm import hosts, imagestore, join
from podshm.providers.local.vm.network import NetworkPlan, ensure_commands


def _credentials(tmp_path: Path) -> join.Credentials:
    for name in ("c.crt", "c.key", "s.crt", "s.key"):
        (tmp_path / name).write_text(f"PEM {name}")
    return join.Credentials(
        b"CA",
        Pair(tmp_path / "c.crt", tmp_path / "c.key"),
        Pair(tmp_path / "s.crt", tmp_path / "s.key"),
    )


def test_guest_files_join_the_node_by_its_own_name_and_address(tmp_path: Path) -> None:
    files = join.guest_files(_credentials(tmp_path), pins_for("v1.37"), "podshm.local/pause:x")
    assert all(path.startswith(f"{join.FILES}/etc/") for path in files)
    keys = [path for path in files if path.endswith(".key")]
    assert keys and all(files[path][1] == 0o600 for path in keys)
    assert files[f"{join.FILES}{join.PKI}/ca.crt"] == (b"CA", 0o644)

    kubeconfig = yaml.safe_load(files[f"{join.FILES}{join.KUBECONFIG}"][0])
    cluster = kubeconfig["clusters"][0]["cluster"]
    assert cluster["server"] == "https://10.249.0.1:6443"  # the host's end of the bridge
    assert cluster["tls-server-name"] == "kubernetes"  # a name the serving cert carries
    assert kubeconfig["users"][0]["name"] == "system:node:podshm-vm"

    kubelet = yaml.safe_load(files[f"{join.FILES}{join.KUBELET_CONFIG}"][0])
    assert kubelet["registerWithTaints"] == [join.TAINT]
    assert kubelet["address"] == "10.249.0.2"
    assert kubelet["containerRuntimeEndpoint"] == f"unix://{join.CONTAINERD_SOCKET}"

    # JSON, not YAML: libcni reads the conflist with encoding/json.
    cni = json.loads(files[f"{join.FILES}{join.CNI_DIR}/{configs.CNI_CONFLIST}"][0])
    ranges = json.dumps(cni)
    assert join.POD_SUBNET in ranges and configs.POD_SUBNET not in ranges

    containerd = files[f"{join.FILES}{join.CONTAINERD_CONFIG}"][0].decode()
    assert "sandbox = 'podshm.local/pause:x'" in containerd
    assert f'root = "{join.CONTAINERD_ROOT}"' in containerd


def test_boot_script_routes_to_the_host_pods_and_starts_the_kubelet_last() -> None:
    script = join.boot_script()
    lines = script.splitlines()
    assert lines[0] == "#!/bin/sh" and "set -eu" in lines
    route = f"ip route replace {configs.POD_SUBNET} via 10.249.0.1 dev eth0"
    order = [
        route,
        f"mount -t ext4 {join.IMAGES_DEVICE}",
        "setsid -f containerd",
        "setsid -f kubelet",
    ]
    positions = [next(i for i, line in enumerate(lines) if line.startswith(o)) for o in order]
    assert positions == sorted(positions)
    assert "--hostname-override=podshm-vm" in script and "--node-ip=10.249.0.2" in script


def test_the_host_routes_the_vm_pods_through_the_guest() -> None:
    commands = ensure_commands(NetworkPlan(pod_subnet=join.POD_SUBNET), set())
    route = ["ip", "route", "replace", join.POD_SUBNET, "via", "10.249.0.2"]
    assert commands[-1] == [*route, "dev", NetworkPlan().bridge]
    assert not any("route" in cmd for cmd in ensure_commands(NetworkPlan(), set()))


def test_the_hosts_line_is_podshms_own_and_leaves_the_rest_byte_for_byte(tmp_path: Path) -> None:
    original = "127.0.0.1\tlocalhost\n::1 localhost # keep"
    added = hosts.with_entry(original, "10.249.0.2", "podshm-vm")
    assert added.startswith(original + "\n")
    assert added.endswith(f"10.249.0.2\tpodshm-vm\t{hosts.MARKER}\n")
    assert hosts.with_entry(added, "10.249.0.3", "podshm-vm").count(hosts.MARKER) == 1
    assert hosts.without_entry(added) == original + "\n"
    file = tmp_path / "hosts"
    file.write_text(original)
    hosts.add("10.249.0.2", "podshm-vm", file)
    assert hosts.present(file) == [f"10.249.0.2\tpodshm-vm\t{hosts.MARKER}"]
    assert hosts.remove(file) is True and hosts.remove(file) is False
    assert hosts.present(file) == []


def test_the_image_store_builder_has_no_cri_and_its_own_socket(tmp_path: Path) -> None:
    text = imagestore.builder_config(tmp_path / "root", tmp_path / "state")
    assert f'root = "{tmp_path}/root"' in text
    assert f'address = "{tmp_path}/state/containerd.sock"' in text
    assert '"io.containerd.grpc.v1.cri"' in text
    assert imagestore.size_mib(0) == 256 and imagestore.size_mib(1 << 30) == 1536 + 256


def test_vm_node_count_and_kernel_are_checked_before_anything_runs() -> None:
    vmnodes.validate(None, None)
    vmnodes.validate(0, None)
    for count in (-1, 2):
        with pytest.raises(PodshmError, match=f"0 or 1 VM nodes, {count} were asked for"):
            vmnodes.validate(count, None)
    with pytest.raises(PodshmError, match="not a Debian kernel image package"):
        vmnodes.validate(0, "linux-headers-amd64")
