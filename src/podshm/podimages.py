"""podshm's pod images, one value per kind: how each is named, tagged, found on nodes and
announced there, so the test image and the workload image take one path through the build,
the load and a run's lookup (:func:`podshm.target.find_image`).

A tag is ``<podshm version>-<identity digest>-<inputs hash>``. The first two parts can be
computed by any installed podshm without building anything, so a run finds "this podshm's
image" among the images a node holds (``node.status.images``) instead of guessing a tag; the
last part pins everything else that went into the image (packages, wheels). The identity is
what decides the image's behaviour: the test image's helper programs, the workload image's
recipe (``data/images/workload``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from podshm import testimage
from podshm.data import data_path

WORKLOAD_RECIPE = ("images", "workload")
"""The workload image's recipe, package data: its packages, hooks and checks."""


def workload_recipe_dir() -> Path:
    """Where the workload image's recipe lives."""
    return data_path(*WORKLOAD_RECIPE)


def workload_identity() -> str:
    """Digest of the workload recipe: a changed recipe is another image."""
    root = workload_recipe_dir()
    return testimage.tree_digest(root, testimage.files_under(root))


def test_identity() -> str:
    """Digest of the helper programs: an edited helper is another image."""
    return testimage.source_digest(testimage.package_dir())


@dataclass(frozen=True)
class PodImage:
    """One kind of pod image podshm builds (see the module docstring)."""

    key: str
    """``test`` or ``workload``: how commands and records name the kind."""
    repo: str
    what: str
    """How messages name it: ``test image``."""
    annotation: str
    """Set on podshm's local cluster's node to the reference it imported."""
    setting: str
    """The run setting that names one explicitly (:mod:`podshm.settings`)."""
    placeholder: str
    """The manifest placeholder pods name it by (``${IMAGE}``)."""
    identity: Callable[[], str]
    build_and_load: str
    """The fix when no node holds it (settings placeholders, rendered per front end)."""

    @property
    def archive_prefix(self) -> str:
        """How its archives in the cache start: ``podshm-test-``."""
        return self.repo.rpartition("/")[2] + "-"

    def tag_prefix(self) -> str:
        """``<version>-<first 8 hex digits of the identity>-``: this podshm's images."""
        return f"{testimage.package_version()}-{self.identity()[:8]}-"

    def tag_for(self, inputs_hash: str) -> str:
        """The full tag of an image built from inputs hashing to ``inputs_hash``."""
        return self.tag_prefix() + inputs_hash

    def is_this_podshms(self, ref: str) -> bool:
        """Whether an image reference names this kind, built by this podshm."""
        repo, _, tag = ref.rpartition(":")
        return repo.removeprefix("docker.io/") == self.repo and tag.startswith(self.tag_prefix())

    def pick_held(self, per_node: Iterable[Iterable[str]]) -> str | None:
        """This podshm's image of this kind that every given node holds, or None.

        Several can match (same identity, other package versions); any of them will do.
        """
        common: set[str] | None = None
        for names in per_node:
            mine = {n.removeprefix("docker.io/") for n in names if self.is_this_podshms(n)}
            common = mine if common is None else common & mine
        return max(common) if common else None

    def owns(self, ref: str) -> bool:
        """Whether ``ref`` is an image of this kind (any podshm's)."""
        return ref.removeprefix("docker.io/").startswith(self.repo + ":")


TEST = PodImage(
    key="test",
    repo="podshm.local/podshm-test",
    what="test image",
    annotation="podshm.io/test-image",
    setting="image",
    placeholder="IMAGE",
    identity=test_identity,
    build_and_load=(
        "build it and load it into the nodes: `podshm image build && podshm image load --into "
        "kind --kind-cluster NAME` (or --into containerd|docker), or name one with {image}"
    ),
)
WORKLOAD = PodImage(
    key="workload",
    repo="podshm.local/podshm-workload",
    what="workload image",
    annotation="podshm.io/workload-image",
    setting="workload_image",
    placeholder="WORKLOAD_IMAGE",
    identity=workload_identity,
    build_and_load=(
        "on podshm's local cluster: `podshm cluster up --workload-image`; elsewhere build it "
        "and load it into the nodes: `podshm image build --workload && podshm image load "
        "--workload --into kind --kind-cluster NAME` (or --into containerd|docker), or name "
        "one with {workload_image}"
    ),
)
KINDS: dict[str, PodImage] = {kind.key: kind for kind in (TEST, WORKLOAD)}
