"""Before a ``podshm`` command runs anything: pick the cluster, start podshm's local cluster if
that is the target and the user asked, connect, and find the test image.

Shared by ``podshm run`` and ``podshm bench``; the rule of which cluster is the target is
:func:`podshm.target.choose`, the same function the pytest plugin calls. Every failure is a
:class:`PodshmError` (exit 2, one line) raised before a test or a measurement starts.
"""

from __future__ import annotations

import dataclasses
import sys

from podshm.errors import PodshmError
from podshm.kube.cluster import Cluster
from podshm.settings import Settings
from podshm.target import Target, check_image_held, choose, connect_target, find_image


def _start_or_reuse_local(settings: Settings, target: Target, start: bool) -> Settings:
    """Make sure the local cluster runs and holds this podshm's test image (built, cached)."""
    from podshm.localcluster import components, lifecycle
    from podshm.localcluster.layout import Layout

    version = lifecycle.running_version(Layout.default())
    if version is None and not start:
        raise PodshmError(
            f"{target.why} is not running",
            "pass --start-cluster to start it (or run `podshm cluster up`), or point "
            "KUBECONFIG / --kubeconfig at another cluster",
        )
    # A running cluster is reused whatever its version (it only gets the image imported).
    _info, image = lifecycle.up_with_test_image(version or components.DEFAULT_K8S_VERSION)
    return dataclasses.replace(settings, local=True, image=settings.image or image)


def prepare(settings: Settings, start_cluster: bool = False) -> tuple[Settings, Target, Cluster]:
    """The settings to run with (local cluster and image filled in), the target, the cluster."""
    target = choose(settings)
    if target.local:
        settings = _start_or_reuse_local(settings, target, start_cluster)
    elif start_cluster and not settings.local:
        print(f"podshm: --start-cluster ignored: the target is {target.why}", file=sys.stderr)
    cluster = connect_target(target)
    image, _source = find_image(settings, cluster.facts)
    check_image_held(settings, cluster.facts, image)
    return dataclasses.replace(settings, image=image), target, cluster
