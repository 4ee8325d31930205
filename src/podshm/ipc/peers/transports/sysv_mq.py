"""SysV message queue: one queue for both directions, the message type tells them apart."""

from __future__ import annotations

import sysv_ipc

from .base import Buffer, Transport


class SysvMq(Transport):
    """One msgget queue; type 1 carries client->server messages, type 2 the echoes."""

    name = "sysv-mq"

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


TRANSPORT = SysvMq
