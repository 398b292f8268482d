/* Integers from jansson values sent as numbers, whole reals or numeric strings (see
 * wdts/json_num.h). */
#include "wdts/json_num.h"

#include "wdts/str.h"

int wdts_json_int(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = (long long)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= -9e18 && d <= 9e18 && d == (double)(long long)d) {
            *out = (long long)d;
            return 1;
        }
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        while (*s == ' ')
            s++;
        long long x;
        if (wdts_parse_int(s, -9000000000000000000LL, 9000000000000000000LL, &x) == WDTS_OK) {
            *out = x;
            return 1;
        }
    }
    return 0;
}
