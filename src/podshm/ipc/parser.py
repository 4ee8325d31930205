"""argparse wiring for ``podshm-ipc``: one table of commands plus the flag groups they share.

Each command's module (and the modules its flags take defaults from) is imported only when
that command is parsed: every helper exec is a fresh Python, and importing every command's
module (the loader's multiprocessing, the benchmark peers) was most of a short command's
start-up. ``build_parser(only=...)`` builds the one command a run asks for.
"""

from __future__ import annotations

import argparse
import importlib
import math
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any, NoReturn

from .argtypes import checked as _checked
from .argtypes import csv_of, one_of
from .common import DEFAULT_TEXT
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


def _mod(name: str) -> ModuleType:
    """A module of this package (``sysv``, ``peers.batch``), imported when first needed."""
    return importlib.import_module(f"{__package__}.{name}")


class Parser(argparse.ArgumentParser):
    """Turns argparse's print-usage-and-exit into a UsageError, so bad usage is JSON too."""

    command_names: tuple[str, ...] = ()

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, f"bad usage: {message} (see `{self.prog} --help`)")


_seconds = _checked(float, lambda v: math.isfinite(v) and v >= 0, "a number of seconds >= 0")
_size = _checked(
    lambda t: _mod("mounts").parse_size(t), lambda v: v > 0, "a byte count > 0 like 4194304 or 4m"
)
_proj_id = _checked(lambda t: int(t, 0), lambda v: 1 <= v <= 255, "a proj id in 1..255")
_octal = _checked(lambda t: int(t, 8), lambda v: 0 <= v <= 0o7777, "an octal mode like 666")
_msg_type = _checked(int, lambda v: v > 0, "a message type > 0")
_key = _checked(
    lambda t: _mod("ftok").parse_key(t),
    lambda v: v != 0,
    "a non-zero 32-bit key (decimal or 0x hex)",
)
message_size = _checked(int, lambda v: v >= MIN_SIZE, f"a message size >= {MIN_SIZE} bytes")
"""argparse type of a benchmark message size (``podshm bench --sizes`` uses it too)."""
_count = _checked(int, lambda v: v >= 0, "a count >= 0 (0: until --budget)")
_positive = _checked(int, lambda v: v > 0, "a count > 0")
_cpu = _checked(int, lambda v: v >= -1, "a CPU number (-1: not pinned)")
_run_id = _checked(
    str, lambda v: re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", v) is not None, "a run id [a-z0-9-]"
)


Flag = tuple[tuple[str, ...], dict[str, Any]]


def _flag(*names: str, **kwargs: Any) -> Flag:
    return names, kwargs


def _posix_name(text: str) -> str:
    return _mod("posix").posix_name(text)


_WAIT = [
    _flag("--timeout", type=_seconds, default=DEFAULT_TIMEOUT_S, help="max wait, s (%(default)s)"),
    _flag("--poll-interval", type=_seconds, default=DEFAULT_POLL_S, help="s between polls"),
]
_RECV = [_flag("--expect", help="exit 4 unless exactly this text is read")]


def _proj_id_flag() -> Flag:
    default = _mod("ftok").DEFAULT_PROJ_ID
    return _flag("--proj-id", type=_proj_id, default=default, help="ftok id (%(default)s)")


def _ftok() -> list[Flag]:
    return [_flag("--ftok-path", help="file given to ftok(); default $FTOK_PATH"), _proj_id_flag()]


def _ftok_recv() -> list[Flag]:
    expect_key = "the sender's key: exit 4 at once on another"
    return [*_ftok(), _flag("--expect-key", type=_key, help=expect_key)]


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


def _shm_names() -> list[Flag]:
    posix = _mod("posix")
    return [
        _flag("--name", type=_posix_name, default=posix.DEFAULT_SHM_NAME),
        _flag("--sem-name", type=_posix_name, default=posix.DEFAULT_SEM_NAME),
    ]


