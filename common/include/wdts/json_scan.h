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

/**
 * @brief Walks the whole object at p (after whitespace), checking it strictly.
 * @param val receives the start of the value of the last member whose key is name (keys
 *        compared as raw bytes); untouched when there is none.
 * @returns how many members have the key name, or -1 when the object is not strictly
 *          valid or a key holds an escape (so it cannot be compared as bytes).
 */
int wdts_jscan_member(const char *p, const char *e, const char *name, const char **val);

/* The same walks over bytes already accepted by the strict functions above (e.g. a part
 * of a checked answer): fast, without checking again. On other bytes they never read
 * outside [p, e) and mostly return NULL / -1, but they do not promise to notice every
 * fault. A key holding a backslash still counts as -1 in wdts_jscan_member_checked(). */
const char *wdts_jscan_value_checked(const char *p, const char *e);
int wdts_jscan_member_checked(const char *p, const char *e, const char *name, const char **val);

#endif
