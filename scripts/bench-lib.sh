#!/usr/bin/env bash
# bench-lib.sh - helpers for scripts/bench.sh: ports, background processes, RSS, wrk and pgbench
# runs recorded as JSON lines. Sourced, not run.
# SPDX-License-Identifier: MIT
#
# Expects from the caller: $work (temporary directory), $repo, $duration, $wrk_threads,
# $conncheck (load-check binary). Every process started here is stopped by bench_stop_all.
# shellcheck disable=SC2154 # those variables are set by the caller

bench_pids=()      # processes to stop at the end, in start order
bench_pid_names=() # their names, for messages
bench_ports=()     # ports handed out in this run (so two peers never get the same one)

say() {
    printf '%s bench: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2
}

die() {
    say "error: $*"
    exit 1
}

# note KIND TEXT: a line for the results file ("skip", "note", "check").
note() {
    jq -cn --arg kind "$1" --arg text "$2" '{kind:$kind, text:$text}' >>"$work/notes.jsonl"
    say "$1: $2"
}

# cmd_log TEXT: an exact command as run, for the results file.
cmd_log() {
    printf '%s\n' "$*" >>"$work/commands.txt"
}

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port: prints a free loopback port not handed out before in this run. Ports come from
# below the kernel's ephemeral range: thousands of load-test client sockets live in that range,
# and a port that nothing listens on may still be bound by one of them.
free_port() {
    local p i used lo hi inuse
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
    hi=$((lo - 1))
    lo=$((hi > 21000 ? 20000 : 10000))
    inuse=" $(ss -Htan 2>/dev/null | awk '{n = split($4, a, ":"); printf "%s ", a[n]}') "
    for i in $(seq 1 300); do
        p=$((lo + RANDOM % (hi - lo)))
        used=0
        for u in "${bench_ports[@]}"; do
            [ "$u" = "$p" ] && used=1
        done
        [[ "$inuse" == *" $p "* ]] && used=1
        if [ "$used" = 0 ] && [ "$p" != 5432 ] && port_is_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    die "no free loopback port found"
}

# take_port VAR: sets VAR to a fresh free port and remembers it.
take_port() {
    local p
    p="$(free_port)"
    bench_ports+=("$p")
    printf -v "$1" '%s' "$p"
}

# as_service_user CMD...: PostgreSQL, PgBouncer and Patroni refuse to run as root; under root
# they run as the `postgres` user (from the postgresql-15 package). setpriv execs in place, so
# the PID we record is the program's own (needed for /proc/PID/status).
as_service_user() {
    if [ "$(id -u)" = 0 ]; then
        exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    fi
    exec "$@"
}

# start_bg NAME VAR CMD...: start CMD in the background (output to $work/NAME.log), record its
# PID for cleanup and store it in VAR.
start_bg() {
    local name="$1" var="$2"
    shift 2
    "$@" >"$work/$name.log" 2>&1 &
    local pid=$!
    bench_pids+=("$pid")
    bench_pid_names+=("$name")
    printf -v "$var" '%s' "$pid"
}

