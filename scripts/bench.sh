#!/usr/bin/env bash
# bench.sh - `make bench`: tspool side by side with nginx, pgbench/PgBouncer, Patroni and
# postgres_exporter, all on loopback in one run; writes bench/results/latest.md and a chart.
# SPDX-License-Identifier: MIT
#
# usage: scripts/bench.sh
#   BENCH_DURATION=5      seconds per load run (wrk -d, pgbench -T, conncheck -d)
#   BENCH_THREADS=2       wrk -t / pgbench -j
#   BENCH_REPS=2          alternating repetitions of the head-to-head runs (best of each is kept)
#   BENCH_OUT=bench/results   where latest.md, latest.jsonl and scale.png go
#   BENCH_SKIP_INSTALL=1  do not run scripts/bench-install.sh
#   BENCH_KEEP=1          keep the temporary directory (logs, configs) for inspection
#   BENCH_QUIET_WAIT=60   seconds to wait at most for the load average to drop below half the CPUs
#   BENCH_TSPOOL_BIN=PATH measure this tspool binary instead of building build-bench (e.g. to
#                         compare two builds; it must accept `serve` and the same environment)
#   TSPOOL_HTTP_*         passed through to tspool, to try other HTTP settings
# Absolute numbers on a shared machine are noise; the ratios between tools measured back to
# back in one run are the result. Every process is stopped on exit, also on failure or ^C.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${BENCH_DURATION:-5}"
reps="${BENCH_REPS:-2}"
wrk_threads="${BENCH_THREADS:-2}"
out_dir="${BENCH_OUT:-$repo/bench/results}"
build="$repo/build-bench"
tspool_admin_token="bench-admin-token"

# shellcheck source=scripts/bench-lib.sh
. "$repo/scripts/bench-lib.sh"
# shellcheck source=scripts/bench-peers.sh
. "$repo/scripts/bench-peers.sh"

work="$(mktemp -d /tmp/tspool-bench.XXXXXX)"
# PostgreSQL, PgBouncer and Patroni run as `postgres` under root and must reach their files
chmod 755 "$work"
export TSPOOL_DEVDB_DIR="$work/pg"
devdb="$repo/scripts/devdb.sh"
bench_t0="$(date +%s)"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    bench_stop_all
    "$devdb" stop >/dev/null 2>&1 || true
    if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
        say "logs and configs kept in $work"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

: >"$work/results.jsonl"
: >"$work/notes.jsonl"
: >"$work/commands.txt"

# ---------------------------------------------------------------- install and build
if [ "${BENCH_SKIP_INSTALL:-0}" != 1 ]; then
    "$repo/scripts/install-deps.sh"
    "$repo/scripts/bench-install.sh"
fi
for tool in wrk nginx pgbouncer pgbench psql jq gnuplot python3 cmake; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run scripts/bench-install.sh as root"
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 4096 ] || die "open-file limit $(ulimit -n) is too low for 1024 connections"

if [ -n "${BENCH_TSPOOL_BIN:-}" ]; then
    say "building the load-check tool in build-bench; tspool is $BENCH_TSPOOL_BIN"
else
    say "building tspool (Release) in build-bench"
fi
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTSPOOL_BUILD_TESTS=OFF -DCMAKE_C_COMPILER_LAUNCHER= >"$work/cmake.log" 2>&1 ||
    die "cmake configure failed: $(tail -n 5 "$work/cmake.log")"
tspool_bin="$build/tspool"
if [ -n "${BENCH_TSPOOL_BIN:-}" ]; then
    tspool_bin="$BENCH_TSPOOL_BIN"
    note note "tspool binary given by BENCH_TSPOOL_BIN, not built from this tree"
elif ! cmake --build "$build" -j 2 --target tspool >>"$work/cmake.log" 2>&1; then
    # -O2 enables warnings (e.g. -Wformat-truncation) that the Debug build of `make test` never
    # sees; they are bugs to fix, but they must not hide the performance figures
    first_error="$(grep -m 1 'error:' "$work/cmake.log" | sed "s|$repo/||")"
    note note "the Release build fails with -Werror: $first_error; benchmarked with -Wno-error"
    cmake -S "$repo" -B "$build" -DCMAKE_C_COMPILER_LAUNCHER="$repo/scripts/bench-cc-nowerror.sh" >>"$work/cmake.log" 2>&1
    if ! cmake --build "$build" -j 2 --target tspool >>"$work/cmake.log" 2>&1; then
        note skip "tspool: the Release build failed: $(grep -m 1 'error:' "$work/cmake.log" | sed "s|$repo/||")"
        tspool_bin=""
    fi
