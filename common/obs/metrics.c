/* Prometheus metrics registry (see metrics.h): families in a list under one registry mutex,
 * counter and gauge values as atomic doubles, histograms under a per-series mutex, and a
 * renderer for the text exposition format 0.0.4. Label text is escaped once, when a series is
 * created, so a scrape only copies bytes. No HTTP here. */
#include "wdts/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wdts/log.h"
#include "wdts/mem.h"
#include "wdts/str.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct wdts_metric_series {
    struct wdts_metric *m;           /* the family (borrowed back-pointer) */
    struct wdts_metric_series *next; /* creation order */
    uint64_t hash;                   /* of the raw label values, for lookup */
    char **values;                   /* m->nlabels raw values, owned */
    char *labels;                    /* escaped `a="x",b="y"` (owned; "" without labels) */
    _Atomic uint64_t bits;           /* counter/gauge: the value's double bits */
    pthread_mutex_t lock;            /* histogram: guards counts, sum, count */
    uint64_t *counts;                /* histogram: nbounds + 1 per-bucket (not cumulative) */
    double sum;
    uint64_t count;
};

struct wdts_metric {
    struct wdts_metrics *reg;
    struct wdts_metric *next;
    enum metric_type type;
    char *name;
    char *help;                      /* escaped for the HELP line */
    char **label_names;
    size_t nlabels;
    double *bounds;                  /* histogram upper bounds, strictly increasing */
    char **bound_text;               /* the same, formatted for le="..." */
    size_t nbounds;
    struct wdts_metric_series *head, *tail;
    size_t nseries;
    struct wdts_metric_series *overflow; /* shared by label sets past the limit; not rendered */
    uint64_t dropped;                /* label sets that got the overflow series */
};

struct wdts_metrics {
    pthread_mutex_t lock; /* guards the family list and every family's series list */
    struct wdts_metric *head, *tail;
};

static const char *type_name(enum metric_type t)
{
    switch (t) {
    case METRIC_COUNTER:
        return "counter";
    case METRIC_GAUGE:
        return "gauge";
    case METRIC_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

static double bits2d(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof(d));
    return d;
}

static uint64_t d2bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof(b));
    return b;
}

/* Shortest of %.15g / %.17g that reads back as the same double; integers without exponent. */
static void fmt_double(double v, char *out, size_t size)
{
    if (isnan(v)) {
        wdts_strlcpy(out, "NaN", size);
        return;
    }
    if (isinf(v)) {
        wdts_strlcpy(out, v > 0 ? "+Inf" : "-Inf", size);
        return;
    }
    if (v == 0) {
        wdts_strlcpy(out, "0", size);
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, size, "%.0f", v);
        return;
    }
    snprintf(out, size, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, size, "%.17g", v);
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 when the bytes there are not valid. */
static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n > left)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

/* Escapes per the 0.0.4 format: backslash and newline always, the double quote in label values.
 * The format requires UTF-8, so an invalid byte becomes U+FFFD rather than breaking the scrape. */
static void append_escaped(struct wdts_buf *b, const char *s, int quote)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    while (left > 0) {
        size_t n = utf8_seq_len(p, left);
        if (n == 0) {
            wdts_buf_append_str(b, "\xef\xbf\xbd");
            n = 1;
        } else if (*p == '\\') {
            wdts_buf_append_str(b, "\\\\");
        } else if (*p == '\n') {
            wdts_buf_append_str(b, "\\n");
        } else if (*p == '"' && quote) {
            wdts_buf_append_str(b, "\\\"");
        } else {
            wdts_buf_append(b, p, n);
        }
        p += n;
        left -= n;
    }
}

static int valid_metric_name(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (const char *p = s; *p; p++) {
        int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':';
        if (!alpha && !(p != s && *p >= '0' && *p <= '9'))
            return 0;
    }
    return 1;
}

static int valid_label_name(const char *s)
{
    if (s == NULL || *s == '\0' || wdts_str_has_prefix(s, "__"))
        return 0;
    for (const char *p = s; *p; p++) {
        int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_';
        if (!alpha && !(p != s && *p >= '0' && *p <= '9'))
            return 0;
    }
    return 1;
}

