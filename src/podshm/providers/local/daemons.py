"""Start, watch and stop the cluster's daemons by their recorded PIDs.

A PID file holds the PID *and* the process start time, so a PID reused by an
unrelated process after a crash or reboot is never signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from podshm.errors import PodshmError
from podshm.providers.local.layout import Layout


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); the command name in field 2 may contain spaces.
    return stat.rsplit(")", 1)[1].split()[19]


def _pidfile(layout: Layout, name: str) -> Path:
    return layout.pids / f"{name}.pid"


def log_path(layout: Layout, name: str) -> Path:
    """Where ``name`` writes its output (`podshm cluster logs NAME`)."""
    return layout.logs / f"{name}.log"


def start(layout: Layout, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    """Start ``argv`` detached from this terminal (its own session), logging to a file."""
    layout.pids.mkdir(parents=True, exist_ok=True)
    layout.logs.mkdir(parents=True, exist_ok=True)
    with open(log_path(layout, name), "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    _pidfile(layout, name).write_text(f"{proc.pid} {_start_time(proc.pid)}\n")
    return proc.pid


def running(layout: Layout, name: str) -> int | None:
    """The PID of ``name`` if the very process we started is still alive."""
    try:
        pid_text, started = _pidfile(layout, name).read_text().split()
    except (OSError, ValueError):
        return None
    pid = int(pid_text)
    if _start_time(pid) != started:
        return None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
    return None if state == "Z" else pid


def stop(layout: Layout, name: str, grace: float = 15.0) -> bool:
    """SIGTERM, then SIGKILL after ``grace`` seconds; True if a process was stopped."""
    pid = running(layout, name)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while running(layout, name) and time.monotonic() < deadline:
            time.sleep(0.2)
        if running(layout, name):
            os.kill(pid, signal.SIGKILL)
            while running(layout, name):
                time.sleep(0.1)
    _pidfile(layout, name).unlink(missing_ok=True)
    return pid is not None


def log_tail(layout: Layout, name: str, lines: int = 15) -> str:
    """The last lines of a daemon's log, quoted in errors so users see the cause."""
    try:
        text = log_path(layout, name).read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line[:400] for line in text[-lines:])


def wait_for(
    layout: Layout,
    name: str,
    ready: Callable[[], bool],
    *,
    timeout: float,
    what: str,
) -> None:
    """Poll ``ready`` until true; fail at once if the daemon dies, with its log tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running(layout, name) is None:
            raise PodshmError(
                f"{name} exited while waiting for {what}; last lines of "
                f"{log_path(layout, name)}:\n{log_tail(layout, name)}",
                f"fix the cause above, then run `podshm cluster up` again "
                f"(`podshm cluster logs {name}` shows the whole log)",
            )
        try:
            if ready():
                return
        except (OSError, ValueError, KeyError, PodshmError):  # not up yet: refused, TLS, 5xx
            pass
        time.sleep(0.5)
    raise PodshmError(
        f"{name}: {what} not reached within {timeout:.0f}s; last lines of "
        f"{log_path(layout, name)}:\n{log_tail(layout, name)}",
        f"see `podshm cluster logs {name}`; `podshm cluster down` removes the half-started cluster",
    )
