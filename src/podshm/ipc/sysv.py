"""System V shared memory, semaphores and message queues, keyed by ftok().

Senders create (IPC_CREAT) and own the objects; receivers only open existing ones, polling
until --timeout, so a receiver never leaves anything behind. Removal is the sender's
``--cleanup`` or ``ipc-remove``.
"""

from __future__ import annotations

import sysv_ipc

from .common import check_expect, decode_text, encode_text, linger_and_cleanup
from .ftok import resolve_key
from .result import EXIT_TIMEOUT, CommandFailed, Deadline, Report, failed

TYPE_CHECKING = False  # see result.py: no typing import at run time
if TYPE_CHECKING:
    import argparse
    from typing import Any

SHM_SIZE = 1024  # the article's segment size
MSG_MAX = 2048  # sysv_ipc's default receive buffer; longer messages would fail with E2BIG
_ERRORS = (sysv_ipc.Error, OSError, ValueError)


def _absent(kind: str, args: argparse.Namespace, report: Report) -> CommandFailed:
    """Timeout for an object that never appeared, naming the usual causes."""
    return CommandFailed(
        EXIT_TIMEOUT,
        f"no System V {kind} with key {report['key_hex']} appeared within {args.timeout}s: "
        "the sender has not run (yet), or it computed another key (ftok() uses the file's "
        f"inode {report['ftok_st_ino']} and device {report['ftok_st_dev']}, so both sides "
        f"need the same file through a shared volume and the same --proj-id {args.proj_id}), "
        "or sender and receiver are in different IPC namespaces",
        errno="ENOENT",
    )


def _open_or_create(factory: type, key: int, mode: int, report: Report, **kw: Any) -> Any:
    """Create the object exclusively if possible, else open the existing one; report which."""
    try:
        obj = factory(key, sysv_ipc.IPC_CREX, mode, **kw)
        report["created"] = True
    except sysv_ipc.ExistentialError:
        obj = factory(key, 0, mode)
        report["created"] = False
    return obj


def shm_send(args: argparse.Namespace, report: Report) -> None:
    """shmget(IPC_CREAT, 1024, 0666) + shmat + strcpy + shmdt, like the article's sender."""
    key = resolve_key(report, args.ftok_path, args.proj_id, create=args.create_ftok_file)
    payload = encode_text(args.text, args.size, nul=True)
    try:
        shm = _open_or_create(
            sysv_ipc.SharedMemory, key, args.mode, report, size=args.size, init_character=b"\0"
        )
        report.update(shmid=shm.id, size=shm.size)
        shm.write(payload)
        shm.detach()
    except _ERRORS as exc:
        raise failed(
            exc,
            f"could not create/attach/write the segment with key {report['key_hex']}: an older "
            "segment with this key may be smaller or owned by someone else (see ipc-list)",
        ) from exc
    report["bytes_written"] = len(payload)
    linger_and_cleanup(report, args.linger, args.cleanup, shm.remove)


def shm_recv(args: argparse.Namespace, report: Report) -> None:
    """Wait for the segment (never creating it), attach, read the NUL-terminated text."""
    key = resolve_key(report, args.ftok_path, args.proj_id, expect=args.expect_key)
    seen = False

    def attempt() -> str | None:
        nonlocal seen
        try:
            shm = sysv_ipc.SharedMemory(key)  # flags=0: open only
        except sysv_ipc.ExistentialError:
            return None
        seen = True
        report.update(shmid=shm.id, size=shm.size)
        try:
            text = decode_text(shm.read())
        finally:
            shm.detach()
        return text or None  # empty: created but not written yet, keep waiting

    try:
        text = Deadline(args.timeout).poll(attempt, args.poll_interval)
    except _ERRORS as exc:
        reason = f"could not attach/read the segment {report['key_hex']} (perms vs. uid?)"
        raise failed(exc, reason) from exc
    if text is None and not seen:
        raise _absent("shared memory segment", args, report)
    if text is None:
        raise CommandFailed(
            EXIT_TIMEOUT,
            f"the segment {report['key_hex']} exists but stayed empty for {args.timeout}s: "
            "the sender created it but did not write the text",
            errno="ETIMEDOUT",
        )
    check_expect(report, text, args.expect)


