/* The Redis connection parameters of a configuration (common/config/cfg_redis.c). */
#ifndef WDTS_CFG_REDIS_H
#define WDTS_CFG_REDIS_H

#include <stddef.h>

#include "wdts/cfg.h"
#include "wdts/err.h"
#include "wdts/redis.h"

/**
 * @brief The parameters the configuration names: redis.url, redis.password, redis.timeout
 *        (connect and command) and redis.prefix, on top of the defaults.
 * @owner cfg: borrowed (copied).
 * @returns WDTS_ERR_CONFIG with the reason, prefixed with the setting, in errstr.
 */
wdts_err_t wdts_redis_params_from_cfg(struct wdts_redis_params *params,
                                      const struct wdts_cfg *cfg, char *errstr,
                                      size_t errstr_size);

#endif
