"""The VM node's pure parts: package metadata, module selection, the initramfs archive, the
guest's init scripts, disk, network and QEMU command lines, and the guest agent's protocol
(against a fake agent on a socket). No VM, no root: tests/host/test_vm.py boots one."""

from __future__ import annotations

import base64
import json
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from podshm.errors import PodshmError
from podshm.providers.local.vm import (
    agent,
    bootdisk,
    cpio,
    debs,
    disk,
    forward,
    guestinit,
    initramfs,
    kernel,
    qemu,
)
from podshm.providers.local.vm.layout import VmLayout
from podshm.providers.local.vm.network import (
    NetworkPlan,
    clashes,
    ensure_commands,
    teardown_commands,
)

SHOW = """\
Package: linux-image-cloud-amd64
Source: linux-signed-amd64 (6.1.192+3)
Version: 6.1.192-3
Depends: linux-image-6.1.0-57-cloud-amd64 (= 6.1.192-3)
Description: Linux for x86-64 cloud (meta-package)
 continued description: line

Package: linux-image-cloud-amd64
Version: 6.1.100-1
"""


def test_apt_show_gives_the_candidate_and_its_dependencies() -> None:
    found = debs.parse_show(SHOW)
    assert found == debs.Candidate(
        "linux-image-cloud-amd64", "6.1.192-3", ("linux-image-6.1.0-57-cloud-amd64",)
    )
    alternatives = debs.parse_show("Package: a\nVersion: 1\nDepends: b (>= 2) | c, d:any, e\n")
    assert alternatives.depends == ("b", "d:any", "e")
    with pytest.raises(ValueError):
        debs.parse_show("Description: no package\n")


def test_a_metapackage_is_followed_to_its_kernel_image() -> None:
    meta = debs.parse_show(SHOW)
    assert kernel.image_package(meta) == "linux-image-6.1.0-57-cloud-amd64"
    image = debs.Candidate("linux-image-6.1.0-57-cloud-amd64", "6.1.192-3", ("kmod",))
    assert kernel.image_package(image) == image.package
    with pytest.raises(PodshmError, match="no kernel package"):
        kernel.image_package(debs.Candidate("busybox-static", "1", ("libc6",)))


def test_modules_are_the_wanted_ones_and_what_they_need() -> None:
    deps = kernel.parse_modules_dep(
        "kernel/fs/overlayfs/overlay.ko:\n"
        "kernel/net/bridge/br_netfilter.ko: kernel/net/bridge/bridge.ko kernel/net/802/stp.ko\n"
        "kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko\n"
        "kernel/net/802/stp.ko: kernel/net/llc/llc.ko\n"
        "kernel/net/llc/llc.ko:\n"
        "kernel/drivers/gpu/drm/drm.ko: kernel/lib/helper.ko\n"
        "kernel/lib/helper.ko:\n"
    )
    assert deps["kernel/net/802/stp.ko"] == ("kernel/net/llc/llc.ko",)
    kept = kernel.select(deps, ["kernel/fs/overlayfs/*", "kernel/net/bridge/br_netfilter.ko"])
    assert kept == [
        "kernel/fs/overlayfs/overlay.ko",
        "kernel/net/802/stp.ko",
        "kernel/net/bridge/br_netfilter.ko",
        "kernel/net/bridge/bridge.ko",
        "kernel/net/llc/llc.ko",
    ]
    assert "kernel/drivers/gpu/drm/drm.ko" not in kernel.select(deps)  # hardware: left out


