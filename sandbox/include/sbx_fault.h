/* Fault injection for wdt-sandbox: a parsed --faults spec and the per-request
 * draw. The grammar (also printed by --help):
 *
 *   SPEC     := ITEM ( "," ITEM )*
 *   ITEM     := KIND [ "@" FROM "-" [ TO ] ] "=" VALUE | "seed=" N | "hangtime=" DURATION
 *   KIND     := latency | http5xx | hang | truncate | status4 | status5 | status99 | ratelimit
 *             | nolist | badstatus | hugelist | deepnest | hugestring | liartotal | dupkey
 *   VALUE    := a probability 0..1 (every kind but latency)
 *             | DURATION or DURATION "-" DURATION (latency: fixed, or uniform in the range)
 *   DURATION := N ( "ms" | "s" | "m" | "h" ), e.g. 50ms, 2s; in a range "20-200ms" the unit is shared
 *   FROM, TO := DURATIONs since the sandbox started (TO left out: until the end)
 *
 * Examples: "latency=20-200ms,http5xx=0.05", "hang=0.01,hangtime=90s", "http5xx@10s-20s=1.0".
 * Each request draws each item once, in the order given; the first non-latency fault that
 * fires is the one injected (latency adds to any answer). Draws come from a counter mixed
 * with seed (default 1), so a run is reproducible for a given request order. */
#ifndef SBX_FAULT_H
#define SBX_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"

enum sbx_fault_kind {
    SBX_FAULT_NONE = 0,
    SBX_FAULT_LATENCY,   /* delay the answer (the connection is suspended, no thread waits) */
    SBX_FAULT_HTTP5XX,   /* HTTP 502 with an HTML body, as a failing front proxy answers */
    SBX_FAULT_HANG,      /* hold the request for hangtime (default 120 s), then close it unanswered */
    SBX_FAULT_TRUNCATE,  /* the JSON answer cut in half (Content-Length matches the cut body) */
    SBX_FAULT_STATUS4,   /* status 4 数据库错误 */
    SBX_FAULT_STATUS5,   /* status 5 数据库错误 */
    SBX_FAULT_STATUS99,  /* status 99 其他错误 */
    SBX_FAULT_RATELIMIT, /* status 100 超过每分钟最大调用频率限制，请稍后重试 */
    SBX_FAULT_NOLIST,    /* status 0 and a data object whose total_count says 5 but no list */
    SBX_FAULT_BADSTATUS, /* {"status":"error",…} with a data object holding an empty list */
    /* hostile answers (the method's list key; direct route) */
    SBX_FAULT_HUGELIST,   /* status 0, a list of 2 M zeros (4 MB) */
    SBX_FAULT_DEEPNEST,   /* status 0, one record nested 100 000 arrays deep */
    SBX_FAULT_HUGESTRING, /* status 99 whose 8 MB message opens with terminal escapes */
    SBX_FAULT_LIARTOTAL,  /* status 0, total_count 1000000000 and an empty list */
    SBX_FAULT_DUPKEY,     /* status 0 with "data" twice: one record, then none */
    SBX_FAULT__COUNT
};

struct sbx_fault_item {
    enum sbx_fault_kind kind;
    int64_t from_ms, to_ms; /* active in [from, to) since start; to < 0 = open */
    double prob;            /* probability per request (latency: 1) */
    int64_t lat_lo_ms, lat_hi_ms;
};

/** A parsed spec; immutable after parsing except the draw counter. */
struct sbx_faults {
    struct sbx_fault_item *items; /* owned */
    size_t n;
    uint64_t seed;
    int64_t hang_ms;
    uint64_t draws; /* atomic counter */
};

/** What one request gets. */
struct sbx_fault_draw {
    enum sbx_fault_kind kind; /* SBX_FAULT_NONE or one non-latency kind */
    int64_t latency_ms;       /* 0 = none */
};

/**
 * @brief Parses spec (NULL or "" = no faults) into faults.
 * @returns WDTS_ERR_INVAL with the offending item and the grammar in errstr.
 * @owner faults->items is new; free with sbx_faults_deinit().
 */
wdts_err_t sbx_faults_parse(const char *spec, struct sbx_faults *faults, char *errstr,
                            size_t errstr_size);
void sbx_faults_deinit(struct sbx_faults *faults);
/** Draws the faults for one request, elapsed_ms after start. @thread any. */
void sbx_faults_draw(struct sbx_faults *faults, int64_t elapsed_ms, struct sbx_fault_draw *out);
/** The spec name of a kind ("http5xx"). */
const char *sbx_fault_name(enum sbx_fault_kind kind);

#endif
