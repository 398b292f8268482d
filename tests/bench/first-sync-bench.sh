#!/usr/bin/env bash
# Benchmark: the first-sync estimate (`wdtctl plan --probe`) against a measured first sync
# at a binding rate limit. One sandbox seller allows RATE calls per sliding minute (the
# gateway refuses more) and its connection is added with the same rate (--rate RATE/60,
# burst 1); a few reports with a backfill sized so that the sync takes a few minutes.
#   1. wdtctl connection add (prints the estimate without the probe), then
#      wdtctl plan --probe PROBE --json: the estimate (calls and seconds);
#   2. wdt-scheduler and WORKERS wdt-workers run until every report is ok; wall time from
#      the scheduler's start to the last report leaving `backfilling` (polled each second);
#   3. calls made: the sandbox's wdt_sandbox_calls_total for the seller (accepted calls),
#      minus those of the add and the probe; quota used = calls / (RATE/60 x wall);
#   4. at about a third of the run, `wdtctl status --json`'s backfill ETA against the
#      time the run then still took.
# Targets: wall time within 10 % of the estimate, quota used >= 0.95, no rate-limit answer.
# It starts its own Redis, local Kafka and wdt-sandbox (tests/lib/stack.sh) and removes
# them after. Not part of tests/run.sh.
#
#   tests/bench/first-sync-bench.sh         build/ must be built (cmake --build build)
#   RATE=120 BACKFILL=2d REPORTS=trades,stockouts,refunds,stock_changes PROBE=8 \
#       ORDERS=3000 WORKERS=1 tests/bench/first-sync-bench.sh
set -euo pipefail
WDTS_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export WDTS_ROOT
RATE=${RATE:-120}
BACKFILL=${BACKFILL:-2d}
REPORTS=${REPORTS:-trades,stockouts,refunds,stock_changes}
PROBE=${PROBE:-8}
ORDERS=${ORDERS:-3000}
WORKERS=${WORKERS:-1}
CONCURRENCY=${CONCURRENCY:-2}
# shellcheck source=tests/lib/stack.sh
source "$WDTS_ROOT/tests/lib/stack.sh"
st_begin first-sync

tenants='[{"sid":"fs-shop","appkey":"fs-app","appsecret":"fs-secret:fs-salt",
  "rate_per_min":'$RATE',"concurrency":'$CONCURRENCY',"orders_per_day":'$ORDERS',"seed":31}]'
st_services "$tenants" speed:1 ""

# calls the sandbox accepted for the seller so far (status 0 answers of every method)
sbx_calls() {
    curl -sf "$ST_SBX/metrics" | python3 -c '
import re, sys
n = 0
for line in sys.stdin:
    m = re.match(r"wdt_sandbox_calls_total\{([^}]*)\} (\S+)", line)
    if m and "sid=\"fs-shop\"" in m.group(1):
        n += float(m.group(2))
print(int(n))'
}
# rate-limit answers the sandbox gave the seller
sbx_limited() {
    curl -sf "$ST_SBX/metrics" | python3 -c '
import re, sys
n = 0
for line in sys.stdin:
    m = re.match(r"wdt_sandbox_limit_answers_total\{([^}]*)\} (\S+)", line)
    if m and "sid=\"fs-shop\"" in m.group(1) and "limit=\"rate\"" in m.group(1):
        n += float(m.group(2))
print(int(n))'
}

rate_s=$(python3 -c "print($RATE / 60)")
printf '%s\n' fs-secret:fs-salt | "$ST_BIN/wdtctl" connection add --tenant fs --id fs-wdt \
    --app wdt --sid fs-shop --appkey fs-app --appsecret-file - --gateway "$ST_SBX/openapi" \
    --reports "$REPORTS" --backfill "$BACKFILL" --rate "$rate_s" --burst 1 \
    --concurrency "$CONCURRENCY" >"$ST_DIR/logs/add.log" 2>&1 || {
    cat "$ST_DIR/logs/add.log"
    st_fail "wdtctl connection add"
}
cat "$ST_DIR/logs/add.log"
"$ST_BIN/wdtctl" plan --connection fs-wdt --probe "$PROBE" >"$ST_DIR/plan.txt" ||
    st_fail "wdtctl plan --probe"
