/* Renders one record of the data set as the API returns it: compact JSON with the
 * field names, typing quirks (decimals as strings or numbers, some times as epoch
 * milliseconds, others as Beijing "yyyy-MM-dd HH:mm:ss") and privacy rules of the
 * reference. Hand-written formatting into a stack buffer: this is the hot path of
 * every page the sandbox serves. Every field depends only on the record's current
 * event, so the rendering changes exactly when `modified` does. */
#include "sbx_data.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sbx_data_int.h"
#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/str.h"
#include "wdts/time.h"

/* ---------------------------------------------------------------- tables */

struct wh_def {
    const char *no, *name, *province, *city, *district, *address;
    int type;
};
static const struct wh_def warehouses[SBX_N_WAREHOUSES] = {
    {"WH01", "杭州主仓", "浙江省", "杭州市", "余杭区", "仓前街道良睦路1号", 1},
    {"WH02", "广州分仓", "广东省", "广州市", "白云区", "太和镇物流园8号", 1},
    {"WH03", "退货暂存仓", "浙江省", "杭州市", "余杭区", "仓前街道良睦路1号B区", 2},
    {"WH04", "临时周转仓", "江苏省", "苏州市", "吴中区", "木渎镇金枫路18号", 1},
};

struct logi_def {
    const char *no, *name, *code;
    int type;
};
static const struct logi_def logistics[SBX_N_LOGISTICS_ROWS] = {
    {"LG01", "顺丰速运", "SF", 4},  {"LG02", "中通快递", "ZTO", 9},
    {"LG03", "圆通速递", "YTO", 8}, {"LG04", "韵达快递", "YUNDA", 10},
    {"LG05", "申通快递", "STO", 7}, {"LG06", "京东物流", "JD", 33},
    {"LG07", "德邦快递", "DBKD", 11},
};

struct region {
    const char *province, *city, *district, *zip, *street;
    int province_id, city_id, district_id;
};
static const struct region regions[] = {
    {"浙江省", "杭州市", "西湖区", "310012", "文一西路", 330000, 330100, 330106},
    {"广东省", "深圳市", "南山区", "518000", "科技园南路", 440000, 440300, 440305},
    {"上海", "上海市", "浦东新区", "200120", "世纪大道", 310000, 310100, 310115},
    {"北京", "北京市", "朝阳区", "100020", "建国路", 110000, 110100, 110105},
    {"江苏省", "南京市", "鼓楼区", "210009", "中山北路", 320000, 320100, 320106},
    {"四川省", "成都市", "武侯区", "610041", "天府大道", 510000, 510100, 510107},
    {"湖北省", "武汉市", "洪山区", "430070", "珞喻路", 420000, 420100, 420111},
    {"山东省", "青岛市", "市南区", "266001", "香港中路", 370000, 370200, 370202},
};
#define N_REGIONS (sizeof(regions) / sizeof(regions[0]))

static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵",
                                       "吴", "周", "徐", "孙", "马", "朱", "胡", "郭"};
static const char *const given[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊",
                                    "洋", "艳", "勇", "军", "杰", "娟", "涛", "明"};
static const char *const items[] = {"纯棉圆领T恤",  "修身牛仔裤",   "轻便跑步鞋", "不锈钢保温杯",
                                    "无线蓝牙耳机", "通勤双肩包",   "碎花连衣裙", "轻薄羽绒服",
                                    "补水面膜",     "氨基酸洗发水", "挂耳咖啡",   "每日坚果礼盒",
                                    "陶瓷马克杯",   "纯棉毛巾",     "硅胶手机壳", "护眼台灯"};
static const char *const classes[] = {"服装", "服装", "鞋靴", "家居", "数码", "箱包",
                                      "服装", "服装", "美妆", "个护", "食品", "食品",
                                      "家居", "家居", "数码", "家居"};
static const char *const brands[] = {"朴森", "云栖", "青禾", "山川", "拾光", "北屿"};
static const char *const colors[] = {"黑色", "白色", "灰色", "藏青"};
static const char *const sizes[] = {"S", "M", "L", "XL", "均码"};
static const char *const providers[] = {"杭州织造有限公司", "广州皮具厂", "义乌小商品供应链",
                                        "深圳电子科技", "宁波日用品公司"};
static const char *const reasons[] = {"七天无理由", "尺码不合适", "质量问题", "与描述不符"};

#define PICK(tab, h) (tab[(h) % (sizeof(tab) / sizeof(tab[0]))])

/* ---------------------------------------------------------------- writer */

struct w {
    struct wdts_buf *buf;
    enum sbx_timefmt fmt; /* how the report's change-time field is written */
    size_t n;
    char b[8192];
};

static void w_flush(struct w *w)
{
    wdts_buf_append(w->buf, w->b, w->n);
    w->n = 0;
}

static __attribute__((noinline)) void w_raw_slow(struct w *w, const char *s, size_t len)
{
    w_flush(w);
    if (len > sizeof(w->b)) {
        wdts_buf_append(w->buf, s, len);
        return;
    }
    memcpy(w->b, s, len);
    w->n = len;
}

static inline __attribute__((always_inline)) void w_raw(struct w *w, const char *s, size_t len)
{
    if (__builtin_expect(w->n + len > sizeof(w->b), 0)) {
        w_raw_slow(w, s, len);
        return;
    }
    memcpy(w->b + w->n, s, len);
    w->n += len;
}

#define W(w, lit) w_raw(w, lit, sizeof(lit) - 1)

static inline __attribute__((always_inline)) char *w_room(struct w *w, size_t len)
{
    if (__builtin_expect(w->n + len > sizeof(w->b), 0))
        w_flush(w);
    return w->b + w->n;
}

/* Every string rendered comes from the tables above or is built from digits and
 * ASCII letters, none needing JSON escapes: copied as is. */
static inline void w_str(struct w *w, const char *s)
{
    w_raw(w, s, strlen(s));
}

static const char digits2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Zero-padded decimal of `width` digits into p. */
static inline void put_pad(char *p, uint64_t v, int width)
{
    int i = width - 1;
    for (; i >= 1; i -= 2) {
        unsigned r = (unsigned)(v % 100) * 2;
        v /= 100;
        p[i] = digits2[r + 1];
        p[i - 1] = digits2[r];
    }
    if (i == 0)
        p[0] = (char)('0' + v % 10);
}

/* Decimal digits of v (1 for 0). */
static inline int ndigits(uint64_t v)
{
    static const uint64_t p10[20] = {1ULL,
                                     10ULL,
                                     100ULL,
                                     1000ULL,
                                     10000ULL,
                                     100000ULL,
                                     1000000ULL,
                                     10000000ULL,
                                     100000000ULL,
                                     1000000000ULL,
                                     10000000000ULL,
                                     100000000000ULL,
                                     1000000000000ULL,
                                     10000000000000ULL,
                                     100000000000000ULL,
                                     1000000000000000ULL,
                                     10000000000000000ULL,
                                     100000000000000000ULL,
                                     1000000000000000000ULL,
                                     10000000000000000000ULL};
    if (v < 10)
        return 1;
    int t = ((64 - __builtin_clzll(v)) * 1233) >> 12; /* log10 estimate, low by at most 1 */
    return t + (v >= p10[t]);
}

/* Decimal of v < 10000 into p (room for 4 bytes); returns its length. Most numbers
 * of a row are that small: flags, counts, table ids, amounts in yuan. */
static inline __attribute__((always_inline)) size_t put_small(char *p, unsigned v)
{
    if (v < 10) {
        p[0] = (char)('0' + v);
        return 1;
    }
    if (v < 100) {
        memcpy(p, digits2 + 2 * v, 2);
        return 2;
    }
    unsigned hi = v / 100, lo = v % 100;
    if (hi < 10) {
        p[0] = (char)('0' + hi);
        memcpy(p + 1, digits2 + 2 * lo, 2);
        return 3;
    }
    memcpy(p, digits2 + 2 * hi, 2);
    memcpy(p + 2, digits2 + 2 * lo, 2);
    return 4;
}

static __attribute__((noinline)) void w_u64_long(struct w *w, uint64_t v)
{
    int nd = ndigits(v);
    put_pad(w_room(w, (size_t)nd), v, nd);
    w->n += (size_t)nd;
}

static inline __attribute__((always_inline)) void w_u64(struct w *w, uint64_t v)
{
    if (v < 10000)
        w->n += put_small(w_room(w, 4), (unsigned)v);
    else
        w_u64_long(w, v);
}

static void w_i64(struct w *w, int64_t v)
{
    if (v < 0) {
        W(w, "-");
        w_u64(w, (uint64_t)(-(v + 1)) + 1);
    } else {
        w_u64(w, (uint64_t)v);
    }
}

static void w_pad(struct w *w, uint64_t v, int width)
{
    put_pad(w_room(w, (size_t)width), v, width);
    w->n += (size_t)width;
}


/* cents → "123.4500" (four decimals, as the API writes amounts) */
static void w_money(struct w *w, int64_t cents)
{
    if (cents == 0) {
        W(w, "0.0000");
        return;
    }
    if (cents < 0) {
        W(w, "-");
        cents = -cents;
    }
    uint64_t units = (uint64_t)cents / 100;
    char *p = w_room(w, 25);
    size_t nd;
    if (units < 10000) {
        nd = put_small(p, (unsigned)units);
    } else {
        nd = (size_t)ndigits(units);
        put_pad(p, units, (int)nd);
    }
    p[nd] = '.';
    memcpy(p + nd + 1, digits2 + 2 * ((uint64_t)cents % 100), 2);
    p[nd + 3] = '0';
    p[nd + 4] = '0';
    w->n += nd + 5;
}

