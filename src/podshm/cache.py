"""podshm's cache: built binaries and image archives that every later run reuses."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from podshm.errors import PodshmError
from podshm.settings import CACHE_DIR_ENV


def work_tree_of(path: Path) -> Path | None:
    """The git work tree ``path`` is in, if any."""
    for parent in (path, *path.parents):
        if (parent / ".git").exists():
            return parent
    return None


def cache_root() -> Path:
    """``CACHE_DIR_ENV``'s directory, else $XDG_CACHE_HOME/podshm or ~/.cache/podshm (created).

    Never inside the git work tree: binaries and archives are large and must not be committed.
    """
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        root = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "podshm"
    root = root.resolve()
    tree = work_tree_of(Path(__file__).resolve().parent)
    if tree is not None and root.is_relative_to(tree):
        raise PodshmError(
            f"the podshm cache {root} is inside the git work tree {tree}",
            f"set {CACHE_DIR_ENV} to a directory outside the repository",
        )
    root.mkdir(parents=True, exist_ok=True)
    return root


def content_tag(inputs: dict[str, Any]) -> str:
    """12 hex digits of sha256 over the canonical JSON of a build's inputs: the tag that makes
    a rebuild with the same inputs a no-op."""
    return hashlib.sha256(canonical_json(inputs)).hexdigest()[:12]


def canonical_json(obj: Any) -> bytes:
    """Serialise so that equal objects give equal bytes (and so equal digests)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
