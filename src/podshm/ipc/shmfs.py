"""/dev/shm as a file system: what is mounted there, and what happens when it fills up.

The article's check is ``dd if=/dev/zero of=/dev/shm/test`` failing with "No space left on
device" after exactly 64 MiB (the container runtime's default /dev/shm). ``shm-fill`` makes
that observation with exact byte counts. Caveat: tmpfs pages are charged to the writer's
memory cgroup, so a pod whose memory limit is below the tmpfs size gets OOM-killed before
ENOSPC, and then no JSON is printed at all.
"""

from __future__ import annotations

import errno
import os

from .mounts import covering_mount, size_option
from .result import (
    EXIT_IPC_FAILED,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    CommandFailed,
    Deadline,
    Report,
    UsageError,
    failed,
)

TYPE_CHECKING = False  # see result.py: no typing import at run time
if TYPE_CHECKING:
    import argparse

FULL_ERRNOS = {"ENOSPC", "EDQUOT"}


def statvfs_figures(path: str) -> dict[str, int]:
    """Size, free, available and used bytes of the file system holding ``path``."""
    st = os.statvfs(path)
    size, free = st.f_blocks * st.f_frsize, st.f_bfree * st.f_frsize
    return {
        "size_bytes": size,
        "free_bytes": free,
        "avail_bytes": st.f_bavail * st.f_frsize,
        "used_bytes": size - free,
        "block_size": st.f_frsize,
    }


def shm_info(args: argparse.Namespace, report: Report) -> None:
    """statvfs figures plus the covering mount's type, source, options and size= option."""
    path = args.path
    report["path"] = path
    # The node's page size (a pod shares its node's kernel): tmpfs sizes are whole pages.
    report["page_size"] = os.sysconf("SC_PAGE_SIZE")
    try:
        report.update(statvfs_figures(path))
        mount = covering_mount(path)
    except OSError as exc:
        raise failed(exc, f"cannot stat {path}: is it mounted in this container?") from exc
    if mount is None:
        report.update(mount_point=None, fs_type=None, is_tmpfs=None, size_option=None)
        return
    raw, size = size_option(mount)
    report.update(
        mount_point=mount.mount_point,
        fs_type=mount.fs_type,
        source=mount.source,
        mount_options=list(mount.mount_options),
        super_options=list(mount.super_options),
        is_tmpfs=mount.fs_type == "tmpfs",
        size_option=size,
        size_option_raw=raw,
    )


def _write_zeros(fd: int, limit: int | None, block: int, deadline: Deadline) -> tuple[int, str]:
    """Write zeros until ``limit``, an error, or the deadline; returns (bytes, stopped_on).

    tmpfs allocates whole pages, so the last write before ENOSPC can be partial: the byte
    count is the sum of what write() returned, never a multiple assumed from --block.
    """
    zeros = memoryview(bytes(block))
    written = 0
    while True:
        if limit is not None and written >= limit:
            return written, "limit"
        if deadline.expired():
            return written, "timeout"
        want = block if limit is None else min(block, limit - written)
        try:
            done = os.write(fd, zeros[:want])
        except OSError as exc:
            return written, errno.errorcode.get(exc.errno or 0, str(exc))
        if done == 0:
            return written, "short-write"
        written += done


def shm_fill(args: argparse.Namespace, report: Report) -> None:
    """Fill ``--dir`` with a zero file up to --bytes or ENOSPC, report exact bytes, clean up."""
    if args.until_full == (args.bytes is not None):
        raise UsageError("give exactly one of --bytes N or --until-full")
    path = os.path.join(args.dir, args.name or f"podshm-fill-{os.getpid()}")
    limit = None if args.until_full else args.bytes
    report.update(file=path, limit_bytes=limit, block_bytes=args.block, kept=args.keep)
    try:
        before = statvfs_figures(args.dir)
    except OSError as exc:
        raise failed(exc, f"cannot statvfs {args.dir}: does the directory exist?") from exc
    report["before"] = before
    if limit is None and before["avail_bytes"] > args.max_bytes:
        raise CommandFailed(
            EXIT_USAGE,
            f"refusing to fill {args.dir}: {before['avail_bytes']} bytes are free, more than "
            f"--max-bytes {args.max_bytes}; filling it would use that much memory",
            message="refused by --max-bytes",
        )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise failed(exc, f"cannot create {path} (read-only mount, or file exists?)") from exc
    try:
        written, stopped_on = _write_zeros(fd, limit, args.block, Deadline(args.timeout))
    finally:
        os.close(fd)
    report.update(bytes_written=written, stopped_on=stopped_on)
    report["after_write"] = statvfs_figures(args.dir)
    if not args.keep:
        os.unlink(path)
        report["after_cleanup"] = statvfs_figures(args.dir)
    _judge(args, limit, written, stopped_on)


def _judge(args: argparse.Namespace, limit: int | None, written: int, stopped_on: str) -> None:
    """ENOSPC is the expected end of --until-full, and a failure when --bytes was not reached."""
    if stopped_on == "limit" or (limit is None and stopped_on in FULL_ERRNOS):
        return
    if stopped_on == "timeout":
        raise CommandFailed(
            EXIT_TIMEOUT,
            f"wrote {written} bytes to {args.dir} before --timeout {args.timeout}s ran out",
            errno="ETIMEDOUT",
        )
    wanted = f"the requested {limit} bytes" if limit is not None else "the file system filled"
    cause = (
        f"{args.dir} is full: its size limit (tmpfs size=, e.g. the runtime's 64 MiB default "
        "or an emptyDir sizeLimit) is below"
        if stopped_on in FULL_ERRNOS
        else "the write failed before"
    )
    code = getattr(errno, stopped_on, None) if stopped_on.isupper() else None
    raise CommandFailed(
        EXIT_IPC_FAILED,
        f"{cause} {wanted}; stopped after {written} bytes with {stopped_on}",
        errno=stopped_on if code else None,
        message=f"write(): {os.strerror(code)}" if code else f"write() stopped: {stopped_on}",
    )
