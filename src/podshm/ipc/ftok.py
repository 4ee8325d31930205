"""System V keys from ftok(), the way the article's sender and receiver pods derive them.

ftok() mixes the file's inode and device numbers with the project id, so two containers only
agree on a key when they see the very same file (a shared volume), not merely the same path.
"""

from __future__ import annotations

import os

import sysv_ipc

from .result import EXIT_MISMATCH, CommandFailed, Report, UsageError, failed

FTOK_ENV = "FTOK_PATH"  # the article's pods set FTOK_PATH=/shared/me
DEFAULT_PROJ_ID = 65

_MISSING_REASON = (
    "ftok file {path} does not exist: the ftok path must be a file shared between the "
    "containers through a volume (e.g. an emptyDir mounted in both), created before the "
    "sender and receiver start; failing now instead of retrying forever"
)


def key_hex(key: int) -> str:
    """Key as ipcs(1) prints it: 0x followed by 8 hex digits of the 32-bit key_t."""
    return f"0x{key & 0xFFFFFFFF:08x}"


def ftok_path_from(flag: str | None) -> tuple[str, str]:
    """The ftok path from --ftok-path, else $FTOK_PATH; returns (path, source)."""
    if flag:
        return flag, "flag"
    env = os.environ.get(FTOK_ENV)
    if env:
        return env, "env"
    raise UsageError(f"no ftok path: pass --ftok-path or set {FTOK_ENV}")


def resolve_key(
    report: Report,
    flag: str | None,
    proj_id: int,
    *,
    create: bool = False,
    expect: int | None = None,
) -> int:
    """ftok(path, proj_id) with the file's identity recorded in ``report``.

    A missing file fails at once (exit 1, ENOENT): waiting cannot make a volume appear.
    ``create`` lets a sender create an empty ftok file, e.g. in a fresh emptyDir.
    ``expect`` (a receiver given the sender's key) fails at once (exit 4) on another key:
    the file's device or inode differs here, and no wait makes the keys agree.
    """
    path, source = ftok_path_from(flag)
    report.update(ftok_path=path, ftok_path_source=source, proj_id=proj_id)
    if create:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
            report["ftok_file_created"] = True
        except FileExistsError:
            report["ftok_file_created"] = False
        except OSError as exc:
            raise failed(
                exc, f"cannot create ftok file {path} (is its directory mounted?)"
            ) from exc
    try:
        st = os.stat(path)
        key = sysv_ipc.ftok(path, proj_id, silence_warning=True)
    except FileNotFoundError as exc:
        raise failed(exc, _MISSING_REASON.format(path=path)) from None
    except OSError as exc:
        raise failed(exc, f"ftok({path!r}, {proj_id}) failed: cannot stat the file") from None
    report.update(ftok_st_dev=st.st_dev, ftok_st_ino=st.st_ino, key=key, key_hex=key_hex(key))
    if expect is not None and key & 0xFFFFFFFF != expect & 0xFFFFFFFF:
        raise CommandFailed(
            EXIT_MISMATCH,
            f"different keys: ftok({path!r}, {proj_id}) gives {key_hex(key)} here, the sender's "
            f"is {key_hex(expect)}: the file's device or inode differs between the containers",
        )
    return key


def parse_key(text: str) -> int:
    """A key given on the command line: decimal (as in /proc/sysvipc) or 0x-hex (as in ipcs)."""
    value = int(text, 0)
    if not -(2**31) <= value < 2**32:
        raise ValueError(f"key {text} does not fit in 32 bits")
    # key_t is a signed int; fold 0x80000000.. into the negative values the kernel reports.
    return value - 2**32 if value >= 2**31 else value
