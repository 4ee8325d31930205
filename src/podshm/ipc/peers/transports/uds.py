"""Unix domain stream socket: a file in the pod's shared emptyDir, no network stack."""

from __future__ import annotations

import os
import socket

from .base import SocketStream, unlink_quietly


class Uds(SocketStream):
    """A stream socket bound to <dir>/<tag>.sock (the pod's shared emptyDir)."""

    name = "uds"

    def setup(self) -> None:
        path = os.path.join(self.end.directory, f"{self.end.tag}.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.end.server:
            self.on_close(sock.close)
            unlink_quietly(path)
            sock.bind(path)
            self.own("file", path, lambda: unlink_quietly(path))
            sock.listen(1)
            self._accept(sock)
        else:
            self.ready()
            sock.connect(path)
            self._connected(sock)


TRANSPORT = Uds
