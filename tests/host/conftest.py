"""Host fixtures: real podshm-ipc subprocesses, real mounts, and a session-wide leak check."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .ipc_harness import COUNTER, RUN_PREFIX, Ipc, Tracker, leftovers, purge


@pytest.fixture(scope="session", autouse=True)
def tracker() -> Iterator[Tracker]:
    """Session-wide record of created objects, checked for leaks after the last test."""
    tracker = Tracker()
    yield tracker
    leaked = leftovers(tracker)
    purge(tracker)
    if leaked:
        pytest.fail(f"host tests leaked IPC objects (now removed): {leaked}", pytrace=False)


@pytest.fixture
def ipc(tracker: Tracker) -> Iterator[Ipc]:
    """Runs podshm-ipc subprocesses; kills any a failed test left running."""
    runner = Ipc(tracker)
    yield runner
    runner.kill_leftovers()


@pytest.fixture
def unique_name() -> str:
    """A POSIX-style name no other test (or earlier run) uses."""
    return f"{RUN_PREFIX}{next(COUNTER)}"


@pytest.fixture
def ftok_file(tmp_path: Path) -> Path:
    """A fresh ftok file: its own inode, hence its own SysV key."""
    path = tmp_path / "me"
    path.touch()
    return path


def _mount(fs_type: str, options: str, target: Path) -> None:
    """Mount or fail loudly: these tests need real tmpfs/mqueue mounts, hence root."""
    target.mkdir(exist_ok=True)
    cmd = ["mount", "-t", fs_type, "-o", options, fs_type, str(target)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.fail(
            f"`{' '.join(cmd)}` failed ({proc.stderr.strip()}): the host tests must run as root "
            "(CAP_SYS_ADMIN) to mount a real file system",
            pytrace=False,
        )


@pytest.fixture
def tmpfs_4m(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB tmpfs, the small cousin of the runtime's 64 MiB /dev/shm."""
    target = tmp_path / "tmpfs"
    _mount("tmpfs", "size=4m", target)
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


@pytest.fixture
def mqueue_dir(tmp_path: Path) -> Iterator[Path]:
    """An mqueue mount (the host has none on /dev/mqueue) so queues show up as files."""
    target = tmp_path / "mqueue"
    _mount("mqueue", "rw", target)
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)
