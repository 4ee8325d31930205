"""The parameters the plugin adds to tests itself: the node (``--podshm-nodes``) and the
RuntimeClass (``--podshm-runtime-class``) a test's pods go to. Their fixture names and the
words naming them in test ids live here only.
"""

from __future__ import annotations

import pytest

NODE_FIXTURE = "podshm_target_node"
RUNTIME_FIXTURE = "podshm_runtime_class"
ID_WORDS = {NODE_FIXTURE: "node", RUNTIME_FIXTURE: "rc"}


def ids_for(fixture: str, values: list[str]) -> list[str]:
    """``node=vm``, ``rc=gvisor``: the test id names the node and the runtime class."""
    return [f"{ID_WORDS[fixture]}={value}" for value in values]


def item_param(item: pytest.Item, fixture: str) -> str | None:
    """The value ``item`` was given for one of these parameters (None without it)."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(fixture) if callspec is not None else None


def without_runtime_class(test_id: str, runtime_class: str | None) -> str:
    """The test id as a matrix row: ``t[a-rc=gvisor]`` -> ``t[a]``, ``t[rc=gvisor]`` -> ``t``."""
    if not runtime_class:
        return test_id
    word = f"{ID_WORDS[RUNTIME_FIXTURE]}={runtime_class}"
    for form, plain in ((f"[{word}]", ""), (f"-{word}", ""), (f"{word}-", "")):
        if form in test_id:
            return test_id.replace(form, plain, 1)
    return test_id
