"""The IPC namespace's SysV limits, probed: a semaphore set of N semaphores, a message of N bytes.

``kernel.sem`` (SEMMSL SEMMNS SEMOPM SEMMNI) and ``kernel.msgmax`` are per IPC namespace, so a
pod that raises them (``securityContext.sysctls``, unsafe: the kubelet must allow them) gets
them for its own containers only. ``semget(nsems > SEMMSL)`` and ``msgsnd(msgsz > msgmax)``
fail with EINVAL (ipc/sem.c ``ksys_semget``, ipc/msg.c ``do_msgsnd``). sysv_ipc makes only
one-semaphore sets and caps a message at its own buffer, so these call libc directly, on
private objects (``IPC_PRIVATE``: no key to collide with) that are removed at once.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import errno
import os
from pathlib import Path

from .result import EXIT_IPC_FAILED, CommandFailed, Report

IPC_PRIVATE = 0
IPC_CREAT = 0o1000
IPC_NOWAIT = 0o4000
IPC_RMID = 0
MODE = 0o600


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _limits(report: Report, *names: str) -> None:
    """What /proc/sys says in this IPC namespace (absent under a kernel without it)."""
    for name in names:
        try:
            text = Path("/proc/sys", *name.split(".")).read_text()
            report[name.replace(".", "_")] = [int(part) for part in text.split()]
        except (OSError, ValueError):
            report[name.replace(".", "_")] = None


def _shown(value: object) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else "unreadable"


def _failure(call: str, code: int, reason: str) -> CommandFailed:
    return CommandFailed(
        EXIT_IPC_FAILED,
        reason,
        errno=errno.errorcode.get(code, str(code)),
        message=f"{call}: {os.strerror(code)}",
    )


def sem_set(args: argparse.Namespace, report: Report) -> None:
    """semget(IPC_PRIVATE, --nsems, IPC_CREAT|0600), then remove the set."""
    _limits(report, "kernel.sem")
    report["nsems"] = args.nsems
    libc = _libc()
    semid = libc.semget(IPC_PRIVATE, args.nsems, IPC_CREAT | MODE)
    if semid == -1:
        code = ctypes.get_errno()
        raise _failure(
            "semget",
            code,
            f"semget(IPC_PRIVATE, {args.nsems}) failed: EINVAL above SEMMSL, the first field "
            f"of kernel.sem (here {_shown(report['kernel_sem'])})",
        )
    report["semid"] = semid
    report["removed"] = libc.semctl(semid, 0, IPC_RMID) == 0


class _Message(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long)]


def msg_size(args: argparse.Namespace, report: Report) -> None:
    """msgget(IPC_PRIVATE) and msgsnd one message of --bytes (IPC_NOWAIT), then remove it."""
    _limits(report, "kernel.msgmax", "kernel.msgmnb")
    report["bytes"] = args.bytes
    libc = _libc()
    msqid = libc.msgget(IPC_PRIVATE, IPC_CREAT | MODE)
    if msqid == -1:
        raise _failure("msgget", ctypes.get_errno(), "msgget(IPC_PRIVATE) failed")
    report["msqid"] = msqid
    buffer = ctypes.create_string_buffer(ctypes.sizeof(ctypes.c_long) + args.bytes)
    _Message.from_buffer(buffer).mtype = 1
    try:
        if libc.msgsnd(msqid, buffer, ctypes.c_size_t(args.bytes), IPC_NOWAIT) == -1:
            code = ctypes.get_errno()
            raise _failure(
                "msgsnd",
                code,
                f"msgsnd of {args.bytes} bytes failed: EINVAL above kernel.msgmax (here "
                f"{_shown(report['kernel_msgmax'])}), EAGAIN above the queue's room "
                f"(kernel.msgmnb, here {_shown(report['kernel_msgmnb'])})",
            )
        report["sent"] = True
    finally:
        report["removed"] = libc.msgctl(msqid, IPC_RMID, None) == 0
