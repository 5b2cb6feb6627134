#!/usr/bin/env bash
# bench-cc-nowerror.sh - compiler launcher for the benchmark's fallback build: runs the compiler
# with -Wno-error appended, so a warning that only -O2 reveals cannot stop the measurement.
# SPDX-License-Identifier: MIT
# usage (by CMake): -DCMAKE_C_COMPILER_LAUNCHER=scripts/bench-cc-nowerror.sh
set -euo pipefail
exec "$@" -Wno-error
