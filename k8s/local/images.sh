#!/usr/bin/env bash
# Builds every image the node and the local chart profile name, and imports each into the
# node's containerd under that exact name (there is no registry: kubelet must find them there).
# An image is imported again only when podman's image id changed since the last import.
# Usage: images.sh   (the node's containerd must be running; up.sh calls it)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=k8s/local/env.sh
. "$here/env.sh"
# shellcheck source=k8s/local/lib.sh
. "$here/lib.sh"

PODMAN=(podman --runtime runc)
BUILD=("${PODMAN[@]}" build --quiet --network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
IMPORTED="$STATE_DIR/images"

# Imports IMAGE from podman's store into containerd, unless this exact image id is there.
import() {
  local image="$1" id marker archive
  id="$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$image")"
  marker="$IMPORTED/$(echo "$image" | tr '/:' '__')"
  [[ -f "$marker" && "$(cat "$marker")" == "$id" ]] && return 0
  archive="$(mktemp --suffix=.tar)"
  "${PODMAN[@]}" save --quiet --format docker-archive -o "$archive" "$image"
  ctr --address "$CONTAINERD_SOCK" -n k8s.io images import "$archive" >/dev/null
  rm -f "$archive"
  echo "$id" >"$marker"
  log "imported $image"
}

# Builds IMAGE from one static binary (see images/static/Containerfile).
static_image() {
  local image="$1" binary="$2" uid="${3:-65532}" context
  context="$(mktemp -d)"
  cp "$binary" "$context/bin"
  "${BUILD[@]}" --build-arg "UID=$uid" -f "$here/images/static/Containerfile" -t "$image" "$context" >/dev/null
  rm -rf "$context"
}

pause_image() {
  local out="$CACHE_DIR/pause"
  [[ -x "$out" && "$out" -nt "$here/images/pause/pause.c" ]] || gcc -Os -static -o "$out" "$here/images/pause/pause.c"
  static_image "$PAUSE_IMAGE" "$out" 65535
}

data_image() {
  local context
  context="$(mktemp -d)"
  cp /bin/busybox "$context/busybox"
  cp "$REPO_ROOT/../shared/data/california_housing.csv" "$context/"
  "${BUILD[@]}" -f "$here/images/data/Containerfile" -t "$DATA_IMAGE" "$context" >/dev/null
  rm -rf "$context"
}

main() {
  mkdir -p "$IMPORTED"
  pause_image
  static_image "$COREDNS_IMAGE" "$BIN_DIR/coredns"
  static_image "$PROVISIONER_IMAGE" "$BIN_DIR/local-path-provisioner"
  static_image "$TRAEFIK_IMAGE" "$BIN_DIR/traefik-$TRAEFIK_VERSION"
  "$REPO_ROOT/k8s/base-image.sh" "$BASE_IMAGE" >/dev/null
  "${BUILD[@]}" --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$POSTGRES_IMAGE" "$here/images/postgres" >/dev/null
  data_image
  "$REPO_ROOT/k8s/project-image.sh" "$BASE_IMAGE" "$PROJECT_IMAGE"
  local image
  for image in "$PAUSE_IMAGE" "$COREDNS_IMAGE" "$PROVISIONER_IMAGE" "$TRAEFIK_IMAGE" "$BASE_IMAGE" \
    "$POSTGRES_IMAGE" "$DATA_IMAGE" "$PROJECT_IMAGE"; do
    import "$image"
  done
}

main
