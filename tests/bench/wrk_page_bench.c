/* Benchmark of what one page of records costs the worker apart from HTTP and Kafka: the
 * classification (one strict walk that finds the list, each record and its pk, and the
 * tree of the rest), then per record the pk, the record key and the envelope, exactly as
 * produce_page() makes them. The pages are trade pages rendered by the sandbox's data
 * module, as wdt-sandbox sends them.
 *
 *   bench-wrk_page_bench [pages] [rounds]      (defaults 40 pages, 50 rounds)
 *
 * It prints pages/s, records/s and MB/s; under `valgrind --tool=callgrind` divide the
 * instructions by pages x rounds for a figure that does not depend on the machine's load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbx_data.h"
#include "wdts/catalog.h"
#include "wdts/str.h"
#include "wdts/wdt_api_answer.h"
#include "wdts/wdt_api_creds.h"
#include "wrk_job.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long npages = argc > 1 ? strtol(argv[1], NULL, 10) : 40;
    long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 50;
    if (npages <= 0 || rounds <= 0) {
        fprintf(stderr, "usage: bench-wrk_page_bench [pages>0] [rounds>0]\n");
        return 64;
    }
    char es[256];
    struct wdts_catalog *cat = wdts_catalog_new(NULL, es, sizeof(es));
    if (cat == NULL) {
        fprintf(stderr, "catalog: %s\n", es);
        return 1;
    }
    const struct wdts_catalog_report *rep = wdts_catalog_get(cat, "trades");

    /* the pages: 100 trades each, from consecutive hours of a busy seller */
    const int64_t origin = 1780000000, now = origin + 60 * 86400;
    struct sbx_dataset ds = {42, 20000, origin};
    struct wdts_buf *pages = calloc((size_t)npages, sizeof(*pages));
    int64_t win = now - 30 * 86400;
    size_t bytes = 0, records = 0;
    for (long i = 0; i < npages; win += 3600) {
        struct sbx_result r;
        if (sbx_data_select(&ds, SBX_E_TRADE, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, win, win + 3600,
                            now, &r) != WDTS_OK) {
            fprintf(stderr, "select failed\n");
            return 1;
        }
        if (r.n >= 100) {
            wdts_buf_init(&pages[i]);
            wdts_buf_printf(&pages[i], "{\"status\":0,\"data\":{\"total_count\":%zu,\"%s\":[",
                            r.n, rep->list_key);
            for (size_t k = 0; k < 100; k++) {
                if (k > 0)
                    wdts_buf_append(&pages[i], ",", 1);
                sbx_data_render(&ds, SBX_E_TRADE, SBX_ROUTE_WDT, r.hits[k].id, now, &pages[i]);
            }
            wdts_buf_append_str(&pages[i], "]}}");
            bytes += pages[i].len;
            i++;
        }
        sbx_result_deinit(&r);
    }

    struct wdts_job job;
    if (wdts_job_init(&job, "tenant-1", "conn-1", "trades", origin, origin + 1800,
                      WDTS_JOB_INCREMENTAL, 1, origin, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "job: %s\n", es);
        return 1;
    }
    struct wrk_envctx ctx = {&job, "wdt", now};
    struct wdts_api_ctx actx = {WDTS_API_APP_WDT, rep->method, "sid", "key", "gw"};
    struct wdts_buf pk, key, val, pre, post;
    wdts_buf_init(&pk);
    wdts_buf_init(&key);
    wdts_buf_init(&val);
    wdts_buf_init(&pre);
    wdts_buf_init(&post);
    size_t out_bytes = 0;
    double t0 = now_s();
    for (long round = 0; round < rounds; round++)
        for (long i = 0; i < npages; i++) {
            struct wdts_api_outcome o = {.http_status = 200,
                                         .body = pages[i].data,
                                         .body_len = pages[i].len,
                                         .elide_list = rep->list_key,
                                         .elide_members = (const char *const *)rep->pk.v,
                                         .elide_nmembers = rep->pk.n};
            struct wdts_api_result res;
            wdts_api_result_init(&res);
            wdts_api_classify(&o, &actx, &res);
            if (res.cls != WDTS_API_OK || !res.list_elided) {
                fprintf(stderr, "page %ld: not taken by the one walk: %s\n", i, res.message);
                return 1;
            }
            wrk_job_envelope_head(&pre, &post, &ctx);
            for (size_t k = 0; k < res.list.n; k++) {
                const struct wdts_jscan_item *it = &res.list.items[k];
                if (wrk_job_pk_item(rep, pages[i].data, it, &pk) != 0) {
                    fprintf(stderr, "page %ld record %zu: no plain pk\n", i, k);
                    return 1;
                }
                wdts_buf_reset(&key);
                wdts_buf_reset(&val);
                wrk_job_record_key(&key, &job, wdts_buf_str(&pk));
                wrk_job_envelope_join(&val, &pre, &post, wdts_buf_str(&pk),
                                      pages[i].data + it->off, it->len);
                out_bytes += key.len + val.len;
                records++;
            }
            wdts_api_result_deinit(&res);
        }
    double dt = now_s() - t0;
    long done = npages * rounds;
    printf("pages=%ld records/page=%.0f bytes/page=%.0f\n", done, (double)records / done,
           (double)bytes / npages);
    printf("pages/s=%.0f records/s=%.0f MB/s in=%.1f out=%.1f (%.1f us per page)\n", done / dt,
           records / dt, (double)bytes * rounds / dt / 1e6, out_bytes / dt / 1e6, dt / done * 1e6);
    for (long i = 0; i < npages; i++)
        wdts_buf_deinit(&pages[i]);
    free(pages);
    wdts_buf_deinit(&pk);
    wdts_buf_deinit(&key);
    wdts_buf_deinit(&val);
    wdts_buf_deinit(&pre);
    wdts_buf_deinit(&post);
    wdts_catalog_destroy(cat);
    return 0;
}
