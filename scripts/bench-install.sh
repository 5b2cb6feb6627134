#!/usr/bin/env bash
# bench-install.sh - install the Debian packages `make bench` measures tspool against, if missing.
# SPDX-License-Identifier: MIT
#
# Services that a package would start on install (nginx on :80, pgbouncer, etcd, the exporter) are
# kept from starting with a temporary policy-rc.d: the benchmark starts its own copies on loopback.
# Optional peers (Patroni, etcd, postgres_exporter) that fail to install are reported, not fatal.
set -euo pipefail

# tspool's own build dependencies come from scripts/install-deps.sh
required=(wrk iproute2 jq nginx-light pgbouncer gnuplot-nox postgresql-15 postgresql-client-15 python3 curl
    util-linux)
optional=(patroni python3-etcd etcd-server prometheus-postgres-exporter shellcheck linux-perf)

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing_of() {
    local p
    for p in "$@"; do
        is_installed "$p" || echo "$p"
    done
}

mapfile -t need < <(missing_of "${required[@]}")
mapfile -t want < <(missing_of "${optional[@]}")
if [ ${#need[@]} -eq 0 ] && [ ${#want[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" = 0 ]; then
    apt_get=(apt-get)
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    apt_get=(sudo apt-get)
    as_root=(sudo)
else
    echo "bench: missing Debian packages: ${need[*]} ${want[*]}" >&2
    echo "bench: install them with: sudo apt-get install -y ${need[*]} ${want[*]}" >&2
    exit 1
fi

policy=/usr/sbin/policy-rc.d
made_policy=0
cleanup() {
    if [ "$made_policy" = 1 ]; then
        "${as_root[@]}" rm -f "$policy"
    fi
}
trap cleanup EXIT
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod 755 "$policy"
    made_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
echo "bench: installing ${need[*]} ${want[*]}"
"${apt_get[@]}" update -qq
if [ ${#need[@]} -gt 0 ]; then
    "${apt_get[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
for p in "${want[@]}"; do
    if ! "${apt_get[@]}" install -y -qq --no-install-recommends "$p" >/dev/null 2>&1; then
        echo "bench: optional package $p could not be installed; its comparison will be skipped" >&2
    fi
done
