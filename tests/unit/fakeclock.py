"""A clock that moves only when the code under test sleeps: waits tested without waiting."""

from __future__ import annotations


class FakeClock:
    """``clock()`` reads the time; ``clock.sleep(s)`` is the only thing that advances it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
