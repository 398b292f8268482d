/* The rows of a hand-made history (历史) method. The hand-made model renders a document
 * once, as its current method shows it; the archive pages list fewer fields and show some
 * in other forms (the refund archive's times as datetimes, not epoch milliseconds). This
 * module cuts such a row to the fields of the archive page's tables, nested lists too, and
 * writes each in the form the page's example shows. It knows nothing of HTTP or of the
 * data set. Private to the sandbox (the gateway uses it; tests/unit/test_spec.c tests it). */
#ifndef SBX_CONFORM_INT_H
#define SBX_CONFORM_INT_H

#include <stddef.h>

#include <jansson.h>

struct wdts_buf;

/**
 * @brief Appends the row `json` (a rendered JSON object of len bytes) to out, keeping only
 *        the fields of row_spec (a spec method's `row`: `fields` and `lists`), with integer
 *        epoch milliseconds written as Beijing datetimes where the page's example shows a
 *        datetime, and digit strings as integers where its table says int.
 * @param keep a field written as rendered (the change time when the sandbox is asked for
 *        one form for every report); NULL: none.
 * @owner row_spec and json borrowed. A row that is not a JSON object is appended unchanged.
 */
void sbx_conform_row(const json_t *row_spec, const char *keep, const char *json, size_t len,
                     struct wdts_buf *out);

#endif
