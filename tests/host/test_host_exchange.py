"""Sender and receiver as two separate processes, for every transport, on the host.

These are the article's sender/receiver pods without Kubernetes: same commands, same
defaults, same failure modes (shared vs. different ftok file, missing file, no sender).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .ipc_harness import Ipc, sysv_keys

ARTICLE_TEXT = "This is the way the world ends..."
# Loose bound for "ended in roughly --timeout": generous for a loaded 2-core machine.
SLACK_S = 5.0


@dataclass(frozen=True)
class Transport:
    send: str
    recv: str
    sysv_kind: str | None  # "shm" / "sem" / "msg" for SysV, None for POSIX
    carries_text: bool = True


TRANSPORTS = {
    "sysv-shm": Transport("sysv-shm-send", "sysv-shm-recv", "shm"),
    "sysv-sem": Transport("sysv-sem-post", "sysv-sem-wait", "sem", carries_text=False),
    "sysv-msg": Transport("sysv-msg-send", "sysv-msg-recv", "msg"),
    "posix-shm": Transport("posix-shm-send", "posix-shm-recv", None),
    "posix-mq": Transport("posix-mq-send", "posix-mq-recv", None),
}
SYSV = [k for k, t in TRANSPORTS.items() if t.sysv_kind]
TEXT = [k for k, t in TRANSPORTS.items() if t.carries_text]


def address(t: Transport, ftok_file: Path, name: str) -> list[str]:
    """The flags that make sender and receiver meet on one object."""
    if t.sysv_kind:
        return ["--ftok-path", str(ftok_file)]
    if t.send == "posix-shm-send":
        return ["--name", name, "--sem-name", f"{name}-sem"]
    return ["--name", name]


def remove_args(t: Transport, key: int | None, name: str) -> list[str]:
    """ipc-remove arguments for whatever the sender of ``t`` created."""
    if t.sysv_kind:
        return ["ipc-remove", "--key", str(key), "--sysv-kind", t.sysv_kind]
    if t.send == "posix-shm-send":
        return ["ipc-remove", "--shm-name", name, "--sem-name", f"{name}-sem"]
    return ["ipc-remove", "--mq-name", name]


@pytest.fixture
def cleanup(ipc: Ipc) -> Iterator[list[list[str]]]:
    """ipc-remove argument lists to run after the test, even when it failed."""
    pending: list[list[str]] = []
    yield pending
    for args in pending:
        assert ipc(*args).rc == 0


@pytest.mark.parametrize("order", ["receiver-first", "sender-first"])
@pytest.mark.parametrize("name", list(TRANSPORTS))
def test_exchange_through_shared_object(
    ipc: Ipc, ftok_file: Path, unique_name: str, cleanup: list, name: str, order: str
) -> None:
    t = TRANSPORTS[name]
    addr = address(t, ftok_file, unique_name)
    expect = ["--expect", ARTICLE_TEXT] if t.carries_text else []
    recv_args = (t.recv, *addr, *expect, "--timeout", "20")
    if order == "receiver-first":
        receiver = ipc.start(*recv_args)
        time.sleep(0.3)  # let the receiver reach its polling loop first
        sent = ipc(t.send, *addr)
        got = receiver.finish()
    else:  # the article's order: the sender writes and exits, the receiver comes later
        sent = ipc(t.send, *addr)
        got = ipc(*recv_args)
    cleanup.append(remove_args(t, sent.doc.get("key"), unique_name))

    assert sent.rc == 0, sent.doc
    assert got.rc == 0, got.doc
    if t.carries_text:
        assert got.doc["text"] == ARTICLE_TEXT
    if t.sysv_kind:
        assert got.doc["key"] == sent.doc["key"]
        assert got.doc["key_hex"] == sent.doc["key_hex"]


def test_ftok_path_from_env_like_the_article_pods(ipc: Ipc, ftok_file: Path, cleanup: list) -> None:
    env = {"FTOK_PATH": str(ftok_file)}
    sent = ipc("sysv-shm-send", env=env)
    cleanup.append(remove_args(TRANSPORTS["sysv-shm"], sent.doc.get("key"), ""))
    got = ipc("sysv-shm-recv", "--timeout", "10", env=env)
    assert (sent.rc, got.rc) == (0, 0), (sent.doc, got.doc)
    assert got.doc["ftok_path_source"] == "env"
    assert got.doc["text"] == ARTICLE_TEXT


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[Path, Path]:
    """The same name in two directories: what two containers without a shared volume see."""
    files = tmp_path / "sender" / "me", tmp_path / "receiver" / "me"
    for path in files:
        path.parent.mkdir()
        path.touch()
    return files


@pytest.mark.parametrize("name", SYSV)
def test_different_files_give_different_keys(
    ipc: Ipc, two_files: tuple[Path, Path], cleanup: list, name: str
) -> None:
    """Same path, different inode (two containers without a shared volume): no meeting."""
    t = TRANSPORTS[name]
    sender_file, receiver_file = two_files
    sent = ipc(t.send, "--ftok-path", str(sender_file))
    cleanup.append(remove_args(t, sent.doc.get("key"), ""))
    got = ipc(t.recv, "--ftok-path", str(receiver_file), "--timeout", "1")

    assert sent.rc == 0, sent.doc
    assert got.rc == 3, got.doc
    assert got.doc["key"] != sent.doc["key"]
    assert got.doc["ftok_st_ino"] != sent.doc["ftok_st_ino"]
    assert "inode" in got.error["reason"]
    assert got.doc["key"] not in sysv_keys(t.sysv_kind)  # the receiver created nothing


@pytest.mark.parametrize("name", SYSV)
def test_a_receiver_given_the_senders_key_fails_at_once_on_another(
    ipc: Ipc, two_files: tuple[Path, Path], cleanup: list, name: str
) -> None:
    """--expect-key: a different file behind the path ends the wait before it starts (exit 4);
    the same file passes and the exchange happens."""
    t = TRANSPORTS[name]
    sender_file, other_file = two_files
    sent = ipc(t.send, "--ftok-path", str(sender_file))
    cleanup.append(remove_args(t, sent.doc.get("key"), ""))
    assert sent.rc == 0, sent.doc
    expect_key = ("--expect-key", sent.doc["key_hex"])

    other = ipc(t.recv, "--ftok-path", str(other_file), *expect_key, "--timeout", "10")
    assert other.rc == 4, other.doc
    assert other.error["reason"].startswith("different keys:"), other.error
    assert sent.doc["key_hex"] in other.error["reason"] and other.doc["key"] != sent.doc["key"]
    assert other.wall_s < 10  # ended before the timeout it was given
    same = ipc(t.recv, "--ftok-path", str(sender_file), *expect_key, "--timeout", "10")
    assert same.rc == 0, same.doc


SYSV_COMMANDS = [cmd for k in SYSV for cmd in (TRANSPORTS[k].send, TRANSPORTS[k].recv)]


@pytest.mark.parametrize("via_env", [False, True], ids=["flag", "env"])
@pytest.mark.parametrize("command", SYSV_COMMANDS)
def test_missing_ftok_file_fails_fast(
    ipc: Ipc, tmp_path: Path, command: str, via_env: bool
) -> None:
    """Unlike the article's C receiver, which looped forever waiting 5 s per try."""
    missing = str(tmp_path / "not-shared" / "me")
    if via_env:
        run = ipc(command, "--timeout", "10", env={"FTOK_PATH": missing})
    else:
        run = ipc(command, "--ftok-path", missing, "--timeout", "10")
    assert run.rc == 1, run.doc
    assert run.error["errno"] == "ENOENT"
    assert "volume" in run.error["reason"]
    assert run.wall_s < 10  # ended before the timeout it was given


