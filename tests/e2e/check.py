#!/usr/bin/env python3
"""The truth check of the end-to-end and chaos tests (docs/DESIGN.md §6).

For each connection x report: after the watermark reached W at sandbox time T, every
record whose `modified` as of T lies before W (and at or after the first sync's start) is
present downstream, in the sink's SQLite database, in that version or a later one. The
expected records come from `wdt-sandbox truth`; nothing here recomputes them. A report whose
catalog basis does not see late changes (`late_changes_seen` false in `wdtctl reports --json`:
its window is on pay, ship, creation … time) is checked by pk set: every document whose basis
time lies in the range is downstream, in the version the truth lists or an older one (a change
after its window closed arrives only when the report's lookback reads the window again); the
older versions are counted, not failed. Also checks,
when the dumps are given, that the local Kafka pruned nothing and that every job is done
(it has a window marker) or dead-lettered for a reason that is not transient. Prints the
counts and exits 1 on any failure, 0 otherwise.
"""
import argparse
import collections
import datetime
import glob
import json
import re
import sqlite3
import subprocess
import sys

# Reports whose pk in the envelope (the catalog's composite key) differs from the
# sandbox's record identity: how to derive the sandbox's pk from the record.
SANDBOX_PK = {
    "stock_changes": lambda d: "%s:%s" % (d.get("stockio_no"), d.get("spec_no")),
}
# classes that name a passing condition: a job must never end on one of them
NOT_FINAL = {"transient", "rate_limited", "clock", "delivery", "bad_answer"}


def parse_time(s):
    return int(datetime.datetime.fromisoformat(s).timestamp())


