#!/usr/bin/env bash
# Stops the local cluster and removes everything it made on the host: its processes (by pid,
# then whatever is left in its cgroup: shims and pod containers), mounts, network namespaces,
# the bridge, netfilter rules, sysctl changes, cgroups and state under /run and /var/lib.
# Safe to run twice, and after a cluster that was killed mid-run.
# Usage: k8s/local/down.sh [--quiet]   (root)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=k8s/local/env.sh
. "$here/env.sh"
# shellcheck source=k8s/local/lib.sh
. "$here/lib.sh"

stop_components() {
  local i name pid
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    name="${COMPONENTS[i]}"
    running "$name" || continue
    pid="$(cat "$(pid_file "$name")")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in {1..40}; do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$PID_DIR"
}

# Kills what is left in the cluster's cgroups until they are empty (pods, shims, strays).
kill_cgroup() {
  local pids
  for _ in {1..20}; do
    pids="$(cgroup_pids)"
    [[ -z "$pids" ]] && return 0
    # shellcheck disable=SC2086 # one pid per word
    kill -KILL $pids 2>/dev/null || true
    sleep 0.25
  done
  die "processes survive in cgroup $CGROUP: $(cgroup_pids | xargs)"
}

# Unmounts, deepest first, every mount below the paths the node uses.
unmount_all() {
  local mounts
  mounts="$(awk '{print $5}' /proc/self/mountinfo \
    | grep -E "^($STATE_DIR|$RUN_STATE|/run/containerd|/run/netns/cni-|/var/run/netns/cni-)" | sort -r || true)"
  local m
  for m in $mounts; do umount "$m" 2>/dev/null || umount -l "$m"; done
}

# Deletes the KUBE-* chains of one table (kubelet's and kube-proxy's) and the jumps to them.
drop_kube_chains() {
  local cmd="$1" table="$2" rules chains chain rule
  rules="$("$cmd" -t "$table" -S 2>/dev/null || true)"
  chains="$(awk '/^-N KUBE-/{print $2}' <<<"$rules")"
  while read -r rule; do
    [[ -n "$rule" ]] && eval "$cmd -t $table -D ${rule#-A }" 2>/dev/null || true
  done < <(grep -E '^-A [A-Z]+ .*-j KUBE-' <<<"$rules" | grep -vE '^-A KUBE-' || true)
  for chain in $chains; do "$cmd" -t "$table" -F "$chain" 2>/dev/null || true; done
  for chain in $chains; do "$cmd" -t "$table" -X "$chain" 2>/dev/null || true; done
}

remove_network() {
  local ns cmd table
  for ns in $(ip netns list 2>/dev/null | awk '/^cni-/{print $1}'); do ip netns delete "$ns" || true; done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link delete "$BRIDGE"; fi
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for table in filter nat mangle; do drop_kube_chains "$cmd" "$table"; done
  done
  if nft list tables 2>/dev/null | grep -qw kube-proxy; then nft delete table ip kube-proxy; fi
  rm -f /var/lib/cni/results/"$CNI_NETWORK"-* 2>/dev/null || true
}

restore_sysctls() {
  [[ -f "$RUN_STATE/sysctls" ]] || return 0
  local line
  while read -r line; do sysctl -qw "$line" || true; done <"$RUN_STATE/sysctls"
}

remove_cgroups() {
  local ctrl
  for ctrl in "${CGROUP_CLEANUP[@]}"; do
    [[ -d "/sys/fs/cgroup/$ctrl/$CGROUP" ]] || continue
    find "/sys/fs/cgroup/$ctrl/$CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [[ ! -d "/sys/fs/cgroup/$ctrl/$CGROUP" ]] || die "cgroup /sys/fs/cgroup/$ctrl/$CGROUP is still in use"
  done
}

# The host folders that were not there before up.sh (MADE_DIRS): made by the cluster's own
# components while it ran, so all they hold is theirs.
remove_made_dirs() {
  [[ -f "$MADE_DIRS" ]] || return 0
  local dir
  while read -r dir; do [[ -n "$dir" ]] && rm -rf "$dir"; done <"$MADE_DIRS"
}

main() {
  stop_components
  kill_cgroup
  unmount_all
  remove_network
  restore_sysctls
  remove_cgroups
  remove_made_dirs
  rm -rf "$STATE_DIR" "$RUN_STATE" /run/containerd "$KUBECONFIG_FILE"
  [[ "${1:-}" == --quiet ]] || log "stopped; the host is as before"
}

main "$@"