def _mq_name() -> list[Flag]:
    return [_flag("--name", type=_posix_name, default=_mod("posix").DEFAULT_MQ_NAME)]


_BENCH_RUN = [
    _flag("--budget", type=_seconds, default=0.1, help="s the client sends (%(default)s)"),
    _flag("--warmup", type=_seconds, default=0.0, help="s not measured at the start"),
    _flag("--count", type=_count, default=0, help="stop after N measured messages"),
    _flag("--verify", choices=("seq", "full"), default="seq", help="full: every byte + CRC"),
]


def _ipcbench() -> Flag:
    default = _mod("peers.batch").DEFAULT_IPCBENCH
    return _flag("--ipcbench", default=default, help="the C inner loop")


def _select() -> list[Flag]:
    listing = _mod("listing")
    return [
        _flag("--prefix", help="POSIX names starting with this (leading / optional)"),
        _flag("--key", type=_key, action="append", help="SysV key, repeatable (0x.. or int)"),
        _flag("--shm-dir", default=listing.SHM_DIR),
        _flag("--mqueue-dir", default=listing.MQUEUE_DIR),
    ]


def _bench_batch_flags() -> list[Flag]:
    batch = _mod("peers.batch")
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
        *_BENCH_RUN,
        _flag("--cell-timeout", type=_seconds, default=10.0, help="bound of one cell, s"),
        _flag("--timeout", type=_seconds, default=300.0, help="bound of the batch, s"),
        _ipcbench(),
    ]


