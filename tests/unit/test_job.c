/* The job contract: encode/decode round trip, deterministic ids and keys, and a
 * decoder that rejects every malformed job with a reason naming the field. */
#include "wdts_test.h"

#include <stdio.h>
#include <string.h>

#include "wdts/job.h"
#include "wdts/str.h"

#define T0 1700000000LL /* 2023-11-15T06:13:20+08:00 */

static void test_round_trip(void **state)
{
    (void)state;
    char es[256] = "";
    struct wdts_job job;
    assert_int_equal(wdts_job_init(&job, "acme", "c1", "trades", T0, T0 + 3600,
                                   WDTS_JOB_INCREMENTAL, 1, T0 + 4000, es, sizeof(es)),
                     WDTS_OK);
    assert_string_equal(job.job_id, "c1:trades:1700000000:1700003600");

    struct wdts_buf buf;
    wdts_buf_init(&buf);
    wdts_job_encode(&job, &buf);
    assert_string_equal(
        wdts_buf_str(&buf),
        "{\"v\":1,\"job_id\":\"c1:trades:1700000000:1700003600\",\"tenant\":\"acme\","
        "\"connection\":\"c1\",\"report\":\"trades\","
        "\"start\":\"2023-11-15T06:13:20+08:00\",\"end\":\"2023-11-15T07:13:20+08:00\","
        "\"kind\":\"incremental\",\"attempt\":1,"
        "\"emitted_at\":\"2023-11-15T07:20:00+08:00\"}");

    struct wdts_job back;
    assert_int_equal(wdts_job_decode(buf.data, buf.len, &back, es, sizeof(es)), WDTS_OK);
    assert_memory_equal(&job, &back, sizeof(job));

    wdts_buf_reset(&buf);
    wdts_job_key(&job, &buf);
    assert_string_equal(wdts_buf_str(&buf), "c1:trades");
    wdts_buf_deinit(&buf);

    /* every kind survives the trip */
    for (int k = 0; k < WDTS_JOB_KIND__COUNT; k++) {
        enum wdts_job_kind kind;
        assert_int_equal(wdts_job_kind_parse(wdts_job_kind_name((enum wdts_job_kind)k), &kind),
                         WDTS_OK);
        assert_int_equal(kind, k);
        assert_int_equal(wdts_job_init(&job, "t", "c.2", "stock_changes", T0, T0 + 60,
                                       (enum wdts_job_kind)k, 7, T0, es, sizeof(es)),
                         WDTS_OK);
        wdts_buf_init(&buf);
        wdts_job_encode(&job, &buf);
        assert_int_equal(wdts_job_decode(buf.data, buf.len, &back, es, sizeof(es)), WDTS_OK);
        assert_int_equal(back.kind, k);
        assert_int_equal(back.attempt, 7);
        wdts_buf_deinit(&buf);
    }
    assert_string_equal(wdts_job_kind_name(WDTS_JOB_KIND__COUNT), "?");
}

static void test_init_rejects(void **state)
{
    (void)state;
    char es[256];
    struct wdts_job job;
    assert_int_equal(wdts_job_init(&job, "t", "c:1", "trades", T0, T0 + 60, WDTS_JOB_BACKFILL, 1,
                                   T0, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "'connection'"));
    assert_int_equal(
        wdts_job_init(&job, "t", "c", "trades", T0, T0, WDTS_JOB_BACKFILL, 1, T0, es, sizeof(es)),
        WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "must be after start"));
    assert_int_equal(wdts_job_init(&job, "t", "c", "trades", T0, T0 + 1, WDTS_JOB_BACKFILL, 0, T0,
                                   es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "'attempt'"));
    assert_int_equal(wdts_job_init(&job, "", "c", "trades", T0, T0 + 1, WDTS_JOB_BACKFILL, 1, T0,
                                   es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "'tenant'"));
    char longname[100];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(wdts_job_init(&job, "t", longname, "trades", T0, T0 + 1, WDTS_JOB_BACKFILL, 1,
                                   T0, es, sizeof(es)),
                     WDTS_ERR_INVAL);
    assert_non_null(strstr(es, "'connection'"));
    assert_true(wdts_job_name_valid("a-b_c.9"));
    assert_false(wdts_job_name_valid("a b"));
    assert_false(wdts_job_name_valid(NULL));
}

/* A valid job with `field` replaced: value is raw JSON, or NULL to drop the field. */
static const char *const good[][2] = {
    {"v", "1"},
    {"job_id", "\"c1:trades:1700000000:1700003600\""},
    {"tenant", "\"acme\""},
    {"connection", "\"c1\""},
    {"report", "\"trades\""},
    {"start", "\"2023-11-15T06:13:20+08:00\""},
    {"end", "\"2023-11-15T07:13:20+08:00\""},
    {"kind", "\"incremental\""},
    {"attempt", "1"},
    {"emitted_at", "\"2023-11-14T23:20:00Z\""},
};

static void build(struct wdts_buf *buf, const char *field, const char *value)
{
    wdts_buf_reset(buf);
    wdts_buf_append_str(buf, "{");
    int first = 1;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *v = good[i][1];
        if (field && strcmp(field, good[i][0]) == 0) {
            if (value == NULL)
                continue;
            v = value;
        }
        wdts_buf_printf(buf, "%s\"%s\":%s", first ? "" : ",", good[i][0], v);
        first = 0;
    }
    wdts_buf_append_str(buf, "}");
}

