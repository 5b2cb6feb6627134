#!/usr/bin/env bash
# bench-peers.sh - start the programs `make bench` measures: tspool, nginx, PgBouncer, etcd +
# Patroni, postgres_exporter. Each listens on 127.0.0.1 on a free port, keeps its files in
# $work, and is registered for cleanup. Sourced by scripts/bench.sh, not run.
# SPDX-License-Identifier: MIT
#
# Needs from the caller: $work, $tspool_bin, $pg_port, $pg_password (scripts/devdb.sh cluster).
# The variables set here (*_pid, *_url, ...) are the results, read by the caller.
# shellcheck disable=SC2154,SC2034

tspool_pid="" nginx_pid="" pgbouncer_pid="" etcd_pid="" patroni_pid="" exporter_pid=""
tspool_url="" nginx_url="" patroni_url="" exporter_url="" pgbouncer_port="" tspool_start_ms=""

# start_tspool NAME POOL_SIZE MIN_CONNS: sets tspool_pid, tspool_url, tspool_start_ms (exec to
# /readyz 200). Returns 1 (with a note) if tspool does not come up.
start_tspool() {
    local name="$1" size="$2" min="$3" port t0 ms
    take_port port
    tspool_url="http://127.0.0.1:$port"
    cmd_log "DB_HOST=127.0.0.1 DB_PORT=$pg_port DB_NAME=postgres DB_USER=postgres DB_PASS=... DB_SSLMODE=disable DB_MAX_CONNS=$size DB_MAX_OVERFLOW=0 DB_MIN_CONNS=$min TSPOOL_LISTEN=127.0.0.1:$port TSPOOL_LOG_LEVEL=warn TSPOOL_SHUTDOWN_DELAY=0 $tspool_bin serve"
    t0="$(date +%s%N)"
    # the environment configures tspool (the work directory has no .env); the caller's
    # TSPOOL_HTTP_* settings pass through so the HTTP tuning can be varied from the command line
    (
        cd "$work" || exit 1
        export DB_HOST=127.0.0.1 DB_PORT="$pg_port" DB_NAME=postgres DB_USER=postgres
        export DB_PASS="$pg_password" DB_SSLMODE=disable DB_MAX_CONNS="$size" DB_MAX_OVERFLOW=0
        export DB_MIN_CONNS="$min" TSPOOL_LISTEN="127.0.0.1:$port" TSPOOL_LOG_LEVEL=warn
        export TSPOOL_SHUTDOWN_DELAY=0 TSPOOL_ADMIN_TOKEN="$tspool_admin_token"
        exec "$tspool_bin" serve
    ) >"$work/$name.log" 2>&1 &
    tspool_pid=$!
    bench_pids+=("$tspool_pid")
    bench_pid_names+=("$name")
    if ! ms="$("$conncheck" --wait --since "$t0" --pid "$tspool_pid" -T 30 "$tspool_url/readyz" 2>&1)"; then
        note skip "tspool ($name) did not answer /readyz 200 within 30 s: $ms; log: $(tail -n 3 "$work/$name.log" | tr '\n' ' ')"
        stop_pid "$tspool_pid"
        return 1
    fi
    tspool_start_ms="$ms"
    say "tspool $name up on $tspool_url (pool $size, warm $min) in $ms ms"
}

stop_tspool() {
    stop_pid "$tspool_pid" 20
}

# start_nginx DOCROOT: nginx serving DOCROOT as static files; sets nginx_pid, nginx_url.
# worker_processes auto (one per core) and no access log, like tspool at log level warn.
start_nginx() {
    local docroot="$1" port d="$work/nginx"
    take_port port
    mkdir -p "$d/tmp" "$d/logs"
    cat >"$d/nginx.conf" <<EOF
worker_processes auto;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    default_type application/json;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port;
        root $docroot;
    }
}
EOF
    cmd_log "nginx -p $d -c $d/nginx.conf -g 'daemon off;'   # config: bench/results/latest.md"
    start_bg nginx nginx_pid nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;'
    nginx_url="http://127.0.0.1:$port"
    wait_port "$port" 10 || {
        note skip "nginx did not start: $(tail -n 3 "$work/nginx.log" "$d/logs/error.log" | tr '\n' ' ')"
        return 1
    }
    cp "$d/nginx.conf" "$work/nginx.conf.used"
}

