#!/usr/bin/env bash
# The project's tests, end to end, on real clusters (what `make test` and CI run):
#   0. lint and the mutation check of the sizing rule (no cluster),
#   1. the project's own tests on podshm's local cluster (v1.37),
#   2. the runtime matrix: the suite and the workloads under runc, crun and gVisor there,
#   3. a VM node (QEMU, cgroup v2, its own kernel) joined to it: sysv on both nodes,
#   4. the upgrade gate: v1.36 -> v1.37 in place on the local cluster,
#   5. kind: exactly the commands README gives kind users, on a 3-node kind cluster (and the
#      sysctl workloads, which need no workload image).
# Fails - never skips - when a cluster cannot start. Prints how long each stage took.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -a STAGES=()
stage_start=$SECONDS
stage() {  # stage NAME: close the previous stage's clock, open the next
  local now=$SECONDS
  if [[ -n ${current_stage:-} ]]; then
    STAGES+=("$(printf '%-34s %5ds' "$current_stage" $((now - stage_start)))")
  fi
  current_stage=$1
  stage_start=$now
  [[ -n $1 ]] && echo "=== test.sh: $1" >&2
  return 0
}
report() {
  stage ""
  echo "=== test.sh: stage times"
  printf '  %s\n' "${STAGES[@]}"
  echo "  total                              $((SECONDS))s"
}
kind_up=0
finish() {
  local rc=$?
  if [[ $kind_up -eq 1 ]]; then
    .venv/bin/podshm cluster down --provider kind || rc=1
  fi
  report
  exit "$rc"
}
trap finish EXIT

stage "bootstrap"
bash scripts/bootstrap.sh

stage "lint, format and types (make lint)"
make lint

stage "mutation check of the sizing rule and object rules"
# Every mutant of the kubelet's sizing rule must make a unit test fail (unmutated baseline
# first; a copy of the source, never the tree itself).
.venv/bin/python scripts/mutation_check.py src/podshm/expectations.py tests/unit/test_expectations.py
.venv/bin/python scripts/mutation_check.py src/podshm/objects.py tests/unit/test_objects.py
.venv/bin/python scripts/mutation_check.py src/podshm/pressure.py tests/unit/test_pressure.py

stage "local cluster up (builds what the cache lacks)"
# `cluster up` builds (cached under ~/.cache/podshm), recovers from a dead cluster, imports
# the test image and names it on the node: runs find it there. Three runtimes, each a
# RuntimeClass; a cluster `make suite` left running gets the two it lacks added in place.
.venv/bin/podshm cluster up --runtimes runc,crun,gvisor
PODSHM_KUBECONFIG=$(.venv/bin/podshm cluster kubeconfig)
export PODSHM_KUBECONFIG

stage "project tests on the local cluster (3 workers, then exclusive)"
mkdir -p reports
# Three xdist workers (most tests wait on pods and API calls, not on the 2 cores), then, in a
# session of their own, the tests that need the cluster to themselves (marker `exclusive`:
# the API server stop, gc --older-than, the leftover check, down/up). The suite itself runs
# in `make suite` before this and in the runtime matrix below.
project_tests() {  # project_tests JUNIT PYTEST-ARGS...: pytest collecting nothing fails too
  local rc=0 junit=$1
  shift
  .venv/bin/pytest tests --junitxml="reports/$junit" "$@" || rc=$?
  if [[ $rc -eq 5 ]]; then
    echo "test.sh: pytest collected no tests: that is a failure here" >&2
    exit 1
  fi
  [[ $rc -eq 0 ]] || exit "$rc"
}
project_tests junit-tests.xml -n 3 -m "not exclusive" "$@"
project_tests junit-tests-exclusive.xml -m exclusive "$@"

