"""IPC benchmark peers that run inside the test image (and on the host): ``bench-*`` commands.

Stdlib + sysv_ipc + posix_ipc only, like the rest of ``podshm.ipc``. Modules:

- ``wire``: framing, names and the ready-file rendezvous, shared byte for byte with the C
  inner loop images/ipcbench/ipcbench.c (podshm-ipcbench);
- ``transports``: the seven transports in Python, one module each, found by the package
  (``transports.base``: what they share); ``peer``: one timed run (``bench-peer``);
- ``limits``: the run's SIGALRM time limit and CPU pinning;
- ``batch``: a plan of runs for one role, C or Python (``bench-batch``);
- ``info``: CPUs, limits and the C loop's version (``bench-info``).

Their flags are in ``podshm.ipc.parser``, the one command table.
"""
