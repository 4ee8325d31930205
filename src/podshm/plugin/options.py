"""Command-line options of the podshm plugin, each mirrored by an environment variable.

Options and variables are declared once in :data:`OPTIONS`; the help text names the variable,
and :func:`settings_from_config` applies the precedence option > variable > default, so a CI
job can configure the suite entirely through its environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest

from podshm.errors import PodshmError
from podshm.kube.namespaces import validate_prefix

PULL_POLICIES = ("IfNotPresent", "Never", "Always")
# The repository `podshm image build` tags into; its tag is a content hash, so runs pass the
# exact reference (PODSHM_IMAGE=$(podshm image build --print-ref)).
DEFAULT_IMAGE = "podshm.local/podshm-test:latest"
DEFAULT_POD_TIMEOUT = 120.0


@dataclass(frozen=True)
class OptionSpec:
    """One option: flag, environment variable, default (as text) and help."""

    flag: str
    env: str
    default: str | None
    help: str
    flag_only: bool = False  # a switch (store_true)
    metavar: str | None = None

    @property
    def dest(self) -> str:
        """argparse destination."""
        return self.flag.lstrip("-").replace("-", "_")


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "--podshm-kubeconfig",
        "PODSHM_KUBECONFIG",
        None,
        "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)",
        metavar="PATH",
    ),
    OptionSpec(
        "--podshm-context",
        "PODSHM_CONTEXT",
        None,
        "kubeconfig context (default: current-context)",
        metavar="NAME",
    ),
    OptionSpec(
        "--podshm-image",
        "PODSHM_IMAGE",
        DEFAULT_IMAGE,
        "test image with the podshm-ipc helpers and sleep (`podshm image build --print-ref`)",
        metavar="IMAGE",
    ),
    OptionSpec(
        "--podshm-namespace-prefix",
        "PODSHM_NAMESPACE_PREFIX",
        "podshm",
        "prefix of the per-test namespaces <prefix>-<runid>-<short>",
        metavar="PREFIX",
    ),
    OptionSpec(
        "--podshm-keep-namespaces-on-failure",
        "PODSHM_KEEP_NAMESPACES",
        None,
        "keep the namespace of a failed test for debugging, labelled podshm.io/keep=true",
        flag_only=True,
    ),
    OptionSpec(
        "--podshm-pod-timeout",
        "PODSHM_POD_TIMEOUT",
        str(int(DEFAULT_POD_TIMEOUT)),
        "seconds to wait for a pod's containers to run (hopeless states fail at once)",
        metavar="SECONDS",
    ),
    OptionSpec(
        "--podshm-node",
        "PODSHM_NODE",
        None,
        "pin every test pod to this node (spec.nodeName)",
        metavar="NODE",
    ),
    OptionSpec(
        "--podshm-expectations",
        "PODSHM_EXPECTATIONS",
        None,
        "YAML file overriding expected /dev/shm sizes per scenario (e.g. 'devshm-default: 256Mi' "
        "for a runtime configured with another shm size)",
        metavar="FILE",
    ),
    OptionSpec(
        "--podshm-pull-policy",
        "PODSHM_PULL_POLICY",
        "IfNotPresent",
        "imagePullPolicy of the test containers: " + ", ".join(PULL_POLICIES),
        metavar="POLICY",
    ),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register every option in one ``podshm`` group; defaults are resolved later."""
    group = parser.getgroup("podshm", "podshm: IPC and /dev/shm conformance in Kubernetes pods")
    for spec in OPTIONS:
        default = f"; default: {spec.default}" if spec.default else ""
        if spec.flag_only:
            text = f"{spec.help} (env {spec.env}=1)"
            group.addoption(spec.flag, action="store_true", default=None, dest=spec.dest, help=text)
        else:
            text = f"{spec.help} (env {spec.env}{default})"
            group.addoption(
                spec.flag,
                action="store",
                default=None,
                dest=spec.dest,
                metavar=spec.metavar,
                help=text,
            )


def raw_value(config: pytest.Config, spec: OptionSpec) -> Any:
    """Option if given, else environment variable if set, else the default."""
    value = config.getoption(spec.dest, default=None)
    if value is not None:
        return value
    env = os.environ.get(spec.env)
    if env not in (None, ""):
        return env
    return spec.default


def _truthy(value: Any, spec: OptionSpec) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise PodshmError(f"{spec.env}={value!r} is not a boolean", "use 1/true/yes or 0/false/no")


@dataclass(frozen=True)
class Settings:
    """The resolved configuration of a run."""

    kubeconfig: str | None
    context: str | None
    image: str
    namespace_prefix: str
    keep_namespaces_on_failure: bool
    pod_timeout: float
    node: str | None
    expectations: str | None
    pull_policy: str


def settings_from_config(config: pytest.Config) -> Settings:
    """Resolve and validate every option; a bad value is a PodshmError naming option and var."""
    spec = {s.dest: s for s in OPTIONS}
    values = {dest: raw_value(config, s) for dest, s in spec.items()}

    timeout_spec = spec["podshm_pod_timeout"]
    try:
        timeout = float(values["podshm_pod_timeout"])
        if timeout <= 0:
            raise ValueError
    except (TypeError, ValueError) as err:
        raise PodshmError(
            f"{timeout_spec.flag} / {timeout_spec.env}: {values['podshm_pod_timeout']!r} "
            "is not a positive number of seconds",
            "pass e.g. --podshm-pod-timeout 180",
        ) from err
    policy = str(values["podshm_pull_policy"])
    if policy not in PULL_POLICIES:
        raise PodshmError(
            f"--podshm-pull-policy / PODSHM_PULL_POLICY: {policy!r} is not an imagePullPolicy",
            "use one of " + ", ".join(PULL_POLICIES),
        )
    prefix = str(values["podshm_namespace_prefix"])
    validate_prefix(prefix)
    return Settings(
        kubeconfig=values["podshm_kubeconfig"],
        context=values["podshm_context"],
        image=str(values["podshm_image"]),
        namespace_prefix=prefix,
        keep_namespaces_on_failure=_truthy(
            values["podshm_keep_namespaces_on_failure"], spec["podshm_keep_namespaces_on_failure"]
        ),
        pod_timeout=timeout,
        node=values["podshm_node"],
        expectations=values["podshm_expectations"],
        pull_policy=policy,
    )
