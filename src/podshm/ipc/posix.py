"""POSIX shared memory + named semaphore (the article's memwriter/memreader) and mqueues.

Ownership: the writer/sender creates the objects and is the only one that unlinks them
(``--cleanup``/``--unlink``, or ``ipc-remove`` afterwards). Readers open existing objects only
(no O_CREAT, unlike the article's reader, which sem_open()s with O_CREAT and so can leave a
semaphore behind) and wait for them with a bounded poll.

On Linux, shm objects are files in /dev/shm and named semaphores are /dev/shm/sem.<name>, so
two containers see the same objects only if they share that /dev/shm mount. Message queues
use the mq_* syscalls and need no /dev/mqueue mount.
"""

from __future__ import annotations

import errno
import mmap
import os

import posix_ipc

from .common import check_expect, decode_text, encode_text, linger_and_cleanup
from .result import (
    EXIT_IPC_FAILED,
    EXIT_TIMEOUT,
    CommandFailed,
    Deadline,
    Report,
    errno_name,
    failed,
)

TYPE_CHECKING = False  # see result.py: no typing import at run time
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

SHM_SIZE = 512  # the article's ByteSize
DEFAULT_SHM_NAME = "/shMemEx"
DEFAULT_SEM_NAME = "/mysemaphore"
DEFAULT_MQ_NAME = "/podshm-mq"
MQ_MAX_MESSAGES = 10  # fs.mqueue.msg_max default: an unprivileged sender cannot ask for more
MQ_MAX_MESSAGE_SIZE = 1024
_ERRORS = (posix_ipc.Error, OSError, ValueError)


def posix_name(text: str) -> str:
    """argparse type: a POSIX IPC name, normalised to a single leading slash."""
    name = "/" + text.lstrip("/")
    if name == "/" or "/" in name[1:] or len(name) > 255:
        import argparse  # only for a name refused: the helpers' start never pays for it

        raise argparse.ArgumentTypeError(f"{text!r} is not a POSIX IPC name like /podshm-x")
    return name


def _absent(kind: str, name: str, timeout: float) -> CommandFailed:
    """Timeout for an object that never appeared, naming where it would have to be shared."""
    shared = "IPC namespace" if kind == "message queue" else "/dev/shm mount"
    return CommandFailed(
        EXIT_TIMEOUT,
        f"no POSIX {kind} named {name} appeared within {timeout}s: the writer has not run "
        f"(yet), it used another name, or the two processes do not share the {shared}",
        errno="ENOENT",
    )


def _unlink_all(*unlinks: Callable[[], None]) -> None:
    """Unlink each object; one that is already gone is not an error (the goal is reached)."""
    for unlink in unlinks:
        try:  # noqa: SIM105 - contextlib would be one more import for every helper exec
            unlink()
        except posix_ipc.ExistentialError:
            pass


def shm_send(args: argparse.Namespace, report: Report) -> None:
    """shm_open(O_CREAT|O_RDWR, 0644), ftruncate, mmap, sem_open(O_CREAT, 0), strcpy, sem_post."""
    payload = encode_text(args.text, args.size, nul=True)
    report.update(name=args.name, sem_name=args.sem_name, size=args.size)
    try:
        try:
            shm = posix_ipc.SharedMemory(args.name, posix_ipc.O_CREX, args.mode, args.size)
            report["created"] = True
        except posix_ipc.ExistentialError:
            shm = posix_ipc.SharedMemory(args.name, posix_ipc.O_CREAT, args.mode, args.size)
            report["created"] = False
        try:
            with mmap.mmap(shm.fd, args.size) as mem:
                sem = posix_ipc.Semaphore(args.sem_name, posix_ipc.O_CREAT, args.mode, 0)
                mem[: len(payload)] = payload
        finally:
            shm.close_fd()
        sem.release()
        if posix_ipc.SEMAPHORE_VALUE_SUPPORTED:
            report["sem_value"] = sem.value
    except _ERRORS as exc:
        raise failed(exc, f"could not create/write {args.name} or post {args.sem_name}") from exc
    report["bytes_written"] = len(payload)
    try:
        linger_and_cleanup(
            report, args.linger, args.cleanup, lambda: _unlink_all(shm.unlink, sem.unlink)
        )
    finally:
        sem.close()


