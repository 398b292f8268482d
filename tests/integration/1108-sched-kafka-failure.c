/* The plan state is stored only after Kafka acknowledged the jobs: with Produce failing
 * (injected on an own local Kafka), a pass emits nothing durable, records the error as the
 * report's last_error (wdtctl status shows it), stores no plan cursor and no outstanding
 * window, and exits 0 (one report's failure is not the scheduler's); once Kafka works
 * again the next pass emits the same windows, covering the backfill exactly once. */
#include "wdts_test_sched.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/redis.h"
#include "wdts/str.h"
#include "wdts_test.h"
#include "wdts_test_kafka.h"

#define T1 1795659453LL

static void test_kafka_failure(void **state)
{
    (void)state;
    struct st_env env;
    struct wdts_test_own_kafka k;
    struct st_jobs all;
    struct wdts_buf key;
    wdts_buf_init(&key);
    st_setup(&env, "4096");
    char spec[160];
    snprintf(spec, sizeof(spec), "%s:3", env.topic);
    assert_int_equal(wdts_test_own_kafka_start(&k, 1, spec), 0);
    env.brokers = k.boot;
    setenv("WDT_KAFKA_BOOTSTRAP_SERVERS", k.boot, 1);
    setenv("WDT_KAFKA_MESSAGE_TIMEOUT_MS", "5000", 1);
    setenv("WDT_SCHEDULER_JOB_LEASE", "1d", 1);
    static const char *const r1[] = {"trades", NULL};
    st_add_conn(&env, "acme", "c1", r1, 86400);

    wdts_test_own_kafka_control(&k, "error Produce TOPIC_AUTHORIZATION_FAILED 100",
                     "error Produce TOPIC_AUTHORIZATION_FAILED 100: ok");
    st_once(T1, NULL);
    char *v = NULL;
    const char *h1[] = {"HGET", sched_state_key(&key, env.prefix, "plan", "c1", "trades"),
                        "cursor"};
    assert_int_equal(wdts_redis_command_str(env.redis, 3, h1, NULL, &v, NULL), WDTS_OK);
    assert_null(v);
    long long card = -1;
    const char *zc[] = {"ZCARD", sched_state_key(&key, env.prefix, "out", "c1", "trades")};
    assert_int_equal(wdts_redis_command_int(env.redis, 2, zc, NULL, &card), WDTS_OK);
    assert_int_equal(card, 0);
    const char *h2[] = {"HGET", sched_state_key(&key, env.prefix, "stat", "c1", "trades"),
                        "last_error"};
    assert_int_equal(wdts_redis_command_str(env.redis, 3, h2, NULL, &v, NULL), WDTS_OK);
    assert_non_null(v);
    if (strstr(v, "emitting") == NULL)
        fail_msg("last_error does not say the emission failed: %s", v);
    free(v);

    /* wdtctl status shows it */
    const char *args[] = {"status", "--json", NULL};
    json_t *arr = wdts_test_run_json("wdtctl", args, 300);
    const char *le = json_string_value(json_object_get(json_array_get(arr, 0), "last_error"));
    assert_non_null(le);
    assert_non_null(strstr(le, "emitting"));
    const char *at = json_string_value(json_object_get(json_array_get(arr, 0), "last_error_at"));
    assert_non_null(at); /* the pass's time: T1 in Beijing time */
    assert_string_equal(at, "2026-11-26T10:17:33+08:00");
    json_decref(arr);

    /* Kafka works again: the same windows, exactly once on the topic */
    wdts_test_own_kafka_control(&k, "clear Produce", "clear Produce: ok");
    st_once(T1, NULL);
    st_consume(&env, &all);
    size_t n;
    struct wdts_job *jv = st_select(&all, "c1", "trades", 0, &n);
    st_check_cover(jv, n, sched_plan_align_down(T1 - 86400, 60),
                   sched_plan_align_down(T1 - 300, 60), 3600, "after the failure");
    assert_int_equal(n, all.n);
    free(jv);
    zc[1] = sched_state_key(&key, env.prefix, "out", "c1", "trades"); /* key was reused */
    assert_int_equal(wdts_redis_command_int(env.redis, 2, zc, NULL, &card), WDTS_OK);
    assert_int_equal(card, (long long)all.n);
    st_jobs_free(&all);
    wdts_test_own_kafka_stop(&k);
    wdts_buf_deinit(&key);
    st_teardown(&env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_kafka_failure)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
