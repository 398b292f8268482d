/* Beijing time strings, the 2012 epoch offset and RFC 3339. */
#include "wdts_test.h"

#include "wdts/time.h"

static void test_wdt_timestamp_offset(void **state)
{
    (void)state;
    /* docs/API.md §2: Unix 1700000000 → 374652800 */
    assert_int_equal(wdts_time_wdt_timestamp(1700000000), 374652800);
    char bj[WDTS_BJTIME_LEN];
    wdts_time_format_beijing(WDTS_WDT_EPOCH, bj);
    assert_string_equal(bj, "2012-01-01 00:00:00");
}

static void test_beijing_round_trip(void **state)
{
    (void)state;
    char bj[WDTS_BJTIME_LEN];
    wdts_time_format_beijing(1700000000, bj); /* 2023-11-14 22:13:20 UTC */
    assert_string_equal(bj, "2023-11-15 06:13:20");
    int64_t t = 0;
    assert_int_equal(wdts_time_parse_beijing(bj, &t), WDTS_OK);
    assert_int_equal(t, 1700000000);
    assert_int_equal(wdts_time_parse_beijing("2024-02-29 23:59:59", &t), WDTS_OK);
    assert_int_equal(wdts_time_parse_beijing("2023-02-29 00:00:00", &t), WDTS_ERR_INVAL);
    assert_int_equal(wdts_time_parse_beijing("2023/02/06 17:59:19", &t), WDTS_ERR_INVAL);
    assert_int_equal(wdts_time_parse_beijing("2023-02-06 17:59:19 ", &t), WDTS_ERR_INVAL);
    assert_int_equal(wdts_time_parse_beijing("2023-02-06 24:00:00", &t), WDTS_ERR_INVAL);
}

static void test_rfc3339(void **state)
{
    (void)state;
    char r[WDTS_RFC3339_LEN];
    wdts_time_format_rfc3339(1700000000, r);
    assert_string_equal(r, "2023-11-15T06:13:20+08:00");
    int64_t t = 0;
    assert_int_equal(wdts_time_parse_rfc3339(r, &t), WDTS_OK);
    assert_int_equal(t, 1700000000);
    assert_int_equal(wdts_time_parse_rfc3339("2023-11-14T22:13:20Z", &t), WDTS_OK);
    assert_int_equal(t, 1700000000);
    assert_int_equal(wdts_time_parse_rfc3339("2023-11-14T22:13:20.250Z", &t), WDTS_OK);
    assert_int_equal(t, 1700000000);
    assert_int_equal(wdts_time_parse_rfc3339("1700000000", &t), WDTS_OK);
    assert_int_equal(t, 1700000000);
    assert_int_equal(wdts_time_parse_rfc3339("2023-11-14 22:13:20", &t), WDTS_ERR_INVAL);
    assert_int_equal(wdts_time_parse_rfc3339("yesterday", &t), WDTS_ERR_INVAL);
}

static void test_civil_days(void **state)
{
    (void)state;
    assert_int_equal(wdts_days_from_civil(1970, 1, 1), 0);
    int64_t y;
    unsigned m, d;
    for (int64_t days = -1000; days < 40000; days += 37) {
        wdts_civil_from_days(days, &y, &m, &d);
        assert_int_equal(wdts_days_from_civil(y, m, d), days);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wdt_timestamp_offset),
        cmocka_unit_test(test_beijing_round_trip),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_civil_days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
