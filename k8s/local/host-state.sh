#!/usr/bin/env bash
# Prints what the local cluster may change on the host, normalised so that two snapshots can
# be compared: mounts, links, network namespaces, netfilter rules, cgroups, folders under /run
# and /var/lib, the sysctls it sets. Podman's store is left out: images are a cache by design.
set -euo pipefail
section() { printf '## %s\n' "$1"; }
section mounts; awk '{print $5}' /proc/self/mountinfo | sort
section links; ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
section netns; ip netns list 2>/dev/null | awk '{print $1}' | sort
# A host that never had a rule prints nothing but comments: grep then finds no line, which
# is a state, not a failure.
for cmd in iptables-save ip6tables-save; do
  section "$cmd"; "$cmd" 2>/dev/null | { grep -v '^#' || true; } | sed -E 's/\[[0-9]+:[0-9]+\]//' | sort
done
section nft; nft list tables 2>/dev/null | sort
section cgroups; find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d | sort
section dirs; find /run /var/lib -mindepth 1 -maxdepth 1 | grep -vE '/(containers|libpod)$' | sort
section sysctls; sysctl net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables
