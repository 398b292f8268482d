# shellcheck shell=bash disable=SC2034 # the IMG_* variables are read by the scripts that source this
# Shared by the image tests (tests/image/*.sh, label "image"): podman with a configuration
# of its own, its storage and the Debian base under the build tree, so that nothing in
# /etc/containers is touched and reruns reuse what the first run made. Source it.
#
# State: $IMG_CACHE (default <build>/image-cache/): storage/ (podman's images and layers),
# debian-bookworm-slim.tar (the base made with mmdebstrap), containers.conf, storage.conf,
# registries.conf. Remove the directory to start cold: `rm -rf build/image-cache` (as root).

# shellcheck source=deploy/local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../deploy/local/lib.sh"

IMG_BIN=${WDTS_BIN_DIR:-$WDTS_ROOT/build/bin}
IMG_CACHE=${WDTS_IMAGE_CACHE:-$(dirname "$IMG_BIN")/image-cache}
IMG_TAG=${WDTS_IMAGE_TAG:-localhost/wdtsync:test}
IMG_BASE=docker.io/library/debian:bookworm-slim
IMG_NAME=${WDTS_TEST_NAME:-image/$(basename "$0" .sh)}
# The image's programs: component "runtime" (every cmd/ but the test tools).
IMG_TEST_TOOLS=(wdt-sandbox wdt-localkafka)
# Image size limit, bytes (as podman counts: the uncompressed layers).
IMG_MAX_BYTES=$((100 * 1000 * 1000))

img_fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

# img_unavailable KIND REASON [--found]: podman cannot run containers here; says why in one line.
# KIND "machine": a limitation of the machine itself (its kernel or its sandbox refuses
# namespaces or cgroups): skipped (77), and the reason is appended to $WDT_TEST_SKIP_LOG,
# which tests/run.sh reads to accept this skip and list it. Any other KIND is a failure
# under WDT_TEST_NO_SKIP=1 (tests/run.sh), a skip otherwise. The reason is kept in
# $IMG_CACHE/unavailable for the tests that need the image built by image/build (which
# pass --found when they repeat it).
img_unavailable() {
    local kind=$1 reason=$2
    if [[ ${3:-} != --found ]]; then
        mkdir -p "$IMG_CACHE"
        printf '%s %s\n' "$kind" "$reason" >"$IMG_CACHE/unavailable"
    fi
    if [[ $kind == machine ]]; then
        echo "SKIP: podman cannot run containers on this machine: $reason"
        [[ -n "${WDT_TEST_SKIP_LOG:-}" ]] &&
            printf '%s: %s\n' "$IMG_NAME" "$reason" >>"$WDT_TEST_SKIP_LOG"
        exit 77
    fi
    if [[ "${WDT_TEST_NO_SKIP:-}" == 1 ]]; then
        echo "FAIL: podman cannot run containers: $reason"
        exit 1
    fi
    echo "SKIP: podman cannot run containers: $reason"
    exit 77
}

# img_env: the podman configuration of the tests, through CONTAINERS_CONF,
# CONTAINERS_STORAGE_CONF and CONTAINERS_REGISTRIES_CONF (files under $IMG_CACHE).
# runtime runc: crun refuses the hybrid cgroup layout of our VMs; the containers' ulimits
# stay within the host's hard limits (podman's default nofile is 1048576, above them).
img_env() {
    command -v podman >/dev/null ||
        img_unavailable other "podman is not installed (deploy/local/packages.txt; tests/run.sh installs it)"
    command -v mmdebstrap >/dev/null ||
        img_unavailable other "mmdebstrap is not installed (deploy/local/packages.txt; tests/run.sh installs it)"
    mkdir -p "$IMG_CACHE/storage"
    local hard_nofile run_dir
    hard_nofile=$(ulimit -Hn)
    [[ $hard_nofile == unlimited ]] && hard_nofile=1048576
    local nproc=32768 hard_nproc
    hard_nproc=$(ulimit -Hu)
    [[ $hard_nproc != unlimited && $hard_nproc -lt $nproc ]] && nproc=$hard_nproc
    # podman's run state belongs on a tmpfs (gone at reboot); one directory per storage
    run_dir=/run/wdts-podman-$(printf '%s' "$IMG_CACHE" | sha256sum | cut -c1-12)
    cat >"$IMG_CACHE/containers.conf" <<EOF
# written by tests/image/lib.sh
[containers]
default_ulimits = ["nofile=$hard_nofile:$hard_nofile", "nproc=$nproc:$nproc"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$run_dir/libpod"
EOF
    # The kernel's overlayfs cannot stack on an overlayfs (a build tree inside a container):
    # there, fuse-overlayfs does the same in user space.
    local overlay_opts=""
    if [[ "${WDTS_IMAGE_FUSE:-}" == 1 || "$(stat -f -c %T "$IMG_CACHE")" == overlayfs ]]; then
        overlay_opts='[storage.options.overlay]
mount_program = "/usr/bin/fuse-overlayfs"'
    fi
    cat >"$IMG_CACHE/storage.conf" <<EOF
# written by tests/image/lib.sh
[storage]
driver = "overlay"
graphroot = "$IMG_CACHE/storage"
runroot = "$run_dir/storage"
$overlay_opts
EOF
    cat >"$IMG_CACHE/registries.conf" <<EOF
# written by tests/image/lib.sh: the tests never pull; short names mean docker.io
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
EOF
    export CONTAINERS_CONF=$IMG_CACHE/containers.conf
    export CONTAINERS_STORAGE_CONF=$IMG_CACHE/storage.conf
    export CONTAINERS_REGISTRIES_CONF=$IMG_CACHE/registries.conf
}

# img_probe: can this machine run containers at all? Root, namespaces, cgroups, podman.
img_probe() {
    [[ $(id -u) -eq 0 ]] ||
        img_unavailable other "runs as root only (podman with the storage under the build tree)"
    local err
    if ! err=$(unshare --mount --pid --net --ipc --uts --fork true 2>&1); then
        img_unavailable machine "the kernel refuses new namespaces: $(tail -1 <<<"$err")"
    fi
    [[ -d /sys/fs/cgroup && -n "$(ls -A /sys/fs/cgroup 2>/dev/null)" ]] ||
        img_unavailable machine "no cgroup filesystem at /sys/fs/cgroup"
    if ! err=$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>&1); then
        img_unavailable other "podman info failed: $(tail -1 <<<"$err")"
    fi
}

# img_require_image: for the tests after image/build: the image it built, or the reason
# it gave (the same skip or failure).
img_require_image() {
    img_env
    if [[ -f "$IMG_CACHE/unavailable" ]]; then
        local kind reason
        read -r kind reason <"$IMG_CACHE/unavailable"
        img_unavailable "$kind" "$reason (found by image/build)" --found
    fi
    podman image exists "$IMG_TAG" ||
        img_fail "no image $IMG_TAG in $IMG_CACHE/storage: tests/image/build.sh builds it"
}

# img_run_id: a label value naming the containers of this run; img_cleanup removes them.
IMG_RUN_ID=wdts-$$-$RANDOM
img_cleanup() {
    local ctrs=()
    mapfile -t ctrs < <(podman ps -aq --filter "label=wdts.run=$IMG_RUN_ID" 2>/dev/null || true)
    ((${#ctrs[@]} == 0)) || podman rm -f -t 0 "${ctrs[@]}" >/dev/null 2>&1 || true
}
