#!/usr/bin/env bash
# Outside this workplace (a GitHub runner, a laptop): fill ../shared the way the tests expect it,
# from upstream. The data set comes from scikit-learn's fetcher; the CRDs from the releases the
# chart is validated against (the versions in ../shared/crds/README.md). Skips what is there.
# Usage: scripts/shared-from-upstream.sh [SHARED_DIR]   (default: ../shared beside the repo)
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${1:-../shared}"
mkdir -p "$shared/data" "$shared/crds"

fetch() {  # URL FILE
  [[ -s "$2" ]] || curl -fsSL --retry 3 -o "$2" "$1"
}

csv="$shared/data/california_housing.csv"
[[ -s "$csv" ]] || uv run --frozen python -c "
import sys
from sklearn.datasets import fetch_california_housing
frame = fetch_california_housing(as_frame=True).frame
frame.rename(columns={'MedHouseVal': 'median_house_value'}).to_csv(sys.argv[1], index=False)
" "$csv"

kserve=https://raw.githubusercontent.com/kserve/kserve/v0.20.0/config/crd/full
for kind in inferenceservices servingruntimes clusterservingruntimes; do
  fetch "$kserve/serving.kserve.io_$kind.yaml" "$shared/crds/serving.kserve.io_$kind.yaml"
done
operator=https://raw.githubusercontent.com/prometheus-operator/prometheus-operator/v0.93.0/example/prometheus-operator-crd
for kind in servicemonitors podmonitors prometheusrules; do
  fetch "$operator/monitoring.coreos.com_$kind.yaml" "$shared/crds/monitoring.coreos.com_$kind.yaml"
done
gateway=https://raw.githubusercontent.com/kubernetes-sigs/gateway-api/v1.5.1/config/crd/standard
for kind in gatewayclasses gateways httproutes grpcroutes referencegrants; do
  fetch "$gateway/gateway.networking.k8s.io_$kind.yaml" "$shared/crds/gateway.networking.k8s.io_$kind.yaml"
done
