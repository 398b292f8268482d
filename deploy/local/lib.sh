#!/usr/bin/env bash
# Shell functions shared by tests/run.sh and deploy/local/demo.sh: install what is
# missing, build, and start/stop the local services (Redis, the local Kafka).
# Source it: it defines functions and WDTS_ROOT; the functions set WDTS_* variables.

# The WDTS_* variables set below are read by the scripts that source this file.
# shellcheck disable=SC2034
WDTS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

wdts_log() { printf '%s\n' "$*" >&2; }

# Installs every package of deploy/local/packages.txt that is not installed yet.
wdts_install_packages() {
    local missing=() pkg provided
    # Names that installed packages provide (e.g. a Node.js build that provides npm).
    provided=$(dpkg-query -W -f='${db:Status-Abbrev} ${Provides}\n' 2>/dev/null |
        awk '$1 == "ii" { $1 = ""; print }' | tr ',' '\n' | awk '{ print $1 }' | sort -u)
    while read -r pkg; do
        [[ -z "$pkg" || "$pkg" == \#* ]] && continue
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
            grep -qx -- "$pkg" <<<"$provided" ||
            missing+=("$pkg")
    done <"$WDTS_ROOT/deploy/local/packages.txt"
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $(id -u) -ne 0 ]]; then
        wdts_log "missing Debian packages: ${missing[*]}"
        wdts_log "install them as root: apt-get install -y ${missing[*]}"
        return 1
    fi
    wdts_log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Configures and builds into $1 (default build/). Extra cmake -D options follow.
wdts_build() {
    local dir=${1:-$WDTS_ROOT/build}
    shift || true
    cmake -S "$WDTS_ROOT" -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j "$(nproc)" >/dev/null
}

# Prints a TCP port on 127.0.0.1 that nothing listens on.
wdts_free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

# Waits until command "$@" succeeds, at most $WDTS_WAIT_S seconds (default 20);
# a command that exits 2 means waiting cannot help, and the wait fails at once.
wdts_wait_for() {
    local deadline=$((SECONDS + ${WDTS_WAIT_S:-20}))
    local rc
    while true; do
        rc=0
        "$@" >/dev/null 2>&1 || rc=$?
        ((rc == 0)) && return 0
        ((rc == 2)) && return 1 # the condition says waiting cannot help
        ((SECONDS < deadline)) || return 1
        sleep 0.05
    done
}

# Succeeds when redis-server pid $2 answers on port $1; fails fast (exit 2) when it died.
wdts_redis_ready() {
    redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || return 2
    return 1
}

# wdts_redis_server DIR PORT [extra redis-server args]: redis-server in the background on
# 127.0.0.1:PORT with its files in DIR (no snapshot, no AOF unless the extra args ask for
# it); sets WDTS_REDIS_PID.
wdts_redis_server() {
    local dir=$1 port=$2
    shift 2
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' \
        --appendonly no --daemonize no --logfile "$dir/redis.log" "$@" &
    WDTS_REDIS_PID=$!
}

# wdts_start_redis DIR [extra redis-server args]: starts redis-server on a free
# port with its files in DIR; sets WDTS_REDIS_PORT and WDTS_REDIS_PID. Another
# program may take the free port first: then it tries again on another one.
wdts_start_redis() {
    local dir=$1 attempt
    shift
    mkdir -p "$dir"
    for attempt in 1 2 3 4 5; do
        WDTS_REDIS_PORT=$(wdts_free_port)
        wdts_redis_server "$dir" "$WDTS_REDIS_PORT" "$@"
        wdts_wait_for wdts_redis_ready "$WDTS_REDIS_PORT" "$WDTS_REDIS_PID" && return 0
        kill "$WDTS_REDIS_PID" 2>/dev/null || true
        wait "$WDTS_REDIS_PID" 2>/dev/null || true
        grep -q "Address already in use" "$dir/redis.log" 2>/dev/null || break
        wdts_log "redis-server: port $WDTS_REDIS_PORT was taken meanwhile (attempt $attempt)"
    done
    wdts_log "redis-server did not start; see $dir/redis.log"
    return 1
}

# Succeeds when bootstrap file $1 is written; fails fast (exit 2) when pid $2 died.
wdts_boot_ready() {
    [[ -s "$1" ]] && return 0
    kill -0 "$2" 2>/dev/null || return 2
    return 1
}

# wdts_start_kafka DIR BIN_DIR TOPIC:PARTS...: starts the local Kafka (3 brokers);
# sets WDTS_KAFKA_BOOTSTRAP and WDTS_KAFKA_PID. Its control FIFO is DIR/kafka.ctl.
wdts_start_kafka() {
    local dir=$1 bin=$2
    shift 2
    mkdir -p "$dir"
    rm -f "$dir/kafka.boot"
    local args=(--brokers 3 --bootstrap-file "$dir/kafka.boot" --control "$dir/kafka.ctl")
    local t
    for t in "$@"; do args+=(--topic "$t"); done
    "$bin/wdt-localkafka" "${args[@]}" >"$dir/kafka.log" 2>&1 </dev/null &
    WDTS_KAFKA_PID=$!
    if ! wdts_wait_for wdts_boot_ready "$dir/kafka.boot" "$WDTS_KAFKA_PID"; then
        wdts_log "the local Kafka did not start; see $dir/kafka.log"
        return 1
    fi
    WDTS_KAFKA_BOOTSTRAP=$(cat "$dir/kafka.boot")
}

# wdts_export_env KEY_FILE: the settings of the programs for the Redis and the local Kafka
# started here: their addresses, the secret key in KEY_FILE (made when missing), the HTTP
# endpoint on a free port, logs as text.
wdts_export_env() {
    [[ -s "$1" ]] || (umask 077 && openssl rand -hex 32 >"$1")
    export WDT_REDIS_URL=redis://127.0.0.1:$WDTS_REDIS_PORT/0
    export WDT_KAFKA_BOOTSTRAP_SERVERS=$WDTS_KAFKA_BOOTSTRAP
    export WDT_SECRET_KEY_FILE=$1
    export WDT_HTTP_LISTEN=127.0.0.1:0 WDT_LOG_FORMAT=text
}

# Stops the processes whose pids are given: SIGTERM, then SIGKILL after $WDTS_STOP_S
# seconds (default 10) for each.
wdts_stop() {
    local pid
    for pid in "$@"; do
        [[ -n "$pid" ]] || continue
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 1 $((${WDTS_STOP_S:-10} * 10))); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
