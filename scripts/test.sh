#!/usr/bin/env bash
# The project's tests, end to end, on a real local cluster (what `make test` and CI run).
# Fails - never skips - when the cluster cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .

# Build (cached under ~/.cache/podshm) and start the cluster; recovers from a dead one.
# `cluster up` imports the test image and names it on the node: runs find it there.
.venv/bin/podshm cluster up
PODSHM_KUBECONFIG=$(.venv/bin/podshm cluster kubeconfig)
export PODSHM_KUBECONFIG

mkdir -p reports
rc=0
.venv/bin/pytest tests src/podshm/suite --junitxml=reports/junit-tests.xml "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
  echo "test.sh: pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
