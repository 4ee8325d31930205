"""Run a command in a container through the exec websocket and get its real exit code.

The exit status does not travel on stdout: the API server sends a ``Status`` object on the
error channel (3) when the command ends. Reading it ourselves, with a deadline, is what makes
"exit 3 = timed out" from the helpers distinguishable from "exit 1 = IPC call failed".
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import websocket
import yaml
from kubernetes.client.exceptions import ApiException

from podshm.errors import PodshmError
from podshm.kube.api import KubeApi

STDOUT_CHANNEL = 1
STDERR_CHANNEL = 2
ERROR_CHANNEL = 3


@dataclass(frozen=True)
class ExecResult:
    """What one exec produced. ``exit_code`` is None when the command outlived its deadline."""

    argv: tuple[str, ...]
    container: str
    exit_code: int | None
    stdout: str
    stderr: str
    elapsed_s: float
    status_message: str = ""

    @property
    def timed_out(self) -> bool:
        """True when podshm gave up waiting (the command may still be running)."""
        return self.exit_code is None

    def describe(self) -> str:
        """A compact multi-line account for assertion messages."""
        code = "timed out" if self.timed_out else f"exit {self.exit_code}"
        parts = [f"$ {' '.join(self.argv)}  [{self.container}, {code}, {self.elapsed_s:.1f} s]"]
        if self.status_message:
            parts.append(f"status: {self.status_message}")
        if self.stdout.strip():
            parts.append("stdout: " + self.stdout.strip()[-2000:])
        if self.stderr.strip():
            parts.append("stderr: " + self.stderr.strip()[-2000:])
        return "\n".join(parts)


def parse_exec_status(text: str) -> tuple[int | None, str]:
    """Exit code and message from the error channel's Status object.

    ``{"status": "Success"}`` is 0; a ``NonZeroExitCode`` failure carries the code in
    ``details.causes[reason=ExitCode].message``. Any other failure (e.g. the executable does
    not exist) has no exit code: (-1, message). Empty text means no status arrived: (None, "").
    """
    if not text or not text.strip():
        return None, ""
    try:
        status = json.loads(text)
    except ValueError:
        try:
            status = yaml.safe_load(text)
        except yaml.YAMLError:
            return -1, text.strip()[:500]
    if not isinstance(status, dict):
        return -1, str(status)[:500]
    if status.get("status") == "Success":
        return 0, ""
    message = str(status.get("message", ""))
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message")), message
            except (TypeError, ValueError):
                break
    return -1, message or json.dumps(status)[:500]


def _read(resp: Any, channel: int) -> str:
    """Drain a channel without blocking (``timeout=0``: never wait on a dead socket)."""
    data = resp.read_channel(channel, timeout=0)
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data or "")


def exec_in_container(
    api: KubeApi,
    namespace: str,
    pod: str,
    container: str,
    argv: list[str],
    timeout: float,
) -> ExecResult:
    """Run ``argv`` in ``container`` and wait at most ``timeout`` seconds for it to finish."""
    start = time.monotonic()
    try:
        resp = api.exec_stream(namespace, pod, container, list(argv))
    except ApiException as err:
        raise PodshmError(
            f"cannot exec {argv[0]!r} in {namespace}/{pod} container {container!r}: "
            f"{err.reason or err}",
            "check that the container is running and that you may create pods/exec",
        ) from err
    stdout: list[str] = []
    stderr: list[str] = []
    status_text = ""
    deadline = start + timeout
    broken = ""
    try:
        while resp.is_open():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                resp.update(timeout=min(remaining, 1.0))
            except (OSError, websocket.WebSocketException) as err:
                # The connection dropped (API server restart, container killed mid-exec).
                broken = f"exec stream broke: {err}"
                break
            stdout.append(_read(resp, STDOUT_CHANNEL))
            stderr.append(_read(resp, STDERR_CHANNEL))
            status_text += _read(resp, ERROR_CHANNEL)
        finished = bool(broken) or not resp.is_open()
        stdout.append(_read(resp, STDOUT_CHANNEL))
        stderr.append(_read(resp, STDERR_CHANNEL))
        status_text += _read(resp, ERROR_CHANNEL)
    finally:
        resp.close()
    exit_code, message = parse_exec_status(status_text)
    if exit_code is None and finished:
        # The stream closed without a Status (e.g. the container died): no trustworthy code.
        exit_code, message = -1, broken or "exec stream closed without an exit status"
    return ExecResult(
        argv=tuple(argv),
        container=container,
        exit_code=exit_code,
        stdout="".join(stdout),
        stderr="".join(stderr),
        elapsed_s=time.monotonic() - start,
        status_message=message,
    )
