#!/usr/bin/env bash
# The whole of wdtsync on one machine, in one command: installs what is missing, builds,
# starts Redis (AOF on), the local Kafka and wdt-sandbox with demo sellers, adds their
# connections with `wdtctl connection add`, runs wdt-scheduler, two wdt-workers and the
# SQLite sink, shows the 90-day backfill as it runs, then a summary and a few analysis
# queries. Stops everything it started when it ends or on Ctrl-C.
#
#   deploy/local/demo.sh                  backfill, summary, stop
#   deploy/local/demo.sh --keep-running   then go on syncing incrementally until Ctrl-C
#   deploy/local/demo.sh --fresh          forget the previous run's state first
#   WDTS_DEMO_DIR=/path deploy/local/demo.sh   state elsewhere (default: .demo/ in the repo)
#   WDTS_DEMO_BACKFILL=7d deploy/local/demo.sh  a shorter first sync (default 90d)
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
source "$(dirname "$0")/lib.sh"

keep_running=0 fresh=0
for arg in "$@"; do
    case $arg in
    --keep-running) keep_running=1 ;;
    --fresh) fresh=1 ;;
    -h | --help)
        sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "demo.sh: unknown option '$arg' (see deploy/local/demo.sh --help)" >&2
        exit 64
        ;;
    esac
done

# Job control: every process started here gets a process group of its own, so Ctrl-C
# reaches this script only, and the trap stops the pipeline before Kafka and Redis.
set -m
state=${WDTS_DEMO_DIR:-$WDTS_ROOT/.demo}
backfill=${WDTS_DEMO_BACKFILL:-90d}
[[ $backfill =~ ^([0-9]+)d$ ]] || {
    echo "demo.sh: WDTS_DEMO_BACKFILL must be a number of days such as 90d, not '$backfill'" >&2
    exit 64
}
backfill_s=$((BASH_REMATCH[1] * 86400))
bin=${WDTS_BIN_DIR:-$WDTS_ROOT/build/bin} # tests set WDTS_BIN_DIR: built already
pids=()
started=$(date +%s)

say() { printf '\n\033[1m%s\033[0m\n' "$*" >&2; }
[[ -t 2 ]] || say() { printf '\n== %s\n' "$*" >&2; }

