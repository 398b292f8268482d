/* Names of the error codes and the retry decision (see err.h). */
#include "wdts/err.h"

static const char *const err_names[WDTS_ERR__COUNT] = {
    [WDTS_OK] = "ok",
    [WDTS_ERR_NOMEM] = "out of memory",
    [WDTS_ERR_INVAL] = "invalid argument",
    [WDTS_ERR_CONFIG] = "invalid configuration",
    [WDTS_ERR_IO] = "i/o error",
    [WDTS_ERR_TIMEOUT] = "timed out",
    [WDTS_ERR_KAFKA] = "kafka error",
    [WDTS_ERR_REDIS] = "redis error",
    [WDTS_ERR_HTTP] = "http error",
    [WDTS_ERR_JSON] = "malformed json",
    [WDTS_ERR_TLS] = "tls/crypto error",
    [WDTS_ERR_AGAIN] = "try again",
    [WDTS_ERR_SHUTDOWN] = "shutting down",
    [WDTS_ERR_NOTFOUND] = "not found",
};

const char *wdts_err2str(wdts_err_t err)
{
    if ((int)err < 0 || err >= WDTS_ERR__COUNT || err_names[err] == 0)
        return "unknown error";
    return err_names[err];
}

int wdts_err_is_retriable(wdts_err_t err)
{
    switch (err) {
    case WDTS_ERR_IO:
    case WDTS_ERR_TIMEOUT:
    case WDTS_ERR_KAFKA:
    case WDTS_ERR_REDIS:
    case WDTS_ERR_HTTP:
    case WDTS_ERR_AGAIN:
        return 1;
    default:
        return 0;
    }
}
