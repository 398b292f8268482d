/* SQLite side of the reference consumer (see sink_db_int.h). Statements are prepared once
 * per table and kept; report tables are created the first time a report is seen. The
 * journal is WAL with synchronous=FULL: a committed batch survives a power cut, which
 * is what lets the caller commit Kafka offsets right after it. */
#include "sink_db_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "sink_msg_int.h"
#include "wdts/job.h"
#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"

/* Longest part of a rejected value that is kept: enough to see what was wrong. */
#define REJECT_VALUE_MAX (64 * 1024)

/* A report's table and its statements (prepared on first sight). */
struct report_tab {
    char *name;
    sqlite3_stmt *sel, *ins, *upd;
};

struct sink_db {
    sqlite3 *sq;
    struct report_tab *tabs;
    size_t ntabs, cap;
    sqlite3_stmt *st_marker, *st_reject, *st_stats;
    int in_tx;
    char errstr[512];
};

/* Fixed tables. Report tables are made by create_report_table(). */
static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS windows ("
    " job_id TEXT PRIMARY KEY, tenant TEXT, connection TEXT NOT NULL, report TEXT NOT NULL,"
    " source TEXT, window_start TEXT NOT NULL, window_end TEXT NOT NULL,"
    " records INTEGER NOT NULL, pages INTEGER NOT NULL, api_total INTEGER,"
    " status TEXT NOT NULL, marker TEXT NOT NULL, seen INTEGER NOT NULL DEFAULT 1,"
    " received_at TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS windows_by_report ON windows(connection, report, window_start);"
    "CREATE TABLE IF NOT EXISTS rejects ("
    " id INTEGER PRIMARY KEY, topic TEXT NOT NULL, partition INTEGER NOT NULL,"
    " \"offset\" INTEGER NOT NULL, report TEXT NOT NULL, key TEXT, reason TEXT NOT NULL,"
    " value TEXT, received_at TEXT NOT NULL, UNIQUE (topic, partition, \"offset\"));"
    "CREATE TABLE IF NOT EXISTS sink_stats ("
    " report TEXT PRIMARY KEY, records INTEGER NOT NULL DEFAULT 0,"
    " inserted INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,"
    " duplicates INTEGER NOT NULL DEFAULT 0, stale INTEGER NOT NULL DEFAULT 0,"
    " markers INTEGER NOT NULL DEFAULT 0, rejected INTEGER NOT NULL DEFAULT 0);";

/* Names a report table may not take: ours and SQLite's. */
static const char *const reserved[] = {"windows", "rejects", "sink_stats"};

static void set_err(struct sink_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct sink_db *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->errstr, sizeof(db->errstr), fmt, ap);
    va_end(ap);
}

const char *sink_outcome_name(enum sink_outcome o)
{
    switch (o) {
    case SINK_INSERTED:
        return "inserted";
    case SINK_UPDATED:
        return "updated";
    case SINK_DUPLICATE:
        return "duplicate";
    case SINK_STALE:
        return "stale";
    }
    return "?";
}

const char *sink_db_errstr(const struct sink_db *db)
{
    return db ? db->errstr : "";
}

static wdts_err_t exec(struct sink_db *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db->sq, sql, NULL, NULL, &msg) != SQLITE_OK) {
        set_err(db, "sqlite: %s", msg ? msg : sqlite3_errmsg(db->sq));
        sqlite3_free(msg);
        return WDTS_ERR_IO;
    }
    return WDTS_OK;
}

static wdts_err_t prepare(struct sink_db *db, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(db->sq, sql, -1, st, NULL) != SQLITE_OK) {
        set_err(db, "sqlite: prepare: %s", sqlite3_errmsg(db->sq));
        return WDTS_ERR_IO;
    }
    return WDTS_OK;
}

/* Runs a write statement to its end and resets it. */
static wdts_err_t step_done(struct sink_db *db, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        set_err(db, "sqlite: %s", sqlite3_errmsg(db->sq));
        return WDTS_ERR_IO;
    }
    return WDTS_OK;
}

static void now_text(char out[WDTS_RFC3339_LEN])
{
    wdts_time_format_rfc3339(wdts_time_now(), out);
}

