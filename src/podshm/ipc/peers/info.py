"""``podshm-ipc bench-info``: what the orchestrator must know before planning a run here.

The CPUs this process may use decide the placements (the pod's cpuset can be smaller than the
node), the IPC limits decide which message sizes a queue takes, and the inner loop's version
must match the protocol the orchestrator speaks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys

from ..result import Report
from .wire import PROTOCOL

LIMITS = {
    "mqueue_msg_max": "/proc/sys/fs/mqueue/msg_max",
    "mqueue_msgsize_max": "/proc/sys/fs/mqueue/msgsize_max",
    "msgmax": "/proc/sys/kernel/msgmax",
    "msgmnb": "/proc/sys/kernel/msgmnb",
}


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def ipcbench_version(binary: str) -> dict:
    """``--version`` of the C inner loop, or why it cannot run."""
    path = shutil.which(binary) if os.sep not in binary else binary
    if not path:
        return {"path": None, "error": f"{binary} not found"}
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
        doc = json.loads(proc.stdout)
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        return {"path": path, "error": str(exc)}
    return {"path": path, "version": doc.get("version"), "protocol": doc.get("protocol")}


def bench_info(args: argparse.Namespace, report: Report) -> None:
    """CPUs allowed, host facts, IPC limits and the C inner loop's version."""
    report.update(
        cpus_allowed=sorted(os.sched_getaffinity(0)),
        cpu_count=os.cpu_count(),
        hostname=socket.gethostname(),
        kernel=platform.release(),
        python=platform.python_version(),
        python_executable=sys.executable,
        python_build=" ".join(platform.python_build()),
        protocol=PROTOCOL,
        limits={name: _read_int(path) for name, path in LIMITS.items()},
        ipcbench=ipcbench_version(args.ipcbench),
    )
