#!/usr/bin/env bash
# Builds the project image with podman on a local Debian base (no registry is reachable here),
# handing the build the host's CA bundle for the TLS-intercepting proxy. `make image-test` and
# the local cluster build the same image through this one script.
# Usage: k8s/project-image.sh BASE_IMAGE IMAGE   (root; podman + runc + debootstrap)
set -euo pipefail
base="$1" image="$2"
ca_bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
cd "$(dirname "$0")/.."
k8s/base-image.sh "$base"
previous=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
podman --runtime runc build --network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
  --secret "id=ca_bundle,src=$ca_bundle" --build-arg "BASE_IMAGE=$base" -t "$image" .
# The tag has moved: the previous build is left untagged (1.4 GB a build) and, build after
# build, fills the disk until the kubelet's image GC evicts the pause image. An image still in
# use by a container is kept (rmi refuses it), and said so.
current=$(podman image inspect --format '{{.Id}}' "$image")
if [[ -n "$previous" && "$previous" != "$current" ]]; then
  podman rmi "$previous" >/dev/null 2>&1 || echo "project-image: kept the previous $image ($previous): in use" >&2
fi
