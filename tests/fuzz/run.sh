#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan) and runs each for a
# bounded time from its seed corpus tests/fuzz/corpus/<target>/; fails on any crash,
# sanitizer report, leak or timeout. ctest runs it once per target (label fuzz).
#
#   tests/fuzz/run.sh                         build, then run every target
#   tests/fuzz/run.sh json_scan               build, then run one target
#   WDTS_FUZZ_TIME=600 tests/fuzz/run.sh job  run one target longer (seconds)
#   tests/fuzz/run.sh job -- -jobs=2          extra libFuzzer flags after --
#   tests/fuzz/run.sh --build-only            only build; --no-build: only run
#
# The build goes to $WDTS_FUZZ_BUILD (default build-fuzz/); new inputs libFuzzer finds
# go to $WDTS_FUZZ_BUILD/corpus/<target>/, crashes to $WDTS_FUZZ_BUILD/artifacts/<target>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${WDTS_FUZZ_BUILD:-$root/build-fuzz}
time_s=${WDTS_FUZZ_TIME:-20}
runs=${WDTS_FUZZ_RUNS:-2000000}

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

do_build=1 do_run=1
targets=() extra=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --build-only) do_run=0 ;;
    --no-build) do_build=0 ;;
    --) shift; extra=("$@"); break ;;
    *) targets+=("$1") ;;
    esac
    shift
done
if [[ ${#targets[@]} -eq 0 ]]; then
    for src in "$root"/tests/fuzz/fuzz_*.c; do
        name=$(basename "$src" .c)
        targets+=("${name#fuzz_}")
    done
fi

fail() {
    echo "tests/fuzz/run.sh: $*" >&2
    exit 1
}

# clang and its libFuzzer runtime come from deploy/local/packages.txt; without them the
# fuzz tests fail (never pass silently).
check_toolchain() {
    command -v clang >/dev/null ||
        fail "clang not found: install the Debian package clang (deploy/local/packages.txt)"
    local probe
    probe=$(mktemp -d /tmp/wdts-fuzz-probe.XXXXXX)
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
        >"$probe/probe.c"
    if ! clang -fsanitize=fuzzer,address,undefined "$probe/probe.c" -o "$probe/probe" \
        >"$probe/log" 2>&1; then
        cat "$probe/log" >&2
        rm -rf "$probe"
        fail "clang cannot link libFuzzer with ASan/UBSan: install the Debian package" \
            "libclang-rt-14-dev (deploy/local/packages.txt)"
    fi
    rm -rf "$probe"
}

if ((do_build)); then
    check_toolchain
    echo "== build fuzz targets ($build)"
    mkdir -p "$build"
    cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DWDTS_FUZZ=ON -DWDTS_BUILD_TESTS=OFF -DWDTS_HARDEN=OFF >"$build/cmake.log" 2>&1 ||
        { cat "$build/cmake.log" >&2; fail "cmake failed"; }
    fuzz_targets=()
    for t in "${targets[@]}"; do fuzz_targets+=("fuzz-$t"); done
    cmake --build "$build" -j "$(nproc)" --target "${fuzz_targets[@]}" >"$build/build.log" 2>&1 ||
        { tail -50 "$build/build.log" >&2; fail "build failed (log: $build/build.log)"; }
fi
((do_run)) || exit 0

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
rc=0
for t in "${targets[@]}"; do
    bin=$build/fuzz/fuzz-$t
    seeds=$root/tests/fuzz/corpus/$t
    [[ -x "$bin" ]] || fail "$bin is missing: build it first (tests/fuzz/run.sh --build-only $t)"
    [[ -d "$seeds" ]] || fail "no seed corpus $seeds"
    mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
    echo "== fuzz $t (${time_s}s at most, $runs runs at most)"
    start=$SECONDS
    # New inputs go to the first directory; the seeds (and crash reproducers) are only read.
    if "$bin" -max_total_time="$time_s" -runs="$runs" -rss_limit_mb=2048 -timeout=10 \
        -max_len=16384 -print_final_stats=1 -artifact_prefix="$build/artifacts/$t/" \
        ${extra[@]+"${extra[@]}"} "$build/corpus/$t" "$seeds" >"$build/fuzz-$t.log" 2>&1; then
        grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units)' "$build/fuzz-$t.log" || true
        echo "fuzz $t: passed in $((SECONDS - start))s"
    else
        tail -80 "$build/fuzz-$t.log" >&2
        echo "fuzz $t: FAILED (log $build/fuzz-$t.log; reproducer in $build/artifacts/$t/;" \
            "rerun with: $bin <file>; then add it to tests/fuzz/corpus/$t/)" >&2
        rc=1
    fi
done
exit "$rc"
