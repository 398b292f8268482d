/* Call admission per seller app, shared by every worker pod through Redis: a GCRA rate
 * limiter, a concurrency semaphore with leased slots and a cooldown that rate-limit
 * answers set, all keyed by (gateway, sid, appkey) and checked together by one script
 * (common/redis/lua/limit_try_start.lua) so a call costs two round trips: try_start before it,
 * finish after it. Times come from the Redis server's clock only.
 *
 * Each operation has three parts: _build (pure: keys and arguments into a
 * struct wdts_lua_call), _parse (pure: reply into a result) and a blocking convenience
 * that does both around wdts_lua_call_run(). A non-blocking client sends the built call
 * itself and hands the reply to _parse.
 *
 * Use:  wdts_limit_try_start() → go: call the API, then wdts_limit_finish() with the
 *       slot token, out.now_us and the outcome; wait: set a timer for wait_ms and ask again.
 * Keys: <prefix>rl:{<gateway>:<sid>:<appkey>}:gcra | :sem | :cd (one cluster slot).
 * Threads: functions are reentrant; a struct wdts_redis is used by one thread at a time. */
#ifndef WDTS_LIMIT_H
#define WDTS_LIMIT_H

#include <stddef.h>

#include "wdts/err.h"
#include "wdts/lua.h"

struct wdts_redis;
struct wdts_redis_reply;

/** Whose budget a call spends. All three borrowed, non-empty. */
struct wdts_limit_id {
    const char *gateway; /* e.g. "wdt", "qimen" or the sandbox URL */
    const char *sid;
    const char *appkey;
};

/** The budget of one seller app; plain data. Defaults from wdts_limit_cfg_init(). */
struct wdts_limit_cfg {
    double rate;              /* calls per second, > 0, fractional allowed (0.5 = one per 2 s) */
    int burst;                /* calls that may go back to back after idling, >= 1 */
    int slots;                /* concurrent calls, >= 1 */
    int slot_lease_ms;        /* a slot not released frees itself after this; > the HTTP timeout */
    int poll_ms;              /* cap on the wait hint while every slot is busy */
    int cooldown_base_ms;     /* first cooldown after a rate-limit answer */
    int cooldown_cap_ms;      /* longest cooldown (doubling stops here) */
    int cooldown_reset_after; /* successes in a row that reset the cooldown level */
};

#define WDTS_LIMIT_RATE_DEFAULT 5.0
#define WDTS_LIMIT_BURST_DEFAULT 5
#define WDTS_LIMIT_SLOTS_DEFAULT 1
#define WDTS_LIMIT_SLOT_LEASE_MS_DEFAULT 120000
#define WDTS_LIMIT_POLL_MS_DEFAULT 100
#define WDTS_LIMIT_COOLDOWN_BASE_MS_DEFAULT 30000
#define WDTS_LIMIT_COOLDOWN_CAP_MS_DEFAULT 600000
#define WDTS_LIMIT_COOLDOWN_RESET_AFTER_DEFAULT 10
/** Largest rate accepted: one call per microsecond. */
#define WDTS_LIMIT_RATE_MAX 1e6

void wdts_limit_cfg_init(struct wdts_limit_cfg *cfg);

/** @returns WDTS_OK, or WDTS_ERR_CONFIG naming the first bad field and its valid range. */
wdts_err_t wdts_limit_cfg_check(const struct wdts_limit_cfg *cfg, char *errstr,
                                size_t errstr_size);

/** Microseconds between calls for rate (1e6 / rate rounded up, so never faster). */
long long wdts_limit_interval_us(double rate);

enum wdts_limit_reason {
    WDTS_LIMIT_GO = 0,      /* the call may start */
    WDTS_LIMIT_COOLDOWN,    /* the vendor answered "rate limited" recently */
    WDTS_LIMIT_CONCURRENCY, /* every slot is busy */
    WDTS_LIMIT_RATE,        /* the limiter's budget is spent */
};

/** "go", "cooldown", "concurrency", "rate". */
const char *wdts_limit_reason2str(enum wdts_limit_reason reason);

