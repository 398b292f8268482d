#!/usr/bin/env bash
# wdt-scheduler and the wdtctl subcommands on their own (no service needed): --help and
# --help-config answer 0; bad flags exit 64 with a message; bad configuration exits 78
# listing every problem (the settings table's and the scheduler's own checks), before
# connecting to anything.
set -euo pipefail
bindir=${WDTS_BIN_DIR:?WDTS_BIN_DIR is not set: run this through ctest or tests/run.sh}
sched=$bindir/wdt-scheduler
ctl=$bindir/wdtctl
[[ -x "$sched" && -x "$ctl" ]] || { echo "FAIL: wdt-scheduler or wdtctl is not built" >&2; exit 1; }
# nothing of the caller's environment may leak into the configuration
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^WDT_' | grep -v '^WDT_TEST' || true)
# an address where nothing listens: a check that connected would fail differently
export WDT_REDIS_URL=redis://127.0.0.1:9/0

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect CODE TEXT CMD...: CMD must exit CODE and print TEXT (stdout or stderr).
expect() {
    local code=$1 text=$2 rc=0 out
    shift 2
    out=$(timeout 20 "$@" 2>&1) || rc=$?
    [[ $rc -eq $code ]] || fail "$* exited $rc, expected $code: $out"
    [[ "$out" == *"$text"* ]] || fail "$* did not say '$text': $out"
}

expect 0 "--once" "$sched" --help
expect 0 "scheduler.job.lease" "$sched" --help-config
expect 0 "WDT_SCHEDULER_MAX_OUTSTANDING" "$sched" --help-config
expect 64 "unknown option" "$sched" --bogus
expect 64 "unexpected argument: extra" "$sched" --once extra
expect 64 "--now: not a time" "$sched" --once --now yesterday
expect 64 "--set needs KEY=VALUE" "$sched" --set scheduler.lag

# every problem at once: two from the table...
rc=0
out=$(WDT_SCHEDULER_LAG=banana WDT_SCHEDULR_LAG=1m timeout 20 "$sched" --once 2>&1) || rc=$?
[[ $rc -eq 78 ]] || fail "bad configuration exited $rc, expected 78: $out"
[[ "$out" == *"WDT_SCHEDULER_LAG"* && "$out" == *"WDT_SCHEDULR_LAG"* ]] ||
    fail "not every problem was listed: $out"
# ...and two of the scheduler's own
rc=0
out=$(WDT_SCHEDULER_LOOKBACK=90s WDT_SCHEDULER_JOB_LEASE=1m timeout 20 "$sched" --once 2>&1) || rc=$?
[[ $rc -eq 78 ]] || fail "bad scheduler settings exited $rc, expected 78: $out"
[[ "$out" == *"scheduler.lookback: must be whole minutes"* ]] || fail "lookback not reported: $out"
[[ "$out" == *"scheduler.job.lease: must be at least 3 scheduler.interval"* ]] ||
    fail "job lease not reported: $out"
rc=0
out=$(timeout 20 "$sched" --once --set scheduler.interval=0s 2>&1) || rc=$?
[[ $rc -eq 78 && "$out" == *"scheduler.interval"* ]] || fail "--set of a bad value: $rc $out"

# wdtctl
expect 0 "wdtctl reports" "$ctl" reports --help
expect 0 "wdtctl status" "$ctl" status --help
expect 0 "wdtctl resync --connection C" "$ctl" resync --help
expect 0 "reports" "$ctl" --help
expect 64 "unknown option" "$ctl" reports --bogus
expect 64 "are required" "$ctl" resync --connection c1
expect 64 "--from must be before --to" "$ctl" resync --connection c1 --report trades \
    --from "2026-11-25 13:00:00" --to "2026-11-25 12:00:00"
expect 64 "not a connection id" "$ctl" status --connection 'a b'
expect 1 "cannot reach Redis" "$ctl" status
echo "ok"
