/* The sink's decoder (sink/sink_msg.c) without Kafka or SQLite: the shared samples of
 * tests/fixtures/sink/envelopes.jsonl (also checked against the JSON Schemas by
 * integration/1290), the job samples against the job decoder, the upsert order of
 * versions, times with milliseconds, headers and the catalog's modified field. */
#include "wdts_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sink_msg_int.h"
#include "wdts/catalog.h"
#include "wdts/job.h"

static struct wdts_catalog *cat;

static int setup(void **state)
{
    (void)state;
    char es[256];
    cat = wdts_catalog_new(NULL, es, sizeof(es));
    return cat == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    wdts_catalog_destroy(cat);
    return 0;
}

static enum sink_msg_type decode(const char *key, const char *value,
                                 const struct sink_msg_headers *hdrs, struct sink_msg *m)
{
    sink_msg_decode(key, key ? strlen(key) : 0, value, value ? strlen(value) : 0, hdrs, cat, m);
    return m->type;
}

static void test_fixtures(void **state)
{
    (void)state;
    const char *path = WDTS_SOURCE_DIR "/tests/fixtures/sink/envelopes.jsonl";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192];
    int n_sink = 0, n_job = 0, failures = 0;
    while (fgets(line, sizeof(line), f)) {
        json_error_t jerr;
        json_t *c = json_loads(line, 0, &jerr);
        assert_non_null(c);
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *schema = json_string_value(json_object_get(c, "schema"));
        const char *want = json_string_value(json_object_get(c, "sink"));
        char *value = json_dumps(json_object_get(c, "value"), JSON_COMPACT);
        if (want != NULL) {
            struct sink_msg m;
            enum sink_msg_type t =
                decode(json_string_value(json_object_get(c, "key")), value, NULL, &m);
            const char *got = t == SINK_MSG_RECORD   ? "record"
                              : t == SINK_MSG_MARKER ? "marker"
                                                     : "reject";
            if (strcmp(got, want) != 0) {
                fprintf(stderr, "%s: sink says %s (%s), the sample says %s\n", name, got, m.reason,
                        want);
                failures++;
            }
            if (t == SINK_MSG_REJECT && strlen(m.reason) < 10) {
                fprintf(stderr, "%s: reject without a useful reason: '%s'\n", name, m.reason);
                failures++;
            }
            sink_msg_deinit(&m);
            n_sink++;
        } else if (strcmp(schema, "job") == 0) {
            struct wdts_job job;
            char es[256];
            int ok = wdts_job_decode(value, strlen(value), &job, es, sizeof(es)) == WDTS_OK;
            if (ok != json_is_true(json_object_get(c, "schema_valid"))) {
                fprintf(stderr, "%s: job decoder says %s (%s)\n", name, ok ? "ok" : "bad",
                        ok ? "" : es);
                failures++;
            }
            n_job++;
        }
        free(value);
        json_decref(c);
    }
    fclose(f);
    assert_int_equal(failures, 0);
    assert_true(n_sink >= 20);
    assert_true(n_job >= 4);
}

static void test_record_fields(void **state)
{
    (void)state;
    struct sink_msg m;
    const char *v = "{\"v\":1,\"tenant\":\"t1\",\"connection\":\"c1\",\"source\":\"qimen\","
                    "\"report\":\"trades\",\"pk\":\"42\",\"op\":\"upsert\",\"window\":{\"start\":"
                    "\"2026-03-01T10:00:00+08:00\",\"end\":\"2026-03-01T11:00:00+08:00\"},"
                    "\"job_id\":\"c1:trades:1772330400:1772334000\",\"extracted_at\":"
                    "\"2026-03-01T11:05:00.25+08:00\",\"data\":{\"modified\":\"2026-03-01 "
                    "10:12:00\",\"paid\":\"1.00\"}}";
    assert_int_equal(decode("c1:trades:42", v, NULL, &m), SINK_MSG_RECORD);
    assert_string_equal(m.report, "trades");
    assert_string_equal(m.rec.tenant, "t1");
    assert_string_equal(m.rec.connection, "c1");
    assert_string_equal(m.rec.source, "qimen");
    assert_string_equal(m.rec.pk, "42");
    assert_string_equal(m.rec.job_id, "c1:trades:1772330400:1772334000");
    assert_int_equal(m.rec.modified_ms, (1772330400LL + 12 * 60) * 1000);
    assert_int_equal(m.rec.extracted_ms, (1772330400LL + 65 * 60) * 1000 + 250);
    assert_string_equal(m.rec.extracted_at, "2026-03-01T11:05:00.25+08:00");
    assert_string_equal(m.rec.data, "{\"modified\":\"2026-03-01 10:12:00\",\"paid\":\"1.00\"}");
    sink_msg_deinit(&m);

    /* Headers agree: fine. Report header differs: rejected, named. */
    struct sink_msg_headers h = {.report = "trades", .tenant = "t1", .schema = "wdt.record.v1"};
    assert_int_equal(decode("c1:trades:42", v, &h, &m), SINK_MSG_RECORD);
    sink_msg_deinit(&m);
    h.tenant = "t2";
    assert_int_equal(decode("c1:trades:42", v, &h, &m), SINK_MSG_REJECT);
    assert_non_null(strstr(m.reason, "header 'tenant'"));
    assert_string_equal(m.report, "trades"); /* still attributed */
    sink_msg_deinit(&m);
    /* A schema header naming a marker makes the body a marker, which it is not. */
    struct sink_msg_headers hm = {.schema = "wdt.window.v1"};
    assert_int_equal(decode("c1:trades:42", v, &hm, &m), SINK_MSG_REJECT);
    assert_non_null(strstr(m.reason, "marker"));
    sink_msg_deinit(&m);
    /* No key at all. */
    assert_int_equal(decode(NULL, v, NULL, &m), SINK_MSG_REJECT);
    assert_non_null(strstr(m.reason, "key"));
    sink_msg_deinit(&m);
}

