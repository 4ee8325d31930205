"""Every IPC object this process can see, read from the kernel's own listings.

SysV objects come from /proc/sysvipc/{shm,sem,msg}, which show exactly the current IPC
namespace; where that listing is missing (gVisor has none), objects asked for by key are
looked up by opening the key, which is the question isolation asks anyway: can this
namespace reach that object? POSIX shm objects and named semaphores (sem.<name>) are files
in /dev/shm, and POSIX queues are files in /dev/mqueue only where an mqueue file system is
mounted there.
"""

from __future__ import annotations

import os
import stat

import sysv_ipc

from .ftok import key_hex
from .mounts import covering_mount
from .result import Report

TYPE_CHECKING = False  # see result.py: no typing import at run time
if TYPE_CHECKING:
    import argparse
    from typing import Any

    Entry = dict[str, Any]
else:
    Entry = dict

SYSVIPC_DIR = "/proc/sysvipc"
SHM_DIR = "/dev/shm"
MQUEUE_DIR = "/dev/mqueue"
SYSV_KINDS = ("shm", "sem", "msg")
_ID_COLUMNS = {"shmid", "semid", "msqid"}
_OPENERS: dict[str, Any] = {
    "shm": sysv_ipc.SharedMemory,
    "sem": sysv_ipc.Semaphore,
    "msg": sysv_ipc.MessageQueue,
}


def read_sysvipc(kind: str) -> list[Entry] | None:
    """Rows of /proc/sysvipc/<kind> as dicts (key, key_hex, id, perms, then the rest).

    None if the listing is missing or unreadable: then nothing can be said, not "empty".
    """
    try:
        with open(os.path.join(SYSVIPC_DIR, kind)) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    header = lines[0].split() if lines else []
    rows = []
    for line in lines[1:]:
        values = dict(zip(header, line.split(), strict=False))
        key = int(values.pop("key"))
        row: Entry = {"key": key, "key_hex": key_hex(key)}
        for column, value in values.items():
            if column in _ID_COLUMNS:
                row["id"] = int(value)
            elif column == "perms":  # octal; 01000 = SHM_DEST (removed, still attached)
                row["perms"] = f"{int(value, 8):04o}"
            else:
                row[column] = int(value)
        rows.append(row)
    return rows


def open_by_key(kind: str, key: int) -> Entry | None:
    """The object of ``kind`` with ``key`` in this IPC namespace, found by opening it (flags
    0: never creates); None when there is none. Refused access still means it is there."""
    try:
        obj = _OPENERS[kind](key)
    except sysv_ipc.ExistentialError:
        return None
    except sysv_ipc.PermissionsError:
        return {"key": key, "key_hex": key_hex(key), "id": None, "access": "denied"}
    if kind == "shm":
        obj.detach()
    return {"key": key, "key_hex": key_hex(key), "id": obj.id}


def _matches(name: str, prefix: str | None) -> bool:
    return prefix is None or name.lstrip("/").startswith(prefix.lstrip("/"))


def _file_entry(name: str, path: str, st: os.stat_result) -> Entry:
    return {
        "name": name,
        "file": path,
        "size": st.st_size,
        "uid": st.st_uid,
        "mode": f"{stat.S_IMODE(st.st_mode):04o}",
    }


def posix_shm_and_sem(shm_dir: str = SHM_DIR, prefix: str | None = None) -> tuple[list, list]:
    """(shm objects, named semaphores) in ``shm_dir``; sem.<name> files are semaphores."""
    shms: list[Entry] = []
    sems: list[Entry] = []
    with os.scandir(shm_dir) as entries:
        for entry in entries:
            if not entry.is_file(follow_symlinks=False):
                continue
            is_sem = entry.name.startswith("sem.")
            name = "/" + (entry.name[4:] if is_sem else entry.name)
            if _matches(name, prefix):
                target = sems if is_sem else shms
                target.append(_file_entry(name, entry.path, entry.stat(follow_symlinks=False)))
    return sorted(shms, key=lambda e: e["name"]), sorted(sems, key=lambda e: e["name"])


def posix_mqueues(mq_dir: str = MQUEUE_DIR, prefix: str | None = None) -> list[Entry] | None:
    """Queues in ``mq_dir`` with their QSIZE; None when no mqueue fs is mounted there."""
    try:
        mount = covering_mount(mq_dir)
    except OSError:
        return None
    if mount is None or mount.fs_type != "mqueue" or mount.mount_point != os.path.realpath(mq_dir):
        return None
    queues = []
    for name in sorted(os.listdir(mq_dir)):
        path = os.path.join(mq_dir, name)
        if not _matches(name, prefix):
            continue
        entry = _file_entry("/" + name, path, os.stat(path))
        with open(path) as f:  # "QSIZE:5  NOTIFY:0  SIGNO:0  NOTIFY_PID:0"
            fields = dict(part.split(":", 1) for part in f.read().split() if ":" in part)
        entry["qsize"] = int(fields.get("QSIZE", 0))
        queues.append(entry)
    return queues


def ipc_list(args: argparse.Namespace, report: Report) -> None:
    """List SysV (optionally only --key) and POSIX (optionally only --prefix) objects."""
    keys = list(dict.fromkeys(args.key or []))
    for kind in SYSV_KINDS:
        rows = read_sysvipc(kind)
        source = "/proc/sysvipc"
        if rows is not None and keys:
            rows = [r for r in rows if r["key"] in keys]
        elif rows is None and keys:
            rows = [e for key in keys if (e := open_by_key(kind, key)) is not None]
            source = "open by key"
        report[f"sysv_{kind}"] = rows
        report[f"sysv_{kind}_source"] = source if rows is not None else None
    report["shm_dir"] = args.shm_dir
    try:
        report["posix_shm"], report["posix_sem"] = posix_shm_and_sem(args.shm_dir, args.prefix)
    except OSError:
        report["posix_shm"] = report["posix_sem"] = None
    queues = posix_mqueues(args.mqueue_dir, args.prefix)
    report["mqueue_mounted"] = queues is not None
    report["posix_mq"] = queues if queues is not None else []
