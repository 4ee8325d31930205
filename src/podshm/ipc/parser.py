"""argparse wiring for ``podshm-ipc``: one table of commands plus the flag groups they share."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from typing import Any, NoReturn

from . import cleanup, listing, loader, posix, shmfs, sysv
from .common import DEFAULT_TEXT
from .ftok import DEFAULT_PROJ_ID, parse_key
from .mounts import parse_size
from .peers import batch as bench_batch
from .peers import info as bench_info
from .peers import peer as bench_peer
from .peers.wire import MIN_SIZE, MODES, ROLES, TRANSPORTS
from .result import DEFAULT_POLL_S, DEFAULT_TIMEOUT_S, UsageError

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


class Parser(argparse.ArgumentParser):
    """Turns argparse's print-usage-and-exit into a UsageError, so bad usage is JSON too."""

    command_names: tuple[str, ...] = ()

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, f"bad usage: {message} (see `{self.prog} --help`)")


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
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


def csv_of(item: Callable[[str], Any], what: str) -> Callable[[str], tuple]:
    """An argparse type for a comma-separated list whose items ``item`` checks one by one."""

    def parse(text: str) -> tuple:
        values = tuple(item(part) for part in text.split(",") if part)
        if not values:
            raise argparse.ArgumentTypeError(f"{text!r} is not a list of {what}")
        return values

    return parse


def one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    """An argparse type accepting exactly these words (usable inside :func:`csv_of`)."""
    return _checked(str, lambda v: v in choices, "one of " + ", ".join(choices))


_seconds = _checked(float, lambda v: math.isfinite(v) and v >= 0, "a number of seconds >= 0")
_size = _checked(parse_size, lambda v: v > 0, "a byte count > 0 like 4194304 or 4m")
_proj_id = _checked(lambda t: int(t, 0), lambda v: 1 <= v <= 255, "a proj id in 1..255")
_octal = _checked(lambda t: int(t, 8), lambda v: 0 <= v <= 0o7777, "an octal mode like 666")
_msg_type = _checked(int, lambda v: v > 0, "a message type > 0")
_key = _checked(parse_key, lambda v: v != 0, "a non-zero 32-bit key (decimal or 0x hex)")
message_size = _checked(int, lambda v: v >= MIN_SIZE, f"a message size >= {MIN_SIZE} bytes")
"""argparse type of a benchmark message size (``podshm bench --sizes`` uses it too)."""
_count = _checked(int, lambda v: v >= 0, "a count >= 0 (0: until --budget)")
_positive = _checked(int, lambda v: v > 0, "a count > 0")
_cpu = _checked(int, lambda v: v >= -1, "a CPU number (-1: not pinned)")
_run_id = _checked(
    str, lambda v: re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", v) is not None, "a run id [a-z0-9-]"
)