/* The Beijing date "yyyy-MM-dd" of one day, remembered per thread: the times of a
 * page fall on a handful of days, so the calendar arithmetic runs once a day. */
struct bj_day {
    int64_t day;
    char text[10];
};
static __thread struct bj_day bj_last = {INT64_MIN, {0}};

/* Makes bj_last the date of day `days` (days since 1970 in Beijing time). */
static inline void bj_date(int64_t days)
{
    if (days == bj_last.day)
        return;
    int64_t y;
    unsigned mo, d;
    wdts_civil_from_days(days, &y, &mo, &d);
    put_pad(bj_last.text, (uint64_t)(y % 10000), 4);
    bj_last.text[4] = '-';
    put_pad(bj_last.text + 5, mo, 2);
    bj_last.text[7] = '-';
    put_pad(bj_last.text + 8, d, 2);
    bj_last.day = days;
}

/* Beijing "yyyy-MM-dd HH:mm:ss" without quotes (19 bytes). */
static void w_bj(struct w *w, int64_t t)
{
    int64_t local = t + WDTS_BEIJING_OFFSET;
    int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    unsigned sod = (unsigned)(local - days * 86400);
    bj_date(days);
    char *p = w_room(w, 19);
    memcpy(p, bj_last.text, 10);
    p[10] = ' ';
    memcpy(p + 11, digits2 + 2 * (sod / 3600), 2);
    p[13] = ':';
    memcpy(p + 14, digits2 + 2 * (sod / 60 % 60), 2);
    p[16] = ':';
    memcpy(p + 17, digits2 + 2 * (sod % 60), 2);
    w->n += 19;
}

/* Beijing yyyyMMdd into p (8 bytes), from the same day cache. */
static void put_ymd(char *p, int64_t t)
{
    int64_t days = (t + WDTS_BEIJING_OFFSET) / 86400;
    bj_date(days);
    memcpy(p, bj_last.text, 4);
    memcpy(p + 4, bj_last.text + 5, 2);
    memcpy(p + 6, bj_last.text + 8, 2);
}

/* Beijing yyyyMMdd, for document numbers. */
static void w_ymd(struct w *w, int64_t t)
{
    put_ymd(w_room(w, 8), t);
    w->n += 8;
}

/* The same text as sbx_fmt_chg_doc, without printf. */
static void w_chg_doc(struct w *w, enum sbx_chg_src src, uint64_t n)
{
    if (src == SBX_CHG_SALE)
        W(w, "CK");
    else if (src == SBX_CHG_REFUND_IN)
        W(w, "TRK");
    else
        W(w, "CGRK");
    w_pad(w, n + 1, 10);
}

/* ,"key":<value> helpers. Absent times: "0000-00-00 00:00:00" for strings, null for ms.
 * A key, its colon and an opening quote go out as one literal. */
#define KEY(w, k) W(w, ",\"" k "\":")
#define KEYQ(w, k) W(w, ",\"" k "\":\"")
#define KU(w, k, v) (KEY(w, k), w_u64(w, (uint64_t)(v)))
#define KI(w, k, v) (KEY(w, k), w_i64(w, (int64_t)(v)))
#define KS(w, k, s) (KEYQ(w, k), w_str(w, s), W(w, "\""))
#define KM(w, k, c) (KEYQ(w, k), w_money(w, c), W(w, "\""))
#define KMN(w, k, c) (KEY(w, k), w_money(w, c))
#define KQ(w, k, q) KM(w, k, (int64_t)(q)*100)
#define KT(w, k, t) (KEYQ(w, k), kt(w, t), W(w, "\""))
#define KMS(w, k, t) (KEY(w, k), kms(w, t))
/* A datetime that is "" while absent (the pages that say 未…返回空字符串). */
#define KTE(w, k, t) (KEYQ(w, k), (t) >= 0 ? w_bj(w, t) : (void)0, W(w, "\""))
/* The report's change-time field (the catalog's modified.field): epoch ms when the official
 * page's example shows it so (doc_ms) or when the sandbox is told to, else a datetime. */
#define KCT(w, k, t, doc_ms) (ct_ms(w, doc_ms) ? KMS(w, k, t) : KT(w, k, t))

/* A time inside its quotes. */
static void kt(struct w *w, int64_t t)
{
    if (t < 0)
        W(w, "0000-00-00 00:00:00");
    else
        w_bj(w, t);
}

static void kms(struct w *w, int64_t t)
{
    if (t < 0) {
        W(w, "null");
        return;
    }
    w_u64(w, (uint64_t)t * 1000);
}

static inline int ct_ms(const struct w *w, int doc_ms)
{
    return w->fmt == SBX_TIMEFMT_DOC ? doc_ms : w->fmt == SBX_TIMEFMT_EPOCH_MS;
}

/* ---------------------------------------------------------------- privacy */

enum pii_field {
    PII_RECEIVER_NAME = 0,
    PII_RECEIVER_ADDRESS,
    PII_RECEIVER_MOBILE,
    PII_RECEIVER_TELNO,
    PII_BUYER_NICK,
    PII_PAY_ACCOUNT,
    PII_CUSTOMER_NAME,
    PII_NICK_NAME,
    PII_ID_CARD,
};

/* Keys the Qimen route never provides (docs/API.md §6; receiver_telno is its receiver_phone). */
static int qimen_hidden(const char *keylit, size_t keylen)
{
    static const char *const keys[] = {
        ",\"receiver_name\":",  ",\"receiver_address\":", ",\"receiver_mobile\":",
        ",\"receiver_telno\":", ",\"buyer_nick\":",       ",\"id_card\":"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strlen(keys[i]) == keylen && memcmp(keys[i], keylit, keylen) == 0)
            return 1;
    return 0;
}

/* The person behind an order: everything derived from one hash. */
struct person {
    uint64_t h;
    const struct region *reg;
};

static void w_cipher(struct w *w, uint64_t h, int f)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char raw[16];
    uint64_t a = sbx_hash(h, 0x700, (uint64_t)f), b = sbx_hash(h, 0x701, (uint64_t)f);
    for (int i = 0; i < 8; i++) {
        raw[i] = (unsigned char)(a >> (8 * i));
        raw[8 + i] = (unsigned char)(b >> (8 * i));
    }
    char *p = w_room(w, 32);
    size_t o = 0;
    p[o++] = '~';
    for (int i = 0; i < 15; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        p[o++] = b64[v >> 18];
        p[o++] = b64[(v >> 12) & 63];
        p[o++] = b64[(v >> 6) & 63];
        p[o++] = b64[v & 63];
    }
    uint32_t v = (uint32_t)raw[15] << 16;
    p[o++] = b64[v >> 18];
    p[o++] = b64[(v >> 12) & 63];
    p[o++] = '=';
    p[o++] = '=';
    memcpy(p + o, "~1~", 3);
    o += 3;
    w->n += o;
}

static void w_pii_plain(struct w *w, const struct person *ps, enum pii_field f)
{
    uint64_t h = ps->h;
    switch (f) {
    case PII_RECEIVER_NAME:
    case PII_CUSTOMER_NAME:
    case PII_NICK_NAME:
        w_str(w, PICK(surnames, h >> 3));
        w_str(w, PICK(given, h >> 9));
        if ((h >> 15) & 1)
            w_str(w, PICK(given, h >> 17));
        break;
    case PII_RECEIVER_ADDRESS:
        w_str(w, ps->reg->street);
        w_u64(w, 1 + (h >> 21) % 999);
        W(w, "号");
        w_u64(w, 1 + (h >> 31) % 30);
        W(w, "幢");
        w_u64(w, 101 + (h >> 36) % 2800);
        W(w, "室");
        break;
    case PII_RECEIVER_MOBILE:
        W(w, "13");
        w_pad(w, (h >> 13) % 1000000000ULL, 9);
        break;
    case PII_RECEIVER_TELNO:
        W(w, "0571-8");
        w_pad(w, (h >> 23) % 10000000ULL, 7);
        break;
    case PII_BUYER_NICK:
        W(w, "buyer_");
        w_pad(w, (h >> 7) % 100000000ULL, 8);
        break;
    case PII_PAY_ACCOUNT:
        W(w, "acct");
        w_pad(w, (h >> 11) % 10000000000ULL, 10);
        break;
    case PII_ID_CARD:
        W(w, "330106");
        w_pad(w, 1970 + (h >> 17) % 30, 4);
        w_pad(w, 1 + (h >> 23) % 12, 2);
        w_pad(w, 1 + (h >> 27) % 28, 2);
        w_pad(w, (h >> 33) % 10000, 4);
        break;
    }
}

