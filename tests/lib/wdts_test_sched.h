/* The scheduler fixture (tests 1100-1199): a private Redis key prefix and jobs topic per
 * run, connections stored with the real store (wdts_conn_save), runs of the real
 * wdt-scheduler and wdtctl binaries, and the jobs read back from the topic with kcat (no
 * group join) and decoded with the strict job decoder. The scheduler's own headers come
 * with it: its tests read the state keys and the span grid the way it does. */
#ifndef WDTS_TEST_SCHED_H
#define WDTS_TEST_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sched_plan.h"
#include "sched_state.h"
#include "wdts/job.h"
#include "wdts_test.h"

struct st_env {
    const char *redis_url;
    const char *brokers;
    char prefix[96]; /* Redis key prefix of this run */
    char topic[96];  /* jobs topic of this run */
    struct wdts_redis *redis;
    struct wdts_catalog *cat;
};

/* The run's environment for the programs (WDT_*), its Redis connection and the catalog;
 * fails the test when either cannot be had. */
void st_setup(struct st_env *env, const char *max_outstanding);

void st_teardown(struct st_env *env);

/* Stores a connection with the given reports (NULL: every report of the catalog). */
void st_add_conn(struct st_env *env, const char *tenant, const char *id,
                 const char *const *reports, int64_t backfill_s);

/* Runs bin with args (NULL-terminated, after the program name); returns its status. */
int st_run(const char *bin, struct wdts_test_run *run, const char *const *args);

/* wdt-scheduler --once --now now [extra]; asserts exit 0 and returns nothing. */
void st_once(int64_t now, const char *extra);

/* Every job on the topic, in topic order per partition. */
struct st_jobs {
    struct wdts_job *v;
    size_t n;
};

void st_jobs_free(struct st_jobs *j);

void st_consume(struct st_env *env, struct st_jobs *out);

/* qsort order of jobs: by start, then end. */
int st_cmp_start(const void *a, const void *b);

/* The jobs of (connection, report) [with emitted_at == emitted when emitted > 0], sorted by
 * start; caller frees the array. */
struct wdts_job *st_select(const struct st_jobs *all, const char *connection,
                           const char *report, int64_t emitted, size_t *n);

/* Asserts that v[0..n) covers [from, to) exactly: half-open, sorted, no gap, no overlap,
 * none wider than the planned span and none across a point of its grid. max_span is the
 * catalog's (what a request may span): the scheduler plans a minute less, as a worker asks
 * a second before each window. */
void st_check_cover(const struct wdts_job *v, size_t n, int64_t from, int64_t to,
                    int64_t max_span, const char *what);

/* The count of jobs whose id is id. */
size_t st_count_id(const struct st_jobs *all, const char *id);

/* ---- a scheduler in the background -------------------------------------------------- */

/* Starts wdt-scheduler with args, stdout and stderr to log; returns its pid. */
pid_t st_spawn(const char *log, const char *const *args);

#endif
