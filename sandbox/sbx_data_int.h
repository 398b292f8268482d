/* Internals shared by the data-set files (sbx_data.c: model and selection;
 * sbx_data_render.c: JSON, using the model; sbx_data_cache.c: both files' caches as one).
 * Not a public interface: the gateway uses sbx_data.h.
 * Everything here is a pure function of (dataset, index, time); nothing is
 * stored per tenant. */
#ifndef SBX_DATA_INT_H
#define SBX_DATA_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sbx_data.h"

/** Record streams with their own creation schedule; the other entities derive from them. */
enum sbx_stream { SBX_S_TRADE = 0, SBX_S_PURCHASE };

/** Limits of the inputs sbx_data_select accepts (WDTS_ERR_INVAL beyond). */
#define SBX_MAX_TIME 253402300799LL /* 9999-12-31T23:59:59Z */
#define SBX_MAX_ORDERS_PER_DAY 10000000

/** Fixed dimensions of the catalog (bounded, so snapshot entities stay small). */
#define SBX_N_SHOPS 8
#define SBX_N_WAREHOUSES 4 /* the last one is deleted a day after the origin */
#define SBX_N_STOCK_WH 2   /* warehouses that hold stock and ship orders */
#define SBX_N_LOGISTICS 6  /* carriers orders ship with */
#define SBX_N_LOGISTICS_ROWS 7 /* and one more, disabled two days after the origin */
#define SBX_MAX_SPECS_PER_GOODS 4
#define SBX_MAX_LINES 4

/** Stock-change sources (the top byte of a stock-change id). */
enum sbx_chg_src { SBX_CHG_SALE = 1, SBX_CHG_REFUND_IN = 2, SBX_CHG_PURCHASE_IN = 3 };

/** One detail line of a trade or a purchase order. */
struct sbx_line {
    uint32_t goods; /* goods index */
    uint32_t spec;  /* spec index within the goods */
    int num;
    int64_t price; /* unit price, cents */
};

/** The whole life of trade n: every event time (Unix s) or -1 when it never happens. */
struct sbx_trade_life {
    uint64_t n;
    uint64_t h, h2, h3;
    int64_t created, pay, check, ship, refund, done, cancel;
    int64_t rf_agree, rf_done, si_done; /* refund lifecycle and refund stock-in completion */
    int shop, wh, logi;
    int n_lines;
    struct sbx_line lines[SBX_MAX_LINES];
    int refund_line; /* which line is refunded (when refund >= 0) */
};

/** The whole life of purchase order n. */
struct sbx_purchase_life {
    uint64_t n;
    uint64_t h, h2;
    int64_t created, approve, arrive, si_done;
    int wh, provider;
    int n_lines;
    struct sbx_line lines[SBX_MAX_LINES];
};

struct sbx_shop_def {
    const char *shop_no;
    const char *name;
    int platform_id;
    int sub_platform_id;
};
extern const struct sbx_shop_def sbx_shops[SBX_N_SHOPS];

/** A 64-bit mix (splitmix64's finaliser). */
static inline uint64_t sbx_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/** The hash every random choice of the data set is drawn from (inline: it runs for
 * every candidate of a selection and several times per rendered row). */
static inline uint64_t sbx_hash(uint64_t seed, uint64_t a, uint64_t b)
{
    return sbx_mix64(seed ^ sbx_mix64(a * 0x9e3779b97f4a7c15ULL + b + 0x632be59bd9b4e019ULL));
}
int64_t sbx_stream_created(const struct sbx_dataset *ds, enum sbx_stream s, uint64_t n);
/** Fills the life of trade n; detail lines only when with_lines (selection does not need them). */
void sbx_trade_life_get(const struct sbx_dataset *ds, uint64_t n, int with_lines,
                        struct sbx_trade_life *life);
/** Fills the detail lines of a life that sbx_trade_life_get() filled without them. */
void sbx_trade_lines_get(const struct sbx_dataset *ds, struct sbx_trade_life *life);
void sbx_purchase_life_get(const struct sbx_dataset *ds, uint64_t n, int with_lines,
                           struct sbx_purchase_life *life);
/** The number of records of a stream created up to and including t. */
uint64_t sbx_stream_count(const struct sbx_dataset *ds, enum sbx_stream s, int64_t t);

/** Catalog: goods count, specs of a goods, their update schedules. */
uint32_t sbx_n_goods(const struct sbx_dataset *ds);
uint32_t sbx_n_specs(const struct sbx_dataset *ds, uint32_t goods);
uint32_t sbx_n_suites(const struct sbx_dataset *ds);
int64_t sbx_goods_created(const struct sbx_dataset *ds, uint32_t goods);
/** Last update of goods (spec < 0) or of one spec as of t, and how many updates so far. */
int64_t sbx_goods_modified(const struct sbx_dataset *ds, uint32_t goods, int spec, int64_t t,
                           int64_t *version);
