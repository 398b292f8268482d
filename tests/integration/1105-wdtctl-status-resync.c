/* wdtctl status shows each (connection, report)'s state (backfilling before and during the
 * first sync, ok once the watermark reaches its end, blocked and auth_failed with what to
 * do), watermark, windows outstanding and completed; wdtctl resync emits a range as kind
 * `resync` on the planning grid and moves the watermark back to its start; wdtctl
 * reports lists the catalog; bad arguments get their own message and exit code. */
#include "wdts_test_sched.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/catalog.h"
#include "wdts/conn.h"
#include "wdts/time.h"
#include "wdts/watermark.h"
#include "wdts_test.h"

#define T1 1795659453LL /* 2026-11-26 10:17:33 +08:00 */

/* wdtctl args...; returns the status, output in run. */
static int ctl(struct wdts_test_run *run, const char *const *args)
{
    return st_run("wdtctl", run, args);
}

/* The status row of (connection, report) from `wdtctl status --json`. @owner new ref. */
static json_t *status_row(const char *connection, const char *report)
{
    const char *args[] = {"status", "--json", NULL};
    json_t *arr = wdts_test_run_json("wdtctl", args, 300);
    json_t *found = NULL, *o;
    size_t i;
    json_array_foreach(arr, i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "connection")), connection) == 0 &&
            strcmp(json_string_value(json_object_get(o, "report")), report) == 0)
            found = json_incref(o);
    }
    json_decref(arr);
    if (found == NULL)
        fail_msg("no status row for %s/%s", connection, report);
    return found;
}

static const char *sget(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "(null)";
}

