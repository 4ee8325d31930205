"""``shm-loader``: the DataLoader pattern with the standard library, to see how it dies.

PyTorch's DataLoader (and Ray, NCCL, vLLM) hand batches from worker processes to the parent
through shared memory: each worker creates a segment in /dev/shm, writes the batch through
``mmap``, and the parent maps the same segment and reads it. A tmpfs allocates a page when it
is first touched, so a page past the tmpfs size is not a failed ``write()`` (ENOSPC) but a
fault the kernel answers with SIGBUS: the worker dies ("DataLoader worker (pid N) is killed
by signal: Bus error ... insufficient shared memory", pytorch#16979).

Here the workers are forked processes, the batches ``multiprocessing.shared_memory`` segments
(``shm_open`` + ``ftruncate`` + ``mmap``), each page stamped with its batch and index and
filled with the batch's pattern; the parent checks every page of every batch, then unlinks it
and lets the worker write its next one (one batch in flight per worker, as ``prefetch``).
The report says how many batches arrived intact and how each worker ended: its exit code, the
signal that killed it, and how many bytes of its last batch it had written (all of it, or
up to the fault), counted page by page in an anonymous shared mapping (not /dev/shm), so the
bytes on the tmpfs at the fault are known exactly. Every segment is unlinked before the
command ends.
"""

from __future__ import annotations

import argparse
import contextlib
import mmap
import os
import resource
import signal
import struct
from multiprocessing import get_context, resource_tracker, shared_memory
from multiprocessing.connection import Connection, wait
from typing import Any

from .result import EXIT_IPC_FAILED, EXIT_TIMEOUT, CommandFailed, Deadline, Report, failed
from .shmfs import statvfs_figures

SHM_DIR = "/dev/shm"
HEADER = struct.Struct("<QQ")
"""The first bytes of every page: (batch, page index)."""
COUNTER = struct.Struct("<q")
DEFAULT_BATCH_BYTES = 96 << 20


def segment_name(parent: int, batch: int) -> str:
    """The segment of one batch (the parent's pid in it, so runs never collide)."""
    return f"podshm-loader-{parent}-{batch}"


def page_template(batch: int, page: int) -> bytes:
    """What every page of ``batch`` holds after its header."""
    return bytes((batch * 131 + offset) & 0xFF for offset in range(page))


def _fill(buf: memoryview, batch: int, page: int, progress: mmap.mmap, slot: int) -> None:
    """Write the batch page by page, counting each page once it is written."""
    template = page_template(batch, page)
    for index, offset in enumerate(range(0, len(buf), page)):
        buf[offset : offset + page] = template  # the first touch: SIGBUS if the tmpfs is full
        HEADER.pack_into(buf, offset, batch, index)
        COUNTER.pack_into(progress, slot * COUNTER.size, offset + page)


def _worker(
    parent: int,
    slot: int,
    batches: list[int],
    size: int,
    page: int,
    conn: Connection,
    progress: mmap.mmap,
) -> None:
    """One worker: write each of its batches, hand it over, wait until it was consumed."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a SIGBUS leaves no core file behind
    code = 0
    try:
        for batch in batches:
            COUNTER.pack_into(progress, slot * COUNTER.size, 0)
            name = segment_name(parent, batch)
            segment = shared_memory.SharedMemory(name, create=True, size=size)
            try:
                assert segment.buf is not None
                _fill(segment.buf, batch, page, progress, slot)
            finally:
                segment.close()
            conn.send(("batch", batch))
            conn.recv()  # consumed: the parent unlinked it
        conn.send(("done", None))
    except BaseException as exc:  # reported to the parent, which owns the JSON
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        code = 1
    finally:
        os._exit(code)


def _check(batch: int, size: int, page: int) -> str | None:
    """Map the batch as the parent and check every page; None when intact."""
    segment = shared_memory.SharedMemory(segment_name(os.getpid(), batch))
    try:
        assert segment.buf is not None
        buf = segment.buf
        if len(buf) < size:
            return f"batch {batch}: {len(buf)} bytes mapped, {size} written"
        body = page_template(batch, page)[HEADER.size :]
        for index, offset in enumerate(range(0, size, page)):
            if HEADER.unpack_from(buf, offset) != (batch, index):
                got = HEADER.unpack_from(buf, offset)
                return f"batch {batch}: page {index} carries the header of {got}"
            if buf[offset + HEADER.size : offset + page] != body:
                return f"batch {batch}: page {index} holds other bytes"
        return None
    finally:
        segment.close()


def _unlink(batch: int) -> bool:
    """Remove a batch's segment if it exists; whether it did."""
    try:
        segment = shared_memory.SharedMemory(segment_name(os.getpid(), batch))
    except FileNotFoundError:
        return False
    segment.close()
    segment.unlink()
    return True


def _signal_name(exitcode: int | None) -> str | None:
    if exitcode is None or exitcode >= 0:
        return None
    return signal.Signals(-exitcode).name


