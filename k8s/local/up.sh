#!/usr/bin/env bash
# Starts, idempotently, a real single-node Kubernetes cluster on this machine: etcd, the
# control plane, containerd + runc with bridge CNI, kubelet, kube-proxy (iptables) and CoreDNS
# as a pod; then builds and imports the images the local chart profile names. Every process
# is recorded by pid and runs in one cgroup; `down.sh` undoes all of it.
# Usage: k8s/local/up.sh   (root)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=k8s/local/env.sh
. "$here/env.sh"
# shellcheck source=k8s/local/lib.sh
. "$here/lib.sh"
# shellcheck source=k8s/local/pki.sh
. "$here/pki.sh"

KUBECTL=("$BIN_DIR/kubectl" --kubeconfig "$KUBECONFIG_FILE")

healthy() {
  local c
  for c in "${COMPONENTS[@]}"; do running "$c" || return 1; done
  "${KUBECTL[@]}" get --raw /readyz >/dev/null 2>&1
}

# Renders config/NAME with this run's settings into the state folder. Only these variables
# are substituted: the files also hold shell scripts with variables of their own.
RENDERED=(STATE_DIR RUN_STATE CONTAINERD_SOCK PAUSE_IMAGE CNI_NETWORK BRIDGE POD_CIDR POD_GATEWAY
  NODE_IP NODE_NAME DNS_SERVICE_IP CGROUP COREDNS_IMAGE PROVISIONER_IMAGE BASE_IMAGE DATA_IMAGE
  TRAEFIK_IMAGE)
# shellcheck disable=SC2016 # the braces are for envsubst, not the shell
render() {
  export "${RENDERED[@]}"
  envsubst "$(printf '${%s} ' "${RENDERED[@]}")" <"$here/config/$1" >"$2"
}

# Records the host's sysctls before changing them, so down.sh puts them back.
set_sysctls() {
  local key
  : >"$RUN_STATE/sysctls"
  for key in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables; do
    echo "$key=$(sysctl -n "$key")" >>"$RUN_STATE/sysctls"
    sysctl -qw "$key=1"
  done
}

# Which of the host folders the components make are not there yet (down.sh removes them).
record_missing_dirs() {
  local dir
  : >"$MADE_DIRS"
  for dir in "${HOST_DIRS[@]}"; do [[ -e "$dir" ]] || echo "$dir" >>"$MADE_DIRS"; done
}

start_etcd() {
  start_process etcd "$BIN_DIR/etcd" --name "$NODE_NAME" --data-dir "$STATE_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "$NODE_NAME=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "" --log-level warn
  wait_for etcd 30 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
}

start_apiserver() {
  # allow-privileged: privileged pods are refused by PodSecurity admission, not by this flag,
  # so the tests can show admission is live.
  start_process kube-apiserver "$BIN_DIR/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --advertise-address "$NODE_IP" --secure-port "$API_PORT" --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction,PodSecurity \
    --allow-privileged=true --client-ca-file "$PKI/ca.crt" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --profiling=false --v 1
  wait_for kube-apiserver 90 "${KUBECTL[@]}" get --raw /readyz
}

start_controllers() {
  start_process kube-controller-manager "$BIN_DIR/kube-controller-manager" \
    --kubeconfig "$PKI/controller-manager.kubeconfig" --authentication-kubeconfig "$PKI/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$PKI/controller-manager.kubeconfig" --bind-address 127.0.0.1 \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --use-service-account-credentials --service-cluster-ip-range "$SERVICE_CIDR" --leader-elect=false --v 1
  start_process kube-scheduler "$BIN_DIR/kube-scheduler" --kubeconfig "$PKI/scheduler.kubeconfig" \
    --authentication-kubeconfig "$PKI/scheduler.kubeconfig" --authorization-kubeconfig "$PKI/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --v 1
  wait_for kube-controller-manager 60 curl -fsSk https://127.0.0.1:10257/healthz
  wait_for kube-scheduler 60 curl -fsSk https://127.0.0.1:10259/healthz
}

start_node() {
  mkdir -p "$STATE_DIR/cni/net.d" "$STATE_DIR/kubelet" "$STATE_DIR/pod-logs" "$RUN_STATE/containerd"
  render containerd.toml "$STATE_DIR/containerd.toml"
  render cni.conflist "$STATE_DIR/cni/net.d/10-$CNI_NETWORK.conflist"
  render kubelet.yaml "$STATE_DIR/kubelet.yaml"
  render kube-proxy.yaml "$STATE_DIR/kube-proxy.yaml"
  start_process containerd containerd --config "$STATE_DIR/containerd.toml"
  wait_for containerd 30 ctr --address "$CONTAINERD_SOCK" version
  "$here/images.sh"
  # Mounts under the kubelet's root must propagate into pods (projected tokens, emptyDirs).
  mount --bind "$STATE_DIR/kubelet" "$STATE_DIR/kubelet"
  mount --make-rshared "$STATE_DIR/kubelet"
  start_process kubelet "$BIN_DIR/kubelet" --config "$STATE_DIR/kubelet.yaml" \
    --kubeconfig "$PKI/kubelet.kubeconfig" --root-dir "$STATE_DIR/kubelet" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --v 1
  start_process kube-proxy "$BIN_DIR/kube-proxy" --config "$STATE_DIR/kube-proxy.yaml" --v 1
  wait_for kubelet 90 "${KUBECTL[@]}" wait --for=condition=Ready "node/$NODE_NAME" --timeout 1s
}

# The Gateway API's standard channel from its official Go module: the files its release's
# standard-install.yaml is made of (no download site is needed).
apply_gateway_crds() {
  local module
  module="$(go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p')"
  "${KUBECTL[@]}" apply --server-side -f "$module/config/crd/standard/" >/dev/null
  "${KUBECTL[@]}" wait --for condition=Established crd --all --timeout 60s >/dev/null
}

start_addons() {
  local file
  apply_gateway_crds
  for file in coredns.yaml storage.yaml data.yaml traefik.yaml; do
    render "$file" "$STATE_DIR/$file"
    "${KUBECTL[@]}" apply --server-side -f "$STATE_DIR/$file" >/dev/null
  done
  "${KUBECTL[@]}" -n kube-system rollout status deployment/coredns --timeout 120s >/dev/null
  "${KUBECTL[@]}" -n local-path-storage rollout status deployment/local-path-provisioner --timeout 120s >/dev/null
  "${KUBECTL[@]}" -n calhousing-data rollout status deployment/data --timeout 120s >/dev/null
  "${KUBECTL[@]}" -n traefik rollout status deployment/traefik --timeout 120s >/dev/null
}

start_cluster() {
  "$here/down.sh" --quiet
  # What down.sh must restore: the tests compare the host after it with this.
  mkdir -p "$OUT_DIR" "$LOG_DIR"
  "$here/host-state.sh" >"$OUT_DIR/host-before"
  mkdir -p "$STATE_DIR" "$PID_DIR"
  record_missing_dirs
  set_sysctls
  make_cgroups
  make_pki
  start_etcd
  start_apiserver
  start_controllers
  start_node
}

main() {
  local start=$SECONDS
  "$here/preflight.sh"
  "$here/build.sh" "$BIN_DIR"
  NODE_IP="$("$here/preflight.sh" --node-ip)"
  if healthy; then
    log "running; refreshing images"
    "$here/images.sh"
  else
    start_cluster
  fi
  start_addons
  echo "$((SECONDS - start))" >"$OUT_DIR/start-seconds"
  log "ready in $((SECONDS - start)) s: export KUBECONFIG=$KUBECONFIG_FILE"
}

main
