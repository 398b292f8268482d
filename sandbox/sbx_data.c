/* The data-set model and selection. Trades and purchase orders are created on a
 * deterministic schedule; every later event of a record (payment, check, shipping,
 * refund, stock-ins…) happens at creation + a delay drawn from a small set of
 * bases plus a bounded jitter, so "which records changed in [s, e) as of T" is
 * answered by visiting only the creation-time ranges that can reach the window.
 * Results are kept in bounded caches (exact: keyed by every input, and brought
 * forward by the events since when the clock has moved). Rendering, and its row
 * cache, are in sbx_data_render.c; sbx_data_cache.c reports and empties both caches. */
#include "sbx_data.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbx_data_int.h"
#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/str.h"

#define DAY 86400

/* ---------------------------------------------------------------- names */

static const char *const entity_names[SBX_E__COUNT] = {
    [SBX_E_TRADE] = "trades",
    [SBX_E_STOCKOUT] = "stockouts",
    [SBX_E_REFUND] = "refunds",
    [SBX_E_REFUND_STOCKIN] = "refund_stockins",
    [SBX_E_PURCHASE_ORDER] = "purchase_orders",
    [SBX_E_PURCHASE_STOCKIN] = "purchase_stockins",
    [SBX_E_STOCK] = "stock",
    [SBX_E_STOCK_CHANGE] = "stock_changes",
    [SBX_E_GOODS] = "goods",
    [SBX_E_SUITE] = "suites",
    [SBX_E_RAW_TRADE] = "raw_trades",
    [SBX_E_SHOP] = "shops",
    [SBX_E_WAREHOUSE] = "warehouses",
    [SBX_E_LOGISTICS] = "logistics",
};

const char *sbx_entity_name(enum sbx_entity e)
{
    if ((unsigned)e >= SBX_E__COUNT)
        return "unknown";
    return entity_names[e];
}

wdts_err_t sbx_entity_parse(const char *name, enum sbx_entity *out)
{
    int e = wdts_word_index(entity_names, SBX_E__COUNT, name);
    if (e < 0)
        return WDTS_ERR_INVAL;
    *out = (enum sbx_entity)e;
    return WDTS_OK;
}

/* ---------------------------------------------------------------- hashing, schedules */

/* Scales 32 random bits to [0, n) with a multiply instead of a division. */
static inline uint64_t scale32(uint64_t bits, uint64_t n)
{
    return ((bits & 0xffffffffULL) * n) >> 32;
}

static int64_t stream_rate(const struct sbx_dataset *ds, enum sbx_stream s)
{
    if (ds->orders_per_day <= 0)
        return 0;
    if (s == SBX_S_TRADE)
        return ds->orders_per_day;
    return ds->orders_per_day / 200 > 2 ? ds->orders_per_day / 200 : 2;
}

/* Record n is created at origin + (n·DAY + u(n)) / rate, u(n) ∈ [0, DAY): creation
 * times never decrease with n and the inverse is a division plus a step or two. */
int64_t sbx_stream_created(const struct sbx_dataset *ds, enum sbx_stream s, uint64_t n)
{
    int64_t rate = stream_rate(ds, s);
    uint64_t u = scale32(sbx_hash(ds->seed, 0x100 + (uint64_t)s, n), DAY);
    return ds->data_origin + (int64_t)((n * DAY + u) / (uint64_t)rate);
}

/* The first n whose creation time is >= t. */
static uint64_t stream_first_ge(const struct sbx_dataset *ds, enum sbx_stream s, int64_t t)
{
    if (t <= ds->data_origin)
        return 0;
    int64_t k = (t - ds->data_origin) * stream_rate(ds, s);
    uint64_t n = k > DAY - 1 ? (uint64_t)((k - (DAY - 1) + DAY - 1) / DAY) : 0;
    while (sbx_stream_created(ds, s, n) < t)
        n++;
    return n;
}

uint64_t sbx_stream_count(const struct sbx_dataset *ds, enum sbx_stream s, int64_t t)
{
    if (stream_rate(ds, s) == 0 || t < ds->data_origin)
        return 0;
    return stream_first_ge(ds, s, t + 1);
}

/* ---------------------------------------------------------------- delays */

/* Trade and purchase event fields. A field's time is its parent's time plus one
 * of `bases` plus a jitter in [0, jitter). The tables are the only source of the
 * delays: the life functions below draw from them and selection reads their bounds. */
enum tfield {
    TF_CREATED = 0,
    TF_PAY,
    TF_CANCEL,
    TF_CHECK,
    TF_SHIP,
    TF_REFUND,
    TF_DONE,
    TF_RF_AGREE,
    TF_RF_DONE,
    TF_SI_DONE,
    TF__COUNT
};
enum pfield { PF_CREATED = 0, PF_APPROVE, PF_ARRIVE, PF_SI_DONE, PF__COUNT };

struct delay {
    int parent; /* -1: creation */
    int n;
    int64_t bases[3];
    int64_t jitter;
};

static const struct delay trade_delays[TF__COUNT] = {
    [TF_CREATED] = {-1, 1, {0}, 1},
    [TF_PAY] = {-1, 1, {60}, 900},
    [TF_CANCEL] = {-1, 2, {1800, 7200}, 600},
    [TF_CHECK] = {-1, 3, {3600, 3 * 3600, 8 * 3600}, 1200},
    [TF_SHIP] = {-1, 3, {12 * 3600, DAY, 2 * DAY}, 3600},
    [TF_REFUND] = {-1, 2, {3 * DAY, 5 * DAY}, 1200},
    [TF_DONE] = {-1, 3, {7 * DAY, 10 * DAY, 15 * DAY}, 1200},
    [TF_RF_AGREE] = {TF_REFUND, 2, {6 * 3600, DAY}, 1200},
    [TF_RF_DONE] = {TF_REFUND, 2, {3 * DAY, 4 * DAY}, 1200},
    [TF_SI_DONE] = {TF_RF_DONE, 2, {1800, 7200}, 600},
};

static const struct delay purchase_delays[PF__COUNT] = {
    [PF_CREATED] = {-1, 1, {0}, 1},
    [PF_APPROVE] = {-1, 2, {2 * 3600, 8 * 3600}, 1200},
    [PF_ARRIVE] = {PF_APPROVE, 3, {2 * DAY, 3 * DAY, 5 * DAY}, 3600},
    [PF_SI_DONE] = {PF_ARRIVE, 2, {3600, 4 * 3600}, 600},
};

/* Random draws from slices of a record's hashes, by multiplication (no division):
 * a choice among n from 8 bits, a jitter in [0, J) or a percentage from 16 bits.
 * The slices of each hash are disjoint, so the draws are independent. */
static inline int choice8(uint64_t h, int shift, int n)
{
    return (int)((((h >> shift) & 0xff) * (uint64_t)n) >> 8);
}

static inline int64_t jit16(uint64_t h, int shift, int64_t j)
{
    return (int64_t)((((h >> shift) & 0xffff) * (uint64_t)j) >> 16);
}

static inline int pct16(uint64_t h, int shift)
{
    return (int)((((h >> shift) & 0xffff) * 100) >> 16);
}

/* Percent of trades cancelled before payment, and of shipped trades refunded. */
#define CANCEL_PCT 4
#define REFUND_PCT 8

const struct sbx_shop_def sbx_shops[SBX_N_SHOPS] = {
    {"S001", "线下门店", 0, 0},
    {"S002", "官方商城", 127, 0},
    {"S003", "淘宝C店", 1, 1},
    {"S004", "天猫旗舰店", 1, 2},
    {"S005", "京东旗舰店", 3, 0},
    {"S006", "拼多多专营店", 39, 0},
    {"S007", "微信小程序商城", 127, 0},
    {"S008", "京东自营店", 3, 1},
};

/* Shop mix in percent, by index into sbx_shops. */
static const int shop_weights[SBX_N_SHOPS] = {8, 12, 18, 14, 18, 14, 10, 6};

static int pick_shop(uint64_t percent)
{
    int r = (int)percent;
    for (int i = 0; i < SBX_N_SHOPS; i++) {
        if (r < shop_weights[i])
            return i;
        r -= shop_weights[i];
    }
    return SBX_N_SHOPS - 1;
}

static void make_lines(const struct sbx_dataset *ds, uint64_t salt, uint64_t n, int count,
                       struct sbx_line *lines)
{
    uint32_t ng = sbx_n_goods(ds);
    for (int i = 0; i < count; i++) {
        uint64_t h = sbx_hash(ds->seed, salt + (uint64_t)i, n);
        uint32_t g = (uint32_t)(h % ng);
        /* one line per goods in a document, so (document, spec_no) is a key */
        for (int j = 0; j < i; j++) {
            if (lines[j].goods == g) {
                g = (g + 1) % ng;
                j = -1;
            }
        }
        lines[i].goods = g;
        lines[i].spec = (uint32_t)((h >> 20) % sbx_n_specs(ds, lines[i].goods));
        int r = (int)((h >> 40) % 10);
        lines[i].num = r < 7 ? 1 : r < 9 ? 2 : 3 + (int)((h >> 50) % 3);
        lines[i].price = sbx_spec_price(ds, lines[i].goods, lines[i].spec);
    }
}

