#!/usr/bin/env python3
"""runc wrapper for podshm's Docker engine: drop capabilities the host cannot grant.

Why: Docker 20.10 (Debian's docker.io) gives a ``--privileged`` container every
capability it knows, and runc then fails with "unable to apply caps: operation not
permitted" when the engine's own bounding set lacks one (here root has no
CAP_SYS_RESOURCE). Engines 23+ ask only for the caps they hold (moby PR #42933);
this wrapper does the same for 20.10: on ``create``/``run`` it filters the bundle's
``config.json``, on ``exec`` the ``--process`` JSON, keeping only capabilities in
this process's bounding set (``CapBnd`` of /proc/self/status), then runs the real
runc with the same arguments. Everything else passes through untouched.

The real runc's path is in the file ``runc-wrapper.real`` beside this script, as podshm
writes it.
"""

import json
import os
import sys

CAPS = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
]
"""Linux capability names in bit order (linux/capability.h)."""

SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")


def bounding_set() -> set[str]:
    """Names (``CAP_*``) of the capabilities this process may still hand on."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("CapBnd:"):
                mask = int(line.split()[1], 16)
                return {f"CAP_{n}" for i, n in enumerate(CAPS) if mask >> i & 1}
    return {f"CAP_{n}" for n in CAPS}


def filter_process(process: dict, allowed: set[str]) -> bool:
    """Remove unattainable capabilities from an OCI ``process``; True if it changed."""
    caps = process.get("capabilities") or {}
    changed = False
    for name in SETS:
        wanted = caps.get(name)
        if wanted:
            kept = [c for c in wanted if c in allowed]
            if kept != wanted:
                caps[name] = kept
                changed = True
    return changed


def rewrite(path: str, process_key: bool) -> None:
    """Filter the OCI config (or bare process JSON) at ``path`` in place."""
    with open(path) as f:
        doc = json.load(f)
    target = doc.get("process", {}) if process_key else doc
    if filter_process(target, bounding_set()):
        tmp = f"{path}.podshm-tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, path)


def option(args: list[str], names: tuple[str, ...]) -> str | None:
    """The value of ``--name value`` / ``--name=value`` in ``args``."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def real_runc() -> str:
    """The runc this wrapper stands in for."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "runc-wrapper.real")) as f:
        return f.read().strip()


def main(argv: list[str]) -> None:
    """Filter what needs it, then become the real runc."""
    commands = [a for a in argv if not a.startswith("-")]
    command = next((a for a in argv if a in ("create", "run", "exec")), None)
    if command in ("create", "run"):
        sub = argv[argv.index(command) + 1 :]
        bundle = option(sub, ("--bundle", "-b")) or os.getcwd()
        config = os.path.join(bundle, "config.json")
        if os.path.isfile(config):
            rewrite(config, process_key=True)
    elif command == "exec" and commands:
        sub = argv[argv.index(command) + 1 :]
        process = option(sub, ("--process", "-p"))
        if process and os.path.isfile(process):
            rewrite(process, process_key=False)
    runc = real_runc()
    os.execv(runc, [runc, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
