#!/usr/bin/env python3
"""What deploy/local/demo.sh shows: live progress of the sync, then a summary and a few
analysis queries on the synced data. Reads `wdtctl status --json`, the scheduler's plan
cursors in Redis (for the number of windows still to plan) and the tables of
wdt-sink-sqlite; writes nothing anywhere.

  demo_view.py watch   --wdtctl BIN --catalog FILE --db FILE --redis-port P [--until-done]
  demo_view.py summary --db FILE --queries sink/queries.sql --started UNIX --state DIR
"""
import argparse
import json
import math
import os
import sqlite3
import subprocess
import sys
import time
import unicodedata

LAG_S = 300  # scheduler.lag default: windows end at least this long before now


def sink_db(path):
    if not os.path.exists(path):
        return None
    try:
        return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=2)
    except sqlite3.Error:
        return None


def sink_windows(path):
    """(connection, report) -> (markers, records) from the sink's window markers."""
    db = sink_db(path)
    if db is None:
        return {}
    try:
        rows = db.execute("SELECT connection, report, count(*), coalesce(sum(records), 0) "
                          "FROM windows GROUP BY connection, report").fetchall()
    except sqlite3.Error:
        return {}
    finally:
        db.close()
    return {(c, r): (n, rec) for c, r, n, rec in rows}


def plan_cursors(port, prefix, pairs):
    cmds = "".join("HGET %splan:%s:%s cursor\n" % (prefix, c, r) for c, r in pairs)
    try:
        out = subprocess.run(["redis-cli", "-p", str(port)], input=cmds, capture_output=True,
                             text=True, timeout=5).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {}
    return {p: int(v) for p, v in zip(pairs, out) if v.strip().isdigit()}