/** The answer of try_start. */
struct wdts_limit_start {
    int go;                       /* 1: start the call; a slot is held under the token */
    enum wdts_limit_reason reason; /* WDTS_LIMIT_GO when go */
    long long wait_ms;            /* when !go: ask again after this long (>= 1) */
    long long now_us;             /* Redis time of the decision; pass to finish */
};

/**
 * @brief Builds the try_start call: cooldown, then a free slot, then the rate; only if
 *        all allow it, charges the rate and takes a slot under slot_token.
 * @param call initialised by this function (deinit it after use, also on failure).
 * @param prefix key prefix (NULL: the default). @param slot_token non-empty, unique per
 *        call (wdts_lock_token_new() makes one).
 * @returns WDTS_ERR_INVAL for an empty id part or token, WDTS_ERR_CONFIG for a bad cfg.
 */
wdts_err_t wdts_limit_try_start_build(struct wdts_lua_call *call, const char *prefix,
                                      const struct wdts_limit_id *id,
                                      const struct wdts_limit_cfg *cfg, const char *slot_token,
                                      char *errstr, size_t errstr_size);
/** @returns WDTS_OK, or WDTS_ERR_REDIS for a reply of another shape (reason in errstr). */
wdts_err_t wdts_limit_try_start_parse(const struct wdts_redis_reply *reply,
                                      struct wdts_limit_start *out, char *errstr,
                                      size_t errstr_size);
/** Build, send with the blocking handle, parse. Connection errors come from the handle. */
wdts_err_t wdts_limit_try_start(struct wdts_redis *redis, const struct wdts_limit_id *id,
                                const struct wdts_limit_cfg *cfg, const char *slot_token,
                                struct wdts_limit_start *out, char *errstr, size_t errstr_size);

enum wdts_limit_outcome {
    WDTS_LIMIT_OUTCOME_OK = 0, /* the API answered (any answer but a rate limit) */
    WDTS_LIMIT_OUTCOME_LIMITED, /* status 100 超过每分钟最大调用频率限制 / 并发次数限制 */
    WDTS_LIMIT_OUTCOME_OTHER,   /* no answer (network, 5xx): only frees the slot */
};

/** The answer of finish. */
struct wdts_limit_finish {
    int released;         /* 1 when the token held a slot (0: it had expired) */
    long long cooldown_ms; /* cooldown left now; 0 when none */
    int level;            /* cooldown level: 0 none, n = base * 2^(n-1) (capped) */
    int streak;           /* successes since the last rate-limit answer (while level > 0) */
};

/**
 * @brief Builds the finish call: frees the slot of slot_token and records the outcome.
 *        A LIMITED outcome of a call that started (started_us = try_start's now_us) after
 *        the current cooldown was set doubles the cooldown; earlier ones do not.
 */
wdts_err_t wdts_limit_finish_build(struct wdts_lua_call *call, const char *prefix,
                                   const struct wdts_limit_id *id,
                                   const struct wdts_limit_cfg *cfg, const char *slot_token,
                                   long long started_us, enum wdts_limit_outcome outcome,
                                   char *errstr, size_t errstr_size);
wdts_err_t wdts_limit_finish_parse(const struct wdts_redis_reply *reply,
                                   struct wdts_limit_finish *out, char *errstr,
                                   size_t errstr_size);
wdts_err_t wdts_limit_finish(struct wdts_redis *redis, const struct wdts_limit_id *id,
                             const struct wdts_limit_cfg *cfg, const char *slot_token,
                             long long started_us, enum wdts_limit_outcome outcome,
                             struct wdts_limit_finish *out, char *errstr, size_t errstr_size);

enum wdts_limit_key_kind { WDTS_LIMIT_KEY_GCRA, WDTS_LIMIT_KEY_SEM, WDTS_LIMIT_KEY_COOLDOWN };

/** One of the three keys of id (for status pages and clean-up). @returns borrowed from out. */
const char *wdts_limit_key(struct wdts_buf *out, const char *prefix,
                           const struct wdts_limit_id *id, enum wdts_limit_key_kind kind);

#endif
