"""Which namespaced sysctls a node's kubelet lets a pod set: the kubelet's allowlist rule.

The kubelet admits a pod's ``securityContext.sysctls`` only if each one is on its allowlist:
the safe sysctls it always allows, plus the patterns of its ``allowedUnsafeSysctls`` config
field (flag ``--allowed-unsafe-sysctls``). A pattern is a sysctl name, or a prefix ending in
``*``; names are compared in dotted form (``kernel/sem`` is ``kernel.sem``). Anything else is
refused at admission: the pod ends ``Failed`` with reason ``SysctlForbidden``.

Follows k8s.io/kubernetes pkg/kubelet/sysctl/allowlist.go (``NewAllowlist``,
``validateSysctl``: an exact name, else a prefix of a ``*`` pattern; ``ForbiddenReason``),
safe_sysctls.go (``kernel.shm_rmid_forced`` is the one safe IPC sysctl) and
k8s.io/component-helpers node/util/sysctl (``NormalizeName``), v1.33 to v1.37 alike.

Pure: the kubelet's configuration arrives as the ``configz`` document, read elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FORBIDDEN_REASON = "SysctlForbidden"
"""The pod's ``status.reason`` when the kubelet refuses one of its sysctls."""
SAFE_IPC = ("kernel.shm_rmid_forced",)
"""The IPC sysctls on the kubelet's own safe list (allowed without any setting)."""
IPC_GROUP = ("kernel.msg*", "kernel.sem", "kernel.shm*")
"""The unsafe IPC-namespaced sysctls SysV users (Oracle, SAP) raise: message queue sizes,
the semaphore limits, shared memory sizes; what ``podshm cluster up --allowed-unsafe-sysctls
ipc`` allows."""
UNSAFE_IPC = (
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmmax",
    "kernel.shmall",
    "kernel.shmmni",
    "fs.mqueue.msg_max",
    "fs.mqueue.msgsize_max",
    "fs.mqueue.queues_max",
)
"""The unsafe sysctls of the IPC namespace (component-helpers' namespace table: ``kernel.sem``,
``kernel.msg*``, ``kernel.shm*`` but ``kernel.shm_rmid_forced``, ``fs.mqueue.*``)."""


SYSV_LIMITS = ("kernel.msgmax", "kernel.msgmnb", "kernel.sem")
"""What the Oracle-case scenario raises (``sysctl-sysv-limits.yaml``): a node must allow these."""
NEW_NAMESPACE_DEFAULTS = {
    "kernel.msgmax": (8192,),
    "kernel.msgmnb": (16384,),
    "kernel.sem": (32000, 1024000000, 500, 32000),
}
"""What a new IPC namespace (every pod's) starts with, whatever the host set: the kernel's
MSGMAX, MSGMNB (include/uapi/linux/msg.h, set by ipc/msg.c ``msg_init_ns``) and SEMMSL SEMMNS
SEMOPM SEMMNI (include/uapi/linux/sem.h since Linux 3.19, ipc/sem.c ``sem_init_ns``)."""
CONFIGZ_RIGHT = "get on the nodes/proxy subresource"
"""The right that reads a kubelet's configuration through the API server."""
ANNOTATION = "podshm.io/allowed-unsafe-sysctls"
"""Where podshm's local cluster names each node's ``allowedUnsafeSysctls`` (comma-separated,
empty for none), rewritten by every ``podshm cluster up``: its host node's kubelet listens on
loopback, and the API server proxies ``nodes/<node>/proxy`` only to a global unicast address
("address not allowed", pkg/registry/core/node/strategy.go ``isProxyableHostname``), so
``/configz`` cannot be read there."""

ALLOWLISTS = {"ipc": IPC_GROUP, "none": ()}
"""The choices of ``podshm cluster up --allowed-unsafe-sysctls``: the patterns each stands for."""


def normalize(name: str) -> str:
    """The dotted form of a sysctl name: ``kernel/sem`` -> ``kernel.sem``; a name whose first
    separator is a dot is already dotted (component-helpers' ``NormalizeName``)."""
    first_dot, first_slash = name.find("."), name.find("/")
    if first_slash == -1 or (first_dot != -1 and first_dot < first_slash):
        return name
    return name.replace(".", "\0").replace("/", ".").replace("\0", "/")


def allowed(name: str, unsafe_patterns: Iterable[str]) -> bool:
    """Whether a kubelet with ``allowedUnsafeSysctls: unsafe_patterns`` admits ``name``
    (IPC only: the safe net.* sysctls are not this module's business)."""
    sysctl = normalize(name)
    if sysctl in SAFE_IPC:
        return True
    for pattern in unsafe_patterns:
        if pattern.endswith("*"):
            if sysctl.startswith(pattern[:-1]):
                return True
        elif sysctl == pattern:
            return True
    return False


def refused(names: Iterable[str], unsafe_patterns: Iterable[str]) -> list[str]:
    """The sysctls of ``names`` the kubelet would refuse, in order."""
    patterns = tuple(unsafe_patterns)
    return [name for name in names if not allowed(name, patterns)]


def first_refused_ipc(unsafe_patterns: Iterable[str]) -> str | None:
    """An unsafe IPC sysctl this kubelet refuses (the first of :data:`UNSAFE_IPC`), if any."""
    found = refused(UNSAFE_IPC, unsafe_patterns)
    return found[0] if found else None


def from_configz(document: Mapping[str, Any]) -> tuple[str, ...]:
    """``allowedUnsafeSysctls`` of a kubelet's ``/configz`` answer (``{"kubeletconfig":
    {...}}``); absent or null means none."""
    config = document.get("kubeletconfig")
    if not isinstance(config, Mapping):
        raise ValueError("not a kubelet configz document: no kubeletconfig object")
    patterns = config.get("allowedUnsafeSysctls") or []
    if not isinstance(patterns, list):
        raise ValueError(f"allowedUnsafeSysctls is {patterns!r}, not a list")
    return tuple(str(p) for p in patterns)


@dataclass(frozen=True)
class KubeletAllowlist:
    """A node's ``allowedUnsafeSysctls`` as read from its kubelet, or why it could not be."""

    patterns: tuple[str, ...] = ()
    source: str = "configz"
    """Where ``patterns`` come from: the kubelet's ``configz``, or the node's :data:`ANNOTATION`
    when the API server cannot proxy to the kubelet."""
    forbidden: str = ""
    """The API server's refusal (HTTP 401/403) of the read: the run's user lacks the right."""
    unreachable: str = ""
    """The API server will not proxy to the node's address (HTTP 400), and no annotation."""
    error: str = ""
    """Any other failure to read it (the kubelet does not answer): the scenario fails."""

    @property
    def known(self) -> bool:
        return not self.forbidden and not self.unreachable and not self.error

    def allows(self, names: Iterable[str]) -> bool:
        """Whether this kubelet admits every one of ``names``."""
        return self.known and not refused(names, self.patterns)

    def describe(self) -> str:
        """``allowedUnsafeSysctls [kernel.msg*, kernel.sem]``, or why it is unknown."""
        if not self.known:
            return self.forbidden or self.unreachable or self.error
        where = "" if self.source == "configz" else f" (from {self.source})"
        return f"allowedUnsafeSysctls [{', '.join(self.patterns)}]{where}"


def from_annotation(value: str) -> tuple[str, ...]:
    """The patterns of an :data:`ANNOTATION` value (``""``: none)."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_values(text: str) -> tuple[int, ...]:
    """A sysctl value as the kernel prints it in /proc/sys: ``32000\\t1024000000\\t500\\t32000``
    -> (32000, 1024000000, 500, 32000); the pod spec's ``"64000 1024000000 500 32000"`` too."""
    return tuple(int(part) for part in text.split())
