/* Logging: one line per event on stdout (JSON lines by default, or text for a
 * terminal), written with a single write() so lines from librdkafka's threads
 * never interleave. The level is checked before anything is formatted. */
#ifndef WDTS_LOG_H
#define WDTS_LOG_H

enum wdts_loglvl { WDTS_LOGLVL_ERROR = 0, WDTS_LOGLVL_WARN, WDTS_LOGLVL_INFO, WDTS_LOGLVL_DEBUG };
enum wdts_logfmt { WDTS_LOGFMT_JSON = 0, WDTS_LOGFMT_TEXT };

/**
 * @brief Sets the level, the format and the components logged at debug level.
 * @param debug_comps comma-separated component names ("kafka,redis") or "all"; NULL for none.
 * Call before other threads start; later calls are not synchronised.
 */
void wdts_log_setup(enum wdts_loglvl level, enum wdts_logfmt fmt, const char *debug_comps);
/** Parses "error|warn|info|debug". @returns -1 when unknown. */
int wdts_log_level_parse(const char *s);
/** Sets the process name put in every line ("prog"). Borrowed: must outlive logging. */
void wdts_log_set_prog(const char *prog);

/** The effective level for a component (internal use by WDTS_LOG). */
int wdts_log_level_for(const char *comp);
/** Formats and writes one line. @thread any. */
void wdts_log_emit(int lvl, const char *comp, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define WDTS_LOG(lvl, comp, ...)                                                                   \
    do {                                                                                           \
        if (WDTS_LOGLVL_##lvl <= wdts_log_level_for(comp))                                         \
            wdts_log_emit(WDTS_LOGLVL_##lvl, comp, __VA_ARGS__);                                   \
    } while (0)

/** Always-on invariant check: logs the expression and location, then aborts. */
#define WDTS_ASSERT(expr)                                                                          \
    do {                                                                                           \
        if (!(expr))                                                                               \
            wdts_log_assert_fail(#expr, __FILE__, __LINE__);                                       \
    } while (0)
void wdts_log_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#endif
