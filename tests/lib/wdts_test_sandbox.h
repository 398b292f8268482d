/* The sandbox fixture: a wdt-sandbox on 127.0.0.1 port 0 (its port read from its port
 * file), stopped with SIGTERM; requests signed independently with wdts/sign.h (direct and
 * Qimen), sent with http_do, and their answers read. Every function fails the test
 * (cmocka) on a transport problem it does not expect. */
#ifndef WDTS_TEST_SANDBOX_H
#define WDTS_TEST_SANDBOX_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "wdts_test_http.h"

/* The demo tenants (wdt-sandbox --demo). */
#define DEMO_SID "demo-shop"
#define DEMO_KEY "demo-app"
#define DEMO_SECRET "demo-secret"
#define DEMO_SALT "demo-salt"
#define DEMO_QKEY "demo-qimen-app"
#define DEMO_QSECRET "demo-qimen-secret"

struct sbx_proc {
    pid_t pid;
    int port;
    char dir[256];
    char base[64]; /* "http://127.0.0.1:PORT" */
};

/* Starts wdt-sandbox with args (NULL-terminated, without --listen/--port-file).
 * @returns 0, or -1 when it exited before listening (its output is in its log). */
int sbx_start(struct sbx_proc *p, const char *const *args);

/* sbx_start() of the demo tenants (--demo) with the clock frozen at now, to the minute
 * (*frozen gets it), and the requests' timestamps checked against that clock.
 * @returns 0, or -1 as sbx_start(). */
int sbx_start_demo_frozen(struct sbx_proc *p, int64_t *frozen);

/* Removes a test directory and the files the tests put in it (no subdirectories). */
void sbx_rmdir(const char *dir);

/* Stops it with SIGTERM and removes its directory. @returns its exit status, or -1
 * when it took over timeout_ms (its log is then printed). */
int sbx_stop(struct sbx_proc *p, int timeout_ms);

/* `wdt-sandbox truth` of the tenants that source names (its arguments, NULL-terminated:
 * {"--tenants", path, NULL} or {"--demo", ..., NULL}): the records of sid's report on
 * route ("wdt" | "qimen") whose modified time, as of as_of, lies in [since, before), one
 * JSON object each ({"pk", "modified_unix", ...}). Fails the test when it does not answer.
 * @owner new: json_decref(). */
json_t *sbx_truth(const char *const *source, const char *sid, const char *report,
                  const char *route, int64_t as_of, int64_t since, int64_t before);

/* The sandbox clock, from GET /healthz (Unix seconds). */
int64_t sbx_clock(const struct sbx_proc *p);

/* A direct call: every system parameter, the pager (NULLs left out) and the body. */
struct direct_req {
    const char *sid, *key, *secret, *salt, *method, *v;
    const char *page_no, *page_size, *calc_total;
    const char *body;
    int64_t unix_now;     /* the timestamp sent is unix_now - 1325347200 */
    const char *ts_text;  /* sent as is instead, when set */
};

void direct_defaults(struct direct_req *d, const char *method, const char *body, int64_t now);

/* @returns the URL with its query (signed); free() it. */
char *direct_url(const struct sbx_proc *p, const struct direct_req *d);

/* Parses an answer; fails the test when it is not JSON. @owner json_decref. */
json_t *answer_json(const struct http_res *r);

/* Sends a direct call. @returns the parsed answer (json_decref). */
json_t *direct_call(const struct sbx_proc *p, const struct direct_req *d);

/* Asserts that j (or j.response) is {"status":status,"message":message}. */
void expect_status(json_t *j, int status, const char *message);

/* A Qimen call: TOP system parameters in the query, app parameters in the form body. */
struct qimen_req {
    const char *method; /* "wdt.sales.tradequery.querywithdetail" or scene-prefixed */
    const char *app_key, *app_secret, *sign_method, *target, *v;
    const char *sid, *wdt_appkey, *wdt_secret, *wdt_salt;
    const char *params, *pager;
    int64_t unix_now;    /* timestamp and datetime */
    int top_skew_s;      /* added to timestamp only */
    int all_in_query;    /* GET-style: every parameter in the query, no body */
    int corrupt_top;     /* change one character of the outer sign */
    int corrupt_wdt;     /* change one character of wdt_sign */
};

void qimen_defaults(struct qimen_req *q, const char *method, const char *params,
                    const char *pager, int64_t now);

json_t *qimen_call(const struct sbx_proc *p, const struct qimen_req *q);

/* The sum of the metric series lines that contain every given fragment; 0 if none. */
long long metric_value(const struct sbx_proc *p, const char *frag1, const char *frag2);

#endif
