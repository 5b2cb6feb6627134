#!/usr/bin/env bash
# bench-pgbouncer.sh - `make bench-pgbouncer` (also the last step of `make bench`): /metrics of
# tspool over two PgBouncer instances against prometheus-pgbouncer-exporter scraping one, same
# run, same wrk settings; writes bench/results/pgbouncer.md (target: >= 20x its scrapes/s).
# SPDX-License-Identifier: MIT
#
#   BENCH_DURATION=5  seconds per wrk run     BENCH_REPS=3  alternating repetitions (best kept)
#   BENCH_CONNS=8     wrk connections         BENCH_SKIP_INSTALL=1  do not install packages
#   BENCH_TSPOOL_BIN=PATH  measure this tspool instead of building build-bench
# Everything runs on 127.0.0.1/127.0.0.2 in a temporary directory and is stopped on exit.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${BENCH_DURATION:-5}"
reps="${BENCH_REPS:-3}"
conns="${BENCH_CONNS:-8}"
wrk_threads=2
out="${BENCH_OUT:-$repo/bench/results}/pgbouncer.md"
build="$repo/build-bench"

# shellcheck source=scripts/bench-lib.sh
. "$repo/scripts/bench-lib.sh"

work="$(mktemp -d -t tspool-bench-pgb.XXXXXX)"
chmod 755 "$work"
export TSPOOL_DEVDB_DIR="$work/pg" TSPOOL_PGBOUNCER_DIR="$work/pgbouncer"
: >"$work/results.jsonl"
: >"$work/notes.jsonl"
: >"$work/commands.txt"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    bench_stop_all
    "$repo/scripts/pgbouncer.sh" stop >/dev/null 2>&1 || true
    "$repo/scripts/devdb.sh" stop >/dev/null 2>&1 || true
    [ "$rc" = 0 ] && rm -rf "$work" || say "logs kept in $work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${BENCH_SKIP_INSTALL:-0}" != 1 ]; then
    "$repo/scripts/install-deps.sh"
    command -v wrk >/dev/null && command -v jq >/dev/null || "$repo/scripts/bench-install.sh"
fi
for tool in wrk jq pgbouncer prometheus-pgbouncer-exporter python3 cmake; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run scripts/install-deps.sh"
done

tspool_bin="${BENCH_TSPOOL_BIN:-$build/tspool}"
if [ -z "${BENCH_TSPOOL_BIN:-}" ]; then
    say "building tspool (Release) in build-bench"
    cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTSPOOL_BUILD_TESTS=OFF >"$work/cmake.log" 2>&1 &&
        cmake --build "$build" -j 2 --target tspool >>"$work/cmake.log" 2>&1 ||
        die "build failed: $(grep -m 1 'error' "$work/cmake.log")"
fi
conncheck=/bin/true # wait_http is not used here

"$repo/scripts/devdb.sh" start
"$repo/scripts/pgbouncer.sh" start
pgb_port="$("$repo/scripts/pgbouncer.sh" port)"
admin_pass="$(cat "$TSPOOL_PGBOUNCER_DIR/admin-password")"
pg_pass="$(cat "$TSPOOL_DEVDB_DIR/password")"

# clients in every pool, so that SHOW POOLS / STATS have rows to report on both sides
PGPASSWORD="$pg_pass" pgbench -q -i -s 1 -h 127.0.0.1 -p "$(cat "$TSPOOL_DEVDB_DIR/port")" -U postgres postgres >/dev/null 2>&1
for n in 1 2; do
    PGPASSWORD="$pg_pass" pgbench -n -S -c 2 -T 2 -h "127.0.0.$n" -p "$pgb_port" -U postgres appdb >/dev/null 2>&1
done

take_port tspool_port
start_bg tspool tspool_pid env -i PATH="$PATH" $("$repo/scripts/devdb.sh" env) \
    PGBOUNCER_HOSTS="127.0.0.1:$pgb_port,127.0.0.2:$pgb_port" PGBOUNCER_PASS="$admin_pass" \
    TSPOOL_LISTEN="127.0.0.1:$tspool_port" TSPOOL_LOG_LEVEL=warn DB_MIN_CONNS=0 "$tspool_bin" serve
take_port exporter_port
# the interpreter the Debian package was installed for (not a python3 from elsewhere on PATH)
exporter_python="$(head -n 1 "$(command -v prometheus-pgbouncer-exporter)" | sed 's/^#! *//; s/ .*//')"
[ -x "$exporter_python" ] || exporter_python=/usr/bin/python3
cmd_log "PGPASSWORD=... $exporter_python bench/pgbouncer/exporter_compat.py --host 127.0.0.1 --port $exporter_port --pgbouncer-host 127.0.0.1 --pgbouncer-port $pgb_port --pgbouncer-user pgbouncer"
start_bg exporter exporter_pid env PGPASSWORD="$admin_pass" "$exporter_python" "$repo/bench/pgbouncer/exporter_compat.py" \
    --host 127.0.0.1 --port "$exporter_port" --pgbouncer-host 127.0.0.1 --pgbouncer-port "$pgb_port" \
    --pgbouncer-user pgbouncer
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$tspool_port/metrics" 2>/dev/null | grep -q '^tspool_pgbouncer_up{instance="127.0.0.2' &&
        curl -fsS "http://127.0.0.1:$exporter_port/metrics" >/dev/null 2>&1 && break
    sleep 0.2
