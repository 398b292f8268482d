/* The truth (see sbx_truth.h): a selection on modified time, rendered as JSON
 * lines of pk and modified. It uses the same selection as the API pages, so the
 * truth and what the sandbox serves cannot disagree. */
#include "sbx_truth.h"

#include <string.h>

#include "wdts/str.h"
#include "wdts/time.h"

wdts_err_t sbx_truth_write(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                           int64_t as_of, int64_t since, int64_t before, FILE *out)
{
    struct sbx_result res = {NULL, 0};
    struct wdts_buf line, pk;
    wdts_buf_init(&line);
    wdts_buf_init(&pk);
    wdts_err_t err = sbx_data_select(ds, e, route, SBX_TIME_MODIFIED, since, before, as_of, &res);
    if (err != WDTS_OK)
        goto out;
    int snapshot = e == SBX_E_SHOP || e == SBX_E_WAREHOUSE || e == SBX_E_LOGISTICS;
    for (size_t i = 0; i < res.n; i++) {
        int64_t m = res.hits[i].modified;
        if (snapshot && (m < since || m >= before))
            continue; /* snapshot selection ignores the window; the truth does not */
        wdts_buf_reset(&pk);
        sbx_data_pk(e, res.hits[i].id, &pk);
        if ((err = sbx_truth_line(out, wdts_buf_str(&pk), m, -1, &line)) != WDTS_OK)
            goto out;
    }
    if (fflush(out) != 0)
        err = WDTS_ERR_IO;
out:
    wdts_buf_deinit(&line);
    wdts_buf_deinit(&pk);
    sbx_result_deinit(&res);
    return err;
}

wdts_err_t sbx_truth_line(FILE *out, const char *pk, int64_t modified, int64_t basis,
                          struct wdts_buf *line)
{
    char rfc[WDTS_RFC3339_LEN];
    wdts_time_format_rfc3339(modified, rfc);
    wdts_buf_reset(line);
    wdts_buf_append_str(line, "{\"pk\":\"");
    wdts_buf_append_json_str(line, pk);
    wdts_buf_printf(line, "\",\"modified\":\"%s\",\"modified_unix\":%lld", rfc,
                    (long long)modified);
    if (basis >= 0)
        wdts_buf_printf(line, ",\"basis_unix\":%lld", (long long)basis);
    wdts_buf_append_str(line, "}\n");
    return fwrite(line->data, 1, line->len, out) == line->len ? WDTS_OK : WDTS_ERR_IO;
}

wdts_err_t sbx_route_parse(const char *name, enum sbx_route *out)
{
    if (name != NULL && strcmp(name, "wdt") == 0) {
        *out = SBX_ROUTE_WDT;
        return WDTS_OK;
    }
    if (name != NULL && strcmp(name, "qimen") == 0) {
        *out = SBX_ROUTE_QIMEN;
        return WDTS_OK;
    }
    return WDTS_ERR_INVAL;
}
