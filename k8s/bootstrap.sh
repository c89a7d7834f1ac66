#!/usr/bin/env bash
# What a cluster needs before the calhousing chart, at the versions pinned in k8s/versions.env:
# ingress-nginx (kind only: k3s brings Traefik), cert-manager (KServe's webhooks need it, k3s
# uses it for Let's Encrypt), KServe in Standard mode, kube-prometheus-stack.
# Usage: k8s/bootstrap.sh [--no-ingress] [--no-kserve] [--no-monitoring]
#   kind: k8s/bootstrap.sh     k3s: k8s/bootstrap.sh --no-ingress --no-kserve
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=k8s/versions.env
source "$here/versions.env"
kserve=1 ingress=1 monitoring=1
for arg in "$@"; do
  case "$arg" in
    --no-kserve) kserve=0 ;;
    --no-ingress) ingress=0 ;;
    --no-monitoring) monitoring=0 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

if (( ingress )); then
  helm upgrade --install ingress-nginx ingress-nginx \
    --repo https://kubernetes.github.io/ingress-nginx --version "$INGRESS_NGINX_CHART_VERSION" \
    --namespace ingress-nginx --create-namespace -f "$here/ingress-nginx-values.yaml" --wait --timeout 10m
fi
helm upgrade --install cert-manager cert-manager \
  --repo https://charts.jetstack.io --version "$CERT_MANAGER_VERSION" \
  --namespace cert-manager --create-namespace --set crds.enabled=true --wait --timeout 10m
if (( kserve )); then
  helm upgrade --install kserve-crd oci://ghcr.io/kserve/charts/kserve-crd --version "$KSERVE_VERSION" \
    --namespace kserve --create-namespace --wait --timeout 10m
  helm upgrade --install kserve "oci://ghcr.io/kserve/charts/$KSERVE_CHART" --version "$KSERVE_VERSION" \
    --namespace kserve -f "$here/kserve-values.yaml" --wait --timeout 10m
fi
if (( monitoring )); then
  helm upgrade --install kube-prometheus-stack kube-prometheus-stack \
    --repo https://prometheus-community.github.io/helm-charts --version "$KUBE_PROMETHEUS_STACK_VERSION" \
    --namespace monitoring --create-namespace -f "$here/kube-prometheus-stack-values.yaml" --wait --timeout 15m
fi
