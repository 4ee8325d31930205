"""TCP forwards from the VM's bridge address to ports the host serves on loopback only.

The API server listens on 127.0.0.1:6443; the guest reaches it at ``<host_ip>:6443``, where
socat accepts and connects on to loopback (one child per connection). A process of its own
rather than iptables DNAT with ``route_localnet``: it changes no firewall rule of a host the
local cluster shares, and its lifetime is a pidfile that stop removes. TLS passes through
untouched: the kubelet names the server ``kubernetes`` (a SAN of the API server's
certificate), not the bridge address.
"""

from __future__ import annotations

import shutil
import socket
import time
from dataclasses import dataclass

from podshm.errors import PodshmError
from podshm.providers.local import daemons
from podshm.providers.local.layout import Layout


@dataclass(frozen=True)
class Forward:
    """``listen_ip:port`` on the host, to ``127.0.0.1:target_port``."""

    listen_ip: str
    port: int
    target_port: int

    @property
    def name(self) -> str:
        """Its daemon name (pidfile, log)."""
        return f"forward-{self.port}"

    def argv(self, socat: str = "socat") -> list[str]:
        """The socat command line (pure)."""
        return [
            socat,
            f"TCP-LISTEN:{self.port},bind={self.listen_ip},reuseaddr,fork",
            f"TCP:127.0.0.1:{self.target_port},connect-timeout=10",
        ]


def _listening(forward: Forward) -> bool:
    try:
        with socket.create_connection((forward.listen_ip, forward.port), timeout=1):
            return True
    except OSError:
        return False


def start(layout: Layout, forward: Forward, timeout: float = 10.0) -> None:
    """Start the forward (a running one is kept) and wait until it accepts."""
    if daemons.running(layout, forward.name) is not None:
        return
    socat = shutil.which("socat")
    if socat is None:
        raise PodshmError(
            "socat not found: the VM reaches the host's loopback ports through it",
            "apt-get install socat (scripts/bootstrap.sh)",
        )
    daemons.start(layout, forward.name, forward.argv(socat))
    daemons.wait_for(
        layout,
        forward.name,
        lambda: _listening(forward),
        timeout=timeout,
        what=f"a listening socket on {forward.listen_ip}:{forward.port}",
    )


def stop(layout: Layout, forward: Forward) -> None:
    daemons.stop(layout, forward.name, grace=5.0)
    deadline = time.monotonic() + 5
    while _listening(forward) and time.monotonic() < deadline:
        time.sleep(0.1)
