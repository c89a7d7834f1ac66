# The cluster's certificates and kubeconfigs (sourced by up.sh): one CA signs the API server,
# the kubelet's serving certificate and one client certificate per component. The Node and
# RBAC authorizers read the identity from each certificate's CN (user) and O (group).
# shellcheck shell=bash

PKI="$STATE_DIR/pki"

# cert NAME CN ORG [SAN...]: a key and a CA-signed certificate for NAME.
cert() {
  local name="$1" cn="$2" org="$3" ext
  shift 3
  [[ -f "$PKI/$name.crt" ]] && return 0
  ext="$PKI/$name.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    if (($#)); then (IFS=,; echo "subjectAltName=$*"); fi
  } >"$ext"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "/CN=$cn${org:+/O=$org}" \
    -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 365 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

# kubeconfig FILE CERT_NAME: a kubeconfig that authenticates with that client certificate.
kubeconfig() {
  local file="$1" name="$2" b64="base64 -w0"
  cat >"$file" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://$NODE_IP:$API_PORT
    certificate-authority-data: $($b64 "$PKI/ca.crt")
users:
- name: $name
  user:
    client-certificate-data: $($b64 "$PKI/$name.crt")
    client-key-data: $($b64 "$PKI/$name.key")
contexts:
- name: local
  context: {cluster: local, user: $name}
current-context: local
YAML
  chmod 600 "$file"
}

make_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  if [[ ! -f "$PKI/ca.crt" ]]; then
    openssl req -x509 -new -newkey rsa:2048 -nodes -days 365 -subj "/CN=calhousing-local-ca" \
      -keyout "$PKI/ca.key" -out "$PKI/ca.crt" 2>/dev/null
  fi
  [[ -f "$PKI/sa.key" ]] || openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  cert apiserver kube-apiserver "" DNS:kubernetes DNS:kubernetes.default DNS:kubernetes.default.svc \
    DNS:kubernetes.default.svc.cluster.local DNS:localhost "IP:$API_SERVICE_IP" IP:127.0.0.1 "IP:$NODE_IP"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert admin kubernetes-admin system:masters
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  cert kube-proxy system:kube-proxy ""
  cert kubelet "system:node:$NODE_NAME" system:nodes "DNS:$NODE_NAME" "IP:$NODE_IP" IP:127.0.0.1
  local c
  for c in controller-manager scheduler kube-proxy kubelet; do kubeconfig "$PKI/$c.kubeconfig" "$c"; done
  mkdir -p "$OUT_DIR"
  kubeconfig "$KUBECONFIG_FILE" admin
}