# start_pgbouncer POOL: PgBouncer in transaction mode in front of the devdb cluster; sets
# pgbouncer_pid, pgbouncer_port. PgBouncer refuses root, so it runs as `postgres` then.
start_pgbouncer() {
    local pool="$1" d="$work/pgbouncer"
    take_port pgbouncer_port
    mkdir -p "$d"
    printf '"postgres" "%s"\n' "$pg_password" >"$d/userlist.txt"
    cat >"$d/pgbouncer.ini" <<EOF
[databases]
postgres = host=127.0.0.1 port=$pg_port dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $pgbouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $d/userlist.txt
pool_mode = transaction
default_pool_size = $pool
max_db_connections = $pool
max_client_conn = 2048
admin_users = postgres
pidfile = $d/pgbouncer.pid
ignore_startup_parameters = extra_float_digits
EOF
    [ "$(id -u)" = 0 ] && chown -R postgres "$d"
    cmd_log "pgbouncer $d/pgbouncer.ini   # config: bench/results/latest.md"
    start_bg pgbouncer pgbouncer_pid as_service_user pgbouncer "$d/pgbouncer.ini"
    wait_port "$pgbouncer_port" 10 || {
        note skip "PgBouncer did not start: $(tail -n 3 "$work/pgbouncer.log" | tr '\n' ' ')"
        return 1
    }
    cp "$d/pgbouncer.ini" "$work/pgbouncer.ini.used"
}

# pgbouncer_server_conns: server connections PgBouncer holds (SHOW POOLS: sv_active + sv_idle
# + sv_used + sv_tested + sv_login; columns found by name, they differ between versions).
pgbouncer_server_conns() {
    { psql -h 127.0.0.1 -p "$pgbouncer_port" -U postgres -X -A -F ' ' -c 'SHOW POOLS' pgbouncer 2>/dev/null || true; } |
        awk 'NR == 1 {for (i = 1; i <= NF; i++) if ($i ~ /^sv_(active|idle|used|tested|login)$/) want[i] = 1; next}
             $1 == "postgres" {for (i in want) s += $i}
             END {print s + 0}'
}

