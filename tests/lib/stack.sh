# shellcheck shell=bash
# The whole pipeline for the tests that run it (tests/e2e/e2e.sh, tests/chaos/chaos.sh,
# tests/image/pipeline.sh, tests/bench/first-sync-bench.sh): its own Redis (AOF, fsync
# always), its own local Kafka, wdt-sandbox with a sped-up clock, connections added through
# `wdtctl connection add`, wdt-scheduler, two wdt-workers and wdt-sink-sqlite; and for
# tests/e2e/demo.sh, which runs deploy/local/demo.sh, the state directory, the logs shown
# after a failure and the clean-up on exit.
# Source it, then call st_begin; every process it starts is stopped by st_stop_all.

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/local/lib.sh"

ST_BIN=${WDTS_BIN_DIR:-$WDTS_ROOT/build/bin}
ST_PIDS=() # every process started, stopped in reverse order
ST_WORKER_PIDS=() # by worker slot
ST_SCHED_PID=
ST_SINK_PID=
ST_SBX_PID=
ST_AS_OF= # the sandbox time the check holds the sink to (st_settle)
ST_TAIL_LINES=15 # of each log, shown after a failure
ST_T0=$(date +%s)
ST_REDIS_ARGS=(--appendonly yes --appendfsync always)

st_log() { printf '[%4ds] %s\n' $(($(date +%s) - ST_T0)) "$*"; }
st_fail() {
    st_log "FAIL: $*"
    exit 1
}

# st_services TENANTS_JSON CLOCK FAULTS: Redis, the local Kafka, the sandbox (with the
# options in WDTS_E2E_SANDBOX, e.g. "--bounds open --qimen-total absent": the gateway's
# behaviours that the official pages leave open).
st_services() {
    local tenants=$1 clock=$2 faults=$3
    printf '%s\n' "$tenants" >"$ST_DIR/tenants.json"
    wdts_start_redis "$ST_DIR/redis" "${ST_REDIS_ARGS[@]}" || st_fail "redis"
    ST_PIDS+=("$WDTS_REDIS_PID")
    ST_REDIS_PORT=$WDTS_REDIS_PORT
    # about 1 KB per record: 128 partitions hold 640 MB before the 5 MB pruning starts
    wdts_start_kafka "$ST_DIR/kafka" "$ST_BIN" wdt.jobs:12 wdt.records:128 wdt.dlq:3 ||
        st_fail "the local Kafka"
    ST_PIDS+=("$WDTS_KAFKA_PID")
    local args=(--listen 127.0.0.1:0 --tenants "$ST_DIR/tenants.json" --clock "$clock"
        --port-file "$ST_DIR/sbx.port")
    [[ -n "$faults" ]] && args+=(--faults "$faults")
    local modes=()
    read -r -a modes <<<"${WDTS_E2E_SANDBOX:-}"
    args+=("${modes[@]}")
    "$ST_BIN/wdt-sandbox" "${args[@]}" >"$ST_DIR/logs/sandbox.log" 2>&1 &
    ST_SBX_PID=$!
    ST_PIDS+=("$ST_SBX_PID")
    wdts_wait_for test -s "$ST_DIR/sbx.port" || st_fail "wdt-sandbox did not start"
    ST_SBX=http://$(cat "$ST_DIR/sbx.port")

    wdts_export_env "$ST_DIR/secret.key"
    st_log "redis $WDT_REDIS_URL, kafka $WDT_KAFKA_BOOTSTRAP_SERVERS, sandbox $ST_SBX" \
        "($clock${WDTS_E2E_SANDBOX:+, $WDTS_E2E_SANDBOX})"
}

# st_sandbox_clock: the sandbox's clock, Unix seconds.
st_sandbox_clock() {
    curl -sf "$ST_SBX/healthz" | sed -n 's/.*"clock":\([0-9]*\).*/\1/p'
}

# st_conn ID TENANT SID APPKEY SECRET ROUTE BACKFILL [qimen key secret]: adds a connection
# (the permission table goes to the log) and records it for the truth check.
st_conn() {
    local id=$1 tenant=$2 sid=$3 appkey=$4 secret=$5 route=$6 backfill=$7
    local args=(--tenant "$tenant" --id "$id" --app "$route" --sid "$sid" --appkey "$appkey"
        --appsecret-file - --backfill "$backfill" --rate 100 --burst 50 --concurrency 6)
    if [[ $route == qimen ]]; then
        # secrets never on the command line: the appsecret on stdin, the Qimen one in a file
        (umask 077 && printf '%s\n' "$9" >"$ST_DIR/qimen-secret-$id")
        args+=(--qimen-app-key "$8" --qimen-app-secret-file "$ST_DIR/qimen-secret-$id"
            --gateway "$ST_SBX/router/qm")
    else
        args+=(--gateway "$ST_SBX/openapi")
    fi
    printf '%s\n' "$secret" |
        "$ST_BIN/wdtctl" connection add "${args[@]}" >"$ST_DIR/logs/conn-$id.log" 2>&1 || {
        cat "$ST_DIR/logs/conn-$id.log"
        st_fail "wdtctl connection add $id"
    }
    printf '{"id":"%s","sid":"%s","route":"%s"}\n' "$id" "$sid" "$route" >>"$ST_DIR/conns.jsonl"
}

