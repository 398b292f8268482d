/* JSON-lines / text logger (see log.h). Each line is built in a local buffer and
 * written with one write(2), so concurrent threads never interleave lines. */
#include "wdts/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "wdts/str.h"

static int log_level = WDTS_LOGLVL_INFO;
static enum wdts_logfmt log_fmt = WDTS_LOGFMT_JSON;
static char log_debug_comps[256]; /* ",kafka,redis," or ",all," */
static const char *log_prog = NULL;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void wdts_log_setup(enum wdts_loglvl level, enum wdts_logfmt fmt, const char *debug_comps)
{
    log_level = level;
    log_fmt = fmt;
    log_debug_comps[0] = '\0';
    if (debug_comps && *debug_comps)
        snprintf(log_debug_comps, sizeof(log_debug_comps), ",%s,", debug_comps);
}

int wdts_log_level_parse(const char *s)
{
    return wdts_word_index(level_names, 4, s);
}

void wdts_log_set_prog(const char *prog)
{
    log_prog = prog;
}

int wdts_log_level_for(const char *comp)
{
    if (log_debug_comps[0]) {
        char key[40];
        snprintf(key, sizeof(key), ",%s,", comp);
        if (strstr(log_debug_comps, key) || strstr(log_debug_comps, ",all,"))
            return WDTS_LOGLVL_DEBUG;
    }
    return log_level;
}

void wdts_log_emit(int lvl, const char *comp, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));

    const char *lname = level_names[lvl < 0 ? 0 : lvl > 3 ? 3 : lvl];
    struct wdts_buf line;
    wdts_buf_init(&line);
    if (log_fmt == WDTS_LOGFMT_JSON) {
        wdts_buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",", ts, lname);
        if (log_prog) {
            wdts_buf_append_str(&line, "\"prog\":\"");
            wdts_buf_append_json_str(&line, log_prog);
            wdts_buf_append_str(&line, "\",");
        }
        wdts_buf_append_str(&line, "\"comp\":\"");
        wdts_buf_append_json_str(&line, comp);
        wdts_buf_append_str(&line, "\",\"msg\":\"");
        wdts_buf_append_json_str(&line, msg);
        wdts_buf_append_str(&line, "\"}\n");
    } else {
        wdts_buf_printf(&line, "%s %-5s %-6s %s\n", ts, lname, comp, msg);
    }
    const char *p = wdts_buf_str(&line);
    size_t left = line.len;
    while (left > 0) {
        ssize_t w = write(STDOUT_FILENO, p, left);
        if (w <= 0)
            break;
        p += w;
        left -= (size_t)w;
    }
    wdts_buf_deinit(&line);
}

void wdts_log_assert_fail(const char *expr, const char *file, int line)
{
    wdts_log_emit(WDTS_LOGLVL_ERROR, "assert", "assertion failed: %s at %s:%d", expr, file, line);
    abort();
}
