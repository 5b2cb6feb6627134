#!/usr/bin/env bash
# tsdb-native.sh - a real TimescaleDB test server: PostgreSQL 15 + TimescaleDB 2.28.3 built from source.
# SPDX-License-Identifier: MIT
#
# usage: scripts/tsdb-native.sh build|start|stop|restart|status|dsn|env|psql [args]|available
#   TSPOOL_TSDB_NATIVE_DIR   where the cluster lives (default: <repo>/.tspool/tsdb-native)
#   TSPOOL_THIRD_PARTY       where the source tarball and patch are (default: <repo>/../shared/third_party)
# `build` installs the build packages if missing, then builds and installs TimescaleDB into the
# PostgreSQL 15 server (skipped when timescaledb-2.28.3.so is already installed). `start` builds if
# needed and starts a cluster (scripts/devdb.sh) with shared_preload_libraries=timescaledb,pg_stat_statements and enough
# background workers for the scheduler's policies, password authentication on 127.0.0.1 and, when
# run as root, the OS user postgres. `available` exits 0 when the tarball is there, else prints
# one line saying why the native server cannot be had and exits 1.
# `make test` keeps its cluster in .tspool/test-tsdb-native (TSPOOL_TSDB_NATIVE_DIR); the tests
# find it through TSPOOL_TEST_TSDB_NATIVEDIR.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${TSPOOL_TSDB_NATIVE_DIR:-$repo/.tspool/tsdb-native}"
third_party="$(realpath -m "${TSPOOL_THIRD_PARTY:-$repo/../shared/third_party}")"
version=2.28.3
tarball="$third_party/timescaledb-$version.tar.gz"
patchfile="$third_party/timescaledb-$version-pg15.20-job-portal.patch"
tarball_sha=ec2f7de0ba53a473c01e0a57e09053898c6b1f7487228caff0f1d31c8cb2dedb
patch_sha=fb2d2ee7fbf435f352146517f8c05f610a2075d1fd72700bd280b0a10f9f7ce8
pg_config=/usr/lib/postgresql/15/bin/pg_config
build_packages=(postgresql-15 postgresql-server-dev-15 cmake gcc make libssl-dev libkrb5-dev patch)

die() {
    echo "tsdb-native: $*" >&2
    exit 1
}

installed_so() {
    local libdir
    [ -x "$pg_config" ] || return 1
    libdir="$("$pg_config" --pkglibdir)"
    [ -f "$libdir/timescaledb-$version.so" ] &&
        [ -f "$("$pg_config" --sharedir)/extension/timescaledb--$version.sql" ]
}

install_packages() {
    local missing=() p
    for p in "${build_packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    # the server and its headers must be the same minor release (the patch targets 15.20):
    # installing the headers brings the server up to their release too
    if [ ${#missing[@]} -eq 0 ] &&
        [ "$(dpkg-query -W -f='${Version}' postgresql-15)" = "$(dpkg-query -W -f='${Version}' postgresql-server-dev-15)" ]; then
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "needs root to install: ${build_packages[*]} (sudo apt-get install -y ${build_packages[*]})"
    echo "tsdb-native: installing ${build_packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${build_packages[@]}" >/dev/null
}

check_sha() {
    local got
    got="$(sha256sum "$1" | cut -d' ' -f1)"
    [ "$got" = "$2" ] || die "$1: sha256 $got, expected $2"
}

build() {
    [ -f "$tarball" ] || die "$tarball not found: no native TimescaleDB can be built here"
    install_packages
    if installed_so; then
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "needs root to install into $("$pg_config" --pkglibdir)"
    # one build at a time per machine (several checkouts may start their tests together): the
    # lock is on the directory the library is installed into; whoever waited finds it there
    exec 8<"$("$pg_config" --pkglibdir)"
    flock 8
    if installed_so; then
        return 0
    fi
    check_sha "$tarball" "$tarball_sha"
    check_sha "$patchfile" "$patch_sha"
    local src="$repo/.tspool/build-timescaledb"
    rm -rf "$src"
    mkdir -p "$src"
    tar -xzf "$tarball" -C "$src" --strip-components=1
    (cd "$src" && patch -p1 -s <"$patchfile")
    local log="$repo/.tspool/build-timescaledb.log" t0=$SECONDS
    echo "tsdb-native: building TimescaleDB $version (about two minutes on two cores; log $log)"
    (
        cd "$src" &&
            ./bootstrap -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
                -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPG_CONFIG="$pg_config" &&
            make -C build -j "$(nproc)" && make -C build install
    ) >"$log" 2>&1 || die "build failed, see $log"
    installed_so || die "build finished but timescaledb-$version.so is not installed, see $log"
    echo "tsdb-native: built and installed in $((SECONDS - t0)) s"
    rm -rf "$src"
}

devdb() {
    TSPOOL_DEVDB_DIR="$dir" TSPOOL_DEVDB_CONF="$(conf)" "$repo/scripts/devdb.sh" "$@"
}

conf() {
    cat <<'EOF'
shared_preload_libraries = 'timescaledb,pg_stat_statements'
timescaledb.telemetry_level = off
timescaledb.max_background_workers = 8
max_worker_processes = 16
max_locks_per_transaction = 256
EOF
}

start() {
    build
    devdb start
    devdb psql -c "CREATE EXTENSION IF NOT EXISTS timescaledb" >/dev/null 2>&1 ||
        die "CREATE EXTENSION timescaledb failed, see $dir/server.log"
    devdb psql -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 ||
        die "CREATE EXTENSION pg_stat_statements failed, see $dir/server.log"
}

case "${1:-}" in
available)
    if [ ! -f "$tarball" ]; then
        echo "native TimescaleDB skipped: $tarball not found (the tests run on PGlite only)"
        exit 1
    fi
    ;;
build) build ;;
start) start ;;
stop) [ -d "$dir" ] && devdb stop || true ;;
restart)
    start
    devdb restart
    ;;
status) devdb status ;;
dsn | env | port)
    [ -f "$dir/port" ] || die "not started (no cluster in $dir): scripts/tsdb-native.sh start"
    devdb "$1"
    ;;
psql)
    shift
    devdb psql "$@"
    ;;
*)
    echo "usage: $0 build|start|stop|restart|status|dsn|env|port|psql [args]|available" >&2
    exit 2
    ;;
esac
