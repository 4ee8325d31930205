"""``podshm bench``: IPC transports between two containers of one pod, against the host.

Seed 004 asks which transport two containers of a pod should use and what the pod costs;
this package answers it on the user's own cluster. The in-image peers live in
``podshm.ipc.peers`` (and images/ipcbench/ipcbench.c); this side orchestrates:

- ``config``: the axes and the batch command lines; ``environments``: host and pod runners;
- ``runner``: host and pod interleaved; ``records``: pairing and machinery checks;
- ``stats``: medians, spreads, pod/host ratios; ``table``/``document``/``chart``: the report;
- ``pod``: the benchmark pod's lifecycle; ``cli``: the ``bench`` sub-command.
"""
