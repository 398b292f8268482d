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
planted=() # files the self-test adds to its copy

check() { # check TREE [BUILD]: prints the checker's report, returns its status
    local build_opt=()
    [[ -n "${2:-}" ]] && build_opt=(--build "$2")
    printf '%s\n' "${files[@]}" "${planted[@]}" | python3 -B "$checker" --root "$1" "${build_opt[@]}"
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

# The planted violations go into whatever files the tree has now, so renames do not break this.
first() { # first REGEX [EXCEPT]: the first checked file matching REGEX and not EXCEPT
    local hit
    hit=$(printf '%s\n' "${files[@]}" | grep -E "$1" | grep -vE "${2:-^$}" | head -1 || true)
    [[ -n "$hit" ]] || { echo "self-test FAILED: no file matches $1 to plant into" >&2; exit 1; }
    echo "$hit"
}
plant() { # plant FILE INCLUDE: appends the #include, prints "FILE:LINE"
    printf '#include "%s"\n' "$2" >>"$copy/$1"
    echo "$1:$(wc -l <"$copy/$1")"
}
base_c=$(first '^common/base/[^/]+\.c$')
cfg_h=$(first '^common/config/include/wdts/[^/]+\.h$')
sched_c=$(first '^scheduler/[^/]+\.c$')
wrk_h=$(first '^worker/(include/)?[^/]+\.h$' '_int\.h$')
cmd_c=$(first '^cmd/[^/]+/[^/]+\.c$')
int_h=$(first '^(common|scheduler|worker|sandbox|sink)/.*_int\.h$')
wrk_h_name=${wrk_h#worker/include/}
wrk_h_name=${wrk_h_name#worker/}
up=$(plant "$base_c" "${cfg_h#common/config/include/}")
cross=$(plant "$sched_c" "$wrk_h_name")
private=$(plant "$cmd_c" "$(basename "$int_h")")
for side in a:b b:a; do # two new files of the scheduler that call each other
    me=${side%:*} other=${side#*:}
    printf 'void planted_%s(void);\n' "$me" >"$copy/scheduler/planted_$me.h"
    printf '#include "planted_%s.h"\nvoid planted_%s(void) { planted_%s(); }\n' \
        "$other" "$me" "$other" >"$copy/scheduler/planted_$me.c"
    planted+=("scheduler/planted_$me.h" "scheduler/planted_$me.c")
done
expected=(
    "$up: includes \"${cfg_h#common/config/include/}\" (config): base may include only base"
    "$cross: includes \"$wrk_h_name\" (worker): a module never includes another module"
    "$private: includes \"$(basename "$int_h")\" ($int_h, private to"
    "file cycle: scheduler/planted_a.c <-> scheduler/planted_b.c"
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
planted=()

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