/* A histogram h also owns the names h_bucket, h_sum and h_count. */
static int owns_name(const struct wdts_metric *m, const char *name)
{
    if (strcmp(m->name, name) == 0)
        return 1;
    if (m->type != METRIC_HISTOGRAM)
        return 0;
    size_t n = strlen(m->name);
    return strncmp(m->name, name, n) == 0 &&
           (strcmp(name + n, "_bucket") == 0 || strcmp(name + n, "_sum") == 0 ||
            strcmp(name + n, "_count") == 0);
}

static int names_clash(const struct wdts_metric *a, const struct wdts_metric *b)
{
    static const char *const suffix[] = {"", "_bucket", "_sum", "_count"};
    size_t nb = b->type == METRIC_HISTOGRAM ? 4 : 1;
    char name[512];
    for (size_t i = 0; i < nb; i++) {
        snprintf(name, sizeof(name), "%s%s", b->name, suffix[i]);
        if (owns_name(a, name))
            return 1;
    }
    return 0;
}

struct wdts_metrics *wdts_metrics_new(void)
{
    struct wdts_metrics *reg = wdts_xcalloc(1, sizeof(*reg));
    pthread_mutex_init(&reg->lock, NULL);
    return reg;
}

static void series_free(struct wdts_metric_series *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; s->values && i < s->m->nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->labels);
    free(s->counts);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static void metric_free(struct wdts_metric *m)
{
    if (m == NULL)
        return;
    struct wdts_metric_series *s = m->head;
    while (s) {
        struct wdts_metric_series *next = s->next;
        series_free(s);
        s = next;
    }
    series_free(m->overflow);
    for (size_t i = 0; i < m->nlabels; i++)
        free(m->label_names[i]);
    free(m->label_names);
    for (size_t i = 0; i < m->nbounds; i++)
        free(m->bound_text[i]);
    free(m->bound_text);
    free(m->bounds);
    free(m->name);
    free(m->help);
    free(m);
}

void wdts_metrics_destroy(struct wdts_metrics *reg)
{
    if (reg == NULL)
        return;
    struct wdts_metric *m = reg->head;
    while (m) {
        struct wdts_metric *next = m->next;
        metric_free(m);
        m = next;
    }
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

static struct wdts_metric_series *series_new(struct wdts_metric *m, const char *const *values,
                                             uint64_t hash)
{
    struct wdts_metric_series *s = wdts_xcalloc(1, sizeof(*s));
    struct wdts_buf lb;
    s->m = m;
    s->hash = hash;
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->bits, d2bits(0.0));
    if (m->type == METRIC_HISTOGRAM)
        s->counts = wdts_xcalloc(m->nbounds + 1, sizeof(*s->counts));
    wdts_buf_init(&lb);
    if (m->nlabels > 0) {
        s->values = wdts_xcalloc(m->nlabels, sizeof(*s->values));
        for (size_t i = 0; i < m->nlabels; i++) {
            const char *v = values[i] ? values[i] : "";
            s->values[i] = wdts_xstrdup(v);
            if (i > 0)
                wdts_buf_append_str(&lb, ",");
            wdts_buf_printf(&lb, "%s=\"", m->label_names[i]);
            append_escaped(&lb, v, 1);
            wdts_buf_append_str(&lb, "\"");
        }
    }
    s->labels = lb.data ? wdts_buf_steal(&lb) : wdts_xstrdup("");
    return s;
}

/* Label names: valid, not "le" on a histogram, not given twice. @returns 0, or -1 with
 * the reason in errstr. */
