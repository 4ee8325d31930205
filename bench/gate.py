#!/usr/bin/env python3
"""Benchmark of the upgrade gate: wall time and its parts, both versions already built.

Prints figures; asserts nothing. Run as root from a checkout, with no local cluster running
(the gate brings its own up):

    .venv/bin/python bench/gate.py      # v1.36 -> v1.37, -m "not bench and not multinode"
    .venv/bin/python bench/gate.py --from v1.33 --to v1.34 -- -m "shm"

The parts come from the gate's own clock (cluster up, each suite run, each upgrade step and
the diff) and the upgrade's breakdown (etcd, control plane, kubelet); the total is measured
here around the whole command.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

PART = re.compile(r"^podshm gate: (?P<name>[^,]+?): (?P<secs>[\d.]+) s$")
UPGRADE = re.compile(
    r"upgraded to (?P<v>\S+) in (?P<total>[\d.]+) s \(etcd (?P<etcd>[\d.]+), "
    r"control plane (?P<cp>[\d.]+), kubelet (?P<kubelet>[\d.]+)\)"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", default="v1.36")
    parser.add_argument("--to", dest="end", default="v1.37")
    parser.add_argument(
        "pytest_args", nargs="*", default=["-m", "not bench and not multinode", "-q"]
    )
    args = parser.parse_args()
    podshm = str(Path(sys.executable).parent / "podshm")
    subprocess.run([podshm, "cluster", "down"], check=True, capture_output=True)
    started = time.monotonic()
    proc = subprocess.run(
        [podshm, "gate", "--from", args.start, "--to", args.end, *args.pytest_args],
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - started
    subprocess.run([podshm, "cluster", "down"], capture_output=True)
    lines = (proc.stdout + proc.stderr).splitlines()
    print(f"podshm gate --from {args.start} --to {args.end}: exit {proc.returncode}")
    for line in lines:
        if match := PART.match(line):
            print(f"  {match['name']:<44} {float(match['secs']):7.1f} s")
        if match := UPGRADE.search(line):
            print(
                f"    upgrade to {match['v']}: etcd {match['etcd']} s, control plane "
                f"{match['cp']} s, kubelet {match['kubelet']} s"
            )
    print(f"  {'wall time':<44} {wall:7.1f} s")
    if proc.returncode not in (0, 1):
        print("\n".join(lines[-30:]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