# stop_pid PID [SECONDS]: TERM, wait, then KILL. Only ever our own children.
stop_pid() {
    local pid="$1" grace="${2:-10}" i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 $((grace * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "process $pid did not stop in ${grace}s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

bench_stop_all() {
    local i
    for ((i = ${#bench_pids[@]} - 1; i >= 0; i--)); do
        stop_pid "${bench_pids[$i]}" 15
    done
    bench_pids=()
    bench_pid_names=()
}

# wait_http URL SECONDS: wait until URL answers 200.
wait_http() {
    "$conncheck" --wait -T "$2" "$1" >/dev/null
}

# wait_port PORT SECONDS: wait until something listens on 127.0.0.1:PORT.
wait_port() {
    local i
    for i in $(seq 1 $(($2 * 20))); do
        port_is_free "$1" || return 0
        sleep 0.05
    done
    return 1
}

# rss_kb PID FIELD: VmRSS or VmHWM of a process, in kB ("null" if it is gone).
rss_kb() {
    local v
    v="$(awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || true)"
    echo "${v:-null}"
}

# record_mem ID PID [KEY=VALUE...]: RSS and peak RSS of PID as a result line, with the split
# of RSS into anonymous memory (heap, stacks: the process's own) and file pages (mostly shared
# library code, which other processes map too), and the thread count.
record_mem() {
    local id="$1" pid="$2"
    shift 2
    record "$id" "$(jq -cn --argjson r "$(rss_kb "$pid" VmRSS)" --argjson h "$(rss_kb "$pid" VmHWM)" \
        --argjson a "$(rss_kb "$pid" RssAnon)" --argjson f "$(rss_kb "$pid" RssFile)" \
        --argjson t "$(rss_kb "$pid" Threads)" \
        '{rss_kb: $r, hwm_kb: $h, anon_kb: $a, file_kb: $f, threads: $t}')" "$@"
}

# record_mem_map ID PID: RSS by mapping (library, [heap], [anon] ...) from /proc/PID/smaps, the
# 12 largest, to show where a process's resident memory is.
record_mem_map() {
    local id="$1" pid="$2" json
    json="$(awk '
        /^[0-9a-f]+-[0-9a-f]+ / {name = (NF >= 6) ? $6 : "[anon]"; sub(/.*\//, "", name); next}
        /^Rss:/ {rss[name] += $2}
        END {for (n in rss) if (rss[n] > 0) printf "%s %d\n", n, rss[n]}' "/proc/$pid/smaps" 2>/dev/null |
        sort -k2,2nr | head -n 12 | jq -Rn '[inputs | split(" ") | {name: .[0], rss_kb: (.[1] | tonumber)}] | {maps: .}')" || return 0
    [ -n "$json" ] && record "$id" "$json"
}

# record ID JSON [KEY=VALUE...]: append one result line: JSON plus id and string fields.
record() {
    local id="$1" json="$2"
    shift 2
    # shellcheck disable=SC2016 # $id is a jq variable
    local args=(--arg id "$id") expr='. + {id:$id}' kv k
    for kv in "$@"; do
        k="${kv%%=*}"
        args+=(--arg "$k" "${kv#*=}")
        expr+=" + {\"$k\": \$$k}"
    done
    printf '%s\n' "$json" | jq -c "${args[@]}" "$expr" >>"$work/results.jsonl"
}

# wrk_run ID URL CONNS MODE [EXTRA_KEY=VALUE...]: one wrk run (MODE ka|close), recorded.
wrk_run() {
    local id="$1" url="$2" conns="$3" mode="$4"
    shift 4
    local threads="$wrk_threads" out line
    [ "$conns" -lt "$threads" ] && threads="$conns"
    local cmd=(wrk -t"$threads" -c"$conns" -d"${duration}s" --timeout 10s -s "$repo/bench/wrk/report.lua" "$url")
    local close=0
    [ "$mode" = close ] && close=1
    cmd_log "BENCH_CLOSE=$close ${cmd[*]}"
    out="$(BENCH_CLOSE=$close "${cmd[@]}" 2>&1)" || {
        note skip "$id: wrk failed: $(printf '%s' "$out" | tail -n 2 | tr '\n' ' ')"
        return 1
    }
    line="$(printf '%s\n' "$out" | grep '^{"requests"' | tail -n 1)"
    [ -n "$line" ] || {
        note skip "$id: no result line from wrk: $(printf '%s' "$out" | tail -n 2 | tr '\n' ' ')"
        return 1
    }
    record "$id" "$line" tool=wrk url="$url" conns="$conns" mode="$mode" "$@"
    say "$id: $(printf '%s' "$line" | jq -r '"\(.rps|floor) req/s  p50 \(.p50_us/1000) ms  p99 \(.p99_us/1000) ms  errors \(.err_connect+.err_read+.err_write+.err_status+.err_timeout)"')"
}

# conncheck_run ID URL CONNS MODE: the per-connection count (every connection answered?).
conncheck_run() {
    local id="$1" url="$2" conns="$3" mode="$4" line
    local cmd=("$conncheck" -c "$conns" -d "$duration" -T 10)
    [ "$mode" = close ] && cmd+=(--close)
    cmd+=("$url")
    cmd_log "${cmd[*]}"
    line="$("${cmd[@]}")" || {
        note skip "$id: conncheck failed"
        return 1
    }
    record "$id" "$line" tool=conncheck url="$url" conns="$conns" mode="$mode"
    say "$id: $(printf '%s' "$line" | jq -r '"\(.responses) responses, \(.starved) of \(.connections) connections got no answer during the run, errors \(.errors), non-2xx \(.status_other)"')"
}

# pgbench_run ID PORT CONNS [SCRIPT [simple|extended]]: pgbench (default SELECT 1, simple
# protocol) for $duration seconds; tps, mean and sampled p50/p99.
pgbench_run() {
    local id="$1" port="$2" conns="$3" script="${4:-$work/select1.sql}" proto="${5:-simple}" out tps lat p50 p99
    local logdir="$work/pgbench-${id//\//_}"
    mkdir -p "$logdir"
    printf 'SELECT 1;\n' >"$work/select1.sql"
    local cmd=(pgbench -h 127.0.0.1 -p "$port" -U postgres -n -c "$conns" -j "$wrk_threads" -M "$proto"
        -T "$duration" -f "$script" -l --sampling-rate=0.1 --log-prefix="$logdir/log" postgres)
    cmd_log "PGPASSWORD=... ${cmd[*]}"
    out="$(PGPASSWORD="$pg_password" "${cmd[@]}" 2>&1)" || {
        note skip "$id: pgbench failed: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
        return 1
    }
    tps="$(printf '%s\n' "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p')"
    lat="$(printf '%s\n' "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')"
    # per-transaction log lines: client xact latency_us script epoch_s epoch_us
    read -r p50 p99 < <(cat "$logdir"/log* | awk '{print $3}' | sort -n |
        awk '{v[NR]=$1} END {if (NR == 0) {print 0, 0} else {print v[int(NR*0.5)+1], v[int(NR*0.99)+1]}}')
    rm -rf "$logdir"
    [ -n "$tps" ] || {
        note skip "$id: no tps in pgbench output"
        return 1
    }
    record "$id" "$(jq -cn --argjson tps "$tps" --argjson lat "${lat:-0}" --argjson p50 "$p50" --argjson p99 "$p99" \
        '{rps:$tps, mean_us:($lat*1000), p50_us:$p50, p99_us:$p99}')" tool=pgbench port="$port" conns="$conns"
    say "$id: $tps TPS, mean $lat ms, p99 (10% sample) $((p99 / 1000)) ms"
}
