# Settings of the local cluster scripts (sourced, not run). Versions come from k8s/versions.env;
# every path the cluster writes is derived from the roots below, so `down.sh` knows them all.
# shellcheck shell=bash disable=SC2034 # sourced: the scripts that source it read these
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=k8s/versions.env
. "$REPO_ROOT/k8s/versions.env"

# Built binaries and Go caches live outside the checkout, so a fresh clone reuses them.
CACHE_DIR="${CALHOUSING_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/calhousing}/k8s"
BIN_DIR="$CACHE_DIR/bin-$K8S_VERSION"
HELM_DIR="$CACHE_DIR/helm-$HELM_NPM_VERSION"
export GOMODCACHE="$CACHE_DIR/gomod" GOCACHE="$CACHE_DIR/gobuild" GOFLAGS=-buildvcs=false

# The node's state (etcd, containerd, kubelet, PKI) and its runtime files (sockets, pids).
STATE_DIR=/var/lib/calhousing-cluster
RUN_STATE=/run/calhousing-cluster
PID_DIR="$RUN_STATE/pids"
# What a user or a test reads: the admin kubeconfig and each component's log.
OUT_DIR="$REPO_ROOT/.run/cluster"
KUBECONFIG_FILE="$OUT_DIR/kubeconfig"
LOG_DIR="$OUT_DIR/logs"

# Networks: chosen not to overlap the host's routes (up.sh checks); no NAT leaves these ranges.
NODE_NAME=calhousing-node
POD_CIDR=10.244.0.0/24
POD_GATEWAY=10.244.0.1
SERVICE_CIDR=10.96.0.0/16
API_SERVICE_IP=10.96.0.1
DNS_SERVICE_IP=10.96.0.10
BRIDGE=calh0
CNI_NETWORK=calhousing-pods
# One cgroup (in every v1 hierarchy) holds the node's processes and, below it, every pod.
CGROUP=calhousing
CGROUP_CONTROLLERS=(blkio cpu cpuacct cpuset devices freezer memory pids systemd)
# runc also places pods in the hybrid layout's cgroup v2 tree; down.sh removes ours there too.
CGROUP_CLEANUP=("${CGROUP_CONTROLLERS[@]}" unified)
# Host folders the components make on first use (util-linux's utab, netns, runc's state, CNI
# results, the kubelet's device-plugin socket): up.sh records the ones that were not there and
# down.sh removes those, so a fresh host is left as fresh as it was.
HOST_DIRS=(/run/mount /run/netns /run/runc /var/lib/cni /var/lib/kubelet)
MADE_DIRS="$RUN_STATE/made-dirs"

API_PORT=6443
ETCD_PORT=2379
ETCD_PEER_PORT=2380
# Ports the components bind; up.sh refuses to start when one is taken by something else.
PORTS=("$API_PORT" "$ETCD_PORT" "$ETCD_PEER_PORT" 10250 10256 10257 10259 10249 10248)

# Components in start order; down.sh stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy)

CONTAINERD_SOCK="$RUN_STATE/containerd/containerd.sock"

# Images the node and the local chart profile name; all built here and imported into containerd.
PAUSE_IMAGE=localhost/pause:3.10
COREDNS_IMAGE="localhost/coredns:$COREDNS_VERSION"
PROVISIONER_IMAGE="localhost/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION"
BASE_IMAGE=localhost/calhousing-base:bookworm
POSTGRES_IMAGE=localhost/calhousing-postgres:15-bookworm
DATA_IMAGE=localhost/calhousing-data:local
PROJECT_IMAGE=localhost/calhousing-mlops:test
TRAEFIK_IMAGE="localhost/traefik:$TRAEFIK_VERSION"
