"""The static Pod Security check catches what the API server would refuse."""

from __future__ import annotations

import copy

import pytest

from podshm.kube.podsecurity import baseline_violations, restricted_violations

GOOD = {
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": [{"name": "v", "emptyDir": {}}],
        "containers": [
            {
                "name": "c",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }
}


def tweak(path: list, value) -> dict:
    pod = copy.deepcopy(GOOD)
    target = pod
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return pod


def test_good_pod_passes():
    assert restricted_violations(GOOD) == []


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        (["spec", "hostIPC"], True, "hostIPC=true"),
        (["spec", "hostPID"], True, "hostPID=true"),
        (["spec", "volumes"], [{"name": "h", "hostPath": {"path": "/"}}], "hostPath"),
        (
            ["spec", "securityContext", "sysctls"],
            [{"name": "kernel.msgmax", "value": "1"}],
            "sysctls",
        ),
        (["spec", "securityContext", "seccompProfile"], {"type": "Unconfined"}, "seccompProfile"),
        (["spec", "containers", 0, "securityContext", "privileged"], True, "privileged"),
        (["spec", "containers", 0, "ports"], [{"containerPort": 1, "hostPort": 1}], "hostPort"),
    ],
)
def test_baseline_rules(path, value, needle):
    pod = tweak(path, value)
    assert any(needle in p for p in baseline_violations(pod))
    assert any(needle in p for p in restricted_violations(pod))


@pytest.mark.parametrize(
    ("path", "value", "needle"),
    [
        (["spec", "containers", 0, "securityContext", "allowPrivilegeEscalation"], True, "Escal"),
        (["spec", "containers", 0, "securityContext", "capabilities"], {}, "drop ALL"),
        (["spec", "securityContext", "runAsNonRoot"], False, "runAsNonRoot"),
        (["spec", "securityContext", "runAsUser"], 0, "runAsUser=0"),
        (["spec", "securityContext", "seccompProfile"], None, "seccompProfile"),
        (["spec", "volumes"], [{"name": "n", "nfs": {"server": "s", "path": "/"}}], "volume types"),
    ],
)
def test_restricted_only_rules(path, value, needle):
    pod = tweak(path, value)
    assert baseline_violations(pod) == []
    assert any(needle in p for p in restricted_violations(pod))


def test_safe_ipc_sysctl_is_allowed():
    pod = tweak(
        ["spec", "securityContext", "sysctls"], [{"name": "kernel.shm_rmid_forced", "value": "1"}]
    )
    assert restricted_violations(pod) == []
