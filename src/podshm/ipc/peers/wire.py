"""The benchmark's wire protocol, shared with images/ipcbench/ipcbench.c byte for byte.

Both peers (C and Python) frame, name and rendezvous identically, so a C server and a Python
client can talk to each other: that is how the tests prove the two implementations measure
the same thing. Change this file and the C program together (and bump ``PROTOCOL``).
"""

from __future__ import annotations

import functools
import os
import struct
import time
import zlib
from collections.abc import Callable

from ..result import EXIT_IPC_FAILED, EXIT_MISMATCH, CommandFailed

PROTOCOL = 1
TRANSPORTS = ("tcp", "uds", "fifo", "posix-shm", "sysv-shm", "posix-mq", "sysv-mq")
MODES = ("lat", "thr")
ROLES = ("server", "client")

HEADER = struct.Struct("<QII")  # seq, MAGIC | flags, size
TRAILER = struct.Struct("<Q")  # seq again, in the last 8 bytes: catches torn stream reads
MAGIC = 0x50440000
FLAG_STOP = 1
MIN_SIZE = 32
MAX_SIZE = 64 << 20
MQ_MAX_SIZE = 8192
"""fs.mqueue.msgsize_max and kernel.msgmax defaults: what an unprivileged pod may send."""
RING_BYTES = 65536
"""Bytes of an shm ring per direction in thr mode: a pipe's default capacity."""
RING_MAX_SLOTS = 1024
MQ_DEPTH = 10
"""fs.mqueue.msg_max default: unprivileged processes cannot create deeper POSIX queues."""
SEM_SUFFIXES = ("c2s-full", "c2s-free", "s2c-full", "s2c-free")
C2S, S2C = 0, 1
READY_HEADER = f"podshm-ipcbench-ready {PROTOCOL}\n"
READY_POLL_S = 0.0005


def max_size(transport: str) -> int:
    """Largest message the transport takes without raising a sysctl."""
    return MQ_MAX_SIZE if transport.endswith("-mq") else MAX_SIZE


def ring_slots(size: int, lat: bool) -> int:
    """Slots per direction: one for ping-pong, a 64 KiB ring (2..1024 slots) for throughput."""
    if lat:
        return 1
    return max(2, min(RING_MAX_SLOTS, RING_BYTES // size))


def posix_name(tag: str, suffix: str = "") -> str:
    """POSIX shm/semaphore/queue name of one run: ``/podshm-b-<tag>[-<suffix>]``."""
    return f"/podshm-b-{tag}" + (f"-{suffix}" if suffix else "")


@functools.lru_cache(maxsize=4)
def _ramp(length: int) -> bytes:
    return (bytes(range(256)) * (length // 256 + 1))[:length]


def pattern(seq: int, size: int) -> bytes:
    """Payload bytes of message ``seq`` for ``--verify full``: byte j is (seq + j) mod 256."""
    start = (seq + HEADER.size) & 0xFF
    length = size - HEADER.size - TRAILER.size
    return _ramp(length + 256)[start : start + length]


def stamp(buf: bytearray, seq: int, flags: int, full: bool) -> None:
    """Write header and trailer (and the payload pattern if ``full``) into ``buf``."""
    size = len(buf)
    HEADER.pack_into(buf, 0, seq, MAGIC | flags, size)
    TRAILER.pack_into(buf, size - TRAILER.size, seq)
    if full:
        buf[HEADER.size : size - TRAILER.size] = pattern(seq, size)


def check(buf: bytes | bytearray | memoryview, want: int, size: int, full: bool) -> int:
    """Verify a received message is number ``want``; returns its flags, exit 4 otherwise."""
    seq, word, got_size = HEADER.unpack_from(buf, 0)
    if word & 0xFFFF0000 != MAGIC or got_size != size:
        raise mismatch(f"message {want}: bad header (flags {word:#010x}, size {got_size})")
    (tail,) = TRAILER.unpack_from(buf, size - TRAILER.size)
    if seq != want or tail != want:
        raise mismatch(
            f"message {want}: header seq {seq}, trailer seq {tail} "
            "(lost, reordered or torn message)"
        )
    if full and bytes(buf[HEADER.size : size - TRAILER.size]) != pattern(seq, size):
        raise mismatch(f"message {seq}: payload differs from the pattern")
    return word & 0xFFFF


def mismatch(reason: str) -> CommandFailed:
    """Exit 4: something arrived, but not the message that was sent."""
    return CommandFailed(EXIT_MISMATCH, reason, message="content mismatch")


def crc(previous: int, buf: bytes | bytearray | memoryview) -> int:
    """Chained CRC-32 (zlib's), the same function the C peer reports."""
    return zlib.crc32(buf, previous)


def ready_path(directory: str, tag: str) -> str:
    """Where the server announces that its objects exist."""
    return os.path.join(directory, f"{tag}.ready")


def publish(directory: str, tag: str, values: dict[str, str]) -> str:
    """Write the ready file atomically (temporary name + rename); returns its path."""
    path = ready_path(directory, tag)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(READY_HEADER + "".join(f"{k}={v}\n" for k, v in values.items()))
    os.replace(tmp, path)
    return path


def wait_ready(directory: str, tag: str, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Poll for the server's ready file (the run's timer bounds the wait); its key=value lines."""
    path = ready_path(directory, tag)
    while True:
        try:
            with open(path) as f:
                text = f.read()
            break
        except FileNotFoundError:
            sleep(READY_POLL_S)
    if not text.startswith(READY_HEADER):
        raise CommandFailed(
            EXIT_IPC_FAILED, f"{path} is not a protocol {PROTOCOL} ready file", errno="EPROTO"
        )
    return dict(line.split("=", 1) for line in text[len(READY_HEADER) :].splitlines() if line)
