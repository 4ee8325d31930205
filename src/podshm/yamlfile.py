"""Reading a user's YAML file (expectations, deviations): one error, naming the file, the line
and what to pass instead, whatever goes wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from podshm.errors import PodshmError


def where_in_yaml(err: yaml.YAMLError) -> str:
    """`` at line 10: expected ',' or ']'``: a YAML error in one line (PyYAML's own message
    spans several, with a copy of the source)."""
    mark = getattr(err, "problem_mark", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"{at}: {' '.join(str(problem).split())}"


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
        raise PodshmError(f"{what} {path}: not valid YAML{where_in_yaml(err)}", fix) from err
