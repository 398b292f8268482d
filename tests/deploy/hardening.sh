#!/usr/bin/env bash
# Every built program (build/bin/*) carries the hardening of CMakeLists.txt (WDTS_HARDEN, on by
# default): a position-independent executable (ELF type DYN with the PIE flag), full RELRO
# (a GNU_RELRO segment and BIND_NOW), the stack protector (__stack_chk_fail imported) and,
# except in a sanitizer build, fortified libc calls (some __*_chk imported). A binary built
# without them, compiled here, must fail the same check.
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$WDTS_SOURCE_DIR"
bin_dir=${WDTS_BIN_DIR:-$WDTS_SOURCE_DIR/build/bin}
cache="$(dirname "$bin_dir")/CMakeCache.txt"
fortify=1
if grep -q '^WDTS_SANITIZE:BOOL=ON' "$cache" 2>/dev/null; then
    fortify=0 # ASan checks the accesses itself; FORTIFY is off there by design
fi

# Prints what $1 lacks (nothing when it is hardened). $2: 1 to require fortified calls.
missing() {
    local f=$1 want_fortify=$2 hdr dyn phdr syms chk out=()
    hdr=$(readelf -h "$f" 2>/dev/null)
    dyn=$(readelf -d "$f" 2>/dev/null)
    phdr=$(readelf -l -W "$f" 2>/dev/null)
    syms=$(readelf --dyn-syms -W "$f" 2>/dev/null)
    grep -q 'Type:[[:space:]]*DYN' <<<"$hdr" || out+=("PIE (ELF type is not DYN)")
    grep -q 'FLAGS_1.*PIE' <<<"$dyn" || out+=("PIE flag")
    grep -q GNU_RELRO <<<"$phdr" || out+=("RELRO")
    grep -qE 'BIND_NOW|FLAGS.*[[:space:]]NOW' <<<"$dyn" || out+=("BIND_NOW (-z now)")
    grep -q '__stack_chk_fail' <<<"$syms" || out+=("stack protector (__stack_chk_fail)")
    if [[ $want_fortify == 1 ]]; then
        chk=$(grep -oE '__[a-z0-9_]+_chk\b' <<<"$syms" | sort -u || true)
        grep -qv '^__stack_chk' <<<"$chk" || out+=("_FORTIFY_SOURCE (no __*_chk call)")
    fi
    if [[ ${#out[@]} -gt 0 ]]; then printf '%s\n' "${out[@]}"; fi
}

echo "== the check catches a binary built without hardening"
tmp=$(mktemp -d /tmp/wdts-harden.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/plain.c" <<'C'
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", argc > 1 ? argv[1] : "x");
    return (int)strlen(buf);
}
C
cc -O2 -fno-stack-protector -U_FORTIFY_SOURCE -no-pie -fno-pie -Wl,-z,norelro,-z,lazy \
    -o "$tmp/plain" "$tmp/plain.c"
lacks=$(missing "$tmp/plain" 1)
[[ $(wc -l <<<"$lacks") -ge 5 ]] || deploy_fail "an unhardened binary passed the check; it lacks only: $lacks"
echo "caught: an unhardened binary lacks $(paste -sd, <<<"$lacks")"

echo "== every program is hardened (fortify checked: $fortify)"
mapfile -t progs < <(find "$bin_dir" -maxdepth 1 -type f -perm -u+x | sort)
[[ ${#progs[@]} -gt 0 ]] || deploy_fail "no programs in $bin_dir: build first"
bad=0
for p in "${progs[@]}"; do
    lacks=$(missing "$p" "$fortify")
    if [[ -n $lacks ]]; then
        echo "$(basename "$p") lacks: $(paste -sd, <<<"$lacks")" >&2
        bad=1
    fi
done
[[ $bad == 0 ]] || deploy_fail "programs built without hardening (CMakeLists.txt, WDTS_HARDEN)"
echo "hardened: $(for p in "${progs[@]}"; do basename "$p"; done | paste -sd' ')"
