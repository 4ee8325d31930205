"""The run record, schema ``podshm-run/1``: one suite run as plain JSON.

Why a schema of our own and not just junit: junit has no place for the cluster (versions,
nodes, runtimes) and turns every measured value into a string, and a run is only useful
against another run when both say what they ran on. Conventions:

- unknown strings are ``""`` (never missing), unknown numbers are ``null``;
- ``started``/``finished`` are ISO 8601 in UTC (``2026-05-01T12:00:00Z``);
- ``values`` are the junit properties a test recorded, normalised by :func:`normalize_value`
  so a record written by the plugin and one rebuilt from junit compare equal;
- ``allocatable_memory_bytes`` may be ``null`` too (a record rebuilt from junit cannot know it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

SCHEMA = "podshm-run/1"
OUTCOMES = (
    "passed",
    "failed",
    "error",
    "skipped",
    "xfailed",
    "xpassed",
    "deviation",
    "not-applicable",
)
NOT_APPLICABLE = "not-applicable"
"""A scenario the cluster could not host (podshm.preconditions): not run, with the reason."""
Value = str | int | float | bool

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


def podshm_version() -> str:
    """The installed podshm's version: which suite produced the record."""
    try:
        return metadata.version("podshm")
    except metadata.PackageNotFoundError:
        return "unknown"


def utc_iso(moment: datetime | None = None) -> str:
    """``2026-05-01T12:00:00.123456Z``: an aware datetime (default: now) in UTC."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


def normalize_value(value: Any) -> Value:
    """One measured value as the record stores it, whatever its source.

    junit stores every property as text and podshm's ``record()`` writes booleans as
    ``"true"``; normalising both sources the same way (numbers from numeric text, booleans from
    ``true``/``false``, ``None`` as ``""``) keeps a junit-derived record diffable against one
    the plugin wrote.
    """
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # JSON has no NaN/inf
    text = "" if value is None else str(value)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        number = float(text)
        return number if math.isfinite(number) else text
    return text


@dataclass
class ImageInfo:
    """The test image the pods ran."""

    ref: str = ""
    digest: str | None = None


@dataclass
class NodeInfo:
    """One node: what decides /dev/shm and IPC behaviour on it."""

    name: str = ""
    kubelet_version: str = ""
    container_runtime: str = ""
    kernel_version: str = ""
    os_image: str = ""
    architecture: str = ""
    allocatable_memory_bytes: int | None = None
    page_size_bytes: int | None = None


@dataclass
class RuntimeClassInfo:
    """A RuntimeClass the cluster offers (gVisor, Kata... change IPC behaviour)."""

    name: str = ""
    handler: str = ""
    overhead_memory_bytes: int | None = None


@dataclass
class ClusterInfo:
    """The cluster the run talked to."""

    context: str = ""
    api_url: str = ""
    server_version: str = ""
    nodes: list[NodeInfo] = field(default_factory=list)
    runtime_classes: list[RuntimeClassInfo] = field(default_factory=list)


@dataclass
class CaseResult:
    """One test's outcome and everything it measured."""

    id: str
    nodeid: str
    outcome: str
    duration_s: float = 0.0
    message: str = ""
    values: dict[str, Value] = field(default_factory=dict)


@dataclass
class RunRecord:
    """One suite run."""

    started: str
    finished: str
    run_id: str = ""
    options: dict[str, str] = field(default_factory=dict)
    image: ImageInfo = field(default_factory=ImageInfo)
    cluster: ClusterInfo = field(default_factory=ClusterInfo)
    tests: list[CaseResult] = field(default_factory=list)
    podshm_version: str = field(default_factory=podshm_version)
    schema: str = SCHEMA

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (``schema`` first, for people reading the file)."""
        doc = asdict(self)
        return {"schema": doc.pop("schema"), **doc}

    @classmethod
    def from_json(cls, doc: Any) -> RunRecord:
        """Build from a parsed JSON document; ValueError lists what is wrong with it."""
        problems = validate(doc)
        if problems:
            raise ValueError("; ".join(problems))
        cluster = doc["cluster"]
        return cls(
            schema=doc["schema"],
            podshm_version=doc["podshm_version"],
            started=doc["started"],
            finished=doc["finished"],
            run_id=doc["run_id"],
            options=dict(doc["options"]),
            image=ImageInfo(**doc["image"]),
            cluster=ClusterInfo(
                context=cluster["context"],
                api_url=cluster["api_url"],
                server_version=cluster["server_version"],
                nodes=[NodeInfo(**n) for n in cluster["nodes"]],
                runtime_classes=[RuntimeClassInfo(**r) for r in cluster["runtime_classes"]],
            ),
            tests=[CaseResult(**{**t, "values": dict(t["values"])}) for t in doc["tests"]],
        )


# --- validation: field name -> accepted types (None in the tuple: null allowed) -------------

_STR = (str,)
_OPT_STR = (str, type(None))
_OPT_INT = (int, type(None))
_TOP = {
    "schema": _STR,
    "podshm_version": _STR,
    "started": _STR,
    "finished": _STR,
    "run_id": _STR,
    "options": (dict,),
    "image": (dict,),
    "cluster": (dict,),
    "tests": (list,),
}
_IMAGE = {"ref": _STR, "digest": _OPT_STR}
_CLUSTER = {
    "context": _STR,
    "api_url": _STR,
    "server_version": _STR,
    "nodes": (list,),
    "runtime_classes": (list,),
}
_NODE = {
    "name": _STR,
    "kubelet_version": _STR,
    "container_runtime": _STR,
    "kernel_version": _STR,
    "os_image": _STR,
    "architecture": _STR,
    "allocatable_memory_bytes": _OPT_INT,
    "page_size_bytes": _OPT_INT,
}
_RUNTIME_CLASS = {"name": _STR, "handler": _STR, "overhead_memory_bytes": _OPT_INT}
_TEST = {
    "id": _STR,
    "nodeid": _STR,
    "outcome": _STR,
    "duration_s": (int, float),
    "message": _STR,
    "values": (dict,),
}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}  # a wrong type is reported by _fields


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is(value: Any, types: tuple[type, ...]) -> bool:
    """isinstance, except that JSON's true/false are not numbers."""
    return isinstance(value, types) and (bool in types or not isinstance(value, bool))


def _fields(obj: Any, where: str, spec: Mapping[str, tuple[type, ...]], out: list[str]) -> bool:
    """Check one object's fields; False when it is not an object at all."""
    if not isinstance(obj, dict):
        out.append(f"{where}: expected an object, got {_type_name(obj)}")
        return False
    for name, types in spec.items():
        if name not in obj:
            out.append(f"{where}.{name}: missing")
        elif not _is(obj[name], types):
            out.append(f"{where}.{name}: expected {types[0].__name__}, got {_type_name(obj[name])}")
    out.extend(f"{where}.{name}: unknown field" for name in obj if name not in spec)
    return True


def _timestamp(text: Any, where: str, out: list[str]) -> None:
    if not isinstance(text, str):
        return
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        out.append(f"{where}: {text!r} is not an ISO 8601 time")
        return
    offset = moment.utcoffset()
    if offset is None or offset.total_seconds() != 0:
        out.append(f"{where}: {text!r} is not in UTC")


def validate(doc: Any) -> list[str]:
    """Every problem with a ``podshm-run/1`` document (empty: it can be loaded)."""
    out: list[str] = []
    if not _fields(doc, "record", _TOP, out):
        return out
    if "schema" in doc and doc["schema"] != SCHEMA:
        out.insert(0, f"record.schema: {doc['schema']!r} is not {SCHEMA!r}")
    _timestamp(doc.get("started"), "record.started", out)
    _timestamp(doc.get("finished"), "record.finished", out)
    for key, value in _dict(doc.get("options")).items():
        if not isinstance(value, str):
            out.append(f"record.options.{key}: expected str, got {_type_name(value)}")
    if isinstance(doc.get("image"), dict):
        _fields(doc["image"], "record.image", _IMAGE, out)
    cluster = doc.get("cluster")
    if isinstance(cluster, dict) and _fields(cluster, "record.cluster", _CLUSTER, out):
        for i, node in enumerate(_list(cluster.get("nodes"))):
            _fields(node, f"record.cluster.nodes[{i}]", _NODE, out)
        for i, rc in enumerate(_list(cluster.get("runtime_classes"))):
            _fields(rc, f"record.cluster.runtime_classes[{i}]", _RUNTIME_CLASS, out)
    for i, test in enumerate(_list(doc.get("tests"))):
        where = f"record.tests[{i}]"
        if not _fields(test, where, _TEST, out):
            continue
        if "outcome" in test and test["outcome"] not in OUTCOMES:
            out.append(f"{where}.outcome: {test['outcome']!r} is not one of {', '.join(OUTCOMES)}")
        for key, value in _dict(test.get("values")).items():
            if not isinstance(value, str | int | float | bool):
                kind = _type_name(value)
                out.append(f"{where}.values.{key}: expected str/int/float/bool, got {kind}")
    return out
