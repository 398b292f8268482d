/* The watermark of a (connection, report) in Redis: the end of the longest run of
 * contiguous completed windows since the first sync start. A window completes through
 * one script (common/redis/lua/wm_complete.lua) that refuses a stale fencing token (see
 * lock.h) and moves the watermark over every completed window that has become
 * contiguous; windows that complete out of order wait in a bounded set. Also: set the
 * first start once, read the state, and reset a range for a re-sync.
 *
 * Each operation has a pure _build (keys and arguments) and _parse (reply), and a
 * blocking convenience that runs both around wdts_lua_call_run(). Times are epoch
 * seconds; windows are half-open [start, end).
 *
 * Keys (one cluster slot per (connection, report)):
 *   <prefix>wm:{<connection>:<report>}        hash: wm, origin, fence, rfloor, rto, updated_ms
 *   <prefix>wm:{<connection>:<report>}:done   zset: completed windows beyond the watermark
 *   <prefix>wm:{<connection>:<report>}:fence  hash: latest fencing token per window
 *   <prefix>wm:{<connection>:<report>}:fidx   zset: those windows by end, for clean-up
 *   <prefix>wm:{<connection>:<report>}:lock:<start>:<end>   the window locks (lock.h)
 * None of them expires: they are the sync's progress. Removing a connection deletes the
 * first four (wdts_wm_key()); locks expire on their own.
 * Threads: functions are reentrant; a struct wdts_redis is used by one thread at a time. */
#ifndef WDTS_WATERMARK_H
#define WDTS_WATERMARK_H

#include <stddef.h>

#include "wdts/err.h"
#include "wdts/lua.h"

struct wdts_redis;
struct wdts_redis_reply;

/** Which sync. Both borrowed, non-empty. */
struct wdts_wm_id {
    const char *connection;
    const char *report;
};

/** Default bound on completed windows waiting beyond the watermark. */
#define WDTS_WM_MAX_PENDING_DEFAULT 10000

enum wdts_wm_key_kind {
    WDTS_WM_KEY_STATE, /* hash */
    WDTS_WM_KEY_DONE,  /* zset */
    WDTS_WM_KEY_FENCE, /* hash */
    WDTS_WM_KEY_FIDX,  /* zset */
};

/** One key of id. @returns borrowed from out until it next changes. */
const char *wdts_wm_key(struct wdts_buf *out, const char *prefix, const struct wdts_wm_id *id,
                        enum wdts_wm_key_kind kind);
/** The lock key of window [start, end) of id. @returns borrowed from out. */
const char *wdts_wm_lock_key(struct wdts_buf *out, const char *prefix,
                             const struct wdts_wm_id *id, long long start, long long end);
/** @returns WDTS_ERR_INVAL with a message when an id part is missing or empty. */
wdts_err_t wdts_wm_id_check(const struct wdts_wm_id *id, char *errstr, size_t errstr_size);

/** What is known about a watermark. */
struct wdts_wm_state {
    int initialized;      /* 0: never set (or lost with Redis's data): plan from the start */
    int created;          /* wdts_wm_init() only: 1 when this call set it */
    long long wm;         /* the watermark, epoch s */
    long long origin;     /* the first sync start (lowered by a reset before it) */
    long long pending;    /* completed windows waiting beyond the watermark */
    long long fence;      /* last fencing token issued */
    long long updated_ms; /* Redis time of the last change; 0 when unknown */
};

/**
 * @brief Sets the watermark to start when it was never set; otherwise changes nothing.
 * @returns in out: created, wm, origin (initialized is 1).
 */
wdts_err_t wdts_wm_init_build(struct wdts_lua_call *call, const char *prefix,
                              const struct wdts_wm_id *id, long long start, char *errstr,
                              size_t errstr_size);
wdts_err_t wdts_wm_init_parse(const struct wdts_redis_reply *reply, struct wdts_wm_state *out,
                              char *errstr, size_t errstr_size);
wdts_err_t wdts_wm_init(struct wdts_redis *redis, const struct wdts_wm_id *id, long long start,
                        struct wdts_wm_state *out, char *errstr, size_t errstr_size);

/** @brief Reads the state in one step (initialized, wm, origin, pending, fence, updated_ms). */
wdts_err_t wdts_wm_get_build(struct wdts_lua_call *call, const char *prefix,
                             const struct wdts_wm_id *id, char *errstr, size_t errstr_size);
wdts_err_t wdts_wm_get_parse(const struct wdts_redis_reply *reply, struct wdts_wm_state *out,
                             char *errstr, size_t errstr_size);
wdts_err_t wdts_wm_get(struct wdts_redis *redis, const struct wdts_wm_id *id,
                       struct wdts_wm_state *out, char *errstr, size_t errstr_size);

enum wdts_wm_status {
    WDTS_WM_ADVANCED = 0, /* the watermark moved */
    WDTS_WM_PENDING,      /* recorded; waits for a gap before it to close */
    WDTS_WM_ALREADY,      /* the watermark is already at or past the window's end */
    WDTS_WM_STALE,        /* refused: a newer lock holder or a re-sync; stop this job */
    WDTS_WM_UNINIT,       /* refused: no watermark (never initialised or lost) */
    WDTS_WM_FULL,         /* refused: too many windows pending; retry later */
};

/** "advanced", "pending", "already", "stale", "uninit", "full". */
const char *wdts_wm_status2str(enum wdts_wm_status status);

struct wdts_wm_result {
    enum wdts_wm_status status;
    long long wm;      /* the watermark after the call */
    long long pending; /* completed windows waiting beyond it */
};

/**
 * @brief Records window [start, end) as completed by the holder of fence and advances the
 *        watermark over every contiguous completed window. Call it only after Kafka
 *        acknowledged every record and the marker of the window.
 * @param fence the token wdts_lock_acquire() returned (>= 1).
 * @param max_pending bound on the waiting set (<= 0: WDTS_WM_MAX_PENDING_DEFAULT).
 */
wdts_err_t wdts_wm_complete_build(struct wdts_lua_call *call, const char *prefix,
                                  const struct wdts_wm_id *id, long long start, long long end,
                                  long long fence, long long max_pending, char *errstr,
                                  size_t errstr_size);
wdts_err_t wdts_wm_complete_parse(const struct wdts_redis_reply *reply,
                                  struct wdts_wm_result *out, char *errstr, size_t errstr_size);
wdts_err_t wdts_wm_complete(struct wdts_redis *redis, const struct wdts_wm_id *id,
                            long long start, long long end, long long fence,
                            long long max_pending, struct wdts_wm_result *out, char *errstr,
                            size_t errstr_size);

/**
 * @brief Re-sync of [from, to): the watermark goes back to from when past it (never
 *        forward), completion beyond to is kept, completions inside are forgotten and
 *        every fencing token issued so far becomes stale for windows starting before to.
 *        Sets the watermark to from when it was never set.
 * @returns in out: wm and pending (initialized is 1).
 */
wdts_err_t wdts_wm_reset_build(struct wdts_lua_call *call, const char *prefix,
                               const struct wdts_wm_id *id, long long from, long long to,
                               char *errstr, size_t errstr_size);
wdts_err_t wdts_wm_reset_parse(const struct wdts_redis_reply *reply, struct wdts_wm_state *out,
                               char *errstr, size_t errstr_size);
wdts_err_t wdts_wm_reset(struct wdts_redis *redis, const struct wdts_wm_id *id, long long from,
                         long long to, struct wdts_wm_state *out, char *errstr,
                         size_t errstr_size);

#endif
