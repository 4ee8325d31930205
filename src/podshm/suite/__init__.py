"""The podshm conformance scenarios, as pytest modules.

Run against the current kubeconfig context, for example::

    pytest --pyargs podshm.suite -m sysv
    pytest --pyargs podshm.suite -m "not destructive" -n 4 --podshm-image registry/podshm:1

Every scenario creates its pods in a namespace of its own, execs the ``podshm-ipc`` helpers
in them and asserts on the helpers' JSON reports. Options: ``pytest --help`` (podshm group).
"""
