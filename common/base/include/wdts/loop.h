/* A small single-threaded event loop on epoll: file descriptors watched for read/write
 * and one-shot timers on the monotonic clock. It is what lets one process run many jobs
 * at once: libcurl multi (wdts/wdt_api_multi.h), hiredis async (wdts/redis_async.h) and
 * the worker's own timers all attach to one loop. It does not own the descriptors it
 * watches and has no signal handling (programs poll a flag between iterations).
 *
 * Ownership: caller --owns--> wdts_loop --owns--> timer records (ids are handles; a
 * cancelled or fired id is simply unknown afterwards, never a dangling pointer).
 * Threads: every function is called on the loop's thread only. */
#ifndef WDTS_LOOP_H
#define WDTS_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"

struct wdts_loop;

/** Readiness bits for wdts_loop_io_set(). */
#define WDTS_LOOP_READ 1
#define WDTS_LOOP_WRITE 2
#define WDTS_LOOP_ERROR 4 /* reported only: hang-up or error on the descriptor */

/** @thread the loop's, from inside wdts_loop_run_once(). */
typedef void (*wdts_loop_io_cb)(int fd, int events, void *opaque);
/** @thread the loop's, from inside wdts_loop_run_once(). */
typedef void (*wdts_loop_timer_cb)(void *opaque);

/** @returns a new loop (wdts_loop_destroy()), or NULL with the reason in errstr. */
struct wdts_loop *wdts_loop_new(char *errstr, size_t errstr_size);
/** Frees the loop and its timers (their callbacks are not called). NULL is a no-op. */
void wdts_loop_destroy(struct wdts_loop *loop);

/**
 * @brief Watches fd for events (WDTS_LOOP_READ | WDTS_LOOP_WRITE), replacing an earlier
 *        watch of fd; events 0 stops watching it. The descriptor stays the caller's.
 * @owner opaque borrowed until the watch is removed.
 * @returns WDTS_OK or WDTS_ERR_IO (epoll refused; errno text in the log of the caller).
 */
wdts_err_t wdts_loop_io_set(struct wdts_loop *loop, int fd, int events, wdts_loop_io_cb cb,
                            void *opaque);

/**
 * @brief Calls cb once, delay_ms from now (0: on the next iteration).
 * @returns the timer's id (never 0), for wdts_loop_timer_cancel().
 */
uint64_t wdts_loop_timer_add(struct wdts_loop *loop, int64_t delay_ms, wdts_loop_timer_cb cb,
                             void *opaque);
/** Cancels a timer that has not fired. An unknown id (0, fired, cancelled) is a no-op. */
void wdts_loop_timer_cancel(struct wdts_loop *loop, uint64_t id);
/** @returns the number of pending timers. */
size_t wdts_loop_timer_count(const struct wdts_loop *loop);

/**
 * @brief Waits at most max_wait_ms (less when a timer is due sooner) for events, then
 *        runs the callbacks of ready descriptors and due timers.
 * @returns the number of callbacks run.
 */
int wdts_loop_run_once(struct wdts_loop *loop, int max_wait_ms);

/** @returns the most any timer fired after its due time since the last call (the loop's
 *  lag: callbacks or blocking calls that held it up), and resets it. */
int64_t wdts_loop_take_max_late_ms(struct wdts_loop *loop);

#endif
