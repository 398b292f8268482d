#!/usr/bin/env bash
# End to end: three sellers (one authorised twice, through a wdt and a qimen app; one
# without the refunds interface) x every report of the catalog, synced from wdt-sandbox
# (clock 20x faster than real time) through wdt-scheduler, two wdt-workers and the local
# Kafka into wdt-sink-sqlite, then checked against `wdt-sandbox truth` with the invariant
# of docs/DESIGN.md §6. Prints records checked, missing (must be 0) and duplicates.
# Starts its own Redis, local Kafka and sandbox; about 2-4 minutes on 2 cores.
set -euo pipefail
# shellcheck source=tests/lib/stack.sh
source "$(dirname "$0")/../lib/stack.sh"

st_begin e2e # WDTS_E2E_KEEP=1 keeps $ST_DIR (logs, sink.db) after a pass too

# Every direct method (and history method) but refunds', for the seller whose app lacks
# that interface.
perms=$("$ST_BIN/wdtctl" reports --json | python3 -c '
import json, sys
rs = [r for r in json.load(sys.stdin) if r["name"] != "refunds"]
print(json.dumps([r["method"] for r in rs] + [r["history_method"] for r in rs if r.get("history_method")]))')
tenants='[
 {"sid":"e2e-shop-a","appkey":"a-app","appsecret":"a-secret:a-salt",
  "qimen_app_key":"qa-app","qimen_app_secret":"qa-secret",
  "rate_per_min":6000,"concurrency":12,"orders_per_day":3000,"seed":21},
 {"sid":"e2e-shop-b","appkey":"b-app","appsecret":"b-secret:b-salt","permissions":'$perms',
  "rate_per_min":6000,"concurrency":6,"orders_per_day":800,"seed":22},
 {"sid":"e2e-shop-c","appkey":"c-app","appsecret":"c-secret:c-salt",
  "rate_per_min":6000,"concurrency":6,"orders_per_day":300,"seed":23}]'

# The sandbox's data clock starts now and runs 20x faster (records change while they are
# paged); its gateway checks request timestamps against the real clock, as WDT does.
st_services "$tenants" speed:20 ""
st_conn a-wdt ta e2e-shop-a a-app a-secret:a-salt wdt 3d
st_conn a-qimen ta e2e-shop-a a-app a-secret:a-salt qimen 3d qa-app qa-secret
st_conn b-wdt tb e2e-shop-b b-app b-secret:b-salt wdt 3d
st_conn c-wdt tc e2e-shop-c c-app c-secret:c-salt wdt 3d
grep -q "refunds.*blocked" "$ST_DIR/logs/conn-b-wdt.log" ||
    st_fail "wdtctl connection add did not show refunds blocked for b-wdt"
st_log "4 connections added (b-wdt: refunds blocked, as its app lacks the interface)"

st_pipeline
st_wait_synced 420 || st_fail "the backfill did not finish in 420 s"
st_settle 120
st_check --blocked b-wdt:refunds --max-dead 0
st_log "e2e passed"
