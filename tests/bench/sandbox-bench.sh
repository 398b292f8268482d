#!/usr/bin/env bash
# Benchmark: calls/s that one wdt-sandbox core answers, side by side:
#   healthz              GET /healthz (the HTTP floor: no checks, no data)
#   trades/1             direct trades, 1-row pages (the gateway's own cost per call:
#                        signature, checks, window selection)
#   trades/100           direct trades, 100-row pages (~270 KB each), the same 8 pages
#                        over and over (warm: the data module's caches hit)
#   trades/100 cold      the same over 500 distinct hour windows (rows rarely repeat)
#   trades/100 qimen     warm pages through the Qimen route (TOP and wdt_sign checks)
#   refunds/100          direct refunds, 100-row pages (~120 KB each), warm
# The sandbox runs with --threads 1 pinned to CPU 0 and a frozen clock; the load
# generator (tests/bench/sbx_load.c: libcurl multi, 16 keep-alive connections) is
# pinned to CPU 1. Each run is bounded in time (BENCH_SECONDS, default 5) and calls.
# Per run: calls/s on the wall clock; the time the sandbox's threads were on a CPU and
# the time they were runnable but waiting for one (/proc/PID/task/*/schedstat, which
# counts the loopback TCP work done in their system calls); and calls per on-CPU
# second. On a shared machine other processes take CPU 0 too (the wait column shows
# how much), so calls per on-CPU second is the stable figure: what one core fully
# given to the sandbox answers. Every answer is checked (HTTP 200, status 0; every
# 8th also for its row count); any bad answer fails the script.
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
    if [[ -n "$pid" ]]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/tenants.json" <<'JSON'
[{"sid":"bench-shop","appkey":"bk","appsecret":"bs:bsalt","qimen_app_key":"bench-qimen",
  "qimen_app_secret":"bqs","orders_per_day":20000,"seed":11}]
JSON
clock=$(($(date +%s) / 60 * 60))
"${pin0[@]}" "$sandbox" --listen 127.0.0.1:0 --tenants "$tmp/tenants.json" --clock "frozen:$clock" \
    --threads 1 --port-file "$tmp/port" >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
    [[ -s "$tmp/port" ]] && break
    sleep 0.05
done
[[ -s "$tmp/port" ]] || { cat "$tmp/log" >&2; exit 1; }
base="http://$(cat "$tmp/port")"

# Sum over the sandbox's threads: "on-CPU-ns waiting-ns".
sched_ns() { cat /proc/"$pid"/task/*/schedstat | awk '{ r += $1; w += $2 } END { printf "%.0f %.0f", r, w }'; }
field() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/" <<<"$2"; }

echo "# wdt-sandbox --threads 1 (${pin0[*]:-unpinned}); load: 16 connections (${pin1[*]:-unpinned}); ${seconds}s per run"
echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-18s %9s %8s %8s %12s %9s %8s %8s %7s\n' scenario calls/s on_cpu waiting calls/cpu_s rows/call MB/s p99_ms errors
fail=0
run() {
    local name=$1 out r0 w0 r1 w1 calls secs
    shift
    read -r r0 w0 <<<"$(sched_ns)"
    out=$("${pin1[@]}" "$load" --base "$base" --clock "$clock" --conns 16 --seconds "$seconds" "$@") || fail=1
    read -r r1 w1 <<<"$(sched_ns)"
    calls=$(field calls "$out")
    secs=$(field seconds "$out")
    printf '%-18s %9s %7.0f%% %7.0f%% %12.0f %9s %8s %8s %7s\n' "$name" "$(field calls_per_s "$out")" \
        "$(awk -v c=$((r1 - r0)) -v s="$secs" 'BEGIN { print c / 1e7 / s }')" \
        "$(awk -v c=$((w1 - w0)) -v s="$secs" 'BEGIN { print c / 1e7 / s }')" \
        "$(awk -v n="$calls" -v c=$((r1 - r0)) 'BEGIN { print (c > 0 ? n / (c / 1e9) : 0) }')" \
        "$(field rows_per_call "$out")" "$(field mb_per_s "$out")" "$(field p99_ms "$out")" \
        "$(field errors "$out")"
}
run healthz --mode healthz
run "trades/1" --mode direct --report trades --page-size 1
run "trades/100" --mode direct --report trades --page-size 100
run "trades/100 cold" --mode direct --report trades --page-size 100 --windows 500
run "trades/100 qimen" --mode qimen --report trades --page-size 100
run "refunds/100" --mode direct --report refunds --page-size 100
exit "$fail"
