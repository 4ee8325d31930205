#!/usr/bin/env python3
"""Mutate a module and check that its unit tests fail for every mutant.

Used for the sizing rule (issue 23: "unit tests that fail when any branch is removed"):

    .venv/bin/python scripts/mutation_check.py \
        src/podshm/expectations.py tests/unit/test_expectations.py

Each mutant changes one spot of the module (the mutated code is ``ast.unparse``d; identical
mutants, and ``not (a == b)`` next to ``a != b``, run once):

  condition  an if/elif/while/ternary/comprehension condition: ``not (c)``, ``True``, ``False``
  compare    ``<``/``<=``, ``>``/``>=``, ``==``/``!=``, ``in``/``not in``, ``is``/``is not``
             swapped, in each link of a chained comparison
  chain      a chained comparison cut to one link: ``0 < x <= y`` -> ``0 < x``, ``x <= y``
  boolop     one operand of ``and``/``or`` dropped: ``a and b`` -> ``a``, ``b``
  arith      ``+``/``-`` swapped, ``*`` -> ``//``, ``/`` -> ``*``, ``//`` -> ``/`` (also ``+=``...)
  rounding   ``math.ceil(x)``/``math.floor(x)`` -> ``int(x)``, ``round(x)`` -> ``x``
  normalise  ``.strip()``, ``.lstrip()``, ``.rstrip()``, ``.lower()``, ``.upper()``,
             ``.casefold()`` dropped: ``s.rstrip("/")`` -> ``s``
  constant   an int in a comparison, a ``return`` or a ternary branch: ``n`` -> ``n + 1``; a
             returned ``True``/``False`` flipped

Not mutated: other calls (``max``, ``any``...), string and container constants, assignments.

A mutant that cannot change behaviour (an equivalent mutant) is excluded, visibly, by a comment
on its line or on comment lines just above it:

    # mutation: equivalent KIND [-> MUTATED CODE] because REASON

(KIND and the mutated code as a survivor's line prints them; without ``-> ...`` every mutant of
that kind on the line). The run prints how many it excluded; a pragma that excludes nothing
(stale after a change, or unreadable) is an error.

How it counts: the unmutated module's tests must pass first (else exit 2: a misspelt path or a
broken test would otherwise "kill" every mutant). A mutant is killed only when pytest reports
failed tests (exit 1); it survives on exit 0; any other exit (2 interrupted or collection
error, 3 internal error, 4 usage error, 5 no tests) or a timeout is an error of the check.
Exit 0 when every mutant is killed, 1 when some survived, 2 on a baseline failure or errors
(survivors are still listed).

The source tree is never written: the module's top-level package is copied into a temporary
directory, which goes first on ``PYTHONPATH``, and each mutant is written into that copy;
bytecode goes to ``$PYTHONPYCACHEPREFIX`` if set (a lasting one saves compiling pytest and the
dependencies on every run), else to the temporary directory. A pytest plugin in the copy reports
which file the tests imported, so a run that bypasses the copy (an editable install of a flat
layout, a ``sys.path`` insert) is an error, not a silent pass. ``--jobs`` (default 2) runs
that many mutants at once, each in its own copy.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

PYTEST_ARGS = ["-x", "-q", "-p", "no:cacheprovider"]
PROBE_MODULE = "_mutation_check_probe"
PROBE_SOURCE = '''"""pytest plugin of scripts/mutation_check.py: which file did the tests import?"""
import os
import sys


def pytest_sessionfinish(session):
    module = sys.modules.get(os.environ["MUTATION_CHECK_MODULE"])
    with open(os.environ["MUTATION_CHECK_PROBE"], "w") as out:
        out.write(getattr(module, "__file__", None) or "")
'''
EXIT_MEANINGS = {
    2: "interrupted or collection error",
    3: "internal error",
    4: "usage error",
    5: "no tests collected",
}
PRAGMA = re.compile(
    r"#\s*mutation:\s*equivalent\s+(?P<kind>\w+)(?:\s+->\s+(?P<after>.+?))?\s+because(\s|$)"
)
MENTION = re.compile(r"#\s*mutation:.*")  # a pragma that PRAGMA cannot read is reported


# -- mutants -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mutant:
    """One changed spot of the module, and the whole module with that change."""

    kind: str
    line: int
    before: str
    after: str
    source: str  # the whole mutated module

    def describe(self) -> str:
        return f"line {self.line}: {self.kind}: {_short(self.before)} -> {_short(self.after)}"


def _short(code: str, width: int = 70) -> str:
    code = " ".join(code.split())
    return code if len(code) <= width else code[: width - 3] + "..."


COMPARE_SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
ARITH_SWAPS: dict[type, type] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
}
NEGATED = {ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.IsNot}  # swap == negation
NORMALISERS = {"strip", "lstrip", "rstrip", "lower", "upper", "casefold"}
CONDITION_FIELDS = {(ast.If, "test"), (ast.IfExp, "test"), (ast.While, "test")}

Variants = list[tuple[str, ast.AST]]


def _conditions(node: ast.AST, parent: ast.AST, where: str) -> Variants:
    is_condition = (type(parent), where) in CONDITION_FIELDS or (
        isinstance(parent, ast.comprehension) and where == "ifs"
    )
    if not is_condition or not isinstance(node, ast.expr):
        return []
    forced: Variants = [("condition", ast.Constant(True)), ("condition", ast.Constant(False))]
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in NEGATED:
        return forced  # `not (a == b)` is the compare mutant `a != b`: run once
    return [("condition", ast.UnaryOp(op=ast.Not(), operand=node)), *forced]


def _compares(node: ast.AST) -> Variants:
    if not isinstance(node, ast.Compare):
        return []
    found: Variants = []
    for i, op in enumerate(node.ops):
        ops = [*node.ops[:i], COMPARE_SWAPS[type(op)](), *node.ops[i + 1 :]]
        found.append(("compare", ast.Compare(node.left, ops, node.comparators)))
    operands = [node.left, *node.comparators]
    if len(node.ops) > 1:
        for i, op in enumerate(node.ops):
            found.append(("chain", ast.Compare(operands[i], [op], [operands[i + 1]])))
    return found


def _boolops(node: ast.AST) -> Variants:
    if not isinstance(node, ast.BoolOp):
        return []
    found: Variants = []
    for i in range(len(node.values)):
        rest = node.values[:i] + node.values[i + 1 :]
        found.append(("boolop", rest[0] if len(rest) == 1 else ast.BoolOp(node.op, rest)))
    return found


def _arith(node: ast.AST) -> Variants:
    if isinstance(node, ast.BinOp) and type(node.op) in ARITH_SWAPS:
        return [("arith", ast.BinOp(node.left, ARITH_SWAPS[type(node.op)](), node.right))]
    if isinstance(node, ast.AugAssign) and type(node.op) in ARITH_SWAPS:
        return [("arith", ast.AugAssign(node.target, ARITH_SWAPS[type(node.op)](), node.value))]
    return []


def _calls(node: ast.AST) -> Variants:
    if not isinstance(node, ast.Call):
        return []
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    is_math = not isinstance(func, ast.Attribute) or ast.unparse(func.value) == "math"
    if name in ("ceil", "floor") and is_math:
        return [("rounding", ast.Call(ast.Name("int", ast.Load()), node.args, node.keywords))]
    if name == "round" and isinstance(func, ast.Name) and node.args:
        return [("rounding", node.args[0])]
    if name in NORMALISERS and isinstance(func, ast.Attribute):
        return [("normalise", func.value)]
    return []


def _constants(node: ast.AST, parent: ast.AST, where: str) -> Variants:
    if not isinstance(node, ast.Constant):
        return []
    in_compare = isinstance(parent, ast.Compare)
    returned = isinstance(parent, ast.Return) or (
        isinstance(parent, ast.IfExp) and where in ("body", "orelse")
    )
    if isinstance(node.value, bool):
        return [("constant", ast.Constant(not node.value))] if returned else []
    if isinstance(node.value, int) and (in_compare or returned):
        return [("constant", ast.Constant(node.value + 1))]
    return []


def variants(node: ast.AST, parent: ast.AST, where: str) -> Variants:
    """Every mutation of one node (``where``: the field of ``parent`` that holds it)."""
    return [
        *_conditions(node, parent, where),
        *_compares(node),
        *_boolops(node),
        *_arith(node),
        *_calls(node),
        *_constants(node, parent, where),
    ]


def _slots(tree: ast.AST) -> Iterator[tuple[ast.AST, ast.AST, str, Callable[[ast.AST], None]]]:
    """Each node with its parent, its field there and a setter that puts a node in its place."""
    for parent in list(ast.walk(tree)):
        for where, value in ast.iter_fields(parent):
            if isinstance(value, ast.AST):
                yield value, parent, where, lambda new, p=parent, w=where: setattr(p, w, new)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        yield (
                            item,
                            parent,
                            where,
                            lambda new, seq=value, i=i: seq.__setitem__(i, new),
                        )


@dataclass
class Pragma:
    """``# mutation: equivalent KIND [-> CODE] because REASON``: excludes the mutants of that
    kind (and, if given, with that mutated code, as the run prints it) on the code line the
    comment ends or, for a comment on its own line, the next code line."""

    line: int
    text: str  # the comment, for messages
    kind: str  # "" for a comment PRAGMA cannot read: it matches nothing, so it is reported
    after: str | None
    used: int = 0

    def matches(self, mutant: Mutant) -> bool:
        return (
            mutant.line == self.line
            and mutant.kind == self.kind
            and (self.after is None or _canonical(self.after) == _canonical(mutant.after))
        )

    def describe(self) -> str:
        return f"line {self.line}: pragma {self.text!r} matches no mutant there"


def _canonical(code: str) -> str:
    """Code as ``ast.unparse`` writes it, so a pragma may use the module's quotes and spacing."""
    try:
        return ast.unparse(ast.parse(code.strip()))
    except SyntaxError:
        return " ".join(code.split())


