"""`podshm cluster up|down|status|logs|kubeconfig|versions [--provider NAME]`, docker-env.

Every provider implements :class:`podshm.providers.base.Provider`; this file parses the
command line once into a :class:`~podshm.providers.base.Request` (the version into its pins)
and never branches on which provider it has.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from podshm import providers, sysctls
from podshm.build import catalog
from podshm.build.pins import DEFAULT, pins_for
from podshm.prepare import pod_images
from podshm.providers.base import Provider, Request
from podshm.providers.local import runtimes as runtimes_pkg


def provider(args: argparse.Namespace) -> Provider:
    """The provider ``--provider`` names."""
    return providers.get(args.provider)


def _with_provider(parser: argparse.ArgumentParser) -> None:
    known = providers.available()
    parser.add_argument(
        "--provider",
        choices=sorted(known),
        default=providers.DEFAULT,
        help="; ".join(f"{name}: {p.summary}" for name, p in known.items()),
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `cluster` group to the top-level parser."""
    group = subparsers.add_parser(
        "cluster",
        help="a real Kubernetes on this machine (root, Linux): local single node, or kind",
        description="Build (once, cached) and run a real Kubernetes on this machine: podshm's "
        "own cluster (etcd, containerd, kube-apiserver, kube-controller-manager, "
        "kube-scheduler and the kubelet on loopback), or kind with --provider kind.",
    )
    sub = group.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)

    p = sub.add_parser("up", help="start the cluster (reuses a healthy one)")
    _with_provider(p)
    p.add_argument(
        "--k8s-version",
        default=DEFAULT.kubernetes,
        help=f"Kubernetes release to build and run (default {DEFAULT.kubernetes}; "
        "`podshm cluster versions` lists the supported ones)",
    )
    p.add_argument(
        "--nodes", type=int, default=1, help="nodes (kind: 1 control plane + N-1 workers)"
    )
    p.add_argument(
        "--runtimes",
        default=None,
        metavar="NAME[,NAME...]",
        help="container runtimes to register, each as a containerd handler and a RuntimeClass "
        f"of the same name (local provider): {', '.join(runtimes_pkg.available())}; "
        f"default {','.join(runtimes_pkg.DEFAULT)} (or a running cluster's)",
    )
    p.add_argument(
        "--vm-nodes",
        type=int,
        default=None,
        metavar="N",
        help="local provider: join N (0 or 1) QEMU nodes with a kernel of their own and cgroup v2 "
        "to the cluster (software emulation: slow, tainted NoSchedule, so only pods pinned to "
        "them run there; 0 removes a running one); default: what the running cluster has, none "
        "for a new one",
    )
    p.add_argument(
        "--vm-kernel",
        default=None,
        metavar="PACKAGE",
        help="local provider: the Debian kernel package the VM node boots (default "
        "linux-image-cloud-amd64, the cloud kernel of this machine's Debian release)",
    )
    p.add_argument(
        "--allowed-unsafe-sysctls",
        choices=sorted(sysctls.ALLOWLISTS),
        default=None,
        help="local provider: the unsafe namespaced sysctls every kubelet admits (its "
        "allowedUnsafeSysctls); ipc: "
        + ",".join(sysctls.ALLOWLISTS["ipc"])
        + " (SysV limits a pod raises for itself, as Oracle-style workloads do; pytest -m "
        "workload -k sysctl checks them), none: only the kubelet's safe ones; a changed value "
        "restarts the kubelets (running pods keep running); default: what the running cluster "
        "has, none for a new one",
    )
    p.add_argument(
        "--no-test-image",
        action="store_true",
        help="do not build and load the podshm test image into the nodes",
    )
    p.add_argument(
        "--workload-image",
        action="store_true",
        help="also build (once, cached) and load the workload image (PostgreSQL), which the "
        "workload scenarios run (pytest -m workload)",
    )
    p.set_defaults(func=_up)

    p = sub.add_parser("down", help="stop everything and remove the cluster's state")
    _with_provider(p)
    p.set_defaults(func=_down)

    p = sub.add_parser("status", help="health of each component, node readiness, versions")
    _with_provider(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_status)

    p = sub.add_parser(
        "logs", help="a component's log (local: etcd, containerd, kube-*, kubelet; kind: a node)"
    )
    _with_provider(p)
    p.add_argument("component", help="local: a daemon name; kind: a node name (its kubelet)")
    p.add_argument("-n", "--lines", type=int, default=0, help="only the last N lines")
    p.set_defaults(func=_logs)

    p = sub.add_parser("kubeconfig", help="print the admin kubeconfig's path")
    _with_provider(p)
    p.set_defaults(func=_kubeconfig)

    p = sub.add_parser(
        "docker-env",
        help="print shell exports pointing docker and kind at the kind provider's engine",
        description="Start podshm's Docker engine (the kind provider's) if it is not running "
        "and print `export` lines for `eval $(podshm cluster docker-env)`: DOCKER_HOST, "
        "DOCKER_BUILDKIT=1, and a PATH entry holding podshm's kind and the engine's own docker "
        "client. `podshm cluster down --provider kind` stops the engine again.",
    )
    p.set_defaults(func=_docker_env)

    p = sub.add_parser("versions", help="supported Kubernetes versions and which are built")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_versions)


def request_from(args: argparse.Namespace) -> Request:
    """The command line as one request: the version parsed into its pins, runtimes a tuple,
    the sysctl choice into its patterns."""
    runtimes = tuple(n.strip() for n in args.runtimes.split(",")) if args.runtimes else None
    allowlist = args.allowed_unsafe_sysctls
    return Request(
        pins_for(args.k8s_version),
        args.nodes,
        runtimes,
        vm_nodes=args.vm_nodes,
        vm_kernel=args.vm_kernel,
        unsafe_sysctls=None if allowlist is None else sysctls.ALLOWLISTS[allowlist],
    )


def _up(args: argparse.Namespace) -> int:
    chosen = provider(args)
    request = request_from(args)
    # A bad version, node count or runtime fails at once, before anything is built.
    chosen.validate(request)
    images = pod_images(test=not args.no_test_image, workload=args.workload_image)
    chosen.up(dataclasses.replace(request, images=images), sys.stderr)
    print(chosen.kubeconfig())
    return 0


def _down(args: argparse.Namespace) -> int:
    provider(args).down(sys.stderr)
    return 0


def _status(args: argparse.Namespace) -> int:
    report = provider(args).status()
    if args.json:
        print(json.dumps(report, indent=1, default=str))
        return 0 if report.get("up") else 1
    for key, value in report.items():
        if isinstance(value, dict):
            for name, item in value.items():
                print(f"{key}: {name:<24} {item}")
        else:
            print(f"{key}: {value}")
    print("cluster is up" if report.get("up") else "cluster is NOT up (podshm cluster up)")
    return 0 if report.get("up") else 1


def _logs(args: argparse.Namespace) -> int:
    sys.stdout.write(provider(args).logs(args.component, args.lines))
    return 0


def _kubeconfig(args: argparse.Namespace) -> int:
    print(provider(args).kubeconfig())
    return 0


def _docker_env(args: argparse.Namespace) -> int:
    from podshm.providers.kind import cluster, docker_base, docker_engine

    docker_engine.start(sys.stderr)
    tools = docker_base.tool_dir(cluster.kind_path(sys.stderr), docker_base.engine_client())
    for line in docker_base.env_exports(docker_engine.HOST, tools):
        print(line)
    return 0


def _versions(args: argparse.Namespace) -> int:
    rows = catalog.versions_report()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for row in rows:
        print("  ".join(f"{k}={v}" for k, v in row.items()))
    return 0
