#!/usr/bin/env bash
# Install or upgrade the calhousing chart with a ci/ profile: namespace with Pod Security
# "restricted" enforced, a self-signed certificate for the Gateway's HTTPS listeners (kind has
# no public CA; on k3s cert-manager fills it instead), then `helm upgrade --install --wait`.
# Usage: k8s/deploy.sh RELEASE NAMESPACE PROFILE   (PROFILE: kind-kserve | kind-plain | k3s)
set -euo pipefail
release="$1" namespace="$2" profile="$3"
root="$(cd "$(dirname "$0")/.." && pwd)"
chart="$root/helm/calhousing"
values="$chart/ci/$profile-values.yaml"
certs="$root/.run/k8s"

kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f -
kubectl label --overwrite namespace "$namespace" \
  pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest \
  pod-security.kubernetes.io/warn=restricted pod-security.kubernetes.io/audit=restricted

# One certificate for every host name the profile's Gateway listens on (read from the render).
self_signed_gateway_tls() {
  local hosts san
  mapfile -t hosts < <(helm template "$release" "$chart" -f "$values" \
    --show-only templates/gateway/gateway.yaml | sed -nE 's/^ *hostname: "(.*)"$/\1/p')
  san="$(printf 'DNS:%s,' "${hosts[@]}")"
  mkdir -p "$certs"
  if [[ ! -s "$certs/gateway-tls.crt" ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=${hosts[0]}" \
      -addext "subjectAltName=${san%,}" -keyout "$certs/gateway-tls.key" -out "$certs/gateway-tls.crt"
  fi
  kubectl -n "$namespace" create secret tls calhousing-gateway-tls \
    --cert "$certs/gateway-tls.crt" --key "$certs/gateway-tls.key" --dry-run=client -o yaml | kubectl apply -f -
}

if [[ "$profile" == kind-* ]]; then self_signed_gateway_tls; fi

# --wait returns once the first model is served: the training Job is a plain resource and the
# predictor waits for its model inside its startup probe (no hook to deadlock on).
helm upgrade --install "$release" "$chart" --namespace "$namespace" -f "$values" \
  --wait --wait-for-jobs --timeout 30m
