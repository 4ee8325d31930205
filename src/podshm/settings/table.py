"""The table of podshm's run settings: one row per setting, and the value a run resolves to.

Each row has a flag per front end (``--podshm-image`` for pytest, ``--image`` for the
``podshm`` commands), one ``PODSHM_*`` variable, a default and one help text. This is the one
place that spells a flag or a ``PODSHM_*`` variable; every other module names a setting
(``{image}`` in a message) and lets the front end spell it (:mod:`podshm.settings.fronts`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

PULL_POLICIES = ("IfNotPresent", "Never", "Always")
DEFAULT_POD_TIMEOUT = 120.0
DEFAULT_EXEC_TIMEOUT = 60.0
DEFAULT_PRESTART = 8
DEFAULT_EXPIRY = "30m"
"""Covers the longest scenario (a benchmark test, ~2 min) many times over."""
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


PYTEST = "pytest"
PODSHM = "podshm"
FRONT_ENDS = (PYTEST, PODSHM)
"""Who parsed the settings: pytest's ``--podshm-*`` flags, or a ``podshm`` command's."""


@dataclass(frozen=True)
class Setting:
    """One row of the table."""

    name: str
    env: str
    help: str
    default: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] = ()
    switch: bool = False
    cli: bool = True
    """Also a flag of the ``podshm`` commands (``--<name>``), not only of pytest."""

    @property
    def pytest_flag(self) -> str:
        """``--podshm-<name>``: pytest flags share one namespace with every plugin."""
        return "--podshm-" + self.name.replace("_", "-")

    @property
    def cli_flag(self) -> str:
        """``--<name>`` for ``podshm run`` and ``podshm bench``."""
        return "--" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        """The argparse destination of the pytest flag (unique among pytest's options)."""
        return "podshm_" + self.name

    def help_text(self) -> str:
        """Help with the environment variable, choices and default: `--help` says it all."""
        parts = [self.help]
        if self.choices:
            parts.append("one of " + ", ".join(self.choices))
        env = f"env {self.env}=1" if self.switch else f"env {self.env}"
        default = f"; default: {self.default}" if self.default else ""
        return f"{'; '.join(parts)} ({env}{default})"

    def flag(self, front: str) -> str:
        """The flag of this setting in the command line of ``front`` (see :data:`FRONT_ENDS`).

        A setting without a ``podshm`` flag (``cli=False``) reaches ``podshm run`` as a pytest
        argument after its own options, so its pytest flag is the one to type there too.
        """
        if front == PYTEST or not self.cli:
            return self.pytest_flag
        return self.cli_flag

    def named(self, front: str) -> str:
        """How a message names this setting under ``front``: the flag and the variable."""
        return f"{self.flag(front)} (or {self.env})"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "kubeconfig",
        "PODSHM_KUBECONFIG",
        "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config; with none of them, "
        "podshm's local cluster when it is running)",
        metavar="PATH",
    ),
    Setting(
        "context",
        "PODSHM_CONTEXT",
        "kubeconfig context (default: its current-context)",
        metavar="NAME",
    ),
    Setting(
        "local",
        "PODSHM_LOCAL",
        "test podshm's own local cluster (`podshm cluster up`), whatever kubeconfig exists",
        switch=True,
    ),
    Setting(
        "image",
        "PODSHM_IMAGE",
        "test image with the podshm-ipc helpers (default: found: the image podshm's local "
        "cluster imported, else this podshm's test image held by the nodes)",
        metavar="IMAGE",
    ),
    Setting(
        "workload_image",
        "PODSHM_WORKLOAD_IMAGE",
        "workload image (PostgreSQL) for the workload scenarios (-m workload) that run it "
        "(default: found: the one podshm's local cluster imported, else this podshm's workload "
        "image held by the nodes)",
        metavar="IMAGE",
    ),
    Setting(
        "pull_policy",
        "PODSHM_PULL_POLICY",
        "imagePullPolicy of the test containers",
        default="IfNotPresent",
        metavar="POLICY",
        choices=PULL_POLICIES,
    ),
    Setting(
        "node",
        "PODSHM_NODE",
        "pin every test pod to this node (spec.nodeName)",
        metavar="NODE",
    ),
    Setting(
        "nodes",
        "PODSHM_NODES",
        "run every scenario once per selected node: 'all' Ready nodes, or a label selector "
        "(e.g. 'node-role.kubernetes.io/control-plane!=')",
        metavar="all|SELECTOR",
    ),
    Setting(
        "runtime_class",
        "PODSHM_RUNTIME_CLASS",
        "run every scenario once per RuntimeClass (spec.runtimeClassName): a name, "
        "comma-separated names, or 'all' RuntimeClasses of the cluster; the summary prints "
        "a matrix of scenarios by runtime class",
        metavar="NAME[,NAME...]|all",
    ),
    Setting(
        "pod_timeout",
        "PODSHM_POD_TIMEOUT",
        "seconds to wait for a pod's containers to run (hopeless states fail at once)",
        default=str(int(DEFAULT_POD_TIMEOUT)),
        metavar="SECONDS",
    ),
    Setting(
        "exec_timeout",
        "PODSHM_EXEC_TIMEOUT",
        "the least time a helper exec in a pod gets before it counts as hung (raise it for "
        "slow nodes, such as a VM node under software emulation)",
        default=str(int(DEFAULT_EXEC_TIMEOUT)),
        metavar="SECONDS",
    ),
    Setting(
        "expiry",
        "PODSHM_EXPIRY",
        "how long each namespace and pod of a run may live (e.g. 90s, 30m, 2h): pods get "
        "activeDeadlineSeconds, and later runs sweep a killed run's expired namespaces",
        default=DEFAULT_EXPIRY,
        metavar="DURATION",
        cli=False,
    ),
    Setting(
        "prestart",
        "PODSHM_PRESTART",
        "how many tests ahead podshm creates each test's namespace and declared pods, so the "
        "kubelet starts them while earlier tests run (0: each test creates its own when it "
        "starts; always 0 under pytest-xdist)",
        default=str(DEFAULT_PRESTART),
        metavar="N",
        cli=False,
    ),
    Setting(
        "namespace_prefix",
        "PODSHM_NAMESPACE_PREFIX",
        "prefix of the run's namespaces <prefix>-<runid>-<short>",
        default="podshm",
        metavar="PREFIX",
        cli=False,
    ),
    Setting(
        "keep_namespaces_on_failure",
        "PODSHM_KEEP_NAMESPACES",
        "keep a failed test's pods for debugging (label podshm.io/test=<its label>) and the "
        "namespace holding them, labelled podshm.io/keep=true",
        switch=True,
        cli=False,
    ),
    Setting(
        "expectations",
        "PODSHM_EXPECTATIONS",
        "YAML file overriding expected /dev/shm sizes per scenario (e.g. 'devshm-default: "
        "256Mi' for a runtime configured with another shm size)",
        metavar="FILE",
        cli=False,
    ),
    Setting(
        "deviations",
        "PODSHM_DEVIATIONS",
        "YAML file(s), comma-separated, declaring how scenarios differ under a runtime "
        "(runtime, test, outcome, reason, link): such a failure is reported as a deviation, "
        "and a deviation that no longer happens fails; podshm's own profiles (gVisor) are "
        "always loaded",
        metavar="FILE[,FILE...]",
        cli=False,
    ),
    Setting(
        "manifests",
        "PODSHM_MANIFESTS",
        "a directory of your own pod manifests, searched before the shipped ones",
        metavar="DIR",
        cli=False,
    ),
)
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of a run. ``image`` (``workload_image``) None means "find it
    on the cluster"."""

    kubeconfig: str | None
    context: str | None
    local: bool
    image: str | None
    workload_image: str | None
    pull_policy: str
    node: str | None
    nodes: str | None
    runtime_class: str | None
    pod_timeout: float
    exec_timeout: float
    expiry: float
    prestart: int
    namespace_prefix: str
    keep_namespaces_on_failure: bool
    expectations: str | None
    deviations: str | None
    manifests: str | None

    def env(self) -> dict[str, str]:
        """The PODSHM_* variables that reproduce these settings in a child process."""
        out: dict[str, str] = {}
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            if value is None or value is False:
                continue
            out[setting.env] = "1" if value is True else str(value)
        return out


assert {f.name for f in fields(Settings)} == set(BY_NAME), "table and Settings disagree"


# -- the other variables podshm reads (not run settings: where state lives, which run) ---------
CACHE_DIR_ENV = "PODSHM_CACHE_DIR"
"""Where builds and images are cached (default ``$XDG_CACHE_HOME/podshm``)."""
STATE_DIR_ENV = "PODSHM_STATE_DIR"
"""Where the local cluster keeps its state (default ``/var/lib/podshm``)."""
RUN_ID_ENV = "PODSHM_RUN_ID"
"""A run id chosen by the caller (a CI job that wants to find its run's namespaces)."""
KIND_STATE_ENV = "PODSHM_KIND_STATE"
KIND_RUN_ENV = "PODSHM_KIND_RUN"
"""The kind provider's Docker engine: data root and runtime directory."""
FRONT_END_ENV = "PODSHM_FRONT_END"
"""Set by ``podshm run`` for its pytest child, whose errors must name ``podshm run``'s flags."""
