"""Cluster providers other than podshm's own single-node cluster (``localcluster``).

Each provider is one module exposing ``up``, ``down``, ``status``, ``kubeconfig_path``
and ``load_image``; the CLI picks one by name and never branches on which it has.
"""