static void expect_reject(const char *json, wdts_err_t want_err, const char *want)
{
    char es[256] = "";
    struct wdts_job job;
    memset(&job, 0x5a, sizeof(job));
    wdts_err_t err = wdts_job_decode(json, strlen(json), &job, es, sizeof(es));
    if (err != want_err || strstr(es, want) == NULL)
        fail_msg("decoding %s: want %s '%s', got %s '%s'", json, wdts_err2str(want_err), want,
                 wdts_err2str(err), es);
    assert_int_equal(job.attempt, 0x5a5a5a5a); /* untouched on failure */
}

static void test_decode_rejects(void **state)
{
    (void)state;
    struct wdts_buf buf;
    wdts_buf_init(&buf);
    char es[256];
    struct wdts_job job;

    build(&buf, NULL, NULL);
    assert_int_equal(wdts_job_decode(buf.data, buf.len, &job, es, sizeof(es)), WDTS_OK);
    assert_int_equal(job.emitted_at, T0 + 3600 + 400); /* the Z form is accepted */

    expect_reject("", WDTS_ERR_JSON, "not JSON");
    expect_reject("{\"v\":1", WDTS_ERR_JSON, "not JSON");
    expect_reject("[1,2]", WDTS_ERR_INVAL, "must be a JSON object");
    expect_reject("{\"v\":1,\"v\":1}", WDTS_ERR_JSON, "duplicate");

    struct {
        const char *field, *value, *want;
        wdts_err_t err;
    } cases[] = {
        {"v", NULL, "field 'v' is missing", WDTS_ERR_INVAL},
        {"job_id", NULL, "field 'job_id' is missing", WDTS_ERR_INVAL},
        {"tenant", NULL, "field 'tenant' is missing", WDTS_ERR_INVAL},
        {"end", NULL, "field 'end' is missing", WDTS_ERR_INVAL},
        {"emitted_at", NULL, "field 'emitted_at' is missing", WDTS_ERR_INVAL},
        {"v", "2", "version 2 is not supported", WDTS_ERR_INVAL},
        {"v", "\"1\"", "field 'v': must be an integer", WDTS_ERR_INVAL},
        {"v", "1.0", "field 'v': must be an integer", WDTS_ERR_INVAL},
        {"tenant", "7", "field 'tenant': must be a string", WDTS_ERR_INVAL},
        {"tenant", "\"a b\"", "field 'tenant': must be 1-64", WDTS_ERR_INVAL},
        {"connection", "\"c1:x\"", "field 'connection'", WDTS_ERR_INVAL},
        {"report", "null", "field 'report': must be a string", WDTS_ERR_INVAL},
        {"start", "1700000000", "field 'start': must be an RFC 3339", WDTS_ERR_INVAL},
        {"start", "\"1700000000\"", "field 'start': must be an RFC 3339", WDTS_ERR_INVAL},
        {"start", "\"2023-11-15 06:13:20\"", "field 'start': must be an RFC 3339", WDTS_ERR_INVAL},
        {"start", "\"2023-11-15T06:13:20.5+08:00\"", "field 'start'", WDTS_ERR_INVAL},
        {"start", "\"2023-11-15T07:13:20+08:00\"", "field 'end': must be after start",
         WDTS_ERR_INVAL},
        {"end", "\"2023-11-15T05:13:20+08:00\"", "field 'end': must be after start",
         WDTS_ERR_INVAL},
        {"end", "\"2150-01-01T00:00:00+08:00\"", "field 'end': out of range", WDTS_ERR_INVAL},
        {"start", "\"1999-01-01T00:00:00+08:00\"", "field 'start': out of range", WDTS_ERR_INVAL},
        {"kind", "\"full\"", "field 'kind': unknown kind 'full'", WDTS_ERR_INVAL},
        {"kind", "3", "field 'kind': must be a string", WDTS_ERR_INVAL},
        {"attempt", "0", "field 'attempt': must be an integer in [1, 1000]", WDTS_ERR_INVAL},
        {"attempt", "99999999999", "field 'attempt'", WDTS_ERR_INVAL},
        {"attempt", "1e3", "field 'attempt'", WDTS_ERR_INVAL},
        {"attempt", "true", "field 'attempt'", WDTS_ERR_INVAL},
        {"attempt", "123456789012345678901234567890", "not JSON", WDTS_ERR_JSON},
        {"job_id", "\"c1:trades:1700000000:1700003601\"", "field 'job_id'", WDTS_ERR_INVAL},
        {"job_id", "\"other:trades:1700000000:1700003600\"", "does not match", WDTS_ERR_INVAL},
        {"emitted_at", "\"yesterday\"", "field 'emitted_at'", WDTS_ERR_INVAL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        build(&buf, cases[i].field, cases[i].value);
        expect_reject(wdts_buf_str(&buf), cases[i].err, cases[i].want);
    }

    /* an unknown field is refused, not ignored */
    build(&buf, NULL, NULL);
    buf.data[buf.len - 1] = ',';
    wdts_buf_append_str(&buf, "\"window\":1}");
    expect_reject(wdts_buf_str(&buf), WDTS_ERR_INVAL, "unknown field 'window'");
    wdts_buf_deinit(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_init_rejects),
        cmocka_unit_test(test_decode_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
