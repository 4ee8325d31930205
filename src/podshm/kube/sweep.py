"""What removes whole runs: this run's namespaces (or a crashed worker's), and those dead runs
left behind (`podshm gc` and the start-of-run sweep).

Only namespaces carrying podshm's run label are ever listed, and a run's sweep checks the
label again before deleting, so a sweep can never touch anything a human created.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from podshm.kube.api import KubeApi
from podshm.kube.namespaces import (
    EXPIRES_ANNOTATION,
    KEEP_LABEL,
    RUN_ID_LABEL,
    STARTED_ANNOTATION,
    SweepResult,
    parse_rfc3339,
    run_selector,
)
from podshm.kube.signals import sigint_deferred
from podshm.names import validate_run_id
from podshm.objects import MANAGED_BY_LABEL, MANAGED_BY_RUN


def sweep_run(api: KubeApi, run_id: str, worker: str | None = None) -> SweepResult:
    """Delete every namespace of this run (or of one worker of it) that is not marked kept.

    Used at session end, on Ctrl-C or SIGTERM, and by the xdist controller for a worker that
    crashed before it could clean up after itself.
    """
    validate_run_id(run_id)
    result = SweepResult()
    with sigint_deferred():
        for ns in api.list_namespaces(run_selector(run_id, worker)):
            meta = ns.get("metadata") or {}
            # Belt and braces: never trust the selector alone before deleting.
            if (meta.get("labels") or {}).get(RUN_ID_LABEL) != run_id:
                continue
            if (ns.get("status") or {}).get("phase") == "Terminating":
                continue
            result.delete(api, meta["name"])
    return result


@dataclass(frozen=True)
class Leftover:
    """A namespace some podshm run created, as `podshm gc` and the start-of-run sweep see it."""

    name: str
    run_id: str
    started: datetime | None
    expires: datetime | None
    kept: bool
    terminating: bool

    @classmethod
    def from_namespace(cls, ns: dict[str, Any]) -> Leftover:
        """Read a Namespace object."""
        meta = ns.get("metadata") or {}
        labels = meta.get("labels") or {}
        notes = meta.get("annotations") or {}
        return cls(
            name=str(meta.get("name", "")),
            run_id=str(labels.get(RUN_ID_LABEL, "")),
            started=parse_rfc3339(notes.get(STARTED_ANNOTATION)),
            expires=parse_rfc3339(notes.get(EXPIRES_ANNOTATION)),
            kept=labels.get(KEEP_LABEL) == "true",
            terminating=(ns.get("status") or {}).get("phase") == "Terminating",
        )

    def expired(self, now: datetime) -> bool:
        """Past its expiry; a namespace without one (an older podshm's) counts as expired."""
        return self.expires is None or self.expires <= now

    def describe(self, now: datetime) -> str:
        """``podshm-ab12cd-xy (run ab12cd, started 12 min ago, expired)``."""
        age = (
            f"started {int((now - self.started).total_seconds() // 60)} min ago"
            if (self.started)
            else "start unknown"
        )
        state = "kept" if self.kept else ("expired" if self.expired(now) else "live")
        return f"{self.name} (run {self.run_id}, {age}, {state})"


def leftovers(api: KubeApi) -> list[Leftover]:
    """Every namespace any podshm run created (by its run label), oldest first."""
    found = [
        Leftover.from_namespace(ns)
        for ns in api.list_namespaces(f"{RUN_ID_LABEL},{MANAGED_BY_LABEL}={MANAGED_BY_RUN}")
    ]
    return sorted(found, key=lambda n: (n.started or datetime.min.replace(tzinfo=UTC), n.name))


def select_garbage(
    found: list[Leftover],
    now: datetime,
    older_than_s: float | None = None,
    everything: bool = False,
) -> list[Leftover]:
    """What a sweep removes: expired ones (or those started more than ``older_than_s`` ago),
    never kept ones unless ``everything``; namespaces already terminating are skipped."""
    chosen = []
    for ns in found:
        if ns.terminating:
            continue
        if everything:
            chosen.append(ns)
        elif ns.kept:
            continue
        elif older_than_s is not None:
            if ns.started is None or (now - ns.started).total_seconds() >= older_than_s:
                chosen.append(ns)
        elif ns.expired(now):
            chosen.append(ns)
    return chosen


def sweep_leftovers(api: KubeApi, chosen: list[Leftover]) -> SweepResult:
    """Delete the chosen leftovers (of dead runs: never this run's live namespaces)."""
    result = SweepResult()
    with sigint_deferred():
        for ns in chosen:
            result.delete(api, ns.name)
    return result


def live_namespaces_of_run(api: KubeApi, run_id: str, now: datetime | None = None) -> list[str]:
    """Unexpired namespaces carrying ``run_id``: a run id in use by a live run."""
    now = now or datetime.now(UTC)
    return [
        ns.name
        for ns in (Leftover.from_namespace(n) for n in api.list_namespaces(run_selector(run_id)))
        if not ns.terminating and not ns.expired(now)
    ]