struct sink_db *sink_db_open(const char *path, char *errstr, size_t errstr_size)
{
    struct sink_db *db = wdts_xcalloc(1, sizeof(*db));
    if (sqlite3_open_v2(path, &db->sq, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        snprintf(errstr, errstr_size, "cannot open %s: %s; check the path and its permissions",
                 path, db->sq ? sqlite3_errmsg(db->sq) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(db->sq, 10000);
    /* WAL lets readers (the demo's queries, sqlite3 CLI) work while the sink writes. */
    if (exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;") != WDTS_OK ||
        exec(db, schema_sql) != WDTS_OK ||
        prepare(db,
                "INSERT INTO windows (job_id, tenant, connection, report, source, window_start,"
                " window_end, records, pages, api_total, status, marker, seen, received_at)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 1, ?13)"
                " ON CONFLICT (job_id) DO UPDATE SET tenant = excluded.tenant,"
                " source = excluded.source, window_start = excluded.window_start,"
                " window_end = excluded.window_end, records = excluded.records,"
                " pages = excluded.pages, api_total = excluded.api_total,"
                " status = excluded.status, marker = excluded.marker, seen = seen + 1,"
                " received_at = excluded.received_at",
                &db->st_marker) != WDTS_OK ||
        prepare(db,
                "INSERT OR IGNORE INTO rejects (topic, partition, \"offset\", report, key,"
                " reason, value, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                &db->st_reject) != WDTS_OK ||
        prepare(db,
                "INSERT INTO sink_stats (report, records, inserted, updated, duplicates, stale,"
                " markers, rejected) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                " ON CONFLICT (report) DO UPDATE SET records = records + excluded.records,"
                " inserted = inserted + excluded.inserted, updated = updated + excluded.updated,"
                " duplicates = duplicates + excluded.duplicates, stale = stale + excluded.stale,"
                " markers = markers + excluded.markers, rejected = rejected + excluded.rejected",
                &db->st_stats) != WDTS_OK) {
        snprintf(errstr, errstr_size, "%s: %s", path, db->errstr);
        goto fail;
    }
    return db;
fail:
    sink_db_close(db);
    return NULL;
}

static void forget_tables(struct sink_db *db)
{
    for (size_t i = 0; i < db->ntabs; i++) {
        sqlite3_finalize(db->tabs[i].sel);
        sqlite3_finalize(db->tabs[i].ins);
        sqlite3_finalize(db->tabs[i].upd);
        free(db->tabs[i].name);
    }
    db->ntabs = 0;
}

void sink_db_close(struct sink_db *db)
{
    if (db == NULL)
        return;
    sink_db_rollback(db);
    forget_tables(db);
    free(db->tabs);
    sqlite3_finalize(db->st_marker);
    sqlite3_finalize(db->st_reject);
    sqlite3_finalize(db->st_stats);
    sqlite3_close(db->sq); /* NULL-safe */
    free(db);
}

wdts_err_t sink_db_begin(struct sink_db *db)
{
    WDTS_ASSERT(!db->in_tx);
    if (exec(db, "BEGIN IMMEDIATE") != WDTS_OK)
        return WDTS_ERR_IO;
    db->in_tx = 1;
    return WDTS_OK;
}

wdts_err_t sink_db_commit(struct sink_db *db)
{
    WDTS_ASSERT(db->in_tx);
    if (exec(db, "COMMIT") != WDTS_OK)
        return WDTS_ERR_IO;
    db->in_tx = 0;
    return WDTS_OK;
}

void sink_db_rollback(struct sink_db *db)
{
    if (!db->in_tx)
        return;
    sqlite3_exec(db->sq, "ROLLBACK", NULL, NULL, NULL);
    db->in_tx = 0;
    /* Tables created in the rolled-back transaction are gone: prepare them again. */
    forget_tables(db);
}

/* Adds one row of increments to sink_stats. */
static wdts_err_t count(struct sink_db *db, const char *report, int records,
                        enum sink_outcome *outcome, int markers, int rejected)
{
    sqlite3_stmt *st = db->st_stats;
    sqlite3_bind_text(st, 1, report, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, records);
    for (int o = SINK_INSERTED; o <= SINK_STALE; o++)
        sqlite3_bind_int(st, 3 + o, outcome != NULL && *outcome == (enum sink_outcome)o);
    sqlite3_bind_int(st, 7, markers);
    sqlite3_bind_int(st, 8, rejected);
    return step_done(db, st);
}

static int is_reserved(const char *report)
{
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcmp(report, reserved[i]) == 0)
            return 1;
    return strncmp(report, "sqlite_", 7) == 0;
}

/* The table of a report, created and prepared on first sight. */
static struct report_tab *report_table(struct sink_db *db, const char *report)
{
    for (size_t i = 0; i < db->ntabs; i++)
        if (strcmp(db->tabs[i].name, report) == 0)
            return &db->tabs[i];
    /* Names are [A-Za-z0-9_.-] (checked by the decoder), so double quotes are enough. */
    WDTS_ASSERT(wdts_job_name_valid(report));
    struct report_tab t = {.name = wdts_xstrdup(report)};
    char *sql = wdts_xasprintf(
        "CREATE TABLE IF NOT EXISTS \"%1$s\" ("
        " connection TEXT NOT NULL, pk TEXT NOT NULL, tenant TEXT NOT NULL,"
        " source TEXT NOT NULL, modified INTEGER NOT NULL, modified_at TEXT NOT NULL,"
        " extracted_at TEXT NOT NULL, extracted_ms INTEGER NOT NULL, job_id TEXT NOT NULL,"
        " data TEXT NOT NULL, versions INTEGER NOT NULL DEFAULT 1, updated_at TEXT NOT NULL,"
        " PRIMARY KEY (connection, pk));"
        "CREATE INDEX IF NOT EXISTS \"%1$s_by_modified\" ON \"%1$s\" (modified);"
        "CREATE INDEX IF NOT EXISTS \"%1$s_by_tenant\" ON \"%1$s\" (tenant, connection, modified);"
        "CREATE INDEX IF NOT EXISTS \"%1$s_by_job\" ON \"%1$s\" (job_id);",
        report);
    wdts_err_t err = exec(db, sql);
    free(sql);
    if (err != WDTS_OK)
        goto fail;
    sql = wdts_xasprintf("SELECT modified, extracted_ms FROM \"%s\" WHERE connection = ?1 AND "
                         "pk = ?2",
                         report);
    err = prepare(db, sql, &t.sel);
    free(sql);
    if (err != WDTS_OK)
        goto fail;
    sql = wdts_xasprintf("INSERT INTO \"%s\" (connection, pk, tenant, source, modified,"
                         " modified_at, extracted_at, extracted_ms, job_id, data, versions,"
                         " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11)",
                         report);
    err = prepare(db, sql, &t.ins);
    free(sql);
    if (err != WDTS_OK)
        goto fail;
    sql = wdts_xasprintf("UPDATE \"%s\" SET tenant = ?3, source = ?4, modified = ?5,"
                         " modified_at = ?6, extracted_at = ?7, extracted_ms = ?8, job_id = ?9,"
                         " data = ?10, updated_at = ?11, versions = versions + ?12"
                         " WHERE connection = ?1 AND pk = ?2",
                         report);
    err = prepare(db, sql, &t.upd);
    free(sql);
    if (err != WDTS_OK)
        goto fail;
    if (db->ntabs == db->cap) {
        db->cap = db->cap ? db->cap * 2 : 16;
        db->tabs = wdts_xrealloc(db->tabs, db->cap * sizeof(*db->tabs));
    }
    db->tabs[db->ntabs] = t;
    return &db->tabs[db->ntabs++];
fail:
    sqlite3_finalize(t.sel);
    sqlite3_finalize(t.ins);
    sqlite3_finalize(t.upd);
    free(t.name);
    return NULL;
}

/* Binds ?1..?11 of the insert/update statements. */
static void bind_record(sqlite3_stmt *st, const struct sink_record *rec, const char *modified_at,
                        const char *now)
{
    sqlite3_bind_text(st, 1, rec->connection, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rec->pk, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, rec->tenant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, rec->source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, rec->modified_ms);
    sqlite3_bind_text(st, 6, modified_at, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, rec->extracted_at, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, rec->extracted_ms);
    sqlite3_bind_text(st, 9, rec->job_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, rec->data, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, now, -1, SQLITE_STATIC);
}

wdts_err_t sink_db_put_record(struct sink_db *db, const char *report,
                              const struct sink_record *rec, enum sink_outcome *outcome)
{
    if (is_reserved(report)) {
        set_err(db, "report name '%s' is reserved by the sink (windows, rejects, sink_stats, "
                    "sqlite_*): rename the report in the catalog",
                report);
        return WDTS_ERR_INVAL;
    }
    struct report_tab *t = report_table(db, report);
    if (t == NULL)
        return WDTS_ERR_IO;
    sqlite3_bind_text(t->sel, 1, rec->connection, -1, SQLITE_STATIC);
    sqlite3_bind_text(t->sel, 2, rec->pk, -1, SQLITE_STATIC);
    int rc = sqlite3_step(t->sel);
    int found = rc == SQLITE_ROW;
    int64_t old_mod = found ? sqlite3_column_int64(t->sel, 0) : 0;
    int64_t old_ext = found ? sqlite3_column_int64(t->sel, 1) : 0;
    sqlite3_reset(t->sel);
    sqlite3_clear_bindings(t->sel);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        set_err(db, "sqlite: %s", sqlite3_errmsg(db->sq));
        return WDTS_ERR_IO;
    }

    char modified_at[WDTS_RFC3339_LEN], now[WDTS_RFC3339_LEN];
    /* Floor division, so a (theoretical) negative ms still names the right second. */
    int64_t msec = rec->modified_ms;
    wdts_time_format_rfc3339(msec >= 0 ? msec / 1000 : -((-msec + 999) / 1000), modified_at);
    now_text(now);
    wdts_err_t err = WDTS_OK;
    if (!found) {
        *outcome = SINK_INSERTED;
        bind_record(t->ins, rec, modified_at, now);
        err = step_done(db, t->ins);
    } else {
        enum sink_version v =
            sink_msg_version_cmp(rec->modified_ms, rec->extracted_ms, old_mod, old_ext);
        *outcome = v == SINK_VERSION_NEWER   ? SINK_UPDATED
                   : v == SINK_VERSION_OLDER ? SINK_STALE
                                             : SINK_DUPLICATE;
        if (v == SINK_VERSION_NEWER || v == SINK_VERSION_SAME_LATER) {
            bind_record(t->upd, rec, modified_at, now);
            sqlite3_bind_int(t->upd, 12, v == SINK_VERSION_NEWER);
            err = step_done(db, t->upd);
        }
    }
    if (err != WDTS_OK)
        return err;
    return count(db, report, 1, outcome, 0, 0);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

wdts_err_t sink_db_put_marker(struct sink_db *db, const char *report,
                              const struct sink_marker *marker)
{
    sqlite3_stmt *st = db->st_marker;
    char now[WDTS_RFC3339_LEN];
    now_text(now);
    sqlite3_bind_text(st, 1, marker->job_id, -1, SQLITE_STATIC);
    bind_text_or_null(st, 2, marker->tenant);
    sqlite3_bind_text(st, 3, marker->connection, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, report, -1, SQLITE_STATIC);
    bind_text_or_null(st, 5, marker->source);
    sqlite3_bind_text(st, 6, marker->window_start, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, marker->window_end, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, marker->records);
    sqlite3_bind_int64(st, 9, marker->pages);
    if (marker->api_total >= 0)
        sqlite3_bind_int64(st, 10, marker->api_total);
    else
        sqlite3_bind_null(st, 10);
    sqlite3_bind_text(st, 11, marker->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, marker->json, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, now, -1, SQLITE_STATIC);
    wdts_err_t err = step_done(db, st);
    if (err != WDTS_OK)
        return err;
    return count(db, report, 0, NULL, 1, 0);
}

wdts_err_t sink_db_put_reject(struct sink_db *db, const char *topic, int32_t partition,
                              int64_t offset, const void *key, size_t key_len,
                              const void *value, size_t value_len, const char *report,
                              const char *reason, int *stored)
{
    sqlite3_stmt *st = db->st_reject;
    char now[WDTS_RFC3339_LEN];
    now_text(now);
    *stored = 0;
    sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, partition);
    sqlite3_bind_int64(st, 3, offset);
    sqlite3_bind_text(st, 4, report ? report : "", -1, SQLITE_STATIC);
    if (key)
        sqlite3_bind_text(st, 5, key, (int)(key_len < 4096 ? key_len : 4096), SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
    if (value)
        sqlite3_bind_text(st, 7, value, (int)(value_len < REJECT_VALUE_MAX ? value_len
                                                                           : REJECT_VALUE_MAX),
                          SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_text(st, 8, now, -1, SQLITE_STATIC);
    wdts_err_t err = step_done(db, st);
    if (err != WDTS_OK)
        return err;
    if (sqlite3_changes(db->sq) == 0)
        return WDTS_OK; /* redelivered: stored and counted before */
    *stored = 1;
    return count(db, report ? report : "", 0, NULL, 0, 1);
}
