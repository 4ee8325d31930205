"""The seven transports, Python side: set up, one message each way, tear down.

Each class mirrors the same transport in images/ipcbench/ipcbench.c (names, ready-file keys,
ring layout, semaphore roles), so either implementation can be either peer. The server
creates every object and removes it in :meth:`Transport.close`; the client only opens.
Blocking calls carry no timeout of their own: the run's SIGALRM timer (see ``peer``) bounds
them all, as ``alarm()`` does in C, so the hot path pays for nothing but the transport.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

import posix_ipc
import sysv_ipc

from ..result import EXIT_IPC_FAILED, CommandFailed
from .wire import (
    C2S,
    MQ_DEPTH,
    S2C,
    SEM_SUFFIXES,
    posix_name,
    publish,
    ring_slots,
    wait_ready,
)

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
        self.own("file", path, lambda: _unlink(path))

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


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class _Stream(Transport):
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


class _Socket(_Stream):
    sock: socket.socket

    def _accept(self, listener: socket.socket, values: dict[str, str] | None = None) -> None:
        self.announce(values)
        self.sock, _ = listener.accept()
        listener.close()
        self.on_close(self.sock.close)
        self.send = self.sock.sendall  # type: ignore[method-assign]
        self._read_into = self.sock.recv_into  # type: ignore[method-assign]

    def _connected(self, sock: socket.socket) -> None:
        self.sock = sock
        self.on_close(sock.close)
        self.send = sock.sendall  # type: ignore[method-assign]
        self._read_into = sock.recv_into  # type: ignore[method-assign]


class Tcp(_Socket):
    """127.0.0.1, an ephemeral port announced in the ready file; TCP_NODELAY on both ends."""

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


class Uds(_Socket):
    """A stream socket bound to <dir>/<tag>.sock (the pod's shared emptyDir)."""

    def setup(self) -> None:
        path = os.path.join(self.end.directory, f"{self.end.tag}.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.end.server:
            self.on_close(sock.close)
            _unlink(path)
            sock.bind(path)
            self.own("file", path, lambda: _unlink(path))
            sock.listen(1)
            self._accept(sock)
        else:
            self.ready()
            sock.connect(path)
            self._connected(sock)


class Fifo(_Stream):
    """Named pipes <tag>.c2s (and .s2c for ping-pong); both sides open c2s first."""

    def setup(self) -> None:
        base = os.path.join(self.end.directory, self.end.tag)
        c2s, s2c = base + ".c2s", base + ".s2c"
        paths = (c2s, s2c) if self.end.lat else (c2s,)
        if self.end.server:
            for path in paths:
                _unlink(path)
                os.mkfifo(path, 0o600)
                self.own("fifo", path, lambda p=path: _unlink(p))
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


class _Ring(Transport):
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


class PosixShm(_Ring):
    """shm_open + mmap, named POSIX semaphores /podshm-b-<tag>-{c2s,s2c}-{full,free}."""

    def setup(self) -> None:
        length = self._layout()
        name, end = posix_name(self.end.tag), self.end
        sem_names = [posix_name(end.tag, s) for s in SEM_SUFFIXES[: self.dirs * 2]]
        if end.server:
            shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, 0o600, length)
            self.own("posix-shm", name, lambda: posix_ipc.unlink_shared_memory(name))
            sems = []
            for i, sem_name in enumerate(sem_names):
                sem = posix_ipc.Semaphore(sem_name, posix_ipc.O_CREX, 0o600, self._initial(i))
                self.own("posix-sem", sem_name, lambda n=sem_name: posix_ipc.unlink_semaphore(n))
                sems.append(sem)
        else:
            self.ready()
            shm = posix_ipc.SharedMemory(name)
            sems = [posix_ipc.Semaphore(n) for n in sem_names]
        for sem in sems:
            self.on_close(sem.close)
        mem = mmap.mmap(shm.fd, length)
        shm.close_fd()
        self.on_close(mem.close)
        self.view = memoryview(mem)
        self.on_close(self.view.release)
        self._bind([s.acquire for s in sems], [s.release for s in sems])
        if end.server:
            self.announce()


class SysvShm(_Ring):
    """shmget + shmat under a random key, one SysV semaphore per role, keys in the ready file."""

    def setup(self) -> None:
        length = self._layout()
        nsems = self.dirs * 2
        if self.end.server:
            shm = sysv_ipc.SharedMemory(None, sysv_ipc.IPC_CREX, 0o600, length)
            self.own("sysv-shm", f"{shm.key & 0xFFFFFFFF:#010x}", shm.remove)
            sems = []
            for i in range(nsems):
                sem = sysv_ipc.Semaphore(None, sysv_ipc.IPC_CREX, 0o600, self._initial(i))
                self.own("sysv-sem", f"{sem.key & 0xFFFFFFFF:#010x}", sem.remove)
                sems.append(sem)
        else:
            ready = self.ready()
            shm = sysv_ipc.SharedMemory(int(ready["shm_key"]))
            sems = [sysv_ipc.Semaphore(int(k)) for k in ready["sem_keys"].split(",")[:nsems]]
        self.on_close(shm.detach)
        self.view = memoryview(shm)
        self.on_close(self.view.release)
        self._bind([s.acquire for s in sems], [s.release for s in sems])
        if self.end.server:
            self.announce({"shm_key": str(shm.key), "sem_keys": ",".join(str(s.key) for s in sems)})


def _mq_depth() -> int:
    try:
        with open("/proc/sys/fs/mqueue/msg_max") as f:
            return min(MQ_DEPTH, int(f.read()))
    except (OSError, ValueError):
        return MQ_DEPTH


class PosixMq(Transport):
    """mq_open queues /podshm-b-<tag>-c2s (and -s2c), depth 10, message size = --size."""

    def setup(self) -> None:
        names = [posix_name(self.end.tag, d) for d in ("c2s", "s2c")[: 2 if self.end.lat else 1]]
        queues = []
        if not self.end.server:
            self.ready()
        for name in names:
            if self.end.server:
                queue = posix_ipc.MessageQueue(
                    name, posix_ipc.O_CREX, 0o600, _mq_depth(), self.size
                )
                self.own("posix-mq", name, lambda n=name: posix_ipc.unlink_message_queue(n))
            else:
                queue = posix_ipc.MessageQueue(name)
            self.on_close(queue.close)
            queues.append(queue)
        if self.end.lat or not self.end.server:
            self.send = queues[self.out_dir].send  # type: ignore[method-assign]
        if self.end.lat or self.end.server:
            self._receive = queues[self.in_dir].receive
        if self.end.server:
            self.announce()

    def recv(self) -> Buffer:
        return self._receive()[0]


class SysvMq(Transport):
    """One msgget queue; type 1 carries client->server messages, type 2 the echoes."""

    def setup(self) -> None:
        if self.end.server:
            queue = sysv_ipc.MessageQueue(
                None, sysv_ipc.IPC_CREX, 0o600, max_message_size=self.size
            )
            self.own("sysv-msg", f"{queue.key & 0xFFFFFFFF:#010x}", queue.remove)
            self.announce({"msg_key": str(queue.key)})
        else:
            key = int(self.ready()["msg_key"])
            queue = sysv_ipc.MessageQueue(key, max_message_size=self.size)
        self.queue = queue
        self.out_type, self.in_type = self.out_dir + 1, self.in_dir + 1

    def send(self, buf: Buffer) -> None:
        self.queue.send(buf, type=self.out_type)

    def recv(self) -> Buffer:
        return self.queue.receive(type=self.in_type)[0]


CLASSES: dict[str, type[Transport]] = {
    "tcp": Tcp,
    "uds": Uds,
    "fifo": Fifo,
    "posix-shm": PosixShm,
    "sysv-shm": SysvShm,
    "posix-mq": PosixMq,
    "sysv-mq": SysvMq,
}
