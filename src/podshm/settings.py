"""The one table of podshm's run settings, read by the plugin, ``podshm run`` and ``podshm bench``.

Each setting has a flag per front end (``--podshm-image`` for pytest, ``--image`` for the
``podshm`` commands), one ``PODSHM_*`` variable, a default and one help text. The precedence
rule, flag > ``PODSHM_*`` environment > default, and every validation live in
:func:`resolve` only, so a CI job configures pytest and the CLI the same way.

pytest-free on purpose: the CLI reads this table without importing pytest.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from podshm.errors import PodshmError
from podshm.kube.namespaces import validate_prefix

PULL_POLICIES = ("IfNotPresent", "Never", "Always")
DEFAULT_POD_TIMEOUT = 120.0
DEFAULT_PRESTART = 8
DEFAULT_EXPIRY = "30m"
"""Covers the longest scenario (a benchmark test, ~2 min) many times over."""
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


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

    def names(self) -> str:
        """How an error names this setting: both flags and the variable."""
        flags = [self.pytest_flag, *([self.cli_flag] if self.cli else []), self.env]
        return " / ".join(flags)


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
        "prefix of the per-test namespaces <prefix>-<runid>-<short>",
        default="podshm",
        metavar="PREFIX",
        cli=False,
    ),
    Setting(
        "keep_namespaces_on_failure",
        "PODSHM_KEEP_NAMESPACES",
        "keep the namespace of a failed test for debugging, labelled podshm.io/keep=true",
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
    """The resolved configuration of a run. ``image`` None means "find it on the cluster"."""

    kubeconfig: str | None
    context: str | None
    local: bool
    image: str | None
    pull_policy: str
    node: str | None
    nodes: str | None
    runtime_class: str | None
    pod_timeout: float
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


def _switch(setting: Setting, value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise PodshmError(f"{setting.env}={value!r} is not a boolean", "use 1/true/yes or 0/false/no")


def _timeout(setting: Setting, value: Any) -> float:
    try:
        timeout = float(value)
        if timeout <= 0:
            raise ValueError
    except (TypeError, ValueError) as err:
        raise PodshmError(
            f"{setting.names()}: {value!r} is not a positive number of seconds",
            f"pass e.g. {setting.pytest_flag} 180",
        ) from err
    return timeout


def _choice(setting: Setting, value: Any) -> str:
    if str(value) not in setting.choices:
        raise PodshmError(
            f"{setting.names()}: {value!r} is not one of {', '.join(setting.choices)}",
            f"use one of {', '.join(setting.choices)}",
        )
    return str(value)


def _count(setting: Setting, value: Any) -> int:
    try:
        count = int(value)
        if count < 0:
            raise ValueError
    except (TypeError, ValueError) as err:
        raise PodshmError(
            f"{setting.names()}: {value!r} is not a whole number >= 0",
            f"pass e.g. {setting.pytest_flag} 8 (0 turns it off)",
        ) from err
    return count


def _prefix(setting: Setting, value: Any) -> str:
    return validate_prefix(str(value))


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``30m``, ``2h`` or ``1d``; ValueError otherwise."""
    text = str(text).strip().lower()
    unit = text[-1:] if text[-1:] in _DURATION_UNITS else "s"
    number = float(text[:-1] if text[-1:] in _DURATION_UNITS else text)
    if number <= 0:
        raise ValueError(text)
    return number * _DURATION_UNITS[unit]


def _duration(setting: Setting, value: Any) -> float:
    try:
        return parse_duration(value)
    except (TypeError, ValueError) as err:
        raise PodshmError(
            f"{setting.names()}: {value!r} is not a duration",
            f"pass e.g. {setting.pytest_flag} 30m (units s, m, h, d)",
        ) from err


CHECKS: dict[str, Callable[[Setting, Any], Any]] = {
    "expiry": _duration,
    "pod_timeout": _timeout,
    "prestart": _count,
    "namespace_prefix": _prefix,
}


def resolve(given: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Flag if given (not None), else ``PODSHM_*`` if set and not empty, else the default.

    A bad value is a :class:`PodshmError` naming the flags and the variable.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        value = given.get(setting.name)
        if value is None:
            value = env.get(setting.env) or setting.default
        if setting.switch:
            value = _switch(setting, value)
        elif value is not None and setting.choices:
            value = _choice(setting, value)
        elif value is not None and setting.name in CHECKS:
            value = CHECKS[setting.name](setting, value)
        values[setting.name] = value
    return Settings(**values)


def add_cli_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, names: Iterable[str] | None = None
) -> None:
    """Add the ``--<name>`` flags of the ``podshm`` commands (all, or the named ones)."""
    wanted = set(names) if names is not None else {s.name for s in SETTINGS if s.cli}
    for setting in SETTINGS:
        if setting.name not in wanted:
            continue
        if setting.switch:
            parser.add_argument(
                setting.cli_flag, action="store_true", default=None, help=setting.help_text()
            )
        else:
            parser.add_argument(
                setting.cli_flag,
                metavar=setting.metavar,
                choices=setting.choices or None,
                help=setting.help_text(),
            )


def from_cli_args(args: argparse.Namespace) -> Settings:
    """Resolve the settings of a ``podshm`` command from its parsed flags."""
    return resolve({s.name: getattr(args, s.name, None) for s in SETTINGS})
