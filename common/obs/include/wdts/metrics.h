/* A small Prometheus metrics registry: counters, gauges and fixed-bucket histograms, each with an
 * optional set of labels, rendered in the text exposition format 0.0.4. It does not serve HTTP
 * (see http_server.h), collect process metrics or expire series: a series lives as long as its
 * registry, so label values must come from small, bounded sets (classes, methods, reports). */
#ifndef WDTS_METRICS_H
#define WDTS_METRICS_H

#include <stddef.h>

struct wdts_buf;

/*
 * Ownership:
 *   wdts_metrics (registry) --owns--> wdts_metric (one family: name, help, type, label names)
 *   wdts_metric             --owns--> wdts_metric_series (one set of label values, the numbers)
 * Families and series are never freed before wdts_metrics_destroy(), so pointers to them may be
 * cached by the caller for the registry's whole life: look a series up once, update it cheaply.
 *
 * Threads: every function may be called from any thread. Registration and series lookup take the
 * registry mutex; counter and gauge updates are lock-free atomics; a histogram observation takes a
 * mutex of its own series, so a scrape always sees buckets, _sum and _count of the same moment.
 * Rendering takes the registry mutex (it blocks registration and lookups, never counter or gauge
 * updates). Typical use: the event loop updates, the HTTP server thread renders.
 *
 * Misuse that is a programming error (updating a series with the operation of another type,
 * passing label values to a family that has none) aborts through WDTS_ASSERT. Bad numbers do not:
 * a counter ignores negative and NaN increments, a histogram ignores NaN.
 *
 * Example (the worker's calls by class and method):
 *   static const char *const lbl[] = {"class", "method"};
 *   struct wdts_metric *calls = wdts_metrics_counter(reg, "wdt_calls_total",
 *                                                    "API calls by class and method.", lbl, 2,
 *                                                    errstr, sizeof(errstr));
 *   const char *v[] = {"rate_limited", "sales.TradeQuery.queryWithDetail"};
 *   wdts_metrics_inc(wdts_metrics_series(calls, v));
 */
struct wdts_metrics;
struct wdts_metric;
struct wdts_metric_series;

/** Series per family beyond which new label sets are counted but not rendered (see below). */
#define WDTS_METRICS_MAX_SERIES 10000

/** Buckets for HTTP call latency in seconds (10 ms .. 30 s). */
#define WDTS_METRICS_LATENCY_BUCKETS                                                               \
    { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 }

/**
 * @brief  Creates an empty registry.
 * @owner  Returns a new object; free with wdts_metrics_destroy().
 */
struct wdts_metrics *wdts_metrics_new(void);

/**
 * @brief  Frees the registry, its families and series. NULL is a no-op.
 * @thread Nothing may use the registry, its families or series during or after this call (stop
 *         the HTTP server that renders it first).
 */
void wdts_metrics_destroy(struct wdts_metrics *reg);

/**
 * @brief  Registers a counter family (a value that only goes up).
 * @param  name         metric name, [a-zA-Z_:][a-zA-Z0-9_:]*; by convention ends in "_total".
 * @param  help         one-line description (may contain any text; it is escaped).
 * @param  label_names  nlabels label names, [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__";
 *                      NULL when nlabels is 0.
 * @owner  All strings are borrowed (copied). Returns a family owned by reg.
 * @returns NULL on an invalid or duplicate name, with the reason in errstr.
 */
struct wdts_metric *wdts_metrics_counter(struct wdts_metrics *reg, const char *name,
                                         const char *help, const char *const *label_names,
                                         size_t nlabels, char *errstr, size_t errstr_size);

/** @brief Registers a gauge family (a value that goes up and down). Same rules as a counter. */
struct wdts_metric *wdts_metrics_gauge(struct wdts_metrics *reg, const char *name, const char *help,
                                       const char *const *label_names, size_t nlabels,
                                       char *errstr, size_t errstr_size);

/**
 * @brief  Registers a histogram family with fixed bucket upper bounds.
 * @param  bounds   nbounds finite upper bounds, strictly increasing; the "+Inf" bucket is implicit
 *                  (a trailing +Inf is accepted and ignored). Copied.
 * @param  label_names  as for counters; "le" is reserved and refused.
 * @returns NULL on an invalid name, label or bounds, with the reason in errstr.
 */
struct wdts_metric *wdts_metrics_histogram(struct wdts_metrics *reg, const char *name,
                                           const char *help, const char *const *label_names,
                                           size_t nlabels, const double *bounds, size_t nbounds,
                                           char *errstr, size_t errstr_size);

/**
 * @brief  The series of a family for one set of label values, created (at 0) on first use.
 * @param  values  as many values as the family has label names (NULL for a family without
 *                 labels); any bytes are allowed, a NULL value counts as "". Copied.
 * @owner  Returns a series owned by the registry; valid until wdts_metrics_destroy().
 * @returns never NULL. Past WDTS_METRICS_MAX_SERIES series in the family, a shared overflow
 *          series that is not rendered is returned and the render notes how many label sets were
 *          dropped, so a label with unbounded values degrades the metric instead of the process.
 */
struct wdts_metric_series *wdts_metrics_series(struct wdts_metric *m, const char *const *values);

/** @brief Counter or gauge: adds 1. */
void wdts_metrics_inc(struct wdts_metric_series *s);
/** @brief Counter or gauge: adds v (a counter ignores v < 0 and NaN). */
void wdts_metrics_add(struct wdts_metric_series *s, double v);
/** @brief Gauge only: sets the value. */
void wdts_metrics_set(struct wdts_metric_series *s, double v);
/** @brief Histogram only: records one observation (NaN is ignored). */
void wdts_metrics_observe(struct wdts_metric_series *s, double v);
/** @returns the current value of a counter or gauge series, or the count of a histogram series. */
double wdts_metrics_value(const struct wdts_metric_series *s);

/**
 * @brief  Appends every family, in registration order, to out in the text format 0.0.4: a HELP
 *         and a TYPE line per family, then its series in creation order. A family without labels
 *         shows its single series at 0 before the first update; a labelled family shows only the
 *         label sets used so far.
 * @owner  out: borrowed, appended to.
 */
void wdts_metrics_render(struct wdts_metrics *reg, struct wdts_buf *out);

/** Content-Type of the rendered text, for an HTTP response. */
#define WDTS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