/* ,"key":"value" for a privacy field, by route and platform (docs/API.md §8, §6). */
static void kpii(struct w *w, const char *keylit, size_t keylen, const struct person *ps,
                 enum pii_field f, enum sbx_route route, int platform_id)
{
    w_raw(w, keylit, keylen);
    W(w, "\"");
    if (route == SBX_ROUTE_QIMEN && qimen_hidden(keylit, keylen)) {
        /* never provided on Qimen */
    } else if (platform_id == 0 || platform_id == 127) {
        w_pii_plain(w, ps, f);
    } else if (platform_id == 1 || platform_id == 3) {
        w_cipher(w, ps->h, (int)f); /* the platform's own ciphertext */
    }
    W(w, "\"");
}
#define KP(w, k, ps, f, route, plat)                                                               \
    kpii(w, ",\"" k "\":", sizeof(",\"" k "\":") - 1, ps, f, route, plat)

/* ---------------------------------------------------------------- catalog texts */

static void w_goods_name(struct w *w, const struct sbx_dataset *ds, uint32_t g)
{
    uint64_t h = sbx_hash(ds->seed, 0x500, g);
    w_str(w, PICK(brands, h));
    w_str(w, PICK(items, h >> 8));
}

static void w_spec_name(struct w *w, const struct sbx_dataset *ds, uint32_t g, uint32_t sp)
{
    uint64_t h = sbx_hash(ds->seed, 0x501, g);
    w_str(w, colors[sp % 4]);
    W(w, " ");
    w_str(w, PICK(sizes, h + sp));
}

static const char *goods_class(const struct sbx_dataset *ds, uint32_t g)
{
    uint64_t h = sbx_hash(ds->seed, 0x500, g);
    return classes[(h >> 8) % (sizeof(classes) / sizeof(classes[0]))];
}

/* The goods names of a detail line: goods_no, goods_name, spec_no, spec_name. */
static void w_line_names(struct w *w, const struct sbx_dataset *ds, const struct sbx_line *ln)
{
    /* the same text as sbx_fmt_goods_no / sbx_fmt_spec_no, without printf */
    char gno[5];
    put_pad(gno, ln->goods + 1, 5);
    W(w, ",\"goods_no\":\"G");
    w_raw(w, gno, 5);
    W(w, "\",\"goods_name\":\"");
    w_goods_name(w, ds, ln->goods);
    W(w, "\",\"spec_no\":\"G");
    w_raw(w, gno, 5);
    W(w, "-");
    w_pad(w, ln->spec + 1, 2);
    W(w, "\",\"spec_name\":\"");
    w_spec_name(w, ds, ln->goods, ln->spec);
    W(w, "\"");
}

/* The shared goods fields of a detail line: the system ids (goods_id, spec_id) and names. */
static void w_line_goods(struct w *w, const struct sbx_dataset *ds, const struct sbx_line *ln)
{
    KU(w, "goods_id", ln->goods + 1);
    KU(w, "spec_id", sbx_spec_id(ln->goods, ln->spec));
    w_line_names(w, ds, ln);
}

/* The platform's goods and spec ids of a line (平台货品id / 平台规格id, strings), where a
 * page's goods_id/spec_id are the platform's: derived from the system ids. */
static void w_plat_ids(struct w *w, const struct sbx_line *ln)
{
    W(w, ",\"goods_id\":\"6");
    w_pad(w, ln->goods + 1, 11);
    W(w, "\",\"spec_id\":\"7");
    w_pad(w, sbx_spec_id(ln->goods, ln->spec), 11);
    W(w, "\"");
}

/* ---------------------------------------------------------------- trade-derived records */

struct tview {
    struct sbx_trade_life l;
    const struct sbx_shop_def *shop;
    struct person ps;
    int64_t goods_amount, post_amount, discount, receivable, cost;
    int goods_count;
    char tid[40], tno[24]; /* src_tid and trade_no, formatted once: they recur in a row */
    size_t tid_len, tno_len;
    char cms[24]; /* created, epoch ms */
    size_t cms_len;
    int64_t modified; /* as of the render, and the status of that event (of the entity) */
    int status;
};

static size_t fmt_src_tid(const struct tview *v, char *p)
{
    switch (v->shop->platform_id) {
    case 0:
        memcpy(p, "XX", 2);
        put_pad(p + 2, v->l.n + 1, 10);
        return 12;
    case 1: put_pad(p, 3000000000000000000ULL + v->l.h3 % 999999999999999999ULL, 19); return 19;
    case 3: put_pad(p, 300000000000ULL + v->l.h3 % 99999999999ULL, 12); return 12;
    case 39:
        memcpy(p, "250", 3);
        put_ymd(p + 3, v->l.created);
        p[11] = '-';
        put_pad(p + 12, v->l.h3 % 1000000000000000ULL, 15);
        return 27;
    default:
        memcpy(p, "SC", 2);
        put_pad(p + 2, v->l.h3 % 10000000000000000ULL, 16);
        return 18;
    }
}

/* Fills the view from v->l, whose detail lines are filled. */
static void tview_fill(const struct sbx_dataset *ds, struct tview *v)
{
    uint64_t n = v->l.n;
    v->shop = &sbx_shops[v->l.shop];
    v->ps.h = sbx_hash(ds->seed, 0x600, n);
    v->ps.reg = &regions[(v->ps.h >> 40) % N_REGIONS];
    v->goods_amount = 0;
    v->goods_count = 0;
    for (int i = 0; i < v->l.n_lines; i++) {
        v->goods_amount += v->l.lines[i].price * v->l.lines[i].num;
        v->goods_count += v->l.lines[i].num;
    }
    v->post_amount = v->goods_amount >= 9900 ? 0 : 800;
    v->discount = v->goods_amount * (int64_t)((v->l.h2 >> 44) % 11) / 100;
    v->receivable = v->goods_amount + v->post_amount - v->discount;
    v->cost = v->goods_amount * 55 / 100;
    v->tid_len = fmt_src_tid(v, v->tid);
    memcpy(v->tno, "JY", 2);
    put_ymd(v->tno + 2, v->l.created);
    put_pad(v->tno + 10, v->l.n + 1, 8);
    v->tno_len = 18;
    uint64_t ms = (uint64_t)v->l.created * 1000;
    v->cms_len = (size_t)ndigits(ms);
    put_pad(v->cms, ms, (int)v->cms_len);
}

static void tview_init(const struct sbx_dataset *ds, uint64_t n, struct tview *v)
{
    sbx_trade_life_get(ds, n, 1, &v->l);
    tview_fill(ds, v);
}

/* A line's share of the discount: proportional, the last line takes the remainder. */
static int64_t line_share(const struct tview *v, int i)
{
    int64_t total = v->goods_amount - v->discount;
    if (v->goods_amount == 0)
        return 0;
    int64_t acc = 0;
    for (int j = 0; j < v->l.n_lines; j++) {
        int64_t amt = v->l.lines[j].price * v->l.lines[j].num;
        int64_t share = j == v->l.n_lines - 1 ? total - acc : amt * total / v->goods_amount;
        if (j == i)
            return share;
        acc += share;
    }
    return 0;
}

static void w_trade_no(struct w *w, const struct tview *v)
{
    w_raw(w, v->tno, v->tno_len);
}

static void w_src_tid(struct w *w, const struct tview *v)
{
    w_raw(w, v->tid, v->tid_len);
}

static int trade_refund_status(const struct tview *v, int64_t t)
{
    if (v->l.refund < 0 || v->l.refund > t)
        return 0;
    return v->l.n_lines == 1 ? 3 : 2;
}

static int version_of(const int64_t *times, int n, int64_t t)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += times[i] >= 0 && times[i] <= t;
    return k;
}

/* One detail line of a trade (rs: its refund_status; paid: whether it is paid as of t). */
static void render_trade_line(const struct sbx_dataset *ds, const struct tview *v, int i, int rs,
                              int paid, struct w *w)
{
    const struct sbx_trade_life *l = &v->l;
    int plat = v->shop->platform_id;
    const struct sbx_line *ln = &l->lines[i];
    int refunded = rs && i == l->refund_line;
    int64_t share = line_share(v, i);
    W(w, "{\"rec_id\":");
    w_u64(w, l->n * SBX_MAX_LINES + (uint64_t)i + 1);
    KU(w, "trade_id", l->n + 1);
    KI(w, "platform_id", plat);
    w_line_goods(w, ds, ln);
    W(w, ",\"spec_code\":\"\",\"src_oid\":\"");
    w_src_tid(w, v);
    W(w, "-");
    w_u64(w, (uint64_t)i + 1);
    W(w, "\",\"src_tid\":\"");
    w_src_tid(w, v);
    W(w, "\",\"gift_type\":0");
    KI(w, "refund_status", refunded ? 2 : 0);
    W(w, ",\"guarantee_mode\":1");
    KQ(w, "num", ln->num);
    KQ(w, "actual_num", refunded ? 0 : ln->num);
    KM(w, "price", ln->price);
    KM(w, "order_price", ln->price);
    KM(w, "discount", ln->price * ln->num - share);
    KM(w, "share_price", ln->num ? share / ln->num : 0);
    KM(w, "share_amount", share);
    KM(w, "share_post_price", i == 0 ? v->post_amount : 0);
    KM(w, "paid", paid ? share + (i == 0 ? v->post_amount : 0) : 0);
    KM(w, "weight", 35 * ln->num);
    W(w, ",\"remark\":\"\",\"created\":");
    w_raw(w, v->cms, v->cms_len);
    if (refunded) {
        KMS(w, "modified", l->refund);
    } else {
        KEY(w, "modified");
        w_raw(w, v->cms, v->cms_len);
    }
    W(w, "}");
}

