/* Paging while the sandbox clock runs (speed factor): records change during the
 * scan and leave the window, so rows move between pages. Walking pages from the
 * last one backwards plus a final page 0 misses no record that the truth
 * (`wdt-sandbox truth`, as of the end of the scan) says is in the window, while
 * paging forwards misses some. */
#include "wdts_test_sandbox.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "wdts/mem.h"
#include "wdts/time.h"
#include "wdts_test.h"

#define TENANTS                                                                                    \
    "[{\"sid\":\"busy-shop\",\"appkey\":\"bk\",\"appsecret\":\"bs:bsalt\","                        \
    "\"orders_per_day\":20000,\"seed\":7}]"
#define TRADES "sales.TradeQuery.queryWithDetail"
#define PAGE 50

static struct sbx_proc sbx;
static char dir[256];
static const char *tenants_path;
static int64_t T0; /* the sandbox clock at start */
static char window[160];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sbx-paging.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    static char path[512];
    snprintf(path, sizeof(path), "%s", wdts_test_write_file(dir, "tenants.json", TENANTS));
    tenants_path = path;
    /* Ten sandbox minutes per real second; every answer takes 20 ms, so a scan of
     * ~40 pages spans several sandbox minutes in which dozens of trades change. */
    T0 = wdts_time_now() / 60 * 60;
    char clock[64];
    snprintf(clock, sizeof(clock), "speed:600@%lld", (long long)T0);
    const char *args[] = {"--tenants",       tenants_path, "--clock", clock,
                          "--timestamp-clock", "sandbox",    "--faults", "latency=20ms",
                          NULL};
    if (sbx_start(&sbx, args) != 0)
        return -1;
    char a[WDTS_BJTIME_LEN], b[WDTS_BJTIME_LEN];
    wdts_time_format_beijing(T0 - 3600, a);
    wdts_time_format_beijing(T0, b);
    snprintf(window, sizeof(window), "[{\"start_time\":\"%s\",\"end_time\":\"%s\"}]", a, b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = sbx_stop(&sbx, 10000);
    sbx_rmdir(dir);
    return rc == 0 ? 0 : -1;
}

/* A set of pks (trade ids), small and linear: a scan sees a few thousand. */
struct idset {
    long long *v;
    size_t n, cap;
};

static int idset_has(const struct idset *s, long long id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == id)
            return 1;
    return 0;
}

static void idset_add(struct idset *s, long long id)
{
    if (idset_has(s, id))
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = wdts_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = id;
}

/* Fetches one page (0-based), signed with the sandbox clock of the moment; adds its
 * ids to seen. @returns the rows on the page; *total gets total_count when asked. */
static size_t fetch(int page, int calc_total, struct idset *seen, long long *total)
{
    char pn[16];
    snprintf(pn, sizeof(pn), "%d", page);
    struct direct_req d;
    direct_defaults(&d, TRADES, window, sbx_clock(&sbx));
    d.sid = "busy-shop";
    d.key = "bk";
    d.secret = "bs";
    d.salt = "bsalt";
    d.page_no = pn;
    d.page_size = "50";
    if (calc_total)
        d.calc_total = "1";
    json_t *j = direct_call(&sbx, &d);
    expect_status(j, 0, NULL);
    json_t *data = json_object_get(j, "data");
    if (total)
        *total = json_integer_value(json_object_get(data, "total_count"));
    json_t *list = json_object_get(data, "order");
    size_t i;
    json_t *row;
    json_array_foreach(list, i, row) {
        json_t *id = json_object_get(row, "trade_id");
        idset_add(seen, json_is_integer(id) ? json_integer_value(id)
                                            : strtoll(json_string_value(id), NULL, 10));
    }
    size_t n = json_array_size(list);
    json_decref(j);
    return n;
}

/* The truth as of the sandbox clock now: the pks whose modified lies in the window. */
static void truth_now(struct idset *truth)
{
    const char *source[] = {"--tenants", tenants_path, NULL};
    json_t *all = sbx_truth(source, "busy-shop", "trades", "wdt", sbx_clock(&sbx), T0 - 3600, T0);
    for (size_t i = 0; i < json_array_size(all); i++)
        idset_add(truth,
                  strtoll(json_string_value(json_object_get(json_array_get(all, i), "pk")), NULL,
                          10));
    json_decref(all);
}

static size_t missing(const struct idset *truth, const struct idset *seen)
{
    size_t m = 0;
    for (size_t i = 0; i < truth->n; i++)
        m += !idset_has(seen, truth->v[i]);
    return m;
}

static void test_backwards_then_page0_misses_none(void **state)
{
    (void)state;
    struct idset seen = {NULL, 0, 0}, first0 = {NULL, 0, 0}, last0 = {NULL, 0, 0}, truth = {NULL, 0, 0};
    long long total = 0, total_end = 0;
    fetch(0, 1, &first0, &total);
    for (size_t i = 0; i < first0.n; i++)
        idset_add(&seen, first0.v[i]);
    assert_true(total > 10 * PAGE);
    int pages = (int)((total + PAGE - 1) / PAGE);
    for (int p = pages - 1; p >= 1; p--)
        fetch(p, 0, &seen, NULL);
    fetch(0, 1, &last0, &total_end);
    for (size_t i = 0; i < last0.n; i++)
        idset_add(&seen, last0.v[i]);
    truth_now(&truth);

    /* Rows moved: the window lost records while we paged, so every row behind one
     * that left moved one place toward page 0. */
    if (total_end >= total)
        fail_msg("no record left the window during the scan (%lld then %lld rows)", total,
                 total_end);
    size_t m = missing(&truth, &seen);
    if (m != 0)
        fail_msg("backward paging + final page 0 missed %zu of %zu records", m, truth.n);
    assert_true(truth.n > 0);
    printf("# backwards: %lld rows at start, %lld at end, %zu in the truth, 0 missed; "
           "%zu rows of the first page 0 no longer on it at the end\n",
           total, total_end, truth.n, missing(&first0, &last0));
    free(seen.v);
    free(first0.v);
    free(last0.v);
    free(truth.v);
}

static void test_forwards_misses_some(void **state)
{
    (void)state;
    struct idset seen = {NULL, 0, 0}, truth = {NULL, 0, 0};
    for (int p = 0;; p++)
        if (fetch(p, 0, &seen, NULL) < PAGE)
            break;
    truth_now(&truth);
    size_t m = missing(&truth, &seen);
    printf("# forwards: %zu in the truth, %zu missed\n", truth.n, m);
    assert_true(truth.n > 0);
    if (m == 0)
        fail_msg("forward paging missed nothing: the clock did not move rows between pages");
    free(seen.v);
    free(truth.v);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backwards_then_page0_misses_none),
        cmocka_unit_test(test_forwards_misses_some),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
