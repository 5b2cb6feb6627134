#!/usr/bin/env bash
# pgbouncer.sh - two PgBouncer instances on loopback in front of the PostgreSQL 15 test server
# (scripts/devdb.sh), with an auth file, admin_users and stats_users, for the tests and make bench.
# SPDX-License-Identifier: MIT
#
# usage: scripts/pgbouncer.sh start|stop|restart|status|port|env|start-one N|stop-one N|pid N
#   TSPOOL_PGBOUNCER_DIR  where the instances live (default: <repo>/.tspool/pgbouncer)
#   TSPOOL_DEVDB_DIR      the PostgreSQL cluster they pool (default: <repo>/.tspool/pg)
#   TSPOOL_PGBOUNCER_COUNT number of instances (default 2)
# Instance N lives in $DIR/N (pgbouncer.ini, pid, log) and listens on 127.0.0.N:$(cat $DIR/port):
# one port chosen once and kept, one loopback address per instance, as the pods behind a headless
# Service have one address each and the same port. Logins (auth file $DIR/userlist.txt, scram-sha-256):
#   pgbouncer / $(cat $DIR/admin-password)  admin console (admin_users)
#   pgb_stats / $(cat $DIR/stats-password)  read-only console (stats_users)
#   postgres  / the test server's password   application user (pool_mode transaction)
# PgBouncer refuses to run as root: as root the instances run as the OS user `postgres`.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${TSPOOL_PGBOUNCER_DIR:-$repo/.tspool/pgbouncer}"
pgdir="${TSPOOL_DEVDB_DIR:-$repo/.tspool/pg}"
count="${TSPOOL_PGBOUNCER_COUNT:-2}"
admin_password="tspool-pgbouncer-admin"
stats_password="tspool-pgbouncer-stats"

die() {
    echo "pgbouncer.sh: $*" >&2
    exit 1
}

command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] ||
    die "pgbouncer not found (apt-get install pgbouncer, or scripts/install-deps.sh)"
bin="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"

# as_owner, choose_port (port_is_free below checks every instance address)
. "$repo/scripts/server-lib.sh"

port_is_free() {
    local n
    for n in $(seq 1 "$count"); do
        if (exec 3<>"/dev/tcp/127.0.0.$n/$1") 2>/dev/null; then
            return 1
        fi
    done
    return 0
}


pid_of() {
    local f="$dir/$1/pgbouncer.pid"
    [ -f "$f" ] && cat "$f"
}

is_running() {
    local pid
    pid="$(pid_of "$1" 2>/dev/null || true)"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

setup() {
    [ -f "$pgdir/port" ] || die "no PostgreSQL test server in $pgdir (scripts/devdb.sh start first)"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
        local d="$dir"
        while [ "$d" != / ]; do
            d="$(dirname "$d")"
            chmod o+x "$d" 2>/dev/null || true
        done
    fi
    echo "$admin_password" >"$dir/admin-password"
    echo "$stats_password" >"$dir/stats-password"
    {
        printf '"pgbouncer" "%s"\n' "$admin_password"
        printf '"pgb_stats" "%s"\n' "$stats_password"
        printf '"postgres" "%s"\n' "$(cat "$pgdir/password")"
    } >"$dir/userlist.txt"
    chmod 600 "$dir/userlist.txt"
    [ -f "$dir/port" ] || choose_port 6432 >"$dir/port"
    for n in $(seq 1 "$count"); do
        mkdir -p "$dir/$n"
        write_ini "$n"
    done
    [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
    return 0
}

write_ini() {
    local n="$1"
    cat >"$dir/$n/pgbouncer.ini" <<EOF
[databases]
postgres = host=127.0.0.1 port=$(cat "$pgdir/port") dbname=postgres
appdb = host=127.0.0.1 port=$(cat "$pgdir/port") dbname=postgres pool_size=3
spare = host=127.0.0.1 port=$(cat "$pgdir/port") dbname=postgres pool_size=1

[pgbouncer]
listen_addr = 127.0.0.$n
listen_port = $(cat "$dir/port")
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
admin_users = pgbouncer
stats_users = pgb_stats
pool_mode = transaction
default_pool_size = 5
max_client_conn = 200
server_login_retry = 1
logfile = $dir/$n/pgbouncer.log
pidfile = $dir/$n/pgbouncer.pid
EOF
}

start_one() {
    local n="$1" port i
    if is_running "$n"; then
        # running already: make it read the configuration written by setup
        kill -HUP "$(pid_of "$n")" 2>/dev/null || true
        return 0
    fi
    port="$(cat "$dir/port")"
    if (exec 3<>"/dev/tcp/127.0.0.$n/$port") 2>/dev/null; then
        die "127.0.0.$n:$port is taken by another program"
    fi
    rm -f "$dir/$n/pgbouncer.pid"
    as_owner "$bin" -d -q "$dir/$n/pgbouncer.ini" || die "instance $n did not start, see $dir/$n/pgbouncer.log"
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.$n/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    die "instance $n does not listen on 127.0.0.$n:$port, see $dir/$n/pgbouncer.log"
}

stop_one() {
    local n="$1" pid i
    pid="$(pid_of "$n" 2>/dev/null || true)"
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -CONT "$pid" 2>/dev/null || true
        kill -INT "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/$n/pgbouncer.pid"
}

case "${1:-}" in
start)
    setup
    for n in $(seq 1 "$count"); do start_one "$n"; done
    ;;
stop)
    for n in $(seq 1 "$count"); do stop_one "$n"; done
    ;;
restart)
    for n in $(seq 1 "$count"); do stop_one "$n"; done
    setup
    for n in $(seq 1 "$count"); do start_one "$n"; done
    ;;
start-one)
    [ -n "${2:-}" ] || die "start-one needs an instance number"
    [ -f "$dir/$2/pgbouncer.ini" ] || setup
    start_one "$2"
    ;;
stop-one)
    [ -n "${2:-}" ] || die "stop-one needs an instance number"
    stop_one "$2"
    ;;
pid)
    pid_of "${2:?pid needs an instance number}"
    ;;
status)
    rc=0
    for n in $(seq 1 "$count"); do
        if is_running "$n"; then
            echo "instance $n running on 127.0.0.$n:$(cat "$dir/port")"
        else
            echo "instance $n stopped"
            rc=3
        fi
    done
    exit "$rc"
    ;;
port)
    cat "$dir/port"
    ;;
env)
    hosts=""
    for n in $(seq 1 "$count"); do hosts="$hosts${hosts:+,}127.0.0.$n:$(cat "$dir/port")"; done
    echo "PGBOUNCER_HOSTS=$hosts"
    echo "PGBOUNCER_USER=pgbouncer"
    echo "PGBOUNCER_PASS=$admin_password"
    ;;
*)
    echo "usage: $0 start|stop|restart|status|port|env|start-one N|stop-one N|pid N" >&2
    exit 2
    ;;
esac