stage "runtime matrix: the suite and the workloads under runc, crun, gVisor"
# The lifecycle tests ended with `down`: up again (cached), with the workload image
# (`--workload-image` builds the second image, cached, and imports it). Every scenario once per
# RuntimeClass, named (a missing class fails the run; `all` would drop its column), the
# opt-in workload scenarios too (-m names them; the benchmarks stay out), in four xdist
# workers (much of a gVisor test is waiting on its sandbox); gVisor's known differences are
# declared in src/podshm/data/deviations/gvisor.yaml (a deviation that stops happening fails).
# `--allowed-unsafe-sysctls ipc`: the kubelet admits kernel.msg*, kernel.sem, kernel.shm*, so
# both sysctl workloads run here (kind below runs the refused one on default kubelets).
.venv/bin/podshm cluster up --runtimes runc,crun,gvisor --workload-image --allowed-unsafe-sysctls ipc
.venv/bin/pytest --pyargs podshm.suite -m "not bench or workload" \
  --podshm-runtime-class runc,crun,gvisor -n 4 \
  --junitxml=reports/junit-runtimes.xml -p no:cacheprovider -q

stage "VM node: sysv on a cgroup v2 guest of its own kernel"
# README "A VM node", verbatim: a QEMU (TCG) node joined to the running cluster; every
# selected scenario on both nodes, each with its own facts. Under software emulation the
# whole suite (or sysv, posix and shm) does not fit the CI budget: the sysv marker does.
.venv/bin/podshm cluster up --vm-nodes 1
.venv/bin/pytest --pyargs podshm.suite --podshm-nodes all -m sysv \
  --podshm-prestart 2 --podshm-pod-timeout 600 --podshm-exec-timeout 300 \
  --junitxml=reports/junit-vm.xml -p no:cacheprovider -q
.venv/bin/podshm cluster up --vm-nodes 0

stage "gate v1.36 -> v1.37 (builds what the cache lacks)"
unset PODSHM_KUBECONFIG
.venv/bin/podshm cluster down
# Arguments after the options go to each step's pytest: three xdist workers per step.
.venv/bin/podshm gate --from v1.36 --to v1.37 -m "not bench" -p no:cacheprovider -q -n 3
.venv/bin/podshm cluster down

stage "kind: README commands"
kind_up=1
# README "Running against kind", verbatim:
# (without the test image: README's build and load below are what puts it on the nodes)
.venv/bin/podshm cluster up --provider kind --nodes 3 --no-test-image
.venv/bin/podshm image build && .venv/bin/podshm image load --into kind
(
  KUBECONFIG=$(.venv/bin/podshm cluster kubeconfig --provider kind)
  export KUBECONFIG
  .venv/bin/pytest -m sysv --junitxml reports/junit-kind-sysv.xml -p no:cacheprovider
  .venv/bin/pytest --pyargs podshm.suite --junitxml reports/junit-kind.xml -p no:cacheprovider
  # The sysctl workloads (test image only) on kind's default kubelets, read through configz:
  # the refused one runs, the allowed one is not applicable.
  .venv/bin/pytest --pyargs podshm.suite -m workload -k sysctl \
    --junitxml reports/junit-kind-sysctl.xml -p no:cacheprovider
)
# README: the test image from images/Dockerfile, docker build + kind load docker-image.
(
  eval "$(.venv/bin/podshm cluster docker-env)"
  base=$(.venv/bin/podshm image docker-base)
  docker build --network host \
    --build-arg BUILD_BASE_IMAGE=$base --build-arg BASE_IMAGE=$base \
    --build-arg PIP_BREAK_SYSTEM_PACKAGES=1 \
    -f images/Dockerfile -t podshm.local/podshm-test:dev .
  kind load docker-image podshm.local/podshm-test:dev --name podshm
  KUBECONFIG=$(.venv/bin/podshm cluster kubeconfig --provider kind)
  export KUBECONFIG
  .venv/bin/pytest --pyargs podshm.suite -m sysv --podshm-image podshm.local/podshm-test:dev \
    --podshm-pull-policy Never --junitxml reports/junit-kind-docker-sysv.xml -p no:cacheprovider
)
kind_up=0
.venv/bin/podshm cluster down --provider kind
