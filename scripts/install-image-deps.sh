#!/usr/bin/env bash
# Install what `podshm image build` and tests/host/test_image.py need, from the
# machine's configured Debian apt sources. Idempotent: packages already present
# are left alone and apt is not touched at all when nothing is missing.
#
#   mmdebstrap        builds the Debian bookworm root filesystem of the test image
#   gcc, libc6-dev    compile the static pause binary (libc.a ships in libc6-dev)
#   containerd, runc  the throwaway runtime the image test imports and runs the image in
#   ca-certificates   lets mmdebstrap's apt talk to https sources if configured so
set -euo pipefail

packages=(mmdebstrap gcc libc6-dev containerd runc ca-certificates)

if [[ ${EUID:-$(id -u)} -ne 0 ]]; then
  exec sudo -- "$0" "$@"
fi

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-image-deps: all present (${packages[*]})"
  exit 0
fi

echo "install-image-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps docker-ish extras and mmdebstrap's optional tools out.
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-image-deps: done"
