"""The VM node boots for real: QEMU (TCG) with Debian's cloud kernel and cgroup v2, podshm's own
containerd and runc running in it, the host and the guest reaching each other's ports, and
nothing of it left on the machine after stop, a SIGKILLed QEMU included.

One long test on purpose: a boot costs tens of seconds under TCG, and each step needs the one
before it. It prints the times it measured (``-s`` shows them). Its state and network are its
own (a temporary directory, a bridge and subnet clear of the local cluster's), so it runs
beside a local cluster. Select it with ``-m vm``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from podshm.build.pins import DEFAULT
from podshm.providers.local import daemons
from podshm.providers.local.vm import containerd, guestinit, kernel, node
from podshm.providers.local.vm.layout import QEMU, VmLayout
from podshm.providers.local.vm.network import NetworkPlan

pytestmark = [pytest.mark.vm]

PLAN = NetworkPlan(bridge="podshmvt-br0", tap="podshmvt-tap0", subnet="10.249.7.0/24")
"""Not the default plan: a VM someone runs with the defaults is left alone."""
REPLY = b"podshm-forward-ok\n"


def _require() -> None:
    missing = [
        tool
        for tool in ("qemu-system-x86_64", "qemu-img", "mkfs.ext4", "depmod", "socat", "mmdebstrap")
        if shutil.which(tool) is None
    ]
    if missing or os.geteuid() != 0:
        pytest.fail(
            f"the VM test needs root and {', '.join(missing) or 'its tools'}: run "
            "scripts/bootstrap.sh",
            pytrace=False,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def loopback_server() -> Iterator[int]:
    """A one-line TCP server on 127.0.0.1 only, as the API server is: its port."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", _free_port()))
    server.listen(4)
    server.settimeout(0.5)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(REPLY)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    done.set()
    thread.join(timeout=5)
    server.close()


def _say(what: str, seconds: float) -> None:
    print(f"vm timing: {what}: {seconds:.1f}s", flush=True)


def test_vm_node_boots_runs_containerd_and_leaves_nothing(
    tmp_path_factory: pytest.TempPathFactory, loopback_server: int
) -> None:
    _require()
    layout = VmLayout(tmp_path_factory.mktemp("vm") / "state")
    config = node.Config(plan=PLAN, forwards=((loopback_server, loopback_server),))
    began = time.monotonic()
    parts = node.parts(config, progress=lambda msg: print(f"vm: {msg}", flush=True))
    _say("kernel + initramfs + root disk (cold: built; warm: cached)", time.monotonic() - began)
    binaries = containerd.binaries(DEFAULT)
    root_bytes = parts.root.stat().st_size
    root_used = parts.root.stat().st_blocks * 512
    print(
        f"vm sizes: root disk {root_bytes >> 20} MiB apparent, {root_used >> 20} MiB allocated; "
        f"initramfs {parts.initramfs.stat().st_size >> 20} MiB; vmlinuz "
        f"{parts.kernel.vmlinuz.stat().st_size >> 20} MiB",
        flush=True,
    )
    assert node.leftovers(layout, config) == []
    try:
        running = node.start(layout, config, parts, binaries)
        _say("boot (QEMU start to the guest's ready line)", running.boot_seconds)
        agent = running.agent
        print(f"vm sizes: boot disk {layout.boot_disk.stat().st_size >> 20} MiB", flush=True)

        release = agent.run(["uname", "-r"], timeout=60).check().stdout.strip()
        assert release == parts.kernel.release
        assert release.startswith("6.1.") and release.endswith("-cloud-amd64")
        controllers = (
            agent.run(["cat", "/sys/fs/cgroup/cgroup.controllers"], timeout=60)
            .check()
            .stdout.split()
        )
        assert {"memory", "pids", "cpu", "io"} <= set(controllers)
        mounts = agent.run(["cat", "/proc/self/mounts"], timeout=60).check().stdout
        assert "cgroup2 /sys/fs/cgroup cgroup2" in mounts
        assert "tmpfs /run tmpfs" in mounts
        failing = agent.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=60)
        assert (failing.exitcode, failing.stdout, failing.stderr) == (3, "out\n", "err\n")
        echoed = agent.run(["cat"], timeout=60, stdin=b"\x00\xffbinary\n")
        assert echoed.exitcode == 0 and echoed.stdout.encode(errors="replace")

        runc = agent.run(["runc", "--version"], timeout=60).check().stdout
        assert "libseccomp" in runc, runc  # the cgo build found its library in the root
        ready = containerd.start(agent)
        _say("containerd ready (start to `ctr version` answering)", ready)
        version = agent.run(["ctr", "version"], timeout=60).check().stdout
        assert DEFAULT.containerd in version, version
        plugins = agent.run(["ctr", "plugins", "ls"], timeout=60).check().stdout
        assert any(
            "overlayfs" in line and line.split()[-1] == "ok" for line in plugins.splitlines()
        ), plugins

        # The guest reaches a port the host serves on loopback only (the API server's case).
        reached = agent.run(
            ["busybox", "nc", "-w", "10", PLAN.host_ip, str(loopback_server)], timeout=60
        )
        assert reached.stdout.encode() == REPLY, reached
        # The host reaches the guest's 10250 at its bridge address (a node's InternalIP).
        agent.sh(
            f"setsid -f busybox httpd -p 10250 -h {guestinit.BOOT_MOUNT} < /dev/null", timeout=60
        ).check()
        url = f"http://{PLAN.guest_ip}:10250/{guestinit.BOOT_SCRIPT}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as answer:
                    assert answer.read().startswith(b"#!/bin/sh")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

        # A SIGKILLed QEMU leaves its tap, overlay and pidfile; the next start recovers.
        pid = daemons.running(layout.daemons, QEMU)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        while daemons.running(layout.daemons, QEMU) is not None:
            time.sleep(0.1)
        left = node.leftovers(layout, config)
        assert f"interface {PLAN.tap}" in left and f"file {layout.overlay}" in left, left
        again = node.start(layout, config, parts, binaries)
        _say("boot after a SIGKILLed QEMU", again.boot_seconds)
        assert again.agent.run(["uname", "-r"], timeout=60).check().stdout.strip() == release
    finally:
        stopped = node.stop(layout, config)
        _say("shutdown (poweroff to no QEMU, network and files removed)", stopped)
    assert node.leftovers(layout, config) == []
    assert config.kernel_package == kernel.DEFAULT_PACKAGE
