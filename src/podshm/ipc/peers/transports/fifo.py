"""Named pipes: one per direction, in the pod's shared emptyDir."""

from __future__ import annotations

import functools
import os

from .base import Buffer, Stream, unlink_quietly


class Fifo(Stream):
    """Named pipes <tag>.c2s (and .s2c for ping-pong); both sides open c2s first."""

    name = "fifo"

    def setup(self) -> None:
        base = os.path.join(self.end.directory, self.end.tag)
        c2s, s2c = base + ".c2s", base + ".s2c"
        paths = (c2s, s2c) if self.end.lat else (c2s,)
        if self.end.server:
            for path in paths:
                unlink_quietly(path)
                os.mkfifo(path, 0o600)
                self.own("fifo", path, functools.partial(unlink_quietly, path))
            self.announce()
            self.rfd = self._open(c2s, os.O_RDONLY)
            if self.end.lat:
                self.wfd = self._open(s2c, os.O_WRONLY)
        else:
            self.ready()
            self.wfd = self._open(c2s, os.O_WRONLY)
            if self.end.lat:
                self.rfd = self._open(s2c, os.O_RDONLY)

    def _open(self, path: str, flags: int) -> int:
        fd = os.open(path, flags)
        self.on_close(lambda: os.close(fd))
        return fd

    def send(self, buf: Buffer) -> None:
        view, fd, done = memoryview(buf), self.wfd, 0
        while done < len(view):
            done += os.write(fd, view[done:])

    def _read_into(self, view: memoryview) -> int:
        return os.readv(self.rfd, [view])


TRANSPORT = Fifo
