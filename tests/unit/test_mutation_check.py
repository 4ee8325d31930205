"""scripts/mutation_check.py itself: it must fail loudly when nothing is checked.

Each end-to-end test writes a tiny package and its tests into tmp_path and runs the script on
them (pytest's entry-point plugins off, so a child pytest takes a fraction of a second).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mutation_check.py"

RULES = '''"""A throwaway rule: the limit wins when 0 < limit <= size."""


def clamp(size, limit):
    if 0 < limit <= size:
        return limit, "limit"
    return size, "size"
'''
# Kill all 8 mutants of RULES: not/True/False, 0 <= limit, limit < size, each chain link
# alone, 0 -> 1.
ALL_BOUNDARIES = """from mini.rules import clamp


def test_clamp():
    assert clamp(10, 5) == (5, "limit")
    assert clamp(10, 20) == (10, "size")
    assert clamp(10, 0) == (10, "size")
    assert clamp(10, 10) == (10, "limit")
    assert clamp(10, 1) == (1, "limit")
"""
WITHOUT_ONE_BYTE = ALL_BOUNDARIES.replace('    assert clamp(10, 1) == (1, "limit")\n', "")


def load_script():
    spec = importlib.util.spec_from_file_location("mutation_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


mutation_check = load_script()


def project(tmp_path: Path, tests: str, rules: str = RULES) -> Path:
    """tmp_path/src/mini/rules.py and tmp_path/tests/test_rules.py; returns the module."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # the rootdir, whatever is above
    package = tmp_path / "src" / "mini"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "rules.py").write_text(rules)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_rules.py").write_text(tests)
    return package / "rules.py"


@pytest.fixture(scope="module")
def pycache(tmp_path_factory) -> Path:
    """One bytecode cache for all the runs: pytest is compiled once, not once per test."""
    return tmp_path_factory.mktemp("pycache")


def environment(tmp_path: Path, pycache: Path) -> dict[str, str]:
    """The child's environment: the copy of mini, not tmp_path/src, must be what is imported."""
    return {
        **os.environ,
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTHONPATH": "",
        "PYTHONPYCACHEPREFIX": str(pycache),
        "TMPDIR": str(tmp_path / "scratch"),
    }


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check(tmp_path: Path, pycache: Path, module: Path, *tests: str) -> subprocess.CompletedProcess:
    """Run the script; the module must be byte-identical afterwards and no copy left behind."""
    (tmp_path / "scratch").mkdir(exist_ok=True)
    before = digest(module)
    args = [str(module.relative_to(tmp_path)), *(tests or ["tests/test_rules.py"])]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=tmp_path,
        env=environment(tmp_path, pycache),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert digest(module) == before
    assert list((tmp_path / "scratch").iterdir()) == []
    return proc


