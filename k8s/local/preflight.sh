#!/usr/bin/env bash
# Says in one line, within seconds, why this machine cannot host the local cluster: not root,
# no Go, a missing package or kernel feature, a taken port, a pod or service range that
# overlaps the host's routes. With --node-ip, prints the IP the node advertises instead.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=k8s/local/env.sh
. "$here/env.sh"
# shellcheck source=k8s/local/lib.sh
. "$here/lib.sh"

# The address of the host's default route: what pods reach the API server and NodePorts on.
node_ip() {
  ip -4 route get 192.0.2.255 2>/dev/null | sed -nE 's/.* src ([0-9.]+).*/\1/p' | head -n1
}

check_tools() {
  ((EUID == 0)) || die "must run as root (it starts containerd and a kubelet); try: sudo make local-cluster"
  command -v go >/dev/null || die "Go is missing: install Go >= 1.24 (the components build from their modules)"
  local missing=() tool
  for tool in containerd ctr runc iptables conntrack openssl envsubst podman gcc curl busybox; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [[ -x /usr/lib/cni/bridge ]] || missing+=(cni-plugins)
  ((${#missing[@]} == 0)) || die "missing ${missing[*]}: run scripts/system-deps.sh (apt-get, as root)"
}

check_kernel() {
  local ctrl
  [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] || die "kernel lacks br_netfilter (/proc/sys/net/bridge)"
  for ctrl in "${CGROUP_CONTROLLERS[@]}"; do
    [[ -d "/sys/fs/cgroup/$ctrl" ]] || die "cgroup v1 controller $ctrl is not mounted at /sys/fs/cgroup/$ctrl"
  done
  [[ -n "$(node_ip)" ]] || die "no IPv4 default route: the node needs an address pods can reach"
}

# A port is free, or held by this cluster's own recorded processes (a second `up` is a no-op).
check_ports() {
  local port pids
  for port in "${PORTS[@]}"; do
    pids="$(ss -Hltnp "sport = :$port" | sed -nE 's/.*pid=([0-9]+).*/\1/p' | sort -u)"
    [[ -z "$pids" ]] && continue
    grep -qxF -f <(cgroup_pids) <<<"$pids" || die "port $port is taken by pid $pids ($(ps -o comm= -p "${pids%%$'\n'*}"))"
  done
}

# The pod and service ranges must not overlap any route of the host but the cluster's bridge.
check_ranges() {
  local overlap
  overlap="$(ip -4 route show | grep -v "dev $BRIDGE" | awk '{print $1}' | python3 -c '
import ipaddress, sys
ours = [ipaddress.ip_network(r) for r in sys.argv[1:]]
for line in sys.stdin:
    if line.strip() != "default":
        net = ipaddress.ip_network(line.strip(), strict=False)
        print(*[f"{o} overlaps {net}" for o in ours if o.overlaps(net)])
' "$POD_CIDR" "$SERVICE_CIDR" | xargs)"
  [[ -z "$overlap" ]] || die "$overlap (a host route): change POD_CIDR/SERVICE_CIDR in k8s/local/env.sh"
}

main() {
  if [[ "${1:-}" == --node-ip ]]; then node_ip; return; fi
  check_tools
  check_kernel
  check_ports
  check_ranges
}

main "$@"
