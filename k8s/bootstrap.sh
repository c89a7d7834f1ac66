#!/usr/bin/env bash
# What a cluster needs before the calhousing chart, at the versions pinned in k8s/versions.env:
# the Gateway API CRDs; Traefik as the Gateway API implementation (installed on kind; on k3s the
# bundled one gets its Gateway provider turned on); cert-manager with its Gateway API support
# (KServe's webhooks need it, k3s uses it for Let's Encrypt); KServe in Standard mode;
# kube-prometheus-stack.
# Usage: k8s/bootstrap.sh [--k3s] [--no-kserve] [--no-monitoring]
#   kind: k8s/bootstrap.sh     k3s: k8s/bootstrap.sh --k3s --no-kserve
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=k8s/versions.env
source "$here/versions.env"
k3s=0 kserve=1 monitoring=1
for arg in "$@"; do
  case "$arg" in
    --k3s) k3s=1 ;;
    --no-kserve) kserve=0 ;;
    --no-monitoring) monitoring=0 ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

# Server-side with force: k3s's bundled CRD chart may own an older copy of these CRDs.
kubectl apply --server-side --force-conflicts -f \
  "https://github.com/kubernetes-sigs/gateway-api/releases/download/$GATEWAY_API_VERSION/standard-install.yaml"
if (( k3s )); then
  kubectl apply -f "$here/k3s-traefik-config.yaml"
else
  helm upgrade --install traefik traefik --repo https://traefik.github.io/charts \
    --version "$TRAEFIK_CHART_VERSION" --namespace traefik --create-namespace \
    -f "$here/traefik-values.yaml" --set "image.tag=$TRAEFIK_VERSION" --wait --timeout 10m
fi
# k3s applies its HelmChartConfig asynchronously: the class is accepted once Traefik runs it.
kubectl wait --for=create gatewayclass/traefik --timeout 5m
kubectl wait --for=condition=Accepted gatewayclass/traefik --timeout 5m
helm upgrade --install cert-manager cert-manager \
  --repo https://charts.jetstack.io --version "$CERT_MANAGER_VERSION" \
  --namespace cert-manager --create-namespace --set crds.enabled=true \
  --set config.apiVersion=controller.config.cert-manager.io/v1alpha1 \
  --set config.kind=ControllerConfiguration --set config.enableGatewayAPI=true --wait --timeout 10m
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