static long long iget(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static void test_status_and_resync(void **state)
{
    (void)state;
    struct st_env env;
    struct st_jobs all;
    struct wdts_test_run run;
    char es[256];
    st_setup(&env, "4096");
    setenv("WDT_SCHEDULER_JOB_LEASE", "1d", 1);
    static const char *const r1[] = {"trades", "refunds", "shops", NULL};
    static const char *const r2[] = {"trades", NULL};
    st_add_conn(&env, "acme", "c1", r1, 86400);
    st_add_conn(&env, "beta", "c2", r2, 86400);
    assert_int_equal(wdts_conn_mark_report(env.redis, env.prefix, "c1", "refunds", "权限不足",
                                           "add the interface in 开放平台 and have it approved", T1,
                                           es, sizeof(es)),
                     WDTS_OK);
    assert_int_equal(wdts_conn_mark_auth(env.redis, env.prefix, "c2",
                                         "wrong appsecret: enter it again", T1, es, sizeof(es)),
                     WDTS_OK);

    /* before any pass */
    json_t *row = status_row("c1", "trades");
    assert_string_equal(sget(row, "state"), "backfilling");
    assert_true(json_is_null(json_object_get(row, "watermark")));
    assert_true(json_is_true(json_object_get(row, "gateway_plain_http")));
    json_decref(row);
    row = status_row("c1", "refunds");
    assert_string_equal(sget(row, "state"), "blocked");
    assert_non_null(strstr(sget(row, "last_error"), "开放平台"));
    json_decref(row);
    row = status_row("c2", "trades");
    assert_string_equal(sget(row, "state"), "auth_failed");
    assert_non_null(strstr(sget(row, "last_error"), "enter it again"));
    json_decref(row);

    /* one pass; then a worker completes every trades window */
    st_once(T1, NULL);
    st_consume(&env, &all);
    size_t n;
    struct wdts_job *v = st_select(&all, "c1", "trades", T1, &n);
    row = status_row("c1", "trades");
    assert_string_equal(sget(row, "state"), "backfilling");
    assert_int_equal(iget(row, "outstanding"), (long long)n);
    assert_int_equal(iget(row, "completed"), 0);
    char want[WDTS_RFC3339_LEN];
    wdts_time_format_rfc3339(v[0].start, want);
    assert_string_equal(sget(row, "watermark"), want);
    json_decref(row);
    struct wdts_wm_id id = {"c1", "trades"};
    struct wdts_wm_result res;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(
            wdts_wm_complete(env.redis, &id, v[i].start, v[i].end, 1, 0, &res, es, sizeof(es)),
            WDTS_OK);
    row = status_row("c1", "trades");
    assert_string_equal(sget(row, "state"), "ok");
    assert_int_equal(iget(row, "outstanding"), 0);
    assert_int_equal(iget(row, "completed"), (long long)n);
    wdts_time_format_rfc3339(v[n - 1].end, want);
    assert_string_equal(sget(row, "watermark"), want);
    assert_true(iget(row, "behind_s") >= wdts_time_now() - v[n - 1].end - 5);
    json_decref(row);
    free(v);
    size_t before = all.n;
    st_jobs_free(&all);

    /* the table form says the same */
    const char *tbl[] = {"status", "--connection", "c1", NULL};
    assert_int_equal(ctl(&run, tbl), 0);
    assert_non_null(strstr(run.out, "CONNECTION"));
    assert_non_null(strstr(run.out, "blocked"));
    assert_null(strstr(run.out, "c2"));
    /* M1: the connection's gateway is plain http (loopback): a note says so */
    assert_non_null(strstr(run.err, "note: connection c1: the gateway is plain http"));
    wdts_test_run_free(&run);

    /* resync a range given in both time forms: 3.5 hours touch five cells of the
     * 59-minute grid an hourly report is planned on */
    const char *rs[] = {"resync",
                        "--connection",
                        "c1",
                        "--report",
                        "trades",
                        "--from",
                        "2026-11-25 12:00:00",
                        "--to",
                        "2026-11-25T15:30:00+08:00",
                        NULL};
    if (ctl(&run, rs) != 0)
        fail_msg("wdtctl resync failed: %s%s", run.out, run.err);
    assert_non_null(strstr(run.out, "5 windows"));
    wdts_test_run_free(&run);
    st_consume(&env, &all);
    assert_int_equal(all.n, before + 5);
    size_t k = 0;
    int64_t from, to;
    assert_int_equal(wdts_time_parse_beijing("2026-11-25 12:00:00", &from), WDTS_OK);
    to = from + 3 * 3600 + 1800;
    struct wdts_job rv[5];
    for (size_t i = 0; i < all.n; i++)
        if (all.v[i].kind == WDTS_JOB_RESYNC) {
            assert_true(k < 5);
            rv[k++] = all.v[i];
        }
    assert_int_equal(k, 5);
    qsort(rv, 5, sizeof(rv[0]), st_cmp_start);
    st_check_cover(rv, 5, from, to, 3600, "resync");
    st_jobs_free(&all);
    row = status_row("c1", "trades");
    wdts_time_format_rfc3339(from, want);
    assert_string_equal(sget(row, "watermark"), want);
    /* the 5 resync windows, and the two planned windows that hold 12:00 and 15:30 (the
     * range's edges are off the 59-minute grid): no longer known complete, as the resync
     * reset a part of each; the planned windows between are the resync's own */
    assert_int_equal(iget(row, "outstanding"), 7);
    json_decref(row);

    /* errors */
    const char *e1[] = {"resync",
                        "--connection",
                        "nope",
                        "--report",
                        "trades",
                        "--from",
                        "2026-11-25 12:00:00",
                        "--to",
                        "2026-11-25 13:00:00",
                        NULL};
    assert_int_equal(ctl(&run, e1), 69);
    assert_non_null(strstr(run.err, "no connection nope"));
    wdts_test_run_free(&run);
    const char *e2[] = {
        "resync", "--connection",        "c1", "--report", "trades", "--from", "yesterday",
        "--to",   "2026-11-25 13:00:00", NULL};
    assert_int_equal(ctl(&run, e2), 64);
    assert_non_null(strstr(run.err, "--from: not a time"));
    wdts_test_run_free(&run);
    const char *e3[] = {
        "resync", "--connection",        "c1", "--report", "goods", "--from", "2026-11-25 12:00:00",
        "--to",   "2026-11-25 13:00:00", NULL};
    assert_int_equal(ctl(&run, e3), 69);
    assert_non_null(strstr(run.err, "not enabled"));
    wdts_test_run_free(&run);
    const char *e4[] = {"resync",
                        "--connection",
                        "c2",
                        "--report",
                        "trades",
                        "--from",
                        "2026-11-25 12:00:00",
                        "--to",
                        "2026-11-25 13:00:00",
                        NULL};
    assert_int_equal(ctl(&run, e4), 64);
    assert_non_null(strstr(run.err, "not been planned yet"));
    wdts_test_run_free(&run);
    const char *e5[] = {"resync", "--connection", "c1", NULL};
    assert_int_equal(ctl(&run, e5), 64);
    assert_non_null(strstr(run.err, "required"));
    wdts_test_run_free(&run);
    const char *e6[] = {"status", "--connection", "nope", NULL};
    assert_int_equal(ctl(&run, e6), 69);
    wdts_test_run_free(&run);

    /* the catalog */
    const char *rp[] = {"reports", "--json", NULL};
    assert_int_equal(ctl(&run, rp), 0);
    json_t *cat = json_loads(run.out, 0, NULL);
    assert_non_null(cat);
    assert_int_equal(json_array_size(cat), wdts_catalog_count(env.cat));
    json_decref(cat);
    wdts_test_run_free(&run);
    const char *rt[] = {"reports", NULL};
    assert_int_equal(ctl(&run, rt), 0);
    assert_non_null(strstr(run.out, "trades"));
    assert_non_null(strstr(run.out, "every 1h"));
    wdts_test_run_free(&run);
    st_teardown(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_status_and_resync)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
