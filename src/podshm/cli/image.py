"""``podshm image``: build the test, workload and pause images offline, load them into a runtime.

Registered into the top-level ``podshm`` parser by ``register(subparsers)``;
``python -m podshm.image`` runs the same group on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from podshm import providers
from podshm.image import build, load
from podshm.image.workload import build_workload_image
from podshm.settings import CACHE_DIR_ENV


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``image build``, ``build-pause``, ``load`` and ``docker-base`` to ``subparsers``."""
    image = subparsers.add_parser(
        "image",
        help="build the test, workload and pause images offline; load them into "
        "containerd/kind/docker",
        description="Build podshm's OCI images without a registry or Docker, and load them "
        f"into a container runtime. Archives are cached in ${CACHE_DIR_ENV}/images "
        "(default ~/.cache/podshm/images); an unchanged build is a no-op.",
    )
    commands = image.add_subparsers(dest="image_command", metavar="SUBCOMMAND", required=True)

    build_cmd = commands.add_parser(
        "build",
        help="build the test image (or --workload, --pause: the workload, sandbox image)",
        description="Build the test image (Debian bookworm via mmdebstrap from this machine's "
        "apt sources, python3, podshm, sysv_ipc, posix_ipc; user 65532) as an OCI archive, or "
        "the workload image (the same way: PostgreSQL; `pytest -m workload` needs it). "
        "Its tag is a hash of the inputs, so an unchanged rebuild does nothing.",
    )
    _add_build_options(build_cmd)
    _add_kind_options(build_cmd, "build")
    build_cmd.add_argument(
        "--apt-sources",
        type=Path,
        metavar="FILE",
        help="apt entries (deb822 or one-line) to use instead of /etc/apt/sources.list*",
    )
    build_cmd.set_defaults(func=run_build)

    pause_cmd = commands.add_parser(
        "build-pause",
        help=f"build the sandbox image {build.PAUSE_IMAGE_REF} (same as build --pause)",
        description="Compile Kubernetes' pause.c statically into a one-file OCI image "
        f"{build.PAUSE_IMAGE_REF} (entrypoint /pause, user 65535).",
    )
    _add_build_options(pause_cmd)
    pause_cmd.set_defaults(func=run_build, pause=True, workload=False, apt_sources=None)

    base_cmd = commands.add_parser(
        "docker-base",
        help="print a Debian bookworm base image for docker build -f images/Dockerfile",
        description="Make (once, cached) a Debian bookworm root with what images/Dockerfile "
        "needs, import it into podshm's Docker engine (the kind provider's, started if it is "
        "not running; `podshm cluster down --provider kind` stops it) and print its reference "
        "for --build-arg BUILD_BASE_IMAGE=... --build-arg BASE_IMAGE=...",
    )
    base_cmd.set_defaults(func=run_docker_base)

    load_cmd = commands.add_parser(
        "load",
        help="load an image archive into containerd, kind or docker",
        description="Load an OCI image archive into a container runtime. Targets: "
        "containerd (ctr images import, namespace k8s.io, which kubelet uses), "
        "kind (kind load image-archive) and docker (docker load). Without --archive "
        "the test image (or with --workload the workload image, with --pause the sandbox "
        "image) is built or reused first.",
    )
    load_cmd.add_argument(
        "--into",
        choices=load.TARGETS,
        default="containerd",
        help="where to load: containerd, kind or docker (default: containerd)",
    )
    load_cmd.add_argument("--archive", type=Path, help="OCI archive to load (default: build it)")
    _add_kind_options(load_cmd, "load")
    load_cmd.add_argument(
        "--address",
        metavar="SOCKET",
        help=f"containerd socket (default {load.DEFAULT_CONTAINERD_ADDRESS})",
    )
    load_cmd.add_argument(
        "--namespace",
        default=load.CRI_NAMESPACE,
        help=f"containerd namespace (default {load.CRI_NAMESPACE}, the one kubelet reads)",
    )
    load_cmd.add_argument(
        "--snapshotter", help="containerd snapshotter to unpack for (e.g. overlayfs)"
    )
    load_cmd.add_argument("--ctr-path", metavar="PATH", help="ctr binary (default: ctr on PATH)")
    load_cmd.add_argument(
        "--kind-cluster",
        metavar="NAME",
        help="kind cluster (default: podshm's own kind cluster when it runs, else 'kind')",
    )
    load_cmd.add_argument("--kind-path", metavar="PATH", help="kind binary (default: on PATH)")
    load_cmd.add_argument("--docker-path", metavar="PATH", help="docker binary (default: on PATH)")
    load_cmd.set_defaults(func=run_load)


def _add_kind_options(parser: argparse.ArgumentParser, verb: str) -> None:
    """``--workload`` or ``--pause``: which image instead of the test image."""
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--workload",
        action="store_true",
        help=f"{verb} the workload image (PostgreSQL, for -m workload) instead",
    )
    kind.add_argument(
        "--pause",
        action="store_true",
        help=f"{verb} the sandbox image {build.PAUSE_IMAGE_REF} (from pause.c) instead",
    )


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the result as one JSON object")
    out.add_argument("--print-ref", action="store_true", help="print only the image reference")
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")


def _build(args: argparse.Namespace) -> build.BuiltImage:
    progress = build.stderr_progress()
    if args.pause:
        return build.build_pause_image(force=args.force, progress=progress)
    if args.workload:
        return build_workload_image(
            force=args.force, apt_sources=args.apt_sources, progress=progress
        )
    return build.build_test_image(force=args.force, apt_sources=args.apt_sources, progress=progress)


def run_build(args: argparse.Namespace) -> int:
    """``podshm image build``: the last stdout line names the archive and the reference."""
    image = _build(args)
    if args.json:
        print(json.dumps(image.to_json(), sort_keys=True))
    elif args.print_ref:
        print(image.ref)
    else:
        state = "cached" if image.cached else "built"
        print(f"{state} {image.archive_path} {image.ref}")
    return 0


def run_load(args: argparse.Namespace) -> int:
    """``podshm image load``: import the archive, then say what was loaded where."""
    if args.archive is not None:
        archive = args.archive
    else:
        args.force, args.apt_sources = False, None
        archive = _build(args).archive_path
    if args.into == "kind" and args.kind_cluster is None:
        kind = providers.get("kind")
        running = kind.running()
        if running is not None:  # podshm's own kind: every node, waits until each lists it
            kind.load_image(archive, sys.stderr)
            print(f"loaded {archive} into podshm's kind cluster ({running.context})")
            return 0
        args.kind_cluster = "kind"
    output = load.load_image(
        archive,
        args.into,
        address=args.address,
        namespace=args.namespace,
        snapshotter=args.snapshotter,
        ctr=args.ctr_path,
        kind=args.kind_path,
        kind_cluster=args.kind_cluster,
        docker=args.docker_path,
        progress=build.stderr_progress(),
    )
    if output.strip():
        print(output.strip(), file=sys.stderr)
    print(f"loaded {archive} into {args.into}")
    return 0


def run_docker_base(args: argparse.Namespace) -> int:
    """``podshm image docker-base``: stdout is the reference only."""
    from podshm.providers.kind import docker_base

    print(docker_base.base_image(sys.stderr))
    return 0
