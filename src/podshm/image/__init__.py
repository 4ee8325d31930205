"""podshm's container images, built offline: the test image, the workload image and the pod
sandbox image.

Cluster code needs two calls per image: build (a cached no-op when nothing
changed) and load into the node's runtime::

    from podshm.image import build_test_image, build_pause_image, load_image

    test = build_test_image()           # BuiltImage(ref="podshm.local/podshm-test:<hash>", ...)
    workload = build_workload_image()   # podshm.local/podshm-workload:<hash> (PostgreSQL)
    pause = build_pause_image()         # ref == PAUSE_IMAGE_REF
    for image in (test, workload, pause):
        load_image(image.archive_path, "containerd", address="/run/.../containerd.sock")
"""

from __future__ import annotations

from podshm.image.build import (
    PAUSE_IMAGE_REF,
    BuiltImage,
    build_pause_image,
    build_test_image,
    cache_root,
)
from podshm.image.load import TARGETS, load_image
from podshm.image.workload import build_workload_image

__all__ = [
    "PAUSE_IMAGE_REF",
    "TARGETS",
    "BuiltImage",
    "build_pause_image",
    "build_test_image",
    "build_workload_image",
    "cache_root",
    "load_image",
]
