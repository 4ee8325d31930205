"""SysV shared memory with SysV semaphores: the ring of :class:`base.Ring`."""

from __future__ import annotations

import sysv_ipc

from .base import Ring


class SysvShm(Ring):
    """shmget + shmat under a random key, one SysV semaphore per role, keys in the ready file."""

    name = "sysv-shm"

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


TRANSPORT = SysvShm
