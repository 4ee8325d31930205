#!/usr/bin/env bash
# Set up a fresh Debian machine for podshm: system packages, then a virtualenv at
# .venv with podshm installed (editable) and its development tools. Idempotent.
#
#   containernetworking-plugins  the CNI bridge/host-local/loopback plugins of the local cluster
#   iproute2, mount             network interfaces and mounts (cluster teardown)
#   gcc, libseccomp-dev, pkg-config  build runc with seccomp (RuntimeDefault profiles)
#   docker.io                   the engine of the kind provider (podshm starts its own dockerd)
#   crun                        the second runtime of the local cluster (--runtimes runc,crun)
#   qemu-system-x86             the VM node's machine (TCG: /dev/kvm is not required)
#   qemu-utils                  qemu-img: each VM boot writes to its own qcow2 overlay
#   kmod                        depmod: the index files of the VM kernel's modules
#   socat                       the VM reaches the host's loopback-only API server through it
#   e2fsprogs                   mkfs.ext4 -d: the VM's root and boot disks
#   (the VM's kernel and busybox-static are not installed: `apt-get download` unpacks them
#   into podshm's cache, so the host's own kernel and busybox are never touched)
#   + scripts/install-image-deps.sh: mmdebstrap and friends for the offline test image
# Go (1.26+, for Kubernetes, containerd, etcd and runc) must be on PATH; an older go
# fetches the right toolchain itself through the Go module proxy (GOTOOLCHAIN=auto).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${EUID:-$(id -u)} -ne 0 ]]; then
  echo "bootstrap: needs root (apt-get, and the local cluster runs as root); run with sudo" >&2
  exit 2
fi

packages=(containernetworking-plugins iproute2 mount gcc libseccomp-dev pkg-config python3-venv docker.io crun
  qemu-system-x86 qemu-utils kmod socat e2fsprogs)
missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$pkg")
done
# The offline image build resolves its package set from the host's apt lists.
if [[ ${#missing[@]} -gt 0 ]] || ! compgen -G "/var/lib/apt/lists/*Packages*" >/dev/null; then
  apt-get update -qq
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "bootstrap: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
bash scripts/install-image-deps.sh

if ! command -v go >/dev/null; then
  echo "bootstrap: Go is not on PATH; install Go 1.26 or newer (needed to build Kubernetes)" >&2
  exit 2
fi

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
echo "bootstrap: ready (.venv/bin/podshm, .venv/bin/pytest)"
