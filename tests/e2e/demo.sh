#!/usr/bin/env bash
# deploy/local/demo.sh as a user runs it, with a 2-day first sync: it finishes, prints the
# summary and the analysis queries, and leaves no process behind; a second run reuses the
# state, goes on with --keep-running and stops everything on Ctrl-C (SIGINT to its
# process group, as a terminal sends it). Each run gets a session of its own, so
# `pgrep -s` finds anything it left running.
set -euo pipefail
# shellcheck source=tests/lib/stack.sh
source "$(dirname "$0")/../lib/stack.sh"
st_begin demo-test # the runs' output in $ST_DIR/logs, the demo's state in $ST_DIR/state
export WDTS_DEMO_DIR=$ST_DIR/state WDTS_DEMO_BACKFILL=2d
ST_TAIL_LINES=40
pid=
# What this test started is the demo: stack.sh's stop at the end sends it Ctrl-C instead.
st_stop_all() {
    if [[ -n "$pid" ]]; then
        kill -INT -- "-$pid" 2>/dev/null && sleep 5
    fi
    return 0
}

# start LOG ARGS...: the demo in a session of its own; sets pid (= its session id).
start() {
    local log=$1
    shift
    # a background job of this script starts with SIGINT ignored, which bash cannot undo:
    # restore it, as a terminal's shell would have it
    setsid env --default-signal=INT bash "$WDTS_ROOT/deploy/local/demo.sh" "$@" >"$log" 2>&1 \
        </dev/null &
    pid=$!
    sleep 0.5
    [[ $(ps -o sid= -p "$pid" | tr -d ' ') == "$pid" ]] ||
        st_fail "the demo is not in a session of its own"
}

# leftovers SID: fails when a process of that session still runs.
leftovers() {
    local left
    left=$(pgrep -a -s "$1" || true)
    [[ -z "$left" ]] || st_fail "processes left behind: $left"
}

echo "== first run (fresh, until the backfill is done)"
run1=$ST_DIR/logs/run1.log run2=$ST_DIR/logs/run2.log
start "$run1" --fresh
sid=$pid
rc=0
timeout 300 tail --pid="$pid" -f /dev/null || st_fail "the demo did not finish in 300 s"
wait "$pid" || rc=$?
pid=
((rc == 0)) || st_fail "the demo exited $rc"
catalog=$("$ST_BIN/wdtctl" reports --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')
# the counts below come from the catalog: it must hold every report
((catalog >= 45)) || st_fail "wdtctl reports lists ${catalog:-no} reports, fewer than the 45 of the catalog"
for want in "connection beta-wdt stored: $((catalog - 1)) reports ok, 1 blocked" "== Summary" \
    "reports; records held:" "duplicates seen:" "Paid amount per day and shop" \
    "Top goods of paid orders" "Refund rate per shop" "Stopping what the demo started"; do
    grep -qF "$want" "$run1" || st_fail "the output lacks '$want'"
done
held=$(sed -n 's/^[0-9]* reports; records held: \([0-9,]*\).*/\1/p' "$run1" | tr -d ,)
((held > 1000)) || st_fail "only ${held:-no} records held after the backfill"
# The summary lists every report of the catalog, and each one holds records.
listed=$(sed -n 's/^\([0-9]*\) reports; records held:.*/\1/p' "$run1")
[[ $listed == "$catalog" ]] || st_fail "the summary lists ${listed:-no} reports, the catalog has $catalog"
empty=$(sed -n '/^GROUP  *REPORT/,/ reports; records held:/p' "$run1" |
    awk 'NR > 1 && $3 == "0" { print $2 }')
[[ -z "$empty" ]] || st_fail "reports without a record after the backfill: $empty"
leftovers "$sid"
echo "first run: $held records held, nothing left running"
grep -A4 "== Refund rate per shop" "$run1"

echo "== second run (reusing the state, --keep-running, then Ctrl-C)"
start "$run2" --keep-running
sid=$pid
for _ in $(seq 1 300); do
    grep -q "Syncing incrementally" "$run2" && break
    kill -0 "$pid" 2>/dev/null || st_fail "the second run ended early"
    sleep 1
done
grep -q "Syncing incrementally" "$run2" || st_fail "the second run did not finish its catch-up"
grep -q "replace" "$run2" || st_fail "the second run did not replace the stored connections"
sleep 3
kill -INT -- "-$pid"
rc=0
timeout 60 tail --pid="$pid" -f /dev/null || st_fail "Ctrl-C did not stop the demo in 60 s"
wait "$pid" || rc=$?
pid=
((rc == 130)) || st_fail "after Ctrl-C the demo exited $rc, not 130"
leftovers "$sid"
echo "second run: caught up, stopped by Ctrl-C, nothing left running"