# -- end to end --------------------------------------------------------------------------------
def test_tests_that_kill_every_mutant_pass_the_check(tmp_path, pycache):
    proc = check(tmp_path, pycache, project(tmp_path, ALL_BOUNDARIES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rules.py: 8 mutants, 8 killed, 0 survived, 0 errors" in proc.stdout
    assert "survived:" not in proc.stdout


def test_a_surviving_mutant_fails_the_check_and_is_named(tmp_path, pycache):
    proc = check(tmp_path, pycache, project(tmp_path, WITHOUT_ONE_BYTE))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "survived: line 5: constant: 0 -> 1" in proc.stdout
    assert "8 mutants, 7 killed, 1 survived, 0 errors" in proc.stdout


def test_a_baseline_that_fails_stops_the_check(tmp_path, pycache):
    broken = ALL_BOUNDARIES.replace('(5, "limit")', '(6, "limit")')
    proc = check(tmp_path, pycache, project(tmp_path, broken))
    assert proc.returncode == 2
    assert proc.stdout.count("\n") == 1
    assert "the baseline fails, no mutant run: pytest exit 1 (tests failed)" in proc.stdout


def test_a_misspelt_test_path_is_a_baseline_failure_not_zero_survivors(tmp_path, pycache):
    proc = check(tmp_path, pycache, project(tmp_path, ALL_BOUNDARIES), "tests/test_rule.py")
    assert proc.returncode == 2
    assert "the baseline fails" in proc.stdout and "pytest exit 4 (usage error)" in proc.stdout
    assert "survived" not in proc.stdout


def test_tests_that_collect_nothing_are_a_baseline_failure(tmp_path, pycache):
    proc = check(tmp_path, pycache, project(tmp_path, "from mini.rules import clamp\n"))
    assert proc.returncode == 2
    assert "pytest exit 5 (no tests collected)" in proc.stdout


def test_tests_that_import_the_original_instead_of_the_copy_are_refused(tmp_path, pycache):
    """A sys.path insert in the tests would test the untouched source: every mutant "survives"
    or, worse, the mutants are never seen. The probe plugin notices."""
    bypass = f"import sys\nsys.path.insert(0, {str(tmp_path / 'src')!r})\n" + ALL_BOUNDARIES
    proc = check(tmp_path, pycache, project(tmp_path, bypass))
    assert proc.returncode == 2
    assert (
        "the tests imported mini.rules from" in proc.stdout and "not from the copy" in proc.stdout
    )


def test_a_mutant_that_breaks_collection_is_an_error_not_a_kill(tmp_path, pycache):
    strict = 'CHECKED = True\nif not CHECKED:\n    raise ImportError("unchecked")\n'
    tests = "from mini.rules import CHECKED\n\n\ndef test_checked():\n    assert CHECKED\n"
    proc = check(tmp_path, pycache, project(tmp_path, tests, rules=strict))
    assert proc.returncode == 2
    assert "error: line 2: condition: not CHECKED -> True: pytest exit 2" in proc.stdout
    # Forcing the guard False changes nothing: it survives, and is listed too.
    assert "survived: line 2: condition: not CHECKED -> False" in proc.stdout
    assert "rules.py: 3 mutants, 0 killed, 1 survived, 2 errors" in proc.stdout


def test_an_interrupted_check_leaves_the_source_and_no_copy(tmp_path, pycache):
    """Ctrl-C in the middle of the mutants: exit 130, the module untouched, no pytest left
    running in a deleted copy, the temporary directory gone."""
    slow = "import time\n" + ALL_BOUNDARIES.replace("():\n", "():\n    time.sleep(0.5)\n")
    module = project(tmp_path, slow)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = digest(module)
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "src/mini/rules.py", "tests/test_rules.py"],
        cwd=tmp_path,
        env=environment(tmp_path, pycache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C at a terminal, even when the tests run as a shell's background job (which
        # ignores SIGINT, and a child would inherit that).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not list(scratch.glob("*/worker-1/pytest.log")):  # worker-1 runs only mutants
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted, no result" in err
    assert digest(module) == before
    assert list(scratch.iterdir()) == []


# -- the pieces --------------------------------------------------------------------------------
def describe_all(source: str) -> set[str]:
    return {m.describe() for m in mutation_check.mutants(source)[0]}


def test_every_operator_mutates_what_it_says():
    source = (
        "import math\n"
        "def f(a, b, s):\n"
        "    x = math.ceil(a * b) + round(a / b) - a // b\n"
        "    if a is None and b in s:\n"
        "        return 0\n"
        "    return s.rstrip('/') == 'x' or False\n"
    )
    assert describe_all(source) == {
        "line 3: rounding: math.ceil(a * b) -> int(a * b)",
        "line 3: rounding: round(a / b) -> a / b",
        "line 3: arith: a * b -> a // b",
        "line 3: arith: a / b -> a * b",
        "line 3: arith: a // b -> a / b",
        "line 3: arith: math.ceil(a * b) + round(a / b) -> math.ceil(a * b) - round(a / b)",
        "line 3: arith: math.ceil(a * b) + round(a / b) - a // b -> "
        "math.ceil(a * b) + round(a / b) + a // b",
        "line 4: condition: a is None and b in s -> not (a is None and b in s)",
        "line 4: condition: a is None and b in s -> True",
        "line 4: condition: a is None and b in s -> False",
        "line 4: boolop: a is None and b in s -> a is None",
        "line 4: boolop: a is None and b in s -> b in s",
        "line 4: compare: a is None -> a is not None",
        "line 4: compare: b in s -> b not in s",
        "line 5: constant: 0 -> 1",
        "line 6: normalise: s.rstrip('/') -> s",
        "line 6: compare: s.rstrip('/') == 'x' -> s.rstrip('/') != 'x'",
        "line 6: boolop: s.rstrip('/') == 'x' or False -> False",
        "line 6: boolop: s.rstrip('/') == 'x' or False -> s.rstrip('/') == 'x'",
    }


def test_a_negatable_condition_is_mutated_once():
    """``not (a == b)`` and ``a != b`` are the same program: only the swap runs."""
    found = describe_all("def f(a, b):\n    if a == b:\n        return 1\n    return 2\n")
    assert "line 2: compare: a == b -> a != b" in found
    assert not any("not a == b" in m for m in found)


def test_each_write_of_a_mutant_gets_a_new_mtime_second(tmp_path):
    """``a == b`` -> ``a != b`` keeps the size; written within one second of the baseline, both
    would have the same (mtime seconds, size) key in the bytecode caches, and the baseline's
    .pyc would be imported: the mutant would "survive". Every write moves the mtime on."""
    target = tmp_path / "rules.py"
    worker = mutation_check.Worker(tmp_path, target, tmp_path / "pycache")
    stamps = []
    for source in ("return a == b\n", "return a != b\n", "return a == b\n"):
        worker.write(source)
        stamps.append(int(target.stat().st_mtime))
    assert stamps == sorted(set(stamps)) and len(stamps) == 3


def test_a_pragma_excludes_exactly_the_mutant_it_names():
    source = (
        "def f(a, b):\n"
        "    # mutation: equivalent boolop -> b because a is always true here\n"
        "    return a and b\n"
    )
    mutants, pragmas = mutation_check.mutants(source)
    assert [m.after for m in mutants] == ["a"]
    assert [(p.line, p.used) for p in pragmas] == [(3, 1)]


@pytest.mark.parametrize(
    "comment",
    [
        "# mutation: equivalent boolop -> c because there is no c",  # stale after a change
        "# mutation: equivalent, trust me",  # unreadable
    ],
)
def test_a_pragma_that_excludes_nothing_is_an_error(comment, capsys):
    source = f"def f(a, b):\n    return a and b  {comment}\n"
    mutants, pragmas = mutation_check.mutants(source)
    results = [("killed", "")] * len(mutants)
    assert mutation_check.report(Path("m.py"), mutants, results, pragmas) == 2
    out = capsys.readouterr().out
    assert "line 2: pragma" in out and "matches no mutant there" in out
    assert "2 mutants, 2 killed, 0 survived, 1 errors" in out


def test_a_missing_module_is_exit_2(tmp_path, capsys):
    assert mutation_check.main([str(tmp_path / "nope.py"), "tests"]) == 2
    assert "no such module" in capsys.readouterr().out
