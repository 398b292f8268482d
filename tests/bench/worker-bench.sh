#!/usr/bin/env bash
# Benchmarks of wdt-worker against wdt-sandbox, a Redis and a local Kafka started here:
#
# 1. calls/s: SELLERS sellers (default 200), each allowed 5 calls/s by the sandbox
#    (rate_per_min 300) and by its connection (rate 5, burst 1), every answer delayed
#    50 ms (latency fault); jobs are one-minute windows with (almost) no rows, so a job
#    is one call. For 1, 2 and 4 worker processes sharing the limits through Redis:
#    calls/s answered by the sandbox over MEASURE seconds after a WARMUP, the rate-limit
#    answers in that time (the target is 0), and the peak RSS of the workers (VmHWM).
# 2. records/s end to end (sandbox → worker → local Kafka) for one worker on busy
#    sellers, against `kcat -P` producing the same envelopes (copied from the records
#    topic) to the same local Kafka, in the same run.
#
#   tests/bench/worker-bench.sh          build/ must be built (cmake --build build)
#   WORKERS="1 2" MEASURE=10 tests/bench/worker-bench.sh
#   WORKERS=" " REC_SELLERS=20 REC_JOBS=12 tests/bench/worker-bench.sh   records/s only
# It prints one line per figure; BENCHMARKS.md records a run and its conditions.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${WDTS_BUILD_DIR:-$root/build}
# shellcheck source=deploy/local/lib.sh
source "$root/deploy/local/lib.sh"
sellers=${SELLERS:-200}
warmup=${WARMUP:-6}
measure=${MEASURE:-10}
workers_list=${WORKERS:-1 2 4}
rec_sellers=${REC_SELLERS:-20} rec_jobs=${REC_JOBS:-8} rec_rate=${REC_RATE:-200} rec_burst=${REC_BURST:-20}
rec_conc=${REC_CONCURRENCY:-2} rec_runs=${REC_RUNS:-3}
key=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
for f in "$build/bin/wdt-worker" "$build/bin/wdt-sandbox" "$build/tests/bench-wrk_bench_setup"; do
    [[ -x "$f" ]] || { echo "missing $f: build first (cmake --build build)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/wrk-bench.XXXXXX)
sbx_pid='' sbx2_pid='' wpids=()
cleanup() {
    for p in "${wpids[@]}"; do kill "$p" 2>/dev/null || true; done
    wdts_stop "$sbx_pid" "$sbx2_pid" "${WDTS_KAFKA_PID:-}" "${WDTS_REDIS_PID:-}"
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

wdts_start_redis "$tmp/redis"
wdts_start_kafka "$tmp/kafka" "$build/bin" jobs1:12 jobs2:12 jobs4:12 \
    records:24 recs1:96 recs2:96 recs3:96 recs_kcat1:96 recs_kcat2:96 recs_kcat3:96 jobsr1:12 jobsr2:12 jobsr3:12 dlq:3
redis_url="redis://127.0.0.1:$WDTS_REDIS_PORT"
brokers=$WDTS_KAFKA_BOOTSTRAP

python3 - "$sellers" "$rec_sellers" >"$tmp/tenants.json" <<'PY'
import json, sys
n, busy = int(sys.argv[1]), int(sys.argv[2])
t = [{"sid": f"bench-{i}", "appkey": f"bk{i}", "appsecret": f"bs{i}:bsalt{i}",
      "rate_per_min": 300, "orders_per_day": 1, "seed": 1000 + i} for i in range(n)]
t += [{"sid": f"busy-{i}", "appkey": f"bk{i}", "appsecret": f"bs{i}:bsalt{i}",
       "orders_per_day": 20000, "seed": 2000 + i} for i in range(busy)]
json.dump(t, sys.stdout)
PY
"$build/bin/wdt-sandbox" --listen 127.0.0.1:0 --port-file "$tmp/sbx.port" --threads 4 \
    --tenants "$tmp/tenants.json" --faults latency=50ms >"$tmp/sbx.log" 2>&1 &
sbx_pid=$!
for _ in $(seq 1 200); do [[ -s "$tmp/sbx.port" ]] && break; sleep 0.05; done
sbx="http://$(cat "$tmp/sbx.port")"

# sum of a sandbox metric family (optionally only lines matching a filter)
sbx_metric() {
    curl -s "$sbx/metrics" | awk -v m="$1" -v f="${2:-}" \
        'index($0, m) == 1 && (f == "" || index($0, f)) { s += $NF } END { printf "%d\n", s }'
}
worker_metric() { # port name [printf format of the sum, default %.0f]
    curl -s "http://127.0.0.1:$1/metrics" |
        awk -v m="$2" -v f="${3:-%.0f}" 'index($0, m) == 1 { s += $NF } END { printf f "\n", s }'
}
start_workers() { # n prefix topic group [records topic]
    local n=$1 i
    wpids=()
    for i in $(seq 1 "$n"); do
        env -i PATH="$PATH" WDT_SECRET_KEY=$key WDT_REDIS_URL="$redis_url" WDT_REDIS_PREFIX="$2" \
            WDT_TOPIC_JOBS="$3" WDT_TOPIC_RECORDS="${5:-records}" WDT_TOPIC_DLQ=dlq \
            WDT_KAFKA_BOOTSTRAP_SERVERS="$brokers" WDT_KAFKA_GROUP_ID="$4" \
            WDT_HTTP_LISTEN=127.0.0.1:0 WDT_LOG_LEVEL="${LOGLVL:-warn}" WDT_LOG_DEBUG="${LOGDEBUG:-}" WDT_LOG_FORMAT=text \
            WDT_WORKER_MAX_INFLIGHT="${INFLIGHT:-2048}" ${WORKER_ENV:-} \
            "$build/bin/wdt-worker" >"$tmp/worker-$4-$i.log" 2>&1 &
        wpids+=($!)
    done
}
# Waits until every worker of the group answers /readyz (it holds partitions): the group has
# settled, so no rebalance moves the jobs during the measurement. Needs log level info.
wait_ready() {
    local f port ok
    for _ in $(seq 1 600); do
        ok=1
        for f in "$tmp"/worker-"$1"-*.log; do
            port=$(grep -o 'on port [0-9]*' "$f" 2>/dev/null | awk '{ print $3 }' || true)
            if [[ -z "$port" ]] || ! curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; then
                ok=0
            fi
        done
        ((ok)) && return 0
        sleep 0.1
    done
    echo "workers of group $1 not ready in 60 s" >&2
    return 1
}
stop_workers() {
    local p
    for p in "${wpids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${wpids[@]}"; do wait "$p" 2>/dev/null || true; done
    wpids=()
}
peak_rss_mib() {
    local p m=0 v
    for p in "${wpids[@]}"; do
        v=$(awk '/VmHWM/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
        ((v > m)) && m=$v
    done
    echo $((m / 1024))
}

echo "== calls/s: $sellers sellers x 5 calls/s allowed, 50 ms per answer"
for n in $workers_list; do
    "$build/tests/bench-wrk_bench_setup" --redis "$redis_url" --prefix "b$n:" --brokers "$brokers" \
        --topic "jobs$n" --gateway "$sbx/openapi" --sellers "$sellers" --window 60 \
        --jobs $((5 * (warmup + measure) + 40)) \
        --end-ago 7200 --rate 5 --burst 1 --key $key >"$tmp/setup-$n.log"
    LOGLVL=info start_workers "$n" "b$n:" "jobs$n" "g$n"
    wait_ready "g$n"
    sleep 2
    c0=$(sbx_metric wdt_sandbox_calls_total)
    for _ in $(seq 1 300); do # the first call comes after the group join (3 s or more)
        [[ $(sbx_metric wdt_sandbox_calls_total) -gt $c0 ]] && break
        sleep 0.1
    done
    sleep "$warmup"
    c1=$(sbx_metric wdt_sandbox_calls_total) l1=$(sbx_metric wdt_sandbox_limit_answers_total)
    curl -s "$sbx/metrics" | grep '^wdt_sandbox_calls_total' >"$tmp/calls1"
    t1=$(date +%s.%N)
    sleep "$measure"
    c2=$(sbx_metric wdt_sandbox_calls_total) l2=$(sbx_metric wdt_sandbox_limit_answers_total)
    t2=$(date +%s.%N)
    curl -s "$sbx/metrics" | grep '^wdt_sandbox_calls_total' >"$tmp/calls2"
    # calls per seller in the interval: min / median / max (an even spread is the goal)
    spread=$(awk 'match($0, /sid="[^"]*"/) { k = substr($0, RSTART, RLENGTH); v[k] += (FILENAME ~ /calls2$/ ? $NF : -$NF) }
        END { for (k in v) print v[k] }' "$tmp/calls1" "$tmp/calls2" | sort -n |
        awk '{ a[NR] = $1 } END { printf "%d / %d / %d", a[1], a[int((NR + 1) / 2)], a[NR] }')
    rss=$(peak_rss_mib)
    stop_workers
    awk -v n="$n" -v c=$((c2 - c1)) -v l=$((l2 - l1)) -v t1="$t1" -v t2="$t2" -v r="$rss" -v s="$spread" \
        'BEGIN { printf "workers %d: %.0f calls/s (%d calls in %.1f s; per seller min/median/max %s), %d rate-limit answers, peak RSS %d MiB\n", n, c / (t2 - t1), c, t2 - t1, s, l, r }'
done

echo "== records/s end to end: $rec_sellers busy sellers x $rec_jobs half-hour windows, one worker, no added latency"
# a second sandbox without the latency fault: the pages' own cost only
"$build/bin/wdt-sandbox" --listen 127.0.0.1:0 --port-file "$tmp/sbx2.port" --threads 2 \
    --tenants "$tmp/tenants.json" >"$tmp/sbx2.log" 2>&1 &
sbx2_pid=$!
for _ in $(seq 1 200); do [[ -s "$tmp/sbx2.port" ]] && break; sleep 0.05; done
sbx2="http://$(cat "$tmp/sbx2.port")"
# on-CPU seconds of a process, all its threads (scheduler statistics: finer than clock ticks)
cpu_s() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.2f", s / 1e9 }'; }
cpu_since() { awk -v a="$1" -v b="$(cpu_s "$2")" 'BEGIN { printf "%.2f", b - a }'; } # before pid
# Both rates run from the first message produced (its CreateTime) to the last one
# delivered: for the worker the last window marker, which it produces only after every
# record of its window is acknowledged; for kcat the moment it exits (after its flush).
# Both count every message, records and markers alike. Each side runs rec_runs times
# (the local Kafka makes both vary much from run to run); the ratio is best to best.
w_best=0 k_best=0 w_rates=() k_rates=()
for run in $(seq 1 "$rec_runs"); do
    "$build/tests/bench-wrk_bench_setup" --redis "$redis_url" --prefix "r$run:" --brokers "$brokers" \
        --topic "jobsr$run" --gateway "$sbx2/openapi" --sellers "$rec_sellers" --sid-prefix busy- \
        --jobs "$rec_jobs" --window 1800 --end-ago 10800 --rate "$rec_rate" --burst "$rec_burst" \
        --concurrency "$rec_conc" --key $key >"$tmp/setup-r$run.log"
    sbx2_cpu0=$(cpu_s "$sbx2_pid") kafka_cpu0=$(cpu_s "$WDTS_KAFKA_PID") redis_cpu0=$(cpu_s "$WDTS_REDIS_PID")
    LOGLVL=info start_workers 1 "r$run:" "jobsr$run" "gr$run" "recs$run"
    port=
    for _ in $(seq 1 100); do
        port=$(grep -o 'on port [0-9]*' "$tmp/worker-gr$run-1.log" 2>/dev/null | awk '{ print $3 }' || true)
        [[ -n "$port" ]] && break
        sleep 0.1
    done
    [[ -n "$port" ]] || { echo "the worker did not start; see $tmp/worker-gr$run-1.log" >&2; exit 1; }
    # wait until the worker has made every record and marker (its counter stops moving);
    # polled seldom, as the poll takes CPU from the run
    last=0 same=0
    for _ in $(seq 1 240); do
        sleep 0.5
        r=$(worker_metric "$port" wdt_worker_records_total)
        if [[ "$r" -gt "$last" ]]; then last=$r same=0; else same=$((same + 1)); fi
        [[ "$last" -gt 0 && $same -ge 4 ]] && break
    done
    rss=$(peak_rss_mib)
    blocked=$(worker_metric "$port" wdt_worker_produce_blocked_seconds_total %.2f)
    cpu=$(cpu_s "${wpids[0]}")
    cpu_main=$(awk '{ printf "%.2f", $1 / 1e9 }' "/proc/${wpids[0]}/task/${wpids[0]}/schedstat")
    sbx2_cpu=$(cpu_since "$sbx2_cpu0" "$sbx2_pid")
    kafka_cpu=$(cpu_since "$kafka_cpu0" "$WDTS_KAFKA_PID")
    redis_cpu=$(cpu_since "$redis_cpu0" "$WDTS_REDIS_PID")
    stop_workers
    kcat -C -b "$brokers" -t "recs$run" -o beginning -e -q -f '%T\t%k\t%s\n' >"$tmp/env-ts.txt" 2>/dev/null
    cut -f2- "$tmp/env-ts.txt" >"$tmp/env.txt"
    lines=$(wc -l <"$tmp/env.txt")
    read -r w_t0 w_t1 < <(awk -F'\t' 'NR == 1 || $1 < a { a = $1 } $1 > b { b = $1 } END { print a, b }' "$tmp/env-ts.txt")
    if [[ -n "${TIMELINE:-}" ]]; then # messages per 100 ms from the first
        awk -F'\t' -v t0="$w_t0" '{ b[int(($1 - t0) / 100)]++ } END { for (i in b) print i * 100, b[i] }' \
            "$tmp/env-ts.txt" | sort -n >"$TIMELINE.$run"
    fi
    rate=$(awk -v n="$lines" -v a="$w_t0" -v b="$w_t1" 'BEGIN { printf "%.0f", n / ((b - a) / 1000) }')
    echo "worker, run $run: $last records, $lines messages in $((w_t1 - w_t0)) ms, $rate messages/s, worker CPU $cpu s (main thread $cpu_main s), sandbox CPU $sbx2_cpu s, local Kafka CPU $kafka_cpu s, Redis CPU $redis_cpu s, peak RSS $rss MiB, blocked on a full producer queue $blocked s"
    w_rates+=("$rate")
    ((rate > w_best)) && w_best=$rate w_best_cpu=$cpu

    kafka_cpu0=$(cpu_s "$WDTS_KAFKA_PID")
    /usr/bin/time -f '%U %S' -o "$tmp/kcat.time" kcat -P -b "$brokers" -t "recs_kcat$run" -K $'\t' \
        -X enable.idempotence=true -H schema=wdt.record.v1 -H report=trades -H tenant=t \
        -l "$tmp/env.txt"
    k_t1=$(date +%s%3N)
    kafka_cpu=$(cpu_since "$kafka_cpu0" "$WDTS_KAFKA_PID")
    k_t0=$(kcat -C -b "$brokers" -t "recs_kcat$run" -o beginning -e -q -f '%T\n' 2>/dev/null |
        awk 'NR == 1 || $1 < a { a = $1 } END { print a }')
    kcpu=$(awk '{ printf "%.1f", $1 + $2 }' "$tmp/kcat.time")
    rate=$(awk -v n="$lines" -v a="$k_t0" -v b="$k_t1" 'BEGIN { printf "%.0f", n / ((b - a) / 1000) }')
    echo "kcat -P, run $run: $lines messages in $((k_t1 - k_t0)) ms, $rate messages/s, kcat CPU $kcpu s, local Kafka CPU $kafka_cpu s"
    k_rates+=("$rate")
    ((rate > k_best)) && k_best=$rate k_best_cpu=$kcpu
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
w_med=$(median "${w_rates[@]}") k_med=$(median "${k_rates[@]}")
awk -v w="$w_med" -v k="$k_med" \
    'BEGIN { printf "median worker run %d messages/s / median kcat run %d messages/s = %.2f\n", w, k, w / k }'
awk -v w="$w_best" -v k="$k_best" -v wc="$w_best_cpu" -v kc="$k_best_cpu" \
    'BEGIN { printf "fastest worker run %d messages/s / fastest kcat run %d messages/s = %.2f; messages per CPU second (same runs) %.2f\n", w, k, w / k, kc / wc }'
