"""``podshm-ipc`` entry point: runs one command and enforces the one-JSON-line contract."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from .common import Terminated
from .parser import COMMANDS, PROG, build_parser, handler
from .result import EXIT_IPC_FAILED, EXIT_OK, CommandFailed, Report, failed, render


def _ipc_namespace() -> str | None:
    """e.g. "ipc:[4026531839]": two processes share an IPC namespace iff the strings match."""
    try:
        return os.readlink("/proc/self/ns/ipc")
    except OSError:
        return None


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _run(argv: Sequence[str], report: Report) -> tuple[str | None, int, Any]:
    """Parse and run; every outcome becomes (command, exit code, error object or None)."""
    # A run names its command first: only that command's module is imported. Anything else
    # (--help, no or an unknown command) gets the whole parser and its answer.
    first = argv[0] if argv else None
    parser = build_parser(only=first if first in COMMANDS else None)
    # Best guess for the JSON when the arguments do not parse.
    command = next((arg for arg in argv if arg in parser.command_names), None)
    try:
        args = parser.parse_args(argv)
        command = args.command
        handler(args.handler)(args, report)
        return command, EXIT_OK, None
    except CommandFailed as exc:
        return command, exc.exit_code, exc.error_object()
    except KeyboardInterrupt:
        error = {"errno": "EINTR", "message": "SIGINT", "reason": "interrupted by SIGINT"}
        return command, EXIT_IPC_FAILED, error
    except OSError as exc:
        return command, EXIT_IPC_FAILED, failed(exc, f"unexpected OS error: {exc}").error_object()
    except Exception as exc:
        import traceback  # only on this path: a helper exec pays for every import

        traceback.print_exc(file=sys.stderr)
        reason = f"internal error in {PROG} (a bug, see stderr): {exc!r}"
        return command, EXIT_IPC_FAILED, {"errno": None, "message": repr(exc), "reason": reason}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``podshm-ipc`` and ``python -m podshm.ipc``; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    started = time.monotonic()
    report: Report = {"pid": os.getpid(), "ipc_ns": _ipc_namespace()}
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (in-process use): keep the default handling
        previous = None
    try:
        command, code, error = _run(argv, report)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print(render(command, code == EXIT_OK, time.monotonic() - started, report, error), flush=True)
    return code
