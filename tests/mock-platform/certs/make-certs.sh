#!/usr/bin/env bash
# Regenerates the mock's test certificates: a CA, and a server certificate signed by it for
# `localhost` only (not 127.0.0.1, so tests can reach the mock under a name the certificate
# lacks), valid for 100 years. Test material only: the keys are public.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ca.key"
openssl req -x509 -new -key "$tmp/ca.key" -days 36500 -subj "/CN=lark-oapi-mock test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -outform DER -out test-ca.der
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/server.key"
openssl pkcs8 -topk8 -nocrypt -in "$tmp/server.key" -outform DER -out localhost.key.der
openssl req -new -key "$tmp/server.key" -subj "/CN=localhost" -out "$tmp/server.csr"
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
  "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost" > "$tmp/ext"
openssl x509 -req -in "$tmp/server.csr" -CA test-ca.der -CAform DER -CAkey "$tmp/ca.key" \
  -CAserial "$tmp/ca.srl" -CAcreateserial -days 36500 -extfile "$tmp/ext" -outform DER -out localhost.der