def shm_recv(args: argparse.Namespace, report: Report) -> None:
    """Wait for the object and the semaphore, sem_timedwait, then read the NUL-terminated text."""
    report.update(name=args.name, sem_name=args.sem_name)
    deadline = Deadline(args.timeout)

    def open_shm() -> posix_ipc.SharedMemory | None:
        try:
            # Read-only: a reader running as another uid can still read a 0644 object.
            shm = posix_ipc.SharedMemory(args.name, read_only=True)
        except posix_ipc.ExistentialError:
            return None
        if shm.size == 0:  # created but not ftruncate()d yet
            shm.close_fd()
            return None
        return shm

    def open_sem() -> posix_ipc.Semaphore | None:
        try:
            return posix_ipc.Semaphore(args.sem_name)
        except posix_ipc.ExistentialError:
            return None

    try:
        shm = deadline.poll(open_shm, args.poll_interval)
        if shm is None:
            raise _absent("shared memory object", args.name, args.timeout)
        report["size"] = shm.size
        with mmap.mmap(shm.fd, shm.size, prot=mmap.PROT_READ) as mem:
            shm.close_fd()
            sem = deadline.poll(open_sem, args.poll_interval)
            if sem is None:
                raise _absent("semaphore", args.sem_name, args.timeout)
            try:
                sem.acquire(deadline.remaining())
            except posix_ipc.BusyError:
                raise CommandFailed(
                    EXIT_TIMEOUT,
                    f"{args.sem_name} exists but was not posted within {args.timeout}s",
                    errno="ETIMEDOUT",
                ) from None
            finally:
                sem.close()
            text = decode_text(mem[:])
    except _ERRORS as exc:
        raise failed(exc, f"could not open/map {args.name} or wait on {args.sem_name}") from exc
    check_expect(report, text, args.expect)


def mq_failing_call(name: str) -> tuple[str, int] | None:
    """(libc call, errno) of the first mq_* call that fails for ``name``, made directly.

    posix_ipc reports some failures without an errno ("Unable to initialize object": its
    mq_getattr after mq_open failed); the kernel's own answer says why, e.g. ENOSYS where the
    mq_* system calls are not implemented (gVisor). A queue made here is removed again.
    """
    import ctypes  # only on this rare path: ctypes.util alone imports subprocess
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.mq_open.restype = ctypes.c_int
    path = name.encode()
    mqd = libc.mq_open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600, None)
    created = mqd != -1
    if not created and ctypes.get_errno() == errno.EEXIST:
        mqd = libc.mq_open(path, os.O_RDWR)
    if mqd == -1:
        return "mq_open", ctypes.get_errno()
    attr = (ctypes.c_long * 8)()  # struct mq_attr: 4 longs and reserved space
    try:
        if libc.mq_getattr(mqd, attr) == -1:
            return "mq_getattr", ctypes.get_errno()
    finally:
        libc.mq_close(mqd)
        if created:
            libc.mq_unlink(path)
    return None


def _mq_failed(exc: BaseException, name: str, reason: str) -> CommandFailed:
    """The failure of a queue operation, with the kernel's errno when posix_ipc had none."""
    found = mq_failing_call(name) if errno_name(exc) is None else None
    if found is None:
        return failed(exc, reason)
    call, code = found
    return CommandFailed(
        EXIT_IPC_FAILED,
        f"{reason} ({exc})",
        errno=errno.errorcode.get(code, str(code)),
        message=f"{call}: {os.strerror(code)}",
    )


def mq_send(args: argparse.Namespace, report: Report) -> None:
    """mq_open(O_CREAT) and mq_timedsend one message, bounded by --timeout if the queue is full."""
    report.update(name=args.name, priority=args.priority)
    payload = encode_text(args.text, MQ_MAX_MESSAGE_SIZE, nul=False)
    try:
        try:
            queue = posix_ipc.MessageQueue(
                args.name, posix_ipc.O_CREX, args.mode, MQ_MAX_MESSAGES, MQ_MAX_MESSAGE_SIZE
            )
            report["created"] = True
        except posix_ipc.ExistentialError:
            queue = posix_ipc.MessageQueue(args.name)
            report["created"] = False
        try:
            queue.send(payload, timeout=args.timeout, priority=args.priority)
        except posix_ipc.BusyError:
            queue.close()
            raise CommandFailed(
                EXIT_TIMEOUT,
                f"{args.name} stayed full for {args.timeout}s (nobody receives)",
                errno="EAGAIN",
            ) from None
        report.update(bytes_sent=len(payload), current_messages=queue.current_messages)
    except _ERRORS as exc:
        raise _mq_failed(exc, args.name, f"could not create/send to the queue {args.name}") from exc
    try:
        linger_and_cleanup(report, args.linger, args.cleanup, lambda: _unlink_all(queue.unlink))
    finally:
        queue.close()


def mq_recv(args: argparse.Namespace, report: Report) -> None:
    """Wait for the queue to exist, then mq_timedreceive within what is left of --timeout."""
    report["name"] = args.name
    deadline = Deadline(args.timeout)

    def open_queue() -> posix_ipc.MessageQueue | None:
        try:
            return posix_ipc.MessageQueue(args.name, read=True, write=False)
        except posix_ipc.ExistentialError:
            return None

    try:
        queue = deadline.poll(open_queue, args.poll_interval)
        if queue is None:
            raise _absent("message queue", args.name, args.timeout)
        try:
            message, priority = queue.receive(deadline.remaining())
        except posix_ipc.BusyError:
            raise CommandFailed(
                EXIT_TIMEOUT,
                f"{args.name} exists but no message arrived within {args.timeout}s",
                errno="ETIMEDOUT",
            ) from None
        finally:
            queue.close()
    except _ERRORS as exc:
        raise failed(exc, f"could not open/receive from the queue {args.name}") from exc
    report["priority"] = priority
    check_expect(report, decode_text(message), args.expect)
