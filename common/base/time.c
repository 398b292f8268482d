/* Time conversions (see time.h). Beijing time has a fixed offset, so no time-zone
 * database is consulted: conversions are plain civil-calendar arithmetic. */
#include "wdts/time.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "wdts/str.h"

int64_t wdts_time_now(void)
{
    return (int64_t)time(NULL);
}

int64_t wdts_time_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int64_t wdts_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Civil-calendar day counts over 400-year eras (the well-known era algorithm). */
int64_t wdts_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void wdts_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void split_local(int64_t local_s, int64_t *y, unsigned *mo, unsigned *d, int *h, int *mi,
                        int *s)
{
    int64_t days = local_s >= 0 ? local_s / 86400 : -((-local_s + 86399) / 86400);
    int64_t sod = local_s - days * 86400;
    wdts_civil_from_days(days, y, mo, d);
    *h = (int)(sod / 3600);
    *mi = (int)(sod / 60 % 60);
    *s = (int)(sod % 60);
}

void wdts_time_format_beijing(int64_t unix_s, char out[WDTS_BJTIME_LEN])
{
    int64_t y;
    unsigned mo, d;
    int h, mi, s;
    split_local(unix_s + WDTS_BEIJING_OFFSET, &y, &mo, &d, &h, &mi, &s);
    char tmp[64]; /* wide enough for any int64 year; the API only sees 4-digit years */
    snprintf(tmp, sizeof(tmp), "%04d-%02u-%02u %02d:%02d:%02d", (int)(y % 10000), mo % 13, d % 32,
             h % 24, mi % 60, s % 60);
    wdts_strlcpy(out, tmp, WDTS_BJTIME_LEN);
}

void wdts_time_format_rfc3339(int64_t unix_s, char out[WDTS_RFC3339_LEN])
{
    int64_t y;
    unsigned mo, d;
    int h, mi, s;
    split_local(unix_s + WDTS_BEIJING_OFFSET, &y, &mo, &d, &h, &mi, &s);
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%04d-%02u-%02uT%02d:%02d:%02d+08:00", (int)(y % 10000), mo % 13,
             d % 32, h % 24, mi % 60, s % 60);
    wdts_strlcpy(out, tmp, WDTS_RFC3339_LEN);
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dim[m - 1];
}

/* Parses "yyyy-MM-dd?HH:mm:ss" where ? is sep; returns local seconds. */
static int parse_local(const char *s, char sep, int64_t *local_s)
{
    int y, mo, d, h, mi, se;
    if (strlen(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != sep || s[13] != ':' ||
        s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        se > 59)
        return -1;
    *local_s = wdts_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

wdts_err_t wdts_time_parse_beijing(const char *s, int64_t *unix_s)
{
    int64_t local;
    if (s == NULL || strlen(s) != 19 || parse_local(s, ' ', &local) != 0)
        return WDTS_ERR_INVAL;
    *unix_s = local - WDTS_BEIJING_OFFSET;
    return WDTS_OK;
}

wdts_err_t wdts_time_parse_rfc3339(const char *s, int64_t *unix_s)
{
    if (s == NULL || *s == '\0')
        return WDTS_ERR_INVAL;
    /* Plain Unix seconds. */
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p && strspn(p, "0123456789") == strlen(p)) {
        long long v;
        if (sscanf(s, "%lld", &v) != 1)
            return WDTS_ERR_INVAL;
        *unix_s = v;
        return WDTS_OK;
    }
    int64_t local;
    if (parse_local(s, 'T', &local) != 0 && parse_local(s, 't', &local) != 0)
        return WDTS_ERR_INVAL;
    p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return WDTS_ERR_INVAL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        *unix_s = local;
        return WDTS_OK;
    }
    int oh, om;
    if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' && digits(p + 1, 2, &oh) == 0 &&
        digits(p + 4, 2, &om) == 0 && oh < 24 && om < 60) {
        int off = oh * 3600 + om * 60;
        *unix_s = *p == '+' ? local - off : local + off;
        return WDTS_OK;
    }
    return WDTS_ERR_INVAL;
}
