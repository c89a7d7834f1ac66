#!/usr/bin/env bash
# Installs the Debian packages the tests drive for real, when this machine lacks them: the
# Prometheus server and Pushgateway (observability), wrk (benchmarks), podman + runc +
# debootstrap (images), containerd + runc + CNI plugins + iptables/nftables + conntrack (the
# local Kubernetes node), busybox (the node's small images). Without root or apt it stops in
# seconds with one line naming what is missing and the command that installs it.
set -euo pipefail
packages=(prometheus prometheus-pushgateway wrk podman runc debootstrap containerd
  containernetworking-plugins iptables nftables conntrack busybox-static gcc libc6-dev curl unzip)
missing=()
for pkg in "${packages[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
((${#missing[@]})) || exit 0
install="apt-get install -y ${missing[*]}"
if ((EUID != 0)) || ! command -v apt-get >/dev/null; then
  echo "missing Debian packages: ${missing[*]}; install them with: sudo $install" >&2
  exit 1
fi
echo "installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
