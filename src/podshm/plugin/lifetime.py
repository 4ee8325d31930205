"""A run's life on the cluster: it starts by sweeping what dead runs left, refuses a run id a
live run holds, ends on SIGTERM as on Ctrl-C, and cleans up after itself, reporting (never
swallowing) every namespace it could not delete.
"""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from typing import Any

from podshm.errors import PodshmError
from podshm.kube.access import connection_lost
from podshm.kube.namespaces import SweepResult
from podshm.kube.sweep import (
    leftovers,
    live_namespaces_of_run,
    read_beats,
    select_garbage,
    sweep_leftovers,
    sweep_run,
)
from podshm.plugin.prestart import stop_prestart
from podshm.plugin.state import RunState
from podshm.settings import RUN_ID_ENV


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def handle_sigterm_like_sigint() -> Any:
    """A cancelled CI job sends SIGTERM: unwind and clean up as after Ctrl-C.

    Returns the previous handler (None when not on the main thread, where Python cannot
    install handlers).
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_interrupt)


def restore_sigterm(previous: Any) -> None:
    """Put back the handler :func:`handle_sigterm_like_sigint` replaced."""
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)


def start_of_run(state: RunState) -> list[str]:
    """Refuse a run id in use by a live run; sweep the namespaces of dead runs (heartbeat
    stopped; without one, expired).

    Returns the lines to show (what was removed, what could not be). Runs on the controller
    (or a lone process) only, once the cluster is known to answer.
    """
    api = state.cluster().api
    if state.run_id_given:
        live = live_namespaces_of_run(api, state.run_id)
        if live:
            raise PodshmError(
                f"run id {state.run_id} is in use by a live run (namespaces {', '.join(live)})",
                f"pick another {RUN_ID_ENV}, or unset it for a fresh one",
            )
    now = datetime.now(UTC)
    found = [n for n in leftovers(api) if n.run_id != state.run_id]
    beats = read_beats(api, found)
    chosen = select_garbage(found, now, beats=beats)
    result = sweep_leftovers(api, chosen)
    state.sweep.failed += result.failed
    removed = [n for n in chosen if n.name in result.deleted]
    lines = [
        f"podshm: removed the namespace of a dead run: {n.describe(now, n.state(beats, now))}"
        for n in removed
    ]
    return lines + [f"podshm: {line}" for line in result.failure_lines()]


def cleanup(state: RunState, interrupted: bool = False) -> None:
    """Delete this process's namespaces; the xdist controller sweeps the whole run.

    Workers never sweep the whole run: the other workers are still using their namespaces. A
    lone process whose namespace manager deleted everything it created has nothing left to
    sweep (and asks the API server nothing: the cluster may be gone by then, on purpose).
    After an interrupt the sweep always runs (a namespace created at the very moment of
    Ctrl-C may be unknown to the manager). Failures are kept in ``state.sweep`` for the
    summary and the exit status.
    """
    stop_prestart(state.config)
    result = SweepResult()
    manager = state.namespace_manager
    if manager is not None:
        result = result.merge(manager.delete_all())
    distributed = bool(getattr(state.config.option, "numprocesses", None))
    lone_and_clean = manager is not None and not result.failed and not distributed
    touched = state.saw_namespaces or (interrupted and state.connected)
    if not state.is_worker and touched and (interrupted or not lone_and_clean):
        try:
            result = result.merge(sweep_run(state.cluster().api, state.run_id))
        except Exception as err:  # the API server is gone: say so, once
            reason = connection_lost(err) or f"{type(err).__name__}: {err}"
            message = f"cannot list the namespaces of run {state.run_id}: {reason}"
            result.failed.append(("", message))
    known = set(state.sweep.failed)
    state.sweep.failed += [entry for entry in result.failed if entry not in known]
    state.sweep.deleted += result.deleted


def sweep_worker(state: RunState, worker: str) -> None:
    """A crashed xdist worker left its namespaces: delete them, reporting failures."""
    try:
        result = sweep_run(state.cluster().api, state.run_id, worker=worker)
    except Exception as err:
        reason = connection_lost(err) or f"{type(err).__name__}: {err}"
        result = SweepResult(failed=[("", f"cannot list worker {worker}'s namespaces: {reason}")])
    state.sweep.failed += result.failed
