#!/usr/bin/env python3
"""Wall time of the whole conformance suite, serial and with pytest-xdist, on a cluster.

Prints figures; asserts nothing. Uses the current PODSHM_* settings, or podshm's
local cluster when none are set (start it first: `podshm cluster up`).

    .venv/bin/python bench/suite.py [--workers 4] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

from podshm.image import build_test_image
from podshm.localcluster.layout import Layout


def suite_env() -> dict[str, str]:
    env = dict(os.environ)
    if "PODSHM_KUBECONFIG" not in env:
        env["PODSHM_KUBECONFIG"] = str(Layout.default().admin_kubeconfig)
        env.setdefault("PODSHM_IMAGE", build_test_image().ref)
        env.setdefault("PODSHM_PULL_POLICY", "Never")
    return env


def run_suite(extra: list[str], env: dict[str, str]) -> tuple[float, list[tuple[float, str]]]:
    """(wall seconds, [(testcase seconds, name)]) of one whole run."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = f"{tmp}/junit.xml"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "podshm.suite",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            *extra,
        ]
        started = time.monotonic()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        wall = time.monotonic() - started
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-2000:], sep="\n")
            raise SystemExit(f"suite failed (exit {proc.returncode})")
        cases = [
            (float(tc.get("time", 0)), tc.get("name", "?"))
            for tc in ET.parse(junit).getroot().iter("testcase")
        ]
    return wall, cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    env = suite_env()
    serial, parallel, slowest = [], [], (0.0, "")
    for _ in range(args.repeat):  # interleaved, so drift hits both alike
        wall, cases = run_suite([], env)
        serial.append(wall)
        slowest = max([slowest, *cases])
        parallel.append(run_suite(["-n", str(args.workers)], env)[0])
    print(f"tests per run: {len(cases)}")
    print(f"serial wall time:          {min(serial):7.1f} s  (runs: {serial})")
    print(f"-n {args.workers} wall time:           {min(parallel):7.1f} s  (runs: {parallel})")
    print(f"speed-up:                  {min(serial) / min(parallel):7.2f}x")
    print(f"slowest scenario (serial): {slowest[0]:7.1f} s  {slowest[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
