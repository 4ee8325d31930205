"""podshm's own containerd and runc in the guest: the binaries for the boot disk, a minimal
config, and starting containerd through the guest agent until ``ctr`` gets an answer.

The kubelet join adds its CRI settings (sandbox image, runtime classes, CNI) to this config;
here containerd runs with its defaults, the state under /var/lib/containerd (the root disk's
overlay) and /run/containerd (tmpfs), the socket where ``ctr`` looks by default.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from podshm.build import components, gobuild
from podshm.build.pins import Pins
from podshm.errors import PodshmError
from podshm.providers.local.vm.agent import Agent

CONFIG_PATH = "/etc/containerd/config.toml"
LOG_PATH = "/var/log/containerd.log"
SOCKET = "/run/containerd/containerd.sock"
CONFIG = f"""\
# podshm VM node: containerd's defaults, paths spelled out.
version = 3
root = "/var/lib/containerd"
state = "/run/containerd"

[grpc]
  address = "{SOCKET}"
"""


def binaries(pins: Pins, log: TextIO = sys.stderr) -> dict[str, Path]:
    """Name on the boot disk -> podshm's build (cached; built the first time)."""
    built = gobuild.build(components.containerd(pins.containerd), log=log)
    runc = gobuild.build(components.runc(pins.runc), log=log)
    found = {name: built / name for name in ("containerd", "containerd-shim-runc-v2", "ctr")}
    return {**found, "runc": runc / "runc"}


def start(agent: Agent, timeout: float = 120.0) -> float:
    """Write the config, start containerd detached (init adopts it), wait until ``ctr
    version`` answers; seconds from the start to that answer."""
    agent.write_file(CONFIG_PATH, CONFIG.encode())
    began = time.monotonic()
    agent.sh(
        f"setsid -f containerd --config {CONFIG_PATH} > {LOG_PATH} 2>&1 < /dev/null",
        timeout=30,
    ).check()
    while True:
        result = agent.run(["ctr", "--timeout", "5s", "version"], timeout=30)
        if result.exitcode == 0 and "Server:" in result.stdout:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            log = agent.run(["tail", "-n", "20", LOG_PATH], timeout=30).stdout
            raise PodshmError(
                f"containerd in the VM did not answer `ctr version` within {timeout:.0f}s: "
                f"{result.stderr.strip()}; its log ends:\n{log}",
                "fix the cause in containerd's log; the VM's stop removes its state",
            )
        time.sleep(0.5)
