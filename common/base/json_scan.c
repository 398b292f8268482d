/* The strict JSON scanner of json_scan.h: RFC 8259 values, strict UTF-8, escapes checked
 * (no \u0000, surrogates paired), numbers bounded so that jansson reads them without
 * overflow; depth bounded far below jansson's own limit. */
#include "wdts/json_scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"
#include "wdts/str.h"

static inline const char *ws(const char *p, const char *e)
{
    if (p < e && (unsigned char)*p > ' ') /* the common case: no whitespace at all */
        return p;
    while (p < e && (unsigned char)*p <= ' ' &&
           (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static int hex4(const char *p, const char *e, unsigned *out)
{
    unsigned v = 0;
    if (e - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int d = wdts_hex_value((unsigned char)p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 0;
}

/* One UTF-8 sequence of 2-4 bytes at p (p[0] >= 0x80): its length, or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *e)
{
    unsigned c = p[0];
    size_t n;
    unsigned min, cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)(e - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* 1 for the bytes a string holds as they are: ASCII from space on, but '"' and '\\'. */
static const unsigned char plain[256] = {
#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
    R16(0), R16(0),
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f: '"' */
    R16(1), R16(1),
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50-0x5f: '\\' */
    R16(1), R16(1),
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0),
#undef R16
};

#if defined(__SSE2__) && !defined(WDTS_JSCAN_PORTABLE)
#include <emmintrin.h>

#define RUN 16

/* The bytes before the first of the RUN at p that is '"', '\\', below 0x20 or above 0x7f
 * (RUN when none is). */
static unsigned plain_run(const char *p)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                             _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                                /* signed: catches the bytes above 0x7f too */
                                _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
    unsigned m = (unsigned)_mm_movemask_epi8(stop);
    return m ? (unsigned)__builtin_ctz(m) : 16;
}
#else
#define RUN 8
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* As above for 8 bytes, less exactly: 0 when one of them stops the run, else 8. */
static unsigned plain_run(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
    uint64_t special = (x - ONES * 0x20) | (q - ONES) | (b - ONES);
    return ((special & ~x & ~q & ~b) | x) & HIGHS ? 0 : 8;
}
#endif

/* p at a byte of a string that is not plain (not '"'): past it, or past a run of
 * multibyte sequences at once; NULL when it is not valid there. *esc set on a backslash. */
static const char *str_special(const char *p, const char *e, int *esc)
{
    unsigned char c = (unsigned char)*p;
    if (c < 0x20)
        return NULL;
    if (c >= 0x80) { /* a run of multibyte sequences (e.g. Chinese text) at once */
        const unsigned char *u = (const unsigned char *)p, *ue = (const unsigned char *)e;
        do {
            /* the common 3-byte form (U+0800-U+FFFF but the surrogates) inline */
            if ((u[0] & 0xf0) == 0xe0 && ue - u >= 3 && (u[1] & 0xc0) == 0x80 &&
                (u[2] & 0xc0) == 0x80 && (u[0] != 0xe0 || u[1] >= 0xa0) &&
                (u[0] != 0xed || u[1] < 0xa0)) {
                u += 3;
                continue;
            }
            size_t n = utf8_len(u, ue);
            if (n == 0)
                return NULL;
            u += n;
        } while (u < ue && *u >= 0x80);
        return (const char *)u;
    }
    *esc = 1;
    if (++p >= e)
        return NULL;
    switch (*p) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 1;
    case 'u': {
        unsigned u, lo;
        if (hex4(p + 1, e, &u) != 0 || u == 0 || (u >= 0xdc00 && u <= 0xdfff))
            return NULL;
        p += 5;
        if (u >= 0xd800 && u <= 0xdbff) {
            if (e - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, e, &lo) != 0 ||
                lo < 0xdc00 || lo > 0xdfff)
                return NULL;
            p += 6;
        }
        return p;
    }
    default:
        return NULL;
    }
}

/* p at '"': the byte after the closing quote, or NULL; *esc set when it held a backslash.
 * The plain runs are walked here, inline in the callers; the rest in str_special(). */
static inline __attribute__((always_inline)) const char *str(const char *p, const char *e,
                                                            int *esc)
{
    for (p++;;) {
        unsigned run;
        while (e - p >= 16 && (run = plain_run(p)) != 0) {
            p += run;
            if (run < RUN)
                break;
        }
        while (p < e && plain[(unsigned char)*p])
            p++;
        if (p >= e)
            return NULL;
        if (*p == '"')
            return p + 1;
        if ((p = str_special(p, e, esc)) == NULL)
            return NULL;
    }
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *number(const char *p, const char *e)
{
    const char *d;
    int real = 0;
    if (p < e && *p == '-')
        p++;
    d = p;
    if (p < e && *p == '0')
        p++;
    else if (p < e && *p >= '1' && *p <= '9')
        while (p < e && is_digit(*p))
            p++;
    else
        return NULL;
    size_t idigits = (size_t)(p - d);
    if (p < e && *p == '.') {
        real = 1;
        const char *f = ++p;
        while (p < e && is_digit(*p))
            p++;
        if (p == f || p - f > 40)
            return NULL;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        const char *x = p;
        while (p < e && is_digit(*p))
            p++;
        if (p == x || p - x > 2) /* at most e±99: never an overflow */
            return NULL;
    }
    /* an integer jansson keeps in a long long; a real far from the double limits */
    if ((!real && idigits > 18) || (real && idigits > 40))
        return NULL;
    return p;
}

static const char *value(const char *p, const char *e, int depth);

static const char *object(const char *p, const char *e, int depth)
{
    p = ws(p + 1, e);
    if (p < e && *p == '}')
        return p + 1;
    for (;;) {
        if (p >= e || *p != '"')
            return NULL;
        int esc = 0;
        const char *kend = str(p, e, &esc);
        if (kend == NULL)
            return NULL;
        p = ws(kend, e);
        if (p >= e || *p != ':')
            return NULL;
        if ((p = value(p + 1, e, depth + 1)) == NULL)
            return NULL;
        p = ws(p, e);
        if (p < e && *p == '}')
            return p + 1;
        if (p >= e || *p != ',')
            return NULL;
        p = ws(p + 1, e);
    }
}

static const char *array(const char *p, const char *e, int depth)
{
    p = ws(p + 1, e);
    if (p < e && *p == ']')
        return p + 1;
    for (;;) {
        if ((p = value(p, e, depth + 1)) == NULL)
            return NULL;
        p = ws(p, e);
        if (p < e && *p == ']')
            return p + 1;
        if (p >= e || *p != ',')
            return NULL;
        p++;
    }
}

static const char *lit(const char *p, const char *e, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(e - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

static const char *value(const char *p, const char *e, int depth)
{
    p = ws(p, e);
    if (p >= e || depth > WDTS_JSCAN_MAX_DEPTH)
        return NULL;
    int esc = 0;
    switch (*p) {
    case '"':
        return str(p, e, &esc);
    case '{':
        return object(p, e, depth);
    case '[':
        return array(p, e, depth);
    case 't':
        return lit(p, e, "true");
    case 'f':
        return lit(p, e, "false");
    case 'n':
        return lit(p, e, "null");
    default:
        return number(p, e);
    }
}

const char *wdts_jscan_value(const char *p, const char *e)
{
    if (p == NULL || e == NULL || p > e)
        return NULL;
    return value(p, e, 0);
}

/* ---- walks over checked bytes --------------------------------------------------------- */

/* p at '"': the byte after the closing quote (one not escaped), or NULL. */
static const char *fstr(const char *p, const char *e)
{
    for (p++; p < e;) {
        const char *q = memchr(p, '"', (size_t)(e - p));
        if (q == NULL)
            return NULL;
        const char *b = q;
        while (b > p && b[-1] == '\\')
            b--;
        if (((q - b) & 1) == 0)
            return q + 1;
        p = q + 1;
    }
    return NULL;
}

const char *wdts_jscan_value_checked(const char *p, const char *e)
{
    if (p == NULL || e == NULL || p > e)
        return NULL;
    p = ws(p, e);
    if (p >= e)
        return NULL;
    if (*p == '"')
        return fstr(p, e);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < e) {
            char c = *p;
            if (c == '"') {
                if ((p = fstr(p, e)) == NULL)
                    return NULL;
                continue;
            }
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    const char *s = p;
    while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
           *p != '\r' && *p != '\t' && *p != '"' && *p != '{' && *p != '[')
        p++;
    return p > s ? p : NULL;
}

/* ---- one walk over an API answer ------------------------------------------------------ */

/* What a value on the path to the record list is to the walk; anything else is walked by
 * value() alone. */
enum role {
    ROLE_ROOT,
    ROLE_RESPONSE,
    ROLE_DATA,      /* data of the root (where 0) or of the response (where 1) */
    ROLE_LIST,
    ROLE_ITEM,
};

struct walk {
    const char *body;
    const char *list_key;
    size_t list_key_len;
    const char *const *members;
    size_t nmembers, member_len[WDTS_JSCAN_MAX_MEMBERS];
    int bad;                        /* an escaped key where keys are compared */
    int root_status, root_error, root_response;
    const char *response;
    int data_count[2], list_count[2];
    const char *data[2], *list[2], *list_end[2];
    int lists;                      /* arrays walked as the record list */
    size_t max_items;               /* 0: no cap */
    int too_many;                   /* the list had more than max_items elements */
    struct wdts_jscan_list *out;
};

static int key_is(const char *k, size_t klen, const char *name, size_t nlen)
{
    return klen == nlen && (nlen == 0 || (k[0] == name[0] && memcmp(k, name, nlen) == 0));
}

static const char *walk_value(const char *p, const char *e, int depth, enum role role, int where,
                              struct walk *w);

/* Notes key k of an object in role and returns the role of its value (-1: none). */
static int walk_key(struct walk *w, enum role role, int where, const char *k, size_t klen,
                    const char *v, struct wdts_jscan_item *it, int *member)
{
    switch (role) {
    case ROLE_ROOT:
        if (key_is(k, klen, "status", 6)) {
            w->root_status++;
        } else if (key_is(k, klen, "error_response", 14)) {
            w->root_error++;
        } else if (key_is(k, klen, "response", 8)) {
            w->root_response++;
            w->response = v;
            return ROLE_RESPONSE;
        } else if (key_is(k, klen, "data", 4)) {
            w->data_count[0]++;
            w->data[0] = v;
            return ROLE_DATA;
        }
        return -1;
    case ROLE_RESPONSE:
        if (key_is(k, klen, "data", 4)) {
            w->data_count[1]++;
            w->data[1] = v;
            return ROLE_DATA;
        }
        return -1;
    case ROLE_DATA:
        if (key_is(k, klen, w->list_key, w->list_key_len)) {
            w->list_count[where]++;
            w->list[where] = v;
            return ROLE_LIST;
        }
        return -1;
    case ROLE_ITEM:
        for (size_t i = 0; i < w->nmembers; i++)
            if (key_is(k, klen, w->members[i], w->member_len[i])) {
                if (it->mcount[i] >= 0)
                    it->mcount[i]++;
                it->moff[i] = (size_t)(v - w->body);
                *member = (int)i;
                break;
            }
        return -1;
    default:
        return -1;
    }
}

static const char *walk_object(const char *p, const char *e, int depth, enum role role,
                               int where, struct walk *w)
{
    struct wdts_jscan_item *it = role == ROLE_ITEM ? &w->out->items[w->out->n - 1] : NULL;
    p = ws(p + 1, e);
    if (p < e && *p == '}')
        return p + 1;
    for (;;) {
        if (p >= e || *p != '"')
            return NULL;
        int esc = 0, member = -1, sub = -1;
        const char *k = p + 1, *kend = str(p, e, &esc);
        if (kend == NULL)
            return NULL;
        p = ws(kend, e);
        if (p >= e || *p != ':')
            return NULL;
        const char *v = ws(p + 1, e);
        if (!esc) {
            sub = walk_key(w, role, where, k, (size_t)(kend - 1 - k), v, it, &member);
        } else if (role == ROLE_ITEM) { /* its members cannot be told from bytes */
            for (size_t i = 0; i < w->nmembers; i++)
                it->mcount[i] = -1;
        } else {
            w->bad = 1;
        }
        if (sub >= 0) /* the data of the response is the second place a list may be */
            p = walk_value(v, e, depth + 1, (enum role)sub, role == ROLE_RESPONSE ? 1 : where, w);
        else
            p = value(v, e, depth + 1);
        if (p == NULL)
            return NULL;
        if (member >= 0)
            it->mlen[member] = (size_t)(p - v);
        p = ws(p, e);
        if (p < e && *p == '}')
            return p + 1;
        if (p >= e || *p != ',')
            return NULL;
        p = ws(p + 1, e);
    }
}

static const char *walk_list(const char *p, const char *e, int depth, int where, struct walk *w)
{
    struct wdts_jscan_list *out = w->out;
    w->lists++;
    p = ws(p + 1, e);
    if (p < e && *p == ']') {
        w->list_end[where] = p + 1;
        return p + 1;
    }
    size_t cap = 0;
    for (;;) {
        p = ws(p, e);
        if (p >= e)
            return NULL;
        if (w->max_items && out->n >= w->max_items) {
            w->too_many = 1; /* stop before the items cost memory */
            return NULL;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 128;
            out->items = wdts_xrealloc(out->items, cap * sizeof(*out->items));
        }
        struct wdts_jscan_item *it = &out->items[out->n++];
        memset(it, 0, sizeof(*it));
        it->off = (size_t)(p - w->body);
        const char *end = *p == '{' && w->nmembers > 0
                              ? walk_object(p, e, depth + 1, ROLE_ITEM, where, w)
                              : value(p, e, depth + 1);
        if (end == NULL)
            return NULL;
        out->items[out->n - 1].len = (size_t)(end - p);
        p = ws(end, e);
        if (p < e && *p == ']') {
            w->list_end[where] = p + 1;
            return p + 1;
        }
        if (p >= e || *p != ',')
            return NULL;
        p++;
    }
}

static const char *walk_value(const char *p, const char *e, int depth, enum role role, int where,
                              struct walk *w)
{
    p = ws(p, e);
    if (p >= e || depth > WDTS_JSCAN_MAX_DEPTH)
        return NULL;
    if (role == ROLE_LIST && *p == '[')
        return walk_list(p, e, depth, where, w);
    if (role != ROLE_LIST && role != ROLE_ITEM && *p == '{')
        return walk_object(p, e, depth, role, where, w);
    return value(p, e, depth);
}

void wdts_jscan_list_deinit(struct wdts_jscan_list *list)
{
    if (list == NULL)
        return;
    free(list->items);
    memset(list, 0, sizeof(*list));
}

int wdts_jscan_answer(const char *body, size_t len, const char *list_key,
                      const char *const *members, size_t nmembers, size_t max_items,
                      struct wdts_jscan_list *out)
{
    int rc = -1;
    memset(out, 0, sizeof(*out));
    if (body == NULL || list_key == NULL)
        return -1;
    const char *e = body + len, *p = ws(body, e);
    struct walk w;
    memset(&w, 0, sizeof(w));
    w.body = body;
    w.list_key = list_key;
    w.list_key_len = strlen(list_key);
    w.members = members;
    w.nmembers = nmembers < WDTS_JSCAN_MAX_MEMBERS ? nmembers : WDTS_JSCAN_MAX_MEMBERS;
    for (size_t i = 0; i < w.nmembers; i++)
        w.member_len[i] = strlen(members[i]);
    w.out = out;
    w.max_items = max_items;
    if (p >= e || *p != '{' || (p = walk_object(p, e, 0, ROLE_ROOT, 0, &w)) == NULL ||
        ws(p, e) != e || w.bad) {
        if (w.too_many)
            rc = WDTS_JSCAN_TOO_MANY;
        goto fail;
    }
    /* A key twice on the path: a parser that takes the first and one that takes the last
     * would read different envelopes or records; refused, never guessed. */
    if (w.root_status > 1 || (w.root_status == 0 && w.root_response > 1) ||
        w.data_count[0] > 1 || w.data_count[1] > 1 || w.list_count[0] > 1 ||
        w.list_count[1] > 1) {
        rc = WDTS_JSCAN_DUPKEY;
        goto fail;
    }
    if (w.lists != 1)
        goto fail;
    /* the envelope, as the classification finds it; each key on the path once */
    int where;
    if (w.root_status == 1)
        where = 0;
    else if (w.root_status == 0 && w.root_error == 0 && w.root_response == 1 && *w.response == '{')
        where = 1;
    else
        goto fail;
    if (w.data_count[where] != 1 || *w.data[where] != '{' || w.list_count[where] != 1 ||
        *w.list[where] != '[' || w.list_end[where] == NULL)
        goto fail;
    out->off = (size_t)(w.list[where] - body);
    out->len = (size_t)(w.list_end[where] - w.list[where]);
    return 0;
fail:
    wdts_jscan_list_deinit(out);
    return rc;
}

size_t wdts_jscan_cost(const char *p, const char *e, size_t limit)
{
    size_t cost = 0;
    while (p < e && cost <= limit) {
        const char *q = p;
        while (q < e && *q != '"' && *q != ',' && *q != '{' && *q != '[')
            q++;
        if (q >= e)
            break;
        if (*q == '"') {
            p = fstr(q, e);
            if (p == NULL)
                break;
            continue;
        }
        cost += *q == '{' ? WDTS_JSCAN_COST_OBJECT : *q == '[' ? WDTS_JSCAN_COST_ARRAY : 1;
        p = q + 1;
    }
    return cost;
}
