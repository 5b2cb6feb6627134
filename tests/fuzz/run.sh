#!/usr/bin/env bash
# run.sh - run every libFuzzer target for a bounded time: run.sh <fuzz build dir> <seconds>
# SPDX-License-Identifier: MIT
#
# The committed seeds (tests/fuzz/corpus/<target>) are read, never written: new inputs go to
# <build dir>/corpus/<target>, crashes to <build dir>/artifacts/. Exit 1 on the first crash.
set -euo pipefail
build=${1:?fuzz build dir}
seconds=${2:-15}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/artifacts"
status=0
for bin in "$build"/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    target=${name#fuzz_}
    mkdir -p "$build/corpus/$target"
    echo "fuzz: $name for ${seconds}s"
    if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$build/artifacts/$name-" \
        "$build/corpus/$target" "$here/corpus/$target" >"$build/$name.log" 2>&1; then
        echo "fuzz: $name FAILED (see $build/$name.log)" >&2
        tail -40 "$build/$name.log" >&2
        status=1
    else
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/$name.log" | tr '\n' ' '
        echo
    fi
done
exit $status
