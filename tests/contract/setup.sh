#!/bin/sh
# setup.sh - installs the pinned npm packages of the contract tests (tests/contract), the
# TypeScript client (clients/typescript) and the automation example (examples/automation) with
# `npm ci` from their committed package-lock.json files, when missing or stale.
# SPDX-License-Identifier: MIT
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "setup: $tool not found; run scripts/install-deps.sh" >&2
        exit 1
    fi
done
for dir in "$here" "$root/clients/typescript" "$root/examples/automation"; do
    stamp=$dir/node_modules/.package-lock.json
    if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
    echo "setup: npm packages in $dir/node_modules"
done
