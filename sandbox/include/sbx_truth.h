/* The truth: what should have arrived downstream. For a report, a route and a
 * moment T, the pk and `modified` of every record whose modified as of T lies in
 * [since, before): the set the invariant of docs/DESIGN.md §6 requires once the
 * watermark has reached `before`. Output only; it knows nothing of Kafka. */
#ifndef SBX_TRUTH_H
#define SBX_TRUTH_H

#include <stdint.h>
#include <stdio.h>

#include "sbx_data.h"
#include "wdts/err.h"

/**
 * @brief Writes one JSON line per record, in selection order (modified, then id):
 *        {"pk":"…","modified":"2026-01-02T03:04:05+08:00","modified_unix":N}
 * @param since  lower bound (inclusive); INT64_MIN for "from the beginning".
 * @param before upper bound (exclusive), the watermark W.
 * @owner ds and out borrowed.
 * @returns WDTS_ERR_INVAL when sbx_data_select refuses the inputs (see sandbox/DATA.md),
 *          WDTS_ERR_IO when writing fails.
 */
wdts_err_t sbx_truth_write(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                           int64_t as_of, int64_t since, int64_t before, FILE *out);

/**
 * @brief Writes one truth line to out: {"pk":…,"modified":RFC3339,"modified_unix":N} plus
 *        "basis_unix":B when basis >= 0 (a report windowed on another time than its change
 *        time). line is scratch space.
 * @returns WDTS_OK, or WDTS_ERR_IO when writing fails.
 */
wdts_err_t sbx_truth_line(FILE *out, const char *pk, int64_t modified, int64_t basis,
                          struct wdts_buf *line);

/** Parses a route name, "wdt" or "qimen" (the truth command's --route). @returns
 *  WDTS_ERR_INVAL otherwise. */
wdts_err_t sbx_route_parse(const char *name, enum sbx_route *out);

#endif
