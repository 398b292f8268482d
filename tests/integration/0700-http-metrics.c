/* The metrics/health HTTP server over real loopback HTTP (libcurl): /metrics, /healthz, /readyz
 * and 404/405, readiness by flag and by callback, clear errors for bad or busy addresses, no
 * leaked socket after stop, and scrapes that stay consistent while threads update. Needs no
 * external service. */
#include "wdts_test.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "wdts/http_server.h"
#include "wdts/metrics.h"
#include "wdts/str.h"

struct resp {
    long status;
    char *ctype;
    struct wdts_buf body;
};

static size_t on_body(char *p, size_t size, size_t n, void *opaque)
{
    wdts_buf_append(opaque, p, size * n);
    return size * n;
}

/* host is a name or an address as it goes in a URL ("127.0.0.1", "localhost", "[::1]"). */
static void fetch_at(const char *host, unsigned port, const char *method, const char *path,
                     struct resp *r)
{
    char url[128];
    char *ct = NULL;
    snprintf(url, sizeof(url), "http://%s:%u%s", host, port, path);
    memset(r, 0, sizeof(*r));
    wdts_buf_init(&r->body);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    r->ctype = strdup(ct ? ct : "");
    curl_easy_cleanup(c);
}

static void fetch(unsigned port, const char *method, const char *path, struct resp *r)
{
    fetch_at("127.0.0.1", port, method, path, r);
}

