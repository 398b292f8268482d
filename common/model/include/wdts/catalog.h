/* The report catalog: one entry per report type (trades, stockouts, shops, …),
 * read from a JSON data file, so adding a report is adding an entry to
 * common/model/catalog/reports.json. The default catalog is embedded in the library at
 * build time; a path overrides it. This module loads, validates and looks up; it
 * knows nothing of HTTP, planning or Kafka.
 *
 * Life cycle: wdts_catalog_new*() → lookups (borrowed entries) → wdts_catalog_destroy().
 * A loaded catalog is immutable, so any number of threads may read it at once. */
#ifndef WDTS_CATALOG_H
#define WDTS_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/** How a report is planned. */
enum wdts_report_kind {
    WDTS_REPORT_INCREMENTAL = 0, /* by time window on `time.basis`, at most max_span wide */
    WDTS_REPORT_SNAPSHOT,        /* the whole list, every snapshot_interval seconds */
};

/** How a record's `modified` field is written by the API. */
enum wdts_timefmt {
    WDTS_TIMEFMT_DATETIME = 0, /* "yyyy-MM-dd HH:mm:ss", Beijing time */
    WDTS_TIMEFMT_EPOCH_MS,     /* epoch milliseconds (number or numeric string) */
};

/** A list of field names (primary keys, PII fields). Borrowed from the catalog. */
struct wdts_catalog_names {
    const char **v;
    size_t n;
};

/** A nested detail list of a record: `key` in the record, keyed by `pk`. */
struct wdts_catalog_detail {
    const char *key;
    struct wdts_catalog_names pk;
};

/**
 * One report type. Every pointer is borrowed from its catalog and valid until
 * wdts_catalog_destroy(). Optional strings are "" when absent, never NULL.
 */
struct wdts_catalog_report {
    const char *name; /* unique; a valid name (wdts_job_name_valid): "trades" */
    const char *description;
    enum wdts_report_kind kind;
    const char *method;           /* direct API method: "sales.TradeQuery.queryWithDetail" */
    const char *qimen_method;     /* Qimen method: "wdt." + lower-cased method */
    const char *time_start;       /* window start parameter ("start_time"); "" for snapshots */
    const char *time_end;         /* window end parameter ("end_time"); "" for snapshots */
    const char *time_basis;       /* the time the window filters on: modified, created, paid,
                                     consigned, audited, stockin or other */
    const char *time_meaning;     /* human text */
    json_t *params;               /* fixed extra params, a JSON object; borrowed, never NULL */
    int64_t max_span;             /* widest window in seconds (incremental); 0 for snapshots */
    int page_size;                /* page size to request */
    int max_page_size;            /* the most the API accepts */
    const char *list_key;         /* the record list in `data`: "order", "goods_list" */
    struct wdts_catalog_names pk; /* primary-key fields of a record (composite when n > 1) */
    struct wdts_catalog_names pk_fallback; /* the key of a record that lacks a pk field (a
                                              field only newer pages list); n = 0: none */
    const char *modified_field;   /* the record's change-time field ("modified") */
    enum wdts_timefmt modified_format;
    const struct wdts_catalog_detail *details;
    size_t n_details;
    struct wdts_catalog_names pii; /* fields subject to the connection's PII policy */
    int64_t snapshot_interval;     /* seconds between snapshots (snapshot); 0 otherwise */
    const char *notes;
    const char *group;                /* sales, aftersales, stock, purchase, finance, goods or
                                         settings: what `--reports` selects by */
    const char *history_method;       /* the archive (历史) method; "" when none */
    const char *history_qimen_method; /* its Qimen name; "" when none */
    const char *history_time_start;   /* its window parameters (the report's unless the */
    const char *history_time_end;     /* archive page names them otherwise) */
    json_t *history_params;           /* its fixed params (the report's unless its own); never
                                         NULL, borrowed */
    int64_t lookback;                 /* seconds read again behind the watermark (a basis
                                         other than modified); 0 = none */
};

