"""POSIX shared memory with named POSIX semaphores: the ring of :class:`base.Ring`."""

from __future__ import annotations

import functools
import mmap

import posix_ipc

from ..wire import SEM_SUFFIXES, posix_name
from .base import Ring


class PosixShm(Ring):
    """shm_open + mmap, named POSIX semaphores /podshm-b-<tag>-{c2s,s2c}-{full,free}."""

    name = "posix-shm"

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
                self.own(
                    "posix-sem", sem_name, functools.partial(posix_ipc.unlink_semaphore, sem_name)
                )
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


TRANSPORT = PosixShm