cleanup() {
    local rc=$? i
    trap '' INT TERM
    if ((${#pids[@]} > 0)); then
        say "Stopping what the demo started"
        for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
            wdts_stop "${pids[i]}"
        done
    fi
    echo "state, logs and the synced data stay in $state (deploy/local/demo.sh --fresh starts over)" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Packages and build"
wdts_install_packages
[[ -n "${WDTS_BIN_DIR:-}" ]] || wdts_build "$WDTS_ROOT/build"
for p in wdt-localkafka wdt-sandbox wdtctl wdt-scheduler wdt-worker wdt-sink-sqlite; do
    [[ -x "$bin/$p" ]] || { echo "demo.sh: $bin/$p was not built" >&2; exit 1; }
done

if ((fresh)); then
    rm -rf "$state"
fi
mkdir -p "$state/logs"
chmod 700 "$state"
echo "state directory: $state" >&2

say "Redis (AOF on), the local Kafka, the WDT sandbox"
wdts_start_redis "$state/redis" --appendonly yes
pids+=("$WDTS_REDIS_PID")
# About 2 KB per record and 300,000 records: 128 partitions keep each well under the local
# Kafka's 5 MB per partition, so nothing is pruned before the sink reads it.
wdts_start_kafka "$state/kafka" "$bin" wdt.jobs:12 wdt.records:128 wdt.dlq:3
pids+=("$WDTS_KAFKA_PID")

# The sellers: demo-shop authorised twice (a wdt app, and a qimen app for its Taobao and
# Tmall orders), demo-shop-2 whose app lacks the refunds interface. Credentials as in
# `wdt-sandbox --demo`; volumes and limits sized so 90 days sync in a few minutes.
perms=$("$bin/wdtctl" reports --json | python3 -c '
import json, sys
print(json.dumps([r["method"] for r in json.load(sys.stdin) if r["name"] != "refunds"]))')
cat >"$state/tenants.json" <<EOF
[{"sid":"demo-shop","appkey":"demo-app","appsecret":"demo-secret:demo-salt",
  "qimen_app_key":"demo-qimen-app","qimen_app_secret":"demo-qimen-secret",
  "rate_per_min":12000,"concurrency":12,"orders_per_day":300,"seed":1},
 {"sid":"demo-shop-2","appkey":"demo2-app","appsecret":"demo2-secret:demo2-salt",
  "permissions":$perms,"rate_per_min":6000,"concurrency":6,"orders_per_day":120,"seed":2}]
EOF
rm -f "$state/sandbox.port"
"$bin/wdt-sandbox" --listen 127.0.0.1:0 --tenants "$state/tenants.json" \
    --port-file "$state/sandbox.port" >"$state/logs/sandbox.log" 2>&1 &
pids+=("$!")
wdts_wait_for test -s "$state/sandbox.port" || {
    echo "demo.sh: wdt-sandbox did not start; see $state/logs/sandbox.log" >&2
    exit 1
}
sandbox=http://$(cat "$state/sandbox.port")

wdts_export_env "$state/secret.key"
echo "redis $WDT_REDIS_URL (data in $state/redis), kafka $WDT_KAFKA_BOOTSTRAP_SERVERS, sandbox $sandbox" >&2

say "Connections: wdtctl connection add checks the credentials and every report"
# add ID TENANT SID APPKEY SECRET APP GATEWAY [extra]: a second run replaces the stored
# connection (the sandbox listens on a new port) and keeps its watermarks.
add() {
    local id=$1 tenant=$2 sid=$3 appkey=$4 secret=$5 app=$6 gw=$7
    shift 7
    local replace=()
    "$bin/wdtctl" connection show --id "$id" >/dev/null 2>&1 && replace=(--replace)
    echo "\$ wdtctl connection add --tenant $tenant --id $id --app $app --sid $sid" \
        "--appkey $appkey --appsecret-file - --gateway $gw $* ${replace[*]}"
    printf '%s\n' "$secret" | "$bin/wdtctl" connection add --tenant "$tenant" --id "$id" \
        --app "$app" --sid "$sid" --appkey "$appkey" --appsecret-file - --gateway "$gw" \
        --rate 100 --burst 50 --concurrency 6 --backfill "$backfill" "${replace[@]}" "$@"
    echo
}
add acme-wdt acme demo-shop demo-app demo-secret:demo-salt wdt "$sandbox/openapi"
# The appsecret comes on standard input; the Qimen secret from a file (never an argument: the
# process list would show it).
(umask 077 && printf '%s\n' demo-qimen-secret >"$state/qimen-app-secret")
add acme-qimen acme demo-shop demo-app demo-secret:demo-salt qimen "$sandbox/router/qm" \
    --qimen-app-key demo-qimen-app --qimen-app-secret-file "$state/qimen-app-secret"
# demo-shop-2's app lacks the refunds interface and the archive (历史) ones: add shows both.
# Its windows older than the archive horizon would fail until those are approved, so this
# connection does not read the archive (--archive-read off; the demo sandbox archives nothing).
add beta-wdt beta demo-shop-2 demo2-app demo2-secret:demo2-salt wdt "$sandbox/openapi" \
    --archive-read off

say "The pipeline: wdt-sink-sqlite, wdt-scheduler, two wdt-workers (logs in $state/logs)"
"$bin/wdt-sink-sqlite" --db "$state/sink.db" >>"$state/logs/sink.log" 2>&1 &
pids+=("$!")
# Plan every 2 s, at most 100 windows ahead per report; a window whose job was lost (the
# local Kafka keeps nothing across runs) is emitted again after 2 minutes.
WDT_SCHEDULER_INTERVAL=2s WDT_SCHEDULER_MAX_OUTSTANDING=100 WDT_SCHEDULER_JOB_LEASE=2m \
    "$bin/wdt-scheduler" >>"$state/logs/scheduler.log" 2>&1 &
pids+=("$!")
for n in 1 2; do
    "$bin/wdt-worker" >>"$state/logs/worker-$n.log" 2>&1 &
    pids+=("$!")
done

"$bin/wdtctl" reports --json >"$state/catalog.json"
view=(python3 "$WDTS_ROOT/deploy/local/demo_view.py")
watch=("${view[@]}" watch --wdtctl "$bin/wdtctl" --catalog "$state/catalog.json"
    --db "$state/sink.db" --redis-port "$WDTS_REDIS_PORT" --backfill-s "$backfill_s")
# watch ARGS: the progress view, waited for with `wait` so that a signal runs the trap at once.
watch() {
    "${watch[@]}" "$@" &
    pids+=("$!")
    wait "$!"
}
nreports=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$state/catalog.json")
say "Syncing $backfill of three connections x $nreports reports"
watch --until-done

say "Backfill done"
dead=$(kcat -C -b "$WDT_KAFKA_BOOTSTRAP_SERVERS" -t wdt.dlq -o beginning -e -q 2>/dev/null |
    grep -c . || true)
"${view[@]}" summary --db "$state/sink.db" --queries "$WDTS_ROOT/sink/queries.sql" \
    --started "$started" --state "$state" --catalog "$state/catalog.json"
echo
echo "dead letters: ${dead:-0} (kcat -C -b \$(cat $state/kafka/kafka.boot) -t wdt.dlq -e shows them)"

if ((keep_running)); then
    say "Syncing incrementally (a window closes every hour, 5 minutes late); Ctrl-C stops"
    echo "meanwhile, in another terminal: WDT_REDIS_URL=$WDT_REDIS_URL build/bin/wdtctl status"
    watch
fi