/* Bit layout of a trade's hashes (h from the seed; h2…h5 mixed from h):
 *   h   [0,16) cancel %  [16,32) refund %  [32] cancel  [40] check  [48] ship  [56] done choices
 *   h2  jitters: [0] pay  [16] check  [32] ship  [48] done
 *   h3  jitters: [0] cancel  [16] refund  [32] rf_agree  [48] rf_done
 *   h4  choices: [0] refund  [8] rf_agree  [16] rf_done  [24] si_done; [32,48) shop %  [48] wh [56]
 * logi h5  [0] si_done jitter  [16,32) lines %  [32] refund line The combination index of a field
 * (its choice after its parents' choices) is the index field_ranges() enumerates, so visit() can
 * reject a candidate from h alone. */
#define MIXK2 0x243f6a8885a308d3ULL
#define MIXK3 0x13198a2e03707344ULL
#define MIXK4 0xa4093822299f31d0ULL
#define MIXK5 0x082efa98ec4e6c89ULL

static inline int trade_cancelled(uint64_t h)
{
    return pct16(h, 0) < CANCEL_PCT;
}

static inline int trade_refunded(uint64_t h)
{
    return !trade_cancelled(h) && pct16(h, 16) < REFUND_PCT;
}

/* The combination index of field f of a trade, or -1 when the event never happens.
 * Only the hashes field f depends on are mixed: this runs for every candidate. */
static inline __attribute__((always_inline)) int trade_combo(uint64_t h, int f)
{
    switch (f) {
    case TF_CREATED: return 0;
    case TF_CANCEL: return trade_cancelled(h) ? choice8(h, 32, 2) : -1;
    case TF_PAY: return trade_cancelled(h) ? -1 : 0;
    case TF_CHECK: return trade_cancelled(h) ? -1 : choice8(h, 40, 3);
    case TF_SHIP: return trade_cancelled(h) ? -1 : choice8(h, 48, 3);
    case TF_DONE: return trade_cancelled(h) ? -1 : choice8(h, 56, 3);
    default: break;
    }
    if (!trade_refunded(h))
        return -1;
    uint64_t h4 = sbx_mix64(h ^ MIXK4);
    int refund_c = choice8(h4, 0, 2);
    switch (f) {
    case TF_REFUND: return refund_c;
    case TF_RF_AGREE: return refund_c * 2 + choice8(h4, 8, 2);
    case TF_RF_DONE: return refund_c * 2 + choice8(h4, 16, 2);
    case TF_SI_DONE: return (refund_c * 2 + choice8(h4, 16, 2)) * 2 + choice8(h4, 24, 2);
    default: return -1;
    }
}

static inline uint64_t trade_h(const struct sbx_dataset *ds, uint64_t n)
{
    return sbx_hash(ds->seed, 1, n);
}

/* The time of one event of trade n (given its h), for visit() to reject a candidate
 * before computing its whole life. It must agree with sbx_trade_life_get(); the
 * brute-force test of test_sbx_data.c compares the two. Only called for fields
 * whose combination check passed, so the event happens. */
static inline __attribute__((always_inline)) int64_t
trade_field_time(const struct sbx_dataset *ds, uint64_t n, uint64_t h, int f)
{
    const struct delay *d = trade_delays;
    int64_t c = sbx_stream_created(ds, SBX_S_TRADE, n);
    switch (f) {
    case TF_CREATED: return c;
    case TF_CANCEL:
        return c + d[TF_CANCEL].bases[choice8(h, 32, 2)] +
               jit16(sbx_mix64(h ^ MIXK3), 0, d[TF_CANCEL].jitter);
    case TF_PAY: return c + d[TF_PAY].bases[0] + jit16(sbx_mix64(h ^ MIXK2), 0, d[TF_PAY].jitter);
    case TF_CHECK:
        return c + d[TF_CHECK].bases[choice8(h, 40, 3)] +
               jit16(sbx_mix64(h ^ MIXK2), 16, d[TF_CHECK].jitter);
    case TF_SHIP:
        return c + d[TF_SHIP].bases[choice8(h, 48, 3)] +
               jit16(sbx_mix64(h ^ MIXK2), 32, d[TF_SHIP].jitter);
    case TF_DONE:
        return c + d[TF_DONE].bases[choice8(h, 56, 3)] +
               jit16(sbx_mix64(h ^ MIXK2), 48, d[TF_DONE].jitter);
    default: break;
    }
    uint64_t h3 = sbx_mix64(h ^ MIXK3), h4 = sbx_mix64(h ^ MIXK4);
    int64_t refund = c + d[TF_REFUND].bases[choice8(h4, 0, 2)] + jit16(h3, 16, d[TF_REFUND].jitter);
    int64_t rf_done =
        refund + d[TF_RF_DONE].bases[choice8(h4, 16, 2)] + jit16(h3, 48, d[TF_RF_DONE].jitter);
    switch (f) {
    case TF_REFUND: return refund;
    case TF_RF_AGREE:
        return refund + d[TF_RF_AGREE].bases[choice8(h4, 8, 2)] +
               jit16(h3, 32, d[TF_RF_AGREE].jitter);
    case TF_RF_DONE: return rf_done;
    case TF_SI_DONE:
        return rf_done + d[TF_SI_DONE].bases[choice8(h4, 24, 2)] +
               jit16(sbx_mix64(h ^ MIXK5), 0, d[TF_SI_DONE].jitter);
    default: return -1;
    }
}

void sbx_trade_life_get(const struct sbx_dataset *ds, uint64_t n, int with_lines,
                        struct sbx_trade_life *life)
{
    const struct delay *d = trade_delays;
    uint64_t h = trade_h(ds, n);
    uint64_t h2 = sbx_mix64(h ^ MIXK2), h3 = sbx_mix64(h ^ MIXK3), h4 = sbx_mix64(h ^ MIXK4),
             h5 = sbx_mix64(h ^ MIXK5);
    life->n = n;
    life->h = h;
    life->h2 = h2;
    life->h3 = h3;
    int64_t c = sbx_stream_created(ds, SBX_S_TRADE, n);
    life->created = c;
    life->pay = life->check = life->ship = life->refund = life->done = life->cancel = -1;
    life->rf_agree = life->rf_done = life->si_done = -1;
    if (trade_cancelled(h)) {
        life->cancel =
            c + d[TF_CANCEL].bases[choice8(h, 32, 2)] + jit16(h3, 0, d[TF_CANCEL].jitter);
    } else {
        life->pay = c + d[TF_PAY].bases[0] + jit16(h2, 0, d[TF_PAY].jitter);
        life->check = c + d[TF_CHECK].bases[choice8(h, 40, 3)] + jit16(h2, 16, d[TF_CHECK].jitter);
        life->ship = c + d[TF_SHIP].bases[choice8(h, 48, 3)] + jit16(h2, 32, d[TF_SHIP].jitter);
        life->done = c + d[TF_DONE].bases[choice8(h, 56, 3)] + jit16(h2, 48, d[TF_DONE].jitter);
        if (trade_refunded(h)) {
            life->refund =
                c + d[TF_REFUND].bases[choice8(h4, 0, 2)] + jit16(h3, 16, d[TF_REFUND].jitter);
            life->rf_agree = life->refund + d[TF_RF_AGREE].bases[choice8(h4, 8, 2)] +
                             jit16(h3, 32, d[TF_RF_AGREE].jitter);
            life->rf_done = life->refund + d[TF_RF_DONE].bases[choice8(h4, 16, 2)] +
                            jit16(h3, 48, d[TF_RF_DONE].jitter);
            life->si_done = life->rf_done + d[TF_SI_DONE].bases[choice8(h4, 24, 2)] +
                            jit16(h5, 0, d[TF_SI_DONE].jitter);
        }
    }
    life->shop = pick_shop((uint64_t)pct16(h4, 32));
    life->wh = choice8(h4, 48, SBX_N_STOCK_WH);
    life->logi = choice8(h4, 56, SBX_N_LOGISTICS);
    int r = pct16(h5, 16);
    life->n_lines = r < 60 ? 1 : r < 80 ? 2 : r < 90 ? 3 : 4;
    life->refund_line = choice8(h5, 32, life->n_lines);
    if (with_lines)
        sbx_trade_lines_get(ds, life);
}

void sbx_trade_lines_get(const struct sbx_dataset *ds, struct sbx_trade_life *life)
{
    make_lines(ds, 0x200, life->n, life->n_lines, life->lines);
}

/* Purchase hashes: h [0] approve [8] arrive [16] si_done choices, [24] wh [32] provider
 * [40] lines; h2 jitters [0] approve [16] arrive [32] si_done. */
static int purchase_combo(uint64_t h, int f)
{
    int a = choice8(h, 0, 2), arr = choice8(h, 8, 3);
    switch (f) {
    case PF_CREATED: return 0;
    case PF_APPROVE: return a;
    case PF_ARRIVE: return a * 3 + arr;
    case PF_SI_DONE: return (a * 3 + arr) * 2 + choice8(h, 16, 2);
    default: return -1;
    }
}

static inline uint64_t purchase_h(const struct sbx_dataset *ds, uint64_t n)
{
    return sbx_hash(ds->seed, 11, n);
}