static int check_labels(const char *name, enum metric_type type, const char *const *label_names,
                        size_t nlabels, char *errstr, size_t errstr_size)
{
    if (nlabels > 0 && label_names == NULL) {
        snprintf(errstr, errstr_size, "metric %s: %zu labels but no label names", name, nlabels);
        return -1;
    }
    for (size_t i = 0; i < nlabels; i++) {
        if (!valid_label_name(label_names[i])) {
            snprintf(errstr, errstr_size,
                     "metric %s: label name '%s' is invalid: use letters, digits and '_', not "
                     "starting with a digit or \"__\"",
                     name, label_names[i] ? label_names[i] : "(null)");
            return -1;
        }
        if (type == METRIC_HISTOGRAM && strcmp(label_names[i], "le") == 0) {
            snprintf(errstr, errstr_size, "metric %s: label name 'le' is reserved for histogram "
                                          "buckets", name);
            return -1;
        }
        if (wdts_word_index(label_names, i, label_names[i]) >= 0) {
            snprintf(errstr, errstr_size, "metric %s: label name '%s' given twice", name,
                     label_names[i]);
            return -1;
        }
    }
    return 0;
}

/* A histogram's bucket bounds: finite and strictly increasing; a last +Inf is dropped
 * from *nbounds (it is always there). @returns 0, or -1 with the reason in errstr. */
static int check_bounds(const char *name, const double *bounds, size_t *nbounds, char *errstr,
                        size_t errstr_size)
{
    if (*nbounds > 0 && bounds == NULL) {
        snprintf(errstr, errstr_size, "metric %s: %zu buckets but no bounds", name, *nbounds);
        return -1;
    }
    if (*nbounds > 0 && isinf(bounds[*nbounds - 1]) && bounds[*nbounds - 1] > 0)
        (*nbounds)--; /* +Inf is always there */
    for (size_t i = 0; i < *nbounds; i++) {
        if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
            snprintf(errstr, errstr_size,
                     "metric %s: bucket bounds must be finite and strictly increasing "
                     "(bound %zu is not)",
                     name, i);
            return -1;
        }
    }
    return 0;
}

/* A new family from checked arguments, not registered yet. */
static struct wdts_metric *metric_new(struct wdts_metrics *reg, enum metric_type type,
                                      const char *name, const char *help,
                                      const char *const *label_names, size_t nlabels,
                                      const double *bounds, size_t nbounds)
{
    struct wdts_metric *m = wdts_xcalloc(1, sizeof(*m));
    struct wdts_buf hb;
    wdts_buf_init(&hb);
    m->reg = reg;
    m->type = type;
    m->name = wdts_xstrdup(name);
    append_escaped(&hb, help ? help : "", 0);
    m->help = hb.data ? wdts_buf_steal(&hb) : wdts_xstrdup("");
    wdts_buf_deinit(&hb);
    m->nlabels = nlabels;
    if (nlabels > 0) {
        m->label_names = wdts_xcalloc(nlabels, sizeof(*m->label_names));
        for (size_t i = 0; i < nlabels; i++)
            m->label_names[i] = wdts_xstrdup(label_names[i]);
    }
    m->nbounds = nbounds;
    if (nbounds > 0) {
        m->bounds = wdts_xcalloc(nbounds, sizeof(*m->bounds));
        m->bound_text = wdts_xcalloc(nbounds, sizeof(*m->bound_text));
        for (size_t i = 0; i < nbounds; i++) {
            char t[40];
            m->bounds[i] = bounds[i];
            fmt_double(bounds[i], t, sizeof(t));
            m->bound_text[i] = wdts_xstrdup(t);
        }
    }
    return m;
}

static struct wdts_metric *metric_register(struct wdts_metrics *reg, enum metric_type type,
                                           const char *name, const char *help,
                                           const char *const *label_names, size_t nlabels,
                                           const double *bounds, size_t nbounds, char *errstr,
                                           size_t errstr_size)
{
    if (reg == NULL) {
        snprintf(errstr, errstr_size, "metric %s: no registry", name ? name : "(null)");
        return NULL;
    }
    if (!valid_metric_name(name)) {
        snprintf(errstr, errstr_size,
                 "metric name '%s' is invalid: use letters, digits, '_' and ':', not starting "
                 "with a digit",
                 name ? name : "(null)");
        return NULL;
    }
    if (check_labels(name, type, label_names, nlabels, errstr, errstr_size) != 0 ||
        (type == METRIC_HISTOGRAM &&
         check_bounds(name, bounds, &nbounds, errstr, errstr_size) != 0))
        return NULL;
    struct wdts_metric *m =
        metric_new(reg, type, name, help, label_names, nlabels, bounds, nbounds);

    pthread_mutex_lock(&reg->lock);
    for (struct wdts_metric *o = reg->head; o; o = o->next) {
        if (names_clash(o, m) || names_clash(m, o)) {
            pthread_mutex_unlock(&reg->lock);
            snprintf(errstr, errstr_size, "metric %s: the name clashes with the %s %s registered "
                                          "before", name, type_name(o->type), o->name);
            metric_free(m);
            return NULL;
        }
    }
    /* A family without labels has exactly one series; create it now so it renders as 0. */
    if (nlabels == 0) {
        m->head = m->tail = series_new(m, NULL, 0);
        m->nseries = 1;
    }
    if (reg->tail)
        reg->tail->next = m;
    else
        reg->head = m;
    reg->tail = m;
    pthread_mutex_unlock(&reg->lock);
    return m;
}

