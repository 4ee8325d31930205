"""Stable test ids: the same test gets the same id however the suite was collected.

pytest's node id carries the path the module was collected from
(``src/podshm/suite/test_devshm.py::...`` from a checkout,
``../.venv/lib/python3.11/site-packages/podshm/suite/...`` with ``--pyargs``), and junit's
``classname`` carries that path again, dotted. Records from two runs can only be matched when
that path is dropped, so the stable id keeps the module's base file name, the classes and the
test name with its parameters: ``test_devshm.py::test_size[memory-1Gi]``,
``test_x.py::TestFoo::test_bar[p]``. Both functions live here so they cannot drift apart.
"""

from __future__ import annotations

import re

SEP = "::"
# The words naming the parameters podshm's plugin adds itself (``--podshm-runtime-class``,
# ``--podshm-nodes``): ``test_x.py::test_y[a-rc=gvisor]``, ``...[node=vm-1]``.
RUNTIME_CLASS_WORD = "rc"
NODE_WORD = "node"
# pytest's default ``python_files`` patterns; a dotted component matching one is the module.
_MODULE_NAME = re.compile(r"^(test_.*|.*_test)$")


def _split_params(address: str) -> tuple[str, str]:
    """``"a::b[x::y]"`` -> ``("a::b", "[x::y]")``: parameters may contain ``::``, ``/``, ``.``.

    Same split as pytest's junitxml ``mangle_test_address``, so both ids cut in one place.
    """
    head, bracket, params = address.partition("[")
    return head, bracket + params


def stable_id_from_nodeid(nodeid: str) -> str:
    """``src/podshm/suite/test_x.py::TestFoo::test_bar[p]`` -> ``test_x.py::TestFoo::test_bar[p]``.

    A node id without ``::`` (a module that failed to collect) gives the module's file name.
    """
    head, params = _split_params(nodeid)
    path, *names = head.split(SEP)
    module = path.replace("\\", "/").rsplit("/", 1)[-1]
    return SEP.join([module, *names]) + params


def _module_index(parts: list[str]) -> int:
    """Which dotted component of a junit classname is the module (the rest are packages/classes).

    The last one named like a test module (``test_*``/``*_test``) wins; failing that, the last
    one not in CapWords (test classes are ``TestFoo``, modules are lower case).
    """
    for i in range(len(parts) - 1, -1, -1):
        if _MODULE_NAME.match(parts[i]):
            return i
    for i in range(len(parts) - 1, -1, -1):
        if parts[i][:1].islower():
            return i
    return len(parts) - 1


def _junit_parts(classname: str, name: str) -> tuple[list[str], int, str]:
    """The dotted parts, the module's index among them, and the test name (may be empty).

    pytest writes a module that failed to collect as ``classname=""`` and the dotted module
    path as ``name``: then the name is the module and there is no test name.
    """
    if not classname:
        head, _ = _split_params(name)
        parts = [p for p in head.split(".") if p]
        return parts, _module_index(parts), ""
    parts = [p for p in classname.split(".") if p]  # a leading ".." (outside rootdir) -> ""
    return parts, _module_index(parts), name


def stable_id_from_junit(classname: str, name: str) -> str:
    """``("src.podshm.suite.test_x.TestFoo", "test_bar[p]")``
    -> ``test_x.py::TestFoo::test_bar[p]``."""
    parts, index, test = _junit_parts(classname, name)
    if not parts:
        return test
    return SEP.join([parts[index] + ".py", *parts[index + 1 :], *([test] if test else [])])


def nodeid_from_junit(classname: str, name: str) -> str:
    """A best-effort pytest node id from junit (junit loses whether a dot was ``/`` or ``.``)."""
    parts, index, test = _junit_parts(classname, name)
    if not parts:
        return test
    path = "/".join(parts[: index + 1]) + ".py"
    return SEP.join([path, *parts[index + 1 :], *([test] if test else [])])


def without_param(test_id: str, word: str, value: str) -> str:
    """The id without one ``word=value`` parameter: ``t[a-rc=gvisor]`` -> ``t[a]``,
    ``t[rc=gvisor]`` -> ``t``; unchanged when the id has no such parameter.

    pytest joins parameter ids with ``-`` and values may contain ``-`` too (node names), so
    only a whole ``word=value`` between ``[``/``-`` and ``-``/``]`` counts: ``rc=gvisor``
    is not found in ``rc=gvisor2``. ``node=kind`` is found in ``[node=kind-worker]`` (it
    could be node ``kind`` and a parameter ``worker``): try the longest candidate first.
    """
    head, params = _split_params(test_id)
    if not params.endswith("]"):
        return test_id
    padded, token = f"-{params[1:-1]}-", f"-{word}={value}-"
    if token not in padded:
        return test_id
    rest = padded.replace(token, "-", 1)[1:-1]
    return f"{head}[{rest}]" if rest else head