done
t_body="$(curl -fsS "http://127.0.0.1:$tspool_port/metrics")" || die "tspool /metrics does not answer"
e_body="$(curl -fsS "http://127.0.0.1:$exporter_port/metrics")" || die "the exporter does not answer: $(tail -n 3 "$work/exporter.log")"
t_series="$(printf '%s\n' "$t_body" | grep -c '^tspool_pgbouncer_' || true)"
e_series="$(printf '%s\n' "$e_body" | grep -c '^pgbouncer_' || true)"
t_up="$(printf '%s\n' "$t_body" | grep -c '^tspool_pgbouncer_up{.*} 1$' || true)"
[ "$t_up" = 2 ] || die "tspool does not see both PgBouncer instances up"
printf '%s\n' "$t_body" | promtool check metrics >"$work/promtool.txt" 2>&1 && promtool_ok=clean ||
    promtool_ok="findings: $(head -n 3 "$work/promtool.txt" | tr '\n' ' ')"

# the exporter answers HTTP/1.0 and ends each body by closing the connection, so every request
# costs it a connection either way; tspool is measured with keep-alive (as Prometheus scrapes)
# and with Connection: close (the exporter's terms)
for rep in $(seq 1 "$reps"); do
    wrk_run "tspool-$rep" "http://127.0.0.1:$tspool_port/metrics" "$conns" ka side=tspool
    wrk_run "exporter-$rep" "http://127.0.0.1:$exporter_port/metrics" "$conns" ka side=exporter
    wrk_run "tspool-close-$rep" "http://127.0.0.1:$tspool_port/metrics" "$conns" close side=tspool-close
done

best() { jq -s --arg s "$1" '[.[] | select(.side == $s) | .rps] | max' "$work/results.jsonl"; }
p99() { jq -s --arg s "$1" '[.[] | select(.side == $s)] | max_by(.rps) | .p99_us / 1000' "$work/results.jsonl"; }
# failed requests: refused connections, non-2xx answers, timeouts (not the read "errors" wrk
# counts when an HTTP/1.0 server ends a complete body by closing)
errs() { jq -s --arg s "$1" '[.[] | select(.side == $s) | .err_connect + .err_status + .err_timeout] | add' "$work/results.jsonl"; }
t_rps="$(best tspool)"
e_rps="$(best exporter)"
c_rps="$(best tspool-close)"
ratio="$(jq -n --argjson a "$t_rps" --argjson b "$e_rps" 'if $b > 0 then ($a / $b * 10 | floor) / 10 else 0 end')"
ratio_close="$(jq -n --argjson a "$c_rps" --argjson b "$e_rps" 'if $b > 0 then ($a / $b * 10 | floor) / 10 else 0 end')"
verdict="$(jq -n --argjson r "$ratio" 'if $r >= 20 then "PASS" else "MISS" end' -r)"

mkdir -p "$(dirname "$out")"
{
    echo "# /metrics: tspool over two PgBouncer instances vs prometheus-pgbouncer-exporter over one"
    echo
    echo "Written by \`scripts/bench-pgbouncer.sh\` (\`make bench-pgbouncer\`, also run by \`make bench\`)"
    echo "on $(date -u +%Y-%m-%d), $(nproc) CPUs shared with other work, load generator on the same CPUs."
    echo "Absolute numbers are noise on such a machine; the ratio of the two, measured back to back"
    echo "in one run with the same wrk settings, is the result."
    echo
    echo "| | scrapes/s (best of $reps) | p99 at best (ms) | failed requests | series per scrape |"
    echo "|---|---|---|---|---|"
    echo "| tspool \`/metrics\`, 2 PgBouncer instances (cached, refreshed every 2 s), keep-alive | $(printf '%.0f' "$t_rps") | $(p99 tspool) | $(errs tspool) | $t_series \`tspool_pgbouncer_*\` (plus tspool's own) |"
    echo "| the same, \`Connection: close\` | $(printf '%.0f' "$c_rps") | $(p99 tspool-close) | $(errs tspool-close) | |"
    echo "| prometheus-pgbouncer-exporter, 1 instance (4 SHOW queries per scrape; HTTP/1.0, a connection per scrape) | $(printf '%.0f' "$e_rps") | $(p99 exporter) | $(errs exporter) | $e_series \`pgbouncer_*\` |"
    echo
    echo "**Ratio: ${ratio}x** the exporter's scrapes per second, with twice the instances: **$verdict** (target >= 20x)."
    echo "With a new connection per scrape on both sides (the exporter's terms): ${ratio_close}x."
    echo
    echo "Failed requests count refused connections, non-2xx answers and timeouts. wrk also reports"
    echo "a read error for every exporter response, because an HTTP/1.0 server ends each complete"
    echo "body by closing the connection; those are not failures."
    echo
    echo "- tspool's PgBouncer series are \`promtool check metrics\` $promtool_ok."
    echo "- The exporter is Debian's \`prometheus-pgbouncer-exporter\` $(dpkg-query -W -f='${Version}' prometheus-pgbouncer-exporter 2>/dev/null)"
    echo "  run through \`bench/pgbouncer/exporter_compat.py\`: unchanged, it stops at start-up against"
    echo "  PgBouncer $(pgbouncer --version 2>/dev/null | head -n 1 | awk '{print $2}') (KeyError 'total_requests', a column PgBouncer 1.8 renamed)."
    echo "- tspool: $("$tspool_bin" version 2>/dev/null | head -n 1), Release build; wrk $conns connections, 2 threads, ${duration} s, keep-alive."
    echo
    echo "Commands:"
    echo
    echo '```'
    sed "s|$repo/||g" "$work/commands.txt" # paths relative to the repository
    echo '```'
} >"$out"
say "tspool $(printf '%.0f' "$t_rps") scrapes/s, exporter $(printf '%.0f' "$e_rps") scrapes/s: ${ratio}x ($verdict); wrote $out"
