"""Helper programs that run inside the test image (and on the host): ``podshm-ipc``.

Stdlib + sysv_ipc + posix_ipc only, so the minimal test image can run it; nothing here may
import the rest of podshm. Modules, one responsibility each:

- ``result``: the JSON-line contract, exit codes (0 ok, 1 IPC failed, 2 usage, 3 timeout,
  4 mismatch) and the bounded ``Deadline``;
- ``ftok``: SysV keys from a shared file; ``sysv``: SysV shm/sem/msg send and receive;
- ``posix``: POSIX shm + semaphore (the article's memwriter/memreader) and mqueues;
- ``mounts``/``shmfs``: /dev/shm facts and fill-until-ENOSPC;
- ``loader``: the DataLoader pattern (workers, ``multiprocessing.shared_memory`` batches,
  SIGBUS past the tmpfs size);
- ``listing``/``cleanup``: ``ipc-list`` and ``ipc-remove``;
- ``bench``: the ``bench-*`` peers of ``podshm bench`` (Python inner loop, batches);
- ``parser``: the command table (argparse); ``cli``: the runner behind ``main``.
"""
