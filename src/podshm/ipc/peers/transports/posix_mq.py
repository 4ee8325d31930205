"""POSIX message queues: the kernel keeps message boundaries, one queue per direction."""

from __future__ import annotations

import functools

import posix_ipc

from ..wire import MQ_DEPTH, posix_name
from .base import Buffer, Transport


def _mq_depth() -> int:
    try:
        with open("/proc/sys/fs/mqueue/msg_max") as f:
            return min(MQ_DEPTH, int(f.read()))
    except (OSError, ValueError):
        return MQ_DEPTH


class PosixMq(Transport):
    """mq_open queues /podshm-b-<tag>-c2s (and -s2c), depth 10, message size = --size."""

    name = "posix-mq"

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
                self.own("posix-mq", name, functools.partial(posix_ipc.unlink_message_queue, name))
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


TRANSPORT = PosixMq