/** Where the official method pages every report cites live: `<this>/Firecrawl/<method>.md`
 *  (the facts, with line numbers, are in common/model/catalog/wdt-api-spec.json). */
#define WDTS_CATALOG_SPEC_SOURCE                                                                   \
    "cunsheng/wangdiantong-api-qjb@80048127cae778ff07fb01ddeea8563e845ab6bd"

struct wdts_catalog;

/**
 * @brief Loads and validates a catalog.
 * @param path a JSON file; NULL loads the catalog embedded at build time.
 * @param errstr receives every problem found, each prefixed with the entry's name
 *        ("catalog x.json: 2 problems: trades: max_span_s must be …; …").
 * @returns a new catalog (free with wdts_catalog_destroy()), or NULL with errstr set.
 */
struct wdts_catalog *wdts_catalog_new(const char *path, char *errstr, size_t errstr_size);

/**
 * @brief Loads and validates a catalog from JSON text.
 * @param origin names the source in messages ("embedded", a path).
 * @owner json: borrowed (parsed, not kept). Returns a new catalog, or NULL with errstr set.
 */
struct wdts_catalog *wdts_catalog_new_from_json(const char *json, size_t len, const char *origin,
                                                char *errstr, size_t errstr_size);

/** Frees a catalog and every entry it lent. NULL is a no-op. */
void wdts_catalog_destroy(struct wdts_catalog *cat);

/** @returns the number of reports. */
size_t wdts_catalog_count(const struct wdts_catalog *cat);

/** @returns report i (0 ≤ i < count) in file order, borrowed; NULL when out of range. */
const struct wdts_catalog_report *wdts_catalog_at(const struct wdts_catalog *cat, size_t i);

/** @returns the report called name, borrowed; NULL when there is none. */
const struct wdts_catalog_report *wdts_catalog_get(const struct wdts_catalog *cat,
                                                   const char *name);

/** @returns the embedded catalog's JSON text (static, not NUL-terminated); its length in *len. */
const char *wdts_catalog_embedded(size_t *len);

/**
 * @brief The params of one call of report rep (history: of its archive method): the fixed
 *        params, and for an incremental report the window [start, end] in Beijing time under
 *        the method's window parameter names.
 * @owner new string (compact JSON, keys sorted); free().
 */
char *wdts_catalog_call_params(const struct wdts_catalog_report *rep, int history,
                               int64_t start, int64_t end);

/**
 * @returns 1 when a later change of a record is seen again (a snapshot, or an incremental
 *          report whose window filters on the change time), 0 when only the version within
 *          the window of its basis time is (created, paid, consigned, …).
 */
int wdts_catalog_report_sees_late_changes(const struct wdts_catalog_report *rep);

/** @returns "incremental" | "snapshot". */
const char *wdts_report_kind_name(enum wdts_report_kind kind);

/** The report groups, in display order, NULL-terminated: sales, aftersales, stock, purchase,
 *  finance, goods, settings (every report's `group` is one of them). */
extern const char *const wdts_catalog_groups[];

/**
 * @brief Expands a selection of reports (`wdtctl connection add --reports`, `wdtctl plan`):
 *        comma-separated words, each a group (every report of it), `all`, a report name, or
 *        `report:NAME` (the report alone, where NAME is also a group: `stock`, `goods`).
 *        A bare word that is both a group and a report name selects the group.
 * @param list the words; NULL or "" selects all.
 * @param sel receives, per catalog index (wdts_catalog_at()), 1 when selected; an array
 *        of wdts_catalog_count(cat) bytes owned by the caller.
 * @returns the number of reports selected (at least 1), or -1 with errstr naming the
 *          word and listing the groups and the reports (an unknown or empty word).
 */
long wdts_catalog_select(const struct wdts_catalog *cat, const char *list, unsigned char *sel,
                         char *errstr, size_t errstr_size);

#endif
