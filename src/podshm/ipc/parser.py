"""The command table of ``podshm-ipc``: every command, its handler and its flags, plus the flag
groups and value types they share. :mod:`podshm.ipc.argv` reads a command line against it.

Each command's module (and its flags' constants) is imported only when that command runs:
every helper exec is a fresh Python, and importing all of them cost more than its start.
"""

from __future__ import annotations

import math

from .common import DEFAULT_TEXT
from .result import DEFAULT_POLL_S, DEFAULT_TIMEOUT_S

TYPE_CHECKING = False  # see result.py: no typing import at run time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Flag = tuple[tuple[str, ...], dict[str, Any]]

PROG = "podshm-ipc"
EPILOG = """\
Every command prints exactly one JSON object on one line of stdout, also on errors and bad
usage, with at least "command", "ok", "elapsed_s", and "error" {errno, message, reason} on
failure. Only --help prints plain text.

exit codes: 0 ok | 1 IPC/file-system call failed | 2 bad usage | 3 timed out | 4 mismatch

Senders create and own objects (--cleanup removes them after --linger seconds); receivers
never create objects and wait at most --timeout seconds. The article's memwriter is
`posix-shm-send --linger 12 --cleanup`; its sender/receiver pods set FTOK_PATH=/shared/me.
"""


def _type_error(message: str) -> Exception:
    """argparse's ArgumentTypeError (argparse is imported only when a value is refused)."""
    import argparse

    return argparse.ArgumentTypeError(message)


