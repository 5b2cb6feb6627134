#!/bin/sh
# setup.sh - prepares the chart tests: builds the test renderer into BUILD_DIR and installs the
# pinned npm packages (npm ci) into tests/helm/node_modules when they are missing or stale.
# SPDX-License-Identifier: MIT
# Usage: setup.sh BUILD_DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$1
for tool in go node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "setup: $tool not found; run scripts/install-deps.sh" >&2
        exit 1
    fi
done
sh "$here/build-renderer.sh" "$build/tspool-helm-render"
echo "setup: renderer built at $build/tspool-helm-render"
stamp=$here/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: npm packages in $here/node_modules"
