"""A run's heartbeat: a ``coordination.k8s.io`` Lease the live run renews, so a run killed
with SIGKILL is known dead within a minute instead of at its namespaces' expiry.

Where it lives: in the run's own first namespace (the one it creates before any other), so a
user whose rights end at the namespaces podshm creates can still write it, and it goes with
the namespace. Every namespace of the run names it in the annotation
:data:`HEARTBEAT_ANNOTATION` (``<namespace>/<lease>``), which is how a sweep or `podshm gc`
finds a namespace's heartbeat without listing Leases cluster-wide.

When a run is dead: its Lease was not renewed for ``leaseDurationSeconds`` (three periods,
written in the Lease, so a reader needs no setting). The age is measured on the API server's
clock: the time the server stamped on the Lease's last renewal (``managedFields``) against
the server's ``Date`` when it answered, so two machines with skewed clocks still agree.

What a heartbeat cannot decide, the namespaces' expiry annotation still does: a run that may
not write Leases runs without one, and a reader that may not read them falls back to it.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from podshm.kube.api import KubeApi, api_error_message

HEARTBEAT_ANNOTATION = "podshm.io/heartbeat"
"""On every namespace of a run with a heartbeat: ``<namespace>/<lease name>`` of its Lease."""
LEASE_NAME = "podshm-heartbeat"
PERIOD_S = 10
"""Seconds between renewals: a request every 10 s is nothing beside a test's hundreds."""
MISSED_PERIODS = 3
"""A heartbeat older than this many periods is a dead run's (``leaseDurationSeconds``)."""


def micro_time(moment: datetime) -> str:
    """``2026-12-01T00:33:41.123456Z``: a Lease's MicroTime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: Any) -> datetime | None:
    """A Kubernetes Time or MicroTime; None when missing or malformed."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def lease_manifest(name: str, holder: str, period_s: float, now: datetime) -> dict[str, Any]:
    """The Lease of one run (or xdist worker): who holds it, how long a renewal counts."""
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": int(period_s * MISSED_PERIODS),
            "acquireTime": micro_time(now),
            "renewTime": micro_time(now),
        },
    }


def holder_identity(run_id: str, worker: str) -> str:
    """``<run id>/<worker> <host>:<pid>``: which process a heartbeat is, for a human."""
    return f"{run_id}/{worker} {socket.gethostname()}:{os.getpid()}"


def last_renewal(lease: dict[str, Any]) -> datetime | None:
    """When the API server stored the Lease's last renewal: the ``managedFields`` entry that
    owns ``spec.renewTime`` (server clock, to the second); else ``renewTime`` itself (the
    writer's clock), for a server that keeps no managed fields."""
    stamps = [
        parse_time(entry.get("time"))
        for entry in (lease.get("metadata") or {}).get("managedFields") or []
        if "f:renewTime" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})
    ]
    known = [s for s in stamps if s is not None]
    if known:
        return max(known)
    return parse_time((lease.get("spec") or {}).get("renewTime"))


@dataclass(frozen=True)
class Beat:
    """One heartbeat as a reader found it. ``age_s`` None: the Lease does not exist."""

    age_s: float | None
    limit_s: float

    @property
    def missing(self) -> bool:
        return self.age_s is None

    @property
    def stale(self) -> bool:
        """Older than its own limit: the run that renewed it is dead."""
        return self.age_s is not None and self.age_s > self.limit_s


def beat_of(lease: dict[str, Any], server_now: datetime | None) -> Beat:
    """The age of ``lease``'s last renewal at ``server_now`` (the reader's clock if unknown)."""
    now = server_now or datetime.now(UTC)
    renewed = last_renewal(lease)
    spec = lease.get("spec") or {}
    limit = float(spec.get("leaseDurationSeconds") or PERIOD_S * MISSED_PERIODS)
    age = (now - renewed).total_seconds() if renewed else float("inf")
    return Beat(age_s=max(0.0, age), limit_s=limit)


def read_beat(api: KubeApi, ref: str) -> Beat | None:
    """The heartbeat ``<namespace>/<lease>`` now; None when it cannot be told (no right to
    read Leases, the API server failing): the caller then goes by the expiry."""
    namespace, _, name = ref.partition("/")
    if not namespace or not name:
        return None
    try:
        lease, server_now = api.read_lease(namespace, name)
    except ApiException as err:
        if err.status == 404:
            return Beat(age_s=None, limit_s=float(PERIOD_S * MISSED_PERIODS))
        return None
    except Exception:  # the API server went away: say nothing rather than something wrong
        return None
    return beat_of(lease, server_now)


class Heartbeat:
    """Renews a run's Lease every ``period_s`` from a daemon thread, and runs ``also`` (the
    namespaces' expiry renewal) on the same beat, with or without a Lease."""

    def __init__(
        self,
        api: KubeApi,
        holder: str,
        period_s: float = PERIOD_S,
        also: Callable[[], object] | None = None,
    ) -> None:
        self.api = api
        self.holder = holder
        self.period_s = period_s
        self.also = also
        self.ref: str | None = None
        """``<namespace>/<lease>`` once the Lease exists."""
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def create_lease(self, namespace: str) -> str | None:
        """Create the Lease in ``namespace``; None when it exists, else why it could not."""
        body = lease_manifest(LEASE_NAME, self.holder, self.period_s, datetime.now(UTC))
        try:
            self.api.create_lease(namespace, body)
        except ApiException as err:
            return f"HTTP {err.status}: {api_error_message(err)}"
        except Exception as err:
            return f"{type(err).__name__}: {err}"
        self.ref = f"{namespace}/{LEASE_NAME}"
        return None

    def start(self) -> None:
        """Start beating (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="podshm-heartbeat", daemon=True)
            self._thread.start()

    def beat(self) -> None:
        """One renewal (and ``also``); failures are counted, the next beat tries again."""
        if self.ref is not None:
            namespace, _, name = self.ref.partition("/")
            try:
                renewed = micro_time(datetime.now(UTC))
                self.api.patch_lease(namespace, name, {"spec": {"renewTime": renewed}})
            except Exception:
                self.failures += 1
        if self.also is not None:
            try:
                self.also()
            except Exception:
                self.failures += 1

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.beat()

    def stop(self) -> None:
        """Stop renewing; the Lease goes with its namespace."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
