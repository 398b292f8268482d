#!/usr/bin/env bash
# wdt-localkafka on its own: bad flags exit 64 with a message; a topic of 7
# partitions is created (checked with kcat -L); the control FIFO drives down/up
# (a downed broker refuses connections), leader, create, error/clear and rejects
# unknown commands; SIGTERM stops it with exit 0 within a few seconds and it cleans up.
set -euo pipefail
bin=${WDTS_BIN_DIR:?WDTS_BIN_DIR is not set: run this through ctest or tests/run.sh}/wdt-localkafka
command -v kcat >/dev/null || { echo "FAIL: kcat is not installed (deploy/local/packages.txt)" >&2; exit 1; }
[[ -x "$bin" ]] || { echo "FAIL: $bin is not built" >&2; exit 1; }

tmp=$(mktemp -d /tmp/wdts-0150.XXXXXX)
pid=
cleanup() {
    if [[ -n "$pid" ]]; then kill -9 "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [[ -f "$tmp/log" ]]; then sed 's/^/  log: /' "$tmp/log" >&2; fi
    exit 1
}

# usage_error EXPECTED_TEXT ARGS...: must exit 64 and say EXPECTED_TEXT on stderr.
usage_error() {
    local expect=$1 rc=0 err
    shift
    err=$(timeout 10 "$bin" "$@" 2>&1 >/dev/null) || rc=$?
    [[ $rc -eq 64 ]] || fail "wdt-localkafka $* exited $rc, expected 64"
    grep -qF -- "$expect" <<<"$err" || fail "wdt-localkafka $*: expected '$expect' in: $err"
    echo "ok: $* -> 64: $(head -1 <<<"$err")"
}

usage_error "--brokers '0'" --brokers 0
usage_error "--brokers needs a value" --brokers
usage_error "expected NAME:PARTITIONS" --topic lk.x
usage_error "bad partition count" --topic lk.x:0
usage_error "bad replication factor" --brokers 2 --topic lk.x:2:3
usage_error "bad topic name" --topic 'a/b:2'
usage_error "topic given twice" --topic a:2 --topic a:3
usage_error "unknown option '--bogus'" --bogus
usage_error "unexpected argument" stray
help=$("$bin" --help) || fail "--help did not exit 0"
grep -q "^usage: wdt-localkafka" <<<"$help" || fail "--help printed no usage"
grep -q "5 MB" <<<"$help" || fail "--help does not mention the 5 MB limit"

# Start one with a 7-partition topic and a control FIFO.
"$bin" --brokers 3 --topic lk.seven:7 --bootstrap-file "$tmp/boot" --control "$tmp/ctl" \
    >"$tmp/log" 2>&1 </dev/null &
pid=$!
for _ in $(seq 1 200); do
    [[ -s "$tmp/boot" ]] && break
    kill -0 "$pid" 2>/dev/null || fail "wdt-localkafka exited early"
    sleep 0.05
done
[[ -s "$tmp/boot" ]] || fail "no bootstrap file after 10 s"
[[ -p "$tmp/ctl" ]] || fail "the control FIFO $tmp/ctl was not created"
boot=$(cat "$tmp/boot")
[[ "$boot" =~ ^127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+$ ]] ||
    fail "bootstrap list '$boot' is not 3 loopback brokers"
grep -qxF "$boot" "$tmp/log" || fail "the bootstrap list was not printed on stdout"
echo "ok: started, bootstrap $boot"

meta() { timeout 30 kcat -L -b "$1" -m 5 2>/dev/null; }

md=$(meta "$boot") || fail "kcat -L failed"
grep -qF 'topic "lk.seven" with 7 partitions' <<<"$md" || fail "lk.seven has not 7 partitions: $md"
n=$(awk '/topic "lk.seven"/{t=1; next} /topic "/{t=0} t && /partition [0-9]+,/{n++} END{print n+0}' <<<"$md")
[[ $n -eq 7 ]] || fail "kcat listed $n partitions of lk.seven, expected 7"
echo "ok: kcat -L shows lk.seven with 7 partitions"