def pragmas(source: str) -> list[Pragma]:
    """The module's equivalence pragmas, each tied to the code line it is about."""
    found: list[Pragma] = []
    waiting: list[tuple[str, str, str | None]] = []
    for number, text in enumerate(source.splitlines(), start=1):
        mention = MENTION.search(text)
        if mention:
            read = PRAGMA.match(mention.group())
            kind, after = (read["kind"], read["after"]) if read else ("", None)
            waiting.append((mention.group()[:60], kind, after))
        if text.strip() and not text.strip().startswith("#"):
            found += [Pragma(number, *pragma) for pragma in waiting]
            waiting = []
    return found


def mutants(source: str) -> tuple[list[Mutant], list[Pragma]]:
    """The module's distinct mutants not excluded by a pragma (ordered by line), and the
    pragmas, each with how many mutants it excluded."""
    tree = ast.parse(source)
    seen = {ast.unparse(tree)}
    excluding = pragmas(source)
    found: list[Mutant] = []
    for node, parent, where, put in _slots(tree):
        line = getattr(node, "lineno", getattr(parent, "lineno", 0))
        for kind, new in variants(node, parent, where):
            put(ast.fix_missing_locations(copy.deepcopy(new)))
            mutated = ast.unparse(tree)
            put(node)
            if mutated in seen:
                continue
            seen.add(mutated)
            mutant = Mutant(kind, line, ast.unparse(node), ast.unparse(new), mutated)
            pragma = next((p for p in excluding if p.matches(mutant)), None)
            if pragma:
                pragma.used += 1
            else:
                found.append(mutant)
    return sorted(found, key=lambda m: m.line), excluding