void sbx_purchase_life_get(const struct sbx_dataset *ds, uint64_t n, int with_lines,
                           struct sbx_purchase_life *life)
{
    const struct delay *d = purchase_delays;
    uint64_t h = purchase_h(ds, n);
    uint64_t h2 = sbx_mix64(h ^ MIXK2);
    life->n = n;
    life->h = h;
    life->h2 = h2;
    int64_t c = sbx_stream_created(ds, SBX_S_PURCHASE, n);
    life->created = c;
    life->approve = c + d[PF_APPROVE].bases[choice8(h, 0, 2)] + jit16(h2, 0, d[PF_APPROVE].jitter);
    life->arrive =
        life->approve + d[PF_ARRIVE].bases[choice8(h, 8, 3)] + jit16(h2, 16, d[PF_ARRIVE].jitter);
    life->si_done =
        life->arrive + d[PF_SI_DONE].bases[choice8(h, 16, 2)] + jit16(h2, 32, d[PF_SI_DONE].jitter);
    life->wh = choice8(h, 24, SBX_N_STOCK_WH);
    life->provider = choice8(h, 32, 5);
    life->n_lines = 1 + choice8(h, 40, SBX_MAX_LINES);
    if (with_lines) {
        make_lines(ds, 0x300, n, life->n_lines, life->lines);
        for (int i = 0; i < life->n_lines; i++)
            life->lines[i].num = 20 * (1 + (int)(sbx_hash(ds->seed, 0x310 + (uint64_t)i, n) % 10));
    }
}

/* ---------------------------------------------------------------- lifecycles per entity */

struct ev {
    int field;
    int status;
};

/* The events that change each lifecycle entity, in the order they happen. */
static const struct ev trade_evs[] = {{TF_CREATED, 10}, {TF_CANCEL, 5}, {TF_PAY, 30},
                                      {TF_CHECK, 55},   {TF_SHIP, 95},  {TF_REFUND, 95},
                                      {TF_DONE, 110}};
static const struct ev raw_evs[] = {{TF_CREATED, 10}, {TF_CANCEL, 90}, {TF_PAY, 30},
                                    {TF_SHIP, 50},    {TF_REFUND, 80}, {TF_DONE, 70}};
static const struct ev stockout_evs[] = {{TF_CHECK, 55}, {TF_SHIP, 95}, {TF_DONE, 110}};
static const struct ev refund_evs[] = {{TF_REFUND, 20}, {TF_RF_AGREE, 60}, {TF_RF_DONE, 90}};
static const struct ev rstockin_evs[] = {{TF_RF_DONE, 30}, {TF_SI_DONE, 80}};
static const struct ev porder_evs[] = {
    {PF_CREATED, 20}, {PF_APPROVE, 40}, {PF_ARRIVE, 70}, {PF_SI_DONE, 90}};
static const struct ev pstockin_evs[] = {{PF_ARRIVE, 30}, {PF_SI_DONE, 80}};

struct life_def {
    enum sbx_stream stream;
    const struct ev *evs;
    int n_evs;
    int paid_field;      /* SBX_TIME_PAID, or -1 */
    int consigned_field; /* SBX_TIME_CONSIGNED, or -1 */
};

#define EVS(a) a, (int)(sizeof(a) / sizeof(a[0]))

static const struct life_def *life_def_of(enum sbx_entity e)
{
    static const struct life_def trade = {SBX_S_TRADE, EVS(trade_evs), TF_PAY, TF_SHIP};
    static const struct life_def raw = {SBX_S_TRADE, EVS(raw_evs), TF_PAY, TF_SHIP};
    static const struct life_def stockout = {SBX_S_TRADE, EVS(stockout_evs), -1, TF_SHIP};
    static const struct life_def refund = {SBX_S_TRADE, EVS(refund_evs), -1, -1};
    static const struct life_def rstockin = {SBX_S_TRADE, EVS(rstockin_evs), -1, -1};
    static const struct life_def porder = {SBX_S_PURCHASE, EVS(porder_evs), -1, -1};
    static const struct life_def pstockin = {SBX_S_PURCHASE, EVS(pstockin_evs), -1, -1};
    switch (e) {
    case SBX_E_TRADE: return &trade;
    case SBX_E_RAW_TRADE: return &raw;
    case SBX_E_STOCKOUT: return &stockout;
    case SBX_E_REFUND: return &refund;
    case SBX_E_REFUND_STOCKIN: return &rstockin;
    case SBX_E_PURCHASE_ORDER: return &porder;
    case SBX_E_PURCHASE_STOCKIN: return &pstockin;
    default: return NULL;
    }
}

static int64_t trade_field(const struct sbx_trade_life *l, int f)
{
    switch (f) {
    case TF_CREATED: return l->created;
    case TF_PAY: return l->pay;
    case TF_CANCEL: return l->cancel;
    case TF_CHECK: return l->check;
    case TF_SHIP: return l->ship;
    case TF_REFUND: return l->refund;
    case TF_DONE: return l->done;
    case TF_RF_AGREE: return l->rf_agree;
    case TF_RF_DONE: return l->rf_done;
    case TF_SI_DONE: return l->si_done;
    default: return -1;
    }
}

static int64_t purchase_field(const struct sbx_purchase_life *l, int f)
{
    switch (f) {
    case PF_CREATED: return l->created;
    case PF_APPROVE: return l->approve;
    case PF_ARRIVE: return l->arrive;
    case PF_SI_DONE: return l->si_done;
    default: return -1;
    }
}

/* The last event at or before t; -1 when the first event is after t (or never happens). */
static int64_t last_event(const int64_t *times, const struct ev *evs, int n_evs, int64_t t,
                          int *status)
{
    if (times[0] < 0 || times[0] > t)
        return -1;
    int64_t m = times[0];
    int st = evs[0].status;
    for (int i = 1; i < n_evs; i++) {
        if (times[i] >= 0 && times[i] <= t) {
            m = times[i]; /* events are listed in time order */
            st = evs[i].status;
        }
    }
    if (status)
        *status = st;
    return m;
}

int64_t sbx_trade_modified(const struct sbx_trade_life *life, enum sbx_entity e, int64_t t,
                           int *status)
{
    const struct life_def *d = life_def_of(e);
    WDTS_ASSERT(d != NULL && d->stream == SBX_S_TRADE);
    int64_t times[8];
    for (int i = 0; i < d->n_evs; i++)
        times[i] = trade_field(life, d->evs[i].field);
    return last_event(times, d->evs, d->n_evs, t, status);
}

int64_t sbx_purchase_modified(const struct sbx_purchase_life *life, enum sbx_entity e, int64_t t,
                              int *status)
{
    const struct life_def *d = life_def_of(e);
    WDTS_ASSERT(d != NULL && d->stream == SBX_S_PURCHASE);
    int64_t times[8];
    for (int i = 0; i < d->n_evs; i++)
        times[i] = purchase_field(life, d->evs[i].field);
    return last_event(times, d->evs, d->n_evs, t, status);
}

int sbx_route_visible(enum sbx_route route, int platform_id)
{
    if (platform_id == 39) /* 拼多多: neither route; sellers fetch it from PDD */
        return 0;
    if (route == SBX_ROUTE_WDT && platform_id == 1) /* 淘系 only through Qimen */
        return 0;
    return 1;
}

/* ---------------------------------------------------------------- catalog */

uint32_t sbx_n_goods(const struct sbx_dataset *ds)
{
    return 60 + (uint32_t)(sbx_hash(ds->seed, 0x400, 0) % 61);
}

uint32_t sbx_n_specs(const struct sbx_dataset *ds, uint32_t goods)
{
    return 1 + (uint32_t)(sbx_hash(ds->seed, 0x401, goods) % SBX_MAX_SPECS_PER_GOODS);
}

uint32_t sbx_n_suites(const struct sbx_dataset *ds)
{
    return 10 + (uint32_t)(sbx_hash(ds->seed, 0x402, 0) % 11);
}

int64_t sbx_goods_created(const struct sbx_dataset *ds, uint32_t goods)
{
    return ds->data_origin + (int64_t)goods * 97;
}

int64_t sbx_suite_created(const struct sbx_dataset *ds, uint32_t suite)
{
    return ds->data_origin + 3 * 3600 + (int64_t)suite * 131;
}

/* Periodic updates: the first at created + phase, then every period. */
static int64_t periodic(int64_t created, int64_t period, int64_t phase, int64_t t, int64_t *version)
{
    if (t < created)
        return -1;
    int64_t first = created + phase;
    int64_t v = t < first ? 0 : 1 + (t - first) / period;
    if (version)
        *version = v;
    return v == 0 ? created : first + (v - 1) * period;
}

/* One in 50 goods and suites, and always the last of each (so every data set has one),
 * is deleted 1 to 20 days after its creation, at an odd second no update falls on. */
static int64_t deleted_at(const struct sbx_dataset *ds, uint64_t salt, uint32_t i, uint32_t n,
                          int64_t created)
{
    uint64_t h = sbx_hash(ds->seed, salt, i);
    if (h % 50 != 0 && i + 1 != n)
        return -1;
    return created + (1 + (int64_t)((h >> 8) % 20)) * DAY + 2 * (int64_t)((h >> 24) % 3600) + 1;
}

int64_t sbx_goods_deleted(const struct sbx_dataset *ds, uint32_t goods)
{
    return deleted_at(ds, 0x460, goods, sbx_n_goods(ds), sbx_goods_created(ds, goods));
}

int64_t sbx_suite_deleted(const struct sbx_dataset *ds, uint32_t suite)
{
    return deleted_at(ds, 0x461, suite, sbx_n_suites(ds), sbx_suite_created(ds, suite));
}