def _flag(*names: str, **kwargs: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    return names, kwargs


_NAME = posix.posix_name
_WAIT = [
    _flag("--timeout", type=_seconds, default=DEFAULT_TIMEOUT_S, help="max wait, s (%(default)s)"),
    _flag("--poll-interval", type=_seconds, default=DEFAULT_POLL_S, help="s between polls"),
]
_FTOK = [
    _flag("--ftok-path", help="file given to ftok(); default $FTOK_PATH"),
    _flag("--proj-id", type=_proj_id, default=DEFAULT_PROJ_ID, help="ftok id (%(default)s)"),
]
_RECV = [_flag("--expect", help="exit 4 unless exactly this text is read")]
_FTOK_RECV = [
    *_FTOK,
    _flag("--expect-key", type=_key, help="the sender's key: exit 4 at once on another"),
]


def _send(remove_alias: str, mode: str) -> list:
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
_SHM_NAMES = [
    _flag("--name", type=_NAME, default=posix.DEFAULT_SHM_NAME),
    _flag("--sem-name", type=_NAME, default=posix.DEFAULT_SEM_NAME),
]
_MQ_NAME = [_flag("--name", type=_NAME, default=posix.DEFAULT_MQ_NAME)]
_BENCH_RUN = [
    _flag("--budget", type=_seconds, default=0.1, help="s the client sends (%(default)s)"),
    _flag("--warmup", type=_seconds, default=0.0, help="s not measured at the start"),
    _flag("--count", type=_count, default=0, help="stop after N measured messages"),
    _flag("--verify", choices=("seq", "full"), default="seq", help="full: every byte + CRC"),
]
_IPCBENCH = _flag("--ipcbench", default=bench_batch.DEFAULT_IPCBENCH, help="the C inner loop")
_SELECT = [
    _flag("--prefix", help="POSIX names starting with this (leading / optional)"),
    _flag("--key", type=_key, action="append", help="SysV key, repeatable (0x.. or int)"),
    _flag("--shm-dir", default=listing.SHM_DIR),
    _flag("--mqueue-dir", default=listing.MQUEUE_DIR),
]

# name -> (handler, help, flags); every flag of a command is listed here, in --help order.
COMMANDS: dict[str, tuple[Callable[..., None], str, list]] = {
    "sysv-shm-send": (
        sysv.shm_send,
        "shmget(IPC_CREAT)+write the text: the article's sender",
        [*_FTOK, *_SYSV_SEND, *_WAIT, _flag("--size", type=_size, default=sysv.SHM_SIZE)],
    ),
    "sysv-shm-recv": (
        sysv.shm_recv,
        "wait for the segment, read its text: the article's receiver",
        [*_FTOK_RECV, *_RECV, *_WAIT],
    ),
    "sysv-sem-post": (
        sysv.sem_post,
        "create/open a SysV semaphore, post it",
        [*_FTOK, *_SYSV_SEND, *_WAIT],
    ),
    "sysv-sem-wait": (
        sysv.sem_wait,
        "wait until the SysV semaphore is posted",
        [*_FTOK_RECV, *_WAIT],
    ),
    "sysv-msg-send": (
        sysv.msg_send,
        "send one message on a SysV queue",
        [*_FTOK, *_SYSV_SEND, *_WAIT, _flag("--type", type=_msg_type, default=1, help="> 0")],
    ),
    "sysv-msg-recv": (
        sysv.msg_recv,
        "receive one message from a SysV queue",
        [*_FTOK_RECV, *_RECV, *_WAIT, _flag("--type", type=int, default=0, help="0 = any")],
    ),
    "posix-shm-send": (
        posix.shm_send,
        "shm_open+ftruncate+mmap+sem_post: the article's memwriter",
        [*_SHM_NAMES, *_POSIX_SEND, *_WAIT, _flag("--size", type=_size, default=posix.SHM_SIZE)],
    ),
    "posix-shm-recv": (
        posix.shm_recv,
        "wait for shm+semaphore, sem_timedwait, read: the article's memreader",
        [*_SHM_NAMES, *_RECV, *_WAIT],
    ),
    "posix-mq-send": (
        posix.mq_send,
        "send one message on a POSIX queue",
        [*_MQ_NAME, *_POSIX_SEND, *_WAIT, _flag("--priority", type=int, default=0)],
    ),
    "posix-mq-recv": (
        posix.mq_recv,
        "receive one message from a POSIX queue",
        [*_MQ_NAME, *_RECV, *_WAIT],
    ),
    "shm-info": (
        shmfs.shm_info,
        "size, usage and covering mount of /dev/shm",
        [_flag("--path", default="/dev/shm")],
    ),
    "shm-fill": (
        shmfs.shm_fill,
        "write zeros into a new file until --bytes or ENOSPC (--until-full)",
        [
            _flag("--dir", default="/dev/shm"),
            _flag("--bytes", type=_size, help="stop after this many bytes (4194304, 4m)"),
            _flag("--until-full", action="store_true", help="stop at ENOSPC/EDQUOT (= ok)"),
            _flag("--block", type=_size, default=1 << 20, help="write() size"),
            _flag("--keep", action="store_true", help="leave the file in place"),
            _flag("--name", help="file name in --dir (default podshm-fill-<pid>)"),
            _flag("--max-bytes", type=_size, default=2 << 30, help="--until-full refuses above"),
            _WAIT[0],
        ],
    ),
    "shm-loader": (
        loader.shm_loader,
        "the DataLoader pattern: workers hand batches to this process through "
        "multiprocessing.shared_memory; reports intact batches and how each worker ended",
        [
            _flag("--batch-bytes", type=_size, default=loader.DEFAULT_BATCH_BYTES),
            _flag("--batches", type=_positive, default=4, help="batches in all (%(default)s)"),
            _flag("--workers", type=_positive, default=2, help="worker processes"),
            _flag("--timeout", type=_seconds, default=120.0, help="bound of the run, s"),
        ],
    ),
    "ipc-list": (listing.ipc_list, "list SysV and POSIX IPC objects of this namespace", _SELECT),
    "ipc-remove": (
        cleanup.ipc_remove,
        "remove objects by key, ftok file or name; missing ones are not errors",
        [
            *_SELECT,
            _flag("--ftok-path", help="remove the SysV objects of ftok(path, --proj-id)"),
            _FTOK[1],
            _flag("--sysv-kind", choices=listing.SYSV_KINDS, action="append", help="default all"),
            _flag("--shm-name", type=_NAME, action="append", help="repeatable"),
            _flag("--sem-name", type=_NAME, action="append", help="repeatable"),
            _flag("--mq-name", type=_NAME, action="append", help="repeatable"),
        ],
    ),
    # bench-peer takes podshm-ipcbench's flags, so one run is described once (PeerSpec.argv).
    "bench-peer": (
        bench_peer.bench_peer,
        "one side of one benchmark run, Python inner loop (flags as podshm-ipcbench)",
        [
            _flag("--transport", choices=TRANSPORTS, required=True),
            _flag("--role", choices=ROLES, required=True),
            _flag("--mode", choices=MODES, required=True, help="lat: ping-pong, thr: stream"),
            _flag("--size", type=message_size, default=64, help="message bytes (%(default)s)"),
            _flag("--dir", required=True, help="shared directory: ready file, socket, FIFOs"),
            _flag("--tag", required=True, help="names this run's objects (same on both sides)"),
            *_BENCH_RUN,
            _flag("--cpu", type=_cpu, default=-1, help="pin to this CPU (-1: not pinned)"),
            _flag("--timeout", type=_seconds, default=10.0, help="bound of the whole run, s"),
        ],
    ),
    "bench-batch": (
        bench_batch.bench_batch,
        "run a plan of benchmark cells for one role (C and/or Python inner loop)",
        [
            _flag("--role", choices=ROLES, required=True),
            _flag("--dir", required=True, help="shared directory: ready files, sockets, FIFOs"),
            _flag("--run", type=_run_id, required=True, help="cell tags are <run>-<index>"),
            _flag("--transports", type=csv_of(one_of(TRANSPORTS), "transports"), required=True),
            _flag("--sizes", type=csv_of(message_size, "sizes"), default=(64,)),
            _flag("--modes", type=csv_of(one_of(MODES), "modes"), default=MODES),
            _flag("--impls", type=csv_of(one_of(bench_batch.IMPLS), "impls"), default=("c",)),
            _flag(
                "--placements",
                type=csv_of(one_of(bench_batch.PLACEMENTS), "placements"),
                default=("none",),
            ),
            _flag("--cpus", type=csv_of(_cpu, "CPUs"), default=(), help="A,B: first, second CPU"),
            *_BENCH_RUN,
            _flag("--cell-timeout", type=_seconds, default=10.0, help="bound of one cell, s"),
            _flag("--timeout", type=_seconds, default=300.0, help="bound of the batch, s"),
            _IPCBENCH,
        ],
    ),
    "bench-info": (
        bench_info.bench_info,
        "CPUs this process may use, IPC limits and the C inner loop's version",
        [_IPCBENCH],
    ),
}


def build_parser() -> Parser:
    """The whole command line (also usable by the suite to render --help)."""
    parser = Parser(
        prog=PROG,
        description="IPC probes for pods: one JSON line per run, bounded waits.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (handler, help_, flags) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_, description=help_)
        cmd.set_defaults(handler=handler)
        for names, kwargs in flags:
            cmd.add_argument(*names, **kwargs)
    parser.command_names = tuple(COMMANDS)
    return parser
