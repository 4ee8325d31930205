"""Errors meant for users: each names the cause and what to do next."""

from __future__ import annotations


class PodshmError(Exception):
    """A failure with a cause and a fix; the CLI prints it as one line and exits 2."""

    def __init__(self, cause: str, fix: str | None = None) -> None:
        self.cause = cause
        self.fix = fix
        super().__init__(f"{cause} -- {fix}" if fix else cause)