int64_t sbx_goods_modified(const struct sbx_dataset *ds, uint32_t goods, int spec, int64_t t,
                           int64_t *version)
{
    int64_t created = sbx_goods_created(ds, goods);
    uint64_t h = sbx_hash(ds->seed, 0x410 + (uint64_t)(spec + 1), goods);
    int64_t period = spec < 0 ? (3 + (int64_t)(h % 10)) * DAY : (5 + (int64_t)(h % 20)) * DAY;
    int64_t phase = 1 + (int64_t)((h >> 16) % (uint64_t)(period - 1));
    /* the deletion is the goods' last change, and its specs' (they go with it) */
    int64_t del = sbx_goods_deleted(ds, goods);
    if (del >= 0 && t >= del) {
        periodic(created, period, phase, del - 1, version);
        return del;
    }
    return periodic(created, period, phase, t, version);
}

int64_t sbx_suite_modified(const struct sbx_dataset *ds, uint32_t suite, int64_t t,
                           int64_t *version)
{
    uint64_t h = sbx_hash(ds->seed, 0x420, suite);
    int64_t period = (4 + (int64_t)(h % 12)) * DAY;
    int64_t phase = 1 + (int64_t)((h >> 16) % (uint64_t)(period - 1));
    int64_t del = sbx_suite_deleted(ds, suite);
    if (del >= 0 && t >= del) {
        periodic(sbx_suite_created(ds, suite), period, phase, del - 1, version);
        return del;
    }
    return periodic(sbx_suite_created(ds, suite), period, phase, t, version);
}

int64_t sbx_retired(const struct sbx_dataset *ds, enum sbx_entity e, uint64_t id)
{
    if (e == SBX_E_WAREHOUSE && id == SBX_N_WAREHOUSES)
        return ds->data_origin + DAY + 3 * 3600;
    if (e == SBX_E_LOGISTICS && id == SBX_N_LOGISTICS_ROWS)
        return ds->data_origin + 2 * DAY + 5 * 3600;
    return -1;
}

int64_t sbx_snapshot_modified(const struct sbx_dataset *ds, enum sbx_entity e, uint64_t id,
                              int64_t t)
{
    int64_t r = sbx_retired(ds, e, id);
    return r >= 0 && r <= t ? r : ds->data_origin;
}

int64_t sbx_spec_price(const struct sbx_dataset *ds, uint32_t goods, uint32_t spec)
{
    uint64_t h = sbx_hash(ds->seed, 0x430, goods);
    int64_t base = 990 + (int64_t)(h % 200) * 500; /* 9.90 … 1004.90 */
    return base + (int64_t)spec * 1000;
}

int sbx_suite_parts(const struct sbx_dataset *ds, uint32_t suite, struct sbx_line parts[3])
{
    uint64_t h = sbx_hash(ds->seed, 0x440, suite);
    int n = 2 + (int)(h % 2);
    make_lines(ds, 0x450, suite, n, parts);
    return n;
}

int sbx_stock_split(const struct sbx_dataset *ds, uint64_t id, uint32_t *goods, uint32_t *spec,
                    int *wh)
{
    int w = (int)(id % 8);
    uint64_t sid = id / 8;
    if (sid == 0 || w >= SBX_N_STOCK_WH)
        return 0;
    uint64_t g = (sid - 1) / SBX_MAX_SPECS_PER_GOODS;
    uint32_t s = (uint32_t)((sid - 1) % SBX_MAX_SPECS_PER_GOODS);
    if (g >= sbx_n_goods(ds) || s >= sbx_n_specs(ds, (uint32_t)g))
        return 0;
    *goods = (uint32_t)g;
    *spec = s;
    *wh = w;
    return 1;
}

/* ---------------------------------------------------------------- candidate enumeration */

struct range {
    int64_t lo, hi; /* inclusive offsets from creation */
};

#define MAX_RANGES 16

static int field_ranges(const struct delay *tab, int f, struct range *out)
{
    const struct delay *d = &tab[f];
    struct range par[MAX_RANGES];
    int np = 1;
    par[0].lo = par[0].hi = 0;
    if (d->parent >= 0)
        np = field_ranges(tab, d->parent, par);
    int n = 0;
    for (int i = 0; i < np; i++) {
        for (int b = 0; b < d->n; b++) {
            WDTS_ASSERT(n < MAX_RANGES);
            out[n].lo = par[i].lo + d->bases[b];
            out[n].hi = par[i].hi + d->bases[b] + d->jitter - 1;
            n++;
        }
    }
    return n;
}

typedef void (*visit_cb)(void *ctx, uint64_t n, int field);

static uint64_t visited_total; /* statistics only; updated atomically */

/* Calls cb(n, f) for every record n of stream, created at or before as_of, whose
 * event f (one of `fields`) can fall in [s, e): for each delay combination of f,
 * the records created where that combination reaches the window are checked
 * against their own combination first (one hash), so cb sees each (n, f) once and
 * only when the combination fits. cb still checks the exact time. */
