/* Benchmark of the sandbox data set: what one API call costs the sandbox apart
 * from HTTP (one selection plus rendering one page of rows). Modes:
 *   warm    windows walk forward; each is paged once (page 0, last…0) at one clock second
 *   cold    the same, but the clock moves one second on every call
 *   repeat  one window paged over and over while the clock moves one second per
 *           `calls/100` calls (a load test against a running sandbox)
 * Usage: sbx_data_bench [warm|cold] [entity] [calls] [page_size] [orders_per_day] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbx_data.h"
#include "wdts/str.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "warm";
    enum sbx_entity e = SBX_E_TRADE;
    if (argc > 2 && sbx_entity_parse(argv[2], &e) != WDTS_OK) {
        fprintf(stderr, "unknown entity %s\n", argv[2]);
        return 64;
    }
    long calls = argc > 3 ? strtol(argv[3], NULL, 10) : 20000;
    long page = argc > 4 ? strtol(argv[4], NULL, 10) : 100;
    long opd = argc > 5 ? strtol(argv[5], NULL, 10) : 10000;
    if (calls <= 0 || page <= 0 || opd <= 0 ||
        (strcmp(mode, "warm") && strcmp(mode, "cold") && strcmp(mode, "repeat"))) {
        fprintf(stderr,
                "usage: sbx_data_bench [warm|cold|repeat] [entity] [calls>0] [page>0] [opd>0]\n");
        return 64;
    }
    int cold = strcmp(mode, "cold") == 0;
    int repeat = strcmp(mode, "repeat") == 0;
    long tick = calls / 100 > 0 ? calls / 100 : 1;
    const int64_t origin = 1780000000;
    struct sbx_dataset ds = {42, (int)opd, origin};
    int64_t span = (e == SBX_E_TRADE || e == SBX_E_STOCKOUT || e == SBX_E_RAW_TRADE) ? 3600 : 86400;
    int64_t now = origin + 60 * 86400;
    int64_t win = now - 30 * 86400; /* the windows walk forward from 30 days ago */
    struct wdts_buf out;
    wdts_buf_init(&out);
    long done = 0, rows = 0, selects_with_rows = 0;
    double t_select = 0, t_render = 0;
    size_t bytes = 0;
    int64_t as_of = now;
    double t0 = now_s();
    while (done < calls) {
        struct sbx_result r;
        double ts0 = now_s();
        if (sbx_data_select(&ds, e, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, win, win + span, as_of, &r) !=
            WDTS_OK) {
            fprintf(stderr, "select failed\n");
            return 1;
        }
        t_select += now_s() - ts0;
        long pages = r.n ? (long)((r.n + (size_t)page - 1) / (size_t)page) : 1;
        /* page 0, then the last page backwards, then page 0 again: pages + 1 calls,
         * each one a selection (the server selects on every call) plus a render */
        for (long k = 0; k <= pages && done < calls; k++) {
            long p = k == 0 ? 0 : pages - k;
            struct sbx_result rr;
            if (k > 0) {
                if (cold || (repeat && done % tick == 0))
                    as_of++; /* a new clock second */
                double ts = now_s();
                sbx_data_select(&ds, e, SBX_ROUTE_WDT, SBX_TIME_MODIFIED, win, win + span, as_of,
                                &rr);
                t_select += now_s() - ts;
            } else {
                rr = r;
                r.hits = NULL;
            }
            double tr = now_s();
            wdts_buf_reset(&out);
            wdts_buf_append_str(&out, "{\"status\":0,\"data\":{\"order\":[");
            for (size_t i = (size_t)(p * page); i < rr.n && i < (size_t)((p + 1) * page); i++) {
                if (i > (size_t)(p * page))
                    wdts_buf_append(&out, ",", 1);
                sbx_data_render(&ds, e, SBX_ROUTE_WDT, rr.hits[i].id, as_of, &out);
                rows++;
            }
            wdts_buf_append_str(&out, "]}}");
            t_render += now_s() - tr;
            bytes += out.len;
            selects_with_rows += rr.n > 0;
            sbx_result_deinit(&rr);
            done++;
        }
        sbx_result_deinit(&r);
        if (!repeat)
            win += span;
        if (win + span > now)
            win = now - 30 * 86400;
    }
    double dt = now_s() - t0;
    printf("mode=%s entity=%s orders_per_day=%ld page_size=%ld calls=%ld\n", mode,
           sbx_entity_name(e), opd, page, done);
    printf("calls/s=%.0f rows/s=%.0f rows/call=%.1f bytes/call=%.0f MB/s=%.1f\n", done / dt,
           rows / dt, (double)rows / done, (double)bytes / done, bytes / dt / 1e6);
    printf("selections/s=%.0f (%.1f us each) rendered rows/s=%.0f (%.2f us each)\n",
           done / t_select, t_select / done * 1e6, rows / t_render, t_render / rows * 1e6);
    wdts_buf_deinit(&out);
    return selects_with_rows > 0 ? 0 : 1;
}