# start_patroni: a loopback etcd (v3 API) and a one-member Patroni cluster (its own PostgreSQL
# 15 data directory). Sets patroni_pid, patroni_url. Returns 1 with the reason in a note.
start_patroni() {
    local d="$work/patroni" cport pport rport pgport i
    if ! command -v patroni >/dev/null 2>&1; then
        note skip "Patroni: the patroni package is not installed (apt-get install patroni)"
        return 1
    fi
    if ! command -v etcd >/dev/null 2>&1; then
        note skip "Patroni: needs a DCS; etcd-server is not installed (apt-get install etcd-server)"
        return 1
    fi
    take_port cport
    take_port pport
    take_port rport
    take_port pgport
    mkdir -p "$d/etcd" "$d/pg"
    cmd_log "etcd --name bench --data-dir $d/etcd --listen-client-urls http://127.0.0.1:$cport --advertise-client-urls http://127.0.0.1:$cport --listen-peer-urls http://127.0.0.1:$pport --initial-advertise-peer-urls http://127.0.0.1:$pport --initial-cluster bench=http://127.0.0.1:$pport"
    start_bg etcd etcd_pid etcd --name bench --data-dir "$d/etcd" \
        --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
        --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
        --initial-cluster "bench=http://127.0.0.1:$pport"
    if ! wait_http "http://127.0.0.1:$cport/health" 20; then
        note skip "Patroni: etcd did not become healthy: $(tail -n 2 "$work/etcd.log" | tr '\n' ' ')"
        return 1
    fi
    cat >"$d/patroni.yml" <<EOF
scope: bench
name: pg0
log:
  level: WARNING
restapi:
  listen: 127.0.0.1:$rport
  connect_address: 127.0.0.1:$rport
etcd3:
  hosts: 127.0.0.1:$cport
bootstrap:
  dcs:
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
postgresql:
  listen: 127.0.0.1:$pgport
  connect_address: 127.0.0.1:$pgport
  data_dir: $d/pg/data
  bin_dir: /usr/lib/postgresql/15/bin
  pgpass: $d/pgpass
  authentication:
    superuser:
      username: postgres
      password: bench-patroni
    replication:
      username: replicator
      password: bench-replicator
  parameters:
    unix_socket_directories: $d
    fsync: 'off'
    max_connections: 50
EOF
    [ "$(id -u)" = 0 ] && chown -R postgres "$d/pg" "$d/patroni.yml" && chown postgres "$d"
    cmd_log "patroni $d/patroni.yml   # config: bench/results/latest.md"
    start_bg patroni patroni_pid as_service_user patroni "$d/patroni.yml"
    patroni_url="http://127.0.0.1:$rport"
    # bootstrap = initdb + start + leader election; the primary answers /readiness 200
    for i in $(seq 1 90); do
        if ! kill -0 "$patroni_pid" 2>/dev/null; then
            note skip "Patroni exited during bootstrap: $(tail -n 3 "$work/patroni.log" | tr '\n' ' ')"
            return 1
        fi
        if "$conncheck" --wait --pid "$patroni_pid" -T 1 "$patroni_url/readiness" >/dev/null 2>&1; then
            cp "$d/patroni.yml" "$work/patroni.yml.used"
            say "Patroni primary ready on $patroni_url after ${i}s"
            return 0
        fi
    done
    note skip "Patroni did not become ready in 90 s: $(tail -n 3 "$work/patroni.log" | tr '\n' ' ')"
    return 1
}

stop_patroni() {
    # Patroni stops its PostgreSQL on SIGTERM; etcd after it, so Patroni can release the leader key
    stop_pid "$patroni_pid" 30
    stop_pid "$etcd_pid" 10
    if [ -f "$work/patroni/pg/data/postmaster.pid" ]; then
        if [ "$(id -u)" = 0 ]; then
            runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$work/patroni/pg/data" -m immediate stop >/dev/null 2>&1 || true
        else
            /usr/lib/postgresql/15/bin/pg_ctl -D "$work/patroni/pg/data" -m immediate stop >/dev/null 2>&1 || true
        fi
    fi
}

# start_exporter: prometheus-postgres-exporter against the devdb cluster; sets exporter_pid,
# exporter_url.
start_exporter() {
    local port bin
    bin="$(command -v prometheus-postgres-exporter || true)"
    if [ -z "$bin" ]; then
        note skip "postgres_exporter: the prometheus-postgres-exporter package is not installed"
        return 1
    fi
    take_port port
    exporter_url="http://127.0.0.1:$port"
    cmd_log "DATA_SOURCE_NAME=postgresql://postgres:...@127.0.0.1:$pg_port/postgres?sslmode=disable prometheus-postgres-exporter --web.listen-address=127.0.0.1:$port"
    start_bg exporter exporter_pid env \
        DATA_SOURCE_NAME="postgresql://postgres:$pg_password@127.0.0.1:$pg_port/postgres?sslmode=disable" \
        "$bin" --web.listen-address="127.0.0.1:$port"
    if ! wait_http "$exporter_url/metrics" 20; then
        note skip "postgres_exporter did not answer /metrics: $(tail -n 3 "$work/exporter.log" | tr '\n' ' ')"
        return 1
    fi
}
