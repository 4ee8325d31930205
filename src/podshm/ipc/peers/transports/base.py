"""What every benchmark transport is, and what several of them share.

A transport module in this package defines one :class:`Transport` subclass and exposes it as
``TRANSPORT``. Each mirrors the same transport in images/ipcbench/ipcbench.c (names, ready-file
keys, ring layout, semaphore roles), so either implementation can be either peer. The server
creates every object and removes it in :meth:`Transport.close`; the client only opens.
Blocking calls carry no timeout of their own: the run's SIGALRM timer (see ``peer``) bounds
them all, as ``alarm()`` does in C, so the hot path pays for nothing but the transport.

Besides the base, the families live here: :class:`Stream` (a message may arrive in pieces),
:class:`SocketStream` (tcp, uds) and :class:`Ring` (the two shared-memory transports).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from ...result import EXIT_IPC_FAILED, CommandFailed
from ..wire import C2S, S2C, publish, ring_slots, wait_ready

Buffer = bytes | bytearray | memoryview


@dataclass(frozen=True)
class Endpoint:
    """Which run this is and which side of it: everything a transport needs to set up."""

    transport: str
    server: bool
    lat: bool
    size: int
    directory: str
    tag: str


class PeerClosed(CommandFailed):
    """The other side went away in the middle of a run."""

    def __init__(self) -> None:
        super().__init__(EXIT_IPC_FAILED, "the peer closed the connection mid-run", errno="EPIPE")


class Transport:
    """One side of one transport. ``objects`` lists what the server created (kind:name)."""

    name: ClassVar[str]
    """The transport's wire name (one of ``wire.TRANSPORTS``): how a run asks for it."""

    def __init__(self, end: Endpoint) -> None:
        self.end = end
        self.size = end.size
        self.out_dir = S2C if end.server else C2S
        self.in_dir = C2S if end.server else S2C
        self.objects: list[str] = []
        self._cleanups: list[Callable[[], None]] = []
        self.rbuf = bytearray(end.size)
        self.rview = memoryview(self.rbuf)

    def setup(self) -> None:
        """Create (server) or open (client) the objects; the client waits for the server."""
        raise NotImplementedError

    def send(self, buf: Buffer) -> None:
        """Send one whole message."""
        raise NotImplementedError

    def recv(self) -> Buffer:
        """Receive one whole message (valid until the next call)."""
        raise NotImplementedError

    def on_close(self, action: Callable[[], None]) -> None:
        """Run ``action`` at close, last registered first."""
        self._cleanups.append(action)

    def own(self, kind: str, name: str, remove: Callable[[], None]) -> None:
        """A server-created object: listed in the report and removed at close."""
        self.objects.append(f"{kind}:{name}")
        self.on_close(remove)

    def announce(self, values: dict[str, str] | None = None) -> None:
        """Tell the client everything exists (the ready file, removed at close)."""
        path = publish(self.end.directory, self.end.tag, values or {})
        self.own("file", path, lambda: unlink_quietly(path))

    def ready(self) -> dict[str, str]:
        """Client side: wait for the server's ready file."""
        return wait_ready(self.end.directory, self.end.tag)

    def close(self) -> list[str]:
        """Release everything, going on past a failure so the rest is still released; returns
        one line per failed step (the caller reports them: a leaked object is a failure)."""
        errors = []
        while self._cleanups:
            action = self._cleanups.pop()
            try:
                action()
            except Exception as exc:  # collected and reported by the caller, never dropped
                errors.append(f"{getattr(action, '__qualname__', action)}: {exc!r}")
        return errors


def unlink_quietly(path: str) -> None:
    """Remove a file that may already be gone (a stale one before create, ours at close)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class Stream(Transport):
    """Byte streams (sockets, FIFOs): a message may arrive in pieces."""

    def _read_into(self, view: memoryview) -> int:
        raise NotImplementedError

    def recv(self) -> Buffer:
        size, view = self.size, self.rview
        got = self._read_into(view)
        while got < size:
            if got <= 0:
                raise PeerClosed()
            more = self._read_into(view[got:])
            if more == 0:
                raise PeerClosed()
            got += more
        return self.rbuf


class SocketStream(Stream):
    """A connected stream socket: once connected, ``send`` and the reads are the socket's own
    methods (bound once, no wrapper of ours per message)."""

    sock: socket.socket

    def _accept(self, listener: socket.socket, values: dict[str, str] | None = None) -> None:
        self.announce(values)
        self.sock, _ = listener.accept()
        listener.close()
        self.on_close(self.sock.close)
        self.send = self.sock.sendall  # type: ignore[method-assign, assignment]
        self._read_into = self.sock.recv_into  # type: ignore[method-assign, assignment]

    def _connected(self, sock: socket.socket) -> None:
        self.sock = sock
        self.on_close(sock.close)
        self.send = sock.sendall  # type: ignore[method-assign, assignment]
        self._read_into = sock.recv_into  # type: ignore[method-assign, assignment]


class Ring(Transport):
    """Shared-memory rings, one per direction, each slot a message; semaphores count slots.

    send: wait(free) + copy in + post(full); recv: wait(full) + copy out + post(free).
    """

    view: memoryview
    slots: int

    def _layout(self) -> int:
        self.slots = ring_slots(self.size, self.end.lat)
        self.dirs = 2 if self.end.lat else 1
        self.widx = self.ridx = 0
        return self.dirs * self.slots * self.size

    def _bind(
        self, acquire: list[Callable[[], object]], release: list[Callable[[], object]]
    ) -> None:
        """Pick the semaphore operations this side uses (bound once: the hot path looks up
        nothing)."""
        out, inn = self.out_dir * 2, self.in_dir * 2
        if self.end.lat or self.end.server:  # a thr client never receives, a thr server never sends
            self._wait_full, self._post_free = acquire[inn], release[inn + 1]
        if self.end.lat or not self.end.server:
            self._wait_free, self._post_full = acquire[out + 1], release[out]

    def send(self, buf: Buffer) -> None:
        self._wait_free()
        size = self.size
        offset = (self.out_dir * self.slots + self.widx) * size
        self.view[offset : offset + size] = buf
        self.widx = (self.widx + 1) % self.slots
        self._post_full()

    def recv(self) -> Buffer:
        self._wait_full()
        size = self.size
        offset = (self.in_dir * self.slots + self.ridx) * size
        self.rview[:] = self.view[offset : offset + size]
        self.ridx = (self.ridx + 1) % self.slots
        self._post_free()
        return self.rbuf

    def _initial(self, index: int) -> int:
        return self.slots if index % 2 else 0  # "free" semaphores start with every slot
