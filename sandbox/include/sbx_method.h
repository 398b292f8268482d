/* The sandbox's method table: for every report of the catalog, the direct method
 * and its Qimen name, the time parameters and which time they select, the widest
 * window allowed, the list key in `data`, and whether a pager is required. It is
 * data (one row per method, in sbx_method.c), not code paths: the gateway reads it
 * for every check. It knows nothing of HTTP or of the data set's internals. */
#ifndef SBX_METHOD_H
#define SBX_METHOD_H

#include <stddef.h>
#include <stdint.h>

#include "sbx_data.h"

/** How a method pages. */
enum sbx_paging {
    SBX_PAGE_NONE = 0, /* no pager (system.Core.now) */
    SBX_PAGE_REQUIRED, /* page_no and page_size must be given ("此方法仅支持分页查询") */
    SBX_PAGE_OPTIONAL, /* snapshots: without a pager every row comes back */
};

/** A selector parameter value (time_type, status_type) and the time it filters on. */
struct sbx_time_choice {
    int value;
    enum sbx_timekind kind;
};

#define SBX_MAX_TIME_CHOICES 4

/** One row of the method table. Every string is static. */
struct sbx_method {
    const char *direct;       /* "sales.TradeQuery.queryWithDetail" */
    const char *qimen;        /* "wdt.sales.tradequery.querywithdetail" */
    int is_data;              /* 0 for system.Core.now (answers the clock) */
    enum sbx_entity entity;   /* meaningful when is_data */
    const char *start_param;  /* "start_time"; NULL for snapshots */
    const char *end_param;    /* "end_time"; NULL for snapshots */
    const char *kind_param;   /* "time_type", "status_type" or NULL */
    int kind_required;        /* 1: kind_param must be given (stockouts' status_type) */
    int kind_default;         /* the value used when kind_param is absent */
    struct sbx_time_choice choices[SBX_MAX_TIME_CHOICES];
    size_t n_choices;
    int64_t max_span;         /* seconds; 0 = no limit */
    const char *span_text;    /* "60分钟", "30天": the tail of the window-too-wide message */
    const char *list_key;     /* "order", "goods_list", "details", "detail_list", "data" … */
    enum sbx_paging paging;
    /* Without narrow_param the window may span at most narrow_span (stock changes: one
     * hour without spec_no, 30 days with it); narrow_param also filters the rows. */
    const char *narrow_param; /* NULL: none */
    int64_t narrow_span;
    const char *narrow_text; /* the tail of that too-wide message */
    /* A parameter that shows deleted (or disabled) rows when 0/false; they are hidden when
     * it is absent or anything else (hide_deleted, hide_delete). NULL: none. */
    const char *hide_param;
    /* 1: a history (历史) method: it serves only the documents the sandbox archived (see
     * sbx_archive in sbx_data.h), and its parent (same entity, history 0) only the others. */
    int history;
};

/** @returns the row for a direct method name (case-sensitive), or NULL. Static. */
const struct sbx_method *sbx_method_find_direct(const char *name);
/**
 * @returns the row whose official Qimen name (wdt.wms.stockspec.search for stock, the
 *          lower-cased direct name after "wdt." for the others) equals name, with or without
 *          a scene prefix ("3ldsmu02o9.wdt.…"), compared case-insensitively; or NULL.
 */
const struct sbx_method *sbx_method_find_qimen(const char *name);
/** @returns 1 when entity e has a history method in the table (its documents can be
 *  archived), else 0. */
int sbx_method_entity_has_history(enum sbx_entity e);
/** @returns name without its Qimen scene prefix (what comes before "wdt."), or NULL when
 *  name has neither "wdt." nor a prefix. Points into name. */
const char *sbx_method_qimen_bare(const char *name);
/** The whole table (for listings and tests). */
const struct sbx_method *sbx_method_table(size_t *n);
/**
 * @brief The time kind a selector value picks.
 * @returns 0 and sets *kind, or -1 when the value is not one the method accepts.
 */
int sbx_method_timekind(const struct sbx_method *m, int value, enum sbx_timekind *kind);

/**
 * @brief Parses a comma-separated list of report names that have a history method
 *        ("trades,refunds") into a mask of 1u << entity.
 * @returns 0, or -1 when a name is unknown or has no history method (mask unchanged).
 */
int sbx_method_parse_archive_reports(const char *list, unsigned *mask);

#endif
