#!/usr/bin/env bash
# Builds deploy/docker/Dockerfile with podman as a user would (`podman build -f
# deploy/docker/Dockerfile .`, never asking a registry: --pull=never). When the storage has
# no debian:bookworm-slim, a look-alike is made first with mmdebstrap from Debian's own
# mirror (minbase, merged /usr, no docs/man pages/locales, apt caches removed and kept
# out as in the Docker images) and imported under that name. The fixture of the other
# image tests (image/check, image/pipeline). State under build/image-cache (tests/image/lib.sh).
#
#   WDTS_DEBIAN_MIRROR=http://deb.debian.org/debian        the mirror of the base
#   WDTS_DEBIAN_SECURITY=http://deb.debian.org/debian-security
set -euo pipefail
# shellcheck source=tests/image/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$WDTS_ROOT"
t0=$SECONDS

rm -f "$IMG_CACHE/unavailable"
img_env
img_probe
exec 9>"$IMG_CACHE/.lock"
flock 9 # one build per cache at a time

# Containers that an earlier run left behind (killed by a timeout before its trap ran): the
# other image tests start after this one, so every container of the tests can go.
mapfile -t stale < <(podman ps -aq --filter label=wdts.run)
if ((${#stale[@]} > 0)); then
    podman rm -f -t 0 "${stale[@]}" >/dev/null || true
    echo "removed ${#stale[@]} containers an earlier run left"
fi

mirror=${WDTS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${WDTS_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
tarball=$IMG_CACHE/debian-bookworm-slim.tar

# make_base: the look-alike of debian:bookworm-slim as a tarball (about 25 s).
make_base() {
    local tmp=$tarball.part
    rm -f "$tmp"
    # What debuerreotype puts into Debian's Docker images: dpkg keeps no docs, man pages or
    # locales; apt deletes downloaded packages and keeps no binary caches.
    local apt_clean='DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";'
    mmdebstrap --variant=minbase --mode=root --format=tar --quiet \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/groff/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --aptopt='Acquire::Languages "none"' --aptopt='Apt::AutoRemove::SuggestsImportant "false"' \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --customize-hook="printf '%s\n' '$apt_clean' >\"\$1/etc/apt/apt.conf.d/docker-clean\"" \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb "$1"/var/log/apt/* "$1"/var/log/dpkg.log' \
        bookworm "$tmp" \
        "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
        "deb $security bookworm-security main" >"$IMG_CACHE/mmdebstrap.log" 2>&1 || {
        rm -f "$tmp"
        tail -20 "$IMG_CACHE/mmdebstrap.log"
        img_fail "mmdebstrap could not make the Debian base from $mirror (set WDTS_DEBIAN_MIRROR to a reachable Debian mirror)"
    }
    mv "$tmp" "$tarball"
}

echo "== base image"
if podman image exists "$IMG_BASE"; then
    echo "$IMG_BASE: in the storage"
else
    # the tarball is made again after a week, for the point releases and security updates
    if [[ -s "$tarball" && -n "$(find "$tarball" -mtime -7)" ]]; then
        echo "$IMG_BASE: importing the cached $tarball"
    else
        t=$SECONDS
        make_base
        echo "$IMG_BASE: made with mmdebstrap from $mirror in $((SECONDS - t)) s"
    fi
    podman import --quiet --change 'CMD ["bash"]' "$tarball" "$IMG_BASE" >/dev/null ||
        img_fail "podman import of $tarball failed"
fi
# Can a container run at all? A refusal here is podman's or the kernel's: one line of why.
if ! err=$(podman run --rm --network host --read-only "$IMG_BASE" true 2>&1); then
    img_unavailable other "podman run failed: $(grep -v '^\s*$' <<<"$err" | tail -1)"
fi

echo "== podman build -f deploy/docker/Dockerfile ."
t=$SECONDS
# The build stage is tagged too, so that pruning the older images keeps its layer cache.
# --network host: RUN steps use the host's network, and no bridge or firewall rule is made.
for target in build runtime; do
    tag=$IMG_TAG
    [[ $target == build ]] && tag=${IMG_TAG%:*}-build:${IMG_TAG##*:}
    if ! podman build --pull=never --network host --target "$target" -f deploy/docker/Dockerfile \
        -t "$tag" . >"$IMG_CACHE/build-$target.log" 2>&1; then
        tail -30 "$IMG_CACHE/build-$target.log"
        img_fail "podman build failed (log: $IMG_CACHE/build-$target.log)"
    fi
done
echo "built $IMG_TAG in $((SECONDS - t)) s"
podman image prune -f >/dev/null || true
size=$(podman image inspect --format '{{.Size}}' "$IMG_TAG")
echo "image size: $((size / 1000000)) MB ($size bytes; limit $((IMG_MAX_BYTES / 1000000)) MB)"
echo "image/build: $((SECONDS - t0)) s"
