"""The CLI contract itself: JSON on bad usage, help text, and what podshm.ipc may import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import podshm.ipc

from .ipc_harness import Ipc

ALLOWED_THIRD_PARTY = {"sysv_ipc", "posix_ipc"}


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        ([], None),
        (["no-such-command"], None),
        (["sysv-shm-recv", "--no-such-flag"], "sysv-shm-recv"),
        (["sysv-shm-recv", "--ftok-path", "/x", "--timeout", "-1"], "sysv-shm-recv"),
        (["sysv-shm-recv", "--ftok-path", "/x", "--proj-id", "0"], "sysv-shm-recv"),
        (["sysv-shm-recv"], "sysv-shm-recv"),  # no --ftok-path and no $FTOK_PATH
        (["posix-shm-recv", "--name", "a/b"], "posix-shm-recv"),
        (["posix-mq-send", "--text", "x" * 2000], "posix-mq-send"),
        (["shm-fill"], "shm-fill"),  # neither --bytes nor --until-full
        (["ipc-remove"], "ipc-remove"),  # nothing to remove
    ],
)
def test_bad_usage_exits_2_with_json(ipc: Ipc, argv: list[str], command: str | None) -> None:
    run = ipc(*argv)  # the harness asserts the single JSON line on stdout
    assert run.rc == 2, run.doc
    assert run.doc["command"] == command
    assert run.doc["ok"] is False
    assert run.error["reason"].startswith("bad usage")


def test_help_lists_commands_and_exit_codes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "podshm.ipc", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert "exit codes" in proc.stdout
    assert "sysv-shm-recv" in proc.stdout


def _imports(path: Path) -> set[str]:
    """Top-level modules imported by one source file; relative imports must stay inside."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level <= 1, f"{path.name} imports outside podshm.ipc"
            if node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_package_imports_only_stdlib_sysv_ipc_and_posix_ipc() -> None:
    """The test image has Python + sysv_ipc + posix_ipc only: no kubernetes, yaml, pytest."""
    sources = sorted(Path(podshm.ipc.__file__).parent.glob("*.py"))
    used = set().union(*(_imports(path) for path in sources))
    third_party = used - set(sys.stdlib_module_names) - {"__future__"}
    assert third_party == ALLOWED_THIRD_PARTY


def test_import_at_runtime_pulls_in_nothing_else() -> None:
    script = (
        "import sys; before = set(sys.modules)\n"
        "import podshm.ipc.cli\n"
        "podshm.ipc.parser.build_parser()\n"  # every command, so every module
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        # __mp_main__ is multiprocessing's alias of __main__ (spawn.py sets it on import, the
        # loader uses multiprocessing): the same module object, nothing loaded from disk.
        "new.discard('__mp_main__')\n"
        "print(sorted(new - set(sys.stdlib_module_names)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "['podshm', 'posix_ipc', 'sysv_ipc']"


@pytest.mark.parametrize(
    ("argv", "imported", "not_imported"),
    [
        (["shm-info"], {"shmfs"}, {"sysv", "posix", "loader", "peers.batch", "cleanup"}),
        (
            ["sysv-shm-recv", "--ftok-path", "/nonexistent/me", "--timeout", "0"],
            {"sysv", "ftok"},
            {"posix", "loader", "peers.batch", "peers.peer", "shmfs", "cleanup", "listing"},
        ),
        (["posix-mq-recv", "--timeout", "0"], {"posix"}, {"sysv", "loader", "peers.batch"}),
    ],
)
def test_a_run_imports_only_its_commands_modules(
    argv: list[str], imported: set[str], not_imported: set[str]
) -> None:
    """Every helper exec is a fresh Python: a command imports its own module, not the others
    (the loader's multiprocessing and the benchmark peers were most of a short run's start)."""
    script = (
        "import io, contextlib, sys\n"
        "from podshm.ipc.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()): main({argv!r})\n"
        "print(' '.join(m.removeprefix('podshm.ipc.') for m in sys.modules "
        "if m.startswith('podshm.ipc.')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded = set(proc.stdout.split())
    assert imported <= loaded and not loaded & not_imported, sorted(loaded)
