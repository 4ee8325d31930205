"""The guest's init: busybox ``init`` with an inittab and two small shell scripts (pure text).

Why busybox init and not systemd: under TCG every process start costs about 30 times what it
costs on the host, and systemd's boot (its units, udev, journald) is hundreds of them; the
node needs only what these scripts do: mount proc, sys, cgroup2 at /sys/fs/cgroup, a tmpfs
/run, devpts, /dev/shm and /dev/mqueue, make ``/`` shared (the kubelet's mount propagation),
load the modules, configure eth0, start the boot script podshm passes on the boot disk. Why
not a shell script as PID 1: busybox init reaps orphans, respawns the guest agent if it dies
and runs the shutdown script on ``poweroff``; a shell does none of that.

Per-boot facts (address, host name) come on the kernel command line (``podshm.ip=...``), so
the cached root disk is the same for every boot and every network plan.
"""

from __future__ import annotations

from collections.abc import Mapping

from podshm.providers.local.vm.kernel import BOOT_MODULES

RCS = "usr/local/sbin/podshm-rcS"
SHUTDOWN = "usr/local/sbin/podshm-shutdown"
INITTAB = "etc/inittab"
BOOT_MOUNT = "/opt/podshm"
"""Where the boot disk (binaries, boot.sh) is mounted, read-only."""
BOOT_DEVICE = "/dev/vdb"
BOOT_SCRIPT = "boot.sh"
"""On the boot disk: run by the guest's sysinit, before it reports ready."""
SHUTDOWN_SCRIPT = "shutdown.sh"
"""On the boot disk: run by ``poweroff`` before init kills every process."""
BOOT_LOG = "/var/log/podshm-boot.log"
AGENT_PORT = "org.qemu.guest_agent.0"
"""The virtio-serial port name qemu-guest-agent listens on (its default)."""
READY_LINE = "podshm-vm: ready"
"""What the guest prints on its serial console once sysinit is done."""
CONSOLE_PREFIX = "podshm-vm:"
FAILED = "FAILED:"
FAILED_LINE = f"{CONSOLE_PREFIX} {FAILED}"
"""How the guest's sysinit reports a step it could not do (then it stops: no ready line)."""
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""Busybox init's own PATH lacks /usr/local, where the boot disk's binaries are linked."""
PARAMS = ("ip", "hostname")
"""Kernel command line parameters the guest reads (``podshm.<name>=<value>``)."""


def kernel_params(values: Mapping[str, str]) -> list[str]:
    """``podshm.<name>=<value>`` words for the kernel command line (pure)."""
    unknown = sorted(set(values) - set(PARAMS))
    if unknown:
        raise ValueError(f"unknown guest parameters: {unknown}")
    bad = [v for v in values.values() if not v or any(c.isspace() for c in v)]
    if bad:
        raise ValueError(f"guest parameters must be single words: {bad}")
    return [f"podshm.{name}={values[name]}" for name in PARAMS if name in values]


def inittab() -> str:
    agent = f"--method=virtio-serial --path=/dev/virtio-ports/{AGENT_PORT} --statedir=/run"
    return f"""\
# podshm VM node (busybox init): sysinit, the guest agent, and what poweroff runs.
::sysinit:/{RCS}
::respawn:/usr/bin/env PATH={GUEST_PATH} /usr/sbin/qemu-ga {agent}
::shutdown:/{SHUTDOWN}
::ctrlaltdel:/bin/busybox poweroff
"""


def rcs(modules: tuple[str, ...] = BOOT_MODULES) -> str:
    """The sysinit script: every step a node needs before containerd and the kubelet."""
    return f"""#!/bin/sh
# podshm VM node, sysinit. Output goes to the serial console, which the host logs.
set -u
export PATH={GUEST_PATH}
say() {{ read -r up _ < /proc/uptime; echo "{CONSOLE_PREFIX} [$up] $*"; }}
# A step the node cannot do without: report it (the host stops waiting) and go no further.
must() {{ "$@" || {{ say "{FAILED} $*"; exit 1; }}; }}
param() {{ tr ' ' '\\n' < /proc/cmdline | sed -n "s/^podshm\\.$1=//p" | tail -n 1; }}

must mount -t proc -o nosuid,nodev,noexec proc /proc
must mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
must mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate cgroup2 /sys/fs/cgroup
must mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -p /dev/pts /dev/shm /dev/mqueue
must mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
must mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
must mount -t mqueue -o nosuid,nodev,noexec mqueue /dev/mqueue
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
# The kubelet's mount propagation (Bidirectional, HostToContainer) needs a shared root.
must mount --make-rshared /
say "file systems mounted"

must modprobe -a {" ".join(modules)}
must sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 \\
    net.bridge.bridge-nf-call-ip6tables=1

say "modules loaded"
name=$(param hostname)
if [ -n "$name" ]; then
    hostname "$name"
    echo "$name" > /etc/hostname
    printf '127.0.0.1\\tlocalhost\\n127.0.1.1\\t%s\\n' "$name" > /etc/hosts
fi
ip link set lo up
address=$(param ip)
if [ -n "$address" ]; then
    must ip addr add "$address" dev eth0
    must ip link set eth0 up
fi

mkdir -p /dev/virtio-ports
for port in /sys/class/virtio-ports/*; do
    [ -r "$port/name" ] && ln -sf "../${{port##*/}}" "/dev/virtio-ports/$(cat "$port/name")"
done

say "network configured"
must mount -t ext4 -o ro {BOOT_DEVICE} {BOOT_MOUNT}
for binary in {BOOT_MOUNT}/bin/*; do
    [ -f "$binary" ] && ln -sf "$binary" /usr/local/bin/
done
if ! {BOOT_MOUNT}/{BOOT_SCRIPT} > {BOOT_LOG} 2>&1 < /dev/null; then
    say "{FAILED} {BOOT_MOUNT}/{BOOT_SCRIPT} (its output: {BOOT_LOG})"
    exit 1
fi
say "kernel $(uname -r), cgroup controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
echo "{READY_LINE}"
"""


def shutdown() -> str:
    """What busybox init runs on ``poweroff``, before it signals every process."""
    return f"""#!/bin/sh
# podshm VM node: stop what the boot script started, then flush the disks.
echo "{CONSOLE_PREFIX} shutting down"
if [ -x {BOOT_MOUNT}/{SHUTDOWN_SCRIPT} ]; then
    {BOOT_MOUNT}/{SHUTDOWN_SCRIPT} >> {BOOT_LOG} 2>&1 < /dev/null
fi
sync
"""


def files() -> dict[str, tuple[str, int]]:
    """Path in the root -> (text, mode): what the root disk adds to Debian for its init."""
    return {
        INITTAB: (inittab(), 0o644),
        RCS: (rcs(), 0o755),
        SHUTDOWN: (shutdown(), 0o755),
    }
