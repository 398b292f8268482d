/* Error codes shared by every module, and the one place that decides whether an
 * error is worth retrying. Detail text travels separately (errstr buffers or a
 * handle's sticky errstr); this header only names the kind of failure. */
#ifndef WDTS_ERR_H
#define WDTS_ERR_H

typedef enum {
    WDTS_OK = 0,
    WDTS_ERR_NOMEM,    /* a dependency ran out of memory */
    WDTS_ERR_INVAL,    /* bad argument or input */
    WDTS_ERR_CONFIG,   /* invalid configuration */
    WDTS_ERR_IO,       /* file or socket I/O */
    WDTS_ERR_TIMEOUT,  /* an operation ran out of time */
    WDTS_ERR_KAFKA,    /* Kafka client error */
    WDTS_ERR_REDIS,    /* Redis error */
    WDTS_ERR_HTTP,     /* transport-level HTTP failure */
    WDTS_ERR_JSON,     /* malformed JSON */
    WDTS_ERR_TLS,      /* TLS / crypto failure */
    WDTS_ERR_AGAIN,    /* not a failure: try again later */
    WDTS_ERR_SHUTDOWN, /* the process is stopping */
    WDTS_ERR_NOTFOUND, /* the thing asked for does not exist */
    WDTS_ERR__COUNT
} wdts_err_t;

/** @returns a static, human-readable name for err; never NULL. */
const char *wdts_err2str(wdts_err_t err);

/** @returns 1 when an operation that failed with err may succeed if repeated. */
int wdts_err_is_retriable(wdts_err_t err);

/** Exit codes of every program (sysexits.h values where one fits). */
#define WDTS_EXIT_OK 0
#define WDTS_EXIT_FATAL 1
#define WDTS_EXIT_USAGE 64
#define WDTS_EXIT_CONFIG 78

#endif
