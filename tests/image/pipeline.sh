#!/usr/bin/env bash
# The pipeline with its programs in containers of the image that image/build made: the
# scheduler, two workers and the sink run from the image as its pods do (read-only root,
# an emptyDir-like tmpfs on /tmp, the image's non-root user, no capabilities, the secret
# key mounted read-only, --network host); Redis, the local Kafka and wdt-sandbox run on the
# host (tests/lib/stack.sh). Two sellers sync two days of backfill from the sandbox; a worker
# container gets SIGTERM mid-sync and must exit 0 within the worker Deployment's
# terminationGracePeriodSeconds; then the truth check of tests/e2e/check.py (0 missing).
set -euo pipefail
# shellcheck source=tests/image/lib.sh
source "$(dirname "$0")/lib.sh"
img_require_image
# shellcheck source=tests/lib/stack.sh
source "$WDTS_ROOT/tests/lib/stack.sh"
st_begin image-e2e # WDTS_E2E_KEEP=1 keeps $ST_DIR (logs, sink.db) after a pass too
trap 'st_end; img_cleanup' EXIT
uid=10001
grace=$(sed -n 's/^ *terminationGracePeriodSeconds: *\([0-9]*\).*/\1/p' \
    "$WDTS_ROOT/deploy/k8s/base/worker.yaml")
[[ -n "$grace" ]] || st_fail "no terminationGracePeriodSeconds in deploy/k8s/base/worker.yaml"

tenants='[
 {"sid":"img-shop-a","appkey":"a-app","appsecret":"a-secret:a-salt",
  "qimen_app_key":"qa-app","qimen_app_secret":"qa-secret",
  "rate_per_min":6000,"concurrency":12,"orders_per_day":1500,"seed":31},
 {"sid":"img-shop-b","appkey":"b-app","appsecret":"b-secret:b-salt",
  "rate_per_min":6000,"concurrency":6,"orders_per_day":300,"seed":32}]'
st_services "$tenants" speed:20 ""
st_conn a-wdt ta img-shop-a a-app a-secret:a-salt wdt 2d
st_conn a-qimen ta img-shop-a a-app a-secret:a-salt qimen 2d qa-app qa-secret
st_conn b-wdt tb img-shop-b b-app b-secret:b-salt wdt 2d
st_log "3 connections added (wdtctl on the host)"

# The Secret as Kubernetes mounts it: a read-only directory, the key 0440 for the pod's group.
mkdir -p "$ST_DIR/secrets" "$ST_DIR/sink"
cp "$WDT_SECRET_KEY_FILE" "$ST_DIR/secrets/secret-key"
chown -R "$uid:$uid" "$ST_DIR/secrets" "$ST_DIR/sink"
chmod 0440 "$ST_DIR/secrets/secret-key"
chmod 0550 "$ST_DIR/secrets"
# the sink writes its database into a volume; the checks read it where stack.sh expects it
ln -s sink/sink.db "$ST_DIR/sink.db"

# ctr NAME LOG PROGRAM [ARGS...]: PROGRAM in a container of the image, in the background,
# its output appended to LOG; sets CTR_PID (the podman client, which passes signals on).
CTR_N=0
ctr() {
    local name=$IMG_RUN_ID-$1-$((++CTR_N)) log=$2
    shift 2
    podman run --rm --name "$name" --label "wdts.run=$IMG_RUN_ID" --network host \
        --read-only --read-only-tmpfs=false --tmpfs /tmp:rw,size=64m,mode=1777 \
        --cap-drop ALL --security-opt no-new-privileges \
        -v "$ST_DIR/secrets:/etc/wdtsync/secrets:ro" \
        -e WDT_SECRET_KEY_FILE=/etc/wdtsync/secrets/secret-key \
        -e WDT_REDIS_URL -e WDT_KAFKA_BOOTSTRAP_SERVERS -e WDT_HTTP_LISTEN -e WDT_LOG_FORMAT \
        "${CTR_ENV[@]}" "$IMG_TAG" "$@" >>"$log" 2>&1 </dev/null &
    CTR_PID=$!
    CTR_NAME=$name
}
CTR_ENV=()

