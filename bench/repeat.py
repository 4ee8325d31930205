#!/usr/bin/env python3
"""Repeatability: the whole suite N times against the current cluster, failures per test.

Prints figures; asserts nothing. Each run is its own pytest process with its own junit file;
the table lists every test that failed at least once, with its count, then the totals.

    .venv/bin/python bench/repeat.py 20 -- -m "not bench and not multinode"
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from podshm.records.junit import read_junit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=int)
    parser.add_argument("pytest_args", nargs="*", default=["-m", "not bench and not multinode"])
    args = parser.parse_args()
    failures: collections.Counter[str] = collections.Counter()
    seen: collections.Counter[str] = collections.Counter()
    walls = []
    with tempfile.TemporaryDirectory(prefix="podshm-repeat-") as tmp:
        for i in range(args.runs):
            junit = Path(tmp) / f"junit-{i}.xml"
            started = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "pytest", "--pyargs", "podshm.suite", "-q",
                 "-p", "no:cacheprovider", f"--junitxml={junit}", *args.pytest_args],
                capture_output=True,
            )  # fmt: skip
            walls.append(time.monotonic() - started)
            record = read_junit(junit)
            for test in record.tests:
                seen[test.id] += 1
                if test.outcome in ("failed", "error"):
                    failures[test.id] += 1
            print(f"run {i + 1}/{args.runs}: {walls[-1]:.1f} s, "
                  f"{sum(1 for t in record.tests if t.outcome in ('failed', 'error'))} failed",
                  flush=True)  # fmt: skip
    print(f"\n{args.runs} runs, {len(seen)} tests, wall {min(walls):.1f}-{max(walls):.1f} s")
    if not failures:
        print("no test failed in any run")
    for test_id, count in failures.most_common():
        print(f"  {count:>3}/{seen[test_id]:<3} {test_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