static void test_modified_formats(void **state)
{
    (void)state;
    struct sink_msg m;
    char v[1024];
    const char *fmt = "{\"v\":1,\"tenant\":\"t1\",\"connection\":\"c1\",\"source\":\"wdt\","
                      "\"report\":\"%s\",\"pk\":\"1\",\"op\":\"upsert\",\"window\":{\"start\":"
                      "\"2026-03-01T10:00:00+08:00\",\"end\":\"2026-03-01T11:00:00+08:00\"},"
                      "\"job_id\":\"j\",\"extracted_at\":\"2026-03-01T11:05:00+08:00\","
                      "\"data\":{\"modified\":%s,\"created\":\"2026-03-01 10:00:00\"}}";
    /* Every report takes both forms, whatever its catalog entry shows (the pages give no
     * format): a report not in the catalog, trades (datetime in the pages' examples) as
     * epoch ms, refunds (epoch ms there) as a datetime, a numeric string and epoch seconds;
     * the same instant orders the same. want 0: refused. */
    static const struct {
        const char *report, *modified;
        long long want;
    } cases[] = {
        {"custom", "1772331000123", 1772331000123LL},
        {"custom", "\"2026-03-01 10:10:00\"", 1772331000000LL},
        {"trades", "1772331000123", 1772331000123LL},
        {"refunds", "\"2026-03-01 10:10:00\"", 1772331000000LL},
        {"refunds", "\"1772331000000\"", 1772331000000LL},
        {"refunds", "1772331000", 1772331000000LL},
        {"trades", "\"yesterday\"", 0},
        {"trades", "-5", 0},
        {"trades", "\"0000-00-00 00:00:00\"", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char key[64];
        snprintf(v, sizeof(v), fmt, cases[i].report, cases[i].modified);
        snprintf(key, sizeof(key), "c1:%s:1", cases[i].report);
        if (cases[i].want == 0) {
            assert_int_equal(decode(key, v, NULL, &m), SINK_MSG_REJECT);
            assert_non_null(strstr(m.reason, "yyyy-MM-dd HH:mm:ss"));
            assert_non_null(strstr(m.reason, "epoch milliseconds"));
        } else {
            assert_int_equal(decode(key, v, NULL, &m), SINK_MSG_RECORD);
            assert_int_equal(m.rec.modified_ms, cases[i].want);
        }
        sink_msg_deinit(&m);
    }
    /* stock_changes orders by `created` (its catalog entry), whatever `modified` holds. */
    snprintf(v, sizeof(v), fmt, "stock_changes", "null");
    assert_int_equal(decode("c1:stock_changes:1", v, NULL, &m), SINK_MSG_RECORD);
    assert_int_equal(m.rec.modified_ms, 1772330400000LL);
    sink_msg_deinit(&m);
}

static void test_not_envelopes(void **state)
{
    (void)state;
    struct sink_msg m;
    assert_int_equal(decode("k", NULL, NULL, &m), SINK_MSG_REJECT);
    assert_non_null(strstr(m.reason, "tombstone"));
    sink_msg_deinit(&m);
    assert_int_equal(decode("k", "{\"v\":1", NULL, &m), SINK_MSG_REJECT);
    assert_non_null(strstr(m.reason, "not JSON"));
    sink_msg_deinit(&m);
    assert_int_equal(decode("k", "[1,2]", NULL, &m), SINK_MSG_REJECT);
    assert_non_null(strstr(m.reason, "not a JSON object"));
    sink_msg_deinit(&m);
    assert_int_equal(decode("k", "{\"a\":1,\"a\":2}", NULL, &m), SINK_MSG_REJECT);
    sink_msg_deinit(&m);
    assert_int_equal(decode("k", "{\"hello\":\"world\"}", NULL, &m), SINK_MSG_REJECT);
    assert_non_null(strstr(m.reason, "neither"));
    sink_msg_deinit(&m);
}

/* Malformed input never crashes and never yields a half-filled record: every truncation of
 * a valid envelope, and many random byte changes of it, decode to a complete record or a
 * reject with a reason. */
static void test_mutations(void **state)
{
    (void)state;
    const char *v = "{\"v\":1,\"tenant\":\"t1\",\"connection\":\"c1\",\"source\":\"wdt\","
                    "\"report\":\"trades\",\"pk\":\"42\",\"op\":\"upsert\",\"window\":{\"start\":"
                    "\"2026-03-01T10:00:00+08:00\",\"end\":\"2026-03-01T11:00:00+08:00\"},"
                    "\"job_id\":\"c1:trades:1772330400:1772334000\",\"extracted_at\":"
                    "\"2026-03-01T11:05:00+08:00\",\"data\":{\"modified\":\"2026-03-01 "
                    "10:12:00\",\"detail_list\":[{\"num\":\"2.0000\"}]}}";
    size_t n = strlen(v);
    char buf[1024];
    int records = 0, rejects = 0;
    unsigned seed = 12345;
    for (int round = 0; round < 20000; round++) {
        size_t len = n;
        memcpy(buf, v, n);
        if (round < (int)n) {
            len = (size_t)round; /* every truncation */
        } else {
            int changes = 1 + round % 4;
            for (int c = 0; c < changes; c++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = (seed >> 8) % n;
                seed = seed * 1103515245u + 12345u;
                buf[at] = (char)(seed >> 16);
            }
        }
        struct sink_msg m;
        sink_msg_decode("c1:trades:42", strlen("c1:trades:42"), buf, len, NULL, cat, &m);
        if (m.type == SINK_MSG_RECORD) {
            assert_non_null(m.rec.pk);
            assert_non_null(m.rec.data);
            assert_non_null(m.rec.extracted_at);
            records++;
        } else if (m.type == SINK_MSG_MARKER) {
            assert_non_null(m.marker.json);
        } else {
            assert_true(strlen(m.reason) > 0);
            assert_null(m.rec.pk);
            assert_null(m.rec.data);
            rejects++;
        }
        sink_msg_deinit(&m);
    }
    assert_true(records > 0);
    assert_true(rejects > (int)n);
}

static void test_version_order(void **state)
{
    (void)state;
    assert_int_equal(sink_msg_version_cmp(2000, 0, 1000, 5), SINK_VERSION_NEWER);
    assert_int_equal(sink_msg_version_cmp(1000, 9, 2000, 0), SINK_VERSION_OLDER);
    assert_int_equal(sink_msg_version_cmp(1000, 6, 1000, 5), SINK_VERSION_SAME_LATER);
    assert_int_equal(sink_msg_version_cmp(1000, 5, 1000, 5), SINK_VERSION_SAME);
    assert_int_equal(sink_msg_version_cmp(1000, 4, 1000, 5), SINK_VERSION_SAME);
}

static void test_times(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(sink_msg_parse_time_ms("2026-03-01T10:00:00+08:00", &ms), WDTS_OK);
    assert_int_equal(ms, 1772330400000LL);
    assert_int_equal(sink_msg_parse_time_ms("2026-03-01T02:00:00.5Z", &ms), WDTS_OK);
    assert_int_equal(ms, 1772330400500LL);
    assert_int_equal(sink_msg_parse_time_ms("2026-03-01T02:00:00.123456Z", &ms), WDTS_OK);
    assert_int_equal(ms, 1772330400123LL);
    assert_int_equal(sink_msg_parse_time_ms("2026-03-01 10:00:00", &ms), WDTS_ERR_INVAL);
    assert_int_equal(sink_msg_parse_time_ms("1772330400", &ms), WDTS_ERR_INVAL);
    assert_int_equal(sink_msg_parse_time_ms("2026-03-01T10:00:00", &ms), WDTS_ERR_INVAL);
    assert_int_equal(sink_msg_parse_time_ms(NULL, &ms), WDTS_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),         cmocka_unit_test(test_record_fields),
        cmocka_unit_test(test_modified_formats), cmocka_unit_test(test_not_envelopes),
        cmocka_unit_test(test_mutations),        cmocka_unit_test(test_version_order),
        cmocka_unit_test(test_times),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
