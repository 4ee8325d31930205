"""The contract with the in-image helper program ``podshm-ipc``, in one place.

Each helper invocation prints one JSON object on stdout and exits with a code that says how it
went. Parsing lives here so that the suite asserts on fields (``result.json["key"]``,
``result.errno_name``) rather than on text, and so a change of the contract touches one file.
"""

from __future__ import annotations

import errno as errno_module
import json
from dataclasses import dataclass
from typing import Any

# The helper's exit codes are defined once, by the helper (it imports nothing of podshm).
from podshm.ipc.result import EXIT_IPC_FAILED, EXIT_MISMATCH, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE
from podshm.kube.execution import ExecResult

IPC_PROGRAM = "podshm-ipc"

EXIT_NAMES = {
    EXIT_OK: "ok",
    EXIT_IPC_FAILED: "IPC call failed",
    EXIT_USAGE: "bad usage",
    EXIT_TIMEOUT: "timed out",
    EXIT_MISMATCH: "content mismatch",
    137: "killed (SIGKILL, e.g. OOM)",
}


def parse_json_line(stdout: str) -> dict[str, Any] | None:
    """The helper's JSON object: the last stdout line that parses as a JSON object."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


@dataclass(frozen=True)
class IpcResult:
    """One helper run: exit code, its JSON report, and the raw streams for diagnostics."""

    exec: ExecResult
    json: dict[str, Any] | None

    @classmethod
    def from_exec(cls, result: ExecResult) -> IpcResult:
        """Parse an exec of ``podshm-ipc``."""
        return cls(exec=result, json=parse_json_line(result.stdout))

    @property
    def exit_code(self) -> int | None:
        """The helper's exit code (None if podshm stopped waiting)."""
        return self.exec.exit_code

    @property
    def stderr(self) -> str:
        """What the helper wrote on stderr."""
        return self.exec.stderr

    @property
    def ok(self) -> bool:
        """Exit 0 and ``"ok": true``."""
        return self.exit_code == EXIT_OK and bool((self.json or {}).get("ok"))

    def get(self, key: str, default: Any = None) -> Any:
        """A field of the JSON report."""
        return (self.json or {}).get(key, default)

    @property
    def error(self) -> dict[str, Any]:
        """The ``error`` object of a failed run (empty when there is none)."""
        err = self.get("error")
        return err if isinstance(err, dict) else {}

    @property
    def errno_name(self) -> str | None:
        """The failing call's errno as a symbol (``ENOENT``), whether reported as name or number."""
        value = self.error.get("errno")
        if value is None:
            return None
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return errno_module.errorcode.get(int(value), str(value))
        return str(value)

    def summary(self) -> str:
        """One line saying how the run ended and why: ``exit 1 (IPC call failed): ENOSYS:
        mq_timedsend: Function not implemented``; what a deviation's message can match."""
        code = self.exit_code
        text = f"exit {code}" if code is not None else "no exit status"
        if code in EXIT_NAMES:
            text += f" ({EXIT_NAMES[code]})"
        why = [str(part) for part in (self.errno_name, self.error.get("message")) if part]
        return ": ".join([text, *why])

    def describe(self) -> str:
        """Everything needed to understand a failed assertion on this run."""
        code = self.exit_code
        meaning = EXIT_NAMES.get(code, "") if code is not None else "no exit status"
        lines = [self.exec.describe()]
        if meaning:
            lines.append(f"meaning: {meaning}")
        if self.json is None:
            lines.append("no JSON object on stdout")
        return "\n".join(lines)
