"""The podshm conformance scenarios, as pytest modules.

Run against the current kubeconfig context, for example::

    pytest --pyargs podshm.suite -m sysv
    pytest --pyargs podshm.suite -m "not destructive" -n 4 --podshm-image registry/podshm:1

Every scenario creates pods of its own (its name and label on each, in the run's namespace of
the Pod Security level it needs), execs the ``podshm-ipc`` helpers in them and asserts on the
helpers' JSON reports. Options: ``pytest --help`` (podshm group).
"""