cat "$ST_DIR/plan.txt"
"$ST_BIN/wdtctl" plan --connection fs-wdt --probe "$PROBE" --json >"$ST_DIR/plan.json" ||
    st_fail "wdtctl plan --probe --json"
read -r est_calls est_s least_calls < <(python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
print(p["calls"], p["seconds"], p["least_calls"])' "$ST_DIR/plan.json")

calls0=$(sbx_calls)
limited0=$(sbx_limited)
st_log "estimate: $est_calls calls, ${est_s} s (least $least_calls calls); starting the sync"
WDT_SCHEDULER_INTERVAL=1s "$ST_BIN/wdt-scheduler" >"$ST_DIR/logs/scheduler.log" 2>&1 &
ST_PIDS+=("$!")
t0=$(date +%s.%N)
for ((w = 1; w <= WORKERS; w++)); do
    "$ST_BIN/wdt-worker" >>"$ST_DIR/logs/worker-$w.log" 2>&1 &
    ST_PIDS+=("$!")
done

eta_s='' eta_at='' eta_kind=''
deadline=$((SECONDS + 3 * ${est_s%.*} + 120))
while ((SECONDS < deadline)); do
    "$ST_BIN/wdtctl" status --json >"$ST_DIR/status.json" 2>>"$ST_DIR/logs/status.err" || {
        sleep 1
        continue
    }
    now=$(date +%s.%N)
    read -r left ceta lower < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
b = [r["backfill"] for r in s if r["state"] == "backfilling" and r.get("backfill")]
print(len(b), b[0]["connection_eta_s"] if b else "-",
      "lower-bound" if b and b[0]["connection_eta_is_lower_bound"] else "estimate")' \
        "$ST_DIR/status.json")
    el=$(python3 -c "print($now - $t0)")
    if [[ -z "$eta_s" && "$ceta" != "-" ]] && python3 -c "import sys; sys.exit(0 if $el >= $est_s / 3 else 1)"; then
        eta_s=$ceta eta_at=$el eta_kind=$lower
        st_log "status at ${el%.*} s: backfill ETA ${ceta} s ($lower)"
    fi
    ((left == 0)) && break
    sleep 1
done
t1=$(date +%s.%N)
((left == 0)) || st_fail "the first sync did not finish in time"
calls1=$(sbx_calls)
limited1=$(sbx_limited)
"$ST_BIN/wdtctl" status >"$ST_DIR/status-final.txt" || true
cat "$ST_DIR/status-final.txt"

python3 - "$t0" "$t1" "$calls0" "$calls1" "$est_calls" "$est_s" "$least_calls" "$RATE" \
    "$((limited1 - limited0))" "${eta_s:--}" "${eta_at:--}" "${eta_kind:--}" <<'PY'
import sys
t0, t1, c0, c1, est_calls, est_s, least, rate = map(float, sys.argv[1:9])
limited, eta_s, eta_at, eta_kind = sys.argv[9], sys.argv[10], sys.argv[11], sys.argv[12]
wall = t1 - t0
calls = c1 - c0
quota = calls / (rate / 60 * wall)
print(f"estimate (probe): {est_calls:.0f} calls, {est_s:.1f} s; least {least:.0f} calls")
print(f"measured: {calls:.0f} calls in {wall:.1f} s; rate-limit answers: {limited}")
print(f"wall / estimate: {wall / est_s:.3f} (target within 0.90-1.10)")
print(f"calls / estimated calls: {calls / est_calls:.3f}")
print(f"quota used: {quota:.3f} (target >= 0.95)")
if eta_s != "-":
    left = wall - float(eta_at)
    print(f"status ETA at {float(eta_at):.0f} s: {float(eta_s):.0f} s ({eta_kind}); the run then "
          f"took {left:.0f} s more (ratio {float(eta_s) / left:.3f})")
PY
