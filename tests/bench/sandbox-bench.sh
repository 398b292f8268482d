#!/usr/bin/env bash
# Benchmark: calls/s that one wdt-sandbox core answers, side by side:
#   healthz          GET /healthz (the HTTP floor: no checks, no data)
#   trades/1         direct trades, 1-row pages (the per-call cost of the gateway:
#                    signature, checks, window selection)
#   trades/100       direct trades, 100-row pages (~270 KB each, rows with details)
#   trades/100 qimen the same pages through the Qimen route (TOP + wdt_sign checks)
#   refunds/100      direct refunds, 100-row pages (~120 KB each)
#   raw_trades/100   direct raw trades, 100-row pages (~140 KB each)
# The sandbox runs with --threads 1 pinned to CPU 0 and a frozen clock; the load
# generator (tests/bench/sbx_load.c, libcurl multi, 16 keep-alive connections) is
# pinned to CPU 1, so it does not take the sandbox's core. Each run is bounded in time
# (BENCH_SECONDS, default 5) and in calls. Every answer is checked (HTTP 200, status 0,
# the full row count); any bad answer fails the script.
#
#   tests/bench/sandbox-bench.sh            build/ must be built (cmake --build build)
#   BENCH_SECONDS=10 tests/bench/sandbox-bench.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${WDTS_BUILD_DIR:-$root/build}
sandbox=$build/bin/wdt-sandbox
load=$build/tests/bench-sbx_load
seconds=${BENCH_SECONDS:-5}
for f in "$sandbox" "$load"; do
    [[ -x "$f" ]] || { echo "missing $f: build first (cmake --build build)" >&2; exit 1; }
done
pin0=() pin1=()
if command -v taskset >/dev/null && (($(nproc) >= 2)); then
    pin0=(taskset -c 0) pin1=(taskset -c 1)
fi

tmp=$(mktemp -d /tmp/sbx-bench.XXXXXX)
pid=
cleanup() {
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/tenants.json" <<'JSON'
[{"sid":"bench-shop","appkey":"bk","appsecret":"bs:bsalt","qimen_app_key":"bench-qimen",
  "qimen_app_secret":"bqs","orders_per_day":20000,"seed":11}]
JSON
clock=$(( $(date +%s) / 60 * 60 ))
"${pin0[@]}" "$sandbox" --listen 127.0.0.1:0 --tenants "$tmp/tenants.json" --clock "frozen:$clock" \
    --threads 1 --port-file "$tmp/port" >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [[ -s "$tmp/port" ]] && break; sleep 0.05; done
[[ -s "$tmp/port" ]] || { cat "$tmp/log" >&2; exit 1; }
base="http://$(cat "$tmp/port")"

echo "# wdt-sandbox --threads 1 (${pin0[*]:-unpinned}), load: 16 connections (${pin1[*]:-unpinned}), ${seconds}s each"
echo "# $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %10s %12s %10s %9s %9s %7s\n' scenario calls/s rows/s MB/s p50_ms p99_ms errors
fail=0
run() {
    local name=$1
    shift
    local out
    out=$("${pin1[@]}" "$load" --base "$base" --clock "$clock" --conns 16 --seconds "$seconds" "$@") || fail=1
    echo "$out" >>"$tmp/results.jsonl"
    # one JSON object per run; print the columns
    echo "$out" | sed -E 's/.*"calls_per_s":([0-9]+).*"rows_per_s":([0-9]+).*"mb_per_s":([0-9.]+).*"p50_ms":([0-9.]+).*"p99_ms":([0-9.]+).*/\1 \2 \3 \4 \5/' |
        { read -r c r m p50 p99; printf '%-22s %10s %12s %10s %9s %9s %7s\n' "$name" "$c" "$r" "$m" "$p50" "$p99" \
            "$(echo "$out" | sed -E 's/.*"errors":([0-9]+).*/\1/')"; }
}
run healthz --mode healthz
run "trades/1" --mode direct --report trades --page-size 1
run "trades/100" --mode direct --report trades --page-size 100
run "trades/100 qimen" --mode qimen --report trades --page-size 100
run "refunds/100" --mode direct --report refunds --page-size 100
run "raw_trades/100" --mode direct --report raw_trades --page-size 100
exit "$fail"
