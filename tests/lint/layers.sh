#!/usr/bin/env bash
# The architecture, checked from the sources' #include "..." lines (common/README.md): each
# layer of common/ includes only the layers it links, a module never includes another
# module, a private header (*_int.h, or outside a layer's include/) stays in its unit, and
# no files form a cycle. The rules and the allowed edges are one table in layers.py.
#
# First a self-test on a copy of the tree: with planted violations the check must fail
# with their messages, and with none it must pass. Then the real tree, plus symbol-level
# cycles (nm on the object files) when a build directory is found ($WDTS_BUILD_DIR, the
# CMake build ctest runs in, or build/); without one that part is skipped, and says so.
set -euo pipefail
start_dir=$PWD
root=${WDTS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
checker=$root/tests/lint/layers.py
cd "$root"
dirs=(common scheduler worker sandbox sink cmd)
mapfile -t files < <(git ls-files -- "${dirs[@]}" | grep -E '\.[ch]$|(^|/)CMakeLists\.txt$')

check() { # check TREE [BUILD]: prints the checker's report, returns its status
    local build_opt=()
    [[ -n "${2:-}" ]] && build_opt=(--build "$2")
    printf '%s\n' "${files[@]}" | python3 -B "$checker" --root "$1" "${build_opt[@]}"
}

# -- self-test --------------------------------------------------------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
copy=$tmp/tree
mkdir "$copy"
printf '%s\0' "${files[@]}" | xargs -0 cp --parents -t "$copy"
if ! check "$copy" >"$tmp/clean.out"; then
    echo "self-test FAILED: the unchanged copy of the tree does not pass:"
    cat "$tmp/clean.out"
    exit 1
fi
echo "self-test, nothing planted: PASS (as required)"

plant() { # plant FILE INCLUDE: appends the #include, prints "FILE:LINE"
    printf '#include "%s"\n' "$2" >>"$copy/$1"
    echo "$1:$(wc -l <"$copy/$1")"
}
up=$(plant common/base/str.c wdts/cfg.h)
cross=$(plant scheduler/sched_plan.c wrk.h)
private=$(plant cmd/wdt-worker/main.c wrk_int.h)
plant sandbox/sbx_clock.c sbx_truth.h >/dev/null
plant sandbox/sbx_truth.c sbx_clock.h >/dev/null
printf '\nvoid sbx_truth_planted(void) { sbx_clock_planted(); }\n' >>"$copy/sandbox/sbx_truth.c"
printf '\nvoid sbx_clock_planted(void) { sbx_truth_planted(); }\n' >>"$copy/sandbox/sbx_clock.c"
printf '\nvoid sbx_clock_planted(void);\n' >>"$copy/sandbox/sbx_clock.h"
printf '\nvoid sbx_truth_planted(void);\n' >>"$copy/sandbox/sbx_truth.h"
expected=(
    "$up: includes \"wdts/cfg.h\" (config): base may include only base"
    "$cross: includes \"wrk.h\" (worker): a module never includes another module"
    "$private: includes \"wrk_int.h\" (worker/wrk_int.h, private to worker)"
    "file cycle: sandbox/sbx_clock.c <-> sandbox/sbx_truth.c"
)
if check "$copy" >"$tmp/planted.out"; then
    echo "self-test FAILED: the check passes a tree with planted violations:"
    cat "$tmp/planted.out"
    exit 1
fi
for msg in "${expected[@]}"; do
    if ! grep -qF -- "$msg" "$tmp/planted.out"; then
        echo "self-test FAILED: no message \"$msg\" in:"
        cat "$tmp/planted.out"
        exit 1
    fi
done
echo "self-test, violations planted: FAIL (as required), with:"
grep '^error: ' "$tmp/planted.out" | sed 's/^/    /'

# -- the real tree ------------------------------------------------------------------------
is_build_of_root() {
    grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$root" "$1/CMakeCache.txt" 2>/dev/null
}
build=${WDTS_BUILD_DIR:-}
if [[ -z "$build" ]]; then
    d=$start_dir
    while [[ "$d" != / ]] && ! is_build_of_root "$d"; do d=$(dirname "$d"); done
    if is_build_of_root "$d"; then build=$d; elif is_build_of_root build; then build=$root/build; fi
fi
echo
echo "the tree ($root):"
check "$root" "$build"
