/* Reports the hand-made model (sbx_method.c, sbx_data*.c) does not cover, served from
 * the official field tables recorded in common/model/catalog/wdt-api-spec.json.
 *
 * sbx_spec.c resolves every report of the catalog at start-up: a report whose method is
 * in the static method table is hand-made (that model takes precedence); any other must
 * have an entry in the spec, from which a plan is built once (window parameters, selector,
 * span, paging, list and total keys, and per field the value it holds and the JSON form it
 * takes). A report with neither is a start-up error naming it.
 *
 * sbx_generic.c is the generated data set of such a report: like sbx_data.c, a pure
 * function of (tenant seed, report, T), nothing stored. Documents are created at a steady
 * rate (max(3, orders_per_day / 40) a day), each with a basis time and a few later changes
 * (sandbox/DATA.md, "Generated reports").
 *
 * Life cycle: sbx_reports_new() → lookups and selections (any thread) → sbx_reports_destroy().
 * A registry is immutable once built. */
#ifndef SBX_GENERIC_H
#define SBX_GENERIC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sbx_data.h"
#include "wdts/catalog.h"
#include "wdts/err.h"

struct wdts_buf;

/** The time a generated report's window filters on (the catalog's time.basis). */
enum sbx_gbasis {
    SBX_GB_MODIFIED = 0,
    SBX_GB_CREATED,
    SBX_GB_PAID,
    SBX_GB_CONSIGNED,
    SBX_GB_AUDITED,
    SBX_GB_STOCKIN,
    SBX_GB_OTHER,
};

/** The JSON form a rendered field takes (the spec's example, else its table type). */
enum sbx_gform {
    SBX_GF_NULL = 0,
    SBX_GF_INT,
    SBX_GF_REAL,       /* a JSON number with a fraction */
    SBX_GF_NUMSTR,     /* a string holding a decimal ("12.3400") */
    SBX_GF_DIGITS,     /* a string holding a whole number ("10023"): codes, ids */
    SBX_GF_STRING,
    SBX_GF_BOOL,
    SBX_GF_DATETIME,   /* "yyyy-MM-dd HH:mm:ss", Beijing */
    SBX_GF_DATE,       /* "yyyy-MM-dd" */
    SBX_GF_EPOCH_MS,   /* integer milliseconds */
    SBX_GF_EPOCH_MS_STR,
    SBX_GF_NESTED,     /* a list (or object) of the spec's row.lists */
};

/** What a field holds. */
enum sbx_grole {
    SBX_GR_PLAIN = 0, /* a value drawn from (document, version, field) */
    SBX_GR_PK,        /* part pk_index of the row's key (unique per document) */
    SBX_GR_ROW_PK,    /* in a nested list: the row's key part pk_index */
    SBX_GR_LIST_PK,   /* part pk_index of a nested row's key (unique per nested row) */
    SBX_GR_CHANGE,    /* the change time as of the query */
    SBX_GR_CREATED,   /* the creation time */
    SBX_GR_BASIS,     /* the basis time (paid, consigned, …) once it happened */
    SBX_GR_TIME,      /* another time: the creation time */
    SBX_GR_PII,       /* a private field (catalog pii): by route and platform */
    SBX_GR_SHOP_NO,
    SBX_GR_SHOP_NAME,
    SBX_GR_SHOP_ID,
    SBX_GR_PLATFORM,
};

struct sbx_glist;

struct sbx_gfield {
    char *name;
    char *key_json; /* "\"name\":" ready to append */
    size_t key_len;
    char *text_json; /* "\"name-" : the head of a text value */
    int is_id;       /* the name ends in _id */
    enum sbx_gform form;
    enum sbx_grole role;
    int pk_index;
    int qimen_blank;  /* PII the Qimen route never gives (receiver_*, buyer_nick, id_card) */
    uint64_t salt;    /* a hash of the name */
    const struct sbx_glist *nested; /* SBX_GF_NESTED */
};

/** The fields of a row or of a nested list. */
struct sbx_glist {
    char *key;       /* the list's key ("detail_list"); NULL for the row itself */
    int is_object;   /* a map, not a list */
    int ordinal;     /* position among the report's lists (keys differ per list) */
    struct sbx_gfield *fields;
    size_t n_fields;
};

/** A catalog report served by the generator: what the gateway checks and the data set needs. */
struct sbx_gen_report {
    const struct wdts_catalog_report *rep; /* borrowed from the registry's catalog */
    uint64_t salt;                         /* a hash of the direct method name */
    int snapshot;
    const char *start_param, *end_param;   /* NULL for snapshots */
    const char *kind_param;                /* the selector (time_type, …); NULL: none */
    long long kind_values[8];              /* the values selecting the catalog's pair */
    size_t n_kind_values;
    int kind_has_default;
    long long kind_default;                /* the value the gateway reads when absent */
    enum sbx_gbasis basis;
    int64_t max_span;                      /* seconds; 0 = none */
    char span_text[32];                    /* "60分钟", "30天" */
    int paging_required;                   /* else optional */
    int max_page_size;                     /* the catalog's; 0 = none */
    const char *list_key;
    const char *total_key;                 /* NULL: answers carry no total */
    int exclude_platforms;                 /* the spec's excluded_platforms: 淘系 not on direct, PDD nowhere */
    int n_pk;
    int pk_int[4];                         /* per pk part: 1 integer, 0 string */
    struct sbx_glist row;
    struct sbx_glist *lists;               /* the spec's row.lists, rendered nested */
    size_t n_lists;
};

