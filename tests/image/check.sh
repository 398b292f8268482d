#!/usr/bin/env bash
# The image that image/build made, run: it holds exactly the programs of component
# "runtime" (no test tool: wdt-sandbox, wdt-localkafka), each answers --help; it runs as
# UID/GID 10001 by default; with --read-only and a tmpfs on /tmp nothing can be written
# but /tmp; every shared library of every program resolves (ldd inside the image); and
# its size (printed) is at most 100 MB.
set -euo pipefail
# shellcheck source=tests/image/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$WDTS_ROOT"
t0=$SECONDS
img_require_image
trap img_cleanup EXIT
trap 'exit 130' INT TERM

# in_image ARGS...: runs ARGS in a container of the image as a pod runs it: a read-only root
# (without podman's own tmpfs on /var/tmp and /run) and an emptyDir on /tmp.
in_image() {
    podman run --rm --label "wdts.run=$IMG_RUN_ID" --network none --read-only \
        --read-only-tmpfs=false --tmpfs /tmp:rw,size=16m,mode=1777 "$IMG_TAG" "$@"
}

echo "== the programs"
want=()
for d in cmd/*/; do
    prog=$(basename "$d")
    printf '%s\n' "${IMG_TEST_TOOLS[@]}" | grep -qx "$prog" || want+=("$prog")
done
have=$(in_image sh -c 'cd /usr/local/bin && ls') || img_fail "cannot list /usr/local/bin in the image"
[[ "$(printf '%s\n' "${want[@]}" | sort)" == "$(sort <<<"$have")" ]] ||
    img_fail "/usr/local/bin holds: $(echo "$have"), expected: ${want[*]}"
for tool in "${IMG_TEST_TOOLS[@]}"; do
    if in_image sh -c "command -v $tool" >/dev/null; then
        img_fail "the test tool $tool is in the runtime image"
    fi
done
echo "programs: ${want[*]} (test tools absent: ${IMG_TEST_TOOLS[*]})"
for prog in "${want[@]}"; do
    out=$(in_image "$prog" --help 2>&1) || img_fail "$prog --help failed in the image: $out"
    grep -qi "usage" <<<"$out" || img_fail "$prog --help printed no usage: $(head -3 <<<"$out")"
    echo "$prog --help: $(head -1 <<<"$out")"
done

echo "== user"
user=$(podman image inspect --format '{{.Config.User}}' "$IMG_TAG")
[[ $user == 10001:10001 ]] || img_fail "the image's USER is '$user', not 10001:10001"
uid_gid=$(in_image sh -c 'echo "$(id -u):$(id -g)"')
[[ $uid_gid == 10001:10001 ]] || img_fail "a container runs as $uid_gid, not 10001:10001"
echo "runs as UID:GID $uid_gid"

echo "== read-only root filesystem"
out=$(in_image sh -c '
    for d in / /usr/local/bin /var/tmp /run /etc /nonexistent; do
        if touch "$d/.probe" 2>/dev/null; then echo "writable: $d"; exit 1; fi
    done
    echo data >/tmp/probe && [ "$(cat /tmp/probe)" = data ] || { echo "/tmp not writable"; exit 1; }
    echo "/tmp writable, nothing else"') || img_fail "read-only root: $out"
echo "$out"

echo "== shared libraries"
# missing_libs [SETUP]: the libraries ldd cannot resolve for the programs, one per line,
# after the shell command SETUP ran in the container (as root, to break the image on purpose).
missing_libs() {
    local user=() out
    [[ -n "${1:-}" ]] && user=(--user 0)
    out=$(podman run --rm --label "wdts.run=$IMG_RUN_ID" --network none "${user[@]}" "$IMG_TAG" \
        sh -c "${1:-true}"' && for p in /usr/local/bin/*; do ldd "$p" || exit 1; done') ||
        img_fail "ldd failed in the image: $out"
    grep -c '=> /' <<<"$out" >"$IMG_CACHE/check-resolved.$$"
    grep "not found" <<<"$out" | awk '{ print $1 }' | sort -u || true
}
unresolved=$(missing_libs)
resolved=$(cat "$IMG_CACHE/check-resolved.$$")
[[ -z "$unresolved" ]] || img_fail "libraries missing from the image: $(echo "$unresolved")"
((resolved > 0)) || img_fail "ldd resolved no library in the image"
# the check itself sees a library that is not there
unresolved=$(missing_libs 'rm -f /usr/lib/*/libjansson.so.4*')
rm -f "$IMG_CACHE/check-resolved.$$"
[[ $unresolved == libjansson.so.4 ]] ||
    img_fail "with libjansson removed, the library check found: '${unresolved:-nothing}'"
echo "$resolved libraries resolved, none missing (caught: libjansson.so.4 removed)"

echo "== size"
size=$(podman image inspect --format '{{.Size}}' "$IMG_TAG")
echo "image size: $((size / 1000000)) MB ($size bytes)"
((size <= IMG_MAX_BYTES)) || img_fail "the image is $((size / 1000000)) MB, over $((IMG_MAX_BYTES / 1000000)) MB"
echo "image/check: $((SECONDS - t0)) s"
