"""Open whatever a user hands ``podshm diff``: a run record or a junit XML, told apart by
content (CI artifacts get renamed), and a one-line error naming the file when it is neither.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from podshm.errors import PodshmError
from podshm.records.junit import parse_junit
from podshm.records.schema import SCHEMA, RunRecord, validate

EXPECTED = "a podshm run record (podshm-*.json) or a pytest junit XML (junit-*.xml)"
_SCHEMA_FAMILY = re.compile(r"^podshm-run/(\d+)$")


def _fix() -> str:
    return f"pass {EXPECTED}; `podshm run` writes both to its reports directory"


def _load_json(path: Path, text: str) -> RunRecord:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise PodshmError(
            f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})", _fix()
        ) from None
    if not isinstance(doc, dict) or "schema" not in doc:
        raise PodshmError(f'{path}: JSON without a "schema" field is not a run record', _fix())
    schema = doc["schema"]
    if schema != SCHEMA:
        family = _SCHEMA_FAMILY.match(str(schema))
        fix = (
            f"this podshm reads {SCHEMA}; upgrade podshm to read {schema}"
            if family and int(family.group(1)) > 1
            else _fix()
        )
        raise PodshmError(f"{path}: unsupported schema {schema!r} (expected {SCHEMA!r})", fix)
    problems = validate(doc)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise PodshmError(
            f"{path}: invalid {SCHEMA} record: {problems[0]}{more}",
            "regenerate it with `podshm run`, or diff the junit XML of the same run",
        )
    return RunRecord.from_json(doc)


def load_record(path: str | os.PathLike[str]) -> RunRecord:
    """A run record from a ``podshm-run/1`` JSON file or a pytest junit XML file.

    Raises PodshmError (cause names the file) when the file is missing, unreadable, empty,
    not JSON/XML, JSON of another schema, or XML that is not junit.
    """
    file = Path(path)
    try:
        data = file.read_bytes()
        mtime = file.stat().st_mtime
    except IsADirectoryError:
        raise PodshmError(f"{file}: is a directory", _fix()) from None
    except OSError as err:
        raise PodshmError(f"{file}: cannot read ({err.strerror or err})", _fix()) from None
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head:
        raise PodshmError(f"{file}: empty file", _fix())
    if head[:1] == b"<":
        try:
            return parse_junit(data, mtime=mtime)
        except ValueError as err:
            raise PodshmError(f"{file}: not a junit XML: {err}", _fix()) from None
    if head[:1] in (b"{", b"["):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise PodshmError(f"{file}: not UTF-8 JSON ({err.reason})", _fix()) from None
        return _load_json(file, text)
    raise PodshmError(f"{file}: neither JSON nor XML (starts with {head[:20]!r})", _fix())
