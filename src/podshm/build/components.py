"""What podshm's clusters are made of: each Go-built component, its module and version.

Which versions go together is data in :mod:`podshm.build.pins` (one entry per
Kubernetes minor); this module only knows how to build a component at a given version. Every
pinned version has a committed wrapper module (``go.mod`` + ``go.sum``) under
``src/podshm/data/gomod/<component>/<version>/``, so each build is checked against the same
hashes; a version without one gets its wrapper generated on the fly (the Go checksum database
still verifies it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podshm.build.pins import Pins

K8S_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubectl")


@dataclass(frozen=True)
class GoComponent:
    """A set of binaries built from one Go module at one version."""

    name: str
    module: str
    version: str
    # binary name -> Go package path
    packages: dict[str, str]
    ldflags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # runc needs cgo (its nsexec is C) and libseccomp; the rest are static pure-Go builds.
    cgo: bool = False
    # module -> replacement "module version" (Kubernetes' staging modules)
    replaces: dict[str, str] = field(default_factory=dict)
    # unified diffs (-p1, relative to the module's root) beside the pinned go.mod, applied to
    # a copy of the module that the build uses instead (the module cache stays pristine).
    patches: tuple[str, ...] = ()
    # GOTOOLCHAIN for this build only, when the module needs a newer Go than the machine's.
    toolchain: str | None = None

    @property
    def key(self) -> str:
        """Cache key: one directory per component and version."""
        return f"{self.name}/{self.version}"


def kubernetes(pins: Pins, build_date: str, staging: list[str]) -> GoComponent:
    """Kubernetes' control plane, kubelet and kubectl, stamped like upstream builds.

    The ldflags mirror ``hack/lib/version.sh`` so ``kubectl version`` and every
    component report the real release rather than ``v0.0.0-master``.
    """
    major, minor = pins.minor
    stamps = {
        "gitVersion": pins.kubernetes,
        "gitMajor": str(major),
        "gitMinor": str(minor),
        "gitTreeState": "clean",
        "buildDate": build_date,
    }
    ldflags = tuple(
        f"-X {pkg}.{key}={value}"
        for key, value in stamps.items()
        for pkg in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version")
    )
    return GoComponent(
        name="kubernetes",
        module="k8s.io/kubernetes",
        version=pins.kubernetes,
        packages={b: f"k8s.io/kubernetes/cmd/{b}" for b in K8S_BINARIES},
        ldflags=ldflags,
        replaces={m: f"{m} {pins.staging}" for m in staging},
        toolchain=pins.toolchain,
    )


def containerd(version: str) -> GoComponent:
    """containerd 2.x with its runc shim and ``ctr``, static (no btrfs: that needs cgo)."""
    mod = "github.com/containerd/containerd/v2"
    return GoComponent(
        name="containerd",
        module=mod,
        version=version,
        packages={
            "containerd": f"{mod}/cmd/containerd",
            "containerd-shim-runc-v2": f"{mod}/cmd/containerd-shim-runc-v2",
            "ctr": f"{mod}/cmd/ctr",
        },
        ldflags=(f"-X {mod}/version.Version={version}", f"-X {mod}/version.Package={mod}"),
        tags=("no_btrfs", "no_devmapper", "no_zfs"),
    )


def etcd(version: str) -> GoComponent:
    """etcd server (the binary is the module's root package)."""
    return GoComponent(
        name="etcd",
        module="go.etcd.io/etcd/server/v3",
        version=version,
        packages={"etcd": "go.etcd.io/etcd/server/v3"},
    )


def runc(version: str) -> GoComponent:
    """runc with seccomp (Pod Security `restricted` asks for RuntimeDefault seccomp)."""
    mod = "github.com/opencontainers/runc"
    return GoComponent(
        name="runc",
        module=mod,
        version=version,
        packages={"runc": mod},
        ldflags=(f"-X main.version={version.lstrip('v')}",),
        tags=("seccomp", "urfave_cli_no_docs"),
        cgo=True,
    )
