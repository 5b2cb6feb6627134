#!/usr/bin/env bash
# bench-profile.sh - where does tspool spend its time on one endpoint under load? Runs wrk against
# a tspool built with frame pointers while `perf record` samples it, and writes the top of the
# profile to bench/results/profile-<endpoint>-<mode><conns>.txt. For explaining a missed target.
# SPDX-License-Identifier: MIT
#
# usage: scripts/bench-profile.sh PATH[,PATH...] [CONNS] [ka|close]
#        e.g. scripts/bench-profile.sh /pool/status,/pool/ping 64 ka   (one build, one tspool)
#   BENCH_DURATION=10  seconds of load (and of sampling)
#   BENCH_OUT=bench/results
#   TSPOOL_HTTP_*      passed through to tspool
#   BENCH_TSPOOL_BIN   profile this binary instead of the one built here
# Needs perf (linux-perf) and permission to profile (root, or kernel.perf_event_paranoid <= 1).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
path_list="${1:-}"
conns="${2:-64}"
mode="${3:-ka}"
duration="${BENCH_DURATION:-10}"
wrk_threads=2
out_dir="${BENCH_OUT:-$repo/bench/results}"
build="$repo/build-bench-prof"
tspool_admin_token="bench-admin-token"

case "$path_list" in
/*) ;;
*)
    echo "usage: $0 PATH [CONNS] [ka|close]   (e.g. $0 /livez 64 ka)" >&2
    exit 2
    ;;
esac
case "$mode" in
ka | close) ;;
*)
    echo "bench-profile: mode must be ka or close, not '$mode'" >&2
    exit 2
    ;;
esac
command -v perf >/dev/null 2>&1 || {
    echo "bench-profile: perf not found (apt-get install linux-perf)" >&2
    exit 1
}

# shellcheck source=scripts/bench-lib.sh
. "$repo/scripts/bench-lib.sh"
# shellcheck source=scripts/bench-peers.sh
. "$repo/scripts/bench-peers.sh"

work="$(mktemp -d /tmp/tspool-profile.XXXXXX)"
chmod 755 "$work"
export TSPOOL_DEVDB_DIR="$work/pg"
devdb="$repo/scripts/devdb.sh"
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    bench_stop_all
    "$devdb" stop >/dev/null 2>&1 || true
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
: >"$work/results.jsonl"
: >"$work/notes.jsonl"
: >"$work/commands.txt"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

say "building tspool (Release + frame pointers) in build-bench-prof"
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTSPOOL_BUILD_TESTS=OFF \
    "-DCMAKE_C_FLAGS=-g -fno-omit-frame-pointer" \
    -DCMAKE_C_COMPILER_LAUNCHER="$repo/scripts/bench-cc-nowerror.sh" >"$work/cmake.log" 2>&1 ||
    die "cmake configure failed: $(tail -n 5 "$work/cmake.log")"
if [ -z "${BENCH_TSPOOL_BIN:-}" ]; then
    cmake --build "$build" -j 2 --target tspool >>"$work/cmake.log" 2>&1 ||
        die "build failed: $(grep -m 1 'error:' "$work/cmake.log")"
fi
if ! cmake -S "$repo/bench/http" -B "$build/conncheck-standalone" -DCMAKE_BUILD_TYPE=Release >>"$work/cmake.log" 2>&1 ||
    ! cmake --build "$build/conncheck-standalone" >>"$work/cmake.log" 2>&1; then
    die "building conncheck failed: $(tail -n 5 "$work/cmake.log")"
fi
tspool_bin="${BENCH_TSPOOL_BIN:-$build/tspool}"
conncheck="$build/conncheck-standalone/conncheck"

"$devdb" start
pg_port="$("$devdb" port)"
pg_password="$(cat "$TSPOOL_DEVDB_DIR/password")"
start_tspool tspool 20 20 || die "tspool did not start: $(tail -n 5 "$work/tspool.log")"

# profile_one PATH: sample tspool under wrk on PATH and write the profile file.
profile_one() {
    local path="$1" name out perf_pid
    name="$(printf '%s' "$path" | tr -c 'a-zA-Z0-9\n' '_' | sed 's/^_*//')"
    out="$out_dir/profile-${name:-root}-$mode$conns.txt"
    mkdir -p "$out_dir"
    wrk -t2 -c"$conns" -d1s "$tspool_url$path" >/dev/null 2>&1 || true
    say "sampling tspool for ${duration}s under wrk -c$conns ($mode) on $path"
    perf record -F 999 -g -p "$tspool_pid" -o "$work/perf.data" -- sleep "$((duration + 1))" >"$work/perf.log" 2>&1 &
    perf_pid=$!
    sleep 0.5
    wrk_run "profile$path" "$tspool_url$path" "$conns" "$mode" || true
    wait "$perf_pid" || die "perf record failed: $(tail -n 3 "$work/perf.log")"
    {
        echo "# tspool profile: GET $path, wrk -t2 -c$conns -d${duration}s ($mode), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        if [ -n "${BENCH_TSPOOL_BIN:-}" ]; then
            echo "# binary $BENCH_TSPOOL_BIN (BENCH_TSPOOL_BIN), perf record -F 999 -g"
        else
            echo "# commit $(git -C "$repo" rev-parse --short HEAD), Release + -fno-omit-frame-pointer, perf record -F 999 -g"
        fi
        echo "# wrk: $(jq -r '"\(.rps|floor) req/s, p50 \(.p50_us) us, p99 \(.p99_us) us"' "$work/results.jsonl" 2>/dev/null | tail -n 1)"
        echo "#"
        echo "# self time by symbol (no children):"
        perf report -i "$work/perf.data" --stdio --no-children --sort dso,symbol --percent-limit 1 -g none 2>/dev/null |
            grep -v -e '^$' -e '^#$' -e '^# \(Samples\|Event count\|Total Lost\|To display\|(Tip\)' | head -n 60
        echo "#"
        echo "# inclusive time (self + callees) of user-space functions: children% self% symbol"
        perf report -i "$work/perf.data" --stdio --children --sort symbol --percent-limit 1 -g none 2>/dev/null |
            grep ' \[\.\] ' | grep -v ' \[\.\] 0x0' | head -n 40
        echo "#"
        echo "# by thread:"
        perf report -i "$work/perf.data" --stdio --no-children --sort comm --percent-limit 1 -g none 2>/dev/null |
            grep -v '^#' | grep -v '^$' | head -n 20
    } >"$out"
    say "profile written to $out"
}

IFS=, read -r -a paths <<<"$path_list"
for p in "${paths[@]}"; do
    profile_one "$p"
done
