#!/usr/bin/env bash
# Chaos: a sync of two sellers (one authorised twice) x every report from wdt-sandbox with
# a clock 20x faster than real time and faults on (HTTP 5xx, hangs, truncated bodies,
# 数据库错误 / 其他错误 answers, rate-limit answers), while a worker is killed with SIGKILL and
# restarted every few seconds, Redis is killed and restarted once (AOF, fsync always) and
# a local Kafka broker is taken down and up. Afterwards: every record the truth lists is
# downstream (missing must be 0), every job is done or dead-lettered for a reason that is
# not transient, nothing was pruned by the local Kafka. Bounded to 10 minutes.
set -euo pipefail
# shellcheck source=tests/lib/stack.sh
source "$(dirname "$0")/../lib/stack.sh"

st_begin chaos # WDTS_E2E_KEEP=1 keeps $ST_DIR (logs, sink.db) after a pass too
budget_end=$((SECONDS + 570)) # the whole run, checks included, stays under 10 minutes

tenants='[
 {"sid":"chaos-shop-a","appkey":"a-app","appsecret":"a-secret:a-salt",
  "qimen_app_key":"qa-app","qimen_app_secret":"qa-secret",
  "rate_per_min":6000,"concurrency":12,"orders_per_day":2000,"seed":31},
 {"sid":"chaos-shop-c","appkey":"c-app","appsecret":"c-secret:c-salt",
  "rate_per_min":6000,"concurrency":6,"orders_per_day":500,"seed":33}]'
# Faults: 5% of calls fail in every transient way, malformed answers among them (status 0
# without the record list, a status that is no number: never an empty window); from 35 s to
# 65 s (after the three connections are added, which takes 15-30 s with 45 reports to
# probe, and while the backfill runs) a fifth of the calls
# answer "rate limited", which sets the sellers' cooldowns (30 s; calls wait them out, so
# few more answers follow).
faults=http5xx=0.015,truncate=0.01,status5=0.006,status99=0.004,hang=0.003,hangtime=15s
faults+=,nolist=0.005,badstatus=0.004
faults+=,ratelimit@35s-65s=0.2,seed=7
export WDT_WORKER_HTTP_TIMEOUT=10s

st_services "$tenants" speed:20 "$faults"
st_conn a-wdt ta chaos-shop-a a-app a-secret:a-salt wdt 2d
st_conn a-qimen ta chaos-shop-a a-app a-secret:a-salt qimen 2d qa-app qa-secret
st_conn c-wdt tc chaos-shop-c c-app c-secret:c-salt wdt 2d
st_log "3 connections added"
st_pipeline
start=$SECONDS

kills=0 redis_done=0 broker=0 slot=1
while ((SECONDS - start < 75)); do
    t=$((SECONDS - start))
    if ((t >= 6)); then
        pid=${ST_WORKER_PIDS[slot]}
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        kills=$((kills + 1))
        st_log "kill -9 worker $slot (pid $pid), restarted"
        st_worker_start "$slot"
        slot=$((3 - slot))
    fi
    if ((t >= 25 && redis_done == 0)); then
        st_restart_redis
        redis_done=1
        st_log "redis killed (SIGKILL) and restarted from its AOF"
    fi
    if ((t >= 35 && broker == 0)); then
        echo "down 2" >"$ST_DIR/kafka/kafka.ctl"
        broker=1
        st_log "kafka broker 2 down"
    elif ((t >= 50 && broker == 1)); then
        echo "up 2" >"$ST_DIR/kafka/kafka.ctl"
        broker=2
        st_log "kafka broker 2 up"
    fi
    sleep 7
    st_supervise
done
((broker == 2)) || echo "up 2" >"$ST_DIR/kafka/kafka.ctl"
st_log "chaos over: $kills worker kills, 1 redis restart, broker 2 down for 15 s"
grep -q "down 2: ok" "$ST_DIR/kafka/kafka.log" || st_fail "the broker did not go down"
grep -q "up 2: ok" "$ST_DIR/kafka/kafka.log" || st_fail "the broker did not come back up"

st_wait_synced $((budget_end - SECONDS - 150)) || st_fail "the sync did not finish in time"
st_settle 90
curl -sf "$ST_SBX/metrics" >"$ST_DIR/sandbox.metrics" || st_fail "no metrics from the sandbox"
grep '^wdt_sandbox_faults_injected_total\|^wdt_sandbox_limit_answers_total' "$ST_DIR/sandbox.metrics"
for kind in http5xx truncate hang nolist badstatus; do
    grep -q "^wdt_sandbox_faults_injected_total{kind=\"$kind\"} [1-9]" "$ST_DIR/sandbox.metrics" ||
        st_fail "the sandbox injected no $kind fault: the run did not test what it claims"
done
grep -q 'limit="fault"} [1-9]' "$ST_DIR/sandbox.metrics" ||
    st_fail "the sandbox gave no rate-limit answer: the run did not test what it claims"
st_check
st_log "chaos passed in $SECONDS s"