static void visit(const struct sbx_dataset *ds, enum sbx_stream stream, const int *fields,
                  int n_fields, int64_t s, int64_t e, int64_t as_of, visit_cb cb, void *ctx)
{
    if (stream_rate(ds, stream) == 0 || e <= s || as_of < ds->data_origin)
        return;
    const struct delay *tab = stream == SBX_S_TRADE ? trade_delays : purchase_delays;
    uint64_t n_end = sbx_stream_count(ds, stream, as_of);
    uint64_t visited = 0;
    for (int i = 0; i < n_fields; i++) {
        int f = fields[i];
        struct range r[MAX_RANGES];
        int nr = field_ranges(tab, f, r);
        for (int j = 0; j < nr; j++) {
            /* event = c + off, off ∈ [lo, hi], event ∈ [s, e)  ⇒  c ∈ [s - hi, e - 1 - lo] */
            int64_t clo = s - r[j].hi, chi = e - 1 - r[j].lo;
            if (chi < ds->data_origin)
                continue;
            uint64_t a = stream_first_ge(ds, stream, clo);
            uint64_t b = stream_first_ge(ds, stream, chi + 1);
            if (b > n_end)
                b = n_end;
            if (a >= b)
                continue;
            visited += b - a;
            /* every callback takes (n, f) only when event f is in [s, e) and by as_of */
            if (stream == SBX_S_TRADE) {
                for (uint64_t n = a; n < b; n++) {
                    uint64_t h = trade_h(ds, n);
                    if (trade_combo(h, f) != j)
                        continue;
                    int64_t ft = trade_field_time(ds, n, h, f);
                    if (ft >= s && ft < e && ft <= as_of)
                        cb(ctx, n, f);
                }
            } else {
                for (uint64_t n = a; n < b; n++)
                    if (purchase_combo(purchase_h(ds, n), f) == j)
                        cb(ctx, n, f);
            }
        }
    }
    __atomic_fetch_add(&visited_total, visited, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------- collected rows */

struct row {
    int64_t key; /* the time the window filters on */
    uint64_t id;
    int64_t modified;
};

struct rows {
    struct row *v;
    size_t n, cap;
};

static void rows_add(struct rows *rs, int64_t key, uint64_t id, int64_t modified)
{
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 256;
        rs->v = wdts_xrealloc(rs->v, rs->cap * sizeof(*rs->v));
    }
    rs->v[rs->n].key = key;
    rs->v[rs->n].id = id;
    rs->v[rs->n].modified = modified;
    rs->n++;
}

static int row_cmp(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* ---------------------------------------------------------------- lifecycle selection */

struct life_sel {
    const struct sbx_dataset *ds;
    enum sbx_entity e;
    const struct life_def *def;
    enum sbx_route route;
    int key_field; /* -1: window on modified */
    int64_t s, e_end, as_of;
    struct rows *out;
};

/* Evaluates record n as of ls->as_of and adds it when its time is in the window.
 * via_field >= 0: n was reached through that event field, and is taken only when
 * that event is the one the window is on (so a record reached through several of
 * its events is added once). */
/* Whether trade n, reached through its event via_field (at or before as_of), has a
 * later event of def at or before as_of, so that via_field is not its current event.
 * Most candidates of a window on `modified` are such superseded events: this answers
 * from the hashes and the next event's time, without the whole life. */
static int trade_superseded(const struct sbx_dataset *ds, const struct life_def *def, uint64_t n,
                            uint64_t h, int via_field, int64_t as_of)
{
    int i = 0;
    while (i < def->n_evs && def->evs[i].field != via_field)
        i++;
    for (i++; i < def->n_evs; i++) {
        int f = def->evs[i].field;
        if (trade_combo(h, f) >= 0 && trade_field_time(ds, n, h, f) <= as_of)
            return 1;
    }
    return 0;
}

static void life_eval(struct life_sel *ls, uint64_t n, int via_field)
{
    const struct life_def *def = ls->def;
    int64_t times[8];
    if (def->stream == SBX_S_TRADE) {
        /* the cheap rejections first, from the hashes (the shop is the life's shop) */
        uint64_t h = trade_h(ls->ds, n);
        int shop = pick_shop((uint64_t)pct16(sbx_mix64(h ^ MIXK4), 32));
        if (!sbx_route_visible(ls->route, sbx_shops[shop].platform_id))
            return;
        if (ls->key_field < 0 && via_field >= 0 &&
            trade_superseded(ls->ds, def, n, h, via_field, ls->as_of))
            return;
        struct sbx_trade_life l;
        sbx_trade_life_get(ls->ds, n, 0, &l);
        for (int i = 0; i < def->n_evs; i++)
            times[i] = trade_field(&l, def->evs[i].field);
    } else {
        struct sbx_purchase_life l;
        sbx_purchase_life_get(ls->ds, n, 0, &l);
        for (int i = 0; i < def->n_evs; i++)
            times[i] = purchase_field(&l, def->evs[i].field);
    }
    /* the current event: the last one at or before as_of (events are in time order) */
    int cur = -1;
    for (int i = 0; i < def->n_evs; i++)
        if (times[i] >= 0 && times[i] <= ls->as_of)
            cur = i;
    if (cur < 0 || times[0] < 0 || times[0] > ls->as_of)
        return; /* not created yet */
    int64_t mod = times[cur], key;
    if (ls->key_field < 0) {
        if (via_field >= 0 && def->evs[cur].field != via_field)
            return;
        key = mod;
    } else {
        key = -1;
        for (int i = 0; i < def->n_evs; i++)
            if (def->evs[i].field == ls->key_field)
                key = times[i];
        if (key < 0 || key > ls->as_of)
            return;
    }
    if (key < ls->s || key >= ls->e_end)
        return;
    rows_add(ls->out, key, n + 1, mod);
}

static void life_visit(void *vctx, uint64_t n, int field)
{
    life_eval(vctx, n, field);
}

/* Which trades have an event: all, the cancelled ones, the others (live), or the
 * refunded ones among those (sbx_trade_life_get() sets the times by these rules). */
enum tclass { TC_ALL, TC_CANCELLED, TC_LIVE, TC_REFUNDED };
static const enum tclass trade_class[TF__COUNT] = {
    [TF_CREATED] = TC_ALL,       [TF_CANCEL] = TC_CANCELLED, [TF_PAY] = TC_LIVE,
    [TF_CHECK] = TC_LIVE,        [TF_SHIP] = TC_LIVE,        [TF_DONE] = TC_LIVE,
    [TF_REFUND] = TC_REFUNDED,   [TF_RF_AGREE] = TC_REFUNDED, [TF_RF_DONE] = TC_REFUNDED,
    [TF_SI_DONE] = TC_REFUNDED,
};

/* Every trade of class a is of class b. */
static int tclass_within(enum tclass a, enum tclass b)
{
    return a == b || b == TC_ALL || (a == TC_REFUNDED && b == TC_LIVE);
}

/* The earliest and the latest offset from creation at which trade event f can happen. */
static void trade_offsets(int f, int64_t *lo, int64_t *hi)
{
    struct range r[MAX_RANGES];
    int nr = field_ranges(trade_delays, f, r);
    *lo = INT64_MAX;
    *hi = INT64_MIN;
    for (int j = 0; j < nr; j++) {
        *lo = r[j].lo < *lo ? r[j].lo : *lo;
        *hi = r[j].hi > *hi ? r[j].hi : *hi;
    }
}

/* Whether no trade can have event evs[k] of def in [.., end) as its current event as
 * of as_of: every trade with that event also has a later event of def by then, so
 * life_eval() would reject every candidate reached through it. A later event g is
 * certain when every trade with evs[k] has g (its class within g's); a trade with an
 * event of every class has a cancel or a live event. The bound: evs[k] before end
 * means creation before end - lo, so g by creation + hi(g). */
static int trade_field_superseded(const struct life_def *def, int k, int64_t end, int64_t as_of)
{
    int f = def->evs[k].field;
    int64_t lo, hi;
    trade_offsets(f, &lo, &hi);
    int64_t next = INT64_MAX, cancel_hi = INT64_MAX, live_hi = INT64_MAX;
    for (int i = k + 1; i < def->n_evs; i++) {
        int g = def->evs[i].field;
        int64_t glo, ghi;
        trade_offsets(g, &glo, &ghi);
        if (tclass_within(trade_class[f], trade_class[g]) && ghi < next)
            next = ghi;
        if (trade_class[g] == TC_CANCELLED && ghi < cancel_hi)
            cancel_hi = ghi;
        if (trade_class[g] == TC_LIVE && ghi < live_hi)
            live_hi = ghi;
    }
    if (trade_class[f] == TC_ALL && cancel_hi < INT64_MAX && live_hi < INT64_MAX) {
        int64_t either = cancel_hi > live_hi ? cancel_hi : live_hi;
        next = either < next ? either : next;
    }
    return next < INT64_MAX && end - 1 - lo + next <= as_of;
}

static wdts_err_t select_life(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                              enum sbx_timekind tk, int64_t s, int64_t end, int64_t as_of,
                              struct rows *out)
{
    const struct life_def *def = life_def_of(e);
    struct life_sel ls = {ds, e, def, route, -1, s, end, as_of, out};
    int fields[8];
    int nf = 0;
    switch (tk) {
    case SBX_TIME_MODIFIED:
        /* events that are surely followed by another by as_of are never current:
         * their candidates need no visit (in a settled window, most of them) */
        for (int i = 0; i < def->n_evs; i++)
            if (def->stream != SBX_S_TRADE || !trade_field_superseded(def, i, end, as_of))
                fields[nf++] = def->evs[i].field;
        break;
    case SBX_TIME_CREATED: ls.key_field = def->evs[0].field; break;
    case SBX_TIME_PAID: ls.key_field = def->paid_field; break;
    case SBX_TIME_CONSIGNED: ls.key_field = def->consigned_field; break;
    default: return WDTS_ERR_INVAL;
    }
    if (tk != SBX_TIME_MODIFIED) {
        if (ls.key_field < 0)
            return WDTS_ERR_INVAL;
        fields[nf++] = ls.key_field;
    }
    visit(ds, def->stream, fields, nf, s, end, as_of, life_visit, &ls);
    return WDTS_OK;
}

/* ---------------------------------------------------------------- stock changes */

/* One stock movement: which stock record, when, and its change id. */
typedef void (*chg_cb)(void *ctx, uint64_t chg_id, uint64_t stock_id, int64_t t);

struct chg_walk {
    const struct sbx_dataset *ds;
    int64_t s, e, as_of;
    chg_cb cb;
    void *ctx;
};

static void chg_trade_visit(void *vctx, uint64_t n, int field)
{
    struct chg_walk *w = vctx;
    struct sbx_trade_life l;
    sbx_trade_life_get(w->ds, n, 0, &l);
    int64_t t = field == TF_SHIP ? l.ship : l.si_done;
    if (t < 0 || t < w->s || t >= w->e || t > w->as_of)
        return;
    make_lines(w->ds, 0x200, n, l.n_lines, l.lines);
    if (field == TF_SHIP) {
        for (int i = 0; i < l.n_lines; i++)
            w->cb(w->ctx, sbx_chg_id(SBX_CHG_SALE, n, l.lines[i].goods, l.lines[i].spec, i),
                  sbx_stock_id(l.lines[i].goods, l.lines[i].spec, l.wh), l.ship);
    } else {
        const struct sbx_line *ln = &l.lines[l.refund_line];
        w->cb(w->ctx, sbx_chg_id(SBX_CHG_REFUND_IN, n, ln->goods, ln->spec, l.refund_line),
              sbx_stock_id(ln->goods, ln->spec, l.wh), l.si_done);
    }
}

static void chg_purchase_visit(void *vctx, uint64_t n, int field)
{
    (void)field; /* only PF_SI_DONE is walked */
    struct chg_walk *w = vctx;
    struct sbx_purchase_life l;
    sbx_purchase_life_get(w->ds, n, 0, &l);
    if (l.si_done < w->s || l.si_done >= w->e || l.si_done > w->as_of)
        return;
    make_lines(w->ds, 0x300, n, l.n_lines, l.lines);
    for (int i = 0; i < l.n_lines; i++)
        w->cb(w->ctx, sbx_chg_id(SBX_CHG_PURCHASE_IN, n, l.lines[i].goods, l.lines[i].spec, i),
              sbx_stock_id(l.lines[i].goods, l.lines[i].spec, l.wh), l.si_done);
}

/* Every stock movement in [s, e) that has happened by as_of. */
static void walk_changes(const struct sbx_dataset *ds, int64_t s, int64_t e, int64_t as_of,
                         chg_cb cb, void *ctx)
{
    struct chg_walk w = {ds, s, e, as_of, cb, ctx};
    static const int tfields[] = {TF_SHIP, TF_SI_DONE};
    static const int pfields[] = {PF_SI_DONE};
    visit(ds, SBX_S_TRADE, tfields, 2, s, e, as_of, chg_trade_visit, &w);
    visit(ds, SBX_S_PURCHASE, pfields, 1, s, e, as_of, chg_purchase_visit, &w);
}

static void chg_collect(void *ctx, uint64_t chg_id, uint64_t stock_id, int64_t t)
{
    (void)stock_id;
    rows_add(ctx, t, chg_id, t);
}

/* ---------------------------------------------------------------- stock records */

/* The last movement of every stock record as of T, found by walking backwards from T
 * in growing chunks until every record has been seen (or the data origin is reached). */
#define STOCK_SLOTS(ng) (((size_t)(ng)*SBX_MAX_SPECS_PER_GOODS + 1) * 8)

struct stock_scan {
    int64_t *last;    /* indexed by stock id; -1 unresolved */
    int64_t *pending; /* best time seen in the current chunk */
    size_t slots;
};

static void stock_scan_cb(void *ctx, uint64_t chg_id, uint64_t stock_id, int64_t t)
{
    (void)chg_id;
    struct stock_scan *sc = ctx;
    if (stock_id < sc->slots && sc->last[stock_id] < 0 && t > sc->pending[stock_id])
        sc->pending[stock_id] = t;
}

static int64_t *stock_resolve(const struct sbx_dataset *ds, int64_t as_of, size_t *slots_out)
{
    uint32_t ng = sbx_n_goods(ds);
    size_t slots = STOCK_SLOTS(ng);
    struct stock_scan sc = {wdts_xmalloc(slots * sizeof(int64_t)),
                            wdts_xmalloc(slots * sizeof(int64_t)), slots};
    size_t unresolved = 0;
    for (size_t i = 0; i < slots; i++) {
        uint32_t g, sp;
        int wh;
        int real = sbx_stock_split(ds, i, &g, &sp, &wh);
        sc.last[i] = real ? -1 : INT64_MIN;
        sc.pending[i] = -1;
        unresolved += (size_t)real;
    }
    int64_t chunk = 6 * 3600;
    int64_t hi = as_of + 1;
    while (unresolved > 0 && hi > ds->data_origin) {
        int64_t lo = hi - chunk;
        walk_changes(ds, lo, hi, as_of, stock_scan_cb, &sc);
        for (size_t i = 0; i < slots; i++) {
            if (sc.last[i] == -1 && sc.pending[i] >= 0) {
                sc.last[i] = sc.pending[i];
                unresolved--;
            }
        }
        hi = lo;
        if (chunk < 7 * DAY)
            chunk *= 2;
    }
    for (size_t i = 0; i < slots; i++)
        if (sc.last[i] == -1)
            sc.last[i] = ds->data_origin; /* no movement since the opening stock */
    free(sc.pending);
    *slots_out = slots;
    return sc.last;
}

/* ---------------------------------------------------------------- caches */

/* Both caches are direct-mapped by everything but the clock (data set, entity,
 * route, time kind, window), and each entry remembers the as_of it was computed
 * for. A query for the same as_of is a copy. A query a little later (the clock
 * ran on while a connector paged) starts from the entry and applies only the
 * events of (entry as_of, as_of]: the result is the same as computing afresh, at
 * the cost of a few seconds of events. Entries and total rows are bounded, so
 * memory does not grow with the number of tenants. */
#define PATCH_MAX 3600 /* patch across at most this many seconds; beyond, recompute */

struct sel_key {
    uint64_t seed;
    int64_t opd, origin;
    int64_t start, end;
    int entity, route, tk;
};

struct sel_entry {
    int used;
    struct sel_key key;
    int64_t as_of;
    struct row *rows;
    size_t n;
};

#define SEL_SLOTS 256
#define SEL_MAX_ROWS_ENTRY 1000000
#define SEL_MAX_ROWS_TOTAL 4000000

#define STOCK_CACHE_SLOTS 16

struct stock_entry {
    int used;
    uint64_t seed;
    int64_t opd, origin, as_of;
    int64_t *last;
    size_t slots;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sel_entry sel_cache[SEL_SLOTS];
static size_t sel_cache_rows;
static struct stock_entry stock_cache[STOCK_CACHE_SLOTS];

static uint64_t sel_key_hash(const struct sel_key *k)
{
    uint64_t h = sbx_hash(k->seed, (uint64_t)k->opd, (uint64_t)k->origin);
    h = sbx_hash(h, (uint64_t)k->start, (uint64_t)k->end);
    h = sbx_hash(h, 0x51, (uint64_t)(k->entity * 64 + k->route * 8 + k->tk));
    return h;
}

static int sel_key_eq(const struct sel_key *a, const struct sel_key *b)
{
    return a->seed == b->seed && a->opd == b->opd && a->origin == b->origin &&
           a->start == b->start && a->end == b->end && a->entity == b->entity &&
           a->route == b->route && a->tk == b->tk;
}

/* How a cached selection serves a query. */
enum cache_use { CACHE_MISS = 0, CACHE_EXACT, CACHE_BASE };

/* On CACHE_EXACT or CACHE_BASE, *rows is a new copy of the entry and *base_as_of its time. */
static enum cache_use sel_cache_get(const struct sel_key *k, int64_t as_of, int patchable,
                                    struct rows *rows, int64_t *base_as_of)
{
    enum cache_use use = CACHE_MISS;
    pthread_mutex_lock(&cache_lock);
    struct sel_entry *en = &sel_cache[sel_key_hash(k) % SEL_SLOTS];
    if (en->used && sel_key_eq(&en->key, k)) {
        if (en->as_of == as_of)
            use = CACHE_EXACT;
        else if (patchable && en->as_of < as_of && as_of - en->as_of <= PATCH_MAX)
            use = CACHE_BASE;
    }
    if (use != CACHE_MISS) {
        rows->n = rows->cap = en->n;
        rows->v = wdts_xmalloc((en->n ? en->n : 1) * sizeof(*rows->v));
        memcpy(rows->v, en->rows, en->n * sizeof(*rows->v));
        *base_as_of = en->as_of;
    }
    pthread_mutex_unlock(&cache_lock);
    return use;
}

static void sel_cache_put(const struct sel_key *k, int64_t as_of, const struct rows *rs)
{
    if (rs->n > SEL_MAX_ROWS_ENTRY)
        return;
    pthread_mutex_lock(&cache_lock);
    struct sel_entry *en = &sel_cache[sel_key_hash(k) % SEL_SLOTS];
    if (en->used && sel_key_eq(&en->key, k) && en->as_of >= as_of)
        goto out; /* keep the newer one: clocks run forwards */
    if (en->used) {
        sel_cache_rows -= en->n;
        free(en->rows);
        en->used = 0;
    }
    if (sel_cache_rows + rs->n <= SEL_MAX_ROWS_TOTAL) {
        en->key = *k;
        en->as_of = as_of;
        en->n = rs->n;
        en->rows = wdts_xmalloc((rs->n ? rs->n : 1) * sizeof(*en->rows));
        if (rs->n)
            memcpy(en->rows, rs->v, rs->n * sizeof(*en->rows));
        en->used = 1;
        sel_cache_rows += rs->n;
    }
out:
    pthread_mutex_unlock(&cache_lock);
}

static void stock_max_cb(void *ctx, uint64_t chg_id, uint64_t stock_id, int64_t t)
{
    (void)chg_id;
    struct stock_scan *sc = ctx;
    if (stock_id < sc->slots && sc->last[stock_id] < t)
        sc->last[stock_id] = t;
}

static int stock_entry_is(const struct stock_entry *en, const struct sbx_dataset *ds)
{
    return en->used && en->seed == ds->seed && en->opd == ds->orders_per_day &&
           en->origin == ds->data_origin;
}

/* Entries are stored by (data set, as_of), so a few clock seconds of one tenant live side
 * by side; a query without its own entry starts from the latest earlier one within
 * PATCH_MAX. Called with cache_lock held. @returns the entry or NULL. */
static struct stock_entry *stock_find(const struct sbx_dataset *ds, int64_t t, int exact)
{
    struct stock_entry *best = NULL;
    for (int i = 0; i < STOCK_CACHE_SLOTS; i++) {
        struct stock_entry *en = &stock_cache[i];
        if (!stock_entry_is(en, ds) || en->as_of > t || t - en->as_of > PATCH_MAX)
            continue;
        if (en->as_of == t)
            return en;
        if (!exact && (best == NULL || en->as_of > best->as_of))
            best = en;
    }
    return best;
}

static size_t stock_slot(const struct sbx_dataset *ds, int64_t t)
{
    uint64_t h = sbx_hash(ds->seed, (uint64_t)ds->orders_per_day, (uint64_t)ds->data_origin);
    return (size_t)(sbx_hash(h, 0x57, (uint64_t)t) % STOCK_CACHE_SLOTS);
}

/* The last movement of every stock record as of t: a new copy the caller frees. */
static int64_t *stock_last_copy(const struct sbx_dataset *ds, int64_t t, size_t *slots)
{
    int64_t *last = NULL;
    int64_t base_t = 0;
    pthread_mutex_lock(&cache_lock);
    struct stock_entry *en = stock_find(ds, t, 0);
    if (en) {
        last = wdts_xmalloc(en->slots * sizeof(int64_t));
        memcpy(last, en->last, en->slots * sizeof(int64_t));
        *slots = en->slots;
        base_t = en->as_of;
    }
    pthread_mutex_unlock(&cache_lock);
    if (last && base_t == t)
        return last;
    /* computed outside the lock; two threads may compute the same entry, both exact */
    if (last) {
        struct stock_scan sc = {last, NULL, *slots};
        walk_changes(ds, base_t + 1, t + 1, t, stock_max_cb, &sc);
    } else {
        last = stock_resolve(ds, t, slots);
    }
    int64_t *copy = wdts_xmalloc(*slots * sizeof(int64_t));
    memcpy(copy, last, *slots * sizeof(int64_t));
    pthread_mutex_lock(&cache_lock);
    en = &stock_cache[stock_slot(ds, t)];
    free(en->last);
    en->used = 1;
    en->seed = ds->seed;
    en->opd = ds->orders_per_day;
    en->origin = ds->data_origin;
    en->as_of = t;
    en->last = copy;
    en->slots = *slots;
    pthread_mutex_unlock(&cache_lock);
    return last;
}

int64_t sbx_stock_modified(const struct sbx_dataset *ds, uint64_t id, int64_t t)
{
    uint32_t g, sp;
    int wh;
    if (t < ds->data_origin || !sbx_stock_split(ds, id, &g, &sp, &wh))
        return -1;
    int64_t v = -1;
    pthread_mutex_lock(&cache_lock);
    struct stock_entry *en = stock_find(ds, t, 1);
    if (en && id < en->slots)
        v = en->last[id];
    pthread_mutex_unlock(&cache_lock);
    if (v >= 0)
        return v;
    size_t slots;
    int64_t *last = stock_last_copy(ds, t, &slots);
    v = id < slots ? last[id] : -1;
    free(last);
    return v;
}

void sbx_select_cache_stats(struct sbx_cache_stats *st)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < SEL_SLOTS; i++) {
        if (sel_cache[i].used) {
            st->entries++;
            st->rows += sel_cache[i].n;
            st->bytes += sel_cache[i].n * sizeof(struct row);
        }
    }
    for (int i = 0; i < STOCK_CACHE_SLOTS; i++) {
        if (stock_cache[i].used) {
            st->entries++;
            st->bytes += stock_cache[i].slots * sizeof(int64_t);
        }
    }
    pthread_mutex_unlock(&cache_lock);
    st->visited = __atomic_load_n(&visited_total, __ATOMIC_RELAXED);
    st->max_bytes = SEL_MAX_ROWS_TOTAL * sizeof(struct row) +
                    STOCK_CACHE_SLOTS * STOCK_SLOTS(128) * sizeof(int64_t);
}

void sbx_select_cache_clear(void)
{
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < SEL_SLOTS; i++) {
        free(sel_cache[i].rows);
        memset(&sel_cache[i], 0, sizeof(sel_cache[i]));
    }
    sel_cache_rows = 0;
    for (int i = 0; i < STOCK_CACHE_SLOTS; i++) {
        free(stock_cache[i].last);
        memset(&stock_cache[i], 0, sizeof(stock_cache[i]));
    }
    pthread_mutex_unlock(&cache_lock);
}

