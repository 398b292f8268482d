/* Report selection by group and name (wdts_catalog_select(), wdts/catalog.h): what
 * `--reports` accepts. Pure: no I/O; the catalog is only read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/catalog.h"
#include "wdts/mem.h"
#include "wdts/str.h"

static int is_group(const char *w)
{
    return wdts_word_index(wdts_catalog_groups, SIZE_MAX, w) >= 0;
}

/* "unknown report or group 'x': groups: sales (trades, …), …; reports: …" */
static void unknown(const struct wdts_catalog *cat, const char *word, char *errstr,
                    size_t errstr_size)
{
    struct wdts_buf b;
    wdts_buf_init(&b);
    if (*word)
        wdts_buf_printf(&b, "unknown report or group '%s'", word);
    else
        wdts_buf_printf(&b, "an empty name in the list");
    wdts_buf_printf(&b, "; give comma-separated groups, report names or all. Groups:");
    for (size_t g = 0; wdts_catalog_groups[g]; g++) {
        wdts_buf_printf(&b, "%s %s (", g ? ";" : "", wdts_catalog_groups[g]);
        size_t k = 0;
        for (size_t i = 0; i < wdts_catalog_count(cat); i++) {
            const struct wdts_catalog_report *r = wdts_catalog_at(cat, i);
            if (strcmp(r->group, wdts_catalog_groups[g]) == 0)
                wdts_buf_printf(&b, "%s%s", k++ ? ", " : "", r->name);
        }
        wdts_buf_printf(&b, ")");
    }
    wdts_buf_printf(&b, ". A report named like a group alone: report:NAME (report:stock)");
    snprintf(errstr, errstr_size, "%s", wdts_buf_str(&b));
    wdts_buf_deinit(&b);
}

long wdts_catalog_select(const struct wdts_catalog *cat, const char *list, unsigned char *sel,
                         char *errstr, size_t errstr_size)
{
    size_t n = wdts_catalog_count(cat);
    memset(sel, 0, n);
    if (list == NULL || *list == '\0')
        list = "all";
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *word = wdts_xstrndup(p, len);
        int matched = 0;
        if (strcmp(word, "all") == 0) {
            memset(sel, 1, n);
            matched = 1;
        } else if (is_group(word)) {
            for (size_t i = 0; i < n; i++)
                if (strcmp(wdts_catalog_at(cat, i)->group, word) == 0)
                    sel[i] = 1;
            matched = 1; /* a group with no report yet selects nothing, and is no error */
        } else {
            const char *name = strncmp(word, "report:", 7) == 0 ? word + 7 : word;
            for (size_t i = 0; i < n; i++)
                if (strcmp(wdts_catalog_at(cat, i)->name, name) == 0)
                    sel[i] = matched = 1;
        }
        if (!matched) {
            unknown(cat, word, errstr, errstr_size);
            free(word);
            return -1;
        }
        free(word);
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    long count = 0;
    for (size_t i = 0; i < n; i++)
        count += sel[i];
    if (count == 0) {
        snprintf(errstr, errstr_size, "'%s' selects no report (its groups have none yet); "
                 "wdtctl reports lists them", list);
        return -1;
    }
    return count;
}
