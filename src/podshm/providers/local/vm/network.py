"""The VM's network on the host: a bridge of its own with a private /24, the host's address on
it, and the tap QEMU attaches to; the guest's address is static (kernel command line).

Why a bridge and tap rather than QEMU's user networking: the kubelet join needs the host to
reach the guest's port 10250 at an address that can be the node's InternalIP (never
loopback), and pods on the two nodes to route to each other's podCIDR via node addresses;
both need the guest on a real host interface. The guest gets no default route: it reaches
the host and nothing beyond it. The API server, which listens on 127.0.0.1 only, is reached
through a forward on the bridge address (:mod:`.forward`).

``ensure`` is idempotent (a tap a killed QEMU left behind is reused); ``teardown`` removes
the tap and the bridge; ``present`` lists which of them exist (for ``leftovers``).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from dataclasses import dataclass

from podshm.errors import PodshmError

IFNAMSIZ = 15
"""Longest interface name Linux accepts."""


@dataclass(frozen=True)
class NetworkPlan:
    """Names and addresses of one VM's network (defaults: clear of the local cluster's pod
    and service ranges, 10.244-10.245 and 10.96-10.97, and of its bridge ``podshm0``)."""

    bridge: str = "podshmvm-br0"
    tap: str = "podshmvm-tap0"
    subnet: str = "10.249.0.0/24"
    pod_subnet: str | None = None
    """The guest node's pod range, routed through the guest's address (None: no route);
    how the host and its pods reach the VM node's pods."""

    def __post_init__(self) -> None:
        for name in (self.bridge, self.tap):
            if not 0 < len(name) <= IFNAMSIZ or "/" in name or name.strip() != name:
                raise ValueError(f"bad interface name {name!r} (1 to {IFNAMSIZ} characters)")
        net = ipaddress.ip_network(self.subnet)
        if net.version != 4 or net.num_addresses < 4:
            raise ValueError(f"{self.subnet}: the VM needs an IPv4 subnet with two hosts")
        if self.pod_subnet and ipaddress.ip_network(self.pod_subnet).overlaps(net):
            raise ValueError(f"the pod range {self.pod_subnet} overlaps {self.subnet}")

    @property
    def network(self) -> ipaddress.IPv4Network:
        net = ipaddress.ip_network(self.subnet)
        assert isinstance(net, ipaddress.IPv4Network)
        return net

    @property
    def host_ip(self) -> str:
        """The host's address on the bridge (the subnet's first)."""
        return str(self.network.network_address + 1)

    @property
    def guest_ip(self) -> str:
        """The guest's eth0 address (the subnet's second): the node's InternalIP."""
        return str(self.network.network_address + 2)

    @property
    def guest_cidr(self) -> str:
        return f"{self.guest_ip}/{self.network.prefixlen}"

    @property
    def host_cidr(self) -> str:
        return f"{self.host_ip}/{self.network.prefixlen}"


def ensure_commands(plan: NetworkPlan, existing: set[str]) -> list[list[str]]:
    """The ``ip`` commands that make the plan true, given the interfaces that exist (pure)."""
    cmds: list[list[str]] = []
    if plan.bridge not in existing:
        cmds.append(["ip", "link", "add", plan.bridge, "type", "bridge"])
    cmds.append(["ip", "addr", "replace", plan.host_cidr, "dev", plan.bridge])
    cmds.append(["ip", "link", "set", plan.bridge, "up"])
    if plan.tap not in existing:
        cmds.append(["ip", "tuntap", "add", "dev", plan.tap, "mode", "tap"])
    cmds.append(["ip", "link", "set", plan.tap, "master", plan.bridge])
    cmds.append(["ip", "link", "set", plan.tap, "up"])
    if plan.pod_subnet:
        route = ["ip", "route", "replace", plan.pod_subnet, "via", plan.guest_ip]
        cmds.append([*route, "dev", plan.bridge])
    return cmds


def teardown_commands(plan: NetworkPlan, existing: set[str]) -> list[list[str]]:
    """The ``ip`` commands that remove what the plan created (pure)."""
    return [["ip", "link", "del", name] for name in (plan.tap, plan.bridge) if name in existing]


def clashes(plan: NetworkPlan, addresses: dict[str, list[str]]) -> list[str]:
    """Addresses of *other* interfaces inside the plan's subnet (pure): the plan would steal
    their traffic, so it is refused."""
    return sorted(
        f"{name} {cidr}"
        for name, cidrs in addresses.items()
        if name not in (plan.bridge, plan.tap)
        for cidr in cidrs
        if ipaddress.ip_interface(cidr).version == 4
        and ipaddress.ip_interface(cidr).network.overlaps(plan.network)
    )


def _ip(*args: str) -> str:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise PodshmError(
            f"`ip {' '.join(args)}` failed: {proc.stderr.strip()}",
            "the VM's network needs root and the tun and bridge modules (modprobe tun bridge)",
        )
    return proc.stdout


def _interfaces() -> dict[str, list[str]]:
    """Interface name -> its addresses (``a.b.c.d/nn``), from ``ip -j addr``."""
    return {
        link["ifname"]: [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])]
        for link in json.loads(_ip("-j", "addr", "show") or "[]")
    }


def present(plan: NetworkPlan) -> list[str]:
    """Which of the plan's bridge and tap exist now."""
    existing = set(_interfaces())
    return [name for name in (plan.bridge, plan.tap) if name in existing]


def ensure(plan: NetworkPlan) -> None:
    """Create (or repair) the bridge, its address and the tap; a no-op when all is there."""
    interfaces = _interfaces()
    found = clashes(plan, interfaces)
    if found:
        raise PodshmError(
            f"the VM's subnet {plan.subnet} is already used here: {', '.join(found)}",
            "choose another subnet for the VM's network (NetworkPlan.subnet)",
        )
    for cmd in ensure_commands(plan, set(interfaces)):
        _ip(*cmd[1:])


def teardown(plan: NetworkPlan) -> None:
    """Remove the tap and the bridge (their addresses and routes go with them)."""
    for cmd in teardown_commands(plan, set(_interfaces())):
        _ip(*cmd[1:])
