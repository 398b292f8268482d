/* Hex digits, hex strings, percent-decoding and word tables (wdts/str.h). */
#include "wdts_test.h"

#include <stdint.h>
#include <string.h>

#include "wdts/str.h"

static void test_hex_value(void **state)
{
    (void)state;
    assert_int_equal(wdts_hex_value('0'), 0);
    assert_int_equal(wdts_hex_value('9'), 9);
    assert_int_equal(wdts_hex_value('a'), 10);
    assert_int_equal(wdts_hex_value('F'), 15);
    assert_int_equal(wdts_hex_value('g'), -1);
    assert_int_equal(wdts_hex_value('/'), -1);
    assert_int_equal(wdts_hex_value('\0'), -1);
    assert_int_equal(wdts_hex_value(0xc3), -1);
}

static void test_hex_decode(void **state)
{
    (void)state;
    unsigned char out[4] = {0};
    assert_int_equal(wdts_hex_decode("00fFa5", out, 3), 3);
    assert_int_equal(out[0], 0x00);
    assert_int_equal(out[1], 0xff);
    assert_int_equal(out[2], 0xa5);
    /* the count of whole bytes before the first bad pair, either digit of it */
    memset(out, 0, sizeof(out));
    assert_int_equal(wdts_hex_decode("12x4", out, 2), 1);
    assert_int_equal(out[0], 0x12);
    assert_int_equal(wdts_hex_decode("123x", out, 2), 1);
    assert_int_equal(wdts_hex_decode("g0", out, 1), 0);
    assert_int_equal(wdts_hex_decode("", out, 0), 0);
}

static void test_pct_decode_strict(void **state)
{
    (void)state;
    char out[16];
    const char *s = "a%2Fb%3a+c%25";
    assert_int_equal(wdts_pct_decode(s, strlen(s), out, sizeof(out), 0), 0);
    assert_string_equal(out, "a/b:+c%");
    assert_int_equal(wdts_pct_decode("", 0, out, sizeof(out), 0), 0);
    assert_string_equal(out, "");
    /* bad escapes: not hex, cut short at the end, a decoded NUL */
    assert_int_equal(wdts_pct_decode("a%zz", 4, out, sizeof(out), 0), -1);
    assert_int_equal(wdts_pct_decode("a%4", 3, out, sizeof(out), 0), -1);
    assert_int_equal(wdts_pct_decode("a%", 2, out, sizeof(out), 0), -1);
    assert_int_equal(wdts_pct_decode("a%00b", 5, out, sizeof(out), 0), -1);
    /* only len bytes are read */
    assert_int_equal(wdts_pct_decode("ab%41", 2, out, sizeof(out), 0), 0);
    assert_string_equal(out, "ab");
    /* the output and its NUL must fit */
    assert_int_equal(wdts_pct_decode("abcd", 4, out, 5, 0), 0);
    assert_int_equal(wdts_pct_decode("abcd", 4, out, 4, 0), -2);
    assert_int_equal(wdts_pct_decode("%41%42", 6, out, 3, 0), 0);
    assert_string_equal(out, "AB");
    assert_int_equal(wdts_pct_decode("", 0, out, 0, 0), -2);
}

static void test_pct_decode_form(void **state)
{
    (void)state;
    char out[32];
    /* a form body: '+' is a space, a stray '%' stays as it is */
    const char *s = "x+y%2By%zz%4%";
    assert_int_equal(
        wdts_pct_decode(s, strlen(s), out, sizeof(out), WDTS_PCT_PLUS_SPACE | WDTS_PCT_LENIENT), 0);
    assert_string_equal(out, "x y+y%zz%4%");
    /* lenient keeps a decoded NUL (the C string ends there) */
    assert_int_equal(wdts_pct_decode("a%00b", 5, out, sizeof(out), WDTS_PCT_LENIENT), 0);
    assert_int_equal(out[0], 'a');
    assert_int_equal(out[1], '\0');
    assert_int_equal(out[2], 'b');
    /* lenient without PLUS_SPACE keeps '+' */
    assert_int_equal(wdts_pct_decode("a+b", 3, out, sizeof(out), WDTS_PCT_LENIENT), 0);
    assert_string_equal(out, "a+b");
    /* UTF-8 bytes come back whole */
    const char *u = "%E6%97%BA";
    assert_int_equal(wdts_pct_decode(u, strlen(u), out, sizeof(out), WDTS_PCT_LENIENT), 0);
    assert_string_equal(out, "旺");
}

static void test_word_index(void **state)
{
    (void)state;
    static const char *const words[] = {"half", "closed", "open"};
    assert_int_equal(wdts_word_index(words, 3, "half"), 0);
    assert_int_equal(wdts_word_index(words, 3, "open"), 2);
    assert_int_equal(wdts_word_index(words, 2, "open"), -1); /* only n words are looked at */
    assert_int_equal(wdts_word_index(words, 3, "Open"), -1);
    assert_int_equal(wdts_word_index(words, 3, "ope"), -1);
    assert_int_equal(wdts_word_index(words, 3, ""), -1);
    assert_int_equal(wdts_word_index(words, 3, NULL), -1);
    assert_int_equal(wdts_word_index(words, 0, "half"), -1);
    assert_int_equal(wdts_word_index_nocase(words, 3, "CLOSED"), 1);
    assert_int_equal(wdts_word_index_nocase(words, 3, "clos"), -1);
    assert_int_equal(wdts_word_index_nocase(words, 3, NULL), -1);
    /* a NULL-terminated table */
    static const char *const listed[] = {"a", "b", NULL};
    assert_int_equal(wdts_word_index(listed, SIZE_MAX, "b"), 1);
    assert_int_equal(wdts_word_index(listed, SIZE_MAX, "c"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_value),
        cmocka_unit_test(test_hex_decode),
        cmocka_unit_test(test_pct_decode_strict),
        cmocka_unit_test(test_pct_decode_form),
        cmocka_unit_test(test_word_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
