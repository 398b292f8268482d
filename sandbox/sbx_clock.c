/* The sandbox clock (see sbx_clock.h). A sped-up clock is computed from the
 * monotonic clock, so a wall-clock step on the host does not move it. */
#include "sbx_clock.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/str.h"
#include "wdts/time.h"

wdts_err_t sbx_clock_parse(const char *spec, struct sbx_clock *clock, char *errstr,
                           size_t errstr_size)
{
    long long v = 0;
    memset(clock, 0, sizeof(*clock));
    clock->factor = 1.0;
    clock->base_mono_ms = wdts_time_mono_ms();
    clock->base_ms = wdts_time_now_ms();
    if (spec == NULL || strcmp(spec, "real") == 0)
        return WDTS_OK;
    if (wdts_str_has_prefix(spec, "frozen:")) {
        if (wdts_parse_int(spec + 7, 0, 4102444800LL, &v) != WDTS_OK)
            goto bad;
        clock->mode = SBX_CLOCK_FROZEN;
        clock->base_ms = v * 1000;
        return WDTS_OK;
    }
    if (wdts_str_has_prefix(spec, "speed:")) {
        char factor[64];
        const char *at = strchr(spec + 6, '@');
        size_t flen = at ? (size_t)(at - (spec + 6)) : strlen(spec + 6);
        if (flen == 0 || flen >= sizeof(factor))
            goto bad;
        memcpy(factor, spec + 6, flen);
        factor[flen] = '\0';
        char *end = NULL;
        errno = 0;
        double f = strtod(factor, &end);
        if (errno || end == factor || *end != '\0' || !isfinite(f) || f <= 0 || f > 1e6)
            goto bad;
        clock->mode = SBX_CLOCK_SPEED;
        clock->factor = f;
        if (at) {
            if (wdts_parse_int(at + 1, 0, 4102444800LL, &v) != WDTS_OK)
                goto bad;
            clock->base_ms = v * 1000;
        }
        return WDTS_OK;
    }
bad:
    snprintf(errstr, errstr_size,
             "--clock '%s': use real, frozen:UNIX_SECONDS, speed:FACTOR or speed:FACTOR@UNIX_SECONDS "
             "(FACTOR a number above 0, at most 1000000; e.g. speed:60@1767225600)",
             spec);
    return WDTS_ERR_INVAL;
}

int64_t sbx_clock_now_ms(const struct sbx_clock *clock)
{
    switch (clock->mode) {
    case SBX_CLOCK_FROZEN:
        return clock->base_ms;
    case SBX_CLOCK_SPEED:
        return clock->base_ms +
               (int64_t)((double)(wdts_time_mono_ms() - clock->base_mono_ms) * clock->factor);
    case SBX_CLOCK_REAL:
    default:
        return wdts_time_now_ms();
    }
}

int64_t sbx_clock_now(const struct sbx_clock *clock)
{
    int64_t ms = sbx_clock_now_ms(clock);
    return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}
