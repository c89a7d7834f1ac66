#!/usr/bin/env bash
# A Debian bookworm base image with Python 3.11, built locally for `make image-test`: this
# machine reaches Debian's package mirror but no container registry. Cached in podman's store:
# a second run returns at once. Usage: k8s/base-image.sh [IMAGE] (root; debootstrap + podman).
set -euo pipefail
image="${1:-localhost/calhousing-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if podman image exists "$image"; then
  echo "base image $image: cached"
  exit 0
fi
rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
chroot "$rootfs" apt-get install -y --no-install-recommends python3 python3-venv ca-certificates
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$image"
echo "base image $image: built"
