/*
 * registry.h - in-process metrics: counters, gauges and histograms, each a
 * family with fixed label names and children keyed by label values. One
 * thread (the loop) owns it, so there are no locks. Pure.
 *
 * Ownership: the registry owns every family and child. A family pointer
 * stays valid until sb_registry_free; a child pointer until
 * sb_registry_free, sb_family_clear of its family, or its removal
 * (sb_metric_remove, sb_family_remove), so hot paths look a child up once
 * and keep the pointer, and whoever removes a child drops every copy of it.
 */
#ifndef SB_REGISTRY_H
#define SB_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sensorbridge/util.h"

#define SB_METRIC_MAX_LABELS 8
#define SB_METRIC_MAX_BUCKETS 32
#define SB_METRIC_MAX_CHILDREN 65536 /* per family; sb_family_child returns NULL beyond */

enum sb_metric_type {
    SB_COUNTER,
    SB_GAUGE,
    SB_HISTOGRAM,
};

struct sb_registry;
struct sb_family;
struct sb_metric;

/* Whether `name` is a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or
 * label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__"). The
 * registration below aborts on invalid names; callers that build names
 * from configuration check them first with these. */
bool sb_metric_name_valid(const char *name);
bool sb_label_name_valid(const char *name);

struct sb_registry *sb_registry_new(void);
void sb_registry_free(struct sb_registry *r);

/* Registers a family, or returns the existing one of that name (which
 * must have the same type and labels: a mismatch aborts, it is a bug).
 * `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]* and not start with "__"; counters must end in
 * "_total"; histograms may not use the label name "le". No two families
 * may use the same family or sample name in either format (e.g. a
 * histogram "x" and a gauge "x_count"; a counter "x_total", which
 * OpenMetrics calls the family "x" with samples "x_created", and a gauge
 * "x" or "x_created"). `buckets` (histograms only) are strictly increasing finite
 * upper bounds without +Inf, which is implicit. `help` must not be NULL;
 * on re-registration the first help text is kept. Strings are copied. */
struct sb_family *sb_registry_family(struct sb_registry *r, enum sb_metric_type type,
                                     const char *name, const char *help, size_t nlabels,
                                     const char *const *labelnames, const double *buckets,
                                     size_t nbuckets);

/* Gets or creates the child with these label values (nlabels of them;
 * any UTF-8 string; copied). Bytes that are not valid UTF-8 are replaced
 * by U+FFFD, both when creating and when looking up, because one invalid
 * label value would make Prometheus reject the whole scrape. NULL only
 * past SB_METRIC_MAX_CHILDREN (logged once per family until cleared). */
struct sb_metric *sb_family_child(struct sb_family *f, const char *const *labelvalues);

/* Removes one child from its family and frees it (m invalid afterwards;
 * NULL is a no-op, for pointers that sb_family_child left NULL at the
 * cap). Its series leaves the exposition; the same label values later give
 * a fresh child (counters from 0), and the slot counts again towards
 * SB_METRIC_MAX_CHILDREN. The "family full" warning is not repeated until
 * sb_family_clear, so a family that churns at the cap does not flood the
 * log. O(1) plus one hash chain. */
void sb_metric_remove(struct sb_metric *m);

/* Removes the child with these label values (looked up as
 * sb_family_child does, never created). Returns whether there was one. */
bool sb_family_remove(struct sb_family *f, const char *const *labelvalues);

/* Removes every child of a family (e.g. partitions no longer assigned).
 * Pointers to its children become invalid. */
void sb_family_clear(struct sb_family *f);

/* Counters only go up: a negative or NaN increment is ignored. */
void sb_counter_add(struct sb_metric *m, double v);
/* For collectors that mirror a monotonic count kept elsewhere (e.g. CPU time). */
void sb_counter_set(struct sb_metric *m, double v);
void sb_gauge_set(struct sb_metric *m, double v);
void sb_gauge_add(struct sb_metric *m, double v);
void sb_histogram_observe(struct sb_metric *m, double v);
double sb_metric_value(const struct sb_metric *m); /* counter/gauge value; histogram count */

