"""The shape of the code: small modules, no import circle, no import running up the layers.

Reads the source with ``ast`` (imports inside functions count too: a lazy import is still a
dependency), so a change that breaks the layering fails here, not in a review.
"""

from __future__ import annotations

import ast
import collections
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "podshm"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path, name: str) -> set[str]:
    """podshm modules imported by one module (absolute and relative, at any depth)."""
    known = modules()
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("podshm") and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    return {name: imports_of(path, name) for name, path in modules().items()}


def test_no_module_is_over_the_size_limit():
    big = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert big == {}


def _without_package_inits(g: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` re-exporting its modules is not a circle through them."""
    inits = {name for name, path in modules().items() if path.name == "__init__.py"}
    return {
        name: {t for t in targets if t not in inits or not name.startswith(t + ".")}
        for name, targets in g.items()
    }


def test_no_import_circle():
    g = _without_package_inits(graph())
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(g.get(node, ())):
            if state.get(nxt) == 1:
                circles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for start in sorted(g):
        if start not in state:
            visit(start, [start])
    assert circles == []


# The layers of design.md, lowest first: a module may import its own layer and those below,
# never one above. Every podshm module must be placed (a new package is placed here).
LAYERS: list[tuple[str, ...]] = [
    ("podshm.ipc", "podshm.data", "podshm.errors", "podshm"),  # helpers in pods; podshm itself
    (  # pure rules (data in, data out) and small utilities
        "podshm.names",
        "podshm.preconditions",
        "podshm.objects",
        "podshm.expectations",
        "podshm.pressure",
        "podshm.manifests",
        "podshm.yamlfile",
        "podshm.deviations",
        "podshm.overrides",
        "podshm.testimage",
        "podshm.podimages",
    ),
    ("podshm.settings", "podshm.localpaths", "podshm.cache"),
    ("podshm.kube", "podshm.target"),  # cluster access
    ("podshm.records",),
    ("podshm.plugin",),
    ("podshm.build",),  # versions parsed once, Go builds
    ("podshm.image",),  # offline images: OCI writer, Debian roots
    ("podshm.ipcbench",),  # the IPC benchmark's engine (host and pod)
    ("podshm.providers",),  # clusters podshm brings up
    (  # front ends, and the scenarios (they use the plugin, the benchmark, the kube layer)
        "podshm.cli",
        "podshm.runner",
        "podshm.gate",
        "podshm.gc",
        "podshm.prepare",
        "podshm.ipcbench.cli",
        "podshm.suite",
    ),
]


def layer_of(module: str) -> int:
    """The layer of the longest prefix naming ``module`` (-1: placed nowhere)."""
    best, found = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    return found


def test_every_module_is_placed_in_a_layer():
    assert [name for name in modules() if layer_of(name) < 0] == []


def test_no_import_runs_up_between_any_two_packages():
    """The upward import issue 18 found (image/cli importing the kind provider) fails here."""
    up = [
        f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})"
        for name, targets in graph().items()
        for target in targets
        if layer_of(target) > layer_of(name)
    ]
    assert up == []


# Pure rules: data in, data out; they import nothing but each other and podshm.errors.
PURE = [
    "podshm.kube",
    "podshm.plugin",
    "podshm.providers",
    "podshm.image",
    "podshm.build",
    "podshm.settings",
    "podshm.target",
    "podshm.records",
]
# (module prefix, prefixes it must never import) beyond the layers: rules within them.
FORBIDDEN = [
    ("podshm.ipc", ["podshm."]),  # runs in a bare image: imports nothing of podshm
    ("podshm.kube", ["podshm.settings"]),  # errors name settings; kube never spells them
    ("podshm.names", PURE),
    ("podshm.objects", PURE),
    ("podshm.preconditions", PURE),
    ("podshm.pressure", PURE),
    ("podshm.expectations", ["podshm.kube", "podshm.plugin"]),
    ("podshm.plugin", ["podshm.cli", "podshm.runner", "podshm.providers", "podshm.image"]),
    # The scenarios test any cluster: they never reach podshm's own.
    ("podshm.suite", ["podshm.providers", "podshm.cli", "podshm.gate", "podshm.prepare"]),
]


@pytest.mark.parametrize(("prefix", "forbidden"), FORBIDDEN, ids=[p for p, _ in FORBIDDEN])
def test_no_forbidden_import(prefix: str, forbidden: list[str]):
    bad = [
        f"{name} imports {target}"
        for name, targets in graph().items()
        if name == prefix or name.startswith(prefix + ".")
        for target in targets
        if any(target.startswith(f) for f in forbidden) and not target.startswith(prefix)
    ]
    assert bad == []


def test_object_rules_import_nothing_of_podshm_but_errors():
    """Every layer reads Kubernetes objects through podshm.objects (the local cluster too), so
    it can import none of them, nor anything that might one day import one."""
    assert imports_of(PACKAGE / "objects.py", "podshm.objects") <= {"podshm.errors"}


def test_cluster_access_does_not_import_pytest():
    users = [
        name
        for name, path in modules().items()
        if name.startswith(("podshm.kube", "podshm.settings", "podshm.target", "podshm.records"))
        and any(
            isinstance(n, (ast.Import, ast.ImportFrom))
            and any(
                (getattr(n, "module", None) or a.name).split(".")[0] == "pytest" for a in n.names
            )
            for n in ast.walk(ast.parse(path.read_text()))
        )
    ]
    assert users == []


def _strings_outside_docstrings(tree: ast.AST) -> list[ast.Constant]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_only_the_settings_table_spells_flags_and_variables():
    """Messages name a setting (``{context}``) and the front end renders it: a hand-typed
    ``--podshm-context`` would be wrong for a ``podshm run`` user, who types ``--context``."""
    spelled = [
        f"{name}:{node.lineno}: {node.value[:60]!r}"
        for name, path in modules().items()
        if not name.startswith("podshm.settings")
        for node in _strings_outside_docstrings(ast.parse(path.read_text()))
        if "PODSHM_" in node.value or "--podshm-" in node.value
    ]
    assert spelled == []


SKIPS = frozenset({"skip", "skipif", "importorskip"})


def test_the_suite_skips_only_for_a_named_precondition():
    """A scenario that quietly did not run would pass a gate: the one skip podshm makes is a
    not-applicable scenario (podshm.plugin.applicable, reasons from podshm.preconditions)."""
    found = [
        f"{name}:{node.lineno}"
        for name, path in modules().items()
        if name.startswith(("podshm.suite", "podshm.plugin")) and name != "podshm.plugin.applicable"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in SKIPS
    ]
    assert found == []


def test_the_projects_own_tests_never_skip_themselves():
    """A project test that cannot run fails with the fix (root, a tool, the cluster): a skip
    would turn a broken machine green. Skips inside the source a pytester run is given are
    strings here, so the records tests can still show how an inner run's skip is reported."""
    tests = Path(__file__).resolve().parents[1]
    found = [
        f"{path.relative_to(tests)}:{node.lineno}"
        for path in sorted(tests.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in SKIPS
    ]
    assert found == []


def test_no_two_test_modules_share_a_file_name():
    """Without __init__.py files pytest imports test modules by base name: two with the same
    name stop collection ("import file mismatch"), in the repository root's `pytest -m sysv`
    too."""
    root = Path(__file__).resolve().parents[2]
    names = collections.Counter(
        p.name for base in ("tests", "src/podshm/suite") for p in (root / base).rglob("test_*.py")
    )
    assert {n: c for n, c in names.items() if c > 1} == {}
