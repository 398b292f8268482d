/* The sink fixture (tests 12NN): record envelopes and window markers built by the
 * contract (docs/DESIGN.md §2, docs/schemas/), produced to a topic of the test's own,
 * wdt-sink-sqlite started on it, and its SQLite file read with the sqlite3 C API. */
#ifndef WDTS_TEST_SINK_H
#define WDTS_TEST_SINK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

struct wdts_buf;
struct wdts_kafka_producer;

/* A one-hour window of 2026-03-01 (Beijing) and its job id for connection/report. */
#define ST_WIN_START "2026-03-01T10:00:00+08:00"
#define ST_WIN_END "2026-03-01T11:00:00+08:00"
#define ST_WIN_START_S 1772330400LL
#define ST_WIN_END_S 1772334000LL

/* Appends a record envelope; modified is "yyyy-MM-dd HH:mm:ss", extracted RFC 3339. */
void st_record(struct wdts_buf *b, const char *tenant, const char *conn, const char *report,
               const char *pk, const char *modified, const char *extracted,
               const char *extra_data);

/* Appends a window marker of connection/report's test window, as wdt-worker writes it
 * (docs/schemas/window-marker.schema.json); its key is ST_MARKER_KEY_FMT. */
#define ST_MARKER_KEY_FMT "%s:%s#window:1772330400:1772334000"
void st_marker(struct wdts_buf *b, const char *tenant, const char *conn, const char *report,
               int records, int api_total, const char *status);

/* Produces one message (key may be NULL; headers report/tenant/schema when report != NULL). */
void st_produce(struct wdts_kafka_producer *prod, const char *topic, const char *key,
                const char *value, const char *report, const char *tenant, const char *schema);

/* Creates topic with parts partitions through the local Kafka's control FIFO when the
 * harness gives one (else the first produce auto-creates it with 4 partitions). */
void st_create_topic(const char *topic, int parts);

/* Starts wdt-sink-sqlite with the given extra arguments (NULL-terminated), output to log. */
pid_t st_sink_start(const char *brokers, const char *db, const char *group, const char *topic,
                    const char *log_path, const char *const *extra);

/* Waits at most timeout_s for a sink of st_sink_start(); when it fails (exits other than
 * 0, or is still running: then it is killed) its log goes to stderr.
 * @returns its exit status (128 + signal), or -1 on the timeout. */
int st_sink_wait(pid_t pid, int timeout_s, const char *log_path);

/* A sink test's names with this run's prefix: topic "<p>records", group "<p>sink",
 * connection "<p>c1", and a directory of its own holding sink.db and sink.log. */
struct st_case {
    char topic[96], group[96], conn[96], dir[256], db[300], log[300];
};

/* Fills c, makes its directory (/tmp/wdts-<p><name>-XXXXXX) and the topic with parts
 * partitions (st_create_topic). */
void st_case_init(struct st_case *c, const char *name, int parts);
/* Removes its directory. */
void st_case_deinit(struct st_case *c);

sqlite3 *st_db_open(const char *path);

/* The single integer answer of sql (with optional text ?1), or -1 when there is no row
 * or the query fails (e.g. the table does not exist yet). */
int64_t st_int(sqlite3 *db, const char *sql, const char *arg);

/* The messages the sink has applied (sink_stats: records + markers + rejected); 0 when none. */
int64_t st_applied(sqlite3 *db);

/* The single text answer of sql (?1 = arg) into out; "" when none. */
void st_text(sqlite3 *db, const char *sql, const char *arg, char *out, size_t out_size);


#endif
