/* Integers read from JSON values sent as numbers, whole reals or numeric strings. */
#include "wdts_test.h"

#include "wdts/json_num.h"

static void test_json_int(void **state)
{
    (void)state;
    long long v = -1;
    json_t *j = json_loads("[12, \"34\", \" 5\", 6.0, 6.5, \"x\", null, \"9999999999999\"]", 0, NULL);
    assert_true(wdts_json_int(json_array_get(j, 0), &v) && v == 12);
    assert_true(wdts_json_int(json_array_get(j, 1), &v) && v == 34);
    assert_true(wdts_json_int(json_array_get(j, 2), &v) && v == 5);
    assert_true(wdts_json_int(json_array_get(j, 3), &v) && v == 6);
    assert_false(wdts_json_int(json_array_get(j, 4), &v));
    assert_false(wdts_json_int(json_array_get(j, 5), &v));
    assert_false(wdts_json_int(json_array_get(j, 6), &v));
    assert_false(wdts_json_int(NULL, &v));
    assert_true(wdts_json_int(json_array_get(j, 7), &v) && v == 9999999999999LL);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_int),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
