"""``ipc-remove``: delete what senders created, by key or by name, ignoring what is gone.

The suite calls this after each exchange so that no test leaks objects into a pod's (or the
host's) IPC namespace; objects already absent are reported, not treated as errors.
"""

from __future__ import annotations

import posix_ipc
import sysv_ipc

from .ftok import key_hex, resolve_key
from .listing import SYSV_KINDS, open_by_key, posix_mqueues, posix_shm_and_sem, read_sysvipc
from .result import EXIT_IPC_FAILED, CommandFailed, Report, UsageError, errno_name

TYPE_CHECKING = False  # see result.py: no typing import at run time
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any

_SYSV_REMOVERS: dict[str, Callable[[int], None]] = {
    "shm": sysv_ipc.remove_shared_memory,
    "sem": sysv_ipc.remove_semaphore,
    "msg": sysv_ipc.remove_message_queue,
}
_POSIX_UNLINKERS: dict[str, Callable[[str], None]] = {
    "posix_shm": posix_ipc.unlink_shared_memory,
    "posix_sem": posix_ipc.unlink_semaphore,
    "posix_mq": posix_ipc.unlink_message_queue,
}
_ERRORS = (sysv_ipc.Error, posix_ipc.Error, OSError, ValueError)


def _sysv_ids(kind: str, key: int) -> list[int]:
    """IDs with this key, from /proc/sysvipc (no attach needed), else by opening the key."""
    rows = read_sysvipc(kind)
    if rows is not None:
        return [row["id"] for row in rows if row["key"] == key]
    found = open_by_key(kind, key)
    return [found["id"]] if found is not None and found["id"] is not None else []


class _Outcome:
    """Collects removed / absent / failed entries for the report."""

    def __init__(self) -> None:
        self.removed: list[dict] = []
        self.absent: list[dict] = []
        self.failed: list[dict] = []

    def attempt(self, entry: dict, action: Callable[[Any], None], target: Any) -> None:
        try:
            action(target)
            self.removed.append(entry)
        except (sysv_ipc.ExistentialError, posix_ipc.ExistentialError):
            self.absent.append(entry)
        except _ERRORS as exc:
            self.failed.append({**entry, "errno": errno_name(exc), "message": str(exc)})


def _names(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(kind, name) pairs from the --*-name flags plus whatever --prefix matches now."""
    pairs = [("posix_shm", n) for n in args.shm_name or []]
    pairs += [("posix_sem", n) for n in args.sem_name or []]
    pairs += [("posix_mq", n) for n in args.mq_name or []]
    if args.prefix is not None:
        if not args.prefix.strip("/"):
            raise UsageError("--prefix must not be empty (it would remove every POSIX object)")
        shms, sems = posix_shm_and_sem(args.shm_dir, args.prefix)
        pairs += [("posix_shm", e["name"]) for e in shms]
        pairs += [("posix_sem", e["name"]) for e in sems]
        pairs += [
            ("posix_mq", e["name"]) for e in posix_mqueues(args.mqueue_dir, args.prefix) or []
        ]
    return list(dict.fromkeys(pairs))


def ipc_remove(args: argparse.Namespace, report: Report) -> None:
    """Remove SysV objects by --key/--ftok-path and POSIX objects by name or --prefix."""
    keys = list(args.key or [])
    if args.ftok_path:
        keys.append(resolve_key(report, args.ftok_path, args.proj_id))
    if 0 in keys:
        raise UsageError("key 0 is IPC_PRIVATE and names no single object")
    names = _names(args)
    if not keys and not names:
        raise UsageError("nothing to remove: give --ftok-path, --key, --*-name or --prefix")
    kinds = args.sysv_kind or list(SYSV_KINDS)
    outcome = _Outcome()
    for key in dict.fromkeys(keys):
        for kind in kinds:
            entry = {"kind": f"sysv_{kind}", "key": key, "key_hex": key_hex(key)}
            ids = _sysv_ids(kind, key)
            if not ids:
                outcome.absent.append(entry)
            for ipc_id in ids:
                remover = _SYSV_REMOVERS[kind]
                outcome.attempt({**entry, "id": ipc_id}, remover, ipc_id)
    for kind, name in names:
        unlinker = _POSIX_UNLINKERS[kind]
        outcome.attempt({"kind": kind, "name": name}, unlinker, name)
    report.update(removed=outcome.removed, absent=outcome.absent, failed=outcome.failed)
    if outcome.failed:
        first = outcome.failed[0]
        raise CommandFailed(
            EXIT_IPC_FAILED,
            f"could not remove {len(outcome.failed)} object(s), first {first['kind']} "
            f"{first.get('name') or first.get('key_hex')}: not the owner, or not root?",
            errno=first["errno"],
            message=first["message"],
        )
