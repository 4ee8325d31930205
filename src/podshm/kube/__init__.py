"""Cluster access and pod lifecycle for podshm, one module per responsibility.

- :mod:`~podshm.kube.access`: kubeconfig/context, reachability probe, RBAC check
- :mod:`~podshm.kube.api`: the dict-returning facade over the official client
- :mod:`~podshm.kube.facts`: versions, nodes, runtimes, kernels, memory
- :mod:`~podshm.kube.namespaces`: the run's namespaces (one per Pod Security level)
- :mod:`~podshm.kube.heartbeat`: the run's Lease, renewed while it lives
- :mod:`~podshm.kube.sweep`: removing whole runs, this one's and dead ones'
- :mod:`~podshm.kube.signals`: a second Ctrl-C held until clean-up finishes
- :mod:`~podshm.kube.pods`: create, wait (fail fast), exec, inspect
- :mod:`~podshm.kube.execution`: exec websocket with a deadline and the real exit code
- :mod:`~podshm.kube.ipccall`: the ``podshm-ipc`` helper's JSON contract
- :mod:`~podshm.kube.diagnostics`: events, statuses and logs for failure reports
- :mod:`~podshm.kube.podsecurity`: a static Pod Security "restricted" check
"""
