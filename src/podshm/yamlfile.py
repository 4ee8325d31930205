"""Reading a user's YAML file (expectations, deviations): one error, naming the file, the line
and what to pass instead, whatever goes wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from podshm.errors import PodshmError


def load_yaml(path: Path, what: str, option: str, fix: str) -> Any:
    """The parsed document of ``path``; ``what`` names the file in errors ("expectations
    file"), ``option`` is where the user gives it, ``fix`` what a valid file looks like."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise PodshmError(
            f"cannot read {what} {path}: {getattr(err, 'strerror', None) or err}",
            f"pass an existing file to {option}",
        ) from err
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise PodshmError(
            f"{what} {path}: not valid YAML{at}: {getattr(err, 'problem', err)}", fix
        ) from err
