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
podman --runtime runc build --network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
  --secret "id=ca_bundle,src=$ca_bundle" --build-arg "BASE_IMAGE=$base" -t "$image" .