/* A collector refreshes gauges just before each exposition (e.g. process
 * statistics read from /proc, consumer lag). Called in registration order.
 * The registry keeps ud, borrowed: whoever frees it before the registry
 * removes the collector first. A collector may update metrics but must not
 * add or remove collectors (that aborts: it is a bug). */
typedef void (*sb_collect_cb)(void *ud);
void sb_registry_add_collector(struct sb_registry *r, sb_collect_cb cb, void *ud);

/* Removes the collector added with this cb and ud (the earliest, if added
 * more than once): it is never called again, and the others keep their
 * order. Returns whether there was one. Not from inside a collector. */
bool sb_registry_remove_collector(struct sb_registry *r, sb_collect_cb cb, void *ud);

/* Calls cb for each child of the family called `name` (nothing if there is
 * none), in exposition order, with the family's label names, the child's
 * label values (as stored: UTF-8, not escaped) and its value as
 * sb_metric_value gives it. Collectors are not run. The arrays are valid
 * during the call only; cb must not add or remove children of the family. */
typedef void (*sb_child_cb)(void *ud, size_t nlabels, const char *const *labelnames,
                            const char *const *labelvalues, double value);
void sb_registry_each_child(struct sb_registry *r, const char *name, sb_child_cb cb, void *ud);

/* Runs the collectors, then appends the whole registry to out in the
 * Prometheus text format 0.0.4: families sorted by name, each with its
 * HELP and TYPE lines and its samples contiguous, children sorted by label
 * values; label values escaped (\\, \", \n), HELP escaped (\\, \n);
 * histograms as _bucket{le=...} (cumulative, ending with +Inf), _sum and
 * _count, with "le" formatted as client_golang does ("0.005", "1",
 * "1e+06") so series from Go and C exporters aggregate by le. Integral
 * values up to 2^53 print without exponent. A family with no children
 * prints only HELP and TYPE. */
void sb_registry_expose(struct sb_registry *r, struct sb_buf *out);

/* Runs the collectors, as sb_registry_expose does first: for a reader of
 * values through sb_registry_each_child that is not a scrape (the status
 * page's history, once a second). */
void sb_registry_collect(struct sb_registry *r);

/* The sum of the observations of every child of the histogram family
 * called `name`; 0 if there is none (sb_registry_each_child gives their
 * counts). */
double sb_registry_histogram_sum(struct sb_registry *r, const char *name);

#define SB_EXPOSITION_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The same in OpenMetrics 1.0.0, which Prometheus asks for first: runs the
 * collectors, then every family in the same order, with these differences
 * from the text format: a counter's "# HELP" and "# TYPE" name the family
 * without its _total (its samples keep it); every counter and histogram
 * child has a name_created sample, the wall-clock time its series was
 * created (sb_family_child; a removed and recreated child starts again) in
 * seconds with six decimals; a histogram's samples are the buckets,
 * _count, _sum (left out if a bound is negative, as the format demands)
 * and _created, with "le" in OpenMetrics' canonical form ("1.0" where the
 * text format has "1", which Prometheus 2.x stores as a different label
 * value); HELP also escapes '"'; and the output ends with "# EOF\n". */
void sb_registry_expose_openmetrics(struct sb_registry *r, struct sb_buf *out);

#define SB_OPENMETRICS_CONTENT_TYPE "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* How both expositions spell a sample value: an integral value up to 2^53
 * as a plain integer (counters mostly are, and "%.15g" would give 1e+15),
 * -0 as "0", NaN, +Inf and -Inf so, and any other value as sb_fmt_double
 * does, the shortest of "%.15g", "%.16g" and "%.17g" that reads back as v
 * (computed without printf for 1e-4 <= |v| < 1e15). Writes at most
 * SB_METRIC_VALUE_CHARS bytes, the NUL included; returns the length. */
#define SB_METRIC_VALUE_CHARS 32
size_t sb_metric_format_value(char *out, double v);

/* The wall clock (microseconds since the epoch) that stamps the creation
 * of each child from now on; sb_now_wall_us unless a test injects one. */
void sb_registry_set_clock(struct sb_registry *r, int64_t (*now_us)(void));

#endif