/** Every catalog report resolved (see the top of this file). */
struct sbx_reports {
    struct wdts_catalog *cat;
    json_t *spec; /* the API spec, owned */
    struct sbx_gen_report *gen;
    size_t n_gen;
    size_t n_hand;
};

/** The spec embedded at build time (sandbox/spec-embed.cmake). Static, NUL-terminated. */
const char *sbx_spec_embedded(size_t *len);

/** sbx_reports_new() flags. */
#define SBX_REPORTS_GENERATE_ALL 1 /* generate every report, also those the hand-made model
                                    * covers (to try the generator on known methods) */

/**
 * @brief Loads the catalog and the spec and resolves every report.
 * @param catalog_path NULL: the embedded catalog. @param spec_path NULL: the embedded spec.
 * @param flags 0 or SBX_REPORTS_GENERATE_ALL.
 * @returns a new registry, or NULL with every problem in errstr (each naming the report).
 */
struct sbx_reports *sbx_reports_new(const char *catalog_path, const char *spec_path, int flags,
                                    char *errstr, size_t errstr_size);
/** The same from JSON texts (tests). */
struct sbx_reports *sbx_reports_new_from_json(const char *catalog_json, const char *spec_json,
                                              int flags, char *errstr, size_t errstr_size);
void sbx_reports_destroy(struct sbx_reports *r);

/**
 * @returns the generated report served under a direct method name, or NULL. Its catalog
 *          history (历史) method names it too, with *history set (may be NULL): generated
 *          documents are never archived, so that method answers every window empty.
 */
const struct sbx_gen_report *sbx_reports_find_direct(const struct sbx_reports *r,
                                                     const char *name, int *history);
/** @returns the generated report whose catalog qimen_method (or history qimen_method, with
 *          *history set) equals name (a scene prefix before "wdt." allowed, case-insensitive),
 *          or NULL. */
const struct sbx_gen_report *sbx_reports_find_qimen(const struct sbx_reports *r,
                                                    const char *name, int *history);
/** @returns the spec's `row` (fields and lists) of a method, or NULL when the spec lacks it.
 *  Borrowed from the registry. */
const json_t *sbx_reports_spec_row(const struct sbx_reports *r, const char *method);

/** @returns the generated report of a catalog report name, or NULL (hand-made or unknown). */
const struct sbx_gen_report *sbx_reports_find_name(const struct sbx_reports *r,
                                                   const char *name);

/** Documents a generated report has per day (snapshot: rows in all). */
uint64_t sbx_gen_per_day(const struct sbx_gen_report *g, const struct sbx_dataset *ds);

/**
 * @brief The documents of g visible on route whose basis time as of as_of lies in
 *        [start, end) (snapshots: every row created by as_of), ordered by that time, then
 *        key. hits[].id is the document index, hits[].modified its change time as of as_of.
 * @returns WDTS_ERR_INVAL for an as_of or data_origin outside 1970–9999.
 */
wdts_err_t sbx_gen_select(const struct sbx_gen_report *g, const struct sbx_dataset *ds,
                          enum sbx_route route, int64_t start, int64_t end, int64_t as_of,
                          struct sbx_result *out);
/** Appends document idx as of as_of on route as a JSON object (fmt: the change-time form). */
void sbx_gen_render(const struct sbx_gen_report *g, const struct sbx_dataset *ds,
                    enum sbx_route route, uint64_t idx, int64_t as_of, enum sbx_timefmt fmt,
                    struct wdts_buf *buf);
/** Appends the key of document idx as a worker keys it (pk parts joined by ':'). */
void sbx_gen_pk(const struct sbx_gen_report *g, uint64_t idx, struct wdts_buf *buf);
/** The basis time of document idx (its change time as of as_of for basis modified). */
int64_t sbx_gen_basis_time(const struct sbx_gen_report *g, const struct sbx_dataset *ds,
                           uint64_t idx, int64_t as_of);
/** The creation time of document idx. */
int64_t sbx_gen_created(const struct sbx_gen_report *g, const struct sbx_dataset *ds,
                        uint64_t idx);

/**
 * @brief The truth of a generated report (as sbx_truth_write): one line per document whose
 *        basis time as of as_of lies in [since, before) (snapshots: change time), with its
 *        change time as of as_of: {"pk":…,"modified":…,"modified_unix":N,"basis_unix":B}.
 */
wdts_err_t sbx_gen_truth_write(const struct sbx_gen_report *g, const struct sbx_dataset *ds,
                               enum sbx_route route, int64_t as_of, int64_t since,
                               int64_t before, FILE *out);

#endif
