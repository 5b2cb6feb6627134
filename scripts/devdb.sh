#!/usr/bin/env bash
# devdb.sh - a throwaway PostgreSQL 15 on a free loopback port, for `make run` and the tests.
# SPDX-License-Identifier: MIT
#
# usage: scripts/devdb.sh start|stop|restart|status|port|dsn|env|psql [args]
#   TSPOOL_DEVDB_DIR  where the cluster lives (default: <repo>/.tspool/pg)
#   TSPOOL_DEVDB_CONF extra postgresql.conf lines, written at every start (scripts/tsdb-native.sh,
#                     the Makefile); a running server is restarted when they changed
# The cluster listens on 127.0.0.1 only, on a port chosen once (free, never 5432) and kept in
# $DIR/port. TCP logins use scram-sha-256 with user postgres / password in $DIR/password;
# the Unix socket in $DIR is trust. When run as root the server runs as the OS user
# `postgres` (created by the postgresql-15 package) because PostgreSQL refuses root.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${TSPOOL_DEVDB_DIR:-$repo/.tspool/pg}"
data="$dir/data"
pgbin="${TSPOOL_PGBIN:-/usr/lib/postgresql/15/bin}"
password="tspool-dev-password"

die() {
    echo "devdb: $*" >&2
    exit 1
}

[ -x "$pgbin/pg_ctl" ] || die "PostgreSQL 15 server not found in $pgbin (apt-get install postgresql-15)"

# as_owner, port_is_free, choose_port
. "$repo/scripts/server-lib.sh"

is_running() {
    [ -f "$data/postmaster.pid" ] && as_owner "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

init_cluster() {
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
        chown postgres "$dir"
        # the server user must be able to reach $dir through every parent
        local d="$dir"
        while [ "$d" != / ]; do
            d="$(dirname "$d")"
            chmod o+x "$d" 2>/dev/null || true
        done
    fi
    local pwfile="$dir/pwfile"
    echo "$password" >"$pwfile"
    [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
    as_owner "$pgbin/initdb" -D "$data" -U postgres --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
        die "initdb failed, see $dir/initdb.log"
    rm -f "$pwfile"
    echo "$password" >"$dir/password"
    choose_port 5432 >"$dir/port"
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $(cat "$dir/port")"
        echo "unix_socket_directories = '$dir'"
        echo "max_connections = 100"
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
        echo "log_min_messages = warning"
    } >>"$data/postgresql.conf"
}

start() {
    local changed=0
    [ -d "$data" ] || init_cluster
    if [ -n "${TSPOOL_DEVDB_CONF:-}" ]; then
        if [ "$(cat "$data/tspool-extra.conf" 2>/dev/null)" != "$TSPOOL_DEVDB_CONF" ]; then
            changed=1
        fi
        printf '%s\n' "$TSPOOL_DEVDB_CONF" >"$data/tspool-extra.conf"
        [ "$(id -u)" = 0 ] && chown postgres "$data/tspool-extra.conf"
        grep -q "^include_if_exists = 'tspool-extra.conf'" "$data/postgresql.conf" ||
            echo "include_if_exists = 'tspool-extra.conf'" >>"$data/postgresql.conf"
    fi
    if is_running; then
        # settings such as shared_preload_libraries take effect only at server start
        if [ "$changed" = 1 ]; then
            as_owner "$pgbin/pg_ctl" -D "$data" -l "$dir/server.log" -m fast -w -t 60 restart \
                >/dev/null || die "server did not restart, see $dir/server.log"
        fi
        return 0
    fi
    local port
    port="$(cat "$dir/port")"
    if ! port_is_free "$port"; then
        # someone else took our port while we were down: move
        choose_port 5432 >"$dir/port"
        port="$(cat "$dir/port")"
        sed -i "s/^port = .*/port = $port/" "$data/postgresql.conf"
    fi
    as_owner "$pgbin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
        die "server did not start, see $dir/server.log"
}

stop() {
    if is_running; then
        as_owner "$pgbin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    fi
}

dsn() {
    echo "host=127.0.0.1 port=$(cat "$dir/port") dbname=postgres user=postgres password=$(cat "$dir/password") sslmode=disable"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart)
    start
    as_owner "$pgbin/pg_ctl" -D "$data" -l "$dir/server.log" -m fast -w -t 60 restart >/dev/null
    ;;
status)
    if is_running; then
        echo "running on 127.0.0.1:$(cat "$dir/port") (data $data)"
    else
        echo "stopped"
        exit 3
    fi
    ;;
port) cat "$dir/port" ;;
dsn) dsn ;;
env)
    echo "DB_HOST=127.0.0.1"
    echo "DB_PORT=$(cat "$dir/port")"
    echo "DB_NAME=postgres"
    echo "DB_USER=postgres"
    echo "DB_PASS=$(cat "$dir/password")"
    echo "DB_SSLMODE=disable"
    ;;
psql)
    shift
    as_owner /usr/lib/postgresql/15/bin/psql -h "$dir" -p "$(cat "$dir/port")" -U postgres -d postgres -X -q "$@"
    ;;
*)
    echo "usage: $0 start|stop|restart|status|port|dsn|env|psql [args]" >&2
    exit 2
    ;;
esac
