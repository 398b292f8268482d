/* The producer and the reference consumer agree: for every report of the catalog, the
 * record envelope, key and headers that wdt-worker writes (worker/wrk_job.c) decode in
 * the sink as a record with the same identity and change time, and the worker's window
 * marker decodes as a marker, with and without its headers. A change to either side of
 * the contract fails here. */
#include "wdts_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sink_msg_int.h"
#include "wdts/catalog.h"
#include "wdts/job.h"
#include "wdts/str.h"
#include "wrk_job.h"

#define MODIFIED "2026-03-01 10:12:00"
#define MODIFIED_MS 1772331120000LL

static void test_every_report(void **state)
{
    (void)state;
    char es[512];
    struct wdts_catalog *cat = wdts_catalog_new(NULL, es, sizeof(es));
    assert_non_null(cat);
    size_t n = wdts_catalog_count(cat);
    assert_true(n > 0);
    for (size_t i = 0; i < n; i++) {
        const struct wdts_catalog_report *rep = wdts_catalog_at(cat, i);
        struct wdts_job job;
        assert_int_equal(wdts_job_init(&job, "shopco", "shopco-qm", rep->name, 1772330400,
                                       1772334000, WDTS_JOB_BACKFILL, 1, 1772334360, es,
                                       sizeof(es)),
                         WDTS_OK);
        /* A record with every pk field and the change time, as the API would send it. */
        json_t *rec = json_object();
        for (size_t k = 0; k < rep->pk.n; k++)
            json_object_set_new(rec, rep->pk.v[k],
                                k % 2 ? json_integer((json_int_t)(1000 + k)) : json_string("K-1"));
        json_object_set_new(rec, rep->modified_field,
                            rep->modified_format == WDTS_TIMEFMT_DATETIME
                                ? json_string(MODIFIED)
                                : json_integer(MODIFIED_MS));
        json_object_set_new(rec, "remark", json_string("备注 \"quoted\""));

        struct wdts_buf pk, key, val, mkey, mval;
        wdts_buf_init(&pk);
        wdts_buf_init(&key);
        wdts_buf_init(&val);
        wdts_buf_init(&mkey);
        wdts_buf_init(&mval);
        assert_int_equal(wrk_job_pk(rep, rec, &pk, es, sizeof(es)), WDTS_OK);
        struct wrk_envctx ctx = {.job = &job, .source = "qimen", .extracted_at = 1772334300};
        wrk_job_envelope(&val, &ctx, wdts_buf_str(&pk), rec);
        wrk_job_record_key(&key, &job, wdts_buf_str(&pk));
        wrk_job_marker(&mval, &ctx, 7, 1, 2, 7, 0);
        wrk_job_marker_key(&mkey, &job);

        struct sink_msg m;
        struct sink_msg_headers h = {
            .report = rep->name, .tenant = "shopco", .schema = WRK_SCHEMA_RECORD};
        sink_msg_decode(key.data, key.len, val.data, val.len, &h, cat, &m);
        if (m.type != SINK_MSG_RECORD)
            fprintf(stderr, "%s: record refused: %s\n  key %s\n  value %s\n", rep->name, m.reason,
                    key.data, val.data);
        assert_int_equal(m.type, SINK_MSG_RECORD);
        assert_string_equal(m.report, rep->name);
        assert_string_equal(m.rec.connection, "shopco-qm");
        assert_string_equal(m.rec.tenant, "shopco");
        assert_string_equal(m.rec.source, "qimen");
        assert_string_equal(m.rec.pk, wdts_buf_str(&pk));
        assert_string_equal(m.rec.job_id, job.job_id);
        assert_int_equal(m.rec.modified_ms, MODIFIED_MS);
        assert_int_equal(m.rec.extracted_ms, 1772334300000LL);
        assert_non_null(strstr(m.rec.data, "备注"));
        sink_msg_deinit(&m);

        h.schema = WRK_SCHEMA_WINDOW;
        for (int with_headers = 1; with_headers >= 0; with_headers--) {
            sink_msg_decode(mkey.data, mkey.len, mval.data, mval.len, with_headers ? &h : NULL, cat,
                            &m);
            if (m.type != SINK_MSG_MARKER)
                fprintf(stderr, "%s: marker refused: %s\n  %s\n", rep->name, m.reason, mval.data);
            assert_int_equal(m.type, SINK_MSG_MARKER);
            assert_string_equal(m.report, rep->name);
            assert_string_equal(m.marker.job_id, job.job_id);
            assert_string_equal(m.marker.connection, "shopco-qm");
            assert_string_equal(m.marker.tenant, "shopco");
            assert_int_equal(m.marker.records, 7);
            assert_int_equal(m.marker.api_total, 7);
            assert_string_equal(m.marker.status, "complete");
            sink_msg_deinit(&m);
        }
        json_decref(rec);
        wdts_buf_deinit(&pk);
        wdts_buf_deinit(&key);
        wdts_buf_deinit(&val);
        wdts_buf_deinit(&mkey);
        wdts_buf_deinit(&mval);
    }
    wdts_catalog_destroy(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