st_worker_start() {
    local slot=$1
    "$ST_BIN/wdt-worker" >>"$ST_DIR/logs/worker-$slot.log" 2>&1 &
    # shellcheck disable=SC2034 # read by the test scripts
    ST_WORKER_PIDS[slot]=$!
    ST_PIDS+=("$!")
}

# st_supervise: restarts a worker that exited (as Kubernetes would): a worker started
# while Redis is down exits with "cannot start".
st_supervise() {
    local slot
    for slot in 1 2; do
        if ! kill -0 "${ST_WORKER_PIDS[slot]}" 2>/dev/null; then
            wait "${ST_WORKER_PIDS[slot]}" 2>/dev/null || true
            st_log "worker $slot had exited; restarted"
            st_worker_start "$slot"
        fi
    done
}

# st_pipeline: the sink, the scheduler and two workers.
st_pipeline() {
    "$ST_BIN/wdt-sink-sqlite" --db "$ST_DIR/sink.db" >"$ST_DIR/logs/sink.log" 2>&1 &
    ST_SINK_PID=$!
    ST_PIDS+=("$ST_SINK_PID")
    WDT_SCHEDULER_INTERVAL=2s WDT_SCHEDULER_MAX_OUTSTANDING=200 WDT_SCHEDULER_JOB_LEASE=1m \
        "$ST_BIN/wdt-scheduler" >"$ST_DIR/logs/scheduler.log" 2>&1 &
    ST_SCHED_PID=$!
    ST_PIDS+=("$ST_SCHED_PID")
    st_worker_start 1
    st_worker_start 2
}

# st_status FILE: wdtctl status --json into FILE; prints "done total" of the reports
# (done = ok or blocked).
st_status() {
    "$ST_BIN/wdtctl" status --json >"$1" 2>>"$ST_DIR/logs/status.err" || return 1
    python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(sum(r["state"] in ("ok", "blocked") for r in s), len(s))' "$1"
}

# st_wait_synced TIMEOUT_S: until every report of every connection is ok or blocked.
st_wait_synced() {
    local deadline=$((SECONDS + $1)) d n last=''
    while ((SECONDS < deadline)); do
        if read -r d n < <(st_status "$ST_DIR/status.json"); then
            [[ "$d $n" != "$last" ]] && st_log "synced: $d of $n reports"
            last="$d $n"
            ((n > 0 && d == n)) && return 0
        fi
        st_supervise
        sleep 2
    done
    "$ST_BIN/wdtctl" status || true
    return 1
}

# st_stop PID: SIGTERM, then wait (SIGKILL after 30 s).
st_stop() { WDTS_STOP_S=30 wdts_stop "$1"; }

# st_restart_redis: SIGKILL, then the same port and directory (the AOF is replayed).
st_restart_redis() {
    local old=$WDTS_REDIS_PID i
    kill -9 "$old"
    wait "$old" 2>/dev/null || true
    sleep 1
    wdts_redis_server "$ST_DIR/redis" "$ST_REDIS_PORT" "${ST_REDIS_ARGS[@]}"
    for i in "${!ST_PIDS[@]}"; do
        [[ ${ST_PIDS[i]} == "$old" ]] && ST_PIDS[i]=$WDTS_REDIS_PID
    done
    wdts_wait_for wdts_redis_ready "$ST_REDIS_PORT" "$WDTS_REDIS_PID" || st_fail "redis did not come back"
}

# st_outstanding: the number of windows emitted and not done yet, over every report.
st_outstanding() {
    "$ST_BIN/wdtctl" status --json | python3 -c '
import json, sys
print(sum(r["outstanding"] for r in json.load(sys.stdin)))'
}

# st_settle LIMIT_S: the end of a sync: stops the scheduler, waits (at most LIMIT_S s)
# until no window is outstanding, writes the watermarks to status-final.json and then the
# sandbox's clock to ST_AS_OF, stops the workers and drains the sink.
st_settle() {
    local limit=$1 out slot
    st_log "every report synced; stopping the scheduler and letting the workers finish"
    st_stop "$ST_SCHED_PID"
    for _ in $(seq 1 "$limit"); do
        out=$(st_outstanding)
        [[ $out == 0 ]] && break
        sleep 1
    done
    [[ $out == 0 ]] || st_fail "$out windows still outstanding $limit s after the scheduler stopped"
    # W first, then T: the invariant holds for any T after the watermark reached W.
    "$ST_BIN/wdtctl" status --json >"$ST_DIR/status-final.json"
    ST_AS_OF=$(st_sandbox_clock)
    [[ -n "$ST_AS_OF" ]] || st_fail "no clock from the sandbox"
    st_log "watermarks read; sandbox time $ST_AS_OF, $((ST_AS_OF - $(date +%s))) s ahead of real time"
    for slot in 1 2; do st_stop "${ST_WORKER_PIDS[slot]}"; done
    st_sink_drain
}