# -- the copy the tests import ----------------------------------------------------------------
def locate(module: Path) -> tuple[Path, Path, str]:
    """The directory above the module's top-level package, the part to copy, the dotted name."""
    parts = [] if module.name == "__init__.py" else [module.stem]
    folder = module.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    top = folder / parts[0] if (folder / parts[0]).is_dir() else module
    return folder, top, ".".join(parts)


@dataclass
class Worker:
    """One private copy of the package, where one pytest at a time runs a mutant."""

    root: Path
    target: Path  # the module's file inside the copy
    pycache: Path  # PYTHONPYCACHEPREFIX: bytecode is cached outside the source tree
    process: subprocess.Popen | None = None
    job: tuple[int, Mutant] | None = None
    started: float = 0.0
    writes: int = 0
    born: int = field(default_factory=lambda: int(time.time()))
    log: Path = field(init=False)
    probe: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log, self.probe = self.root / "pytest.log", self.root / "probe.txt"

    def write(self, source: str) -> None:
        """Put a mutant in the copy, with an mtime no earlier write had (counting up from the
        copy's creation): the bytecode caches, Python's and pytest's, are keyed on the mtime in
        seconds and the size, so two same-sized mutants in one second would share a stale one."""
        self.target.write_text(source)
        self.writes += 1
        stamp = self.born + self.writes
        os.utime(self.target, (stamp, stamp))


