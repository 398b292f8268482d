/* Sandbox tenants: the sellers wdt-sandbox simulates, read from a JSON array (the
 * --tenants file) or the built-in demo set. A tenant owns its credentials, its
 * permissions, its limits and the seed of its data set. */
#ifndef SBX_TENANT_H
#define SBX_TENANT_H

#include <stddef.h>
#include <stdint.h>

#include "wdts/err.h"

struct sbx_tenant {
    char *sid;
    char *appkey;
    char *appsecret;        /* "secret:salt" */
    char *secret;           /* part before ':' */
    char *salt;             /* part after ':' */
    char *qimen_app_key;    /* NULL when the tenant has no Qimen app */
    char *qimen_app_secret; /* NULL when the tenant has no Qimen app */
    char **permissions;     /* direct method names the app may call; NULL = all */
    size_t n_permissions;
    int rate_per_min;       /* calls per minute per (sid, appkey); 0 = unlimited */
    int concurrency;        /* calls in flight per (sid, appkey); 0 = unlimited */
    int orders_per_day;     /* trades created per day */
    uint64_t seed;          /* seed of the data set */
    int64_t data_origin;    /* Unix time the data set begins (no record is older) */
    int time_format;        /* an enum sbx_timefmt; -1 = the sandbox's --time-format */
    int64_t archive_horizon; /* seconds; -1 = the sandbox's --archive-horizon, 0 = off */
};

struct sbx_tenants {
    struct sbx_tenant *v;
    size_t n;
};

/** Loads a tenants file. @returns WDTS_ERR_CONFIG with every problem listed in errstr. */
wdts_err_t sbx_tenants_load(const char *path, struct sbx_tenants *out, char *errstr,
                            size_t errstr_size);
struct sbx_reports;
/** sbx_tenants_load() whose permissions may also name the methods (and history methods) of
 *  the reports the registry generates (sbx_generic.h); reports NULL: the hand-made ones only. */
wdts_err_t sbx_tenants_load_for(const char *path, const struct sbx_reports *reports,
                                struct sbx_tenants *out, char *errstr, size_t errstr_size);
/** The built-in demo tenants (see docs in sbx_tenant.c). */
void sbx_tenants_demo(struct sbx_tenants *out);
void sbx_tenants_deinit(struct sbx_tenants *tenants);
/** @returns the tenant with this sid, or NULL. Borrowed. */
const struct sbx_tenant *sbx_tenants_find(const struct sbx_tenants *tenants, const char *sid);
/** @returns 1 when the tenant may call the direct method (or its Qimen form). */
int sbx_tenant_may_call(const struct sbx_tenant *tenant, const char *direct_method);

#endif
