/* Rows of a hand-made history method, cut to its own page (see sbx_conform_int.h). */
#include "sbx_conform_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/err.h"
#include "wdts/str.h"
#include "wdts/time.h"

static const json_t *find_named(const json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        const char *s = json_string_value(json_object_get(v, key));
        if (s && strcmp(s, value) == 0)
            return v;
    }
    return NULL;
}

/* The spec list `key` directly inside the list `parent` ("" for the row itself). */
static const json_t *find_list(const json_t *lists, const char *parent, const char *key)
{
    size_t i;
    json_t *l;
    json_array_foreach(lists, i, l) {
        const char *p = json_string_value(json_object_get(l, "parent"));
        const char *k = json_string_value(json_object_get(l, "key"));
        if (k && strcmp(k, key) == 0 && strcmp(p ? p : "", parent) == 0)
            return l;
    }
    return NULL;
}

/* The value of field f in the form the page shows; NULL: keep it as it is. */
static json_t *convert(const json_t *f, json_t *v)
{
    const char *example = json_string_value(json_object_get(f, "example"));
    const char *type = json_string_value(json_object_get(f, "type"));
    if (json_is_integer(v) && example && strcmp(example, "datetime") == 0) {
        char bj[WDTS_BJTIME_LEN];
        wdts_time_format_beijing(json_integer_value(v) / 1000, bj);
        return json_string(bj);
    }
    if (json_is_string(v) && type && strcmp(type, "int") == 0) {
        long long n;
        if (wdts_parse_int(json_string_value(v), INT64_MIN, INT64_MAX, &n) == WDTS_OK)
            return json_integer(n);
    }
    return NULL;
}

static void conform_object(json_t *obj, const json_t *fields, const json_t *lists,
                           const char *list_name, const char *keep)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(obj, tmp, k, v) {
        const json_t *l = find_list(lists, list_name, k);
        if (l != NULL) {
            size_t i;
            json_t *row;
            if (json_is_array(v))
                json_array_foreach(v, i, row) if (json_is_object(row))
                    conform_object(row, json_object_get(l, "fields"), lists, k, keep);
            if (json_is_object(v))
                conform_object(v, json_object_get(l, "fields"), lists, k, keep);
            continue;
        }
        const json_t *f = find_named(fields, "name", k);
        if (f == NULL) {
            json_object_del(obj, k);
            continue;
        }
        if (keep && *list_name == '\0' && strcmp(k, keep) == 0)
            continue;
        json_t *c = convert(f, v);
        if (c)
            json_object_set_new(obj, k, c);
    }
}

void sbx_conform_row(const json_t *row_spec, const char *keep, const char *json, size_t len,
                     struct wdts_buf *out)
{
    json_t *obj = json_loadb(json, len, 0, NULL);
    if (!json_is_object(obj)) {
        json_decref(obj);
        wdts_buf_append(out, json, len);
        return;
    }
    conform_object(obj, json_object_get(row_spec, "fields"), json_object_get(row_spec, "lists"),
                   "", keep);
    char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    wdts_buf_append_str(out, text);
    free(text);
    json_decref(obj);
}
