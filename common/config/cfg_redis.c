/* The Redis connection parameters the configuration names (redis.url, redis.password,
 * redis.timeout, redis.prefix): the one place where the config layer meets the Redis layer. */
#include "wdts/cfg_redis.h"

#include "wdts/str.h"

wdts_err_t wdts_redis_params_from_cfg(struct wdts_redis_params *params,
                                      const struct wdts_cfg *cfg, char *errstr,
                                      size_t errstr_size)
{
    char es[256];
    wdts_redis_params_init(params);
    if (wdts_redis_params_from_url(params, cfg->redis_url, es, sizeof(es)) != WDTS_OK) {
        wdts_errstr_set(errstr, errstr_size, "redis.url: %s", es);
        return WDTS_ERR_CONFIG;
    }
    if (wdts_redis_params_set_password(params, cfg->redis_password, es, sizeof(es)) != WDTS_OK) {
        wdts_errstr_set(errstr, errstr_size, "redis.password: %s", es);
        return WDTS_ERR_CONFIG;
    }
    params->connect_timeout_ms = params->command_timeout_ms = (int)cfg->redis_timeout_ms;
    wdts_strlcpy(params->prefix, cfg->redis_prefix, sizeof(params->prefix));
    return WDTS_OK;
}