def redis_hget_many(port, prefix, pairs):
    """origin of each (connection, report) watermark, one redis-cli for all."""
    cmds = "".join("HGET %swm:{%s:%s} origin\n" % (prefix, c, r) for c, r in pairs)
    out = subprocess.run(["redis-cli", "-p", str(port)], input=cmds, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    if len(out) != len(pairs):
        sys.exit("check: redis-cli answered %d lines for %d questions" % (len(out), len(pairs)))
    return {p: (int(v) if v.strip().lstrip("-").isdigit() else None) for p, v in zip(pairs, out)}


def truth(args, sid, report, route, as_of, before, since):
    cmd = [args.sandbox, "truth", "--tenants", args.tenants, "--sid", sid, "--report", report,
           "--as-of", str(as_of), "--before", str(before), "--route", route]
    if since is not None:
        cmd += ["--since", str(since)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit("check: %s failed (%d): %s" % (" ".join(cmd), res.returncode, res.stderr))
    return [json.loads(line) for line in res.stdout.splitlines() if line.strip()]


def downstream(db, report, connection):
    """pk (the sandbox's form) -> newest modified (Unix ms) held by the sink."""
    try:
        rows = db.execute('SELECT pk, modified, data FROM "%s" WHERE connection = ?' % report,
                          (connection,)).fetchall()
    except sqlite3.OperationalError:
        return {}  # the table does not exist: the sink saw no record of this report
    held = {}
    derive = SANDBOX_PK.get(report)
    for pk, modified, data in rows:
        key = derive(json.loads(data)) if derive else pk
        if key not in held or held[key] < modified:
            held[key] = modified
    return held


def first_offsets(path):
    """partition -> (first offset, count) of a `kcat -f '%p %o\\n'` dump."""
    parts = {}
    with open(path) as f:
        for line in f:
            p, o = line.split()
            first, n = parts.get(int(p), (None, 0))
            o = int(o)
            parts[int(p)] = (o if first is None or o < first else first, n + 1)
    return parts


def check_pruning(label, path, failures):
    parts = first_offsets(path)
    total = sum(n for _, n in parts.values())
    pruned = {p: f for p, (f, _) in parts.items() if f != 0}
    print("kafka %s: %d messages in %d partitions, %s" %
          (label, total, len(parts), "nothing pruned" if not pruned else "PRUNED"))
    if pruned:
        failures.append("the local Kafka pruned %s (partition: first offset still held %s): "
                        "messages were lost before anyone read them; use more partitions or "
                        "less data" % (label, pruned))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--status", required=True, help="wdtctl status --json output")
    ap.add_argument("--catalog", required=True, help="wdtctl reports --json output")
    ap.add_argument("--conns", required=True, help="JSON: [{id, sid, route}]")
    ap.add_argument("--tenants", required=True)
    ap.add_argument("--sandbox", required=True, help="the wdt-sandbox program")
    ap.add_argument("--db", required=True, help="the sink's SQLite file")
    ap.add_argument("--as-of", type=int, required=True, help="sandbox time T, Unix s")
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--redis-prefix", default="wdt:")
    ap.add_argument("--blocked", default="", help="connection:report pairs expected blocked")
    ap.add_argument("--records-offsets", help="kcat '%%p %%o' dump of the records topic")
    ap.add_argument("--jobs-dump", help="kcat dump of the jobs topic (one JSON job a line)")
    ap.add_argument("--jobs-offsets", help="kcat '%%p %%o' dump of the jobs topic")
    ap.add_argument("--dlq-dump", help="kcat dump of the dead-letter topic")
    ap.add_argument("--max-dead", type=int, default=-1, help="most dead letters allowed")
    ap.add_argument("--worker-logs", default="", help="glob of the workers' text logs")
    args = ap.parse_args()

    status = json.load(open(args.status))
    catalog = {r["name"]: r for r in json.load(open(args.catalog))}
    conns = {c["id"]: c for c in json.load(open(args.conns))}
    expect_blocked = set(filter(None, args.blocked.split(",")))
    db = sqlite3.connect("file:%s?mode=ro" % args.db, uri=True)
    failures = []

    rows = [s for s in status if s["connection"] in conns]
    seen = {(s["connection"], s["report"]) for s in rows}
    for c in conns:
        for r in catalog:
            if (c, r) not in seen:
                failures.append("%s:%s is not in wdtctl status" % (c, r))
    origins = redis_hget_many(args.redis_port, args.redis_prefix,
                              [(s["connection"], s["report"]) for s in rows])

    print("%-14s %-18s %-8s %-25s %8s %8s %8s" %
          ("CONNECTION", "REPORT", "STATE", "WATERMARK", "TRUTH", "HELD", "MISSING"))
    checked = missing = older = 0
    for s in rows:
        c, r, state = s["connection"], s["report"], s["state"]
        pair = "%s:%s" % (c, r)
        if pair in expect_blocked or state == "blocked":
            if pair not in expect_blocked:
                failures.append("%s is blocked (%s) but should not be" % (pair, s["last_error"]))
            elif state != "blocked":
                failures.append("%s should be blocked but is %s" % (pair, state))
            print("%-14s %-18s %-8s %-25s %8s %8s %8s" % (c, r, state, "-", "-", "-", "-"))
            continue
        if state != "ok" or not s["watermark"]:
            failures.append("%s is %s, not ok: the sync did not finish (%s)" %
                            (pair, state, s["last_error"]))
            continue
        wm = parse_time(s["watermark"])
        since = None if catalog[r]["kind"] == "snapshot" else origins[(c, r)]
        conn = conns[c]
        want = truth(args, conn["sid"], r, conn["route"], args.as_of, wm, since)
        held = downstream(db, r, c)
        # basis not "modified": the pk set must be there, a later version may still be due
        by_pk = catalog[r].get("late_changes_seen", True) is False
        miss = []
        for t in want:
            have = held.get(t["pk"])
            if have is None or (not by_pk and have < t["modified_unix"] * 1000):
                miss.append((t["pk"], t["modified"], have))
            elif have < t["modified_unix"] * 1000:
                older += 1
        checked += len(want)
        missing += len(miss)
        print("%-14s %-18s %-8s %-25s %8d %8d %8d" %
              (c, r, state, s["watermark"], len(want), len(held), len(miss)))
        for pk, mod, have in miss[:5]:
            print("    MISSING %s pk %s modified %s (downstream: %s)" %
                  (pair, pk, mod, "absent" if have is None else "older version, %d ms" % have))
        if miss:
            failures.append("%s: %d of %d records missing downstream" % (pair, len(miss),
                                                                        len(want)))

    stats = db.execute("SELECT coalesce(sum(records),0), coalesce(sum(duplicates),0), "
                       "coalesce(sum(stale),0), coalesce(sum(rejected),0) "
                       "FROM sink_stats").fetchone()
    paging = db.execute("SELECT coalesce(sum(json_extract(marker, '$.duplicates')),0), "
                        "coalesce(sum(seen - 1),0) FROM windows").fetchone()
    print("records checked %d, missing %d; %d held in an older version where the basis does "
          "not see late changes (the lookback brings the newer one)" % (checked, missing, older))
    print("duplicates: %d same version delivered again, %d older versions after newer ones, "
          "%d rows read twice while paging (page 0 is read again by design; written once), "
          "%d window markers delivered again "
          "(sink received %d records)" % (stats[1], stats[2], paging[0], paging[1], stats[0]))
    if stats[3]:
        failures.append("the sink rejected %d messages (see its rejects table)" % stats[3])

    if args.records_offsets:
        check_pruning("records topic", args.records_offsets, failures)
    if args.jobs_offsets:
        check_pruning("jobs topic", args.jobs_offsets, failures)
    if args.jobs_dump:
        jobs = {}
        reemitted = set()
        for line in open(args.jobs_dump):
            if line.strip():
                j = json.loads(line)
                jobs[j["job_id"]] = j
                if j.get("attempt", 1) > 1:  # attempts count from 1
                    reemitted.add(j["job_id"])
        markers = {row[0] for row in db.execute("SELECT job_id FROM windows")}
        dead = {}
        if args.dlq_dump:
            for line in open(args.dlq_dump):
                if line.strip():
                    d = json.loads(line)
                    job = d.get("job") if isinstance(d.get("job"), dict) else d
                    dead[job.get("job_id")] = d
        retried = set()
        for path in glob.glob(args.worker_logs) if args.worker_logs else []:
            for line in open(path, errors="replace"):
                m = re.search(r"job (\S+): \w+ \(attempt \d+\), retrying", line)
                if m:
                    retried.add(m.group(1))
        classes = collections.Counter()
        unfinished = []
        for jid in jobs:
            if jid in markers:
                continue
            if jid in dead:
                cls = dead[jid].get("error")
                classes[cls] += 1
                if cls in NOT_FINAL:
                    failures.append("job %s dead-lettered as %s: %s" %
                                    (jid, cls, dead[jid].get("message")))
                continue
            unfinished.append(jid)
        print("jobs: %d emitted, %d done, %d dead-lettered %s, %d unfinished; jobs retried %d "
              "(%d by the workers after an error, %d re-emitted by the scheduler)" %
              (len(jobs), len(jobs) - len(unfinished) - sum(classes.values()),
               sum(classes.values()), dict(classes), len(unfinished),
               len(retried | reemitted), len(retried), len(reemitted)))
        for jid in unfinished[:10]:
            print("    UNFINISHED %s" % jid)
        if unfinished:
            failures.append("%d jobs neither done nor dead-lettered" % len(unfinished))
        if args.max_dead >= 0 and len(dead) > args.max_dead:
            failures.append("%d dead letters, at most %d expected" % (len(dead), args.max_dead))

    if failures:
        print("FAIL:")
        for f in failures:
            print("  - " + f)
        return 1
    print("PASS: every record the truth lists is downstream")
    return 0


if __name__ == "__main__":
    sys.exit(main())
