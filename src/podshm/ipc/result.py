"""The output contract shared by every ``podshm-ipc`` command.

Each command prints exactly one single-line JSON object on stdout and exits with one of the
codes below, so the suite can assert on both without scraping human text. Commands fill a
``report`` dict as they go and raise :class:`CommandFailed` on failure, so even a failed run
reports what it saw (key, inode, ...) next to the error.

Every helper exec starts a Python: this module (imported by all of them) pulls in nothing
that ``re``/``enum`` would come with (``json``, ``typing``), which together cost more than the
interpreter's own start. Names only type checkers need sit under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import errno as errno_mod
import time

try:  # the C string quoting json.dumps itself uses, without json's import of re
    from _json import encode_basestring_ascii as _quote
except ImportError:  # pragma: no cover - CPython always has _json
    from json.encoder import py_encode_basestring_ascii as _quote

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")
    Report = dict[str, Any]
else:
    Report = dict

EXIT_OK = 0  # the observation succeeded
EXIT_IPC_FAILED = 1  # an IPC or file-system call failed (missing ftok file, EACCES, ENOSPC, ...)
EXIT_USAGE = 2  # bad command line; argparse errors also end up here
EXIT_TIMEOUT = 3  # the bounded wait ran out (no sender, different key, empty queue, ...)
EXIT_MISMATCH = 4  # something was read, but it is not what --expect said

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_POLL_S = 0.05

# sysv_ipc / posix_ipc raise their own classes without an errno; these are the errnos the
# underlying calls set in the cases those classes stand for.
_LIBRARY_ERRNOS = {
    "ExistentialError": "ENOENT",
    "PermissionsError": "EACCES",
    "BusyError": "EAGAIN",
    "NotAttachedError": "EINVAL",
    "SignalError": "EINTR",
}


_SHORT = {EXIT_TIMEOUT: "timed out", EXIT_MISMATCH: "content mismatch"}


class CommandFailed(Exception):
    """A failed observation: carries the exit code and the error object for the JSON."""

    def __init__(
        self,
        exit_code: int,
        reason: str,
        *,
        errno: str | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.exit_code = exit_code
        self.reason = reason
        self.errno = errno
        self.message = message if message is not None else _SHORT.get(exit_code, reason)

    def error_object(self) -> dict[str, str | None]:
        """The ``error`` member of the JSON result."""
        return {"errno": self.errno, "message": self.message, "reason": self.reason}


class UsageError(CommandFailed):
    """Bad flags or arguments; exit 2."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(EXIT_USAGE, reason or f"bad usage: {message}", message=message)


def errno_name(exc: BaseException) -> str | None:
    """Symbolic errno ("ENOENT") of an OSError or of a sysv_ipc/posix_ipc exception."""
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        return errno_mod.errorcode.get(code)
    return _LIBRARY_ERRNOS.get(type(exc).__name__)


def failed(exc: BaseException, reason: str, exit_code: int = EXIT_IPC_FAILED) -> CommandFailed:
    """Wrap a caught exception into a CommandFailed with its errno and message."""
    message = str(exc) or type(exc).__name__
    return CommandFailed(exit_code, reason, errno=errno_name(exc), message=message)


class Deadline:
    """A monotonic deadline, so every wait in a command is bounded by the same --timeout."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._end = time.monotonic() + timeout_s

    def remaining(self) -> float:
        """Seconds left, never negative."""
        return max(0.0, self._end - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def poll(self, attempt: Callable[[], T | None], interval_s: float = DEFAULT_POLL_S) -> T | None:
        """Call ``attempt`` until it returns non-None or the deadline passes (then None).

        ``attempt`` always runs at least once, so ``--timeout 0`` means "check once".
        """
        while True:
            value = attempt()
            if value is not None:
                return value
            left = self.remaining()
            if left <= 0.0:
                return None
            time.sleep(min(interval_s, left))


def render(command: str | None, ok: bool, elapsed_s: float, report: Report, error: Any) -> str:
    """The single JSON line: command, ok, the observed values, elapsed_s, error."""
    doc: Report = {"command": command, "ok": ok}
    doc.update(report)
    doc["elapsed_s"] = round(elapsed_s, 3)
    if error is not None:
        doc["error"] = error
    return to_json(doc)


def to_json(value: Any) -> str:
    """``json.dumps(value, default=str)``, character for character (a unit test holds it to
    that), for the values a report holds: None, bool, int, float, str, lists, tuples, dicts;
    anything else as its ``str``."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        items = (f"{_key(k)}: {to_json(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(to_json(v) for v in value) + "]"
    return _quote(str(value))


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _key(key: Any) -> str:
    """A dict key as json writes it: strings quoted, numbers, booleans and None as text."""
    if isinstance(key, str):
        return _quote(key)
    if key is None or isinstance(key, bool):
        return _quote(to_json(key))
    if isinstance(key, float):
        return _quote(_float(key))
    if isinstance(key, int):
        return _quote(int.__repr__(key))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