def make_workers(module: Path, count: int, scratch: Path) -> list[Worker]:
    """``count`` private copies of the module's top-level package (or lone module)."""
    folder, top, _ = locate(module)
    workers = []
    for n in range(count):
        root = scratch / f"worker-{n}"
        root.mkdir()
        if top.is_dir():
            shutil.copytree(top, root / top.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(top, root / top.name)
        (root / f"{PROBE_MODULE}.py").write_text(PROBE_SOURCE)
        pycache = Path(os.getenv("PYTHONPYCACHEPREFIX") or scratch / "pycache")
        workers.append(Worker(root, root / module.relative_to(folder), pycache))
    return workers


# -- running pytest ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What one pytest run left behind."""

    returncode: int | None  # None: timed out
    imported_from: str  # the module file the tests imported, "" if none
    last_line: str


def start(worker: Worker, source: str, name: str, tests: list[str]) -> None:
    """Write ``source`` into the worker's copy and start its tests there."""
    worker.write(source)
    worker.probe.unlink(missing_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "PYTHONPATH": os.pathsep.join(filter(None, [str(worker.root), os.getenv("PYTHONPATH")])),
        # Cached bytecode (pytest's rewritten plugin and test modules too) makes a run about a
        # third cheaper; the prefix keeps every .pyc out of the source tree.
        "PYTHONPYCACHEPREFIX": str(worker.pycache),
        # Only the probe and the project's conftest plugins: the entry points (podshm's own
        # plugin imports the Kubernetes client, xdist) are not what a unit test needs, and
        # loading them was 40% of a mutant's run. A test that needs one fails the baseline.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "MUTATION_CHECK_MODULE": name,
        "MUTATION_CHECK_PROBE": str(worker.probe),
    }
    command = [sys.executable, "-P", "-m", "pytest", *PYTEST_ARGS, "-p", PROBE_MODULE, *tests]
    with worker.log.open("wb") as log:
        worker.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    worker.started = time.monotonic()


def finish(worker: Worker, timed_out: bool) -> Outcome:
    assert worker.process is not None
    if timed_out:
        worker.process.kill()
    code = worker.process.wait()
    worker.process = None
    lines = [line for line in worker.log.read_text(errors="replace").splitlines() if line.strip()]
    imported = worker.probe.read_text() if worker.probe.exists() else ""
    return Outcome(None if timed_out else code, imported, lines[-1] if lines else "")


def copy_problem(outcome: Outcome, worker: Worker, name: str) -> str:
    """Why this run did not test the copy, or "" if it did."""
    if outcome.returncode not in (0, 1):
        return ""  # the exit code already makes this run an error
    if not outcome.imported_from:
        return f"the tests never imported {name}"
    if not Path(outcome.imported_from).resolve().is_relative_to(worker.root.resolve()):
        return f"the tests imported {name} from {outcome.imported_from}, not from the copy"
    return ""


def verdict(outcome: Outcome, worker: Worker, name: str) -> tuple[str, str]:
    """("killed" | "survived" | "error", why) for one run."""
    problem = copy_problem(outcome, worker, name)
    if problem:
        return "error", problem
    if outcome.returncode is None:
        return "error", "timed out"
    if outcome.returncode == 1:
        return "killed", ""
    if outcome.returncode == 0:
        return "survived", ""
    meaning = EXIT_MEANINGS.get(outcome.returncode, "unknown exit")
    return "error", f"pytest exit {outcome.returncode} ({meaning}): {outcome.last_line}"


def run_all(
    jobs: list[Mutant], workers: list[Worker], name: str, tests: list[str], timeout: float
) -> list[tuple[str, str]]:
    """Run every mutant, one at a time per worker; a verdict for each, in order."""
    results: list[tuple[str, str]] = [("", "")] * len(jobs)
    pending = list(enumerate(jobs))
    while pending or any(w.process for w in workers):
        for worker in workers:
            if worker.process is None and pending:
                worker.job = pending.pop(0)
                start(worker, worker.job[1].source, name, tests)
        time.sleep(0.02)
        for worker in workers:
            if worker.process is None or worker.job is None:
                continue
            timed_out = time.monotonic() - worker.started > timeout
            if worker.process.poll() is not None or timed_out:
                results[worker.job[0]] = verdict(finish(worker, timed_out), worker, name)
    return results


def stop(workers: list[Worker]) -> None:
    """Kill the pytest runs still going (after Ctrl-C or a crash), before their copy goes."""
    for worker in workers:
        if worker.process is not None:
            worker.process.kill()
            worker.process.wait()
            worker.process = None


# -- main --------------------------------------------------------------------------------------
def baseline(workers: list[Worker], source: str, name: str, tests: list[str]) -> tuple[str, float]:
    """Why the unmutated module fails its tests ("" when they pass and import the copy), and
    how long they took (the mutants' timeout is a multiple of it)."""
    worker = workers[0]
    began = time.monotonic()
    start(worker, source, name, tests)
    outcome = finish(worker, timed_out=False)
    seconds = time.monotonic() - began
    if outcome.returncode != 0:
        meaning = {1: "tests failed", **EXIT_MEANINGS}.get(outcome.returncode or 0, "unknown exit")
        return f"pytest exit {outcome.returncode} ({meaning}): {outcome.last_line}", seconds
    return copy_problem(outcome, worker, name), seconds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", type=Path, help="the module to mutate")
    parser.add_argument("tests", nargs="+", help="test files or directories for pytest")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run in parallel (2)")
    return parser.parse_args(argv)


def report(
    module: Path, mutated: list[Mutant], results: list[tuple[str, str]], excluding: list[Pragma]
) -> int:
    """Print survivors, errors and the summary; the exit status."""
    for mutant, (state, why) in zip(mutated, results, strict=True):
        if state == "survived":
            print(f"  survived: {mutant.describe()}")
        elif state == "error":
            print(f"  error: {mutant.describe()}: {why}")
    stale = [p for p in excluding if not p.used]
    for pragma in stale:  # left behind by a code change: it may now hide a real survivor
        print(f"  error: {pragma.describe()}")
    count = {s: sum(r[0] == s for r in results) for s in ("killed", "survived", "error")}
    errors = count["error"] + len(stale)
    print(
        f"{module.name}: {len(mutated)} mutants, {count['killed']} killed, "
        f"{count['survived']} survived, {errors} errors"
    )
    excluded = sum(p.used for p in excluding)
    if excluded:
        print(f"{module.name}: {excluded} equivalent mutants excluded by pragmas, not run")
    return 2 if errors else 1 if count["survived"] else 0


def check(args: argparse.Namespace) -> int:
    """The whole check: baseline, mutants, report; the exit status."""
    began = time.monotonic()
    module = args.module.resolve()
    if not module.is_file():
        print(f"{args.module}: no such module, nothing mutated")
        return 2
    source = module.read_text()
    mutated, excluding = mutants(source)
    _, _, name = locate(module)
    jobs = max(1, args.jobs)
    with tempfile.TemporaryDirectory(prefix="mutation-check-") as scratch:
        workers = make_workers(module, jobs, Path(scratch))
        try:
            problem, seconds = baseline(workers, ast.unparse(ast.parse(source)), name, args.tests)
            if problem:
                print(f"{module.name}: the baseline fails, no mutant run: {problem}")
                return 2
            results = run_all(mutated, workers, name, args.tests, max(60.0, 10 * seconds))
        finally:
            stop(workers)
    status = report(module, mutated, results, excluding)
    print(f"wall time: {time.monotonic() - began:.1f} s ({jobs} workers)")
    return status


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return check(args)
    except KeyboardInterrupt:  # the copies are gone and the source tree was never written
        print(f"{args.module.name}: interrupted, no result", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
