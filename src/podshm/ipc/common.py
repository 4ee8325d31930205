"""Pieces shared by the SysV and POSIX senders/receivers: payload text and sender lifetime."""

from __future__ import annotations

import time

from .result import EXIT_IPC_FAILED, EXIT_MISMATCH, CommandFailed, Report, UsageError, failed

TYPE_CHECKING = False  # see result.py: no typing import at run time
if TYPE_CHECKING:
    from collections.abc import Callable

# The text the article's programs exchange; receivers compare against it with --expect.
DEFAULT_TEXT = "This is the way the world ends..."


class Terminated(CommandFailed):
    """SIGTERM arrived (pod shutdown); raised from the signal handler so `finally` cleanup runs."""

    def __init__(self) -> None:
        super().__init__(
            EXIT_IPC_FAILED,
            "terminated by SIGTERM before the command finished (pod shutdown?); "
            "the sender's --cleanup, if given, still ran",
            errno="EINTR",
            message="SIGTERM",
        )


def encode_text(text: str, capacity: int, *, nul: bool) -> bytes:
    """UTF-8 payload, NUL-terminated for shared memory (C readers stop at the first NUL)."""
    payload = text.encode() + (b"\0" if nul else b"")
    if len(payload) > capacity:
        raise UsageError(f"--text is {len(payload)} bytes (with NUL) but only {capacity} fit")
    return payload


def decode_text(raw: bytes) -> str:
    """What a C reader would print with printf("%s"): the bytes before the first NUL."""
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def check_expect(report: Report, text: str, expect: str | None) -> None:
    """Record what was read and fail with exit 4 if it differs from --expect."""
    report["text"] = text
    if expect is None:
        return
    report["expected"] = expect
    report["match"] = text == expect
    if text != expect:
        raise CommandFailed(
            EXIT_MISMATCH,
            f"read {text!r} but expected {expect!r}: the object exists but holds other "
            "content (another writer, a stale object from an earlier run, or a different text)",
            message="content mismatch",
        )


def linger_and_cleanup(
    report: Report, linger_s: float, cleanup: bool, remove: Callable[[], None]
) -> None:
    """Keep the sender alive ``linger_s`` seconds, then remove its objects if asked.

    The removal sits in ``finally`` so a SIGTERM during the linger still cleans up.
    """
    report["linger_s"] = linger_s
    report["removed"] = False
    try:
        if linger_s > 0:
            time.sleep(linger_s)
    finally:
        if cleanup:
            try:
                remove()
            except Exception as exc:
                raise failed(exc, "the sender could not remove its own objects") from exc
            report["removed"] = True
