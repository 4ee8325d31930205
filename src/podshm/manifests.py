"""Scenario manifests: find them, fill their ``${PLACEHOLDERS}``, return pod dicts.

The YAML files in ``manifests/`` are meant to be read as documentation (each mirrors a pod
from the articles podshm grew from), so they stay plain Kubernetes YAML with a few
``${NAME}``-style holes. A manifest declares defaults for its own holes in comment lines::

    # podshm:default SIZE_LIMIT=256Mi

Rendering is strict in both directions: a placeholder without a value is an error, and so is
a value for a placeholder the manifest does not have (a typo would otherwise be ignored).
"""

from __future__ import annotations

import copy
import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from podshm.data import data_path
from podshm.errors import PodshmError
from podshm.yamlfile import where_in_yaml

DEFAULT_MARK = "# podshm:default "
_DEFAULT_RE = re.compile(r"^# podshm:default ([A-Z][A-Z0-9_]*)=(.*)$")

ParamValue = str | int | bool


class ManifestError(PodshmError):
    """A manifest cannot be found, rendered or parsed."""


def manifests_dir() -> Path:
    """The scenario manifests shipped with podshm (package data)."""
    return data_path("manifests")


def search_path(extra: str | Path | None = None) -> list[Path]:
    """Where manifests are looked up: the user's own directory first, then podshm's."""
    dirs = []
    if extra:
        user = Path(extra).expanduser()
        if not user.is_dir():
            raise ManifestError(
                f"manifests directory {user} does not exist",
                "pass an existing directory to {manifests}",
            )
        dirs.append(user)
    return [*dirs, manifests_dir()]


def available(extra: str | Path | None = None) -> list[str]:
    """File names of every scenario manifest (the user's and podshm's)."""
    return sorted({p.name for d in search_path(extra) for p in d.glob("*.yaml")})


def read(name: str, extra: str | Path | None = None) -> str:
    """The text of one manifest, by file name (``.yaml`` may be omitted); the user's own
    directory (``extra``) is searched first, so a user's manifest can replace a shipped one."""
    if not name.endswith(".yaml"):
        name += ".yaml"
    for directory in search_path(extra):
        if (directory / name).is_file():
            return (directory / name).read_text()
    raise ManifestError(
        f"no manifest named {name!r} (available: {', '.join(available(extra))})",
        "use one of the available manifest names",
    )


def declared_defaults(text: str) -> dict[str, str]:
    """The ``# podshm:default NAME=value`` lines of a manifest."""
    found = {}
    for line in text.splitlines():
        match = _DEFAULT_RE.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def placeholders(text: str, source: str = "<manifest>") -> set[str]:
    """Every ``${NAME}`` the manifest uses (``$$`` is a literal dollar)."""
    template = string.Template(text)
    if not template.is_valid():
        raise ManifestError(
            f"{source}: malformed placeholder (use ${{NAME}} with A-Z, 0-9 and _, or $$ for $)",
            "fix the placeholder syntax in the manifest",
        )
    return set(template.get_identifiers())


def format_value(value: ParamValue) -> str:
    """A parameter as YAML text: booleans lowercase, numbers as digits, strings verbatim."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if any(ch in text for ch in "\n\r\t") or text != text.strip():
        raise ManifestError(
            f"placeholder value {text!r} contains whitespace control characters",
            "pass a single-line value",
        )
    return text


def render_text(
    text: str, params: Mapping[str, ParamValue], source: str = "<manifest>"
) -> dict[str, Any]:
    """Fill the placeholders of manifest ``text`` and parse it into one object."""
    used = placeholders(text, source)
    values = {**declared_defaults(text), **{k: format_value(v) for k, v in params.items()}}
    unknown = sorted(set(params) - used)
    if unknown:
        raise ManifestError(
            f"{source}: no placeholder named {', '.join(unknown)} "
            f"(the manifest has: {', '.join(sorted(used)) or 'none'})",
            "check the parameter names passed to podshm_pod()",
        )
    missing = sorted(used - set(values))
    if missing:
        raise ManifestError(
            f"{source}: no value for placeholder {', '.join('${' + m + '}' for m in missing)}",
            "pass it as a parameter or declare a '# podshm:default NAME=value' line",
        )
    rendered = string.Template(text).substitute(values)
    try:
        docs = [d for d in yaml.safe_load_all(rendered) if d is not None]
    except yaml.YAMLError as err:
        raise ManifestError(
            f"{source}: not valid YAML after rendering{where_in_yaml(err)}", None
        ) from err
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise ManifestError(f"{source}: expected exactly one object, found {len(docs)}", None)
    return docs[0]


def render(
    name: str, params: Mapping[str, ParamValue] | None = None, extra: str | Path | None = None
) -> dict[str, Any]:
    """Render the scenario manifest ``name`` with ``params`` (UPPER_CASE keys)."""
    return render_text(read(name, extra), params or {}, source=name)


def params_from_kwargs(kwargs: Mapping[str, ParamValue]) -> dict[str, ParamValue]:
    """``size_limit="1Gi"`` -> ``{"SIZE_LIMIT": "1Gi"}``: Python-style names for callers."""
    return {key.upper(): value for key, value in kwargs.items()}


def pin_to_node(pod: dict[str, Any], node: str | None) -> dict[str, Any]:
    """A copy of ``pod`` bound to ``node`` (spec.nodeName bypasses the scheduler)."""
    pod = copy.deepcopy(pod)
    if node:
        pod.setdefault("spec", {})["nodeName"] = node
    return pod


def set_memory_limit(pod: dict[str, Any], limit: str, containers: list[str] | None = None) -> dict:
    """A copy of ``pod`` with ``resources.limits.memory`` set on (some of) its containers."""
    pod = copy.deepcopy(pod)
    for c in pod.get("spec", {}).get("containers") or []:
        if containers is None or c.get("name") in containers:
            c.setdefault("resources", {}).setdefault("limits", {})["memory"] = limit
    return pod


def add_labels(pod: dict[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """A copy of ``pod`` with extra metadata labels."""
    pod = copy.deepcopy(pod)
    pod.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    return pod
