#!/usr/bin/env bash
# The pods' runtime conditions, without a container engine: each long-running program of
# build/bin (wdt-worker, wdt-scheduler; wdt-localkafka always) runs in a mount namespace of
# its own with the root filesystem read-only and an empty tmpfs on /tmp, as UID/GID 10001,
# from /, with only the environment its Deployment gives it in the rendered dev overlay
# (ConfigMap + container env, secrets as 0440 files) pointed at a local Redis and Kafka.
# It must answer /healthz, then /readyz "ready", serve /metrics, and exit 0 on SIGTERM well
# inside terminationGracePeriodSeconds. Needs root (unshare, mount, setpriv).
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=deploy/local/lib.sh
source "$WDTS_SOURCE_DIR/deploy/local/lib.sh"
cd "$WDTS_SOURCE_DIR"
bin_dir=${WDTS_BIN_DIR:-$WDTS_SOURCE_DIR/build/bin}
uid=10001

[[ $(id -u) -eq 0 ]] || deploy_fail "runs as root only (unshare -m, mount, setpriv)"
command -v unshare >/dev/null && command -v setpriv >/dev/null ||
    deploy_fail "unshare and setpriv (util-linux) are needed"
deploy_npm_ci

# Outside /tmp: the programs get an empty /tmp of their own.
work=$(mktemp -d /var/tmp/wdts-runtime.XXXXXX)
cleanup() {
    wdts_stop "${WDTS_KAFKA_PID:-}" "${WDTS_REDIS_PID:-}"
    rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"
# The programs as in the image: copied out of the build tree, which may lie under /tmp.
mkdir -p "$work/bin"
cp "$bin_dir"/* "$work/bin/"
chmod 755 "$work/bin" "$work/bin"/*

node deploy/validate/render.mjs deploy/k8s/overlays/dev >"$work/dev.yaml"
# env_of DEPLOYMENT: KEY=value lines of the container's envFrom ConfigMap and env.
env_of() {
    node --input-type=module -e '
        import { parseYamlFile } from "./deploy/validate/kustomize.mjs";
        const objs = parseYamlFile(process.argv[1]);
        const d = objs.find((o) => o.kind === "Deployment" && o.metadata.name === process.argv[2]);
        const c = d.spec.template.spec.containers[0];
        for (const ef of c.envFrom || []) {
            const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === ef.configMapRef.name);
            for (const [k, v] of Object.entries(cm.data)) console.log(`${k}=${v}`);
        }
        for (const e of c.env || []) console.log(`${e.name}=${e.value}`);
    ' "$work/dev.yaml" "$1"
}
grace_of() {
    node --input-type=module -e '
        import { parseYamlFile } from "./deploy/validate/kustomize.mjs";
        const d = parseYamlFile(process.argv[1]).find((o) => o.kind === "Deployment" &&
            o.metadata.name === process.argv[2]);
        console.log(d.spec.template.spec.terminationGracePeriodSeconds);
    ' "$work/dev.yaml" "$1"
}

# The Secret, as Kubernetes mounts it (defaultMode 0440, group fsGroup).
mkdir -p "$work/secrets"
od -An -tx1 -N32 /dev/urandom | tr -d " \n" >"$work/secrets/secret-key"
chown -R "$uid:$uid" "$work/secrets"
chmod 0440 "$work/secrets/"*
chmod 0550 "$work/secrets"

wdts_start_redis "$work/redis"
WDTS_WAIT_S=30 wdts_start_kafka "$work/kafka" "$bin_dir" wdt.jobs:3 wdt.records:3 wdt.dlq:1

# run_in_pod LOG ENVFILE PROGRAM [ARGS...]: starts PROGRAM under the pod's conditions in the
# background; sets POD_PID.
run_in_pod() {
    local log=$1 envfile=$2
    shift 2
    local envs=()
    mapfile -t envs <"$envfile"
    # shellcheck disable=SC2016 # expanded by the inner shell
    unshare -m sh -c '
        mount --make-rprivate / && mount -o remount,bind,ro / &&
        mount -t tmpfs -o size=16m,mode=1777 tmpfs /tmp && cd / && exec "$@"' sh \
        env -i PATH=/usr/local/bin:/usr/bin:/bin "${envs[@]}" \
        setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@" >"$log" 2>&1 &
    POD_PID=$!
}

http_get() { curl -fsS --max-time 3 "http://127.0.0.1:$1$2"; }

checked=0
for prog in wdt-worker wdt-scheduler; do
    if [[ ! -x "$bin_dir/$prog" ]]; then
        deploy_fail "$prog is not built in $bin_dir: build the project first"
    fi
    deployment=wdtsync-${prog#wdt-}
    echo "== $prog as in $deployment"
    # A free port can be taken by a parallel test before the program binds it: on
    # "already in use" the pod is started again on another port (at most 3 times).
    for attempt in 1 2 3; do
        port=$(wdts_free_port)
        {
            env_of "$deployment" | sed "s#/etc/wdtsync/secrets#$work/secrets#"
            echo "WDT_REDIS_URL=redis://127.0.0.1:$WDTS_REDIS_PORT/0"
            echo "WDT_KAFKA_BOOTSTRAP_SERVERS=$WDTS_KAFKA_BOOTSTRAP"
            echo "WDT_HTTP_LISTEN=127.0.0.1:$port"
            # the local Kafka's first join takes 3 s; 45 s would only slow the test down
            echo "WDT_KAFKA_SESSION_TIMEOUT_MS=6000"
            echo "WDT_KAFKA_HEARTBEAT_INTERVAL_MS=1000"
        } | awk -F= '{ last[$1] = $0; order[NR] = $1 } END {
            for (i = 1; i <= NR; i++) if (!seen[order[i]]++) print last[order[i]] }' >"$work/$prog.env"
        grace=$(grace_of "$deployment")
        run_in_pod "$work/$prog.log" "$work/$prog.env" "$work/bin/$prog"
        pid=$POD_PID
        healthy=0 ready=0
        for _ in $(seq 1 300); do
            kill -0 "$pid" 2>/dev/null || break
            ((healthy)) || { http_get "$port" /healthz >/dev/null 2>&1 && healthy=1; }
            if ((healthy)) && [[ "$(http_get "$port" /readyz 2>/dev/null)" == ready* ]]; then
                ready=1
                break
            fi
            sleep 0.1
        done
        if ((!ready)) && ((attempt < 3)) && grep -q "already in use" "$work/$prog.log"; then
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            echo "port $port was taken meanwhile; again on another port"
            continue
        fi
        break
    done
    if ((!ready)); then
        tail -20 "$work/$prog.log"
        deploy_fail "$prog did not become ready under the pod's conditions (healthz=$healthy)"
    fi
    metrics=$(http_get "$port" /metrics) || deploy_fail "$prog: GET /metrics failed"
    grep -q '^# TYPE wdt_' <<<"$metrics" || deploy_fail "$prog: /metrics has no wdt_* metric"
    start=$SECONDS
    kill -TERM "$pid"
    rc=0
    for _ in $(seq 1 $((grace * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"
        deploy_fail "$prog still ran ${grace} s after SIGTERM (terminationGracePeriodSeconds)"
    fi
    wait "$pid" || rc=$?
    ((rc == 0)) || { tail -20 "$work/$prog.log"; deploy_fail "$prog exited $rc after SIGTERM"; }
    if grep -q '"level":"error"' "$work/$prog.log"; then
        grep '"level":"error"' "$work/$prog.log" | head -5
        deploy_fail "$prog logged errors under the pod's conditions"
    fi
    echo "$prog: healthy, ready, metrics served, exit 0 within $((SECONDS - start)) s of SIGTERM (grace ${grace} s)"
    checked=$((checked + 1))
done

# Always: the local Kafka program under the same conditions writes its bootstrap file to
# /tmp only, and nothing can be written anywhere else.
echo "== wdt-localkafka and a write outside /tmp"
# the programs are on PATH inside the pod, as in the image (/usr/local/bin there)
envs_path="PATH=$work/bin:/usr/bin:/bin"
printf '%s\n' "$envs_path" >"$work/none.env"
run_in_pod "$work/probe.log" "$work/none.env" sh -c '
    if touch /probe 2>/dev/null || touch /var/tmp/probe 2>/dev/null; then
        echo "root filesystem is writable"; exit 1
    fi
    wdt-localkafka --brokers 1 --topic t:1 --bootstrap-file /tmp/boot & p=$!
    i=0; while [ ! -s /tmp/boot ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s /tmp/boot ] || { echo "no bootstrap file"; kill $p; exit 1; }
    kill -TERM $p; wait $p'
wait "$POD_PID" || { cat "$work/probe.log"; deploy_fail "wdt-localkafka under the pod's conditions"; }
echo "wdt-localkafka: ran as UID $uid with a read-only root; writes outside /tmp refused"
echo "runtime: $checked long-running programs checked"
