/* A small, strict JSON scanner over raw bytes: it skips values without building a tree,
 * and accepts only what jansson surely accepts (anything unusual, e.g. a 19-digit integer,
 * a huge exponent or deep nesting, is refused so that the caller parses in full). */
#ifndef WDTS_JSON_SCAN_H
#define WDTS_JSON_SCAN_H

#include <stddef.h>

#define WDTS_JSCAN_MAX_DEPTH 64

/** Skips whitespace, then one JSON value at p. @returns the byte after it, or NULL when
 *  the bytes in [p, e) are not one strictly valid value (or are unusual, see above). */
const char *wdts_jscan_value(const char *p, const char *e);

/* The same walk over bytes already accepted by the strict functions (e.g. a part of an
 * answer jansson parsed): fast, without checking again. On other bytes it never reads
 * outside [p, e) and mostly returns NULL, but it does not promise to notice every fault. */
const char *wdts_jscan_value_checked(const char *p, const char *e);

/* ---- one walk over an API answer ---------------------------------------------------- */

/** At most this many members are noted in each element of a record list. */
#define WDTS_JSCAN_MAX_MEMBERS 8

/** One element of a record list: its bytes and those of the members asked for. */
struct wdts_jscan_item {
    size_t off, len; /* the element: body[off, off + len) */
    /* per member asked for: how often the element (an object) has it, or -1 when a key of
     * the element holds an escape (then it cannot be told from its bytes); the span of the
     * value of its last occurrence */
    int mcount[WDTS_JSCAN_MAX_MEMBERS];
    size_t moff[WDTS_JSCAN_MAX_MEMBERS], mlen[WDTS_JSCAN_MAX_MEMBERS];
};

/** The record list of an answer, as found by wdts_jscan_answer(). */
struct wdts_jscan_list {
    size_t off, len; /* the array: body[off, off + len) */
    struct wdts_jscan_item *items; /* owned: free() or wdts_jscan_list_deinit() */
    size_t n;
};

/**
 * @brief One strict walk over a whole answer (as wdts_jscan_value(), plus nothing but
 *        whitespace after the root) that finds its record list without doubt: the
 *        envelope is the root when it has "status", else the root's "response" when the
 *        root has neither "status" nor "error_response"; the list is the envelope's
 *        "data" → list_key. Each key on that path occurs once and holds no escape.
 * @param members names noted in each element (at most WDTS_JSCAN_MAX_MEMBERS; more are
 *        ignored); may be NULL when nmembers is 0.
 * @owner out is filled (its items new); on failure it is left empty.
 * @returns 0, or -1 when the bytes are not strictly valid or the list is not found so.
 */
int wdts_jscan_answer(const char *body, size_t len, const char *list_key,
                      const char *const *members, size_t nmembers, struct wdts_jscan_list *out);
/** NULL-safe; leaves list empty. */
void wdts_jscan_list_deinit(struct wdts_jscan_list *list);

#endif
