/* Fault injection (see sbx_fault.h for the grammar). Parsing is strict: a spec
 * the sandbox does not understand is refused at start, never half applied. */
#include "sbx_fault.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"
#include "wdts/str.h"

static const char *const fault_names[SBX_FAULT__COUNT] = {
    "none",     "latency",   "http5xx", "hang",   "truncate", "status4",
    "status5",  "status99",  "ratelimit", "nolist", "badstatus",
    "hugelist", "deepnest",  "hugestring", "liartotal", "dupkey",
};

const char *sbx_fault_name(enum sbx_fault_kind kind)
{
    return (unsigned)kind < SBX_FAULT__COUNT ? fault_names[kind] : "unknown";
}

/* Parses "N" + unit into ms; a unit-less number takes unit_dflt (NULL: unit required). */
static int parse_duration(const char *s, size_t len, const char *unit_dflt, int64_t *ms)
{
    char tmp[64];
    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *end = NULL;
    errno = 0;
    double v = strtod(tmp, &end);
    if (errno || end == tmp || !isfinite(v) || v < 0)
        return -1;
    const char *unit = *end ? end : unit_dflt;
    double mul;
    if (unit == NULL)
        return -1;
    if (strcmp(unit, "ms") == 0)
        mul = 1;
    else if (strcmp(unit, "s") == 0)
        mul = 1000;
    else if (strcmp(unit, "m") == 0)
        mul = 60000;
    else if (strcmp(unit, "h") == 0)
        mul = 3600000;
    else
        return -1;
    if (v * mul > 86400000.0)
        return -1;
    *ms = (int64_t)(v * mul);
    return 0;
}

/* The unit at the end of a duration text ("200ms" → "ms"), or NULL. */
static const char *unit_of(const char *s, size_t len)
{
    static const char *const units[] = {"ms", "s", "m", "h"};
    for (size_t i = 0; i < 4; i++) {
        size_t ul = strlen(units[i]);
        if (len > ul && strncmp(s + len - ul, units[i], ul) == 0 &&
            (s[len - ul - 1] >= '0' && s[len - ul - 1] <= '9'))
            return units[i];
    }
    return NULL;
}

static int parse_range(const char *s, size_t len, int64_t *lo, int64_t *hi)
{
    const char *dash = memchr(s, '-', len);
    if (dash == NULL) {
        if (parse_duration(s, len, NULL, lo) != 0)
            return -1;
        *hi = *lo;
        return 0;
    }
    size_t l1 = (size_t)(dash - s), l2 = len - l1 - 1;
    const char *u = unit_of(dash + 1, l2);
    if (parse_duration(s, l1, u, lo) != 0 || parse_duration(dash + 1, l2, NULL, hi) != 0 ||
        *hi < *lo)
        return -1;
    return 0;
}