def status(wdtctl):
    try:
        res = subprocess.run([wdtctl, "status", "--json"], capture_output=True, text=True,
                             timeout=20)
        return json.loads(res.stdout) if res.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def width(text):
    """Columns text takes on a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in str(text))


def pad(text, n):
    return str(text) + " " * max(0, n - width(text))


def fmt_int(n):
    return "{:,}".format(n)


class Watch:
    def __init__(self, args):
        self.args = args
        self.catalog = {r["name"]: r for r in json.load(open(args.catalog))}
        self.tty = sys.stdout.isatty()
        self.drawn = 0
        self.prev = {}  # (c, r) -> (records, time)
        self.rates = {}
        self.started = time.time()
        self.last_plain = 0
        self.last_states = {}
        self.idle_since = None
        self.last_total = -1

    def rows(self, st):
        pairs = [(s["connection"], s["report"]) for s in st]
        cursors = plan_cursors(self.args.redis_port, self.args.redis_prefix, pairs)
        sink = sink_windows(self.args.db)
        now = time.time()
        rows = []
        for s in st:
            key = (s["connection"], s["report"])
            rep = self.catalog.get(s["report"], {})
            done = s["completed"]
            out = s["outstanding"]
            if rep.get("kind") == "snapshot" or s["state"] != "backfilling":
                total = max(1, done + out)  # planned as time passes: nothing ahead
            else:
                span = rep.get("max_span_s") or 3600
                cur = cursors.get(key)
                if cur is None:
                    remaining = math.ceil(self.args.backfill_s / span)
                else:
                    remaining = max(0, math.ceil((now - LAG_S - cur) / span))
                total = done + out + remaining
            markers, records = sink.get(key, (0, 0))
            prev = self.prev.get(key)
            if prev and now - prev[1] >= 1:
                rate = (records - prev[0]) / (now - prev[1])
                self.rates[key] = rate
                self.prev[key] = (records, now)
            elif not prev:
                self.prev[key] = (records, now)
            rows.append({"c": key[0], "r": key[1], "done": min(done, total), "total": total,
                         "records": records, "markers": markers,
                         "rate": self.rates.get(key, 0.0), "state": s["state"],
                         "error": s.get("last_error")})
        return rows

    def draw(self, rows):
        total_rec = sum(r["records"] for r in rows)
        rate = sum(r["rate"] for r in rows)
        finished = sum(r["state"] in ("ok", "blocked", "auth_failed") for r in rows)
        elapsed = time.time() - self.started
        head = ("%4ds  %d of %d reports synced  %s records downstream  %s records/s" %
                (elapsed, finished, len(rows), fmt_int(total_rec), fmt_int(int(rate))))
        if self.tty:
            lines = [head, "%-12s %-17s %-22s %13s %11s %8s  %s" %
                     ("CONNECTION", "REPORT", "PROGRESS", "WINDOWS", "RECORDS", "REC/S",
                      "STATE")]
            for r in rows:
                frac = r["done"] / r["total"] if r["total"] else 0
                bar = "#" * int(frac * 20) + "-" * (20 - int(frac * 20))
                state = r["state"]
                if state == "blocked":
                    bar = " " * 20
                    state = "blocked: " + (r["error"] or "")[:60]
                lines.append("%-12s %-17s [%s] %6d/%-6d %11s %8s  %s" %
                             (r["c"][:12], r["r"][:17], bar, r["done"], r["total"],
                              fmt_int(r["records"]), fmt_int(int(r["rate"])), state))
            out = ""
            if self.drawn:
                out += "\033[%dF" % self.drawn
            out += "".join("\033[K" + line + "\n" for line in lines)
            sys.stdout.write(out)
            sys.stdout.flush()
            self.drawn = len(lines)
            return
        # plain lines: a report when its state changes, a total every 10 s
        for r in rows:
            key = (r["c"], r["r"])
            if self.last_states.get(key) != r["state"]:
                self.last_states[key] = r["state"]
                print("%-12s %-17s %-12s windows %d/%d, %s records%s" %
                      (r["c"], r["r"], r["state"], r["done"], r["total"],
                       fmt_int(r["records"]),
                       (": " + r["error"]) if r["state"] == "blocked" and r["error"] else ""))
        if time.time() - self.last_plain >= 10:
            self.last_plain = time.time()
            print(head)
        sys.stdout.flush()

    def finished(self, st, rows):
        if not st or any(s["state"] not in ("ok", "blocked", "auth_failed") for s in st):
            self.idle_since = None
            return False
        # the sink has every window marker the workers completed, or is idle
        total = sum(r["records"] + r["markers"] for r in rows)
        if total != self.last_total:
            self.last_total = total
            self.idle_since = time.time()
            return False
        caught_up = all(r["markers"] >= r["done"] for r in rows if r["state"] == "ok")
        return caught_up or time.time() - self.idle_since >= 8

    def run(self):
        while True:
            st = status(self.args.wdtctl)
            if st is not None:
                rows = self.rows(st)
                self.draw(rows)
                if self.args.until_done and self.finished(st, rows):
                    return 0
            time.sleep(self.args.interval)


def summary(args):
    db = sink_db(args.db)
    if db is None:
        print("no sink database at %s" % args.db)
        return 1
    took = time.time() - args.started
    print("\n== Summary")
    print("time taken: %dm%02ds" % (took // 60, took % 60))
    seen = {r[0]: r for r in db.execute(
        "SELECT report, records, inserted, updated, duplicates, stale, markers, rejected "
        "FROM sink_stats").fetchall()}
    # Every report of the catalog by group, the ones the sink has not seen with zeros; then
    # any report the sink saw that this catalog does not list.
    catalog = json.load(open(args.catalog, encoding="utf-8"))
    group = {r["name"]: r["group"] for r in catalog}
    order = sorted(catalog, key=lambda r: (r["group"], r["name"]))
    names = [r["name"] for r in order] + sorted(set(seen) - set(group))
    stats = [seen.get(n, (n, 0, 0, 0, 0, 0, 0, 0)) for n in names]
    print("%-10s %-26s %10s %10s %10s %10s %10s %8s" %
          ("GROUP", "REPORT", "ROWS", "RECEIVED", "UPDATED", "DUPLICATES", "STALE", "WINDOWS"))
    rows_total = dup = stale = rejected = 0
    for report, rec, ins, upd, dups, st, markers, rej in stats:
        try:
            held = db.execute('SELECT count(*) FROM "%s"' % report).fetchone()[0]
        except sqlite3.Error:
            held = 0
        rows_total += held
        dup += dups
        stale += st
        rejected += rej
        print("%-10s %-26s %10s %10s %10s %10s %10s %8s" %
              (group.get(report, "?"), report, fmt_int(held), fmt_int(rec), fmt_int(upd),
               fmt_int(dups), fmt_int(st), fmt_int(markers)))
    paging = db.execute("SELECT coalesce(sum(json_extract(marker, '$.duplicates')), 0) "
                        "FROM windows").fetchone()[0]
    print("%d reports; records held: %s (one row per record, its latest version)" %
          (len(stats), fmt_int(rows_total)))
    print("duplicates seen: %s deliveries of a version already held, %s older versions "
          "ignored, %s rows read twice while paging and written once" %
          (fmt_int(dup), fmt_int(stale), fmt_int(paging)))
    if rejected:
        print("rejected messages: %d (see the rejects table)" % rejected)
    per_conn = {}
    for (report,) in db.execute("SELECT report FROM sink_stats"):
        try:
            for c, n in db.execute('SELECT connection, count(*) FROM "%s" GROUP BY connection'
                                   % report):
                per_conn[c] = per_conn.get(c, 0) + n
        except sqlite3.Error:
            pass
    print("per connection: " + ", ".join("%s %s" % (c, fmt_int(n))
                                         for c, n in sorted(per_conn.items())))
    print("where the data is: %s (SQLite; docs/CONSUMERS.md), logs in %s/logs, Redis (AOF) "
          "in %s/redis" % (args.db, args.state, args.state))

    queries = {}
    name = None
    for line in open(args.queries, encoding="utf-8"):
        if line.startswith("-- name:"):
            name = line.split(":", 1)[1].strip()
            queries[name] = ""
        elif name:
            queries[name] += line

    def show(title, sql, last=None, limit=None):
        try:
            cur = db.execute(sql)
        except sqlite3.Error as e:
            print("\n== %s: the query failed: %s" % (title, e))
            return
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
        shown = rows[-last:] if last else rows[:limit] if limit else rows
        print("\n== %s%s" % (title, " (last %d of %d rows)" % (len(shown), len(rows))
                             if last and len(rows) > last else ""))
        widths = [max([width(c)] + [width(r[i]) for r in shown]) for i, c in enumerate(cols)]
        print("  ".join(pad(c, w) for c, w in zip(cols, widths)).rstrip())
        for r in shown:
            print("  ".join(pad(v, w) for v, w in zip(r, widths)).rstrip())

    print("\nAnalysis queries on the synced data (sink/queries.sql; run them yourself with "
          "sqlite3 -header -column %s < sink/queries.sql):" % args.db)
    if "paid_per_day_and_shop" in queries:
        show("Paid amount per day and shop", queries["paid_per_day_and_shop"], last=16)
    if "top_goods" in queries:
        show("Top goods of paid orders", queries["top_goods"])
    if "refund_rate_per_shop" in queries:
        show("Refund rate per shop", queries["refund_rate_per_shop"])
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("watch")
    w.add_argument("--wdtctl", required=True)
    w.add_argument("--catalog", required=True, help="wdtctl reports --json output")
    w.add_argument("--db", required=True)
    w.add_argument("--redis-port", type=int, required=True)
    w.add_argument("--redis-prefix", default="wdt:")
    w.add_argument("--backfill-s", type=int, default=90 * 86400)
    w.add_argument("--interval", type=float, default=2.0)
    w.add_argument("--until-done", action="store_true")
    s = sub.add_parser("summary")
    s.add_argument("--db", required=True)
    s.add_argument("--queries", required=True)
    s.add_argument("--started", type=float, required=True)
    s.add_argument("--state", required=True)
    s.add_argument("--catalog", required=True, help="wdtctl reports --json output")
    args = ap.parse_args()
    try:
        return Watch(args).run() if args.cmd == "watch" else summary(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
