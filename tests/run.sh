#!/usr/bin/env bash
# The one test command: installs what is missing, builds, starts a real Redis and
# the local Kafka, runs every ctest test (unit and integration), stops what it
# started, and fails on any failure or skipped test (a skip is accepted, and listed, only
# when the test recorded a limitation of the machine itself in $WDT_TEST_SKIP_LOG).
#
#   tests/run.sh                 everything
#   WDT_TESTS=sign tests/run.sh  only tests whose name matches the regex
#   WDTS_SANITIZE=1 tests/run.sh build with ASan/UBSan (into build-asan/)
set -euo pipefail
# shellcheck source=deploy/local/lib.sh
source "$(dirname "$0")/../deploy/local/lib.sh"
cd "$WDTS_ROOT"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

wdts_install_packages

build_dir=$WDTS_ROOT/build
cmake_opts=(-DWDTS_WERROR=ON)
if [[ "${WDTS_SANITIZE:-0}" == 1 ]]; then
    build_dir=$WDTS_ROOT/build-asan
    cmake_opts+=(-DWDTS_SANITIZE=ON)
fi
echo "== build ($build_dir)"
wdts_build "$build_dir" "${cmake_opts[@]}"

tmp=$(mktemp -d /tmp/wdts-tests.XXXXXX)
cleanup() {
    wdts_stop "${WDTS_KAFKA_PID:-}" "${WDTS_REDIS_PID:-}"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== services"
wdts_start_redis "$tmp/redis"
wdts_start_kafka "$tmp/kafka" "$build_dir/bin" wdt.jobs:12 wdt.records:24 wdt.dlq:3 wdt.test:12
export WDT_TEST_REDIS_URL="redis://127.0.0.1:$WDTS_REDIS_PORT"
export WDT_TEST_KAFKA_BROKERS="${WDTS_KAFKA_BOOTSTRAP:-}"
export WDT_TEST_KAFKA_CTL="$tmp/kafka/kafka.ctl"
export WDT_TEST_NO_SKIP=1
export WDT_TEST_SKIP_LOG=$tmp/machine-skips
export WDTS_BIN_DIR="$build_dir/bin"
echo "redis $WDT_TEST_REDIS_URL, kafka $WDT_TEST_KAFKA_BROKERS"

echo "== tests"
ctest_args=(--test-dir "$build_dir" --output-on-failure -j "$(nproc)")
[[ -n "${WDT_TESTS:-}" ]] && ctest_args+=(-R "$WDT_TESTS")
set +e
ctest "${ctest_args[@]}" 2>&1 | tee "$tmp/ctest.log"
rc=${PIPESTATUS[0]}
set -e
# A skipped test is a failure, every service is running; except a test that wrote
# "<test>: <reason>" to $WDT_TEST_SKIP_LOG: this machine cannot do what it needs (e.g. its
# kernel refuses the namespaces containers need). Those are listed, never passed silently.
if grep -q "Not Run" "$tmp/ctest.log"; then
    echo "tests/run.sh: a test did not run" >&2
    rc=1
fi
mapfile -t skipped < <(sed -n 's/.*Test *#[0-9]*: \([^ ]*\) .*\*\*\*Skipped.*/\1/p' "$tmp/ctest.log")
for test in "${skipped[@]}"; do
    reason=$(awk -v t="$test: " 'index($0, t) == 1 { print; exit }' "$WDT_TEST_SKIP_LOG" 2>/dev/null || true)
    if [[ -n "$reason" ]]; then
        echo "tests/run.sh: SKIPPED (a limitation of this machine) $reason" >&2
    else
        echo "tests/run.sh: $test was skipped; every service is running, so that is a failure" >&2
        rc=1
    fi
done
if ! grep -q "tests passed" "$tmp/ctest.log"; then
    echo "tests/run.sh: ctest ran no test" >&2
    rc=1
fi
exit "$rc"
