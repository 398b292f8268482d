#!/usr/bin/env bash
# deploy/local/demo.sh as a user runs it, with a 2-day first sync: it finishes, prints the
# summary and the analysis queries, and leaves no process behind; a second run reuses the
# state, goes on with --keep-running and stops everything on Ctrl-C (SIGINT to its
# process group, as a terminal sends it). Each run gets a session of its own, so
# `pgrep -s` finds anything it left running.
set -euo pipefail
root=${WDTS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
dir=$(mktemp -d /tmp/wdts-demo-test.XXXXXX)
export WDTS_DEMO_DIR=$dir/state WDTS_DEMO_BACKFILL=2d
pid=
cleanup() {
    local rc=$?
    [[ -n "$pid" ]] && kill -INT -- "-$pid" 2>/dev/null && sleep 5
    if ((rc != 0)); then
        for f in "$dir"/run*.log; do
            echo "---- $f (last 40 lines)"
            tail -n 40 "$f"
        done
        echo "state kept in $dir"
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

# start LOG ARGS...: the demo in a session of its own; sets pid (= its session id).
start() {
    local log=$1
    shift
    # a background job of this script starts with SIGINT ignored, which bash cannot undo:
    # restore it, as a terminal's shell would have it
    setsid env --default-signal=INT bash "$root/deploy/local/demo.sh" "$@" >"$log" 2>&1 \
        </dev/null &
    pid=$!
    sleep 0.5
    [[ $(ps -o sid= -p "$pid" | tr -d ' ') == "$pid" ]] || fail "the demo is not in a session of its own"
}

# leftovers SID: fails when a process of that session still runs.
leftovers() {
    local left
    left=$(pgrep -a -s "$1" || true)
    [[ -z "$left" ]] || fail "processes left behind: $left"
}

echo "== first run (fresh, until the backfill is done)"
start "$dir/run1.log" --fresh
sid=$pid
rc=0
timeout 300 tail --pid="$pid" -f /dev/null || fail "the demo did not finish in 300 s"
wait "$pid" || rc=$?
pid=
((rc == 0)) || fail "the demo exited $rc"
nrep=$("${WDTS_BIN_DIR:-$root/build/bin}/wdtctl" reports --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
for want in "connection beta-wdt stored: $((nrep - 1)) reports ok, 1 blocked" "== Summary" \
    "reports; records held:" "duplicates seen:" "Paid amount per day and shop" \
    "Top goods of paid orders" "Refund rate per shop" "Stopping what the demo started"; do
    grep -qF "$want" "$dir/run1.log" || fail "the output lacks '$want'"
done
held=$(sed -n 's/^[0-9]* reports; records held: \([0-9,]*\).*/\1/p' "$dir/run1.log" | tr -d ,)
((held > 1000)) || fail "only ${held:-no} records held after the backfill"
# The summary lists every report of the catalog, and each one holds records.
listed=$(sed -n 's/^\([0-9]*\) reports; records held:.*/\1/p' "$dir/run1.log")
catalog=$("${WDTS_BIN_DIR:-$root/build/bin}/wdtctl" reports --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
[[ $listed == "$catalog" ]] || fail "the summary lists ${listed:-no} reports, the catalog has $catalog"
empty=$(sed -n '/^GROUP  *REPORT/,/ reports; records held:/p' "$dir/run1.log" |
    awk 'NR > 1 && $3 == "0" { print $2 }')
[[ -z "$empty" ]] || fail "reports without a record after the backfill: $empty"
leftovers "$sid"
echo "first run: $held records held, nothing left running"
grep -A4 "== Refund rate per shop" "$dir/run1.log"

echo "== second run (reusing the state, --keep-running, then Ctrl-C)"
start "$dir/run2.log" --keep-running
sid=$pid
for _ in $(seq 1 300); do
    grep -q "Syncing incrementally" "$dir/run2.log" && break
    kill -0 "$pid" 2>/dev/null || fail "the second run ended early"
    sleep 1
done
grep -q "Syncing incrementally" "$dir/run2.log" || fail "the second run did not finish its catch-up"
grep -q "replace" "$dir/run2.log" || fail "the second run did not replace the stored connections"
sleep 3
kill -INT -- "-$pid"
rc=0
timeout 60 tail --pid="$pid" -f /dev/null || fail "Ctrl-C did not stop the demo in 60 s"
wait "$pid" || rc=$?
pid=
((rc == 130)) || fail "after Ctrl-C the demo exited $rc, not 130"
leftovers "$sid"
echo "second run: caught up, stopped by Ctrl-C, nothing left running"
