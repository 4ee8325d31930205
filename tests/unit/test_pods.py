"""Waiting for pods: hopeless states fail at once, with the cause and the event message."""

from __future__ import annotations

import pytest
from fakeclock import FakeClock

from podshm.kube.diagnostics import format_container_statuses, format_events
from podshm.kube.pods import (
    FIX_IMAGE_NEVER,
    FIX_IMAGE_PULL,
    FIX_RUNTIME,
    UNTIL_COMPLETED,
    PodNotReady,
    last_warning,
    pod_problem,
    pod_reached,
    wait_for_pod,
)


def pod(*statuses: dict, phase: str = "Pending", conditions=(), reason=None) -> dict:
    status = {"phase": phase, "containerStatuses": list(statuses), "conditions": list(conditions)}
    if reason:
        status["reason"] = reason
    return {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": s["name"]} for s in statuses] or [{"name": "sender"}]},
        "status": status,
    }


def waiting(name: str, reason: str, message: str = "") -> dict:
    return {"name": name, "state": {"waiting": {"reason": reason, "message": message}}}


def running(name: str) -> dict:
    return {"name": name, "ready": True, "state": {"running": {"startedAt": "now"}}}


def terminated(name: str, reason: str, code: int) -> dict:
    return {"name": name, "state": {"terminated": {"reason": reason, "exitCode": code}}}


@pytest.mark.parametrize(
    "reason",
    [
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "CrashLoopBackOff",
        "RunContainerError",
    ],
)
def test_fatal_waiting_reasons(reason):
    cause, fix = pod_problem(pod(running("sender"), waiting("receiver", reason, "boom")))
    assert f"container 'receiver' is {reason}: boom" == cause
    assert fix


def test_image_problems_point_at_the_image_option():
    _, fix = pod_problem(pod(waiting("sender", "ImagePullBackOff")))
    assert fix == FIX_IMAGE_PULL


def test_an_image_never_pulled_is_not_told_to_use_never():
    """The fix must not suggest what the pod already does (pull policy Never)."""
    never = pod(waiting("sender", "ErrImageNeverPull"))
    never["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    _, fix = pod_problem(never)
    assert fix == FIX_IMAGE_NEVER
    assert "Never to" not in fix


def test_container_creating_is_not_a_problem():
    assert pod_problem(pod(waiting("sender", "ContainerCreating"))) is None


def test_unschedulable():
    cond = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/1 nodes are available: 1 Insufficient memory.",
    }
    cause, _ = pod_problem(pod(conditions=[cond]))
    assert cause == "pod cannot be scheduled: 0/1 nodes are available: 1 Insufficient memory."


def test_exited_container_is_a_problem_when_waiting_for_running():
    p = pod(running("sender"), terminated("receiver", "Completed", 0), phase="Running")
    cause, _ = pod_problem(p)
    assert "exited before the test could use it: Completed (exit 0)" in cause
    assert pod_problem(p, UNTIL_COMPLETED) is None


def test_a_runtime_start_error_points_at_the_runtime_not_the_image():
    """runc failing to create the task (seen on kind: "unable to freeze") is not the image's."""
    freeze = "OCI runtime create failed: runc create failed: ... unable to freeze"
    missing = 'exec: "sleep": executable file not found in $PATH'
    for message, expected in ((freeze, FIX_RUNTIME), (missing, "keep-alive command (sleep)")):
        term = terminated("sender", "StartError", 128)
        term["state"]["terminated"]["message"] = message
        cause, fix = pod_problem(pod(running("receiver"), term, phase="Running"))
        assert "StartError (exit 128)" in cause
        assert expected in fix


def test_failed_pod():
    p = pod(terminated("sender", "OOMKilled", 137), phase="Failed", reason="Evicted")
    cause, _ = pod_problem(p)
    assert cause.startswith("pod failed (Evicted)")


def test_reached():
    assert pod_reached(pod(running("sender"), running("receiver"), phase="Running"))
    assert not pod_reached(pod(running("sender"), waiting("receiver", "ContainerCreating")))
    assert pod_reached(
        pod(terminated("sender", "Completed", 0), phase="Succeeded"), UNTIL_COMPLETED
    )


class FakeApi:
    """Returns a sequence of pod states; events fixed."""

    def __init__(self, states: list[dict], events: list[dict] | None = None) -> None:
        self.states = states
        self.events = events or []
        self.reads = 0

    def read_pod(self, namespace: str, name: str) -> dict:
        self.reads += 1
        return self.states[min(self.reads, len(self.states)) - 1]

    def pod_events(self, namespace: str, name: str) -> list[dict]:
        return self.events


def test_wait_returns_once_running():
    api = FakeApi([pod(waiting("sender", "ContainerCreating")), pod(running("sender"))])
    clock = FakeClock()
    wait_for_pod(api, "ns", "p", timeout=60, clock=clock, sleep=clock.sleep)
    assert api.reads == 2


def test_wait_fails_fast_on_image_pull_with_the_event_message():
    event = {
        "type": "Warning",
        "reason": "Failed",
        "message": 'Failed to pull image "nope:1": not found',
    }
    api = FakeApi(
        [pod(waiting("sender", "ContainerCreating")), pod(waiting("sender", "ErrImagePull"))],
        [event],
    )
    clock = FakeClock()
    with pytest.raises(PodNotReady) as err:
        wait_for_pod(api, "ns", "p", timeout=120, clock=clock, sleep=clock.sleep)
    assert clock.now < 30
    assert "ErrImagePull" in err.value.cause and 'Failed to pull image "nope:1"' in err.value.cause
    assert "--podshm-image" in err.value.fix


def test_wait_times_out_with_state_and_last_warning():
    event = {"type": "Warning", "reason": "FailedMount", "message": "volume x not ready"}
    api = FakeApi([pod(waiting("sender", "ContainerCreating"))], [event])
    clock = FakeClock()
    with pytest.raises(PodNotReady) as err:
        wait_for_pod(api, "ns", "p", timeout=10, clock=clock, sleep=clock.sleep)
    assert "not running after 10 s" in err.value.cause
    assert "ContainerCreating" in err.value.cause and "FailedMount" in err.value.cause
    assert "--podshm-pod-timeout" in err.value.fix


def test_formatting_helpers():
    p = pod(terminated("sender", "OOMKilled", 137), phase="Failed")
    p["status"]["containerStatuses"][0]["restartCount"] = 1
    lines = format_container_statuses(p)
    assert "container sender: terminated: OOMKilled (exit 137)" in lines[1]
    events = [{"type": "Warning", "reason": "BackOff", "message": "m", "count": 3}]
    assert format_events(events) == ["Warning BackOff (x3): m"]
    assert last_warning([{"type": "Normal", "reason": "Pulled"}, *events]) == "BackOff: m"


def test_a_sandbox_the_runtime_refused_three_times_is_hopeless():
    from podshm.kube.pods import sandbox_failure

    refusal = {"reason": "FailedCreatePodSandBox", "message": "OCI runtime create failed: x"}
    assert sandbox_failure([refusal, refusal]) is None
    assert sandbox_failure([{**refusal, "count": 3}]) == "OCI runtime create failed: x"
    assert sandbox_failure([refusal, {"reason": "Scheduled"}, refusal, refusal]) is not None