static int parse_item(const char *s, size_t len, struct sbx_faults *f, char *why, size_t why_size)
{
    const char *eq = memchr(s, '=', len);
    if (eq == NULL) {
        snprintf(why, why_size, "missing '='");
        return -1;
    }
    size_t klen = (size_t)(eq - s);
    const char *val = eq + 1;
    size_t vlen = len - klen - 1;
    char vbuf[64];
    if (vlen == 0 || vlen >= sizeof(vbuf)) {
        snprintf(why, why_size, "empty or overlong value");
        return -1;
    }
    memcpy(vbuf, val, vlen);
    vbuf[vlen] = '\0';

    if (klen == 4 && strncmp(s, "seed", 4) == 0) {
        long long v;
        if (wdts_parse_int(vbuf, 0, 0x7fffffffffffffffLL, &v) != WDTS_OK) {
            snprintf(why, why_size, "seed must be a non-negative integer");
            return -1;
        }
        f->seed = (uint64_t)v;
        return 0;
    }
    if (klen == 8 && strncmp(s, "hangtime", 8) == 0) {
        if (parse_duration(vbuf, vlen, NULL, &f->hang_ms) != 0) {
            snprintf(why, why_size, "hangtime must be a duration such as 90s");
            return -1;
        }
        return 0;
    }

    struct sbx_fault_item it = {SBX_FAULT_NONE, 0, -1, 1.0, 0, 0};
    const char *at = memchr(s, '@', klen);
    size_t nlen = at ? (size_t)(at - s) : klen;
    for (int k = SBX_FAULT_LATENCY; k < SBX_FAULT__COUNT; k++)
        if (strlen(fault_names[k]) == nlen && strncmp(fault_names[k], s, nlen) == 0)
            it.kind = (enum sbx_fault_kind)k;
    if (it.kind == SBX_FAULT_NONE) {
        snprintf(why, why_size, "unknown fault '%.*s'", (int)nlen, s);
        return -1;
    }
    if (at) {
        const char *sched = at + 1;
        size_t slen = klen - nlen - 1;
        const char *dash = memchr(sched, '-', slen);
        if (dash == NULL || parse_duration(sched, (size_t)(dash - sched), NULL, &it.from_ms) != 0) {
            snprintf(why, why_size, "schedule must be @FROM-TO or @FROM- with units (@10s-20s)");
            return -1;
        }
        size_t tlen = slen - (size_t)(dash - sched) - 1;
        if (tlen > 0 && (parse_duration(dash + 1, tlen, NULL, &it.to_ms) != 0 ||
                         it.to_ms <= it.from_ms)) {
            snprintf(why, why_size, "schedule end must be a duration after its start");
            return -1;
        }
    }
    if (it.kind == SBX_FAULT_LATENCY) {
        if (parse_range(vbuf, vlen, &it.lat_lo_ms, &it.lat_hi_ms) != 0) {
            snprintf(why, why_size, "latency takes a duration (50ms) or a range (20-200ms)");
            return -1;
        }
    } else {
        char *end = NULL;
        errno = 0;
        it.prob = strtod(vbuf, &end);
        if (errno || end == vbuf || *end || !(it.prob >= 0 && it.prob <= 1)) {
            snprintf(why, why_size, "%s takes a probability from 0 to 1", fault_names[it.kind]);
            return -1;
        }
    }
    f->items = wdts_xrealloc(f->items, (f->n + 1) * sizeof(*f->items));
    f->items[f->n++] = it;
    return 0;
}

wdts_err_t sbx_faults_parse(const char *spec, struct sbx_faults *faults, char *errstr,
                            size_t errstr_size)
{
    memset(faults, 0, sizeof(*faults));
    faults->seed = 1;
    faults->hang_ms = 120000;
    if (spec == NULL)
        return WDTS_OK;
    const char *p = spec;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char why[128];
        if (len == 0 || parse_item(p, len, faults, why, sizeof(why)) != 0) {
            if (len == 0)
                snprintf(why, sizeof(why), "empty item");
            snprintf(errstr, errstr_size,
                     "--faults item '%.*s': %s. Grammar: KIND[@FROM-TO]=VALUE,… with KIND one of "
                     "latency (=50ms or =20-200ms), http5xx, hang, truncate, status4, status5, "
                     "status99, ratelimit, nolist, badstatus, hugelist, deepnest, hugestring, liartotal, "
                     "dupkey (=probability 0..1), plus seed=N and hangtime=DURATION; "
                     "e.g. latency=20-200ms,http5xx@10s-20s=1.0",
                     (int)len, p, why);
            sbx_faults_deinit(faults);
            return WDTS_ERR_INVAL;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return WDTS_OK;
}

void sbx_faults_deinit(struct sbx_faults *faults)
{
    if (faults == NULL)
        return;
    free(faults->items);
    faults->items = NULL;
    faults->n = 0;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void sbx_faults_draw(struct sbx_faults *faults, int64_t elapsed_ms, struct sbx_fault_draw *out)
{
    out->kind = SBX_FAULT_NONE;
    out->latency_ms = 0;
    if (faults->n == 0)
        return;
    uint64_t state = mix(faults->seed ^ mix(__atomic_fetch_add(&faults->draws, 1, __ATOMIC_RELAXED)));
    for (size_t i = 0; i < faults->n; i++) {
        const struct sbx_fault_item *it = &faults->items[i];
        state = mix(state);
        double r = (double)(state >> 11) / 9007199254740992.0; /* [0, 1) */
        if (elapsed_ms < it->from_ms || (it->to_ms >= 0 && elapsed_ms >= it->to_ms))
            continue;
        if (it->kind == SBX_FAULT_LATENCY) {
            out->latency_ms += it->lat_lo_ms + (int64_t)(r * (double)(it->lat_hi_ms - it->lat_lo_ms));
        } else if (out->kind == SBX_FAULT_NONE && r < it->prob) {
            out->kind = it->kind;
        }
    }
}
