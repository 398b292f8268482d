/* Setup for tests/bench/worker-bench.sh: stores N benchmark connections in Redis (sealed
 * as wdtctl would), initialises their watermarks and produces their jobs to the jobs
 * topic, J consecutive windows of W seconds per connection ending E seconds ago, in
 * round-robin order so every seller has work from the start.
 *
 *   bench-wrk_bench_setup --redis URL --prefix P --brokers B --topic T --gateway URL
 *       --sellers N --jobs J --window W --end-ago E --rate R --burst B --key HEX
 *       [--concurrency C] [--report trades] [--sid-prefix bench-] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/conn.h"
#include "wdts/crypto.h"
#include "wdts/job.h"
#include "wdts/kafka.h"
#include "wdts/lua.h"
#include "wdts/mem.h"
#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts/time.h"
#include "wdts/watermark.h"

int main(int argc, char **argv)
{
    const char *redis_url = NULL, *prefix = "wdt:", *brokers = NULL, *topic = "wdt.jobs",
               *gateway = NULL, *keyhex = NULL, *report = "trades", *sidp = "bench-";
    long long sellers = 200, jobs = 100, window = 60, end_ago = 7200, burst = 1, conc = 2;
    double rate = 5;
    static const struct option lo[] = {
        {"redis", 1, 0, 'r'},   {"prefix", 1, 0, 'p'}, {"brokers", 1, 0, 'b'},
        {"topic", 1, 0, 't'},   {"gateway", 1, 0, 'g'}, {"sellers", 1, 0, 'n'},
        {"jobs", 1, 0, 'j'},    {"window", 1, 0, 'w'}, {"end-ago", 1, 0, 'e'},
        {"rate", 1, 0, 'R'},    {"burst", 1, 0, 'B'},  {"key", 1, 0, 'k'},
        {"report", 1, 0, 'o'},  {"sid-prefix", 1, 0, 's'}, {"concurrency", 1, 0, 'c'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'r': redis_url = optarg; break;
        case 'p': prefix = optarg; break;
        case 'b': brokers = optarg; break;
        case 't': topic = optarg; break;
        case 'g': gateway = optarg; break;
        case 'n': sellers = strtoll(optarg, NULL, 10); break;
        case 'j': jobs = strtoll(optarg, NULL, 10); break;
        case 'w': window = strtoll(optarg, NULL, 10); break;
        case 'e': end_ago = strtoll(optarg, NULL, 10); break;
        case 'R': rate = strtod(optarg, NULL); break;
        case 'B': burst = strtoll(optarg, NULL, 10); break;
        case 'k': keyhex = optarg; break;
        case 'o': report = optarg; break;
        case 's': sidp = optarg; break;
        case 'c': conc = strtoll(optarg, NULL, 10); break;
        default: return 64;
        }
    }
    if (!redis_url || !brokers || !gateway || !keyhex) {
        fprintf(stderr, "usage: see the file comment\n");
        return 64;
    }
    char es[512];
    unsigned char key[32];
    struct wdts_redis_params rp;
    wdts_redis_params_init(&rp);
    if (wdts_crypto_key_parse(keyhex, key, es, sizeof(es)) != WDTS_OK ||
        wdts_redis_params_from_url(&rp, redis_url, es, sizeof(es)) != WDTS_OK) {
        fprintf(stderr, "%s\n", es);
        return 64;
    }
    struct wdts_redis *redis = wdts_redis_new(&rp, es, sizeof(es));
    struct wdts_param pp[] = {{"bootstrap.servers", brokers}, {"linger.ms", "20"}};
    struct wdts_kafka_producer *prod = wdts_kafka_producer_new(pp, 2, NULL, NULL, es, sizeof(es));
    if (!redis || !prod) {
        fprintf(stderr, "%s\n", es);
        return 1;
    }
    int64_t end = wdts_time_now() / 60 * 60 - end_ago, start = end - jobs * window;
    for (long long i = 0; i < sellers; i++) {
        struct wdts_conn *cn = wdts_conn_new();
        cn->tenant = wdts_xasprintf("bt%lld", i);
        cn->id = wdts_xasprintf("bc%lld", i);
        cn->sid = wdts_xasprintf("%s%lld", sidp, i);
        cn->appkey = wdts_xasprintf("bk%lld", i);
        cn->appsecret = wdts_xasprintf("bs%lld:bsalt%lld", i, i);
        free(cn->gateway);
        cn->gateway = wdts_xstrdup(gateway);
        wdts_conn_add_report(cn, report);
        cn->rate = rate;
        cn->burst = (int)burst;
        cn->concurrency = (int)conc;
        if (wdts_conn_seal(cn, key, es, sizeof(es)) != WDTS_OK ||
            wdts_conn_save(redis, prefix, cn, 1, es, sizeof(es)) != WDTS_OK) {
            fprintf(stderr, "connection: %s\n", es);
            return 1;
        }
        struct wdts_wm_id id = {cn->id, report};
        struct wdts_wm_state st;
        struct wdts_lua_call call;
        if (wdts_lua_call_exec(redis, &call,
                               wdts_wm_init_build(&call, prefix, &id, start, es, sizeof(es)),
                               (wdts_lua_parse_cb)wdts_wm_init_parse, &st, es,
                               sizeof(es)) != WDTS_OK) {
            fprintf(stderr, "wm_init: %s\n", es);
            return 1;
        }
        wdts_conn_destroy(cn);
    }
    long long produced = 0;
    for (long long j = 0; j < jobs; j++)
        for (long long i = 0; i < sellers; i++) {
            char tenant[32], conn[32];
            snprintf(tenant, sizeof(tenant), "bt%lld", i);
            snprintf(conn, sizeof(conn), "bc%lld", i);
            struct wdts_job job;
            if (wdts_job_init(&job, tenant, conn, report, start + j * window,
                              start + (j + 1) * window, WDTS_JOB_BACKFILL, 1, wdts_time_now(), es,
                              sizeof(es)) != WDTS_OK) {
                fprintf(stderr, "job: %s\n", es);
                return 1;
            }
            struct wdts_buf k, v;
            wdts_buf_init(&k);
            wdts_buf_init(&v);
            wdts_job_key(&job, &k);
            wdts_job_encode(&job, &v);
            struct wdts_kafka_out out = {.topic = topic, .partition = WDTS_KAFKA_PARTITION_ANY,
                                         .key = k.data, .key_len = k.len, .value = v.data,
                                         .value_len = v.len};
            while (wdts_kafka_produce(prod, &out) == WDTS_ERR_AGAIN)
                wdts_kafka_producer_poll(prod, 10);
            wdts_kafka_producer_poll(prod, 0);
            wdts_buf_deinit(&k);
            wdts_buf_deinit(&v);
            produced++;
        }
    if (wdts_kafka_producer_flush(prod, 60000) != WDTS_OK) {
        fprintf(stderr, "flush: %s\n", wdts_kafka_producer_errstr(prod));
        return 1;
    }
    printf("%lld connections, %lld jobs of %lld s each from %lld to %lld\n", sellers, produced,
           window, (long long)start, (long long)end);
    wdts_kafka_producer_destroy(prod);
    wdts_redis_destroy(redis);
    return 0;
}
