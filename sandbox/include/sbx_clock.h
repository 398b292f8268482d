/* The sandbox clock: real time, a frozen instant, or time running FACTOR times
 * faster than real time from a start instant. Everything the gateway dates (the
 * timestamp checks, which rows a window holds, system.Core.now) reads it. */
#ifndef SBX_CLOCK_H
#define SBX_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"

enum sbx_clock_mode { SBX_CLOCK_REAL = 0, SBX_CLOCK_FROZEN, SBX_CLOCK_SPEED };

/** Immutable after sbx_clock_parse(); safe to read from any thread. */
struct sbx_clock {
    enum sbx_clock_mode mode;
    int64_t base_ms;      /* frozen instant, or the start instant of a sped-up clock (Unix ms) */
    int64_t base_mono_ms; /* monotonic time at start (speed mode) */
    double factor;        /* speed mode */
};

/**
 * @brief Parses "real" | "frozen:UNIX" | "speed:FACTOR" | "speed:FACTOR@UNIX" (UNIX =
 *        Unix seconds; without @UNIX a sped-up clock starts at the real time now).
 * @returns WDTS_ERR_INVAL with the reason in errstr.
 */
wdts_err_t sbx_clock_parse(const char *spec, struct sbx_clock *clock, char *errstr,
                           size_t errstr_size);
/** The sandbox time now, Unix seconds. @thread any. */
int64_t sbx_clock_now(const struct sbx_clock *clock);
/** The sandbox time now, Unix milliseconds. @thread any. */
int64_t sbx_clock_now_ms(const struct sbx_clock *clock);

#endif