def _checked(
    convert: Callable[[str], Any], ok: Callable[[Any], bool], what: str
) -> Callable[[str], Any]:
    """An argparse type whose error says what was expected instead of "invalid value"."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise _type_error(f"{text!r} is not {what}")
        return value

    return parse


def csv_of(item: Callable[[str], Any], what: str) -> Callable[[str], tuple]:
    """An argparse type for a comma-separated list whose items ``item`` checks one by one."""

    def parse(text: str) -> tuple:
        values = tuple(item(part) for part in text.split(",") if part)
        if not values:
            raise _type_error(f"{text!r} is not a list of {what}")
        return values

    return parse


def one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    """An argparse type accepting exactly these words (usable inside :func:`csv_of`)."""
    return _checked(str, lambda v: v in choices, "one of " + ", ".join(choices))


def message_size(text: str) -> int:
    """argparse type of a benchmark message size (``podshm bench --sizes`` uses it too)."""
    from .peers.wire import MIN_SIZE

    return int(_checked(int, lambda v: v >= MIN_SIZE, f"a message size >= {MIN_SIZE} bytes")(text))


def _parse_size(text: str) -> int | None:
    from .mounts import parse_size

    return parse_size(text)


def _parse_key(text: str) -> int:
    from .ftok import parse_key

    return parse_key(text)


def _posix_name(text: str) -> str:
    from .posix import posix_name

    return posix_name(text)


def _is_run_id(text: str) -> bool:
    """``[a-z0-9][a-z0-9-]{0,39}``."""
    allowed = "abcdefghijklmnopqrstuvwxyz0123456789"
    return 0 < len(text) <= 40 and text[0] in allowed and all(c in allowed + "-" for c in text[1:])


_seconds = _checked(float, lambda v: math.isfinite(v) and v >= 0, "a number of seconds >= 0")
_size = _checked(_parse_size, lambda v: v > 0, "a byte count > 0 like 4194304 or 4m")
_proj_id = _checked(lambda t: int(t, 0), lambda v: 1 <= v <= 255, "a proj id in 1..255")
_octal = _checked(lambda t: int(t, 8), lambda v: 0 <= v <= 0o7777, "an octal mode like 666")
_msg_type = _checked(int, lambda v: v > 0, "a message type > 0")
_key = _checked(_parse_key, lambda v: v != 0, "a non-zero 32-bit key (decimal or 0x hex)")
_count = _checked(int, lambda v: v >= 0, "a count >= 0 (0: until --budget)")
_positive = _checked(int, lambda v: v > 0, "a count > 0")
_cpu = _checked(int, lambda v: v >= -1, "a CPU number (-1: not pinned)")
_run_id = _checked(str, _is_run_id, "a run id [a-z0-9-]")


def _flag(*names: str, **kwargs: Any) -> Flag:
    return names, kwargs


_WAIT = [
    _flag("--timeout", type=_seconds, default=DEFAULT_TIMEOUT_S, help="max wait, s (%(default)s)"),
    _flag("--poll-interval", type=_seconds, default=DEFAULT_POLL_S, help="s between polls"),
]


def _proj_id_flag() -> Flag:
    from .ftok import DEFAULT_PROJ_ID

    return _flag("--proj-id", type=_proj_id, default=DEFAULT_PROJ_ID, help="ftok id (%(default)s)")


def _ftok() -> list[Flag]:
    return [_flag("--ftok-path", help="file given to ftok(); default $FTOK_PATH"), _proj_id_flag()]


_RECV = [_flag("--expect", help="exit 4 unless exactly this text is read")]


def _send(remove_alias: str, mode: str) -> list[Flag]:
    return [
        _flag("--text", default=DEFAULT_TEXT, help="default %(default)r"),
        _flag("--linger", type=_seconds, default=0.0, help="stay alive s after sending"),
        _flag("--cleanup", remove_alias, action="store_true", help="remove objects at exit"),
        _flag("--mode", type=_octal, default=int(mode, 8), help=f"create mode ({mode})"),
    ]


_SYSV_SEND = [
    *_send("--remove", "666"),
    _flag("--create-ftok-file", action="store_true", help="create a missing ftok file"),
]
_POSIX_SEND = _send("--unlink", "644")


# Flags that need a command module's constants are built when that command runs.
def _shm_names() -> list[Flag]:
    from . import posix

    return [
        _flag("--name", type=_posix_name, default=posix.DEFAULT_SHM_NAME),
        _flag("--sem-name", type=_posix_name, default=posix.DEFAULT_SEM_NAME),
    ]


def _mq_name() -> list[Flag]:
    from . import posix

    return [_flag("--name", type=_posix_name, default=posix.DEFAULT_MQ_NAME)]


def _select() -> list[Flag]:
    from . import listing

    return [
        _flag("--prefix", help="POSIX names starting with this (leading / optional)"),
        _flag("--key", type=_key, action="append", help="SysV key, repeatable (0x.. or int)"),
        _flag("--shm-dir", default=listing.SHM_DIR),
        _flag("--mqueue-dir", default=listing.MQUEUE_DIR),
    ]


def _bench_run() -> list[Flag]:
    return [
        _flag("--budget", type=_seconds, default=0.1, help="s the client sends (%(default)s)"),
        _flag("--warmup", type=_seconds, default=0.0, help="s not measured at the start"),
        _flag("--count", type=_count, default=0, help="stop after N measured messages"),
        _flag("--verify", choices=("seq", "full"), default="seq", help="full: every byte + CRC"),
    ]


def _ipcbench() -> Flag:
    from .peers import batch

    return _flag("--ipcbench", default=batch.DEFAULT_IPCBENCH, help="the C inner loop")


def _sysv_shm_send() -> list[Flag]:
    from . import sysv

    return [*_ftok(), *_SYSV_SEND, *_WAIT, _flag("--size", type=_size, default=sysv.SHM_SIZE)]


def _posix_shm_send() -> list[Flag]:
    from . import posix

    size = _flag("--size", type=_size, default=posix.SHM_SIZE)
    return [*_shm_names(), *_POSIX_SEND, *_WAIT, size]


def _ipc_remove() -> list[Flag]:
    from . import listing

    return [
        *_select(),
        _flag("--ftok-path", help="remove the SysV objects of ftok(path, --proj-id)"),
        _proj_id_flag(),
        _flag("--sysv-kind", choices=listing.SYSV_KINDS, action="append", help="default all"),
        _flag("--shm-name", type=_posix_name, action="append", help="repeatable"),
        _flag("--sem-name", type=_posix_name, action="append", help="repeatable"),
        _flag("--mq-name", type=_posix_name, action="append", help="repeatable"),
    ]


def _bench_peer() -> list[Flag]:
    from .peers.wire import MODES, ROLES, TRANSPORTS

    return [
        _flag("--transport", choices=TRANSPORTS, required=True),
        _flag("--role", choices=ROLES, required=True),
        _flag("--mode", choices=MODES, required=True, help="lat: ping-pong, thr: stream"),
        _flag("--size", type=message_size, default=64, help="message bytes (%(default)s)"),
        _flag("--dir", required=True, help="shared directory: ready file, socket, FIFOs"),
        _flag("--tag", required=True, help="names this run's objects (same on both sides)"),
        *_bench_run(),
        _flag("--cpu", type=_cpu, default=-1, help="pin to this CPU (-1: not pinned)"),
        _flag("--timeout", type=_seconds, default=10.0, help="bound of the whole run, s"),
    ]


def _bench_batch() -> list[Flag]:
    from .peers import batch
    from .peers.wire import MODES, ROLES, TRANSPORTS

    return [
        _flag("--role", choices=ROLES, required=True),
        _flag("--dir", required=True, help="shared directory: ready files, sockets, FIFOs"),
        _flag("--run", type=_run_id, required=True, help="cell tags are <run>-<index>"),
        _flag("--transports", type=csv_of(one_of(TRANSPORTS), "transports"), required=True),
        _flag("--sizes", type=csv_of(message_size, "sizes"), default=(64,)),
        _flag("--modes", type=csv_of(one_of(MODES), "modes"), default=MODES),
        _flag("--impls", type=csv_of(one_of(batch.IMPLS), "impls"), default=("c",)),
        _flag(
            "--placements",
            type=csv_of(one_of(batch.PLACEMENTS), "placements"),
            default=("none",),
        ),
        _flag("--cpus", type=csv_of(_cpu, "CPUs"), default=(), help="A,B: first, second CPU"),
        *_bench_run(),
        _flag("--cell-timeout", type=_seconds, default=10.0, help="bound of one cell, s"),
        _flag("--timeout", type=_seconds, default=300.0, help="bound of the batch, s"),
        _ipcbench(),
    ]


def _shm_fill() -> list[Flag]:
    return [
        _flag("--dir", default="/dev/shm"),
        _flag("--bytes", type=_size, help="stop after this many bytes (4194304, 4m)"),
        _flag("--until-full", action="store_true", help="stop at ENOSPC/EDQUOT (= ok)"),
        _flag("--block", type=_size, default=1 << 20, help="write() size"),
        _flag("--keep", action="store_true", help="leave the file in place"),
        _flag("--name", help="file name in --dir (default podshm-fill-<pid>)"),
        _flag("--max-bytes", type=_size, default=2 << 30, help="--until-full refuses above"),
        _WAIT[0],
    ]


def _shm_loader() -> list[Flag]:
    from . import loader

    return [
        _flag("--batch-bytes", type=_size, default=loader.DEFAULT_BATCH_BYTES),
        _flag("--batches", type=_positive, default=4, help="batches in all (%(default)s)"),
        _flag("--workers", type=_positive, default=2, help="worker processes"),
        _flag("--timeout", type=_seconds, default=120.0, help="bound of the run, s"),
    ]


# name -> ("module:function" of the handler, help, its flags); every flag of a command is
# listed, in --help order.
COMMANDS: dict[str, tuple[str, str, Callable[[], list[Flag]]]] = {
    "sysv-shm-send": (
        "sysv:shm_send",
        "shmget(IPC_CREAT)+write the text: the article's sender",
        _sysv_shm_send,
    ),
    "sysv-shm-recv": (
        "sysv:shm_recv",
        "wait for the segment, read its text: the article's receiver",
        lambda: [*_ftok(), *_RECV, *_WAIT],
    ),
    "sysv-sem-post": (
        "sysv:sem_post",
        "create/open a SysV semaphore, post it",
        lambda: [*_ftok(), *_SYSV_SEND, *_WAIT],
    ),
    "sysv-sem-wait": (
        "sysv:sem_wait",
        "wait until the SysV semaphore is posted",
        lambda: [*_ftok(), *_WAIT],
    ),
    "sysv-msg-send": (
        "sysv:msg_send",
        "send one message on a SysV queue",
        lambda: [
            *_ftok(),
            *_SYSV_SEND,
            *_WAIT,
            _flag("--type", type=_msg_type, default=1, help="> 0"),
        ],
    ),
    "sysv-msg-recv": (
        "sysv:msg_recv",
        "receive one message from a SysV queue",
        lambda: [*_ftok(), *_RECV, *_WAIT, _flag("--type", type=int, default=0, help="0 = any")],
    ),
    "posix-shm-send": (
        "posix:shm_send",
        "shm_open+ftruncate+mmap+sem_post: the article's memwriter",
        _posix_shm_send,
    ),
    "posix-shm-recv": (
        "posix:shm_recv",
        "wait for shm+semaphore, sem_timedwait, read: the article's memreader",
        lambda: [*_shm_names(), *_RECV, *_WAIT],
    ),
    "posix-mq-send": (
        "posix:mq_send",
        "send one message on a POSIX queue",
        lambda: [*_mq_name(), *_POSIX_SEND, *_WAIT, _flag("--priority", type=int, default=0)],
    ),
    "posix-mq-recv": (
        "posix:mq_recv",
        "receive one message from a POSIX queue",
        lambda: [*_mq_name(), *_RECV, *_WAIT],
    ),
    "shm-info": (
        "shmfs:shm_info",
        "size, usage and covering mount of /dev/shm",
        lambda: [_flag("--path", default="/dev/shm")],
    ),
    "shm-fill": (
        "shmfs:shm_fill",
        "write zeros into a new file until --bytes or ENOSPC (--until-full)",
        _shm_fill,
    ),
    "shm-loader": (
        "loader:shm_loader",
        "the DataLoader pattern: workers hand batches to this process through "
        "multiprocessing.shared_memory; reports intact batches and how each worker ended",
        _shm_loader,
    ),
    "ipc-list": (
        "listing:ipc_list",
        "list SysV and POSIX IPC objects of this namespace",
        _select,
    ),
    "ipc-remove": (
        "cleanup:ipc_remove",
        "remove objects by key, ftok file or name; missing ones are not errors",
        _ipc_remove,
    ),
    # bench-peer takes podshm-ipcbench's flags, so one run is described once (PeerSpec.argv).
    "bench-peer": (
        "peers.peer:bench_peer",
        "one side of one benchmark run, Python inner loop (flags as podshm-ipcbench)",
        _bench_peer,
    ),
    "bench-batch": (
        "peers.batch:bench_batch",
        "run a plan of benchmark cells for one role (C and/or Python inner loop)",
        _bench_batch,
    ),
    "bench-info": (
        "peers.info:bench_info",
        "CPUs this process may use, IPC limits and the C inner loop's version",
        lambda: [_ipcbench()],
    ),
}
