"""`podshm cluster up|down|status|logs|kubeconfig`."""

from __future__ import annotations

import argparse
import json
import sys

from podshm.localcluster import cluster, components, daemons
from podshm.localcluster.cleanup import DAEMONS
from podshm.localcluster.layout import Layout


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `cluster` group to the top-level parser."""
    group = subparsers.add_parser(
        "cluster",
        help="a real single-node Kubernetes on this machine (root, Linux)",
        description="Build (once, cached) and run etcd, containerd, kube-apiserver, "
        "kube-controller-manager, kube-scheduler and the kubelet on loopback.",
    )
    sub = group.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)

    p = sub.add_parser("up", help="start the cluster (reuses a healthy one)")
    p.add_argument(
        "--k8s-version",
        default=components.DEFAULT_K8S_VERSION,
        help=f"Kubernetes release to build and run (default {components.DEFAULT_K8S_VERSION})",
    )
    p.add_argument(
        "--no-test-image",
        action="store_true",
        help="do not build and import the podshm test image",
    )
    p.set_defaults(func=_up)

    p = sub.add_parser("down", help="stop everything and remove the cluster's state")
    p.set_defaults(func=_down)

    p = sub.add_parser("status", help="health of each component, node readiness, versions")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_status)

    p = sub.add_parser("logs", help="print a component's log")
    p.add_argument("component", choices=sorted(DAEMONS))
    p.add_argument("-n", "--lines", type=int, default=0, help="only the last N lines")
    p.set_defaults(func=_logs)

    p = sub.add_parser("kubeconfig", help="print the admin kubeconfig's path")
    p.set_defaults(func=_kubeconfig)


def _up(args: argparse.Namespace) -> int:
    images = {}
    if not args.no_test_image:
        from podshm.image import build as image_build

        built = image_build.build_test_image(progress=image_build.stderr_progress())
        images[built.ref] = built.archive_path
    info = cluster.up(args.k8s_version, images=images)
    print(info.kubeconfig)
    return 0


def _down(args: argparse.Namespace) -> int:
    cluster.down()
    return 0


def _status(args: argparse.Namespace) -> int:
    report = cluster.status()
    if args.json:
        print(json.dumps(report, indent=1))
        return 0 if report.get("up") else 1
    for name, comp in report["components"].items():
        state = f"running (pid {comp['pid']})" if comp["pid"] else "not running"
        print(f"{name:<24} {state}")
    if report.get("kubernetes"):
        print(f"{'kube-apiserver /readyz':<24} {'ok' if report['apiserver_ready'] else 'FAILING'}")
        print(f"{'node ' + report['node']:<24} {'Ready' if report['node_ready'] else 'NOT Ready'}")
        print(
            f"versions: Kubernetes {report['kubernetes']}, containerd {report['containerd']}, "
            f"etcd {report['etcd']}, {report['runc']}"
        )
        print(f"kubeconfig: {report['kubeconfig']} (context {report['context']})")
    if report.get("error"):
        print(f"error: {report['error']}")
    print("cluster is up" if report.get("up") else "cluster is NOT up (podshm cluster up)")
    return 0 if report.get("up") else 1


def _logs(args: argparse.Namespace) -> int:
    path = daemons.log_path(Layout.default(), args.component)
    if not path.exists():
        print(f"podshm: no log for {args.component} at {path}", file=sys.stderr)
        return 1
    lines = path.read_text(errors="replace").splitlines()
    sys.stdout.write("\n".join(lines[-args.lines :] if args.lines else lines) + "\n")
    return 0


def _kubeconfig(args: argparse.Namespace) -> int:
    print(Layout.default().admin_kubeconfig)
    return 0