static void render_trade(const struct sbx_dataset *ds, enum sbx_route route, const struct tview *v,
                         int64_t t, struct w *w)
{
    const struct sbx_trade_life *l = &v->l;
    int status = v->status;
    int64_t mod = v->modified;
    int plat = v->shop->platform_id;
    int rs = trade_refund_status(v, t);
    int shipped = l->ship >= 0 && l->ship <= t;
    int paid = l->pay >= 0 && l->pay <= t;
    int64_t evs[] = {l->created, l->cancel, l->pay, l->check, l->ship, l->refund, l->done};

    W(w, "{\"trade_id\":");
    w_u64(w, l->n + 1);
    W(w, ",\"trade_no\":\"");
    w_trade_no(w, v);
    W(w, "\"");
    KI(w, "platform_id", plat);
    KI(w, "shop_platform_id", plat);
    KI(w, "sub_platform_id", v->shop->sub_platform_id);
    KU(w, "shop_id", l->shop + 1);
    KS(w, "shop_no", v->shop->shop_no);
    KS(w, "shop_name", v->shop->name);
    W(w, ",\"shop_remark\":\"\",\"warehouse_type\":1");
    KS(w, "warehouse_no", warehouses[l->wh].no);
    W(w, ",\"src_tids\":\"");
    w_src_tid(w, v);
    W(w, "\"");
    KI(w, "trade_status", status);
    KI(w, "trade_type", plat == 0 ? 2 : 1);
    W(w, ",\"delivery_term\":1,\"freeze_reason\":\"无\"");
    KI(w, "refund_status", rs);
    W(w, ",\"fenxiao_type\":0,\"fenxiao_nick\":\"\"");
    KI(w, "trade_from", plat == 0 ? 3 : 1);
    KP(w, "pay_account", &v->ps, PII_PAY_ACCOUNT, route, plat);
    KP(w, "buyer_nick", &v->ps, PII_BUYER_NICK, route, plat);
    KP(w, "receiver_name", &v->ps, PII_RECEIVER_NAME, route, plat);
    KI(w, "receiver_province", v->ps.reg->province_id);
    KI(w, "receiver_city", v->ps.reg->city_id);
    KI(w, "receiver_district", v->ps.reg->district_id);
    KP(w, "receiver_address", &v->ps, PII_RECEIVER_ADDRESS, route, plat);
    KP(w, "receiver_mobile", &v->ps, PII_RECEIVER_MOBILE, route, plat);
    KP(w, "receiver_telno", &v->ps, PII_RECEIVER_TELNO, route, plat);
    KS(w, "receiver_zip", v->ps.reg->zip);
    W(w, ",\"receiver_area\":\"");
    w_str(w, v->ps.reg->province);
    W(w, " ");
    w_str(w, v->ps.reg->city);
    W(w, " ");
    w_str(w, v->ps.reg->district);
    W(w, "\"");
    W(w, ",\"receiver_ring\":\"\",\"receiver_dtb\":\"\"");
    KP(w, "customer_name", &v->ps, PII_CUSTOMER_NAME, route, plat);
    W(w, ",\"customer_no\":\"KH");
    w_pad(w, (v->ps.h >> 5) % 100000000ULL, 8);
    W(w, "\"");
    KS(w, "logistics_name", logistics[l->logi].name);
    KS(w, "logistics_code", logistics[l->logi].code);
    W(w, ",\"logistics_no\":\"");
    if (shipped) {
        w_str(w, logistics[l->logi].code);
        w_pad(w, l->h2 % 10000000000000ULL, 13);
    }
    W(w, "\"");
    KS(w, "buyer_message", (l->h3 >> 50) % 5 == 0 ? "请尽快发货" : "");
    W(w, ",\"cs_remark\":\"\",\"remark_flag\":0,\"print_remark\":\"\"");
    KU(w, "goods_type_count", l->n_lines);
    KQ(w, "goods_count", v->goods_count);
    KM(w, "goods_amount", v->goods_amount);
    KM(w, "post_amount", v->post_amount);
    W(w, ",\"other_amount\":\"0.0000\"");
    KM(w, "discount", v->discount);
    KM(w, "receivable", v->receivable);
    W(w, ",\"cod_amount\":\"0.0000\",\"ext_cod_fee\":\"0.0000\"");
    KM(w, "goods_cost", v->cost);
    KMN(w, "post_cost", shipped ? 600 : 0); /* a number, as the API sometimes sends decimals */
    KM(w, "paid", paid ? v->receivable : 0);
    KM(w, "weight", 35 * v->goods_count);
    W(w, ",\"invoice_type\":0,\"invoice_title\":\"\",\"tax_rate\":\"0.0000\",\"trade_time\":");
    w_raw(w, v->cms, v->cms_len);
    KT(w, "pay_time", paid ? l->pay : -1);
    KT(w, "check_time", l->check >= 0 && l->check <= t ? l->check : -1);
    KMS(w, "consign_time", shipped ? l->ship : -1);
    KEY(w, "created");
    w_raw(w, v->cms, v->cms_len);
    KCT(w, "modified", mod, 0);
    KI(w, "version_id", version_of(evs, 7, t));
    W(w, ",\"detail_list\":[");
    for (int i = 0; i < l->n_lines; i++) {
        if (i)
            W(w, ",");
        render_trade_line(ds, v, i, rs, paid, w);
    }
    W(w, "]}");
}

static void render_raw_trade(const struct sbx_dataset *ds, enum sbx_route route,
                             const struct tview *v, int64_t t, struct w *w)
{
    const struct sbx_trade_life *l = &v->l;
    int status = 0;
    int64_t mod = sbx_trade_modified(l, SBX_E_RAW_TRADE, t, &status);
    int plat = v->shop->platform_id;
    int paid = l->pay >= 0 && l->pay <= t;
    int refunded = l->refund >= 0 && l->refund <= t;

    W(w, "{\"rec_id\":");
    w_u64(w, l->n + 1);
    KEY(w, "tid");
    W(w, "\"");
    w_src_tid(w, v);
    W(w, "\"");
    KI(w, "platform_id", plat);
    KU(w, "shop_id", l->shop + 1);
    KS(w, "shop_no", v->shop->shop_no);
    KI(w, "process_status", status == 10 ? 10 : status == 90 ? 70 : 30);
    KI(w, "trade_status", status);
    KI(w, "pay_status", paid ? 2 : 0);
    KI(w, "refund_status", refunded ? (l->n_lines == 1 ? 3 : 2) : 0);
    KI(w, "delivery_term", 1);
    KP(w, "buyer_nick", &v->ps, PII_BUYER_NICK, route, plat);
    KP(w, "pay_account", &v->ps, PII_PAY_ACCOUNT, route, plat);
    KP(w, "receiver_name", &v->ps, PII_RECEIVER_NAME, route, plat);
    KP(w, "receiver_address", &v->ps, PII_RECEIVER_ADDRESS, route, plat);
    KP(w, "receiver_mobile", &v->ps, PII_RECEIVER_MOBILE, route, plat);
    KP(w, "receiver_telno", &v->ps, PII_RECEIVER_TELNO, route, plat);
    KS(w, "receiver_zip", v->ps.reg->zip);
    KEY(w, "receiver_area");
    W(w, "\"");
    w_str(w, v->ps.reg->province);
    W(w, " ");
    w_str(w, v->ps.reg->city);
    W(w, " ");
    w_str(w, v->ps.reg->district);
    W(w, "\"");
    KM(w, "goods_amount", v->goods_amount);
    KM(w, "post_amount", v->post_amount);
    KM(w, "discount", v->discount);
    KM(w, "receivable", v->receivable);
    KM(w, "paid", paid ? v->receivable : 0);
    KT(w, "trade_time", l->created);
    KT(w, "pay_time", paid ? l->pay : -1);
    KT(w, "end_time", l->done >= 0 && l->done <= t ? l->done : -1);
    KT(w, "created", l->created);
    KCT(w, "modified", mod, 0);
    W(w, ",\"trade_orders\":[");
    for (int i = 0; i < l->n_lines; i++) {
        const struct sbx_line *ln = &l->lines[i];
        int r = refunded && i == l->refund_line;
        if (i)
            W(w, ",");
        W(w, "{\"rec_id\":");
        w_u64(w, l->n * SBX_MAX_LINES + (uint64_t)i + 1);
        KEY(w, "oid");
        W(w, "\"");
        w_src_tid(w, v);
        W(w, "-");
        w_u64(w, (uint64_t)i + 1);
        W(w, "\"");
        KI(w, "status", status);
        KI(w, "refund_status", r ? 2 : 0);
        w_plat_ids(w, ln);
        w_line_names(w, ds, ln);
        KQ(w, "num", ln->num);
        KM(w, "price", ln->price);
        KM(w, "discount", ln->price * ln->num - line_share(v, i));
        KM(w, "total_amount", line_share(v, i));
        KT(w, "modified", r ? l->refund : l->created);
        W(w, "}");
    }
    W(w, "]}");
}