# st_sink_drain: once the producers are stopped, waits until the sink has applied every
# message of the records topic (records + markers + rejects, counted in sink_stats), at
# most 180 s, then stops it (SIGTERM commits).
st_sink_drain() {
    local total held=-1
    total=$(kcat -C -b "$WDT_KAFKA_BOOTSTRAP_SERVERS" -t wdt.records -o beginning -e -q \
        -f '.\n' | wc -l) || st_fail "kcat could not read wdt.records"
    for _ in $(seq 1 180); do
        held=$(python3 -c '
import sqlite3, sys
try:
    db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
    print(db.execute("SELECT coalesce(sum(records + markers + rejected), 0) FROM sink_stats").fetchone()[0])
except sqlite3.Error:
    print(-1)' "$ST_DIR/sink.db")
        ((held >= total)) && break
        sleep 1
    done
    st_log "sink: $held of the $total messages on wdt.records applied"
    ((held >= total)) || st_fail "the sink applied $held of $total messages in 180 s"
    st_stop "$ST_SINK_PID"
    ST_SINK_PID=
}

# st_dump TOPIC FORMAT FILE: the whole topic from the beginning.
st_dump() {
    kcat -C -b "$WDT_KAFKA_BOOTSTRAP_SERVERS" -t "$1" -o beginning -e -q -f "$2" >"$3" ||
        st_fail "kcat could not read $1"
}

# st_check [check.py options]: the truth check against the sink DB and the topics, as of
# ST_AS_OF (st_settle).
st_check() {
    st_log "sink drained; checking against the truth"
    "$ST_BIN/wdtctl" reports --json >"$ST_DIR/catalog.json"
    python3 -c '
import json, sys
print(json.dumps([json.loads(l) for l in open(sys.argv[1]) if l.strip()]))' \
        "$ST_DIR/conns.jsonl" >"$ST_DIR/conns.json"
    st_dump wdt.records '%p %o\n' "$ST_DIR/records.offsets"
    st_dump wdt.jobs '%p %o\n' "$ST_DIR/jobs.offsets"
    st_dump wdt.jobs '%s\n' "$ST_DIR/jobs.jsonl"
    st_dump wdt.dlq '%s\n' "$ST_DIR/dlq.jsonl"
    python3 "$WDTS_ROOT/tests/e2e/check.py" --status "$ST_DIR/status-final.json" \
        --catalog "$ST_DIR/catalog.json" --conns "$ST_DIR/conns.json" \
        --tenants "$ST_DIR/tenants.json" --sandbox "$ST_BIN/wdt-sandbox" \
        --db "$ST_DIR/sink.db" --redis-port "$ST_REDIS_PORT" \
        --records-offsets "$ST_DIR/records.offsets" --jobs-offsets "$ST_DIR/jobs.offsets" \
        --jobs-dump "$ST_DIR/jobs.jsonl" --dlq-dump "$ST_DIR/dlq.jsonl" \
        --worker-logs "$ST_DIR/logs/worker-*.log" --as-of "$ST_AS_OF" "$@"
}

# st_stop_all: every process started here, newest first.
st_stop_all() {
    local i
    for ((i = ${#ST_PIDS[@]} - 1; i >= 0; i--)); do
        st_stop "${ST_PIDS[i]}"
    done
    ST_PIDS=()
}

# st_logs_tail: the end of every log, for a failure.
st_logs_tail() {
    local f
    for f in "$ST_DIR"/logs/*.log "$ST_DIR"/redis/redis.log "$ST_DIR"/kafka/kafka.log; do
        [[ -f "$f" ]] || continue
        echo "---- $f (last $ST_TAIL_LINES lines)"
        tail -n "$ST_TAIL_LINES" "$f"
    done
}

# st_begin NAME: the start of a pipeline test, its state in a new $ST_DIR
# (/tmp/wdts-NAME.XXXXXX, logs in $ST_DIR/logs). On exit the stack is stopped; $ST_DIR is kept after a failure
# (or with WDTS_E2E_KEEP=1) and removed after a pass. Fails at once when a program is not
# built.
st_begin() {
    ST_DIR=$(mktemp -d "/tmp/wdts-$1.XXXXXX")
    mkdir "$ST_DIR/logs"
    trap st_end EXIT
    trap 'exit 130' INT TERM
    local p
    for p in wdt-sandbox wdt-scheduler wdt-worker wdt-sink-sqlite wdtctl wdt-localkafka; do
        [[ -x "$ST_BIN/$p" ]] || st_fail "$ST_BIN/$p is missing: build first (tests/run.sh does)"
    done
}

st_end() {
    local rc=$?
    st_stop_all
    if ((rc != 0)); then
        st_logs_tail
        echo "state kept in $ST_DIR"
    elif [[ ${WDTS_E2E_KEEP:-0} == 1 ]]; then
        echo "state kept in $ST_DIR"
    else
        rm -rf "$ST_DIR"
    fi
}
