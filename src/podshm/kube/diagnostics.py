"""What to show when a pod misbehaves: events, container statuses, logs.

Collected for a failing test and attached to its report, so a failure in CI can be understood
without access to the (by then deleted) namespace.
"""

from __future__ import annotations

from typing import Any

from kubernetes.client.exceptions import ApiException

from podshm.kube.api import KubeApi, api_error_message


def format_state(state: dict[str, Any] | None) -> str:
    """``running``, ``waiting: ImagePullBackOff (msg)`` or ``terminated: OOMKilled (exit 137)``."""
    if not state:
        return "unknown"
    if "running" in state and state["running"] is not None:
        return "running"
    if state.get("waiting") is not None:
        waiting = state["waiting"] or {}
        text = f"waiting: {waiting.get('reason', '?')}"
        return text + (f" ({waiting['message']})" if waiting.get("message") else "")
    if state.get("terminated") is not None:
        term = state["terminated"] or {}
        text = f"terminated: {term.get('reason', '?')} (exit {term.get('exitCode', '?')})"
        return text + (f" {term['message']}" if term.get("message") else "")
    return "unknown"


def format_container_statuses(pod: dict[str, Any]) -> list[str]:
    """One line per container (init containers included) from the pod's status."""
    status = pod.get("status") or {}
    lines = [
        f"phase {status.get('phase', '?')}"
        + (f", reason {status['reason']}" if status.get("reason") else "")
        + (f": {status['message']}" if status.get("message") else "")
        + (f", node {(pod.get('spec') or {}).get('nodeName')}")
    ]
    for cond in status.get("conditions") or []:
        if cond.get("status") != "True":
            lines.append(
                f"condition {cond.get('type')}={cond.get('status')} "
                f"{cond.get('reason', '')} {cond.get('message', '')}".rstrip()
            )
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            line = (
                f"container {cs.get('name')}: {format_state(cs.get('state'))}, "
                f"ready={cs.get('ready')}, restarts={cs.get('restartCount', 0)}"
            )
            if cs.get("lastState"):
                last = format_state(cs["lastState"])
                if last != "unknown":
                    line += f", last: {last}"
            lines.append(line)
    return lines


def format_events(events: list[dict[str, Any]]) -> list[str]:
    """``Warning FailedScheduling (x3): 0/1 nodes are available...``, oldest first."""
    lines = []
    for ev in events:
        count = ev.get("count") or (ev.get("series") or {}).get("count") or 1
        times = f" (x{count})" if count and int(count) > 1 else ""
        lines.append(
            f"{ev.get('type', '?')} {ev.get('reason', '?')}{times}: {ev.get('message', '')}"
        )
    return lines


def collect_pod_diagnostics(api: KubeApi, namespace: str, name: str) -> str:
    """Events, statuses and the logs of every container, as one text block. Never raises."""
    sections: list[str] = [f"== pod {namespace}/{name}"]
    pod: dict[str, Any] = {}
    try:
        pod = api.read_pod(namespace, name)
        sections.append("-- status")
        sections.extend(format_container_statuses(pod))
    except ApiException as err:
        sections.append(f"(cannot read pod: HTTP {err.status}: {api_error_message(err)})")
    except Exception as err:  # diagnostics must not mask the real failure
        sections.append(f"(cannot read pod: {err})")
    try:
        sections.append("-- events")
        sections.extend(format_events(api.pod_events(namespace, name)) or ["(none)"])
    except Exception as err:
        sections.append(f"(cannot list events: {err})")
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    restarted = {cs.get("name") for cs in statuses if cs.get("restartCount")}
    for container in (pod.get("spec") or {}).get("containers") or []:
        cname = container.get("name")
        for previous in (False, True) if cname in restarted else (False,):
            label = f"-- logs {cname}" + (" (previous)" if previous else "")
            try:
                text = api.pod_log(namespace, name, cname, previous=previous)
                sections.append(label)
                sections.append(text.rstrip() or "(empty)")
            except ApiException as err:
                sections.append(f"{label}: unavailable ({api_error_message(err)})")
            except Exception as err:
                sections.append(f"{label}: unavailable ({err})")
    return "\n".join(sections)