static void render_stockout(const struct sbx_dataset *ds, enum sbx_route route,
                            const struct tview *v, int64_t t, struct w *w)
{
    const struct sbx_trade_life *l = &v->l;
    int status = 0;
    int64_t mod = sbx_trade_modified(l, SBX_E_STOCKOUT, t, &status);
    int plat = v->shop->platform_id;
    int shipped = l->ship >= 0 && l->ship <= t;

    W(w, "{\"stockout_id\":");
    w_u64(w, l->n + 1);
    W(w, ",\"order_no\":\"");
    w_chg_doc(w, SBX_CHG_SALE, l->n);
    W(w, "\"");
    KEY(w, "src_order_no");
    W(w, "\"");
    w_trade_no(w, v);
    W(w, "\"");
    KU(w, "src_order_id", l->n + 1);
    KI(w, "status", status);
    KI(w, "platform_id", plat);
    KS(w, "shop_no", v->shop->shop_no);
    KS(w, "shop_name", v->shop->name);
    KS(w, "warehouse_no", warehouses[l->wh].no);
    KS(w, "warehouse_name", warehouses[l->wh].name);
    KS(w, "logistics_name", logistics[l->logi].name);
    KEY(w, "logistics_no");
    W(w, "\"");
    if (shipped) {
        w_str(w, logistics[l->logi].code);
        w_pad(w, l->h2 % 10000000000000ULL, 13);
    }
    W(w, "\"");
    KP(w, "receiver_name", &v->ps, PII_RECEIVER_NAME, route, plat);
    KP(w, "receiver_address", &v->ps, PII_RECEIVER_ADDRESS, route, plat);
    KP(w, "receiver_mobile", &v->ps, PII_RECEIVER_MOBILE, route, plat);
    KP(w, "receiver_telno", &v->ps, PII_RECEIVER_TELNO, route, plat);
    KP(w, "nick_name", &v->ps, PII_NICK_NAME, route, plat);
    KP(w, "customer_name", &v->ps, PII_CUSTOMER_NAME, route, plat);
    KP(w, "id_card", &v->ps, PII_ID_CARD, route, plat);
    KS(w, "receiver_zip", v->ps.reg->zip);
    KQ(w, "goods_count", v->goods_count);
    KM(w, "goods_total_amount", v->goods_amount - v->discount);
    KMN(w, "goods_total_cost", v->cost);
    KM(w, "calc_post_cost", shipped ? 600 : 0);
    KM(w, "receivable", v->receivable);
    KM(w, "weight", 35 * v->goods_count);
    KT(w, "consign_time", shipped ? l->ship : -1);
    KMS(w, "created", l->check);
    KCT(w, "modified", mod, 0);
    W(w, ",\"details_list\":[");
    for (int i = 0; i < l->n_lines; i++) {
        const struct sbx_line *ln = &l->lines[i];
        if (i)
            W(w, ",");
        W(w, "{\"rec_id\":");
        w_u64(w, l->n * SBX_MAX_LINES + (uint64_t)i + 1);
        KU(w, "stockout_id", l->n + 1);
        KU(w, "src_order_detail_id", l->n * SBX_MAX_LINES + (uint64_t)i + 1);
        KI(w, "src_order_type", 1);
        w_line_goods(w, ds, ln);
        KQ(w, "num", ln->num);
        KM(w, "market_price", ln->price);
        KM(w, "cost_price", ln->price * 55 / 100);
        KM(w, "share_amount", line_share(v, i));
        KM(w, "weight", 35 * ln->num);
        W(w, "}");
    }
    W(w, "]");
    W(w, ",\"logistics_list\":[");
    if (shipped) {
        W(w, "{\"logistics_name\":\"");
        w_str(w, logistics[l->logi].name);
        W(w, "\",\"logistics_no\":\"");
        w_str(w, logistics[l->logi].code);
        w_pad(w, l->h2 % 10000000000000ULL, 13);
        W(w, "\"}");
    }
    W(w, "]}");
}

static void w_refund_no(struct w *w, const struct tview *v)
{
    W(w, "TK");
    w_ymd(w, v->l.refund);
    w_pad(w, v->l.n + 1, 8);
}

static void render_refund(const struct sbx_dataset *ds, enum sbx_route route, const struct tview *v,
                          int64_t t, struct w *w)
{
    const struct sbx_trade_life *l = &v->l;
    int status = 0;
    int64_t mod = sbx_trade_modified(l, SBX_E_REFUND, t, &status);
    int plat = v->shop->platform_id;
    const struct sbx_line *ln = &l->lines[l->refund_line];
    int64_t amount = line_share(v, l->refund_line);
    int agreed = l->rf_agree <= t;
    int done = l->rf_done <= t;

    W(w, "{\"refund_id\":");
    w_u64(w, l->n + 1);
    KEY(w, "refund_no");
    W(w, "\"");
    w_refund_no(w, v);
    W(w, "\"");
    /* the page's example shows platform_id as a numeric string */
    W(w, ",\"platform_id\":\"");
    w_u64(w, (uint64_t)plat);
    W(w, "\"");
    KS(w, "shop_no", v->shop->shop_no);
    KI(w, "type", 2);
    KI(w, "status", status);
    KI(w, "process_status", done ? 90 : agreed ? 40 : 10);
    KS(w, "refund_reason", PICK(reasons, l->h3 >> 44));
    KEY(w, "src_tids");
    W(w, "\"");
    w_src_tid(w, v);
    W(w, "\"");
    KU(w, "trade_id", l->n + 1);
    KEY(w, "trade_no_list");
    W(w, "\"");
    w_trade_no(w, v);
    W(w, "\"");
    /* the amount asked: through the platform (担保) for marketplaces, else offline */
    KM(w, "guarantee_refund_amount", plat == 0 || plat == 127 ? 0 : amount);
    KM(w, "direct_refund_amount", plat == 0 || plat == 127 ? amount : 0);
    KM(w, "actual_refund_amount", done ? amount : 0);
    KM(w, "return_goods_amount", ln->price * ln->num);
    KP(w, "buyer_nick", &v->ps, PII_BUYER_NICK, route, plat);
    KP(w, "receiver_name", &v->ps, PII_RECEIVER_NAME, route, plat);
    KP(w, "receiver_telno", &v->ps, PII_RECEIVER_MOBILE, route, plat);
    KP(w, "return_telno", &v->ps, PII_RECEIVER_TELNO, route, plat);
    KS(w, "return_logistics_name", agreed ? logistics[(l->logi + 1) % SBX_N_LOGISTICS].name : "");
    KEY(w, "return_logistics_no");
    W(w, "\"");
    if (agreed) {
        w_str(w, logistics[(l->logi + 1) % SBX_N_LOGISTICS].code);
        w_pad(w, l->h3 % 10000000000000ULL, 13);
    }
    W(w, "\"");
    KS(w, "return_warehouse_no", warehouses[l->wh].no);
    KTE(w, "check_time", agreed ? l->rf_agree : -1);
    KTE(w, "settle_time", done ? l->rf_done : -1);
    KMS(w, "created", l->refund);
    KCT(w, "modified", mod, 1);
    KT(w, "modified_date", mod);
    W(w, ",\"detail_list\":[{\"rec_id\":");
    w_u64(w, l->n * SBX_MAX_LINES + (uint64_t)l->refund_line + 1);
    KU(w, "refund_id", l->n + 1);
    KEY(w, "oid");
    W(w, "\"");
    w_src_tid(w, v);
    W(w, "-");
    w_u64(w, (uint64_t)l->refund_line + 1);
    W(w, "\"");
    KU(w, "trade_order_id", l->n * SBX_MAX_LINES + (uint64_t)l->refund_line + 1);
    w_plat_ids(w, ln);
    KU(w, "sys_goods_id", ln->goods + 1);
    KU(w, "sys_spec_id", sbx_spec_id(ln->goods, ln->spec));
    w_line_names(w, ds, ln);
    KQ(w, "refund_num", ln->num);
    KQ(w, "stockin_num", done ? ln->num : 0);
    KM(w, "price", ln->price);
    KM(w, "refund_amount", amount);
    KT(w, "created", l->refund);
    KMS(w, "modified", mod);
    KT(w, "modified_date", mod);
    W(w, "}]}");
}

static void render_refund_stockin(const struct sbx_dataset *ds, enum sbx_route route,
                                  const struct tview *v, int64_t t, struct w *w)
{
    const struct sbx_trade_life *l = &v->l;
    int status = 0;
    int64_t mod = sbx_trade_modified(l, SBX_E_REFUND_STOCKIN, t, &status);
    int plat = v->shop->platform_id;
    const struct sbx_line *ln = &l->lines[l->refund_line];
    int done = l->si_done <= t;

    W(w, "{\"stockin_id\":");
    w_u64(w, l->n + 1);
    W(w, ",\"order_no\":\"");
    w_chg_doc(w, SBX_CHG_REFUND_IN, l->n);
    W(w, "\"");
    KI(w, "status", status);
    KEY(w, "refund_no");
    W(w, "\"");
    w_refund_no(w, v);
    W(w, "\"");
    KEY(w, "src_order_no");
    W(w, "\"");
    w_trade_no(w, v);
    W(w, "\"");
    KI(w, "shop_platform_id", plat);
    KS(w, "shop_no", v->shop->shop_no);
    KS(w, "warehouse_no", warehouses[l->wh].no);
    KS(w, "warehouse_name", warehouses[l->wh].name);
    KP(w, "customer_name", &v->ps, PII_CUSTOMER_NAME, route, plat);
    KP(w, "nick_name", &v->ps, PII_BUYER_NICK, route, plat);
    KQ(w, "goods_count", ln->num);
    KM(w, "total_price", ln->price * ln->num * 55 / 100); /* the lines' total_cost */
    KMS(w, "check_time", done ? l->si_done : -1);
    KT(w, "created", l->rf_done);
    KCT(w, "modified", mod, 0);
    W(w, ",\"details_list\":[{\"rec_id\":");
    w_u64(w, l->n * SBX_MAX_LINES + (uint64_t)l->refund_line + 1);
    KU(w, "stockin_id", l->n + 1);
    w_line_goods(w, ds, ln);
    KQ(w, "num", ln->num);
    KM(w, "original_price", ln->price);
    KM(w, "total_cost", ln->price * ln->num * 55 / 100);
    KT(w, "created", l->rf_done);
    KT(w, "modified", mod);
    W(w, "}]}");
}

