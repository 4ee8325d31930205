"""What bounds a benchmark peer: one SIGALRM for the whole run, and CPU pinning.

Both mirror the C peer (alarm() and sched_setaffinity()), so the Python inner loop pays for
no timeout bookkeeping per message and runs where its placement says.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

from ..result import EXIT_TIMEOUT, CommandFailed, failed


class PeerTimeout(CommandFailed):
    """The run's --timeout passed (raised from the SIGALRM handler)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            EXIT_TIMEOUT,
            f"the run did not finish within --timeout {seconds:g} s: the peer did not start "
            "or stopped, or they use different --dir/--tag",
            errno="ETIMEDOUT",
        )


class TimeLimit:
    """Bound every blocking call with one SIGALRM, like alarm() in C (main thread only).

    The handler raises :class:`PeerTimeout` once, which also ends calls that retry on EINTR
    (sockets, os.read). Python runs it at the next function call, which may be after a library
    call (sysv_ipc) has already failed with its own "signaled" error and clean-up has begun, so
    clean-up starts by calling :meth:`disarm` inside ``try`` and absorbing such a late timeout;
    on exit whatever came out once the timer fired is reported as the timeout it is.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self.armed = False

    def _expire(self, signum: int, frame: object) -> None:
        self.fired = True
        if self.armed:
            self.armed = False
            raise PeerTimeout(self.seconds)

    def __enter__(self) -> TimeLimit:
        self.previous = signal.signal(signal.SIGALRM, self._expire)
        self.armed = True
        signal.setitimer(signal.ITIMER_REAL, max(self.seconds, 1e-6))
        return self

    def disarm(self) -> None:
        """Stop the timer (call it inside ``try``: a pending timeout raises on the way in)."""
        self.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> None:
        self.disarm()
        signal.signal(signal.SIGALRM, self.previous)
        if self.fired and exc is not None and not isinstance(exc, PeerTimeout):
            raise PeerTimeout(self.seconds) from exc


@contextlib.contextmanager
def pinned(cpu: int) -> Iterator[None]:
    """Run on exactly ``cpu`` (sched_setaffinity), restoring the old set afterwards."""
    if cpu < 0:
        yield
        return
    previous = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError as exc:
        raise failed(exc, f"sched_setaffinity to CPU {cpu} (not in this cpuset?)") from exc
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


def current_cpu() -> int | None:
    """The CPU this thread runs on (field 39 of /proc/thread-self/stat)."""
    try:
        with open("/proc/thread-self/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        return None