struct wdts_metric *wdts_metrics_counter(struct wdts_metrics *reg, const char *name,
                                         const char *help, const char *const *label_names,
                                         size_t nlabels, char *errstr, size_t errstr_size)
{
    return metric_register(reg, METRIC_COUNTER, name, help, label_names, nlabels, NULL, 0, errstr,
                           errstr_size);
}

struct wdts_metric *wdts_metrics_gauge(struct wdts_metrics *reg, const char *name, const char *help,
                                       const char *const *label_names, size_t nlabels,
                                       char *errstr, size_t errstr_size)
{
    return metric_register(reg, METRIC_GAUGE, name, help, label_names, nlabels, NULL, 0, errstr,
                           errstr_size);
}

struct wdts_metric *wdts_metrics_histogram(struct wdts_metrics *reg, const char *name,
                                           const char *help, const char *const *label_names,
                                           size_t nlabels, const double *bounds, size_t nbounds,
                                           char *errstr, size_t errstr_size)
{
    return metric_register(reg, METRIC_HISTOGRAM, name, help, label_names, nlabels, bounds,
                           nbounds, errstr, errstr_size);
}

static uint64_t values_hash(const char *const *values, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)(values[i] ? values[i] : ""); *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL; /* separator: ("a","bc") differs from ("ab","c") */
    }
    return h;
}

static int values_equal(const struct wdts_metric_series *s, const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
            return 0;
    return 1;
}

struct wdts_metric_series *wdts_metrics_series(struct wdts_metric *m, const char *const *values)
{
    WDTS_ASSERT(m != NULL);
    if (m->nlabels == 0) {
        WDTS_ASSERT(values == NULL);
        return m->head; /* created at registration, never changes */
    }
    WDTS_ASSERT(values != NULL);
    uint64_t h = values_hash(values, m->nlabels);
    struct wdts_metric_series *s;
    pthread_mutex_lock(&m->reg->lock);
    for (s = m->head; s; s = s->next)
        if (s->hash == h && values_equal(s, values, m->nlabels))
            goto out;
    if (m->nseries >= WDTS_METRICS_MAX_SERIES) {
        if (m->overflow == NULL)
            m->overflow = series_new(m, values, 0);
        m->dropped++;
        s = m->overflow;
        goto out;
    }
    s = series_new(m, values, h);
    if (m->tail)
        m->tail->next = s;
    else
        m->head = s;
    m->tail = s;
    m->nseries++;
out:
    pthread_mutex_unlock(&m->reg->lock);
    return s;
}