/* ---------------------------------------------------------------- purchase records */

static void w_purchase_no(struct w *w, const struct sbx_purchase_life *l)
{
    W(w, "CG");
    w_ymd(w, l->created);
    w_pad(w, l->n + 1, 6);
}

static int64_t purchase_total(const struct sbx_purchase_life *l)
{
    int64_t total = 0;
    for (int i = 0; i < l->n_lines; i++)
        total += l->lines[i].price * 45 / 100 * l->lines[i].num;
    return total;
}

static void render_purchase(const struct sbx_dataset *ds, const struct sbx_purchase_life *l,
                            int64_t t, struct w *w)
{
    int status = 0;
    int64_t mod = sbx_purchase_modified(l, SBX_E_PURCHASE_ORDER, t, &status);
    int arrived = l->si_done <= t;

    W(w, "{\"purchase_id\":");
    w_u64(w, l->n + 1);
    KEY(w, "purchase_no");
    W(w, "\"");
    w_purchase_no(w, l);
    W(w, "\"");
    KI(w, "status", status);
    KI(w, "stockin_status", arrived ? 2 : 0);
    KEY(w, "provider_no");
    W(w, "\"GYS");
    w_pad(w, (uint64_t)l->provider + 1, 3);
    W(w, "\"");
    KS(w, "provider_name", providers[l->provider]);
    KS(w, "warehouse_no", warehouses[l->wh].no);
    KS(w, "purchaser_name", "采购部");
    KM(w, "total_fee", purchase_total(l));
    KM(w, "post_fee", 0);
    KM(w, "other_fee", 0);
    KT(w, "check_time", l->approve <= t ? l->approve : -1);
    KMS(w, "created", l->created);
    KCT(w, "modified", mod, 1);
    KS(w, "remark", "");
    W(w, ",\"detail_list\":[");
    for (int i = 0; i < l->n_lines; i++) {
        const struct sbx_line *ln = &l->lines[i];
        int64_t cost = ln->price * 45 / 100;
        if (i)
            W(w, ",");
        W(w, "{\"rec_id\":");
        w_u64(w, l->n * SBX_MAX_LINES + (uint64_t)i + 1);
        KU(w, "purchase_id", l->n + 1);
        KU(w, "spec_id", sbx_spec_id(ln->goods, ln->spec));
        w_line_names(w, ds, ln);
        KQ(w, "num", ln->num);
        KQ(w, "arrive_num", arrived ? ln->num : 0);
        KMN(w, "price", cost);
        KM(w, "tax_amount", 0);
        KM(w, "amount", cost * ln->num);
        KS(w, "remark", "");
        W(w, "}");
    }
    W(w, "]}");
}

static void render_purchase_stockin(const struct sbx_dataset *ds, const struct sbx_purchase_life *l,
                                    int64_t t, struct w *w)
{
    int status = 0;
    int64_t mod = sbx_purchase_modified(l, SBX_E_PURCHASE_STOCKIN, t, &status);
    int done = l->si_done <= t;

    W(w, "{\"stockin_id\":");
    w_u64(w, l->n + 1);
    W(w, ",\"order_no\":\"");
    w_chg_doc(w, SBX_CHG_PURCHASE_IN, l->n);
    W(w, "\"");
    KEY(w, "purchase_no");
    W(w, "\"");
    w_purchase_no(w, l);
    W(w, "\"");
    KI(w, "status", status);
    KS(w, "warehouse_no", warehouses[l->wh].no);
    KEY(w, "provider_no");
    W(w, "\"GYS");
    w_pad(w, (uint64_t)l->provider + 1, 3);
    W(w, "\"");
    KS(w, "provider_name", providers[l->provider]);
    KM(w, "total_stockin_price", purchase_total(l));
    KM(w, "total_price", purchase_total(l));
    KMS(w, "check_time", done ? l->si_done : -1);
    KMS(w, "created_time", l->arrive);
    KCT(w, "modified", mod, 1);
    W(w, ",\"details_list\":[");
    for (int i = 0; i < l->n_lines; i++) {
        const struct sbx_line *ln = &l->lines[i];
        int64_t cost = ln->price * 45 / 100;
        if (i)
            W(w, ",");
        W(w, "{\"rec_id\":");
        w_u64(w, l->n * SBX_MAX_LINES + (uint64_t)i + 1);
        w_line_names(w, ds, ln);
        KQ(w, "num", ln->num);
        KM(w, "cost_price", cost);
        KM(w, "total_cost", cost * ln->num);
        W(w, "}");
    }
    W(w, "]}");
}

/* ---------------------------------------------------------------- stock */

/* Stock quantities: a deterministic function of the record and its version (the
 * time of its last movement). They are plausible, not a running balance. */
static void render_stock(const struct sbx_dataset *ds, uint64_t id, int64_t t, struct w *w)
{
    uint32_t g, sp;
    int wh;
    int64_t mod = sbx_stock_modified(ds, id, t);
    if (mod < 0 || !sbx_stock_split(ds, id, &g, &sp, &wh)) {
        W(w, "{}");
        return;
    }
    uint64_t h = sbx_hash(ds->seed, id, (uint64_t)mod);
    int64_t stock = 20 + (int64_t)(h % 480);
    int64_t order = (int64_t)((h >> 20) % 15), sending = (int64_t)((h >> 28) % 10);
    struct sbx_line ln = {g, sp, 0, sbx_spec_price(ds, g, sp)};

    W(w, "{\"rec_id\":");
    w_u64(w, id);
    KU(w, "spec_id", sbx_spec_id(g, sp));
    w_line_names(w, ds, &ln);
    KU(w, "warehouse_id", wh + 1);
    KS(w, "warehouse_no", warehouses[wh].no);
    KS(w, "warehouse_name", warehouses[wh].name);
    W(w, ",\"defect\":false");
    KQ(w, "stock_num", stock);
    KQ(w, "available_send_stock", stock - order - sending);
    KQ(w, "order_num", order);
    KQ(w, "sending_num", sending);
    KQ(w, "purchase_num", (int64_t)((h >> 36) % 3) * 50);
    KQ(w, "lock_num", 0);
    KMS(w, "created", ds->data_origin);
    KCT(w, "modified", mod, 1);
    W(w, "}");
}

static void render_stock_change(const struct sbx_dataset *ds, uint64_t id, int64_t t, struct w *w)
{
    enum sbx_chg_src src = sbx_chg_src_of(id);
    uint64_t n = sbx_chg_doc(id);
    int line = sbx_chg_line(id);
    struct sbx_line ln;
    int64_t at;
    int wh;
    struct tview v;
    struct sbx_purchase_life pl;
    if (ds->orders_per_day <= 0) {
        at = -1; /* no orders, no purchases: no stock movement exists */
        wh = 0;
    } else if (src == SBX_CHG_SALE || src == SBX_CHG_REFUND_IN) {
        tview_init(ds, n, &v);
        at = src == SBX_CHG_SALE ? v.l.ship : v.l.si_done;
        if (line >= v.l.n_lines)
            at = -1;
        else
            ln = v.l.lines[line];
        wh = v.l.wh;
    } else if (src == SBX_CHG_PURCHASE_IN) {
        sbx_purchase_life_get(ds, n, 1, &pl);
        at = pl.si_done;
        if (line >= pl.n_lines)
            at = -1;
        else
            ln = pl.lines[line];
        wh = pl.wh;
    } else {
        at = -1;
        wh = 0;
    }
    if (at < 0 || at > t) {
        W(w, "{}");
        return;
    }
    int out = src == SBX_CHG_SALE;
    uint64_t h = sbx_hash(ds->seed, id, 0x800);
    int64_t after = 20 + (int64_t)(h % 480);

    /* rec_id: the change id itself, unique per change row */
    W(w, "{\"rec_id\":");
    w_u64(w, id);
    W(w, ",\"stockio_no\":\"");
    w_chg_doc(w, src, n);
    W(w, "\"");
    KEY(w, "src_order_no");
    W(w, "\"");
    if (src == SBX_CHG_SALE)
        w_trade_no(w, &v);
    else if (src == SBX_CHG_REFUND_IN)
        w_refund_no(w, &v);
    else
        w_purchase_no(w, &pl);
    W(w, "\"");
    /* src_order_type 1 销售出库, 12 退货入库, 10 采购入库; type 1 入库, 2 出库; num is the
     * quantity moved (positive), the direction is type's */
    KI(w, "src_order_type", src == SBX_CHG_SALE ? 1 : src == SBX_CHG_REFUND_IN ? 12 : 10);
    KI(w, "type", out ? 2 : 1);
    char gno[5];
    put_pad(gno, ln.goods + 1, 5);
    W(w, ",\"spec_no\":\"G");
    w_raw(w, gno, 5);
    W(w, "-");
    w_pad(w, ln.spec + 1, 2);
    W(w, "\"");
    KS(w, "warehouse_no", warehouses[wh].no);
    KS(w, "warehouse_name", warehouses[wh].name);
    KQ(w, "num", ln.num);
    KQ(w, "stock_num_old", out ? after + ln.num : after - ln.num);
    KQ(w, "stock_num_new", after);
    KCT(w, "created", at, 1);
    W(w, "}");
}

