#!/usr/bin/env bash
# Install or upgrade the calhousing chart with a ci/ profile: namespace with Pod Security
# "restricted" enforced, a self-signed TLS certificate for the gRPC host (kind has no public
# CA; on k3s cert-manager fills it instead), then `helm upgrade --install`.
# Usage: k8s/deploy.sh RELEASE NAMESPACE PROFILE   (PROFILE: kind-kserve | kind-plain | k3s)
set -euo pipefail
release="$1" namespace="$2" profile="$3"
root="$(cd "$(dirname "$0")/.." && pwd)"
values="$root/helm/calhousing/ci/$profile-values.yaml"
certs="$root/.run/k8s"

kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f -
kubectl label --overwrite namespace "$namespace" \
  pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest \
  pod-security.kubernetes.io/warn=restricted pod-security.kubernetes.io/audit=restricted

if [[ "$profile" == kind-* ]]; then
  host="$(helm show values "$root/helm/calhousing" | sed -n '/^  grpc:/,/host:/s/^ *host: *//p')"
  mkdir -p "$certs"
  if [[ ! -s "$certs/grpc-tls.crt" ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$host" \
      -addext "subjectAltName=DNS:$host" -keyout "$certs/grpc-tls.key" -out "$certs/grpc-tls.crt"
  fi
  kubectl -n "$namespace" create secret tls calhousing-grpc-tls \
    --cert "$certs/grpc-tls.crt" --key "$certs/grpc-tls.key" --dry-run=client -o yaml | kubectl apply -f -
fi

# No --wait: the post-install training Job is what `helm install` waits for, and the predictor
# only gets ready once that Job has registered a model.
helm upgrade --install "$release" "$root/helm/calhousing" --namespace "$namespace" \
  -f "$values" --timeout 30m
