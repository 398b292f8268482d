/* Time helpers. Internally every instant is Unix epoch seconds (int64). The WDT
 * API speaks Beijing time (UTC+8, no DST) as "yyyy-MM-dd HH:mm:ss", and its
 * request timestamp counts seconds from 2012-01-01 00:00:00 +08:00. */
#ifndef WDTS_TIME_H
#define WDTS_TIME_H

#include <stdint.h>

#include "wdts/err.h"

/** Unix time of 2012-01-01 00:00:00 +08:00: the origin of the flagship `timestamp`. */
#define WDTS_WDT_EPOCH 1325347200LL
/** Beijing time offset from UTC in seconds. */
#define WDTS_BEIJING_OFFSET (8 * 3600)

/** Size of a "yyyy-MM-dd HH:mm:ss" buffer including the NUL. */
#define WDTS_BJTIME_LEN 20
/** Size of an RFC 3339 buffer ("2026-01-02T03:04:05+08:00") including the NUL. */
#define WDTS_RFC3339_LEN 26

/** Wall clock, Unix seconds. */
int64_t wdts_time_now(void);
/** Wall clock, Unix milliseconds. */
int64_t wdts_time_now_ms(void);
/** Monotonic clock in milliseconds, for timeouts and durations. */
int64_t wdts_time_mono_ms(void);

/** The flagship request `timestamp` for a Unix time. */
static inline int64_t wdts_time_wdt_timestamp(int64_t unix_s)
{
    return unix_s - WDTS_WDT_EPOCH;
}

/** Formats unix_s as Beijing "yyyy-MM-dd HH:mm:ss". */
void wdts_time_format_beijing(int64_t unix_s, char out[WDTS_BJTIME_LEN]);
/** Parses a strict Beijing "yyyy-MM-dd HH:mm:ss". @returns WDTS_ERR_INVAL on anything else. */
wdts_err_t wdts_time_parse_beijing(const char *s, int64_t *unix_s);
/** Formats unix_s as RFC 3339 in Beijing time ("…+08:00"). */
void wdts_time_format_rfc3339(int64_t unix_s, char out[WDTS_RFC3339_LEN]);
/**
 * Parses an RFC 3339 time with a "Z" or ±hh:mm offset (fractions ignored), or a
 * plain integer of Unix seconds. @returns WDTS_ERR_INVAL on anything else.
 */
wdts_err_t wdts_time_parse_rfc3339(const char *s, int64_t *unix_s);

/** Days since 1970-01-01 for a proleptic Gregorian date. */
int64_t wdts_days_from_civil(int64_t y, unsigned m, unsigned d);
/** The inverse of wdts_days_from_civil. */
void wdts_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