int64_t sbx_suite_created(const struct sbx_dataset *ds, uint32_t suite);
int64_t sbx_suite_modified(const struct sbx_dataset *ds, uint32_t suite, int64_t t,
                           int64_t *version);
/** When goods or a suite is deleted (a change: it moves its modified), or -1 if never.
 * Nothing changes a deleted record afterwards. */
int64_t sbx_goods_deleted(const struct sbx_dataset *ds, uint32_t goods);
int64_t sbx_suite_deleted(const struct sbx_dataset *ds, uint32_t suite);
/** When snapshot row id of e (1-based) was deleted (warehouses) or disabled
 * (carriers), or -1 if never. */
int64_t sbx_retired(const struct sbx_dataset *ds, enum sbx_entity e, uint64_t id);
/** The modified time of snapshot row id as of t: its retirement once that happened,
 * else the data origin. */
int64_t sbx_snapshot_modified(const struct sbx_dataset *ds, enum sbx_entity e, uint64_t id,
                              int64_t t);
/** Base retail price of a spec, cents. */
int64_t sbx_spec_price(const struct sbx_dataset *ds, uint32_t goods, uint32_t spec);
/** Components of a suite: up to 3 (goods, spec, num). @returns the count. */
int sbx_suite_parts(const struct sbx_dataset *ds, uint32_t suite, struct sbx_line parts[3]);

/** The time a record of a lifecycle entity has as of t; -1 when it does not exist yet. */
int64_t sbx_trade_modified(const struct sbx_trade_life *life, enum sbx_entity e, int64_t t,
                           int *status);
int64_t sbx_purchase_modified(const struct sbx_purchase_life *life, enum sbx_entity e, int64_t t,
                              int *status);
/** Whether trade-derived entity e of this shop is returned on route. */
int sbx_route_visible(enum sbx_route route, int platform_id);
/** Last stock change of stock record id as of t (data_origin when none; -1 before it). */
int64_t sbx_stock_modified(const struct sbx_dataset *ds, uint64_t id, int64_t t);
/** Splits a stock record id. @returns 0 when id names no stock record of this data set. */
int sbx_stock_split(const struct sbx_dataset *ds, uint64_t id, uint32_t *goods, uint32_t *spec,
                    int *wh);

/** What the bounded caches hold (tests, benchmarks). */
struct sbx_cache_stats {
    size_t entries, rows, bytes;
    size_t max_bytes; /* the bound bytes never exceeds */
    uint64_t visited; /* records examined by selections since start (work done) */
};
void sbx_data_cache_stats(struct sbx_cache_stats *st);
/** Empties the caches (tests: prove results do not depend on them). */
void sbx_data_cache_clear(void);
/** The selection and stock caches of sbx_data.c, and the rendered-row cache of
 * sbx_data_render.c: sbx_data_cache.c folds them into the two above. */
void sbx_select_cache_stats(struct sbx_cache_stats *st);
void sbx_select_cache_clear(void);
void sbx_render_cache_stats(size_t *entries, size_t *bytes, size_t *max_bytes);
void sbx_render_cache_clear(void);

/** Id layouts. */
static inline uint64_t sbx_spec_id(uint32_t goods, uint32_t spec)
{
    return (uint64_t)goods * SBX_MAX_SPECS_PER_GOODS + spec + 1;
}
static inline uint64_t sbx_stock_id(uint32_t goods, uint32_t spec, int wh)
{
    return sbx_spec_id(goods, spec) * 8 + (uint64_t)wh;
}
/* A stock change id: [source 4 bits][document index 44][goods 10][spec 3][line 3], so the
 * pk (document number + spec_no) is known from the id alone. */
static inline uint64_t sbx_chg_id(enum sbx_chg_src src, uint64_t n, uint32_t goods, uint32_t spec,
                                  int line)
{
    return ((uint64_t)src << 60) | ((n & ((1ULL << 44) - 1)) << 16) | ((uint64_t)goods << 6) |
           ((uint64_t)spec << 3) | (uint64_t)line;
}
static inline enum sbx_chg_src sbx_chg_src_of(uint64_t id)
{
    return (enum sbx_chg_src)(id >> 60);
}
static inline uint64_t sbx_chg_doc(uint64_t id)
{
    return (id >> 16) & ((1ULL << 44) - 1);
}
static inline uint32_t sbx_chg_goods(uint64_t id)
{
    return (uint32_t)((id >> 6) & 1023);
}
static inline uint32_t sbx_chg_spec(uint64_t id)
{
    return (uint32_t)((id >> 3) & 7);
}
static inline int sbx_chg_line(uint64_t id)
{
    return (int)(id & 7);
}

/** Document numbers and codes, all functions of indices only (the pk needs no data set). */
void sbx_fmt_goods_no(uint32_t goods, char out[16]);
void sbx_fmt_spec_no(uint32_t goods, uint32_t spec, char out[16]);
/** The stock-io document number of a stock change (stockout_no, stock-in order_no). */
void sbx_fmt_chg_doc(enum sbx_chg_src src, uint64_t n, char out[24]);

#endif