def sem_post(args: argparse.Namespace, report: Report) -> None:
    """Create (initial value 0) or open the semaphore and V it once."""
    key = resolve_key(report, args.ftok_path, args.proj_id, create=args.create_ftok_file)
    try:
        sem = _open_or_create(sysv_ipc.Semaphore, key, args.mode, report, initial_value=0)
        report["semid"] = sem.id
        sem.release()
        report["value"] = sem.value
    except _ERRORS as exc:
        raise failed(exc, f"could not create/post the semaphore {report['key_hex']}") from exc
    linger_and_cleanup(report, args.linger, args.cleanup, sem.remove)


def sem_wait(args: argparse.Namespace, report: Report) -> None:
    """Wait for the semaphore to exist and be posted; P it without blocking past --timeout.

    This sysv_ipc build has no semtimedop() timeout (SEMAPHORE_TIMEOUT_SUPPORTED is False),
    so we poll with IPC_NOWAIT instead of blocking.
    """
    key = resolve_key(report, args.ftok_path, args.proj_id, expect=args.expect_key)
    sem = None

    def attempt() -> bool | None:
        nonlocal sem
        if sem is None:
            try:
                sem = sysv_ipc.Semaphore(key)
            except sysv_ipc.ExistentialError:
                return None
            sem.block = False
            report["semid"] = sem.id
        try:
            sem.acquire()
        except sysv_ipc.BusyError:
            return None
        return True

    try:
        acquired = Deadline(args.timeout).poll(attempt, args.poll_interval)
    except _ERRORS as exc:
        raise failed(exc, f"could not open/wait on the semaphore {report['key_hex']}") from exc
    if sem is None:
        raise _absent("semaphore", args, report)
    if not acquired:
        raise CommandFailed(
            EXIT_TIMEOUT,
            f"the semaphore {report['key_hex']} exists but was not posted within {args.timeout}s",
            errno="ETIMEDOUT",
        )
    report["value"] = sem.value


def msg_send(args: argparse.Namespace, report: Report) -> None:
    """Create or open the queue and send one message of --type, waiting if it is full."""
    key = resolve_key(report, args.ftok_path, args.proj_id, create=args.create_ftok_file)
    payload = encode_text(args.text, MSG_MAX, nul=False)
    try:
        queue = _open_or_create(sysv_ipc.MessageQueue, key, args.mode, report)
        report["msqid"] = queue.id

        def attempt() -> bool | None:
            try:
                queue.send(payload, block=False, type=args.type)
            except sysv_ipc.BusyError:
                return None
            return True

        sent = Deadline(args.timeout).poll(attempt, args.poll_interval)
    except _ERRORS as exc:
        raise failed(exc, f"could not create/send to the queue {report['key_hex']}") from exc
    if not sent:
        raise CommandFailed(
            EXIT_TIMEOUT,
            f"the queue {report['key_hex']} stayed full for {args.timeout}s (nobody receives)",
            errno="EAGAIN",
        )
    report.update(msg_type=args.type, bytes_sent=len(payload))
    linger_and_cleanup(report, args.linger, args.cleanup, queue.remove)


def msg_recv(args: argparse.Namespace, report: Report) -> None:
    """Wait for the queue to exist and hold a message of --type (0 = any); receive it."""
    key = resolve_key(report, args.ftok_path, args.proj_id, expect=args.expect_key)
    queue = None

    def attempt() -> tuple[bytes, int] | None:
        nonlocal queue
        if queue is None:
            try:
                queue = sysv_ipc.MessageQueue(key, max_message_size=MSG_MAX)
            except sysv_ipc.ExistentialError:
                return None
            report["msqid"] = queue.id
        try:
            return queue.receive(block=False, type=args.type)
        except sysv_ipc.BusyError:
            return None

    try:
        got = Deadline(args.timeout).poll(attempt, args.poll_interval)
    except _ERRORS as exc:
        raise failed(exc, f"could not open/receive from the queue {report['key_hex']}") from exc
    if queue is None:
        raise _absent("message queue", args, report)
    if got is None:
        raise CommandFailed(
            EXIT_TIMEOUT,
            f"the queue {report['key_hex']} exists but no message of type {args.type} "
            f"arrived within {args.timeout}s",
            errno="ETIMEDOUT",
        )
    message, mtype = got
    report["msg_type"] = mtype
    check_expect(report, decode_text(message), args.expect)
