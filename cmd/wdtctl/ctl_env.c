/* What wdtctl's subcommands set up before their work (ctl.h): the configuration from the
 * environment, secret.key, the report catalog and Redis, each failure printed once under
 * "wdtctl SUB:" with the exit code it means. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "wdts/catalog.h"
#include "wdts/cfg.h"
#include "wdts/cfg_redis.h"
#include "wdts/conn.h"
#include "wdts/prog.h"
#include "wdts/redis.h"

extern char **environ;

int ctl_env_init(struct ctl_env *env, const char *sub, int flags)
{
    static const char *const require_key[] = {"secret.key", NULL};
    struct wdts_cfg_opts opts = {.envp = environ,
                                 .require = flags & CTL_ENV_NEED_KEY ? require_key : NULL};
    char es[512], who[64];
    int rc;
    memset(env, 0, sizeof(*env));
    env->sub = sub;
    snprintf(who, sizeof(who), "wdtctl %s", sub);
    env->cfg = wdts_prog_cfg_load(&opts, who);
    if (env->cfg == NULL)
        return WDTS_EXIT_CONFIG;
    if ((flags & CTL_ENV_READ_KEY) && env->cfg->secret_key && (rc = ctl_env_key(env)) != 0)
        return rc;
    env->cat = wdts_catalog_new(env->cfg->catalog_path, es, sizeof(es));
    if (env->cat == NULL) {
        fprintf(stderr, "wdtctl %s: %s\n", sub, es);
        return WDTS_EXIT_FATAL;
    }
    return 0;
}

int ctl_env_key(struct ctl_env *env)
{
    char es[512];
    if (wdts_crypto_key_parse(env->cfg->secret_key, env->key, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl %s: secret.key: %s\n", env->sub, es);
        return WDTS_EXIT_CONFIG;
    }
    return 0;
}

int ctl_env_redis(struct ctl_env *env, const char *fail, const char *hint)
{
    struct wdts_redis_params params;
    char es[512];
    if (wdts_redis_params_from_cfg(&params, env->cfg, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "wdtctl %s: %s\n", env->sub, es);
        return WDTS_EXIT_CONFIG;
    }
    env->redis = wdts_redis_new(&params, es, sizeof(es));
    wdts_crypto_wipe(&params, sizeof(params));
    if (env->redis == NULL) {
        fprintf(stderr, "wdtctl %s: %s: %s%s\n", env->sub, fail, es, hint);
        return WDTS_EXIT_FATAL;
    }
    return 0;
}

int ctl_conn_load(const struct ctl_env *env, const char *id, struct wdts_conn **conn)
{
    char es[512];
    wdts_err_t err = wdts_conn_load(env->redis, env->cfg->redis_prefix, id, conn, es, sizeof(es));
    if (err == WDTS_ERR_NOTFOUND) {
        fprintf(stderr, "wdtctl %s: no connection %s (wdtctl connection list shows them)\n",
                env->sub, id);
        return CTL_EXIT_NOTFOUND;
    }
    if (err != WDTS_OK) {
        fprintf(stderr, "wdtctl %s: connection %s: %s\n", env->sub, id, es);
        return WDTS_EXIT_FATAL;
    }
    return 0;
}

void ctl_env_deinit(struct ctl_env *env)
{
    wdts_redis_destroy(env->redis);
    wdts_catalog_destroy(env->cat);
    wdts_cfg_destroy(env->cfg);
    wdts_crypto_wipe(env->key, sizeof(env->key));
    memset(env, 0, sizeof(*env));
}

struct wdts_catalog *ctl_catalog_load(const char *sub, int *rc)
{
    struct wdts_cfg_opts opts = {.envp = environ};
    char es[1024], who[64];
    snprintf(who, sizeof(who), "wdtctl %s", sub);
    struct wdts_cfg *cfg = wdts_prog_cfg_load(&opts, who);
    if (cfg == NULL) {
        *rc = WDTS_EXIT_CONFIG;
        return NULL;
    }
    struct wdts_catalog *cat = wdts_catalog_new(cfg->catalog_path, es, sizeof(es));
    if (cat == NULL) {
        fprintf(stderr, "wdtctl %s: %s\n", sub, es);
        *rc = WDTS_EXIT_CONFIG;
    }
    wdts_cfg_destroy(cfg);
    return cat;
}
