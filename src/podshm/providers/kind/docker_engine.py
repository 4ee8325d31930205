"""podshm's own Docker engine for kind: started on demand, stopped leaving nothing.

Why its own: kind needs a Docker engine, the host may have none (or one that must
not be disturbed), and ``down`` has to leave the machine as it found it. So podshm
runs Debian's ``dockerd`` with every path of its own (data root, exec root, pid file,
socket) and the runc wrapper (``podshm/data/docker/runc-wrapper.py``) as the
default runtime, because this engine asks runc for capabilities root lacks here.

It starts with ``--iptables=false`` and ``--ip-masq=false``: kind's nodes only talk to
each other over the engine's bridge and the host reaches the API server through the
userland proxy on 127.0.0.1, so no NAT chains are needed, and the host's firewall
(which podshm's local cluster also uses) stays untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TextIO

from podshm.build import components, gobuild
from podshm.build.pins import DEFAULT
from podshm.data import data_path
from podshm.errors import PodshmError
from podshm.settings import KIND_RUN_ENV, KIND_STATE_ENV

STATE = Path(os.environ.get(KIND_STATE_ENV, "/var/lib/podshm-kind"))
RUN = Path(os.environ.get(KIND_RUN_ENV, "/run/podshm-docker"))
DATA_ROOT = STATE / "docker"
EXEC_ROOT = RUN / "exec"
PIDFILE = RUN / "dockerd.pid"
SOCKET = RUN / "docker.sock"
HOST = f"unix://{SOCKET}"
LOG = STATE / "dockerd.log"
RUNTIME = "podshm-runc"
BRIDGE_IP = "172.31.255.1/24"
"""The default bridge's address: a small, rarely used range, away from kind's own network."""


def env() -> dict[str, str]:
    """The environment for ``docker``/``kind`` commands: they talk to this engine only."""
    out = dict(os.environ)
    out["DOCKER_HOST"] = HOST
    out.pop("DOCKER_CONTEXT", None)
    return out


def dockerd_path() -> str:
    """Debian's dockerd (package docker.io, installed by scripts/bootstrap.sh)."""
    path = shutil.which("dockerd") or (
        "/usr/sbin/dockerd" if Path("/usr/sbin/dockerd").exists() else None
    )
    if not path:
        raise PodshmError(
            "dockerd is not installed (the kind provider runs its own Docker engine)",
            "run scripts/bootstrap.sh, or apt-get install docker.io",
        )
    return path


def install_runtime(log: TextIO) -> Path:
    """Put the runc wrapper and the path of podshm's runc where dockerd can run them."""
    runc = gobuild.build(components.runc(DEFAULT.runc), log=log) / "runc"
    wrapper = STATE / "runtime" / "runc-wrapper"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    source = data_path("docker") / "runc-wrapper.py"
    python = shutil.which("python3") or sys.executable
    text = source.read_text().replace("#!/usr/bin/env python3", f"#!{python}", 1)
    wrapper.write_text(text)
    wrapper.chmod(0o755)
    (wrapper.parent / "runc-wrapper.real").write_text(f"{runc}\n")
    return wrapper


def daemon_args(wrapper: Path) -> list[str]:
    """dockerd's command line: every path podshm's own, nothing shared with a host engine."""
    return [
        "--data-root",
        str(DATA_ROOT),
        "--exec-root",
        str(EXEC_ROOT),
        "--pidfile",
        str(PIDFILE),
        "--host",
        HOST,
        "--config-file",
        str(STATE / "daemon.json"),
        "--add-runtime",
        f"{RUNTIME}={wrapper}",
        "--default-runtime",
        RUNTIME,
        "--iptables=false",
        "--ip-masq=false",
        "--ip-forward=false",
        "--bip",
        BRIDGE_IP,
        # Lowering dockerd's own OOM score needs CAP_SYS_RESOURCE, which root lacks here.
        "--oom-score-adjust=0",
        "--exec-opt",
        "native.cgroupdriver=cgroupfs",
        "--storage-driver",
        "overlay2",
    ]


def pid() -> int | None:
    """The running engine's pid, or None."""
    try:
        value = int(PIDFILE.read_text().strip())
        os.kill(value, 0)
        return value
    except (OSError, ValueError):
        return None


def ping() -> bool:
    """True when the engine answers on its socket (and a docker CLI is there to ask it)."""
    if not SOCKET.exists() or shutil.which("docker", path=env().get("PATH")) is None:
        return False
    proc = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return proc.returncode == 0


def start(log: TextIO = sys.stderr, timeout: float = 60) -> None:
    """Start the engine unless it already answers; wait until it does."""
    if ping():
        return
    STATE.mkdir(parents=True, exist_ok=True)
    RUN.mkdir(parents=True, exist_ok=True)
    (STATE / "daemon.json").write_text(json.dumps({"features": {"buildkit": False}}) + "\n")
    wrapper = install_runtime(log)
    print(f"podshm: starting podshm's Docker engine ({HOST}) ...", file=log, flush=True)
    with open(LOG, "ab") as out:
        subprocess.Popen(
            [dockerd_path(), *daemon_args(wrapper)],
            stdout=out,
            stderr=out,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping():
            return
        time.sleep(0.5)
    tail = LOG.read_text(errors="replace").splitlines()[-15:] if LOG.exists() else []
    raise PodshmError(
        f"podshm's Docker engine did not answer within {timeout:.0f}s:\n" + "\n".join(tail),
        f"see {LOG}",
    )


def docker(*args: str, check: bool = True, **kw: object) -> subprocess.CompletedProcess:
    """Run ``docker`` against this engine."""
    return subprocess.run(["docker", *args], env=env(), check=check, text=True, **kw)  # type: ignore[call-overload]


def stop(log: TextIO = sys.stderr, timeout: float = 60) -> None:
    """Remove every container and network, stop the engine, and leave nothing behind."""
    if ping():
        ids = docker("ps", "-aq", capture_output=True).stdout.split()
        if ids:
            docker("rm", "-f", "-v", *ids, capture_output=True, check=False)
        docker("network", "prune", "-f", capture_output=True, check=False)
    engine = pid()
    if engine:
        print(f"podshm: stopping podshm's Docker engine (pid {engine}) ...", file=log, flush=True)
        os.kill(engine, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and pid():
            time.sleep(0.5)
        if pid():
            os.kill(engine, signal.SIGKILL)
    _kill_leftovers()
    _unmount_under(DATA_ROOT)
    _unmount_under(RUN)
    subprocess.run(["ip", "link", "del", "docker0"], capture_output=True, check=False)
    shutil.rmtree(STATE, ignore_errors=True)
    shutil.rmtree(RUN, ignore_errors=True)


def _kill_leftovers() -> None:
    """Kill shims and containerd the engine started (their command lines name our paths)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(RUN) in cmdline or str(DATA_ROOT) in cmdline:
            with contextlib.suppress(OSError):
                os.kill(int(proc.name), signal.SIGKILL)


def _unmount_under(root: Path) -> None:
    """Lazily unmount every mount point under ``root``, deepest first."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        if point == str(root) or point.startswith(f"{root}/"):
            points.append(point)
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
