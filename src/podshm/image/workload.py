"""The workload image: real programs that use /dev/shm (PostgreSQL), from Debian's packages.

Its contents are package data (``data/images/workload/recipe.yaml``: packages, files left
out, hooks); it is built like the test image, through :func:`.build.build_debian_image`:
mmdebstrap from this machine's apt sources, one deterministic layer, an OCI archive in the
cache whose tag hashes every input, so an unchanged rebuild is a no-op. It is large (a
database server), so nothing builds it unless asked: ``podshm image build --workload``,
``podshm cluster up --workload-image``, or ``podshm run`` selecting workload scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from podshm.cache import cache_root
from podshm.errors import PodshmError
from podshm.image import aptsources, mmdebstrap, oci, rootfs
from podshm.image.build import (
    BUILDER_VERSION,
    BuiltImage,
    Progress,
    build_debian_image,
    config_inputs,
    pod_image_config,
    quiet,
)
from podshm.podimages import WORKLOAD, workload_recipe_dir

RECIPE_FILE = "recipe.yaml"
KEEP_WORKLOAD_IMAGES = 2
"""Older archives are deleted (each is about 80 MB)."""
WORKLOAD_IMAGE_CONFIG = pod_image_config(
    "podshm-workload", "programs podshm's workload scenarios run (PostgreSQL) on Debian"
)


@dataclass(frozen=True)
class Recipe:
    """``recipe.yaml``, parsed once."""

    include: tuple[str, ...]
    dpkg_exclude: tuple[str, ...]
    essential_hook: str
    customize_hook: str

    @property
    def dpkg_options(self) -> tuple[str, ...]:
        """The exclusions as dpkg options."""
        return tuple(f"path-exclude={pattern}" for pattern in self.dpkg_exclude)

    def hooks(self) -> list[str]:
        """Customize hooks in order: the pods' user first, then the recipe's own."""
        return [rootfs.USER_HOOK, self.customize_hook]


def load_recipe(path: Path | None = None) -> Recipe:
    """Read the recipe; a malformed one is a podshm defect, named with its file."""
    path = path or workload_recipe_dir() / RECIPE_FILE
    try:
        doc = yaml.safe_load(path.read_text())
        return Recipe(
            include=tuple(str(p) for p in doc["include"]),
            dpkg_exclude=tuple(str(p) for p in doc.get("dpkg_exclude") or ()),
            essential_hook=str(doc.get("essential_hook") or ""),
            customize_hook=str(doc["customize_hook"]),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError) as err:
        raise PodshmError(
            f"the workload image's recipe {path} cannot be read: {err}",
            "restore it from podshm's source (it is package data)",
        ) from err


def mmdebstrap_command(
    recipe: Recipe, sources_file: Path, output: Path, program: str = "mmdebstrap"
) -> list[str]:
    """The workload image's mmdebstrap invocation (pure, so tests can read it)."""
    return mmdebstrap.command(
        sources_file,
        output,
        recipe.include,
        recipe.hooks(),
        rootfs.VARIANT,
        program,
        essential_hooks=[recipe.essential_hook] if recipe.essential_hook else [],
        dpkg_options=recipe.dpkg_options,
    )


def gather_inputs(recipe: Recipe, apt_sources: Path | None = None) -> dict[str, Any]:
    """Everything the workload image is made of, as hashable data."""
    sources = (
        aptsources.read_sources_file(apt_sources) if apt_sources else aptsources.host_apt_sources()
    )
    return {
        "builder": BUILDER_VERSION,
        "arch": oci.oci_arch(),
        "suite": aptsources.SUITE,
        "variant": rootfs.VARIANT,
        "include": list(recipe.include),
        "merged_usr_hooks": mmdebstrap.MERGED_USR_HOOKS.is_dir(),
        "dpkg_options": [*mmdebstrap.DPKG_OPTIONS, *recipe.dpkg_options],
        "essential_hook": recipe.essential_hook,
        "customize": recipe.hooks(),
        "apt_sources": sources,
        "packages": mmdebstrap.package_set(recipe.include),
        "config": config_inputs(WORKLOAD_IMAGE_CONFIG),
    }


def build_workload_image(
    *,
    cache_dir: Path | None = None,
    force: bool = False,
    apt_sources: Path | None = None,
    progress: Progress | None = None,
) -> BuiltImage:
    """Build (or reuse) the workload image; the arguments are :func:`.build_test_image`'s."""
    report = progress or quiet
    root = cache_dir or cache_root()
    recipe = load_recipe()
    report("resolving the workload image's inputs (package set from the host's apt lists)")
    inputs = gather_inputs(recipe, apt_sources)

    def make_root(work: Path, rootfs_tar: Path, report: Progress) -> None:
        report(f"mmdebstrap {aptsources.SUITE} ({rootfs.VARIANT} + {','.join(recipe.include)})")
        program = mmdebstrap.mmdebstrap_program()
        mmdebstrap.run(
            inputs["apt_sources"],
            lambda sources: mmdebstrap_command(recipe, sources, rootfs_tar, program),
            rootfs_tar,
            report,
        )

    return build_debian_image(
        WORKLOAD,
        inputs,
        WORKLOAD_IMAGE_CONFIG,
        make_root,
        root=root,
        force=force,
        keep=KEEP_WORKLOAD_IMAGES,
        report=report,
    )
