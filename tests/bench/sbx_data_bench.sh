#!/usr/bin/env bash
# Runs the data-set benchmark (bench-sbx_data_bench) of a build tree.
#   tests/bench/sbx_data_bench.sh [build-dir]        warm, cold, repeat; trades and stockouts
#   CALLGRIND=1 tests/bench/sbx_data_bench.sh        also instruction counts per call
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
bin=$build/tests/bench-sbx_data_bench
[[ -x $bin ]] || { echo "build first: cmake -S . -B build && cmake --build build" >&2; exit 1; }
for mode in warm cold repeat; do
    for entity in trades stockouts; do
        "$bin" "$mode" "$entity" "${CALLS:-20000}" 100 10000
    done
done
if [[ "${CALLGRIND:-0}" == 1 ]] && command -v valgrind >/dev/null; then
    for mode in warm cold repeat; do
        out=$(mktemp)
        valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$mode" trades 500 100 10000 >/dev/null 2>&1
        ir=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
        echo "callgrind $mode trades: $ir instructions for 500 calls = $((ir / 500)) per 100-row call"
        rm -f "$out"
    done
fi