fi
# the load-check tool: through bench/CMakeLists.txt when it includes bench/http, else standalone
if cmake --build "$build" -j 2 --target conncheck >>"$work/cmake.log" 2>&1; then
    conncheck="$build/bench/http/conncheck"
else
    if ! cmake -S "$repo/bench/http" -B "$build/conncheck-standalone" -DCMAKE_BUILD_TYPE=Release >>"$work/cmake.log" 2>&1 ||
        ! cmake --build "$build/conncheck-standalone" >>"$work/cmake.log" 2>&1; then
        die "building bench/http/conncheck failed: $(tail -n 5 "$work/cmake.log")"
    fi
    conncheck="$build/conncheck-standalone/conncheck"
fi

# ---------------------------------------------------------------- a quiet machine?
# other work on the machine skews one side of a comparison; wait a little for it to settle
quiet_wait="${BENCH_QUIET_WAIT:-60}"
load_start="$(cut -d' ' -f1 /proc/loadavg)"
for _ in $(seq 1 $((quiet_wait / 5))); do
    awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$(nproc)" 'BEGIN {exit !(l > n * 0.5)}' || break
    say "load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) CPUs: waiting for a quieter machine (BENCH_QUIET_WAIT=${quiet_wait}s)"
    sleep 5
done
load_start="$load_start -> $(cut -d' ' -f1 /proc/loadavg)"

# ---------------------------------------------------------------- PostgreSQL
say "starting PostgreSQL 15 (scripts/devdb.sh, TSPOOL_DEVDB_DIR in the temporary directory)"
"$devdb" start
pg_port="$("$devdb" port)"
pg_password="$(cat "$TSPOOL_DEVDB_DIR/password")"
cmd_log "TSPOOL_DEVDB_DIR=<tmp>/pg scripts/devdb.sh start   # PostgreSQL 15 on 127.0.0.1:$pg_port"

# client backends connected over TCP (tspool, PgBouncer); psql itself uses the Unix socket
pg_tcp_backends() {
    "$devdb" psql -A -t -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND client_addr IS NOT NULL" ||
        echo "?"
}

# tspool_counter: the sum of tspool_http_requests_total over all labels ("" if absent).
tspool_counter() {
    { curl -s --max-time 5 "$tspool_url/metrics" || true; } |
        awk '/^tspool_http_requests_total[{ ]/ {s += $NF; n++} END {if (n) printf "%.0f\n", s}'
}

# tspool_wrk ID PATH CONNS MODE: a wrk run against tspool, checked against tspool's own count.
tspool_wrk() {
    local id="$1" path="$2" conns="$3" mode="$4" before after
    before="$(tspool_counter)"
    wrk_run "$id" "$tspool_url$path" "$conns" "$mode" server_before="$before" || return 0
    after="$(tspool_counter)"
    if [ -n "$before" ] && [ -n "$after" ]; then
        # the two scrapes count too; requests in flight when wrk stops are served but not counted
        # by wrk, so the server may count up to CONNS more
        # the run is the last line; earlier repetitions of the same id keep their own count
        {
            head -n -1 "$work/results.jsonl"
            tail -n 1 "$work/results.jsonl" | jq -c --argjson b "$before" --argjson a "$after" \
                '. + {server_delta: ($a - $b - 1)}'
        } >"$work/results.tmp" && mv "$work/results.tmp" "$work/results.jsonl"
    fi
}

docroot="$work/www"
mkdir -p "$docroot/pool"