static void atomic_add_double(_Atomic uint64_t *bits, double v)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old, d2bits(bits2d(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void wdts_metrics_add(struct wdts_metric_series *s, double v)
{
    WDTS_ASSERT(s != NULL && s->m->type != METRIC_HISTOGRAM);
    if (s->m->type == METRIC_COUNTER && !(v >= 0))
        return; /* a counter never goes down; NaN fails the test too */
    atomic_add_double(&s->bits, v);
}

void wdts_metrics_inc(struct wdts_metric_series *s)
{
    wdts_metrics_add(s, 1.0);
}

void wdts_metrics_set(struct wdts_metric_series *s, double v)
{
    WDTS_ASSERT(s != NULL && s->m->type == METRIC_GAUGE);
    atomic_store_explicit(&s->bits, d2bits(v), memory_order_relaxed);
}

void wdts_metrics_observe(struct wdts_metric_series *s, double v)
{
    WDTS_ASSERT(s != NULL && s->m->type == METRIC_HISTOGRAM);
    if (isnan(v))
        return;
    const struct wdts_metric *m = s->m;
    size_t i = 0;
    while (i < m->nbounds && v > m->bounds[i]) /* "le": a value equal to a bound belongs to it */
        i++;
    pthread_mutex_lock(&s->lock);
    s->counts[i]++;
    s->count++;
    s->sum += v;
    pthread_mutex_unlock(&s->lock);
}

double wdts_metrics_value(const struct wdts_metric_series *s)
{
    WDTS_ASSERT(s != NULL);
    if (s->m->type == METRIC_HISTOGRAM) {
        struct wdts_metric_series *ms = (struct wdts_metric_series *)s; /* the lock is not data */
        pthread_mutex_lock(&ms->lock);
        double c = (double)ms->count;
        pthread_mutex_unlock(&ms->lock);
        return c;
    }
    return bits2d(atomic_load_explicit(&((struct wdts_metric_series *)s)->bits,
                                       memory_order_relaxed));
}

/* name{labels[,extra]} value\n */
static void render_line(struct wdts_buf *out, const char *name, const char *suffix,
                        const char *labels, const char *extra, double v)
{
    char num[40];
    fmt_double(v, num, sizeof(num));
    wdts_buf_append_str(out, name);
    wdts_buf_append_str(out, suffix);
    if (*labels || extra) {
        wdts_buf_append_str(out, "{");
        wdts_buf_append_str(out, labels);
        if (extra) {
            if (*labels)
                wdts_buf_append_str(out, ",");
            wdts_buf_append_str(out, extra);
        }
        wdts_buf_append_str(out, "}");
    }
    wdts_buf_append_str(out, " ");
    wdts_buf_append_str(out, num);
    wdts_buf_append_str(out, "\n");
}

static void render_histogram(struct wdts_buf *out, const struct wdts_metric *m,
                             struct wdts_metric_series *s, uint64_t *snap)
{
    double sum;
    uint64_t count;
    char le[64];
    /* Copy under the series lock so buckets, sum and count are of one moment. */
    pthread_mutex_lock(&s->lock);
    memcpy(snap, s->counts, (m->nbounds + 1) * sizeof(*snap));
    sum = s->sum;
    count = s->count;
    pthread_mutex_unlock(&s->lock);
    uint64_t cum = 0;
    for (size_t i = 0; i <= m->nbounds; i++) {
        cum += snap[i];
        snprintf(le, sizeof(le), "le=\"%s\"", i < m->nbounds ? m->bound_text[i] : "+Inf");
        render_line(out, m->name, "_bucket", s->labels, le, (double)cum);
    }
    render_line(out, m->name, "_sum", s->labels, NULL, sum);
    render_line(out, m->name, "_count", s->labels, NULL, (double)count);
}

void wdts_metrics_render(struct wdts_metrics *reg, struct wdts_buf *out)
{
    pthread_mutex_lock(&reg->lock);
    for (const struct wdts_metric *m = reg->head; m; m = m->next) {
        uint64_t *snap = NULL;
        wdts_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
                        type_name(m->type));
        if (m->type == METRIC_HISTOGRAM)
            snap = wdts_xcalloc(m->nbounds + 1, sizeof(*snap));
        for (struct wdts_metric_series *s = m->head; s; s = s->next) {
            if (m->type == METRIC_HISTOGRAM)
                render_histogram(out, m, s, snap);
            else
                render_line(out, m->name, "", s->labels, NULL, wdts_metrics_value(s));
        }
        free(snap);
        if (m->dropped > 0)
            wdts_buf_printf(out,
                            "# %s: %llu label sets dropped past %d series; a label has too many "
                            "values\n",
                            m->name, (unsigned long long)m->dropped, WDTS_METRICS_MAX_SERIES);
    }
    pthread_mutex_unlock(&reg->lock);
}
