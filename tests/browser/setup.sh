#!/bin/sh
# setup.sh - prepares the dashboard browser test: checks for node, npm and the Debian chromium,
# and installs the pinned playwright-core (npm ci) into tests/browser/node_modules when it is
# missing or older than package-lock.json. playwright-core downloads no browser.
# SPDX-License-Identifier: MIT
set -eu
here=$(cd "$(dirname "$0")" && pwd)
chromium=${TSPOOL_CHROMIUM:-/usr/bin/chromium}
for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "setup: $tool not found; run scripts/install-deps.sh" >&2
        exit 1
    fi
done
if [ ! -x "$chromium" ]; then
    echo "setup: $chromium not found; run scripts/install-deps.sh (Debian package chromium)" >&2
    exit 1
fi
stamp=$here/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ "$here/package-lock.json" -nt "$stamp" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: playwright-core in $here/node_modules; browser $chromium"