/* ---------------------------------------------------------------- catalog selection */

static void select_stock(const struct sbx_dataset *ds, int64_t s, int64_t e, int64_t as_of,
                         struct rows *out)
{
    if (as_of < ds->data_origin)
        return;
    size_t slots;
    int64_t *last = stock_last_copy(ds, as_of, &slots);
    for (size_t id = 0; id < slots; id++) {
        int64_t m = last[id];
        if (m >= 0 && m >= s && m < e)
            rows_add(out, m, id, m);
    }
    free(last);
}

static void select_goods(const struct sbx_dataset *ds, enum sbx_timekind tk, int64_t s, int64_t e,
                         int64_t as_of, struct rows *out)
{
    uint32_t ng = sbx_n_goods(ds);
    for (uint32_t g = 0; g < ng; g++) {
        int64_t m = sbx_goods_modified(ds, g, -1, as_of, NULL);
        if (m < 0)
            continue;
        uint32_t nsp = sbx_n_specs(ds, g);
        for (uint32_t sp = 0; sp < nsp; sp++) {
            int64_t ms = sbx_goods_modified(ds, g, (int)sp, as_of, NULL);
            if (ms > m)
                m = ms;
        }
        int64_t key = tk == SBX_TIME_CREATED ? sbx_goods_created(ds, g) : m;
        if (key >= s && key < e)
            rows_add(out, key, g + 1, m);
    }
}