# ---------------------------------------------------------------- tspool and nginx
have_tspool=0
if [ -n "$tspool_bin" ]; then
    # 7. start-up: exec to /readyz 200 with a warm pool of 20, three times
    starts=()
    at_ready=()
    for i in 1 2 3; do
        start_tspool "tspool-start$i" 20 20 || break
        starts+=("$tspool_start_ms")
        at_ready+=("$(pg_tcp_backends)") # is the warm pool open when readiness says so?
        [ "$i" = 3 ] || stop_tspool
    done
    if [ ${#starts[@]} = 3 ]; then
        have_tspool=1
    fi
fi

if [ "$have_tspool" = 1 ]; then
    tspool_version="$("$tspool_bin" version 2>/dev/null | head -n 1 || true)"
    sleep 2
    backends="$(pg_tcp_backends)"
    record "startup/tspool" "$(jq -cn --argjson a "${starts[0]}" --argjson b "${starts[1]}" --argjson c "${starts[2]}" \
        '{runs_ms: [$a, $b, $c], median_ms: ([$a, $b, $c] | sort | .[1])}')" backends_after="$backends" \
        backends_at_ready="${at_ready[*]}"
    # 6. memory, idle with the warm pool open
    record_mem "mem/tspool/idle" "$tspool_pid" backends="$backends"
    curl -s -H "Authorization: Bearer $tspool_admin_token" "$tspool_url/config" >"$work/tspool-config.json" || true
    # nginx serves byte-for-byte copies of tspool's own bodies, at the same paths
    curl -sf "$tspool_url/livez" >"$docroot/livez" || note note "tspool /livez body not captured"
    curl -sf "$tspool_url/pool/status" >"$docroot/pool/status" || note note "tspool /pool/status body not captured"
    curl -sf "$tspool_url/metrics" >"$docroot/metrics" || note note "tspool /metrics body not captured"
    body_source="tspool"
else
    cp "$repo/bench/fixtures/livez" "$docroot/livez"
    cp "$repo/bench/fixtures/pool_status.json" "$docroot/pool/status"
    cp "$repo/bench/fixtures/metrics.txt" "$docroot/metrics"
    body_source="fixtures"
fi
jq -cn --arg s "$body_source" --argjson l "$(wc -c <"$docroot/livez")" --argjson p "$(wc -c <"$docroot/pool/status")" \
    --argjson m "$(wc -c <"$docroot/metrics")" '{source:$s, livez:$l, pool_status:$p, metrics:$m}' >"$work/bodies.json"

have_nginx=0
if start_nginx "$docroot"; then
    have_nginx=1
fi

# warm-up (not recorded): first requests fault in pages and open connections
if [ "$have_tspool" = 1 ]; then
    wrk -t2 -c64 -d1s "$tspool_url/pool/status" >/dev/null 2>&1 || true
fi
if [ "$have_nginx" = 1 ]; then
    wrk -t2 -c64 -d1s "$nginx_url/pool/status" >/dev/null 2>&1 || true
fi

# 1. the three cheap endpoints, tspool and nginx back to back, $reps times alternating (the
# report keeps each side's best run: on a shared machine noise only ever slows a run down)
for ep in livez pool/status metrics; do
    key="${ep//\//_}"
    for variant in "16 ka ka16" "64 ka ka64" "64 close close64"; do
        read -r conns mode tag <<<"$variant"
        for _ in $(seq 1 "$reps"); do
            if [ "$have_tspool" = 1 ]; then
                tspool_wrk "g1/tspool/$key/$tag" "/$ep" "$conns" "$mode"
            fi
            if [ "$have_nginx" = 1 ]; then
                wrk_run "g1/nginx/$key/$tag" "$nginx_url/$ep" "$conns" "$mode" || true
            fi
        done
    done
done

# 2. (tspool side) readiness with Connection: close, the kubelet pattern
if [ "$have_tspool" = 1 ]; then
    tspool_wrk "g2/tspool/readyz/close64" "/readyz" 64 close
    conncheck_run "g2c/tspool/readyz/close64" "$tspool_url/readyz" 64 close || true
    conncheck_run "g2c/tspool/livez/close64" "$tspool_url/livez" 64 close || true
fi

# 5. scale curves; /pool/ping at c64 is also comparison 4 (pool 20, no overflow)
for conns in 1 8 64 256 1024; do
    if [ "$have_tspool" = 1 ]; then
        tspool_wrk "scale/tspool/pool_status/c$conns" "/pool/status" "$conns" ka
        tspool_wrk "scale/tspool/pool_ping/c$conns" "/pool/ping" "$conns" ka
    fi
    if [ "$have_nginx" = 1 ]; then
        wrk_run "scale/nginx/pool_status/c$conns" "$nginx_url/pool/status" "$conns" ka || true
    fi
done

# every one of 1024 keep-alive connections answered?
if [ "$have_tspool" = 1 ]; then
    for ep in livez pool/status pool/ping; do
        conncheck_run "c1024/tspool/${ep//\//_}" "$tspool_url/$ep" 1024 ka || true
    done
fi
if [ "$have_nginx" = 1 ]; then
    conncheck_run "c1024/nginx/pool_status" "$nginx_url/pool/status" 1024 ka || true
    nginx_rss=0
    for p in $(pgrep -P "$nginx_pid" || true) "$nginx_pid"; do
        kb="$(rss_kb "$p" VmRSS)"
        [ "$kb" = null ] || nginx_rss=$((nginx_rss + kb))
    done
    record "mem/nginx/after" "$(jq -cn --argjson r "$nginx_rss" '{rss_kb: $r}')"
    stop_pid "$nginx_pid"
fi

# ---------------------------------------------------------------- 4. /pool/ping vs pgbench
# pgbench direct while tspool holds its 20 connections (20 + 64 stay under max_connections
# 100), then PgBouncer (pool 20) and tspool (pool 20) alternating, $reps times
pgbench_run "g4/pgbench/direct/c64" "$pg_port" 64 || true
have_pgbouncer=0
if start_pgbouncer 20; then
    have_pgbouncer=1
    PGPASSWORD="$pg_password" psql -h 127.0.0.1 -p "$pgbouncer_port" -U postgres -X -q -c 'SELECT 1' postgres >/dev/null
    record_mem "mem/pgbouncer/idle" "$pgbouncer_pid" backends="$(pgbouncer_server_conns)"
fi
# the same comparison with pgbench sending tspool's own ping statement (the one reporting
# pg_is_in_recovery(), from pg_stat_activity; the scale runs above pinged) through PgBouncer with the extended
# protocol, as libpq's PQexecParams does: separates the statement's cost from HTTP and the pool
have_pingsql=0
if [ "$have_tspool" = 1 ] && [ "$have_pgbouncer" = 1 ]; then
    "$devdb" psql -A -t -c "SELECT query FROM pg_stat_activity WHERE application_name = 'tspool' AND query ILIKE 'select%' ORDER BY query ILIKE '%pg_is_in_recovery%' DESC, query_start DESC LIMIT 1" \
        >"$work/ping.sql" 2>/dev/null || true
    if [ -s "$work/ping.sql" ]; then
        printf '%s;\n' "$(tr '\n' ' ' <"$work/ping.sql" | sed 's/;* *$//')" >"$work/ping.sql"
        cp "$work/ping.sql" "$work/pingsql.used"
        have_pingsql=1
    else
        note note "tspool's ping statement not found in pg_stat_activity; pgbench ran SELECT 1 only"
    fi
fi
for _ in $(seq 1 "$reps"); do
    if [ "$have_tspool" = 1 ]; then
        tspool_wrk "g4/tspool/pool_ping/c64" "/pool/ping" 64 ka
    fi
    if [ "$have_pgbouncer" = 1 ]; then
        pgbench_run "g4/pgbench/pgbouncer/c64" "$pgbouncer_port" 64 || true
    fi
    if [ "$have_pingsql" = 1 ]; then
        pgbench_run "g4x/pgbench/pgbouncer-pingsql/c64" "$pgbouncer_port" 64 "$work/ping.sql" extended || true
    fi
done
if [ "$have_pgbouncer" = 1 ]; then
    # PgBouncer opens its 20 server connections under load and keeps them (server_idle_timeout)
    sleep 2
    record_mem "mem/pgbouncer/after" "$pgbouncer_pid" backends="$(pgbouncer_server_conns)"
    record_mem_map "memmap/pgbouncer" "$pgbouncer_pid"
    stop_pid "$pgbouncer_pid"
fi

if [ "$have_tspool" = 1 ]; then
    sleep 2
    record_mem "mem/tspool/after" "$tspool_pid" backends="$(pg_tcp_backends)"
    record_mem_map "memmap/tspool" "$tspool_pid"
    stop_tspool
    # 5. /pool/ping at c64 by pool size
    for size in 1 4 16 64; do
        if start_tspool "tspool-pool$size" "$size" "$size"; then
            wrk -t2 -c64 -d1s "$tspool_url/pool/ping" >/dev/null 2>&1 || true
            tspool_wrk "poolsize/tspool/pool_ping/p$size" "/pool/ping" 64 ka pool="$size"
            stop_tspool
        fi
    done
fi

# ---------------------------------------------------------------- 2. Patroni
if start_patroni; then
    wrk -t2 -c16 -d1s -H 'Connection: close' "$patroni_url/liveness" >/dev/null 2>&1 || true
    wrk_run "g2/patroni/readiness/close64" "$patroni_url/readiness" 64 close || true
    wrk_run "g2/patroni/liveness/close64" "$patroni_url/liveness" 64 close || true
    # Patroni ends bodies by closing (HTTP/1.0, no Content-Length), which wrk also counts as a
    # read error per response; conncheck counts the same runs by status code
    conncheck_run "g2c/patroni/readiness/close64" "$patroni_url/readiness" 64 close || true
    conncheck_run "g2c/patroni/liveness/close64" "$patroni_url/liveness" 64 close || true
    record_mem "mem/patroni" "$patroni_pid"
fi
stop_patroni 2>/dev/null || true

# ---------------------------------------------------------------- 3. postgres_exporter
if start_exporter; then
    wrk_run "g3/exporter/metrics/ka16" "$exporter_url/metrics" 16 ka || true
    record_mem "mem/exporter" "$exporter_pid"
    stop_pid "$exporter_pid"
fi

# ---------------------------------------------------------------- 8. pool micro-benchmark
: >"$work/pool_bench.txt"
if make -C "$repo" -n bench-pool >/dev/null 2>&1; then
    cmd_log "make bench-pool"
    if timeout 300 make -C "$repo" -s --no-print-directory bench-pool >"$work/pool_bench.out" 2>&1; then
        # the benchmark's own output, without the build's progress lines
        if grep -q '^pool_bench' "$work/pool_bench.out"; then
            sed -n '/^pool_bench/,$p' "$work/pool_bench.out" >"$work/pool_bench.txt"
        else
            cp "$work/pool_bench.out" "$work/pool_bench.txt"
        fi
    else
        note skip "pool micro-benchmark: make bench-pool failed: $(tail -n 2 "$work/pool_bench.out" | tr '\n' ' ')"
    fi
elif cmake --build "$build" -j 2 --target pool_bench >>"$work/cmake.log" 2>&1; then
    cmd_log "build-bench/bench/pool_bench"
    timeout 300 "$build/bench/pool_bench" >"$work/pool_bench.txt" 2>&1 ||
        note skip "pool micro-benchmark: pool_bench failed: $(tail -n 2 "$work/pool_bench.txt" | tr '\n' ' ')"
else
    note skip "pool micro-benchmark: no bench-pool make target and no pool_bench CMake target yet"
fi

# ---------------------------------------------------------------- report
bench_stop_all
"$devdb" stop
cat >"$work/meta.json" <<EOF
$(jq -n \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg commit "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --arg dirty "$(git -C "$repo" status --porcelain 2>/dev/null | grep -vc '^??' || true)" \
    --arg cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
    --arg ncpu "$(nproc)" \
    --arg mem "$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)" \
    --arg kernel "$(uname -sr)" \
    --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --arg load_start "$load_start" \
    --arg duration "$duration" --arg threads "$wrk_threads" --arg reps "$reps" \
    --arg elapsed "$(($(date +%s) - bench_t0))" \
    --arg tspool "${tspool_version:-not run}" \
    --arg wrk "$(dpkg-query -W -f='${Version}' wrk 2>/dev/null)" \
    --arg nginx "$(nginx -v 2>&1 | sed 's/.*nginx\///')" \
    --arg pgbouncer "$(pgbouncer --version 2>/dev/null | head -n 1 | awk '{print $2}')" \
    --arg postgres "$(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}')" \
    --arg pgbench "$(pgbench --version | awk '{print $3}')" \
    --arg patroni "$(patroni --version 2>/dev/null | awk '{print $2}')" \
    --arg etcd "$(etcd --version 2>/dev/null | awk '/etcd Version/ {print $3}')" \
    --arg exporter "$(prometheus-postgres-exporter --version 2>&1 | awk '/version/ {print $3; exit}')" \
    --arg civetweb "$(dpkg-query -W -f='${Version}' libcivetweb-dev 2>/dev/null)" \
    --arg gnuplot "$(gnuplot --version | awk '{print $2}')" \
    '{date:$date, commit:$commit, dirty:$dirty, cpu:$cpu, ncpu:$ncpu, mem:$mem, kernel:$kernel,
      load:$load, load_start:$load_start, duration_s:$duration, wrk_threads:$threads, reps:$reps, elapsed_s:$elapsed,
      versions:{tspool:$tspool, wrk:$wrk, nginx:$nginx, pgbouncer:$pgbouncer, postgres:$postgres,
                pgbench:$pgbench, patroni:$patroni, etcd:$etcd, postgres_exporter:$exporter,
                civetweb:$civetweb, gnuplot:$gnuplot}}')
EOF
mkdir -p "$out_dir"
python3 "$repo/bench/report.py" --work "$work" --out "$out_dir"
say "done in $(($(date +%s) - bench_t0)) s: $out_dir/latest.md"

# the PgBouncer control plane: /metrics over two instances vs prometheus-pgbouncer-exporter
# (its own script and results file, bench/results/pgbouncer.md)
say "PgBouncer: /metrics against prometheus-pgbouncer-exporter"
BENCH_SKIP_INSTALL=1 BENCH_DURATION="$duration" BENCH_OUT="$out_dir" BENCH_TSPOOL_BIN="$tspool_bin" \
    "$repo/scripts/bench-pgbouncer.sh" || note skip "PgBouncer comparison failed (see above)"
