#!/usr/bin/env bash
# replica.sh - a streaming replica (pg_basebackup -R) of the scripts/devdb.sh PostgreSQL 15 server
# on another free loopback port, for the read pool's tests and `make test`.
# SPDX-License-Identifier: MIT
#
# usage: scripts/replica.sh start|stop|restart|rebuild|promote|status|port|dsn|psql [args]
#   TSPOOL_DEVDB_DIR    the primary's directory (scripts/devdb.sh; default <repo>/.tspool/pg)
#   TSPOOL_REPLICA_DIR  where the replica lives (default: <primary dir>-replica)
#   TSPOOL_REPLICA_NAME cluster_name of the replica, which the primary shows as its
#                       application_name in pg_stat_replication (default tspool_replica)
# `start` starts the primary if needed and (re)builds the replica when it is missing, was
# promoted, or belongs to another primary (a re-created cluster). Same password and trust rules
# as the primary (the data directory is a copy); the replica streams over the primary's Unix
# socket and hot_standby lets it answer reads.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
primary="${TSPOOL_DEVDB_DIR:-$repo/.tspool/pg}"
dir="${TSPOOL_REPLICA_DIR:-$primary-replica}"
name="${TSPOOL_REPLICA_NAME:-tspool_replica}"
mkdir -p "$(dirname "$dir")"
# absolute paths: the server runs elsewhere, and the parent walk below must end at /
primary="$(cd "$(dirname "$primary")" && pwd)/$(basename "$primary")"
dir="$(cd "$(dirname "$dir")" && pwd)/$(basename "$dir")"
data="$dir/data"
pgbin="${TSPOOL_PGBIN:-/usr/lib/postgresql/15/bin}"

die() {
    echo "replica: $*" >&2
    exit 1
}

[ -x "$pgbin/pg_basebackup" ] || die "PostgreSQL 15 not found in $pgbin (apt-get install postgresql-15)"
case "$name" in
*[!A-Za-z0-9_]* | "") die "TSPOOL_REPLICA_NAME must be letters, digits and _" ;;
esac

# as_owner, port_is_free, choose_port
. "$repo/scripts/server-lib.sh"

is_running() {
    [ -f "$data/postmaster.pid" ] && as_owner "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

system_id() {
    as_owner "$pgbin/pg_controldata" -D "$1" 2>/dev/null | sed -n 's/^Database system identifier: *//p'
}

primary_start() {
    TSPOOL_DEVDB_DIR="$primary" "$repo/scripts/devdb.sh" start
}

stop() {
    if is_running; then
        as_owner "$pgbin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    fi
}

# the replica is usable as is: a standby (standby.signal) of this very primary
is_current() {
    [ -f "$data/standby.signal" ] && [ -f "$dir/port" ] &&
        [ "$(system_id "$data")" = "$(system_id "$primary/data")" ]
}

build() {
    local keep_port=""
    stop
    # a rebuilt replica keeps its port when it can (clients list it)
    [ -f "$dir/port" ] && keep_port="$(cat "$dir/port")"
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$dir"
        local d="$dir"
        while [ "$d" != / ]; do
            d="$(dirname "$d")"
            chmod o+x "$d" 2>/dev/null || true
        done
    fi
    as_owner "$pgbin/pg_basebackup" -h "$primary" -p "$(cat "$primary/port")" -U postgres \
        -D "$data" -R -X stream -c fast >"$dir/basebackup.log" 2>&1 ||
        die "pg_basebackup failed, see $dir/basebackup.log"
    cp "$primary/password" "$dir/password"
    if [ -n "$keep_port" ] && port_is_free "$keep_port"; then
        echo "$keep_port" >"$dir/port"
    else
        choose_port 5432 "$(cat "$primary/port" 2>/dev/null)" >"$dir/port"
    fi
    {
        echo "# replica.sh: this server is a streaming replica"
        echo "port = $(cat "$dir/port")"
        echo "unix_socket_directories = '$dir'"
        echo "cluster_name = '$name'"
        echo "hot_standby = on"
        echo "hot_standby_feedback = on"
        echo "wal_receiver_status_interval = 1s"
    } >>"$data/postgresql.conf"
}

start() {
    primary_start
    if ! is_current; then
        build
    fi
    if is_running; then
        return 0
    fi
    local port
    port="$(cat "$dir/port")"
    if ! port_is_free "$port"; then
        choose_port 5432 "$(cat "$primary/port" 2>/dev/null)" >"$dir/port"
        port="$(cat "$dir/port")"
        echo "port = $port" >>"$data/postgresql.conf"
    fi
    as_owner "$pgbin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
        die "replica did not start, see $dir/server.log"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
restart)
    stop
    start
    ;;
rebuild)
    primary_start
    build
    start
    ;;
promote)
    is_running || die "replica is not running"
    as_owner "$pgbin/pg_ctl" -D "$data" -w -t 60 promote >/dev/null
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
dsn)
    echo "host=127.0.0.1 port=$(cat "$dir/port") dbname=postgres user=postgres password=$(cat "$dir/password") sslmode=disable"
    ;;
psql)
    shift
    as_owner "$pgbin/psql" -h "$dir" -p "$(cat "$dir/port")" -U postgres -d postgres -X -q "$@"
    ;;
*)
    echo "usage: $0 start|stop|restart|rebuild|promote|status|port|dsn|psql [args]" >&2
    exit 2
    ;;
esac
