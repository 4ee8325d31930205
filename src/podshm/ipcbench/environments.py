"""Where a batch pair runs: two processes on this machine, or two containers of one pod.

Both run the very same ``podshm-ipc bench-batch`` (and through it the same static
podshm-ipcbench): on the host as child processes, in the pod through the Kubernetes exec
API, server and client started together from two threads. Only the surroundings differ,
which is what the pod/host ratio is meant to show.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from podshm.ipcbench.hostpython import HostPython
from podshm.kube.ipccall import parse_json_line
from podshm.kube.pods import PodHandle

EXEC_GRACE_S = 30.0
"""Extra wait beyond the batch's own --timeout before podshm stops waiting for it."""


class BatchFailed(Exception):
    """A batch produced no JSON report at all (crash, exec failure)."""


class Environment(Protocol):
    """A place to run a server/client batch pair."""

    name: str
    directory: str
    ipcbench: str

    def info(self) -> dict[str, Any]:
        """``bench-info`` of the place (CPUs, limits, the C loop's version)."""
        ...

    def run_pair(
        self, server: list[str], client: list[str], timeout: float
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run both batches at once; their JSON reports (server, client)."""
        ...


def _report(stdout: str, what: str, detail: str) -> dict[str, Any]:
    doc = parse_json_line(stdout)
    if doc is None:
        raise BatchFailed(f"{what} printed no JSON: {detail.strip()[-500:]}")
    return doc


class HostEnv:
    """Two processes on this machine, meeting in a private temporary directory."""

    name = "host"

    def __init__(self, ipcbench: Path, directory: Path, python: HostPython | None = None) -> None:
        self.ipcbench = str(ipcbench)
        self.directory = str(directory)
        self.python = python or HostPython((sys.executable, "-m", "podshm.ipc"))
        self.env = {**os.environ, **self.python.env}

    @classmethod
    @contextlib.contextmanager
    def create(cls, ipcbench: Path | None = None) -> Iterator[HostEnv]:
        """The host as the image has it: the cached podshm-ipcbench, the image's Python."""
        from podshm.image.native import host_ipcbench
        from podshm.ipcbench.hostpython import host_python

        binary = ipcbench or host_ipcbench()
        python = host_python()
        directory = Path(tempfile.mkdtemp(prefix="podshm-bench-"))
        try:
            yield cls(binary, directory, python)
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def info(self) -> dict[str, Any]:
        """``bench-info`` run the way the batches run."""
        argv = [*self.python.argv, "bench-info", "--ipcbench", self.ipcbench]
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, check=False, env=self.env
        )
        doc = _report(proc.stdout, "bench-info on the host", proc.stderr)
        if self.python.note:
            doc["note"] = self.python.note
        return doc

    def run_pair(
        self, server: list[str], client: list[str], timeout: float
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start server and client, wait for both (killed after ``timeout`` + grace)."""
        procs = [
            subprocess.Popen(
                [*self.python.argv, *argv],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=self.env,
            )
            for argv in (server, client)
        ]
        outputs = []
        for role, proc in zip(("server", "client"), procs, strict=True):
            try:
                out, err = proc.communicate(timeout=timeout + EXEC_GRACE_S)
            except subprocess.TimeoutExpired:
                for other in procs:
                    other.kill()
                out, err = proc.communicate()
            outputs.append(_report(out, f"the host {role} batch", err))
        return outputs[0], outputs[1]


class PodEnv:
    """The two containers ("server", "client") of a running bench-pair pod."""

    name = "pod"
    directory = "/shared"
    ipcbench = "podshm-ipcbench"

    def __init__(self, pod: PodHandle, server: str = "server", client: str = "client") -> None:
        self.pod = pod
        self.containers = (server, client)

    def info(self) -> dict[str, Any]:
        """``bench-info`` of the server container, with the client's CPUs next to it."""
        docs = []
        for container in self.containers:
            result = self.pod.run_ipc(container, "bench-info", timeout=60)
            if result.json is None:
                raise BatchFailed(f"bench-info in the pod failed:\n{result.describe()}")
            docs.append(result.json)
        server, client = docs
        server["client_cpus_allowed"] = client.get("cpus_allowed")
        server["pod"] = f"{self.pod.namespace}/{self.pod.name}"
        server["node"] = self.pod.node_name
        return server

    def run_pair(
        self, server: list[str], client: list[str], timeout: float
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Exec both batches at the same time from two threads."""
        results: dict[str, Any] = {}

        def run(container: str, argv: list[str]) -> None:
            try:
                results[container] = self.pod.run_ipc(
                    container, *argv, timeout=timeout + EXEC_GRACE_S
                )
            except Exception as exc:  # reported below, with the other side's outcome
                results[container] = exc

        threads = [
            threading.Thread(target=run, args=(container, argv), daemon=True)
            for container, argv in zip(self.containers, (server, client), strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        docs = []
        for container in self.containers:
            result = results.get(container)
            if isinstance(result, Exception) or result is None:
                raise BatchFailed(f"exec of the {container} batch failed: {result!r}")
            if result.json is None:
                raise BatchFailed(f"the {container} batch printed no JSON:\n{result.describe()}")
            docs.append(result.json)
        return docs[0], docs[1]


def describe_info(info: dict[str, Any]) -> str:
    """One line about an environment, for the table's header."""
    bench = info.get("ipcbench") or {}
    return (
        f"{info.get('hostname')} kernel {info.get('kernel')}, CPUs {info.get('cpus_allowed')}, "
        f"python {info.get('python')} ({info.get('python_executable')}), "
        f"podshm-ipcbench {bench.get('version')}"
    )