static void select_suites(const struct sbx_dataset *ds, enum sbx_timekind tk, int64_t s, int64_t e,
                          int64_t as_of, struct rows *out)
{
    uint32_t n = sbx_n_suites(ds);
    for (uint32_t i = 0; i < n; i++) {
        int64_t m = sbx_suite_modified(ds, i, as_of, NULL);
        if (m < 0)
            continue;
        int64_t key = tk == SBX_TIME_CREATED ? sbx_suite_created(ds, i) : m;
        if (key >= s && key < e)
            rows_add(out, key, i + 1, m);
    }
}

static void select_snapshot(const struct sbx_dataset *ds, enum sbx_entity e, int64_t as_of,
                            struct rows *out)
{
    if (as_of < ds->data_origin)
        return;
    int n = e == SBX_E_SHOP        ? SBX_N_SHOPS
            : e == SBX_E_WAREHOUSE ? SBX_N_WAREHOUSES
                                   : SBX_N_LOGISTICS_ROWS;
    for (int i = 0; i < n; i++)
        rows_add(out, 0, (uint64_t)i + 1, sbx_snapshot_modified(ds, e, (uint64_t)i + 1, as_of));
}

/* ---------------------------------------------------------------- incremental update */

struct changed {
    const struct sbx_dataset *ds;
    enum sbx_entity e;
    const struct life_def *def;
    int64_t from, to; /* events in (from, to] */
    uint64_t *ids;
    size_t n, cap;
};

static void changed_visit(void *vctx, uint64_t n, int field)
{
    struct changed *c = vctx;
    int64_t t;
    if (c->def->stream == SBX_S_TRADE) {
        struct sbx_trade_life l;
        sbx_trade_life_get(c->ds, n, 0, &l);
        t = trade_field(&l, field);
    } else {
        struct sbx_purchase_life l;
        sbx_purchase_life_get(c->ds, n, 0, &l);
        t = purchase_field(&l, field);
    }
    if (t <= c->from || t > c->to)
        return;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->ids = wdts_xrealloc(c->ids, c->cap * sizeof(*c->ids));
    }
    c->ids[c->n++] = n + 1;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int id_in(const uint64_t *ids, size_t n, uint64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < id)
            lo = mid + 1;
        else if (ids[mid] > id)
            hi = mid;
        else
            return 1;
    }
    return 0;
}

/* Merges the sorted rows `add` into the sorted rows `rs`. */
static void rows_merge(struct rows *rs, struct rows *add)
{
    if (add->n == 0)
        return;
    qsort(add->v, add->n, sizeof(*add->v), row_cmp);
    struct row *m = wdts_xmalloc((rs->n + add->n) * sizeof(*m));
    size_t i = 0, j = 0, k = 0;
    while (i < rs->n || j < add->n) {
        if (j == add->n || (i < rs->n && row_cmp(&rs->v[i], &add->v[j]) < 0))
            m[k++] = rs->v[i++];
        else
            m[k++] = add->v[j++];
    }
    free(rs->v);
    rs->v = m;
    rs->n = rs->cap = k;
}

/* Brings a selection computed as of `from` up to `to`: the records with an event in
 * (from, to] are taken out and evaluated again; every other record is unchanged. */
static void patch_life(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                       enum sbx_timekind tk, int64_t s, int64_t end, int64_t from, int64_t to,
                       struct rows *rs)
{
    const struct life_def *def = life_def_of(e);
    struct changed c = {ds, e, def, from, to, NULL, 0, 0};
    int fields[8];
    for (int i = 0; i < def->n_evs; i++)
        fields[i] = def->evs[i].field;
    visit(ds, def->stream, fields, def->n_evs, from + 1, to + 1, to, changed_visit, &c);
    if (c.n == 0)
        return;
    /* a record with several events in (from, to] was reached once per event */
    qsort(c.ids, c.n, sizeof(*c.ids), u64_cmp);
    size_t u = 0;
    for (size_t i = 0; i < c.n; i++)
        if (u == 0 || c.ids[u - 1] != c.ids[i])
            c.ids[u++] = c.ids[i];
    c.n = u;
    size_t k = 0;
    for (size_t i = 0; i < rs->n; i++)
        if (!id_in(c.ids, c.n, rs->v[i].id))
            rs->v[k++] = rs->v[i];
    rs->n = k;
    struct rows add = {NULL, 0, 0};
    struct life_sel ls = {ds, e, def, route, -1, s, end, to, &add};
    if (tk == SBX_TIME_CREATED)
        ls.key_field = def->evs[0].field;
    else if (tk == SBX_TIME_PAID)
        ls.key_field = def->paid_field;
    else if (tk == SBX_TIME_CONSIGNED)
        ls.key_field = def->consigned_field;
    for (size_t i = 0; i < c.n; i++)
        life_eval(&ls, c.ids[i] - 1, -1);
    rows_merge(rs, &add);
    free(add.v);
    free(c.ids);
}

/* ---------------------------------------------------------------- select */

static int is_lifecycle(enum sbx_entity e)
{
    return life_def_of(e) != NULL;
}

static wdts_err_t compute(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                          enum sbx_timekind tk, int64_t start, int64_t end, int64_t as_of,
                          struct rows *rs)
{
    wdts_err_t err = WDTS_OK;
    switch (e) {
    case SBX_E_TRADE:
    case SBX_E_RAW_TRADE:
    case SBX_E_STOCKOUT:
    case SBX_E_REFUND:
    case SBX_E_REFUND_STOCKIN:
    case SBX_E_PURCHASE_ORDER:
    case SBX_E_PURCHASE_STOCKIN: err = select_life(ds, e, route, tk, start, end, as_of, rs); break;
    case SBX_E_STOCK_CHANGE: walk_changes(ds, start, end, as_of, chg_collect, rs); break;
    case SBX_E_STOCK: select_stock(ds, start, end, as_of, rs); break;
    case SBX_E_GOODS: select_goods(ds, tk, start, end, as_of, rs); break;
    case SBX_E_SUITE: select_suites(ds, tk, start, end, as_of, rs); break;
    default: select_snapshot(ds, e, as_of, rs); break;
    }
    if (err == WDTS_OK && rs->n > 1)
        qsort(rs->v, rs->n, sizeof(*rs->v), row_cmp);
    return err;
}

