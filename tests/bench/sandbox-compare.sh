#!/usr/bin/env bash
# Two builds of wdt-sandbox side by side in one run, with the same scripts:
#   1. tests/bench/sandbox-bench.sh against each build (calls per on-CPU second);
#   2. instructions per 100-row trade page in the data module (valgrind callgrind on
#      tests/bench/sbx_data_bench.c as each build compiled it):
#        paged   windows paged once each at one clock second, 20,000 orders a day
#                (what the sandbox does for `trades/100 cold`: a selection per window,
#                its pages rendered without the row cache)
#        cold    the clock moves a second on every call, 10,000 orders a day
#
#   tests/bench/sandbox-compare.sh BEFORE_BUILD_DIR [AFTER_BUILD_DIR]   (default build/)
#   BENCH_SECONDS=4 tests/bench/sandbox-compare.sh /tmp/main-build
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[[ $# -ge 1 ]] || { echo "usage: $0 BEFORE_BUILD_DIR [AFTER_BUILD_DIR]" >&2; exit 64; }
before=$(cd "$1" && pwd)
after=$(cd "${2:-$root/build}" && pwd)
for b in "$before" "$after"; do
    for f in bin/wdt-sandbox tests/bench-sbx_load tests/bench-sbx_data_bench; do
        [[ -e "$b/$f" ]] || { echo "missing $b/$f: build it first" >&2; exit 1; }
    done
done
tmp=$(mktemp -d /tmp/sbx-compare.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

for side in before after; do
    b=${!side}
    echo "## $side: $b"
    WDTS_BUILD_DIR=$b "$root/tests/bench/sandbox-bench.sh"
done

command -v valgrind >/dev/null || { echo "valgrind missing: no instruction counts" >&2; exit 0; }
echo "## instructions per 100-row trade page (data module: selection + rendering)"
printf '%-8s %14s %14s\n' mode before after
declare -A ir
for side in before after; do
    b=${!side}
    cp "$b/tests/bench-sbx_data_bench" "$tmp/bench-$side"
    for mode in paged cold; do
        if [[ $mode == paged ]]; then args=(warm trades 400 100 20000); else args=(cold trades 400 100 10000); fi
        valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "$tmp/bench-$side" "${args[@]}" >/dev/null 2>&1
        total=$(callgrind_annotate "$tmp/cg" | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
        ir[$side-$mode]=$((total / 400))
    done
done
for mode in paged cold; do
    printf '%-8s %14s %14s\n' "$mode" "${ir[before-$mode]}" "${ir[after-$mode]}"
done
