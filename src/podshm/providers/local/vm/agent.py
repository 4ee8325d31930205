"""Commands in the guest, from the host: qemu-guest-agent over a virtio-serial port.

Why the guest agent and not ssh or an agent of podshm's own: it is a Debian package written in
C (it starts fast under TCG), it needs no key, no network and no port (the guest's network
can be broken and the host still reads its logs), and its protocol is one JSON object per
line: ``guest-exec`` starts a process with its stdin, ``guest-exec-status`` returns its exit
code and output once it ended. Each call opens the socket, resynchronises
(``guest-sync-delimited``: whatever an earlier, interrupted caller left in the channel is
skipped) and closes it; every call has a deadline, and a command that overruns it is killed
in the guest.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podshm.errors import PodshmError

DELIMITER = b"\xff"
"""What the agent sends before its answer to ``guest-sync-delimited``."""


@dataclass(frozen=True)
class Result:
    """How a command in the guest ended."""

    argv: tuple[str, ...]
    exitcode: int
    stdout: str
    stderr: str

    def check(self) -> Result:
        """Self, or one error quoting the command and its stderr."""
        if self.exitcode != 0:
            raise PodshmError(
                f"`{' '.join(self.argv)}` failed in the VM (exit {self.exitcode}): "
                f"{(self.stderr or self.stdout).strip()[-2000:]}",
                "read the VM's console log and the command's output above",
            )
        return self


def exec_arguments(
    argv: Sequence[str], stdin: bytes | None = None, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The arguments of ``guest-exec`` (pure): the program is looked up on the guest's PATH."""
    args: dict[str, Any] = {"path": argv[0], "arg": list(argv[1:]), "capture-output": True}
    if stdin is not None:
        args["input-data"] = base64.b64encode(stdin).decode()
    if env:
        args["env"] = [f"{key}={value}" for key, value in sorted(env.items())]
    return args


def decode_status(argv: Sequence[str], status: Mapping[str, Any]) -> Result | None:
    """A ``guest-exec-status`` answer as a Result, None while the process runs (pure)."""
    if not status.get("exited"):
        return None
    code = status.get("exitcode")
    if code is None:  # killed by a signal: the shell's convention
        code = 128 + int(status.get("signal", 0))

    def text(key: str) -> str:
        return base64.b64decode(status.get(key, "")).decode(errors="replace")

    return Result(tuple(argv), int(code), text("out-data"), text("err-data"))


class Agent:
    """The guest agent behind a QEMU ``-chardev socket`` at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _open(self, deadline: float) -> tuple[socket.socket, bytearray]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            sock.connect(str(self.path))
            ident = random.randrange(1, 2**31)
            buffer = bytearray()
            self._send(sock, "guest-sync-delimited", {"id": ident})
            while True:  # skip everything before the delimiter, then the stale answers
                reply = self._receive(sock, buffer, deadline)
                if reply.get("return") == ident:
                    return sock, buffer
        except BaseException:
            sock.close()
            raise

    @staticmethod
    def _send(sock: socket.socket, command: str, args: Mapping[str, Any] | None) -> None:
        message: dict[str, Any] = {"execute": command}
        if args is not None:
            message["arguments"] = dict(args)
        sock.sendall(json.dumps(message).encode() + b"\n")

    @staticmethod
    def _receive(sock: socket.socket, buffer: bytearray, deadline: float) -> dict[str, Any]:
        while True:
            if DELIMITER in buffer:
                del buffer[: buffer.index(DELIMITER) + 1]
            if b"\n" in buffer:
                line, _, rest = bytes(buffer).partition(b"\n")
                buffer[:] = rest
                if not line.strip():
                    continue
                try:
                    reply = json.loads(line)
                except ValueError:
                    continue  # a fragment an interrupted caller left: skip it
                if isinstance(reply, dict):
                    return reply
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer from the guest agent")
            sock.settimeout(remaining)
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the guest agent closed the channel")
            buffer += chunk

    def call(self, command: str, args: Mapping[str, Any] | None = None, timeout: float = 10) -> Any:
        """One agent command; its ``return`` value."""
        deadline = time.monotonic() + timeout
        try:
            sock, buffer = self._open(deadline)
            with sock:
                self._send(sock, command, args)
                reply = self._receive(sock, buffer, deadline)
        except (OSError, TimeoutError, ConnectionError) as err:
            raise PodshmError(
                f"the VM's guest agent ({self.path}) did not answer {command} within "
                f"{timeout:.0f}s: {err}",
                "is the VM running? its console log says how far it booted",
            ) from err
        if "error" in reply:
            raise PodshmError(
                f"the VM's guest agent refused {command}: {reply['error'].get('desc', reply)}",
                "check the command and its arguments",
            )
        return reply.get("return")

    def ping(self, timeout: float = 10) -> None:
        self.call("guest-ping", timeout=timeout)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Result:
        """Run ``argv`` in the guest and wait for it, at most ``timeout`` seconds (then it is
        killed there and a PodshmError says so)."""
        deadline = time.monotonic() + timeout
        started = self.call("guest-exec", exec_arguments(argv, stdin, env), timeout=timeout)
        pid = int(started["pid"])
        pause = 0.05
        while True:
            remaining = deadline - time.monotonic()
            status = self.call("guest-exec-status", {"pid": pid}, timeout=max(2.0, remaining))
            result = decode_status(argv, status)
            if result is not None:
                return result
            if remaining <= 0:
                self._kill(pid)
                raise PodshmError(
                    f"`{' '.join(argv)}` did not finish in the VM within {timeout:.0f}s (killed)",
                    "the guest is slow under TCG: raise the timeout, or see its console log",
                )
            time.sleep(min(pause, max(0.0, remaining)))
            pause = min(pause * 2, 0.5)

    def _kill(self, pid: int) -> None:
        # The guest gone or wedged: the caller's error says enough.
        with contextlib.suppress(PodshmError):
            self.call("guest-exec", {"path": "kill", "arg": ["-KILL", str(pid)]}, timeout=5)

    def sh(self, script: str, *, timeout: float, stdin: bytes | None = None) -> Result:
        """``/bin/sh -c script`` in the guest."""
        return self.run(["/bin/sh", "-c", script], timeout=timeout, stdin=stdin)

    def write_file(self, path: str, data: bytes, mode: int = 0o644, timeout: float = 60) -> None:
        """Write a small file in the guest (its bytes travel base64 in one JSON message)."""
        script = f'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod {mode:o} "$1"'
        self.run(["/bin/sh", "-c", script, "sh", path], timeout=timeout, stdin=data).check()