/* ---------------------------------------------------------------- goods, suites */

static void render_goods(const struct sbx_dataset *ds, uint64_t id, int64_t t, struct w *w)
{
    uint32_t g = (uint32_t)(id - 1);
    int64_t gv = 0;
    int64_t gm = id >= 1 && id <= sbx_n_goods(ds) ? sbx_goods_modified(ds, g, -1, t, &gv) : -1;
    if (gm < 0) {
        W(w, "{}");
        return;
    }
    char no[16];
    uint64_t h = sbx_hash(ds->seed, 0x500, g);
    uint32_t nsp = sbx_n_specs(ds, g);
    int64_t created = sbx_goods_created(ds, g);
    int64_t del = sbx_goods_deleted(ds, g);
    int deleted = del >= 0 && del <= t;

    W(w, "{\"goods_id\":");
    w_u64(w, id);
    sbx_fmt_goods_no(g, no);
    KS(w, "goods_no", no);
    KEY(w, "goods_name");
    W(w, "\"");
    w_goods_name(w, ds, g);
    W(w, "\"");
    KEY(w, "short_name");
    W(w, "\"");
    w_str(w, PICK(items, h >> 8));
    W(w, "\"");
    KS(w, "alias", "");
    KI(w, "goods_type", 1);
    KU(w, "spec_count", nsp);
    KS(w, "brand_name", PICK(brands, h));
    KS(w, "class_name", goods_class(ds, g));
    KS(w, "unit_name", "件");
    KS(w, "origin", "中国");
    KS(w, "remark", gv % 2 ? "换新包装" : "");
    KU(w, "deleted", deleted ? id : 0);
    KT(w, "goods_created", created);
    KMS(w, "goods_modified", gm);
    /* modified: the record's version (goods or any spec), the time the window selects on
     * and the catalog's change-time field for goods */
    int64_t vm = gm;
    for (uint32_t sp = 0; sp < nsp; sp++) {
        int64_t sm = sbx_goods_modified(ds, g, (int)sp, t, NULL);
        if (sm > vm)
            vm = sm;
    }
    KCT(w, "modified", vm, 0);
    W(w, ",\"spec_list\":[");
    for (uint32_t sp = 0; sp < nsp; sp++) {
        int64_t sv = 0;
        int64_t sm = sbx_goods_modified(ds, g, (int)sp, t, &sv);
        int64_t price =
            sbx_spec_price(ds, g, sp) + (sv % 5) * 100; /* each update moves the price */
        if (sp)
            W(w, ",");
        W(w, "{\"spec_id\":");
        w_u64(w, sbx_spec_id(g, sp));
        KU(w, "goods_id", id);
        sbx_fmt_spec_no(g, sp, no);
        KS(w, "spec_no", no);
        KS(w, "spec_code", "");
        KEY(w, "barcode");
        W(w, "\"69");
        w_pad(w, sbx_hash(ds->seed, 0x502, sbx_spec_id(g, sp)) % 100000000000ULL, 11);
        W(w, "\"");
        KEY(w, "spec_name");
        W(w, "\"");
        w_spec_name(w, ds, g, sp);
        W(w, "\"");
        KM(w, "lowest_price", price * 80 / 100);
        KM(w, "retail_price", price);
        KMN(w, "wholesale_price", price * 70 / 100);
        KM(w, "market_price", price * 120 / 100);
        KM(w, "weight", 35);
        KI(w, "sn_type", 0);
        KU(w, "deleted", deleted ? sbx_spec_id(g, sp) : 0);
        KT(w, "spec_created", created);
        KMS(w, "spec_modified", sm);
        W(w, "}");
    }
    W(w, "]}");
}

static void render_suite(const struct sbx_dataset *ds, uint64_t id, int64_t t, struct w *w)
{
    uint32_t s = (uint32_t)(id - 1);
    int64_t ver = 0;
    int64_t m = id >= 1 && id <= sbx_n_suites(ds) ? sbx_suite_modified(ds, s, t, &ver) : -1;
    if (m < 0) {
        W(w, "{}");
        return;
    }
    struct sbx_line parts[3];
    int np = sbx_suite_parts(ds, s, parts);
    int64_t price = 0;
    for (int i = 0; i < np; i++)
        price += parts[i].price * parts[i].num;
    price = price * (90 - ver % 5) / 100;

    W(w, "{\"suite_id\":");
    w_u64(w, id);
    KEY(w, "suite_no");
    W(w, "\"TZ");
    w_pad(w, id, 4);
    W(w, "\"");
    KEY(w, "suite_name");
    W(w, "\"");
    w_goods_name(w, ds, parts[0].goods);
    W(w, "组合装");
    w_u64(w, id);
    W(w, "\"");
    KEY(w, "barcode");
    W(w, "\"69");
    w_pad(w, sbx_hash(ds->seed, 0x503, id) % 100000000000ULL, 11);
    W(w, "\"");
    KM(w, "retail_price", price);
    KM(w, "wholesale_price", price * 80 / 100);
    KMN(w, "market_price", price * 110 / 100);
    KM(w, "weight", 35 * np);
    KS(w, "remark", "");
    int64_t del = sbx_suite_deleted(ds, s);
    KU(w, "deleted", del >= 0 && del <= t ? id : 0);
    /* suite rows carry suite_created/suite_modified; created/modified are the lines' */
    KCT(w, "suite_modified", m, 0);
    KT(w, "suite_created", sbx_suite_created(ds, s));
    W(w, ",\"detail_list\":[");
    for (int i = 0; i < np; i++) {
        if (i)
            W(w, ",");
        W(w, "{\"rec_id\":");
        w_u64(w, id * 4 + (uint64_t)i);
        KU(w, "suite_id", id);
        w_line_goods(w, ds, &parts[i]);
        KQ(w, "num", parts[i].num);
        KM(w, "ratio", 10000 / np);
        W(w, ",\"is_fixed_price\":false");
        KM(w, "fixed_price", 0);
        KI(w, "deleted", 0);
        /* a line changes with its suite (its price follows the suite's version) */
        KT(w, "modified", m);
        KT(w, "created", sbx_suite_created(ds, s));
        W(w, "}");
    }
    W(w, "]}");
}

/* ---------------------------------------------------------------- snapshots */

static void render_shop(const struct sbx_dataset *ds, uint64_t id, struct w *w)
{
    const struct sbx_shop_def *s = &sbx_shops[id - 1];
    W(w, "{\"shop_id\":");
    w_u64(w, id);
    KS(w, "shop_no", s->shop_no);
    KS(w, "shop_name", s->name);
    KI(w, "platform_id", s->platform_id);
    KI(w, "sub_platform_id", s->sub_platform_id);
    W(w, ",\"is_disabled\":false");
    KI(w, "auth_state", s->platform_id == 0 ? 0 : 1);
    KS(w, "contact", "店长");
    KS(w, "province", "浙江省");
    KS(w, "city", "杭州市");
    KS(w, "district", "西湖区");
    KS(w, "remark", "");
    KT(w, "created", ds->data_origin);
    KCT(w, "modified", ds->data_origin, 0);
    W(w, "}");
}

/* The page has no deleted field: a deleted warehouse is is_disabled (hide_delete's own
 * label says 已停用 while its values say 已删除). */
static void render_warehouse(const struct sbx_dataset *ds, uint64_t id, int64_t t, struct w *w)
{
    const struct wh_def *h = &warehouses[id - 1];
    int64_t mod = sbx_snapshot_modified(ds, SBX_E_WAREHOUSE, id, t);
    W(w, "{\"warehouse_id\":");
    w_u64(w, id);
    KS(w, "warehouse_no", h->no);
    KS(w, "name", h->name);
    KI(w, "type", h->type);
    KI(w, "sub_type", 0);
    w_str(w, mod != ds->data_origin ? ",\"is_disabled\":true" : ",\"is_disabled\":false");
    KS(w, "contact", "仓库主管");
    KS(w, "province", h->province);
    KS(w, "city", h->city);
    KS(w, "district", h->district);
    KS(w, "address", h->address);
    KS(w, "remark", "");
    KT(w, "created", ds->data_origin);
    KCT(w, "modified", mod, 1);
    W(w, "}");
}

