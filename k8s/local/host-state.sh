#!/usr/bin/env bash
# Prints what the local cluster may change on the host, normalised so that two snapshots can
# be compared: mounts, links, network namespaces, netfilter rules, cgroups, folders under /run
# and /var/lib, the sysctls it sets. Podman's store is left out: images are a cache by design.
# Netfilter is compared by what it does: rules, user chains and non-default policies. A table
# whose chains are all empty and ACCEPT filters nothing, and iptables (nf_tables) leaves such
# tables behind once kube-proxy's chains are deleted; a host that never had a rule has none.
set -euo pipefail
section() { printf '## %s\n' "$1"; }
section mounts; awk '{print $5}' /proc/self/mountinfo | sort
section links; ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
section netns; ip netns list 2>/dev/null | awk '{print $1}' | sort
for cmd in iptables-save ip6tables-save; do
  # No line left (a host without rules) is a state, not a failure: hence `|| true`.
  section "$cmd"; "$cmd" 2>/dev/null | sed -E 's/ *\[[0-9]+:[0-9]+\]//' \
    | { grep -vE '^(#|\*|COMMIT$|:[A-Z]+ ACCEPT$)' || true; } | sort
done
# The iptables tables' content is above; here, any other table (kube-proxy's nft mode).
section nft; nft list tables 2>/dev/null | { grep -vE '^table ip6? (filter|nat|mangle|raw|security)$' || true; } | sort
section cgroups; find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d | sort
section dirs; find /run /var/lib -mindepth 1 -maxdepth 1 | grep -vE '/(containers|libpod)$' | sort
section sysctls; sysctl net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables
