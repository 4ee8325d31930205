"""A static check of a pod against the Pod Security Standards ("restricted" and "baseline").

The suite's namespaces enforce ``restricted``, so a manifest that breaks it fails at admission
with a message the user then has to decode. Checking locally first turns that into a precise
error before any API call, and lets unit tests prove every shipped manifest is admissible
(and that ``hostipc.yaml`` breaks exactly the host-namespaces rule). The rules follow
k8s.io/pod-security-admission/policy at v1.37.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# policy/check_sysctls.go, sysctlsAllowedV1Dot37.
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
        "net.ipv4.tcp_slow_start_after_idle",
        "net.ipv4.tcp_notsent_lowat",
    }
)
# policy/check_capabilities_baseline.go.
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
# policy/check_restrictedVolumes.go.
RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
        "image",
    }
)


def _containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def baseline_violations(pod: dict[str, Any]) -> list[str]:
    """Reasons the pod breaks the ``baseline`` level (PSA's wording where it has one)."""
    spec = pod.get("spec") or {}
    psc = spec.get("securityContext") or {}
    problems: list[str] = []
    hosts = [f"{f}=true" for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f)]
    if hosts:
        problems.append(f"host namespaces ({', '.join(hosts)})")
    for vol in spec.get("volumes") or []:
        if "hostPath" in vol:
            problems.append(f"hostPath volumes ({vol.get('name')})")
    bad_sysctls = [
        s.get("name") for s in psc.get("sysctls") or [] if s.get("name") not in SAFE_SYSCTLS
    ]
    if bad_sysctls:
        problems.append(f"forbidden sysctls ({', '.join(map(str, bad_sysctls))})")
    if (psc.get("seccompProfile") or {}).get("type") == "Unconfined":
        problems.append("seccompProfile (pod must not set type Unconfined)")
    for c in _containers(spec):
        sc = c.get("securityContext") or {}
        name = c.get("name")
        if sc.get("privileged"):
            problems.append(f"privileged (container {name!r})")
        added = set((sc.get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES
        if added:
            problems.append(f"non-default capabilities (container {name!r}: {sorted(added)})")
        if any(p.get("hostPort") for p in c.get("ports") or []):
            problems.append(f"hostPort (container {name!r})")
        if sc.get("procMount") not in (None, "Default"):
            problems.append(f"procMount (container {name!r})")
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            problems.append(f"seccompProfile (container {name!r} must not be Unconfined)")
    return problems


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """Reasons the pod breaks the ``restricted`` level (baseline rules included)."""
    spec = pod.get("spec") or {}
    psc = spec.get("securityContext") or {}
    problems = baseline_violations(pod)
    for vol in spec.get("volumes") or []:
        kinds = set(vol) - {"name"}
        if kinds and not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"restricted volume types ({vol.get('name')}: {sorted(kinds)})")
    if psc.get("runAsUser") == 0:
        problems.append("runAsUser=0 (pod)")
    pod_nonroot = psc.get("runAsNonRoot") is True
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type") in ("RuntimeDefault", "Localhost")
    for c in _containers(spec):
        sc = c.get("securityContext") or {}
        name = c.get("name")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"allowPrivilegeEscalation != false (container {name!r})")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            problems.append(f"unrestricted capabilities (container {name!r} must drop ALL)")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(
                f"unrestricted capabilities (container {name!r} adds more than NET_BIND_SERVICE)"
            )
        if sc.get("runAsNonRoot") is False or not (pod_nonroot or sc.get("runAsNonRoot") is True):
            problems.append(f"runAsNonRoot != true (container {name!r})")
        if sc.get("runAsUser") == 0:
            problems.append(f"runAsUser=0 (container {name!r})")
        c_seccomp = (sc.get("seccompProfile") or {}).get("type")
        if not (
            c_seccomp in ("RuntimeDefault", "Localhost") or (pod_seccomp and c_seccomp is None)
        ):
            problems.append(
                f"seccompProfile (container {name!r} must be RuntimeDefault or Localhost)"
            )
    return problems
