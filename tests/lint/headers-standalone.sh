#!/usr/bin/env bash
# Every public header must compile on its own (no hidden include order).
set -euo pipefail
root=${WDTS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0
layer_includes=$(for d in common/*/include; do printf -- '-I%s ' "$d"; done)
cflags=$(pkg-config --cflags rdkafka hiredis jansson libcurl libmicrohttpd)
for h in $(git ls-files -- 'common/*/include/wdts/*.h' 'common/*/*_int.h' 'sandbox/*.h' 'worker/*.h' 'scheduler/*.h' 'sink/*.h'); do
    n=$((n + 1))
    printf '#include "%s"\n' "$root/$h" >"$tmp/t.c"
    # shellcheck disable=SC2086 # word splitting of the flag lists is meant
    if ! cc -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -fsyntax-only $layer_includes \
        -Isandbox/include -Iworker/include -Ischeduler -Ischeduler/include -Isink -Isink/include \
        $cflags "$tmp/t.c" 2>"$tmp/err"; then
        echo "$h does not compile on its own:"
        cat "$tmp/err"
        fail=1
    fi
done
echo "$n headers checked"
exit "$fail"
