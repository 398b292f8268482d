/* The gateways' logic, apart from HTTP: given what one request carried (route,
 * query and body), every check the real gateway makes, in its order, and the
 * answer it gives (status code, body, and what the HTTP layer must do: delay,
 * hang, release a limit slot). sbx_server.c feeds it from libmicrohttpd.
 *
 *   sbx_gateway --borrows--> sbx_tenants, sbx_clock, sbx_faults (owned by main)
 *               --owns-----> sbx_limits (one slot per tenant), sbx_metrics
 * Threads: sbx_gateway_handle() runs on any server thread at once; everything it
 * touches is immutable, atomic or under the limits/metrics mutexes. */
#ifndef SBX_GATEWAY_H
#define SBX_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "sbx_data.h"
#include "sbx_limit.h"
#include "sbx_metrics.h"
#include "wdts/str.h"

/** Which ends of a window [start, end] select a record by its basis time t. */
enum sbx_bounds {
    SBX_BOUNDS_HALF = 0, /* start <= t < end (the default) */
    SBX_BOUNDS_CLOSED,   /* start <= t <= end */
    SBX_BOUNDS_OPEN,     /* start < t < end */
};

struct sbx_tenants;
struct sbx_clock;
struct sbx_faults;
struct sbx_reports;

struct sbx_gateway {
    const struct sbx_tenants *tenants; /* borrowed */
    const struct sbx_clock *clock;     /* borrowed */
    struct sbx_faults *faults;         /* borrowed; NULL = none */
    struct sbx_limits limits;
    struct sbx_metrics metrics;
    int64_t start_mono_ms; /* fault schedules count from here */
    /* Request timestamps are checked against the real wall clock plus ts_skew_s (the
     * gateway's own clock, as a real gateway does), or against the sandbox clock when
     * ts_sandbox_clock is set (for tests that sign with a frozen sandbox time). The data
     * clock may run at any speed either way. */
    int ts_sandbox_clock;
    int64_t ts_skew_s;
    /* What the official pages leave open, chosen per sandbox (see README): which ends of
     * a window select, whether Qimen answers carry total_count, and the form of the
     * change-time fields (a tenant's time_format overrides it). */
    enum sbx_bounds bounds;
    int qimen_total_absent;
    enum sbx_timefmt timefmt;
    /* --archive-horizon/--archive-by/--archive-late (horizon 0: nothing archived); a
     * tenant's archive_horizon wins. */
    struct sbx_archive archive;
    /* The catalog's reports the hand-made method table does not serve, generated from the
     * API spec (sbx_generic.h); borrowed, NULL = the hand-made methods only. */
    const struct sbx_reports *reports;
};

/** Parses "closed", "half" or "open". @returns WDTS_ERR_INVAL otherwise. */
wdts_err_t sbx_bounds_parse(const char *name, enum sbx_bounds *out);

/** Decoded key/value pairs of a query string or a form body; owns its strings. */
struct sbx_kv {
    struct wdts_param *v; /* owned, with owned key and val strings */
    size_t n;
};

/** Parses "a=b&c=d" (%XX and '+' decoded). Appends to kv. */
void sbx_kv_parse(struct sbx_kv *kv, const char *s, size_t len);
/** @returns the value of the last pair named key, or NULL. Borrowed. */
const char *sbx_kv_get(const struct sbx_kv *kv, const char *key);
void sbx_kv_deinit(struct sbx_kv *kv);

struct sbx_request {
    enum sbx_route route;
    const struct sbx_kv *query; /* borrowed */
    const char *body;           /* the raw bytes received, NUL-terminated; borrowed */
    size_t body_len;
};

/** The answer to give. Life cycle: sbx_answer_init → sbx_gateway_handle → sent → deinit. */
struct sbx_answer {
    int http_status;
    const char *content_type; /* static */
    struct wdts_buf body;
    int64_t delay_ms; /* answer after this long (latency fault) */
    int hang;         /* hold for delay_ms, then close without an answer */
    long slot;        /* tenant limit slot held until the request completes; -1 none */
};

/** @owner gw keeps tenants, clock and faults borrowed for its life. */
void sbx_gateway_init(struct sbx_gateway *gw, const struct sbx_tenants *tenants,
                      const struct sbx_clock *clock, struct sbx_faults *faults);
void sbx_gateway_deinit(struct sbx_gateway *gw);
void sbx_answer_init(struct sbx_answer *ans);
void sbx_answer_deinit(struct sbx_answer *ans);
/** Answers one gateway request. @thread any. */
void sbx_gateway_handle(struct sbx_gateway *gw, const struct sbx_request *req,
                        struct sbx_answer *ans);
/** To call when a request is finished (answered or dropped): releases its slot. */
void sbx_gateway_done(struct sbx_gateway *gw, struct sbx_answer *ans);

#endif