static void resp_free(struct resp *r)
{
    free(r->ctype);
    wdts_buf_deinit(&r->body);
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void test_bad_addresses_get_clear_errors(void **state)
{
    (void)state;
    char es[256];
    static const struct {
        const char *addr;
        const char *says;
    } bad[] = {
        {"", "empty"},
        {NULL, "empty"},
        {"127.0.0.1", "has no port"},
        {"127.0.0.1:", "port must be a number"},
        {"127.0.0.1:99999", "port must be a number"},
        {"127.0.0.1:http", "port must be a number"},
        {"::1:9100", "brackets"},
        {"[::1", "expected host:port"},
        {"[::1]9100", "expected host:port"},
        {"10.255.255.1:0", "not an address of this machine"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        es[0] = '\0';
        struct wdts_http_server *srv = wdts_http_server_new(bad[i].addr, NULL, NULL, NULL, es,
                                                            sizeof(es));
        if (srv != NULL || strstr(es, bad[i].says) == NULL)
            fail_msg("address '%s': server %p, error '%s' lacks '%s'",
                     bad[i].addr ? bad[i].addr : "(null)", (void *)srv, es, bad[i].says);
    }
}

static void test_endpoints_and_readiness_flag(void **state)
{
    (void)state;
    char es[256], addr[64];
    struct resp r;
    int fds_before = count_fds();
    struct wdts_metrics *reg = wdts_metrics_new();
    static const char *const lbl[] = {"class"};
    struct wdts_metric *calls =
        wdts_metrics_counter(reg, "wdt_calls_total", "Calls.", lbl, 1, es, sizeof(es));
    assert_non_null(calls);
    const char *ok[] = {"ok"};
    wdts_metrics_add(wdts_metrics_series(calls, ok), 41);

    struct wdts_http_server *srv = wdts_http_server_new("127.0.0.1:0", reg, NULL, NULL, es,
                                                        sizeof(es));
    if (srv == NULL)
        fail_msg("start: %s", es);
    unsigned port = wdts_http_server_port(srv);
    assert_true(port > 0 && port < 65536);

    /* The same address a second time is refused with a clear message. */
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
    assert_null(wdts_http_server_new(addr, NULL, NULL, NULL, es, sizeof(es)));
    assert_non_null(strstr(es, "already in use"));

    fetch(port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(wdts_buf_str(&r.body), "ok\n");
    resp_free(&r);

    fetch(port, "GET", "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(wdts_buf_str(&r.body), "not ready: starting\n");
    resp_free(&r);

    wdts_http_server_set_ready(srv, 1, NULL);
    fetch(port, "GET", "/readyz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(wdts_buf_str(&r.body), "ready\n");
    resp_free(&r);

    wdts_http_server_set_ready(srv, 0, "kafka: no broker reachable");
    fetch(port, "GET", "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(wdts_buf_str(&r.body), "not ready: kafka: no broker reachable\n");
    resp_free(&r);

    wdts_metrics_inc(wdts_metrics_series(calls, ok));
    fetch(port, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_string_equal(wdts_buf_str(&r.body), "# HELP wdt_calls_total Calls.\n"
                                               "# TYPE wdt_calls_total counter\n"
                                               "wdt_calls_total{class=\"ok\"} 42\n");
    resp_free(&r);

    fetch(port, "HEAD", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    resp_free(&r);

    fetch(port, "GET", "/metrics/extra", &r);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(wdts_buf_str(&r.body), "/metrics, /healthz and /readyz"));
    resp_free(&r);

    fetch(port, "GET", "/", &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);

    fetch(port, "POST", "/metrics", &r);
    assert_int_equal(r.status, 405);
    resp_free(&r);

    /* A query string does not change the route. */
    fetch(port, "GET", "/healthz?verbose=1", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    wdts_http_server_destroy(srv);
    /* Stopped: the listening socket is closed, so the port is free again and nothing leaked. */
    assert_int_equal(count_fds(), fds_before);
    srv = wdts_http_server_new(addr, NULL, NULL, NULL, es, sizeof(es));
    if (srv == NULL)
        fail_msg("restart on %s: %s", addr, es);
    fetch(port, "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(wdts_buf_str(&r.body), ""); /* no registry: empty page */
    resp_free(&r);
    wdts_http_server_destroy(srv);
    wdts_http_server_destroy(NULL);
    wdts_metrics_destroy(reg);
}

static atomic_int cb_ready;

static int ready_cb(void *opaque, char *reason, size_t reason_size)
{
    int *calls = opaque;
    (*calls)++; /* only the server thread calls this */
    if (atomic_load(&cb_ready))
        return 1;
    snprintf(reason, reason_size, "consumer group not joined yet");
    return 0;
}

static void test_readiness_callback(void **state)
{
    (void)state;
    char es[256];
    struct resp r;
    int calls = 0;
    struct wdts_http_server *srv = wdts_http_server_new("localhost:0", NULL, ready_cb, &calls,
                                                        es, sizeof(es));
    if (srv == NULL)
        fail_msg("start: %s", es);
    unsigned port = wdts_http_server_port(srv);
    fetch_at("localhost", port, "GET", "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(wdts_buf_str(&r.body), "not ready: consumer group not joined yet\n");
    resp_free(&r);
    atomic_store(&cb_ready, 1);
    fetch_at("localhost", port, "GET", "/readyz", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* The flag is ignored when a callback decides. */
    wdts_http_server_set_ready(srv, 0, "ignored");
    fetch_at("localhost", port, "GET", "/readyz", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    wdts_http_server_destroy(srv);
    assert_int_equal(calls, 3);
}

static void test_ipv6_loopback(void **state)
{
    (void)state;
    char es[256];
    struct resp r;
    struct wdts_http_server *srv = wdts_http_server_new("[::1]:0", NULL, NULL, NULL, es,
                                                        sizeof(es));
    if (srv == NULL && (strstr(es, "not an address of this machine") || strstr(es, "socket:"))) {
        print_message("no IPv6 loopback here (%s); IPv6 part not run\n", es);
        return;
    }
    if (srv == NULL)
        fail_msg("[::1]:0: %s", es);
    fetch_at("[::1]", wdts_http_server_port(srv), "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(wdts_buf_str(&r.body), "ok\n");
    resp_free(&r);
    wdts_http_server_destroy(srv);
}

/* --- the scrape as Prometheus' own client library parses it --- */

static const char parse_py[] =
    "import json, sys\n"
    "from prometheus_client.parser import text_string_to_metric_families\n"
    "out = []\n"
    "for f in text_string_to_metric_families(sys.stdin.read()):\n"
    "    for s in f.samples:\n"
    "        out.append([f.name, f.type, f.documentation, s.name, s.labels, repr(s.value)])\n"
    "print(json.dumps(out))\n";

/* The sample named name whose label key has value val, as [family, type, help, name, labels,
 * value]; NULL when absent. Borrowed from samples. */
static json_t *find_sample(json_t *samples, const char *name, const char *key, const char *val)
{
    size_t i;
    json_t *smp;
    json_array_foreach(samples, i, smp) {
        const char *v = json_string_value(json_object_get(json_array_get(smp, 4), key));
        if (strcmp(json_string_value(json_array_get(smp, 3)), name) == 0 && v &&
            strcmp(v, val) == 0)
            return smp;
    }
    return NULL;
}

static void test_prometheus_parser_reads_the_scrape(void **state)
{
    (void)state;
    char es[256];
    struct resp r;
    struct wdts_metrics *reg = wdts_metrics_new();
    static const char *const lbl[] = {"method", "note"};
    static const double bounds[] = {0.1, 1};
    static const char help[] = "Back\\slash, \"quotes\" and a\nnewline.";
    static const char tricky[] = "a\"b\\c\nd";
    struct wdts_metric *c = wdts_metrics_counter(reg, "wdt_calls_total", help, lbl, 2, es,
                                                 sizeof(es));
    struct wdts_metric *h = wdts_metrics_histogram(reg, "wdt_call_seconds", "Latency.", lbl, 2,
                                                   bounds, 2, es, sizeof(es));
    assert_true(c && h);
    const char *v1[] = {"trades.query", tricky};
    const char *v2[] = {"stock.query", "店铺 \xff"};
    wdts_metrics_add(wdts_metrics_series(c, v1), 7);
    wdts_metrics_add(wdts_metrics_series(c, v2), 0.25);
    wdts_metrics_observe(wdts_metrics_series(h, v1), 0.5);
    wdts_metrics_observe(wdts_metrics_series(h, v1), 5);

    struct wdts_http_server *srv = wdts_http_server_new("127.0.0.1:0", reg, NULL, NULL, es,
                                                        sizeof(es));
    if (srv == NULL)
        fail_msg("start: %s", es);
    fetch(wdts_http_server_port(srv), "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);

    /* Debian's python3 with python3-prometheus-client (deploy/local/packages.txt). */
    char *argv[] = {(char *)"/usr/bin/python3", (char *)"-c", (char *)parse_py, NULL};
    struct wdts_test_run run;
    assert_int_equal(wdts_test_run(argv, wdts_buf_str(&r.body), 60, &run), 0);
    if (run.status != 0)
        fail_msg("the Prometheus parser refused the scrape (exit %d): %s\n%s", run.status,
                 run.err, wdts_buf_str(&r.body));
    json_error_t jerr;
    json_t *samples = json_loads(run.out, 0, &jerr);
    if (!json_is_array(samples))
        fail_msg("parser output: %s: %s", jerr.text, run.out);

    /* Escaped label values and help text come back byte for byte. */
    json_t *smp = find_sample(samples, "wdt_calls_total", "note", tricky);
    assert_non_null(smp);
    assert_string_equal(json_string_value(json_array_get(smp, 1)), "counter");
    assert_string_equal(json_string_value(json_array_get(smp, 2)), help);
    assert_string_equal(json_string_value(json_array_get(smp, 5)), "7.0");
    smp = find_sample(samples, "wdt_calls_total", "note", "店铺 \xef\xbf\xbd");
    assert_non_null(smp);
    assert_string_equal(json_string_value(json_array_get(smp, 5)), "0.25");
    /* The histogram is read as one with cumulative buckets. */
    static const char *const want[][2] = {{"0.1", "0.0"}, {"1", "1.0"}, {"+Inf", "2.0"}};
    size_t i, buckets = 0;
    json_array_foreach(samples, i, smp) {
        if (strcmp(json_string_value(json_array_get(smp, 3)), "wdt_call_seconds_bucket") != 0)
            continue;
        assert_string_equal(json_string_value(json_array_get(smp, 1)), "histogram");
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(smp, 4), "le")), want[buckets][0]);
        assert_string_equal(json_string_value(json_array_get(smp, 5)), want[buckets][1]);
        buckets++;
    }
    assert_int_equal(buckets, 3);
    smp = find_sample(samples, "wdt_call_seconds_sum", "note", tricky);
    assert_non_null(smp);
    assert_string_equal(json_string_value(json_array_get(smp, 5)), "5.5");
    smp = find_sample(samples, "wdt_call_seconds_count", "note", tricky);
    assert_non_null(smp);
    assert_string_equal(json_string_value(json_array_get(smp, 5)), "2.0");

    json_decref(samples);
    wdts_test_run_free(&run);
    resp_free(&r);
    wdts_http_server_destroy(srv);
    wdts_metrics_destroy(reg);
}

/* --- concurrent updates while scraping --- */

#define WRITERS 4
#define SCRAPES 30

static atomic_int writers_stop;

struct writer {
    struct wdts_metric *calls;
    struct wdts_metric_series *lat, *inflight;
    int id;
    long n; /* iterations done, read after join */
};

/* Observed values, one per bucket of bounds {0.25, 1, 2} and +Inf, so the buckets of a scrape
 * fix its _sum exactly. */
static const double obs_values[4] = {0, 0.5, 1.5, 3};

static void *writer_run(void *arg)
{
    struct writer *w = arg;
    char id[8];
    snprintf(id, sizeof(id), "w%d", w->id);
    long i;
    for (i = 0; !atomic_load_explicit(&writers_stop, memory_order_relaxed) || i < 1000; i++) {
        /* Look the series up each time, as a loop that does not cache handles would. */
        const char *vals[] = {i % 2 ? "ok" : "retry", id};
        wdts_metrics_inc(wdts_metrics_series(w->calls, vals));
        wdts_metrics_observe(w->lat, obs_values[i % 4]);
        wdts_metrics_add(w->inflight, 1);
        wdts_metrics_add(w->inflight, -1);
    }
    w->n = i;
    return NULL;
}

/* The value of the line "<series> <value>", or NAN when absent. */
static double scraped(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return NAN;
}

static const char *calls_name(char *buf, size_t size, int writer, int ok)
{
    snprintf(buf, size, "calls_total{class=\"%s\",writer=\"w%d\"}", ok ? "ok" : "retry", writer);
    return buf;
}

static void test_concurrent_updates_and_scrapes(void **state)
{
    (void)state;
    char es[256], name[128];
    struct wdts_metrics *reg = wdts_metrics_new();
    static const char *const lbl[] = {"class", "writer"};
    static const double bounds[] = {0.25, 1, 2};
    struct wdts_metric *calls =
        wdts_metrics_counter(reg, "calls_total", "Calls.", lbl, 2, es, sizeof(es));
    struct wdts_metric *lat =
        wdts_metrics_histogram(reg, "lat_seconds", "Latency.", NULL, 0, bounds, 3, es, sizeof(es));
    struct wdts_metric *infl = wdts_metrics_gauge(reg, "in_flight", "In flight.", NULL, 0, es,
                                                  sizeof(es));
    assert_true(calls && lat && infl);
    struct wdts_http_server *srv = wdts_http_server_new("127.0.0.1:0", reg, NULL, NULL, es,
                                                        sizeof(es));
    if (srv == NULL)
        fail_msg("start: %s", es);
    unsigned port = wdts_http_server_port(srv);

    struct writer w[WRITERS];
    pthread_t t[WRITERS];
    atomic_store(&writers_stop, 0);
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (struct writer){calls, wdts_metrics_series(lat, NULL),
                               wdts_metrics_series(infl, NULL), i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, writer_run, &w[i]), 0);
    }

    /* The writers run until every scrape is done, so each scrape overlaps updates. */
    double last_calls[WRITERS][2] = {{0}};
    double last_count = 0;
    for (int sc = 1; sc <= SCRAPES; sc++) {
        struct resp r;
        fetch(port, "GET", "/metrics", &r);
        assert_int_equal(r.status, 200);
        const char *text = wdts_buf_str(&r.body);
        /* Histogram: buckets cumulative, +Inf equal to _count, _sum of the same moment. */
        double b025 = scraped(text, "lat_seconds_bucket{le=\"0.25\"}");
        double b1 = scraped(text, "lat_seconds_bucket{le=\"1\"}");
        double b2 = scraped(text, "lat_seconds_bucket{le=\"2\"}");
        double binf = scraped(text, "lat_seconds_bucket{le=\"+Inf\"}");
        double sum = scraped(text, "lat_seconds_sum");
        double count = scraped(text, "lat_seconds_count");
        if (!(b025 <= b1 && b1 <= b2 && b2 <= binf && binf == count))
            fail_msg("scrape %d: buckets %g %g %g %g, count %g", sc, b025, b1, b2, binf, count);
        double want = 0.5 * (b1 - b025) + 1.5 * (b2 - b1) + 3 * (binf - b2);
        if (sum != want)
            fail_msg("scrape %d: sum %.17g, but the buckets say %.17g", sc, sum, want);
        if (count < last_count)
            fail_msg("scrape %d: count went down %g -> %g", sc, last_count, count);
        last_count = count;
        /* Counters never go down between scrapes. */
        for (int i = 0; i < WRITERS; i++) {
            for (int k = 0; k < 2; k++) {
                double v = scraped(text, calls_name(name, sizeof(name), i, k));
                if (isnan(v))
                    v = 0; /* not used yet */
                if (v < last_calls[i][k])
                    fail_msg("scrape %d: %s went down", sc, name);
                last_calls[i][k] = v;
            }
        }
        double g = scraped(text, "in_flight");
        if (!(g >= 0 && g <= WRITERS))
            fail_msg("scrape %d: in_flight %g", sc, g);
        resp_free(&r);
    }
    atomic_store(&writers_stop, 1);
    long total = 0;
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        total += w[i].n;
    }

    /* After the writers: exact totals. */
    struct resp r;
    fetch(port, "GET", "/metrics", &r);
    const char *text = wdts_buf_str(&r.body);
    double per_value[4] = {0};
    for (int i = 0; i < WRITERS; i++) {
        assert_true(scraped(text, calls_name(name, sizeof(name), i, 0)) == (w[i].n + 1) / 2);
        assert_true(scraped(text, calls_name(name, sizeof(name), i, 1)) == w[i].n / 2);
        for (int k = 0; k < 4; k++)
            per_value[k] += (double)(w[i].n / 4 + (k < w[i].n % 4));
    }
    assert_true(scraped(text, "lat_seconds_bucket{le=\"0.25\"}") == per_value[0]);
    assert_true(scraped(text, "lat_seconds_bucket{le=\"1\"}") == per_value[0] + per_value[1]);
    assert_true(scraped(text, "lat_seconds_bucket{le=\"2\"}") ==
                per_value[0] + per_value[1] + per_value[2]);
    assert_true(scraped(text, "lat_seconds_count") == (double)total);
    assert_true(scraped(text, "lat_seconds_sum") ==
                0.5 * per_value[1] + 1.5 * per_value[2] + 3 * per_value[3]);
    assert_true(scraped(text, "in_flight") == 0);
    resp_free(&r);
    print_message("%d scrapes during %ld updates by %d threads\n", SCRAPES, total, WRITERS);
    wdts_http_server_destroy(srv);
    wdts_metrics_destroy(reg);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_addresses_get_clear_errors),
        cmocka_unit_test(test_endpoints_and_readiness_flag),
        cmocka_unit_test(test_readiness_callback),
        cmocka_unit_test(test_ipv6_loopback),
        cmocka_unit_test(test_prometheus_parser_reads_the_scrape),
        cmocka_unit_test(test_concurrent_updates_and_scrapes),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
