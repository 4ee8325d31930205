"""TCP over loopback: the baseline every other transport is compared with."""

from __future__ import annotations

import socket

from .base import SocketStream


class Tcp(SocketStream):
    """127.0.0.1, an ephemeral port announced in the ready file; TCP_NODELAY on both ends."""

    name = "tcp"

    def setup(self) -> None:
        if self.end.server:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.on_close(listener.close)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            self._accept(listener, {"port": str(listener.getsockname()[1])})
        else:
            port = int(self.ready()["port"])
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.connect(("127.0.0.1", port))
            self._connected(sock)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


TRANSPORT = Tcp