# name -> ("module.function" of the handler, help, the flags); every flag of a command is
# listed here, in --help order. The flags are built (and the modules whose defaults they take
# imported) only for the commands a parser holds.
COMMANDS: dict[str, tuple[str, str, Callable[[], list[Flag]]]] = {
    "sysv-shm-send": (
        "sysv.shm_send",
        "shmget(IPC_CREAT)+write the text: the article's sender",
        lambda: [
            *_ftok(),
            *_SYSV_SEND,
            *_WAIT,
            _flag("--size", type=_size, default=_mod("sysv").SHM_SIZE),
        ],
    ),
    "sysv-shm-recv": (
        "sysv.shm_recv",
        "wait for the segment, read its text: the article's receiver",
        lambda: [*_ftok_recv(), *_RECV, *_WAIT],
    ),
    "sysv-sem-post": (
        "sysv.sem_post",
        "create/open a SysV semaphore, post it",
        lambda: [*_ftok(), *_SYSV_SEND, *_WAIT],
    ),
    "sysv-sem-wait": (
        "sysv.sem_wait",
        "wait until the SysV semaphore is posted",
        lambda: [*_ftok_recv(), *_WAIT],
    ),
    "sysv-msg-send": (
        "sysv.msg_send",
        "send one message on a SysV queue",
        lambda: [
            *_ftok(),
            *_SYSV_SEND,
            *_WAIT,
            _flag("--type", type=_msg_type, default=1, help="> 0"),
        ],
    ),
    "sysv-msg-recv": (
        "sysv.msg_recv",
        "receive one message from a SysV queue",
        lambda: [
            *_ftok_recv(),
            *_RECV,
            *_WAIT,
            _flag("--type", type=int, default=0, help="0 = any"),
        ],
    ),
    "sysv-sem-set": (
        "sysvlimits.sem_set",
        "semget(IPC_PRIVATE) a set of --nsems semaphores, remove it: SEMMSL of kernel.sem",
        lambda: [_flag("--nsems", type=_positive, required=True)],
    ),
    "sysv-msg-size": (
        "sysvlimits.msg_size",
        "msgsnd one message of --bytes to a private queue, remove it: kernel.msgmax",
        lambda: [_flag("--bytes", type=_positive, required=True)],
    ),
    "posix-shm-send": (
        "posix.shm_send",
        "shm_open+ftruncate+mmap+sem_post: the article's memwriter",
        lambda: [
            *_shm_names(),
            *_POSIX_SEND,
            *_WAIT,
            _flag("--size", type=_size, default=_mod("posix").SHM_SIZE),
        ],
    ),
    "posix-shm-recv": (
        "posix.shm_recv",
        "wait for shm+semaphore, sem_timedwait, read: the article's memreader",
        lambda: [*_shm_names(), *_RECV, *_WAIT],
    ),
    "posix-mq-send": (
        "posix.mq_send",
        "send one message on a POSIX queue",
        lambda: [*_mq_name(), *_POSIX_SEND, *_WAIT, _flag("--priority", type=int, default=0)],
    ),
    "posix-mq-recv": (
        "posix.mq_recv",
        "receive one message from a POSIX queue",
        lambda: [*_mq_name(), *_RECV, *_WAIT],
    ),
    "shm-info": (
        "shmfs.shm_info",
        "size, usage and covering mount of /dev/shm",
        lambda: [_flag("--path", default="/dev/shm")],
    ),
    "shm-fill": (
        "shmfs.shm_fill",
        "write zeros into a new file until --bytes or ENOSPC (--until-full)",
        lambda: [
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
        "loader.shm_loader",
        "the DataLoader pattern: workers hand batches to this process through "
        "multiprocessing.shared_memory; reports intact batches and how each worker ended",
        lambda: [
            _flag("--batch-bytes", type=_size, default=_mod("loader").DEFAULT_BATCH_BYTES),
            _flag("--batches", type=_positive, default=4, help="batches in all (%(default)s)"),
            _flag("--workers", type=_positive, default=2, help="worker processes"),
            _flag("--timeout", type=_seconds, default=120.0, help="bound of the run, s"),
        ],
    ),
    "ipc-list": (
        "listing.ipc_list",
        "list SysV and POSIX IPC objects of this namespace",
        _select,
    ),
    "ipc-remove": (
        "cleanup.ipc_remove",
        "remove objects by key, ftok file or name; missing ones are not errors",
        lambda: [
            *_select(),
            _flag("--ftok-path", help="remove the SysV objects of ftok(path, --proj-id)"),
            _proj_id_flag(),
            _flag(
                "--sysv-kind",
                choices=_mod("listing").SYSV_KINDS,
                action="append",
                help="default all",
            ),
            _flag("--shm-name", type=_posix_name, action="append", help="repeatable"),
            _flag("--sem-name", type=_posix_name, action="append", help="repeatable"),
            _flag("--mq-name", type=_posix_name, action="append", help="repeatable"),
        ],
    ),
    # bench-peer takes podshm-ipcbench's flags, so one run is described once (PeerSpec.argv).
    "bench-peer": (
        "peers.peer.bench_peer",
        "one side of one benchmark run, Python inner loop (flags as podshm-ipcbench)",
        lambda: [
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
        "peers.batch.bench_batch",
        "run a plan of benchmark cells for one role (C and/or Python inner loop)",
        _bench_batch_flags,
    ),
    "bench-info": (
        "peers.info.bench_info",
        "CPUs this process may use, IPC limits and the C inner loop's version",
        lambda: [_ipcbench()],
    ),
}


def handler(target: str) -> Callable[..., None]:
    """The function a ``"module.function"`` entry of :data:`COMMANDS` names, imported now."""
    module, _, function = target.rpartition(".")
    return getattr(_mod(module), function)


def build_parser(only: str | None = None) -> Parser:
    """The whole command line, or (``only``) the one command a run names: the same parser
    for that command (its flags, help and errors), without importing the other commands.
    Also usable by the suite to render --help."""
    parser = Parser(
        prog=PROG,
        description="IPC probes for pods: one JSON line per run, bounded waits.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (target, help_, flags) in COMMANDS.items():
        if only is not None and name != only:
            continue
        cmd = sub.add_parser(name, help=help_, description=help_)
        cmd.set_defaults(handler=target)
        for names, kwargs in flags():
            cmd.add_argument(*names, **kwargs)
    parser.command_names = tuple(COMMANDS)
    return parser
