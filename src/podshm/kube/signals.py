"""Deferral of Ctrl-C while a run cleans up after itself.

Clean-up deletes namespaces one by one; a second Ctrl-C in the middle would leave the rest
behind, so every deletion loop (a worker's namespaces, a run's, dead runs') holds it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold a second Ctrl-C until clean-up finishes, then deliver it.

    The first Ctrl-C makes pytest unwind and clean up; an impatient second one would otherwise
    abort the clean-up and leave namespaces behind. Only the main thread may set handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def remember(signum: int, _frame: object) -> None:
        pending.append(signum)

    previous = signal.signal(signal.SIGINT, remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt
