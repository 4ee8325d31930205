"""A user's expectations file: overrides of the computed /dev/shm sizes, per scenario.

For runtimes configured differently (e.g. CRI-O with another shm size), the suite's computed
expectation for a scenario can be replaced: ``devshm-default: 256Mi`` or
``devshm-disk: {size: 1Gi, tmpfs: true}``. Every error names the file and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from podshm.errors import PodshmError
from podshm.expectations import SCENARIOS, ShmExpectation, page_round_up, parse_size
from podshm.yamlfile import load_yaml

OVERRIDE_FIELDS = ("size", "tmpfs")


@dataclass(frozen=True)
class Override:
    """An expectations-file entry: replaces the computed size (and/or tmpfs-ness)."""

    size_bytes: int | None = None
    is_tmpfs: bool | None = None


EXPECTATIONS_FIX = (
    "expected a mapping of scenario -> size (e.g. 'devshm-default: 256Mi') or "
    "scenario -> {size: ..., tmpfs: true|false}; scenarios: " + ", ".join(SCENARIOS)
)


def parse_overrides(data: Any, source: str) -> dict[str, Override]:
    """Validate a loaded expectations document; every error names ``source`` and the key."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PodshmError(
            f"expectations file {source}: top level is not a mapping", EXPECTATIONS_FIX
        )
    result: dict[str, Override] = {}
    for key, value in data.items():
        if key not in SCENARIOS:
            raise PodshmError(
                f"expectations file {source}: unknown scenario key {key!r}", EXPECTATIONS_FIX
            )
        where = f"expectations file {source}: key {key!r}"
        if isinstance(value, dict):
            extra = sorted(set(value) - set(OVERRIDE_FIELDS))
            if extra:
                raise PodshmError(
                    f"{where}: unknown field(s) {', '.join(map(str, extra))}", EXPECTATIONS_FIX
                )
            size = parse_size(value["size"], f"{where}.size") if "size" in value else None
            tmpfs = value.get("tmpfs")
            if tmpfs is not None and not isinstance(tmpfs, bool):
                raise PodshmError(
                    f"{where}.tmpfs: {tmpfs!r} is not true or false", EXPECTATIONS_FIX
                )
            result[key] = Override(size_bytes=size, is_tmpfs=tmpfs)
        else:
            result[key] = Override(size_bytes=parse_size(value, where))
    return result


def load_overrides(path: str | Path | None) -> dict[str, Override]:
    """Read the user's expectations file; a missing or malformed file is a PodshmError."""
    if not path:
        return {}
    path = Path(path)
    option = "{expectations}"
    data = load_yaml(path, "expectations file", option, EXPECTATIONS_FIX)
    return parse_overrides(data, str(path))


def apply_override(
    expectation: ShmExpectation, overrides: Mapping[str, Override], source: str = "file"
) -> ShmExpectation:
    """The expectation with a user's override applied (scenario key = base scenario name)."""
    base = expectation.scenario.split("[", 1)[0]
    override = overrides.get(base)
    if override is None:
        return expectation
    changed = expectation
    if override.size_bytes is not None:
        changed = replace(changed, size_bytes=page_round_up(override.size_bytes))
    if override.is_tmpfs is not None:
        changed = replace(changed, is_tmpfs=override.is_tmpfs)
    return replace(
        changed,
        rule=f"overridden by {source} (computed: {expectation.size_bytes} bytes; "
        f"{expectation.rule})",
        source=source,
    )
