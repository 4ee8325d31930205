"""Test-side harness for the host tests: run podshm-ipc, check its contract, track objects.

Every object the tests create carries this run's prefix (POSIX names) or is recorded by key
(SysV, taken from the commands' own JSON), so leaks can be found and purged at the end.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import posix_ipc
import sysv_ipc

RUN_PREFIX = f"podshm-test-{os.getpid()}-"
COUNTER = itertools.count()


@dataclass
class Run:
    """One finished podshm-ipc process: exit code, its JSON object, stderr, wall time."""

    rc: int
    doc: dict[str, Any]
    stderr: str
    wall_s: float

    @property
    def error(self) -> dict[str, Any]:
        return self.doc.get("error") or {}


@dataclass
class Tracker:
    """What this test run created: SysV keys and POSIX queue names (not visible in /dev/shm)."""

    keys: set[int] = field(default_factory=set)
    mq_names: set[str] = field(default_factory=set)

    def note(self, args: tuple[str, ...], doc: dict[str, Any]) -> None:
        if isinstance(doc.get("key"), int):
            self.keys.add(doc["key"])
        if args and args[0].startswith("posix-mq") and "--name" in args:
            self.mq_names.add("/" + args[args.index("--name") + 1].lstrip("/"))


def _parse(args: tuple[str, ...], proc_rc: int, stdout: str, stderr: str) -> dict[str, Any]:
    """Enforce the output contract on every run: exactly one JSON object on one line."""
    lines = stdout.splitlines()
    assert len(lines) == 1, f"{args}: expected one stdout line, got {stdout!r} (stderr {stderr!r})"
    doc = json.loads(lines[0])
    assert isinstance(doc, dict), doc
    assert {"command", "ok", "elapsed_s"} <= doc.keys(), doc
    assert doc["ok"] is (proc_rc == 0), f"ok={doc['ok']} but exit code {proc_rc}: {doc}"
    if proc_rc != 0:
        assert doc["error"]["reason"], doc
    return doc


class Started:
    """A podshm-ipc process running in the background (a receiver waiting for its sender)."""

    def __init__(self, ipc: Ipc, args: tuple[str, ...], env: dict[str, str]) -> None:
        self._ipc, self.args, self.started = ipc, args, time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "podshm.ipc", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def finish(self, limit_s: float = 30) -> Run:
        stdout, stderr = self.proc.communicate(timeout=limit_s)
        wall = time.monotonic() - self.started
        doc = _parse(self.args, self.proc.returncode, stdout, stderr)
        self._ipc.tracker.note(self.args, doc)
        return Run(self.proc.returncode, doc, stderr, wall)


class Ipc:
    """Runs ``python -m podshm.ipc`` with a clean environment (no inherited FTOK_PATH)."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.background: list[Started] = []

    def _env(self, env: dict[str, str] | None) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k != "FTOK_PATH"}
        return {**base, **(env or {})}

    def start(self, *args: str, env: dict[str, str] | None = None) -> Started:
        started = Started(self, args, self._env(env))
        self.background.append(started)
        return started

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Run:
        return self.start(*args, env=env).finish()

    def kill_leftovers(self) -> None:
        for started in self.background:
            if started.proc.poll() is None:
                started.proc.kill()
                started.proc.communicate()


def sysv_keys(kind: str) -> set[int]:
    """Keys currently listed in /proc/sysvipc/<kind>."""
    lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
    return {int(line.split()[0]) for line in lines}


def leftovers(tracker: Tracker) -> list[str]:
    found = [
        f"sysv {kind} key {key:#x}"
        for kind in ("shm", "sem", "msg")
        for key in sysv_keys(kind) & tracker.keys
    ]
    for directory in ("/dev/shm", "/dev/mqueue"):
        if os.path.isdir(directory):
            found += [f"{directory}/{n}" for n in os.listdir(directory) if RUN_PREFIX in n]
    for name in sorted(tracker.mq_names):  # /dev/mqueue is usually not mounted on the host
        try:
            posix_ipc.MessageQueue(name).close()
            found.append(f"posix mq {name}")
        except posix_ipc.ExistentialError:
            pass
    return found


def purge(tracker: Tracker) -> None:
    """Best-effort removal of leaks so a failing run does not pollute the host."""
    removers = (
        sysv_ipc.remove_shared_memory,
        sysv_ipc.remove_semaphore,
        sysv_ipc.remove_message_queue,
    )
    for kind, remove in zip(("shm", "sem", "msg"), removers, strict=True):
        for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]:
            key, ipc_id = (int(v) for v in line.split()[:2])
            if key in tracker.keys:
                remove(ipc_id)
    for name in os.listdir("/dev/shm"):
        if RUN_PREFIX in name:
            os.unlink(f"/dev/shm/{name}")
    for name in tracker.mq_names:
        with contextlib.suppress(posix_ipc.ExistentialError):
            posix_ipc.unlink_message_queue(name)