def shm_loader(args: argparse.Namespace, report: Report) -> None:
    """Run the loader; ok when every batch arrived intact and every worker exited 0."""
    page = os.sysconf("SC_PAGE_SIZE")
    size = -(-args.batch_bytes // page) * page
    report.update(
        batch_bytes=size, batches=args.batches, workers=args.workers, page_size=page, dir=SHM_DIR
    )
    deadline = Deadline(args.timeout)
    shares = [list(range(w, args.batches, args.workers)) for w in range(args.workers)]
    progress = mmap.mmap(-1, COUNTER.size * args.workers)  # MAP_SHARED | MAP_ANONYMOUS
    resource_tracker.ensure_running()  # one tracker for all: a worker's own would unlink
    context = get_context("fork")
    workers: list[Any] = []
    conns: dict[Connection, int] = {}
    try:
        report["shm_before"] = statvfs_figures(SHM_DIR)
    except OSError as exc:
        raise failed(exc, f"cannot statvfs {SHM_DIR}: is it mounted?") from exc
    intact: list[int] = []
    broken: list[str] = []
    errors: dict[int, str] = {}
    try:
        for slot, share in enumerate(shares):
            parent_end, child_end = context.Pipe()
            proc = context.Process(
                target=_worker,
                args=(os.getpid(), slot, share, size, page, child_end, progress),
                daemon=True,
            )
            proc.start()
            child_end.close()
            workers.append(proc)
            conns[parent_end] = slot
        _serve(conns, workers, deadline, size, page, intact, broken, errors)
    finally:
        for proc in workers:
            if proc.is_alive():
                proc.kill()
            proc.join(5)
        report["unlinked_after"] = [b for b in range(args.batches) if _unlink(b)]
    ended = [
        {
            "worker": slot,
            "pid": proc.pid,
            "exitcode": proc.exitcode,
            "signal": _signal_name(proc.exitcode),
            "last_batch_bytes_written": COUNTER.unpack_from(progress, slot * COUNTER.size)[0],
            "error": errors.get(slot),
        }
        for slot, proc in enumerate(workers)
    ]
    report.update(
        batches_intact=len(intact),
        broken=broken,
        worker_exits=ended,
        signals=sorted({w["signal"] for w in ended if w["signal"]}),
        last_batches_bytes_total=sum(w["last_batch_bytes_written"] for w in ended),
    )
    _judge(args, size, intact, broken, ended, deadline)


def _serve(
    conns: dict[Connection, int],
    workers: list[Any],
    deadline: Deadline,
    size: int,
    page: int,
    intact: list[int],
    broken: list[str],
    errors: dict[int, str],
) -> None:
    """Consume batches until every worker has ended (or the deadline passes)."""
    open_conns = dict(conns)
    sentinels = {proc.sentinel: slot for slot, proc in enumerate(workers)}
    while sentinels and not deadline.expired():
        for ready in wait([*open_conns, *sentinels], timeout=deadline.remaining()):
            if ready in sentinels:
                workers[sentinels.pop(ready)].join()
                continue
            conn = ready
            assert isinstance(conn, Connection)
            try:
                kind, value = conn.recv()
            except (EOFError, OSError):  # the worker died: its sentinel says how
                del open_conns[conn]
                continue
            if kind == "batch":
                problem = _check(value, size, page)
                if problem:
                    broken.append(problem)
                else:
                    intact.append(value)
                _unlink(value)
                conn.send("consumed")
            elif kind == "error":
                errors[open_conns[conn]] = str(value)


def _judge(
    args: argparse.Namespace,
    size: int,
    intact: list[int],
    broken: list[str],
    ended: list[dict[str, Any]],
    deadline: Deadline,
) -> None:
    killed = [w for w in ended if w["signal"]]
    if killed:
        first = killed[0]
        raise CommandFailed(
            EXIT_IPC_FAILED,
            f"worker {first['worker']} (pid {first['pid']}) was killed by signal "
            f"{first['signal']} after writing {first['last_batch_bytes_written']} bytes of a "
            f"{size}-byte batch through mmap of {SHM_DIR}: a page past the tmpfs size is "
            "SIGBUS, not ENOSPC (insufficient shared memory, as PyTorch's DataLoader says)",
            message=f"worker killed by {first['signal']}",
        )
    if deadline.expired() and len(intact) < args.batches:
        raise CommandFailed(
            EXIT_TIMEOUT,
            f"{len(intact)} of {args.batches} batches arrived before --timeout {args.timeout}s",
            errno="ETIMEDOUT",
        )
    failed_workers = [w for w in ended if w["exitcode"] != 0]
    if broken or failed_workers or len(intact) != args.batches:
        why = "; ".join(broken) or "; ".join(
            f"worker {w['worker']} exit {w['exitcode']}: {w['error']}" for w in failed_workers
        )
        raise CommandFailed(
            EXIT_IPC_FAILED,
            f"{len(intact)} of {args.batches} batches arrived intact: {why or 'batches lost'}",
            message="batches lost or damaged",
        )
