"""Before a ``podshm`` command runs anything: pick the cluster, start podshm's local cluster if
that is the target and the user asked, connect, and find the test image.

Shared by ``podshm run`` and ``podshm bench``; the rule of which cluster is the target is
:func:`podshm.target.choose`, the same function the pytest plugin calls. Every failure is a
:class:`PodshmError` (exit 2, one line) raised before a test or a measurement starts.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TextIO

from podshm import providers
from podshm.build.pins import DEFAULT, Pins, pins_for
from podshm.errors import PodshmError
from podshm.image import build as image_build
from podshm.image.workload import build_workload_image
from podshm.kube.cluster import Cluster
from podshm.podimages import TEST
from podshm.providers.base import Provider, Request, Running
from podshm.settings import Settings
from podshm.target import Target, check_image_held, choose, connect_target, find_image


def pod_images(*, test: bool = True, workload: bool = False) -> dict[str, Path]:
    """This podshm's pod images built (cached), reference -> archive: the test image, and the
    workload image when asked for (it is large, and only workload scenarios run it)."""
    built = []
    if test:
        built.append(image_build.build_test_image(progress=image_build.stderr_progress()))
    if workload:
        built.append(build_workload_image(progress=image_build.stderr_progress()))
    return {image.ref: image.archive_path for image in built}


def up_with_test_image(
    provider: Provider, pins: Pins, log: TextIO = sys.stderr, *, workload: bool = False
) -> tuple[Running, str]:
    """Start (or reuse) a provider's cluster at ``pins`` with this podshm's test image (and,
    with ``workload``, the workload image) built (cached) and loaded; returns the cluster and
    the test image's reference."""
    images = pod_images(workload=workload)
    running = provider.up(Request(pins, images=images), log)
    return running, next(ref for ref in images if TEST.owns(ref))


def _start_or_reuse_local(
    settings: Settings, target: Target, start: bool, workload: bool
) -> Settings:
    """Make sure the local cluster runs and holds this podshm's test image (built, cached),
    and the workload image too when the run selects workload scenarios."""
    local = providers.get("local")
    running = local.running()
    if running is None and not start:
        raise PodshmError(
            f"{target.why} is not running",
            "pass --start-cluster to start it (or run `podshm cluster up`), or point "
            "KUBECONFIG / --kubeconfig at another cluster",
        )
    # A running cluster is reused whatever its version (it only gets the image imported).
    pins = pins_for(running.kubernetes) if running is not None else DEFAULT
    _running, image = up_with_test_image(
        local, pins, workload=workload and not settings.workload_image
    )
    return dataclasses.replace(settings, local=True, image=settings.image or image)


def prepare(
    settings: Settings, start_cluster: bool = False, workload: bool = False
) -> tuple[Settings, Target, Cluster]:
    """The settings to run with (local cluster and image filled in), the target, the cluster.

    ``workload``: the run selects workload scenarios; on podshm's local cluster the workload
    image is then built (cached) and loaded too. Elsewhere it is the user's to load, as the
    test image is (the run says how when it finds none).
    """
    target = choose(settings)
    if target.local:
        settings = _start_or_reuse_local(settings, target, start_cluster, workload)
    elif start_cluster and not settings.local:
        print(f"podshm: --start-cluster ignored: the target is {target.why}", file=sys.stderr)
    cluster = connect_target(target)
    image, _source = find_image(settings, cluster.facts)
    check_image_held(settings, cluster, image)
    return dataclasses.replace(settings, image=image), target, cluster
