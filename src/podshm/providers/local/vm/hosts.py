"""The VM node's name in the host's ``/etc/hosts``: how the API server reaches its kubelet.

The API server dials kubelets by the node's ``Hostname`` address first
(``--kubelet-preferred-address-types=Hostname,InternalIP``: the host node's kubelet listens
on loopback only, and its host name resolves there). The VM node's host name must then
resolve to its bridge address on the host, and a line in ``/etc/hosts`` is the one resolver
every Go program reads. The line carries a marker, so only podshm's own line is ever
replaced or removed; ``stop`` removes it, and ``leftovers`` reports it.
"""

from __future__ import annotations

from pathlib import Path

HOSTS = Path("/etc/hosts")
MARKER = "# podshm-vm-node"


def with_entry(text: str, address: str, name: str) -> str:
    """``text`` with podshm's line for ``name`` at ``address`` (any older one replaced)."""
    kept = without_entry(text)
    if kept and not kept.endswith("\n"):
        kept += "\n"
    return f"{kept}{address}\t{name}\t{MARKER}\n"


def without_entry(text: str) -> str:
    """``text`` without podshm's lines (everything else byte for byte)."""
    return "".join(line for line in text.splitlines(keepends=True) if MARKER not in line)


def add(address: str, name: str, hosts: Path = HOSTS) -> None:
    """Write the entry in place (``/etc/hosts`` may be a bind mount: no rename over it)."""
    text = hosts.read_text()
    wanted = with_entry(text, address, name)
    if wanted != text:
        hosts.write_text(wanted)


def remove(hosts: Path = HOSTS) -> bool:
    """Remove podshm's lines; whether there were any."""
    text = hosts.read_text()
    kept = without_entry(text)
    if kept == text:
        return False
    hosts.write_text(kept)
    return True


def present(hosts: Path = HOSTS) -> list[str]:
    """podshm's lines still in the file."""
    return [line for line in hosts.read_text().splitlines() if MARKER in line]
