"""The parameters the plugin adds to tests itself: the node (``--podshm-nodes``) and the
RuntimeClass (``--podshm-runtime-class``) a test's pods go to. Their fixture names live here
only; the words naming them in test ids live in :mod:`podshm.records.ids`, which also reads
them back out of run records (``podshm matrix``).
"""

from __future__ import annotations

import pytest

from podshm.records.ids import NODE_WORD, RUNTIME_CLASS_WORD, without_param

NODE_FIXTURE = "podshm_target_node"
RUNTIME_FIXTURE = "podshm_runtime_class"
ID_WORDS = {NODE_FIXTURE: NODE_WORD, RUNTIME_FIXTURE: RUNTIME_CLASS_WORD}


def ids_for(fixture: str, values: list[str]) -> list[str]:
    """``node=vm``, ``rc=gvisor``: the test id names the node and the runtime class."""
    return [f"{ID_WORDS[fixture]}={value}" for value in values]


def item_param(item: pytest.Item, fixture: str) -> str | None:
    """The value ``item`` was given for one of these parameters (None without it)."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(fixture) if callspec is not None else None


def without_runtime_class(test_id: str, runtime_class: str | None) -> str:
    """The test id as a matrix row: ``t[a-rc=gvisor]`` -> ``t[a]``, ``t[rc=gvisor]`` -> ``t``."""
    return without_param(test_id, RUNTIME_CLASS_WORD, runtime_class) if runtime_class else test_id