# ctl LINE EXPECTED_LOG_TEXT: sends one command and waits for its answer in the log.
ctl() {
    local line=$1 expect=$2
    timeout 5 bash -c 'printf "%s\n" "$1" >"$2"' _ "$line" "$tmp/ctl" ||
        fail "could not write '$line' to the control FIFO"
    for _ in $(seq 1 100); do
        grep -qF -- "$expect" "$tmp/log" && { echo "ok: '$line' -> $expect"; return 0; }
        sleep 0.05
    done
    fail "no answer '$expect' to '$line'"
}

b2=$(awk '/broker 2 at/{print $4}' <<<"$md")
[[ -n "$b2" ]] || fail "kcat -L listed no broker 2"
ctl "down 2" "down 2: ok"
if meta "$b2" >/dev/null; then fail "broker 2 ($b2) still answers after 'down 2'"; fi
others=${boot//$b2/}
others=${others//,,/,}
others=${others#,}
others=${others%,}
meta "$others" >/dev/null || fail "brokers 1 and 3 ($others) stopped answering after 'down 2'"
echo "ok: broker 2 refuses connections, the others answer"
ctl "up 2" "up 2: ok"
meta "$b2" >/dev/null || fail "broker 2 ($b2) does not answer after 'up 2'"
echo "ok: broker 2 answers again"

cur=$(awk '/topic "lk.seven"/{t=1} t && /partition 0,/{sub(",", "", $4); print $4; exit}' <<<"$md")
new=$((cur % 3 + 1))
ctl "leader lk.seven 0 $new" "leader lk.seven 0 $new: ok"
md=$(meta "$boot") || fail "kcat -L failed"
grep -A8 'topic "lk.seven"' <<<"$md" | grep -q "partition 0, leader $new," ||
    fail "partition 0 of lk.seven is not led by broker $new: $md"
echo "ok: partition 0 moved from broker $cur to $new"

ctl "create lk.five 5" "create lk.five: ok"
md=$(meta "$boot") || fail "kcat -L failed"
grep -qF 'topic "lk.five" with 5 partitions' <<<"$md" || fail "lk.five has not 5 partitions"
ctl "create lk.five 5" "create lk.five: error: the topic already exists"
ctl "rtt 1 5" "rtt 1 5: ok"
ctl "frobnicate 1" "unknown command 'frobnicate'"
ctl "down 9" "bad broker id '9'"
ctl "leader lk.seven 7 1" "bad partition '7'"
ctl "leader nosuch 0 1" "leader nosuch: error: unknown topic"
ctl "error OffsetCommit REBALANCE_IN_PROGRESS 2" "error OffsetCommit REBALANCE_IN_PROGRESS 2: ok"
ctl "clear OffsetCommit" "clear OffsetCommit: ok"
ctl "error Nope _TRANSPORT" "unknown request type 'Nope'"
ctl "error Produce NO_SUCH_ERROR" "unknown error 'NO_SUCH_ERROR'"
kill -0 "$pid" 2>/dev/null || fail "wdt-localkafka died during the control commands"

# SIGTERM: exit 0 within a few seconds, FIFO and bootstrap file removed.
t0=$(date +%s%N)
kill -TERM "$pid"
for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
done
kill -0 "$pid" 2>/dev/null && fail "still running 5 s after SIGTERM"
rc=0
wait "$pid" || rc=$?
pid=
ms=$((($(date +%s%N) - t0) / 1000000))
[[ $rc -eq 0 ]] || fail "exited $rc after SIGTERM, expected 0"
[[ ! -e "$tmp/ctl" ]] || fail "the control FIFO was left behind"
[[ ! -e "$tmp/boot" ]] || fail "the bootstrap file was left behind"
echo "ok: SIGTERM -> exit 0 after $ms ms, FIFO and bootstrap file removed"