# stack.sh's starters, with the programs in containers.
st_worker_start() {
    local slot=$1
    ctr worker "$ST_DIR/logs/worker-$slot.log" wdt-worker
    ST_WORKER_PIDS[slot]=$CTR_PID
    ST_WORKER_NAMES[slot]=$CTR_NAME
    ST_PIDS+=("$CTR_PID")
}
ST_WORKER_NAMES=()
st_pipeline() {
    CTR_ENV=(-v "$ST_DIR/sink:/var/lib/wdtsync")
    ctr sink "$ST_DIR/logs/sink.log" wdt-sink-sqlite --db /var/lib/wdtsync/sink.db
    ST_SINK_PID=$CTR_PID
    ST_PIDS+=("$CTR_PID")
    CTR_ENV=(-e WDT_SCHEDULER_INTERVAL=2s -e WDT_SCHEDULER_MAX_OUTSTANDING=200
        -e WDT_SCHEDULER_JOB_LEASE=1m)
    ctr scheduler "$ST_DIR/logs/scheduler.log" wdt-scheduler
    ST_SCHED_PID=$CTR_PID
    ST_PIDS+=("$CTR_PID")
    CTR_ENV=()
    st_worker_start 1
    st_worker_start 2
}

st_pipeline
st_log "sink, scheduler and 2 workers started in containers of $IMG_TAG"
for _ in $(seq 1 120); do
    n=$(podman ps -q --filter "label=wdts.run=$IMG_RUN_ID" | wc -l)
    ((n == 4)) && break
    sleep 0.5
done
((n == 4)) || st_fail "$n of 4 containers running"
for name in $(podman ps --format '{{.Names}}' --filter "label=wdts.run=$IMG_RUN_ID"); do
    # the process's real and effective UIDs, as the host sees them (no user namespace)
    cpid=$(podman inspect --format '{{.State.Pid}}' "$name")
    uids=$(awk '/^Uid:/ { print $2 ":" $3 }' "/proc/$cpid/status")
    [[ $uids == "$uid:$uid" ]] || st_fail "$name runs as UID $uids, not $uid"
done
st_log "4 containers run as UID $uid (seen from the host)"

# SIGTERM to a worker container while it works (as the kubelet sends it): at its first job done.
for _ in $(seq 1 600); do
    grep -q "job .* done: " "$ST_DIR/logs/worker-1.log" 2>/dev/null && break
    sleep 0.1
done
grep -q "job .* done: " "$ST_DIR/logs/worker-1.log" || st_fail "worker 1 did no job in 60 s"
pid=${ST_WORKER_PIDS[1]}
start=$(date +%s%N)
podman kill --signal TERM "${ST_WORKER_NAMES[1]}" >/dev/null || st_fail "podman kill --signal TERM failed"
timeout "$grace" tail --pid="$pid" -f /dev/null ||
    st_fail "the worker container still ran $grace s after SIGTERM (terminationGracePeriodSeconds)"
rc=0
wait "$pid" || rc=$?
took=$((($(date +%s%N) - start) / 1000000))
((rc == 0)) || st_fail "the worker container exited $rc after SIGTERM"
stopping=$(grep -o "stopping: .*" "$ST_DIR/logs/worker-1.log" | tail -1)
grep -q "stopped (" "$ST_DIR/logs/worker-1.log" || st_fail "worker 1 did not log its stop"
st_log "worker 1: SIGTERM mid-sync ($stopping), exit 0 after $took ms (grace $grace s)"
st_worker_start 1

st_wait_synced 420 || st_fail "the backfill did not finish in 420 s"
st_settle 120
st_check --max-dead 0
st_log "image/pipeline passed"
