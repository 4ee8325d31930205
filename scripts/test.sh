#!/usr/bin/env bash
# The project's tests, end to end, on a real local cluster (what `make test` and CI run).
# Fails - never skips - when the cluster cannot start.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .

# Build (cached under ~/.cache/podshm) and start the cluster; recovers from a dead one.
.venv/bin/podshm cluster up
PODSHM_KUBECONFIG=$(.venv/bin/podshm cluster kubeconfig)
PODSHM_IMAGE=$(.venv/bin/podshm image build --print-ref)
# The images were imported by `cluster up`: never try to pull (there is no registry).
PODSHM_PULL_POLICY=Never
export PODSHM_KUBECONFIG PODSHM_IMAGE PODSHM_PULL_POLICY

mkdir -p reports
rc=0
.venv/bin/pytest tests src/podshm/suite --junitxml=reports/junit-tests.xml "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
  echo "test.sh: pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
