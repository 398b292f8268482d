/* The sandbox's deterministic data set. Every record's version at time T is a
 * pure function of (tenant seed, T): nothing is stored, so the clock can run at
 * any speed and ten tenants cost what one costs. This module answers two
 * questions: which records match a window as of T (sbx_data_select), and what a
 * record looks like as of T on a route (sbx_data_render). It knows nothing of
 * HTTP, signatures or limits. */
#ifndef SBX_DATA_H
#define SBX_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"

struct wdts_buf;

/** The entities behind the reports of the catalog. */
enum sbx_entity {
    SBX_E_TRADE = 0,        /* trades: sales.TradeQuery.queryWithDetail */
    SBX_E_STOCKOUT,         /* stockouts: wms.stockout.Sales.queryWithDetail */
    SBX_E_REFUND,           /* refunds: aftersales.refund.Refund.search */
    SBX_E_REFUND_STOCKIN,   /* refund_stockins: wms.stockin.Refund.queryWithDetail */
    SBX_E_PURCHASE_ORDER,   /* purchase_orders: purchase.PurchaseOrder.queryWithDetail */
    SBX_E_PURCHASE_STOCKIN, /* purchase_stockins: wms.stockin.Purchase.queryWithDetail */
    SBX_E_STOCK,            /* stock: wms.StockSpec.search2 */
    SBX_E_STOCK_CHANGE,     /* stock_changes: wms.StockSpec.queryChangeHistory */
    SBX_E_GOODS,            /* goods: goods.Goods.queryWithSpec */
    SBX_E_SUITE,            /* suites: goods.Suite.search */
    SBX_E_RAW_TRADE,        /* raw_trades: sales.RawTrade.search */
    SBX_E_SHOP,             /* shops: setting.Shop.queryShop (snapshot) */
    SBX_E_WAREHOUSE,        /* warehouses: setting.Warehouse.queryWarehouse (snapshot) */
    SBX_E_LOGISTICS,        /* logistics: setting.Logistics.queryLogistics (snapshot) */
    SBX_E__COUNT
};

/** The report name of an entity ("trades", "stockouts", …). */
const char *sbx_entity_name(enum sbx_entity e);
/** Parses a report name. @returns WDTS_ERR_INVAL when unknown. */
wdts_err_t sbx_entity_parse(const char *name, enum sbx_entity *out);

/** Which gateway asks: the direct API hides Taobao/Tmall orders and PII rules differ. */
enum sbx_route { SBX_ROUTE_WDT = 0, SBX_ROUTE_QIMEN };

/** Which time a window filters on (a method's time_type / status_type). */
enum sbx_timekind {
    SBX_TIME_MODIFIED = 0,
    SBX_TIME_CREATED,
    SBX_TIME_PAID,
    SBX_TIME_CONSIGNED,
};

/** What the data set of one tenant depends on (copied from its sbx_tenant). */
struct sbx_dataset {
    uint64_t seed;
    int orders_per_day;
    int64_t data_origin;
};

/** One matching record: its numeric id (the entity's primary key) and time. */
struct sbx_hit {
    uint64_t id;
    int64_t modified; /* the entity's modified time as of the query, Unix seconds */
};

/** A selection; the caller owns hits (sbx_result_deinit). */
struct sbx_result {
    struct sbx_hit *hits;
    size_t n;
};

/**
 * @brief Every record of entity e visible on route whose `timekind` time as of
 *        `as_of` lies in [start, end), in the order the API pages them (time
 *        ascending, then id). Records not yet created at as_of do not exist.
 *        Snapshot entities ignore start/end and return every record.
 * @owner out->hits is new; free with sbx_result_deinit().
 */
wdts_err_t sbx_data_select(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                           enum sbx_timekind timekind, int64_t start, int64_t end, int64_t as_of,
                           struct sbx_result *out);
void sbx_result_deinit(struct sbx_result *res);

/**
 * How change-time fields are written. DOC: as the official pages' answer examples show
 * each one (refunds, purchase orders and stock-ins, stock, warehouses and stock changes
 * in epoch milliseconds, the others as Beijing "yyyy-MM-dd HH:mm:ss"); every other time
 * field is always in the form its page's example shows. DATETIME and EPOCH_MS: the
 * change-time field of every report (the catalog's modified.field) in that form; every
 * other time field keeps its DOC form.
 */
enum sbx_timefmt { SBX_TIMEFMT_DOC = 0, SBX_TIMEFMT_DATETIME, SBX_TIMEFMT_EPOCH_MS };

/** Parses "doc", "datetime" or "epoch_ms". @returns WDTS_ERR_INVAL otherwise. */
wdts_err_t sbx_timefmt_parse(const char *name, enum sbx_timefmt *out);

/**
 * @brief Appends record `id` of entity e as of `as_of`, as the API returns it on
 *        route (compact JSON object, privacy rules applied), to buf, with the
 *        change-time fields in the DOC form.
 */
void sbx_data_render(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                     uint64_t id, int64_t as_of, struct wdts_buf *buf);
/** sbx_data_render() with the change-time fields in form fmt. */
void sbx_data_render_fmt(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                         uint64_t id, int64_t as_of, enum sbx_timefmt fmt, struct wdts_buf *buf);

/**
 * The archive: a document whose time (by) is older than as_of - horizon moves to the
 * history (历史) methods and leaves the normal ones. A change after that (late) brings it
 * back (RETURN) or leaves it archived with its new change time (STAY). horizon 0: off.
 */
enum sbx_archive_by { SBX_ARCHIVE_BY_MODIFIED = 0, SBX_ARCHIVE_BY_CREATED };
enum sbx_archive_late { SBX_ARCHIVE_LATE_RETURN = 0, SBX_ARCHIVE_LATE_STAY };
struct sbx_archive {
    int64_t horizon; /* seconds; 0 = nothing is archived */
    enum sbx_archive_by by;
    enum sbx_archive_late late;
    unsigned only; /* a mask of 1u << entity: the reports archived; 0 = every report with a
                      history method */
};

/**
 * @brief Whether record id of entity e (trades, stockouts, refunds, refund stock-ins, raw
 *        trades: the trade lifecycle) is archived as of as_of. By modified: once a version
 *        is older than the horizon (its next change, or as_of, came more than horizon
 *        after it); RETURN looks only at the current version. By created: once created is
 *        older than the horizon; RETURN brings back a document changed at or after
 *        created + horizon. @returns 0 for every other entity, and when a->horizon is 0.
 */
int sbx_data_archived(const struct sbx_dataset *ds, enum sbx_entity e, uint64_t id,
                      int64_t as_of, const struct sbx_archive *a);

/** What a method's parameters narrow a selection by, beyond its window. */
struct sbx_filter {
    int show_deleted;    /* 0: leave out deleted goods, suites and warehouses and disabled
                          * carriers (as of the query), the API's default */
    const char *spec_no; /* stock changes: only this spec_no; NULL = all */
    const struct sbx_archive *archive; /* NULL or horizon 0: no archive */
    int history;         /* with archive: 1 keeps only archived documents (a history
                          * method), 0 only the others */
};

/**
 * @brief Drops from res the hits that filter f leaves out, keeping the order.
 * @owner ds, f borrowed; res is changed in place.
 */
void sbx_result_filter(const struct sbx_dataset *ds, enum sbx_entity e, int64_t as_of,
                       const struct sbx_filter *f, struct sbx_result *res);

/** Appends the primary-key text of record id (what a connector keys on) to buf. */
void sbx_data_pk(enum sbx_entity e, uint64_t id, struct wdts_buf *buf);

#endif