static void render_logistics(const struct sbx_dataset *ds, uint64_t id, int64_t t, struct w *w)
{
    const struct logi_def *l = &logistics[id - 1];
    int64_t mod = sbx_snapshot_modified(ds, SBX_E_LOGISTICS, id, t);
    W(w, "{\"logistics_id\":");
    w_u64(w, id);
    KS(w, "logistics_no", l->no);
    KS(w, "logistics_name", l->name);
    KI(w, "logistics_type", l->type);
    w_str(w, mod != ds->data_origin ? ",\"is_disabled\":true" : ",\"is_disabled\":false");
    KS(w, "remark", "");
    KT(w, "created", ds->data_origin);
    KCT(w, "modified", mod, 0);
    W(w, "}");
}

/* ---------------------------------------------------------------- row cache */

/* Rendered lifecycle records, keyed by the data set, entity, route, id and the
 * record's modified time: a record renders the same for every T with the same
 * modified, so a cached row is exact. Direct-mapped and bounded in bytes. */
struct row_entry {
    int used;
    int e, route, fmt;
    uint64_t seed;
    int64_t opd, origin;
    uint64_t id;
    int64_t version;
    char *data;
    size_t len;
};

#define ROW_SLOTS 65536
#define ROW_MAX_BYTES ((size_t)128 << 20)

static pthread_mutex_t row_lock = PTHREAD_MUTEX_INITIALIZER;
static struct row_entry row_cache[ROW_SLOTS];
static size_t row_bytes;
/* Admission: a row is stored the second time it is rendered, so a scan that reads
 * every row once (most of a backfill) does not churn the cache. */
static uint64_t row_seen[ROW_SLOTS];

static uint64_t row_key_hash(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                             enum sbx_timefmt fmt, uint64_t id, int64_t version)
{
    uint64_t h = sbx_hash(ds->seed ^ (uint64_t)ds->orders_per_day, id, (uint64_t)version);
    return sbx_hash(h, (uint64_t)ds->data_origin, (uint64_t)((e * 2 + route) * 4 + fmt)) | 1;
}

static size_t row_slot(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                       enum sbx_timefmt fmt, uint64_t id, int64_t version)
{
    return (size_t)(row_key_hash(ds, e, route, fmt, id, version) % ROW_SLOTS);
}

static int row_match(const struct row_entry *en, const struct sbx_dataset *ds, enum sbx_entity e,
                     enum sbx_route route, enum sbx_timefmt fmt, uint64_t id, int64_t version)
{
    return en->used && en->id == id && en->version == version && en->e == (int)e &&
           en->route == (int)route && en->fmt == (int)fmt && en->seed == ds->seed &&
           en->opd == ds->orders_per_day && en->origin == ds->data_origin;
}

static int row_get(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                   enum sbx_timefmt fmt, uint64_t id, int64_t version, struct wdts_buf *buf)
{
    int hit = 0;
    size_t slot = row_slot(ds, e, route, fmt, id, version);
    pthread_mutex_lock(&row_lock);
    struct row_entry *en = &row_cache[slot];
    if (row_match(en, ds, e, route, fmt, id, version)) {
        wdts_buf_append(buf, en->data, en->len);
        hit = 1;
    }
    pthread_mutex_unlock(&row_lock);
    return hit;
}

static void row_put(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                    enum sbx_timefmt fmt, uint64_t id, int64_t version, const char *data, size_t len)
{
    uint64_t kh = row_key_hash(ds, e, route, fmt, id, version);
    size_t slot = (size_t)(kh % ROW_SLOTS);
    pthread_mutex_lock(&row_lock);
    if (row_seen[slot] != kh) {
        row_seen[slot] = kh; /* first sight: remember, store next time */
        pthread_mutex_unlock(&row_lock);
        return;
    }
    pthread_mutex_unlock(&row_lock);
    char *copy = wdts_xmalloc(len);
    memcpy(copy, data, len);
    pthread_mutex_lock(&row_lock);
    struct row_entry *en = &row_cache[slot];
    if (en->used) {
        row_bytes -= en->len;
        free(en->data);
        en->used = 0;
    }
    if (row_bytes + len <= ROW_MAX_BYTES) {
        en->used = 1;
        en->e = (int)e;
        en->route = (int)route;
        en->fmt = (int)fmt;
        en->seed = ds->seed;
        en->opd = ds->orders_per_day;
        en->origin = ds->data_origin;
        en->id = id;
        en->version = version;
        en->data = copy;
        en->len = len;
        row_bytes += len;
        copy = NULL;
    }
    pthread_mutex_unlock(&row_lock);
    free(copy);
}

void sbx_render_cache_stats(size_t *entries, size_t *bytes, size_t *max_bytes)
{
    size_t n = 0;
    pthread_mutex_lock(&row_lock);
    for (size_t i = 0; i < ROW_SLOTS; i++)
        n += row_cache[i].used != 0;
    *bytes = row_bytes;
    pthread_mutex_unlock(&row_lock);
    *entries = n;
    *max_bytes = ROW_MAX_BYTES + ROW_SLOTS * (sizeof(struct row_entry) + sizeof(uint64_t));
}

void sbx_render_cache_clear(void)
{
    pthread_mutex_lock(&row_lock);
    for (size_t i = 0; i < ROW_SLOTS; i++) {
        free(row_cache[i].data);
        memset(&row_cache[i], 0, sizeof(row_cache[i]));
        row_seen[i] = 0;
    }
    row_bytes = 0;
    pthread_mutex_unlock(&row_lock);
}

/* ---------------------------------------------------------------- entry point */

void sbx_data_render(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                     uint64_t id, int64_t as_of, struct wdts_buf *buf)
{
    sbx_data_render_fmt(ds, e, route, id, as_of, SBX_TIMEFMT_DOC, buf);
}

void sbx_data_render_fmt(const struct sbx_dataset *ds, enum sbx_entity e, enum sbx_route route,
                         uint64_t id, int64_t as_of, enum sbx_timefmt fmt, struct wdts_buf *buf)
{
    struct w w;
    w.buf = buf;
    w.fmt = fmt;
    w.n = 0;
    switch (e) {
    case SBX_E_TRADE:
    case SBX_E_RAW_TRADE:
    case SBX_E_STOCKOUT:
    case SBX_E_REFUND:
    case SBX_E_REFUND_STOCKIN: {
        struct tview v;
        if (id == 0 || ds->orders_per_day <= 0) {
            W(&w, "{}");
            break;
        }
        sbx_trade_life_get(ds, id - 1, 0, &v.l);
        int64_t version = sbx_trade_modified(&v.l, e, as_of, &v.status);
        if (version < 0) {
            W(&w, "{}"); /* does not exist (yet) */
            break;
        }
        if (row_get(ds, e, route, fmt, id, version, buf))
            return;
        size_t at = buf->len;
        v.modified = version;
        sbx_trade_lines_get(ds, &v.l);
        tview_fill(ds, &v);
        if (e == SBX_E_TRADE)
            render_trade(ds, route, &v, as_of, &w);
        else if (e == SBX_E_RAW_TRADE)
            render_raw_trade(ds, route, &v, as_of, &w);
        else if (e == SBX_E_STOCKOUT)
            render_stockout(ds, route, &v, as_of, &w);
        else if (e == SBX_E_REFUND)
            render_refund(ds, route, &v, as_of, &w);
        else
            render_refund_stockin(ds, route, &v, as_of, &w);
        w_flush(&w);
        row_put(ds, e, route, fmt, id, version, buf->data + at, buf->len - at);
        return;
    }
    case SBX_E_PURCHASE_ORDER:
    case SBX_E_PURCHASE_STOCKIN: {
        struct sbx_purchase_life l;
        if (id == 0 || ds->orders_per_day <= 0) {
            W(&w, "{}");
            break;
        }
        sbx_purchase_life_get(ds, id - 1, 0, &l);
        int64_t version = sbx_purchase_modified(&l, e, as_of, NULL);
        if (version < 0) {
            W(&w, "{}");
            break;
        }
        if (row_get(ds, e, route, fmt, id, version, buf))
            return;
        size_t at = buf->len;
        sbx_purchase_life_get(ds, id - 1, 1, &l);
        if (e == SBX_E_PURCHASE_ORDER)
            render_purchase(ds, &l, as_of, &w);
        else
            render_purchase_stockin(ds, &l, as_of, &w);
        w_flush(&w);
        row_put(ds, e, route, fmt, id, version, buf->data + at, buf->len - at);
        return;
    }
    case SBX_E_STOCK: render_stock(ds, id, as_of, &w); break;
    case SBX_E_STOCK_CHANGE: render_stock_change(ds, id, as_of, &w); break;
    case SBX_E_GOODS: render_goods(ds, id, as_of, &w); break;
    case SBX_E_SUITE: render_suite(ds, id, as_of, &w); break;
    case SBX_E_SHOP:
    case SBX_E_WAREHOUSE:
    case SBX_E_LOGISTICS: {
        uint64_t n = e == SBX_E_SHOP        ? SBX_N_SHOPS
                     : e == SBX_E_WAREHOUSE ? SBX_N_WAREHOUSES
                                            : SBX_N_LOGISTICS_ROWS;
        if (id == 0 || id > n || as_of < ds->data_origin)
            W(&w, "{}");
        else if (e == SBX_E_SHOP)
            render_shop(ds, id, &w);
        else if (e == SBX_E_WAREHOUSE)
            render_warehouse(ds, id, as_of, &w);
        else
            render_logistics(ds, id, as_of, &w);
        break;
    }
    default: W(&w, "{}"); break;
    }
    w_flush(&w);
}