@pytest.mark.parametrize("name", list(TRANSPORTS))
def test_receiver_times_out_without_sender(
    ipc: Ipc, ftok_file: Path, unique_name: str, name: str
) -> None:
    t = TRANSPORTS[name]
    got = ipc(t.recv, *address(t, ftok_file, unique_name), "--timeout", "1")
    assert got.rc == 3, got.doc
    assert got.error["errno"] == "ENOENT"
    assert "within 1.0s" in got.error["reason"]
    assert got.wall_s < 1 + SLACK_S
    if t.sysv_kind:
        assert got.doc["key"] not in sysv_keys(t.sysv_kind)
    assert not [p for p in Path("/dev/shm").iterdir() if unique_name in p.name]


@pytest.mark.parametrize("name", TEXT)
def test_content_mismatch_exits_4(
    ipc: Ipc, ftok_file: Path, unique_name: str, cleanup: list, name: str
) -> None:
    t = TRANSPORTS[name]
    addr = address(t, ftok_file, unique_name)
    sent = ipc(t.send, *addr)
    cleanup.append(remove_args(t, sent.doc.get("key"), unique_name))
    got = ipc(t.recv, *addr, "--expect", "something else", "--timeout", "10")
    assert sent.rc == 0, sent.doc
    assert got.rc == 4, got.doc
    assert (got.doc["text"], got.doc["match"]) == (ARTICLE_TEXT, False)


def test_sigterm_during_linger_still_cleans_up(ipc: Ipc, unique_name: str) -> None:
    """A pod shutdown (SIGTERM) while the writer lingers must not leak its objects."""
    names = ["--name", unique_name, "--sem-name", f"{unique_name}-sem"]
    writer = ipc.start("posix-shm-send", *names, "--linger", "30", "--cleanup")
    shm_file = Path("/dev/shm") / unique_name
    deadline = time.monotonic() + 20
    while not shm_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shm_file.exists(), "the writer never created its object"
    writer.proc.terminate()
    run = writer.finish()
    assert run.rc == 1, run.doc
    assert run.error["errno"] == "EINTR"
    assert run.doc["removed"] is True
    assert not shm_file.exists()
