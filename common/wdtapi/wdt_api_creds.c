/* Credentials of a WDT connection (see wdts/wdt_api_creds.h): the `secret:salt` split, the Qimen
 * app, and names of routes. Secrets are copied once here and wiped on deinit; nothing
 * in this file formats a secret into a message. */
#include "wdts/wdt_api_creds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/mem.h"

wdts_err_t wdts_api_app_parse(const char *name, enum wdts_api_app *out)
{
    if (name && strcmp(name, "wdt") == 0) {
        *out = WDTS_API_APP_WDT;
        return WDTS_OK;
    }
    if (name && strcmp(name, "qimen") == 0) {
        *out = WDTS_API_APP_QIMEN;
        return WDTS_OK;
    }
    return WDTS_ERR_INVAL;
}

const char *wdts_api_app_name(enum wdts_api_app app)
{
    return app == WDTS_API_APP_QIMEN ? "qimen" : "wdt";
}

wdts_err_t wdts_api_appsecret_split(const char *appsecret, char **secret, char **salt,
                                    char *errstr, size_t errstr_size)
{
    const char *colon = appsecret ? strchr(appsecret, ':') : NULL;
    if (colon == NULL) {
        snprintf(errstr, errstr_size,
                 "the WDT appsecret has the form secret:salt (two parts joined by ':'), and the "
                 "value given has no ':': copy the whole appsecret from 开放平台 → 应用管理");
        return WDTS_ERR_INVAL;
    }
    if (colon == appsecret || colon[1] == '\0') {
        snprintf(errstr, errstr_size,
                 "the WDT appsecret has the form secret:salt, and the %s part of the value given "
                 "is empty: copy the whole appsecret from 开放平台 → 应用管理",
                 colon == appsecret ? "secret" : "salt");
        return WDTS_ERR_INVAL;
    }
    *secret = wdts_xstrndup(appsecret, (size_t)(colon - appsecret));
    *salt = wdts_xstrdup(colon + 1);
    return WDTS_OK;
}

/* Wipes a secret before it is freed, so a core dump or a reused page does not keep it. */
static void free_secret(char *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

static int blank(const char *s)
{
    return s == NULL || *s == '\0';
}

wdts_err_t wdts_api_creds_init(struct wdts_api_creds *creds, const char *sid, const char *appkey,
                               const char *appsecret, char *errstr, size_t errstr_size)
{
    memset(creds, 0, sizeof(*creds));
    creds->app = WDTS_API_APP_WDT;
    creds->sign_method = WDTS_TOP_SIGN_MD5;
    if (blank(sid)) {
        snprintf(errstr, errstr_size, "the sid (seller account, 卖家账号) is empty");
        return WDTS_ERR_INVAL;
    }
    if (blank(appkey)) {
        snprintf(errstr, errstr_size, "the appkey (接口账号) is empty");
        return WDTS_ERR_INVAL;
    }
    if (blank(appsecret)) {
        snprintf(errstr, errstr_size,
                 "the appsecret is empty: the WDT appsecret has the form secret:salt");
        return WDTS_ERR_INVAL;
    }
    wdts_err_t err = wdts_api_appsecret_split(appsecret, &creds->secret, &creds->salt, errstr,
                                              errstr_size);
    if (err != WDTS_OK)
        return err;
    creds->sid = wdts_xstrdup(sid);
    creds->appkey = wdts_xstrdup(appkey);
    creds->target_app_key = wdts_xstrdup(WDTS_API_QIMEN_TARGET_APP_KEY);
    return WDTS_OK;
}

wdts_err_t wdts_api_creds_set_qimen(struct wdts_api_creds *creds, const char *app_key,
                                    const char *app_secret, const char *sign_method,
                                    const char *target_app_key, const char *method_prefix,
                                    char *errstr, size_t errstr_size)
{
    enum wdts_top_sign sm = WDTS_TOP_SIGN_MD5;
    if (blank(app_key) || blank(app_secret)) {
        snprintf(errstr, errstr_size,
                 "a Qimen connection needs the Qimen (Taobao open platform) app_key and "
                 "app_secret as well as the WDT sid, appkey and appsecret");
        return WDTS_ERR_INVAL;
    }
    if (sign_method && wdts_top_sign_parse(sign_method, &sm) != WDTS_OK) {
        snprintf(errstr, errstr_size,
                 "unknown Qimen sign method '%.40s': use md5, hmac or hmac-sha256", sign_method);
        return WDTS_ERR_INVAL;
    }
    if (target_app_key && *target_app_key == '\0') {
        snprintf(errstr, errstr_size,
                 "the Qimen target_app_key is empty (WDT's is " WDTS_API_QIMEN_TARGET_APP_KEY ")");
        return WDTS_ERR_INVAL;
    }
    free(creds->qimen_app_key);
    free_secret(creds->qimen_app_secret);
    free(creds->target_app_key);
    free(creds->qimen_method_prefix);
    creds->app = WDTS_API_APP_QIMEN;
    creds->qimen_app_key = wdts_xstrdup(app_key);
    creds->qimen_app_secret = wdts_xstrdup(app_secret);
    creds->sign_method = sm;
    creds->target_app_key =
        wdts_xstrdup(target_app_key ? target_app_key : WDTS_API_QIMEN_TARGET_APP_KEY);
    creds->qimen_method_prefix = blank(method_prefix) ? NULL : wdts_xstrdup(method_prefix);
    return WDTS_OK;
}

void wdts_api_creds_deinit(struct wdts_api_creds *creds)
{
    if (creds == NULL)
        return;
    free(creds->sid);
    free(creds->appkey);
    free_secret(creds->secret);
    free(creds->salt);
    free(creds->qimen_app_key);
    free_secret(creds->qimen_app_secret);
    free(creds->target_app_key);
    free(creds->qimen_method_prefix);
    memset(creds, 0, sizeof(*creds));
}