wdts_err_t sbx_data_select(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                           enum sbx_timekind tk, int64_t start, int64_t end, int64_t as_of,
                           struct sbx_result *out)
{
    out->hits = NULL;
    out->n = 0;
    if (ds == NULL || (unsigned)e >= SBX_E__COUNT || (unsigned)tk > SBX_TIME_CONSIGNED ||
        (route != SBX_ROUTE_WDT && route != SBX_ROUTE_QIMEN))
        return WDTS_ERR_INVAL;
    /* times from 1970 to 9999, rates up to SBX_MAX_ORDERS_PER_DAY: no arithmetic overflows */
    if (as_of < 0 || as_of > SBX_MAX_TIME || ds->data_origin < 0 ||
        ds->data_origin > SBX_MAX_TIME || ds->orders_per_day < 0 ||
        ds->orders_per_day > SBX_MAX_ORDERS_PER_DAY)
        return WDTS_ERR_INVAL;
    int snapshot = e == SBX_E_SHOP || e == SBX_E_WAREHOUSE || e == SBX_E_LOGISTICS;
    if (snapshot) {
        start = 0;
        end = 0;
        tk = SBX_TIME_MODIFIED;
    }
    if ((e == SBX_E_STOCK || e == SBX_E_STOCK_CHANGE || e == SBX_E_GOODS || e == SBX_E_SUITE) &&
        tk != SBX_TIME_MODIFIED && tk != SBX_TIME_CREATED)
        return WDTS_ERR_INVAL;
    if (e == SBX_E_STOCK && tk != SBX_TIME_MODIFIED)
        return WDTS_ERR_INVAL;
    if (is_lifecycle(e) && tk != SBX_TIME_MODIFIED && tk != SBX_TIME_CREATED) {
        const struct life_def *def = life_def_of(e);
        if ((tk == SBX_TIME_PAID ? def->paid_field : def->consigned_field) < 0)
            return WDTS_ERR_INVAL;
    }
    /* no record is older than the data origin or newer than as_of: clamping keeps the
     * arithmetic of the candidate ranges far from overflow */
    if (!snapshot && start < ds->data_origin)
        start = ds->data_origin;
    int64_t cend = end;
    if (!snapshot && as_of < INT64_MAX && cend > as_of + 1)
        cend = as_of + 1;

    struct sel_key key = {ds->seed, ds->orders_per_day, ds->data_origin, start, end,
                          (int)e,   (int)route,         (int)tk};
    struct rows rs = {NULL, 0, 0};
    int64_t base_as_of = 0;
    wdts_err_t err = WDTS_OK;
    int patchable = is_lifecycle(e) || e == SBX_E_STOCK_CHANGE;
    enum cache_use use = sel_cache_get(&key, as_of, patchable, &rs, &base_as_of);
    if (use == CACHE_BASE) {
        if (e == SBX_E_STOCK_CHANGE) {
            /* an append-only log: only changes of (base, as_of] inside the window are new */
            struct rows add = {NULL, 0, 0};
            int64_t a = start > base_as_of + 1 ? start : base_as_of + 1;
            if (a < cend)
                walk_changes(ds, a, cend, as_of, chg_collect, &add);
            rows_merge(&rs, &add);
            free(add.v);
        } else {
            patch_life(ds, e, route, tk, start, cend, base_as_of, as_of, &rs);
        }
    } else if (use == CACHE_MISS && (snapshot || cend > start)) {
        err = compute(ds, e, route, tk, start, cend, as_of, &rs);
        if (err != WDTS_OK)
            goto out;
    }
    if (use != CACHE_EXACT)
        sel_cache_put(&key, as_of, &rs);
    out->n = rs.n;
    out->hits = wdts_xmalloc((rs.n ? rs.n : 1) * sizeof(*out->hits));
    for (size_t i = 0; i < rs.n; i++) {
        out->hits[i].id = rs.v[i].id;
        out->hits[i].modified = rs.v[i].modified;
    }
out:
    free(rs.v);
    return err;
}

void sbx_result_deinit(struct sbx_result *res)
{
    if (res == NULL)
        return;
    free(res->hits);
    res->hits = NULL;
    res->n = 0;
}

void sbx_fmt_goods_no(uint32_t goods, char out[16])
{
    snprintf(out, 16, "G%05u", goods + 1);
}

void sbx_fmt_spec_no(uint32_t goods, uint32_t spec, char out[16])
{
    snprintf(out, 16, "G%05u-%02u", goods + 1, spec + 1);
}

void sbx_fmt_chg_doc(enum sbx_chg_src src, uint64_t n, char out[24])
{
    const char *prefix = src == SBX_CHG_SALE ? "CK" : src == SBX_CHG_REFUND_IN ? "TRK" : "CGRK";
    snprintf(out, 24, "%s%010llu", prefix, (unsigned long long)(n + 1));
}

void sbx_data_pk(enum sbx_entity e, uint64_t id, struct wdts_buf *buf)
{
    char tmp[64];
    if (e == SBX_E_STOCK_CHANGE) {
        /* the API gives the change no id: it is keyed by its document and spec_no */
        char doc[24], spec_no[16];
        sbx_fmt_chg_doc(sbx_chg_src_of(id), sbx_chg_doc(id), doc);
        sbx_fmt_spec_no(sbx_chg_goods(id), sbx_chg_spec(id), spec_no);
        snprintf(tmp, sizeof(tmp), "%s:%s", doc, spec_no);
    } else {
        snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)id);
    }
    wdts_buf_append_str(buf, tmp);
}

wdts_err_t sbx_timefmt_parse(const char *name, enum sbx_timefmt *out)
{
    static const char *const names[] = {"doc", "datetime", "epoch_ms"};
    int i = wdts_word_index(names, 3, name);
    if (i < 0)
        return WDTS_ERR_INVAL;
    *out = (enum sbx_timefmt)i;
    return WDTS_OK;
}

/* Whether record id of e is deleted (or, for a carrier, disabled) as of t. */
static int is_deleted(const struct sbx_dataset *ds, enum sbx_entity e, uint64_t id, int64_t t)
{
    int64_t del = -1;
    if (e == SBX_E_GOODS && id >= 1 && id <= sbx_n_goods(ds))
        del = sbx_goods_deleted(ds, (uint32_t)(id - 1));
    else if (e == SBX_E_SUITE && id >= 1 && id <= sbx_n_suites(ds))
        del = sbx_suite_deleted(ds, (uint32_t)(id - 1));
    else if (e == SBX_E_WAREHOUSE || e == SBX_E_LOGISTICS)
        del = sbx_retired(ds, e, id);
    return del >= 0 && del <= t;
}

int sbx_data_archived(const struct sbx_dataset *ds, enum sbx_entity e, uint64_t id,
                      int64_t as_of, const struct sbx_archive *a)
{
    const struct life_def *def = life_def_of(e);
    if (a == NULL || a->horizon <= 0 || def == NULL || def->stream != SBX_S_TRADE || id == 0)
        return 0;
    struct sbx_trade_life l;
    sbx_trade_life_get(ds, id - 1, 0, &l);
    int64_t v[8]; /* the versions' change times up to as_of, in order */
    int nv = 0;
    for (int i = 0; i < def->n_evs; i++) {
        int64_t t = trade_field(&l, def->evs[i].field);
        if (t >= 0 && t <= as_of)
            v[nv++] = t;
    }
    if (nv == 0 || trade_field(&l, def->evs[0].field) < 0)
        return 0;
    int64_t mod = v[nv - 1];
    if (a->by == SBX_ARCHIVE_BY_CREATED) {
        int64_t created = l.created, at = created + a->horizon;
        if (at >= as_of)
            return 0;
        return a->late == SBX_ARCHIVE_LATE_STAY || mod < at;
    }
    if (a->late == SBX_ARCHIVE_LATE_RETURN)
        return mod + a->horizon < as_of;
    for (int i = 0; i < nv; i++) {
        int64_t next = i + 1 < nv ? v[i + 1] : as_of;
        if (v[i] + a->horizon < next)
            return 1;
    }
    return 0;
}

void sbx_result_filter(const struct sbx_dataset *ds, enum sbx_entity e, int64_t as_of,
                       const struct sbx_filter *f, struct sbx_result *res)
{
    char want[16];
    int archive = f->archive && f->archive->horizon > 0 && life_def_of(e) != NULL;
    if (f->spec_no != NULL && e != SBX_E_STOCK_CHANGE && !archive)
        return;
    const char *spec_no = e == SBX_E_STOCK_CHANGE ? f->spec_no : NULL;
    size_t k = 0;
    for (size_t i = 0; i < res->n; i++) {
        uint64_t id = res->hits[i].id;
        if (archive && sbx_data_archived(ds, e, id, as_of, f->archive) != !!f->history)
            continue;
        if (!f->show_deleted && is_deleted(ds, e, id, as_of))
            continue;
        if (spec_no != NULL) {
            sbx_fmt_spec_no(sbx_chg_goods(id), sbx_chg_spec(id), want);
            if (strcmp(want, spec_no) != 0)
                continue;
        }
        res->hits[k++] = res->hits[i];
    }
    res->n = k;
}
