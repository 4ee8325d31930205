"""What removes whole runs: this run's namespaces (or a crashed worker's), and those dead runs
left behind (`podshm gc` and the start-of-run sweep).

Only namespaces carrying podshm's run label are ever listed, and a run's sweep checks the
label again before deleting, so a sweep can never touch anything a human created. A run is
dead when its heartbeat (:mod:`podshm.kube.heartbeat`) stopped: a killed run's namespaces go
within a minute; a live run's, whatever their age, never.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from podshm.kube.api import KubeApi
from podshm.kube.heartbeat import HEARTBEAT_ANNOTATION, Beat, parse_time, read_beat
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
    heartbeat: str | None = None
    """``<namespace>/<lease>`` of its run's heartbeat, when the run has one."""
    created: datetime | None = None

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
            heartbeat=notes.get(HEARTBEAT_ANNOTATION) or None,
            created=parse_time(meta.get("creationTimestamp")),
        )

    def expired(self, now: datetime) -> bool:
        """Past its expiry; a namespace without one (an older podshm's) counts as expired."""
        return self.expires is None or self.expires <= now

    def state(self, beats: Mapping[str, Beat | None], now: datetime) -> State:
        """Kept, live or dead, and why: its run's heartbeat decides when it can be read; the
        expiry when the run has none (it could not write one) or it cannot be read."""
        if self.kept:
            return State(KEPT, "kept for debugging")
        beat = beats.get(self.heartbeat) if self.heartbeat else None
        if beat is not None and beat.age_s is not None:
            if beat.stale:
                return State(DEAD, f"no heartbeat for {beat.age_s:.0f} s")
            return State(LIVE, f"heartbeat {beat.age_s:.0f} s ago")
        if beat is not None:  # the Lease is gone (or was never made: a run killed at once)
            age = (now - self.created).total_seconds() if self.created else None
            if age is not None and age < beat.limit_s:
                return State(LIVE, f"created {age:.0f} s ago, no heartbeat yet")
            return State(DEAD, "its heartbeat is gone")
        if self.expired(now):
            return State(DEAD, "expired")
        left = int((self.expires - now).total_seconds() // 60) if self.expires else 0
        return State(LIVE, f"no heartbeat to read; expires in {left} min")

    def describe(self, now: datetime, state: State | None = None) -> str:
        """``podshm-ab12cd-xy (run ab12cd, started 12 min ago, dead: no heartbeat for 47 s)``."""
        age = (
            f"started {int((now - self.started).total_seconds() // 60)} min ago"
            if (self.started)
            else "start unknown"
        )
        state = state or self.state({}, now)
        return f"{self.name} (run {self.run_id}, {age}, {state})"


KEPT, LIVE, DEAD = "kept", "live", "dead"


@dataclass(frozen=True)
class State:
    """What a leftover is: ``kept``, ``live`` or ``dead``, and the evidence."""

    kind: str
    why: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.why}"


def leftovers(api: KubeApi) -> list[Leftover]:
    """Every namespace any podshm run created (by its run label), oldest first."""
    found = [
        Leftover.from_namespace(ns)
        for ns in api.list_namespaces(f"{RUN_ID_LABEL},{MANAGED_BY_LABEL}={MANAGED_BY_RUN}")
    ]
    return sorted(found, key=lambda n: (n.started or datetime.min.replace(tzinfo=UTC), n.name))


def read_beats(api: KubeApi, found: list[Leftover]) -> dict[str, Beat | None]:
    """The heartbeat of every run among ``found`` that has one (one GET per run; kept and
    terminating namespaces need none)."""
    refs = {n.heartbeat for n in found if n.heartbeat and not n.kept and not n.terminating}
    return {ref: read_beat(api, ref) for ref in sorted(refs)}


def select_garbage(
    found: list[Leftover],
    now: datetime,
    older_than_s: float | None = None,
    everything: bool = False,
    beats: Mapping[str, Beat | None] | None = None,
) -> list[Leftover]:
    """What a sweep removes: dead runs' namespaces (:meth:`Leftover.state`; or those started
    more than ``older_than_s`` ago, live or not), never kept ones unless ``everything``;
    namespaces already terminating are skipped."""
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
        elif ns.state(beats or {}, now).kind == DEAD:
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
    """Live namespaces carrying ``run_id`` (heartbeat, else expiry): a run id in use."""
    now = now or datetime.now(UTC)
    found = [Leftover.from_namespace(n) for n in api.list_namespaces(run_selector(run_id))]
    found = [n for n in found if not n.terminating]
    beats = read_beats(api, found)
    return [n.name for n in found if n.state(beats, now).kind == LIVE]