def _read_cpio(data: bytes) -> list[tuple[str, int, bytes, tuple[int, int], int]]:
    """(name, mode, data, rdev, mtime) of each member: the kernel's reading of newc."""
    members = []
    offset = 0
    while True:
        assert data[offset : offset + 6] == b"070701"
        fields = [int(data[offset + 6 + 8 * i : offset + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = fields[11], fields[6]
        start = offset + 110
        name = data[start : start + namesize - 1].decode()
        body = start + namesize + (-(110 + namesize) % 4)
        if name == cpio.TRAILER:
            assert body + filesize == len(data)
            return members
        members.append(
            (name, fields[1], data[body : body + filesize], (fields[9], fields[10]), fields[5])
        )
        offset = body + filesize + (-filesize % 4)


def test_the_initramfs_archive_is_newc_sorted_and_reproducible() -> None:
    entries = [
        cpio.regular("init", b"#!/bin/sh\n", 0o755),
        cpio.symlink("bin/sh", "busybox"),
        cpio.char_device("dev/console", 5, 1),
        cpio.directory("dev"),
        cpio.directory("bin"),
        cpio.regular("bin/busybox", b"\x7fELF" + bytes(7)),
    ]
    data = cpio.archive(entries)
    assert data == cpio.archive(reversed(entries))
    assert len(data) % 4 == 0
    members = _read_cpio(data)
    assert [m[0] for m in members] == ["bin", "bin/busybox", "bin/sh", "dev", "dev/console", "init"]
    by_name = {m[0]: m for m in members}
    assert stat.S_ISLNK(by_name["bin/sh"][1]) and by_name["bin/sh"][2] == b"busybox"
    assert stat.S_ISCHR(by_name["dev/console"][1]) and by_name["dev/console"][3] == (5, 1)
    assert by_name["init"][1] == stat.S_IFREG | 0o755
    assert {m[4] for m in members} == {0}  # no clock in the archive
    with pytest.raises(ValueError, match="twice"):
        cpio.archive([cpio.directory("bin"), cpio.directory("bin")])


def _sh_syntax_ok(script: str, tmp_path: Path) -> None:
    path = tmp_path / "script.sh"
    path.write_text(script)
    proc = subprocess.run(["sh", "-n", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_init_of_the_initramfs_mounts_the_root_and_switches(tmp_path: Path) -> None:
    script = initramfs.init_script("6.1.0-57-cloud-amd64")
    assert script.startswith("#!/bin/sh\n")
    assert "modprobe -a virtio_pci virtio_blk" in script
    assert "cp -a /lib/modules/6.1.0-57-cloud-amd64 /newroot/lib/modules/" in script
    assert script.rstrip().endswith("exec switch_root /newroot /sbin/init")
    assert f"{initramfs.READY_PREFIX} FAILED" in qemu.FAILURE_MARKS[1]
    _sh_syntax_ok(script, tmp_path)
    used = {"sh", "mount", "umount", "modprobe", "mkdir", "cp", "sleep", "switch_root", "poweroff"}
    assert used <= set(initramfs.APPLETS)


def test_guest_init_sets_up_a_cgroup_v2_node(tmp_path: Path) -> None:
    rcs = guestinit.rcs()
    _sh_syntax_ok(rcs, tmp_path)
    _sh_syntax_ok(guestinit.shutdown(), tmp_path)
    for line in (
        "must mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup",
        "must mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run",
        "must mount --make-rshared /",
        f"must mount -t ext4 -o ro {guestinit.BOOT_DEVICE} {guestinit.BOOT_MOUNT}",
        f"export PATH={guestinit.GUEST_PATH}",
    ):
        assert line in rcs
    assert rcs.index("must mount -t proc") < rcs.index("cgroup2") < rcs.index("modprobe -a")
    assert rcs.rstrip().endswith(f'echo "{guestinit.READY_LINE}"')
    assert "overlay" in rcs and "br_netfilter" in rcs
    assert "/usr/local/bin" in guestinit.GUEST_PATH
    tab = guestinit.inittab()
    assert f"::sysinit:/{guestinit.RCS}" in tab and f"::shutdown:/{guestinit.SHUTDOWN}" in tab
    assert f"::respawn:/usr/bin/env PATH={guestinit.GUEST_PATH} /usr/sbin/qemu-ga" in tab
    assert set(guestinit.files()) == {guestinit.INITTAB, guestinit.RCS, guestinit.SHUTDOWN}


def test_guest_parameters_are_single_known_words() -> None:
    params = guestinit.kernel_params({"hostname": "vm", "ip": "10.249.0.2/24"})
    assert params == ["podshm.ip=10.249.0.2/24", "podshm.hostname=vm"]
    with pytest.raises(ValueError, match="unknown"):
        guestinit.kernel_params({"gateway": "x"})
    with pytest.raises(ValueError, match="single words"):
        guestinit.kernel_params({"hostname": "a b"})


def test_rcs_reads_its_parameters_from_the_kernel_command_line(tmp_path: Path) -> None:
    rcs = guestinit.rcs()
    param = next(line for line in rcs.splitlines() if line.startswith("param()"))
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("console=ttyS0 podshm.ip=10.249.0.2/24 podshm.hostname=node-a rw\n")
    script = param.replace("/proc/cmdline", str(cmdline)) + "\nparam ip; param hostname; param x\n"
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout == "10.249.0.2/24\nnode-a\n"


def test_disks_are_reproducible_ext4_images() -> None:
    argv, env = disk.mkfs_command(Path("/src"), Path("/out.ext4"), 4096, "podshm-root", "abc")
    again, _ = disk.mkfs_command(Path("/src"), Path("/out.ext4"), 4096, "podshm-root", "abc")
    other, _ = disk.mkfs_command(Path("/src"), Path("/out.ext4"), 4096, "podshm-root", "abd")
    assert argv == again and argv != other
    assert argv[0] == "mkfs.ext4" and argv[-3:] == ["/src", "/out.ext4", "4096M"]
    assert "lazy_itable_init=0" in argv[argv.index("-E") + 1]
    assert env["E2FSPROGS_FAKE_TIME"]
    assert {"busybox-static", "qemu-guest-agent", "mount", "libseccomp2"} <= set(disk.ROOT_PACKAGES)
    assert bootdisk.size_mib(0) == 16
    assert bootdisk.size_mib(100 << 20) == 141


def test_the_boot_disk_refuses_a_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(PodshmError, match="lacks runc"):
        bootdisk.build(tmp_path / "boot.ext4", {"runc": tmp_path / "nope"})


def test_network_plan_addresses_and_names() -> None:
    plan = NetworkPlan()
    assert (plan.host_ip, plan.guest_ip, plan.guest_cidr) == (
        "10.249.0.1",
        "10.249.0.2",
        "10.249.0.2/24",
    )
    for cluster_range in ("10.244.0.0/16", "10.245.0.0/16", "10.96.0.0/16", "10.97.0.0/16"):
        assert not plan.network.overlaps(NetworkPlan(subnet=cluster_range).network)
    with pytest.raises(ValueError, match="interface name"):
        NetworkPlan(bridge="a-name-far-too-long")
    with pytest.raises(ValueError, match="IPv4"):
        NetworkPlan(subnet="fd00::/64")


def test_network_commands_are_idempotent() -> None:
    plan = NetworkPlan(bridge="br-t", tap="tap-t", subnet="10.249.9.0/24")
    fresh = ensure_commands(plan, set())
    assert fresh[0] == ["ip", "link", "add", "br-t", "type", "bridge"]
    assert ["ip", "tuntap", "add", "dev", "tap-t", "mode", "tap"] in fresh
    assert ["ip", "addr", "replace", "10.249.9.1/24", "dev", "br-t"] in fresh
    existing = ensure_commands(plan, {"br-t", "tap-t"})
    assert not any(cmd[2] == "add" for cmd in existing)  # a killed QEMU's tap is reused
    assert ["ip", "link", "set", "tap-t", "master", "br-t"] in existing
    assert teardown_commands(plan, {"br-t", "tap-t", "eth0"}) == [
        ["ip", "link", "del", "tap-t"],
        ["ip", "link", "del", "br-t"],
    ]
    assert teardown_commands(plan, {"eth0"}) == []
    interfaces = {"eth0": ["192.0.2.2/24", "fd00::2/64"], "br-t": ["10.249.9.1/24"]}
    assert clashes(plan, interfaces) == []
    assert clashes(plan, {**interfaces, "other": ["10.249.0.0/16"]}) == ["other 10.249.0.0/16"]


def test_forward_command_binds_the_bridge_address_only() -> None:
    fwd = forward.Forward("10.249.0.1", 6443, 6443)
    assert fwd.name == "forward-6443"
    assert fwd.argv() == [
        "socat",
        "TCP-LISTEN:6443,bind=10.249.0.1,reuseaddr,fork",
        "TCP:127.0.0.1:6443,connect-timeout=10",
    ]


def _machine(tmp_path: Path) -> qemu.Machine:
    return qemu.Machine(
        vmlinuz=tmp_path / "vmlinuz",
        initramfs=tmp_path / "initramfs.cpio",
        overlay=tmp_path / "root.qcow2",
        boot_disk=tmp_path / "boot.ext4",
        agent_socket=tmp_path / "agent.sock",
        console_log=tmp_path / "console.log",
        plan=NetworkPlan(),
        memory_mib=1536,
    )


def test_qemu_command_line(tmp_path: Path) -> None:
    machine = _machine(tmp_path)
    argv = qemu.command(machine, "/usr/bin/qemu-system-x86_64")
    joined = " ".join(argv)
    assert argv[0] == "/usr/bin/qemu-system-x86_64"
    assert "-accel tcg" in joined and "-smp 2" in joined and "-m 1536" in joined
    assert "-display none" in joined and "-no-reboot" in joined
    assert f"file={tmp_path}/root.qcow2,if=virtio,format=qcow2" in joined
    assert f"file={tmp_path}/boot.ext4,if=virtio,format=raw,readonly=on" in joined
    assert joined.index("root.qcow2") < joined.index("boot.ext4")  # vda, then vdb
    assert "tap,id=net0,ifname=podshmvm-tap0,script=no,downscript=no" in joined
    assert f"name={guestinit.AGENT_PORT}" in joined
    assert f"path={tmp_path}/agent.sock,server=on,wait=off" in joined
    cmdline = argv[argv.index("-append") + 1]
    assert cmdline.split() == [
        "console=ttyS0",
        "panic=-1",
        "loglevel=4",
        "cgroup_no_v1=all",
        "rw",
        "podshm.ip=10.249.0.2/24",
        "podshm.hostname=podshm-vm",
    ]
    assert qemu.mac_address("podshmvm-tap0") == qemu.mac_address("podshmvm-tap0")
    assert qemu.mac_address("podshmvm-tap0").startswith("52:54:00:")
    assert qemu.mac_address("podshmvm-tap0") != qemu.mac_address("podshmvm-tap1")


def test_layout_per_boot_files_are_below_the_root(tmp_path: Path) -> None:
    layout = VmLayout(tmp_path)
    assert all(p.parent == tmp_path for p in layout.per_boot())
    assert layout.console_log.parent == layout.daemons.logs
    assert layout.daemons.pids == tmp_path / "pids"


def test_guest_exec_arguments_and_status() -> None:
    args = agent.exec_arguments(["ctr", "version"], b"\x00in", {"B": "2", "A": "1"})
    assert args == {
        "path": "ctr",
        "arg": ["version"],
        "capture-output": True,
        "input-data": base64.b64encode(b"\x00in").decode(),
        "env": ["A=1", "B=2"],
    }
    assert agent.decode_status(["true"], {"exited": False}) is None
    done = agent.decode_status(
        ["sh"], {"exited": True, "exitcode": 3, "out-data": base64.b64encode(b"out").decode()}
    )
    assert done == agent.Result(("sh",), 3, "out", "")
    killed = agent.decode_status(["sleep"], {"exited": True, "signal": 9})
    assert killed is not None and killed.exitcode == 137
    with pytest.raises(PodshmError, match="exit 3"):
        done.check()


class FakeAgent:
    """qemu-guest-agent's side of the socket: answers sync (after stale junk), exec, status."""

    def __init__(self, path: Path) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.calls: list[dict[str, object]] = []
        self.polls = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as lines:
                for line in lines:
                    self.answer(conn, json.loads(line))

    def answer(self, conn: socket.socket, message: dict[str, object]) -> None:
        self.calls.append(message)
        command = message["execute"]
        args = message.get("arguments", {})
        assert isinstance(args, dict)
        if command == "guest-sync-delimited":
            # what an interrupted caller left behind, then the delimiter and the answer
            conn.sendall(b'{"return": {"pid": 1}}\n{"retu' + b"\xff")
            conn.sendall(json.dumps({"return": args["id"]}).encode() + b"\n")
        elif command == "guest-exec":
            if args["path"] == "missing":
                conn.sendall(b'{"error": {"class": "GenericError", "desc": "no such file"}}\n')
            else:
                conn.sendall(b'{"return": {"pid": 42}}\n')
        elif command == "guest-exec-status":
            self.polls += 1
            out = base64.b64encode(b"6.1.0-57-cloud-amd64\n").decode()
            status = (
                {"exited": True, "exitcode": 0, "out-data": out}
                if self.polls > 2
                else {"exited": False}
            )
            conn.sendall(json.dumps({"return": status}).encode() + b"\n")
        elif command == "guest-ping":
            pass  # a wedged guest: never answers

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def fake_agent(tmp_path: Path) -> Iterator[tuple[agent.Agent, FakeAgent]]:
    path = tmp_path / "agent.sock"
    fake = FakeAgent(path)
    yield agent.Agent(path), fake
    fake.close()


def test_agent_runs_a_command_after_skipping_stale_answers(
    fake_agent: tuple[agent.Agent, FakeAgent],
) -> None:
    client, fake = fake_agent
    result = client.run(["uname", "-r"], timeout=10)
    assert result == agent.Result(("uname", "-r"), 0, "6.1.0-57-cloud-amd64\n", "")
    execs = [c for c in fake.calls if c["execute"] == "guest-exec"]
    assert execs == [
        {
            "execute": "guest-exec",
            "arguments": {"path": "uname", "arg": ["-r"], "capture-output": True},
        }
    ]
    assert fake.polls == 3


def test_agent_errors_and_deadlines_are_podshm_errors(
    fake_agent: tuple[agent.Agent, FakeAgent], tmp_path: Path
) -> None:
    client, _ = fake_agent
    with pytest.raises(PodshmError, match="refused guest-exec: no such file"):
        client.run(["missing"], timeout=5)
    with pytest.raises(PodshmError, match="did not answer guest-ping within 1s"):
        client.ping(timeout=1)
    with pytest.raises(PodshmError, match="did not answer"):
        agent.Agent(tmp_path / "no-socket").ping(timeout=1)
