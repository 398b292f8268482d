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

/** wdts_jscan_answer(): a key occurs twice on the path to the list (the bytes are
 *  otherwise strictly valid). */
#define WDTS_JSCAN_DUPKEY (-2)
/** wdts_jscan_answer(): the list has more than max_items elements (the walk stopped there). */
#define WDTS_JSCAN_TOO_MANY (-3)

/**
 * @brief One strict walk over a whole answer (as wdts_jscan_value(), plus nothing but
 *        whitespace after the root) that finds its record list without doubt: the
 *        envelope is the root when it has "status", else the root's "response" when the
 *        root has neither "status" nor "error_response"; the list is the envelope's
 *        "data" → list_key. Each key on that path occurs once and holds no escape.
 * @param members names noted in each element (at most WDTS_JSCAN_MAX_MEMBERS; more are
 *        ignored); may be NULL when nmembers is 0.
 * @param max_items most elements the list may have (0: no cap); the walk stops at the
 *        next one, before it costs memory.
 * @owner out is filled (its items new); on failure it is left empty.
 * @returns 0; WDTS_JSCAN_TOO_MANY; WDTS_JSCAN_DUPKEY ("status", "response", "data" or the
 *          list key twice in its object); or -1 when the bytes are not strictly valid or
 *          the list is not found so.
 */
int wdts_jscan_answer(const char *body, size_t len, const char *list_key,
                      const char *const *members, size_t nmembers, size_t max_items,
                      struct wdts_jscan_list *out);

/** Weights of wdts_jscan_cost(): about what a parsed value costs jansson, in units of a
 *  scalar (~40 bytes). */
#define WDTS_JSCAN_COST_OBJECT 6
#define WDTS_JSCAN_COST_ARRAY 3

/**
 * @brief What parsing the JSON text [p, e) into a tree would cost, counted without
 *        parsing: a unit per ',' and more per '{' and '[' outside strings (so about the
 *        number of values, weighted by their size in a tree). Counting stops past limit.
 *        Meant for bytes from the network before they are handed to a full parser.
 * @returns the cost, or a number above limit.
 */
size_t wdts_jscan_cost(const char *p, const char *e, size_t limit);
/** NULL-safe; leaves list empty. */
void wdts_jscan_list_deinit(struct wdts_jscan_list *list);

#endif
