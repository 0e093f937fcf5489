/*
 * bench_registry.c - how long one /metrics scrape takes to render, and to
 * gzip, with a registry shaped like the daemon's at scale. A measurement,
 * not a test.
 *
 *   build/test/bench_registry [SERIES [ROUNDS [DUMP_PREFIX]]]
 *
 * SERIES (default 100,000) is the number of sample lines of the text
 * format, HELP and TYPE not counted: the daemon's per-sensor families
 * (sensorbridge_sensor_value, _samples_consumed_total, _values with its
 * +Inf bucket, sum and count, two windows of six gauges, alert and
 * producer families with 1-3 labels) are filled sensor after sensor until
 * exactly SERIES lines exist, beside the fixed families (the latency
 * histogram with its 16 buckets, consumer lag per partition, process
 * metrics). Values are what the daemon holds: three-decimal readings,
 * large integral counters, timestamps with fractions, full-precision means,
 * sums and squares, rare NaN and +Inf; all from a fixed seed, with a fixed
 * creation clock, so two builds render the same bytes (DUMP_PREFIX writes
 * them to DUMP_PREFIX.txt and DUMP_PREFIX.om for cmp and promtool).
 *
 * Each of ROUNDS rounds (default 7) renders both formats into a fresh
 * buffer, as a scrape does, and gzips each with sb_gzip (gzip.h), as
 * src/http.c does for a client that takes gzip (the copy of the body into
 * the gzip buffer is timed with it).
 * The medians are printed beside goal 6 of issue 10 (render /metrics with
 * 100,000 series in at most 50 ms).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sensorbridge/gzip.h"
#include "sensorbridge/registry.h"
#include "sensorbridge/util.h"

#define DEFAULT_SERIES 100000
#define DEFAULT_ROUNDS 7
#define GOAL_MS 50.0

/* A fixed seed: splitmix64 is enough for benchmark values. */
static uint64_t rng_state = 0x5eed5eed5eedu;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double unit(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* A reading as the dataset carries it: three decimals. */
static double thousandths(double lo, double hi)
{
    return round((lo + (hi - lo) * unit()) * 1000) / 1000;
}

static int64_t fake_clock_us = INT64_C(1762612245000000);

static int64_t fake_clock(void)
{
    return fake_clock_us += 1237;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* This thread's CPU time: on a shared machine it moves less than the wall
 * clock, which also counts the time other processes held the core. */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* What src/http.c does to a body a client takes gzipped: replaces it by
 * its gzip stream; returns the compressed size. */
static size_t gzip_like_http(struct sb_buf *body)
{
    if (!sb_gzip(body)) {
        fprintf(stderr, "bench_registry: sb_gzip failed\n");
        exit(2);
    }
    return body->len;
}

enum kind {
    K_READING,   /* three decimals, e.g. 101.234 */
    K_COUNT,     /* integral counter, up to ~1e10 */
    K_SMALL,     /* small integer: 0, 1, 2 */
    K_TIMESTAMP, /* seconds since the epoch with a tenth or hundredth */
    K_FULL,      /* a mean or a stddev: all 17 digits */
    K_SQUARES,   /* a running sum of squares: large, all 17 digits */
    K_LAG,       /* seconds, small: 0.0123, sometimes +Inf */
};

static double value_of(enum kind k)
{
    switch (k) {
    case K_READING:
        return thousandths(-50, 250);
    case K_COUNT:
        return (double)(rnd() % 10000000000u);
    case K_SMALL:
        return (double)(rnd() % 3);
    case K_TIMESTAMP:
        return 1762612245.0 + (double)(rnd() % 864000) / 10;
    case K_FULL:
        /* One stddev in a thousand is NaN (a window of one sample). */
        return rnd() % 1000 == 0 ? NAN : 150 * unit() + unit() * 1e-3;
    case K_SQUARES:
        return 1e9 * unit() + unit();
    case K_LAG:
        return rnd() % 1000 == 0 ? INFINITY : round(unit() * 1e5) / 1e6;
    }
    return 0;
}

struct per_sensor {
    enum sb_metric_type type;
    const char *name;
    size_t nlabels;
    const char *labels[3]; /* after "sensor" */
    const char *extra[2];  /* fixed values of labels[1..] */
    enum kind kind;
};

/* One sensor's series, in the daemon's families (docs/metrics.md). */
static const struct per_sensor sensor_children[] = {
    {SB_GAUGE, "sensorbridge_sensor_value", 1, {"sensor"}, {NULL}, K_READING},
    {SB_COUNTER, "sensorbridge_sensor_samples_consumed_total", 1, {"sensor"}, {NULL}, K_COUNT},
    {SB_GAUGE,
     "sensorbridge_sensor_last_event_timestamp_seconds",
     1,
     {"sensor"},
     {NULL},
     K_TIMESTAMP},
    {SB_GAUGE,
     "sensorbridge_sensor_info",
     3,
     {"sensor", "quantity", "unit"},
     {"pressure", "bar"},
     K_SMALL},
    {SB_HISTOGRAM, "sensorbridge_sensor_values", 1, {"sensor"}, {NULL}, K_FULL},
    {SB_COUNTER, "sensorbridge_sensor_values_squared_total", 1, {"sensor"}, {NULL}, K_SQUARES},
    {SB_GAUGE, "sensorbridge_window_samples", 2, {"sensor", "window"}, {"10s"}, K_COUNT},
    {SB_GAUGE, "sensorbridge_window_mean", 2, {"sensor", "window"}, {"10s"}, K_FULL},
    {SB_GAUGE, "sensorbridge_window_min", 2, {"sensor", "window"}, {"10s"}, K_READING},
    {SB_GAUGE, "sensorbridge_window_max", 2, {"sensor", "window"}, {"10s"}, K_READING},
    {SB_GAUGE, "sensorbridge_window_stddev", 2, {"sensor", "window"}, {"10s"}, K_FULL},
    {SB_GAUGE,
     "sensorbridge_window_end_timestamp_seconds",
     2,
     {"sensor", "window"},
     {"10s"},
     K_TIMESTAMP},
    {SB_GAUGE, "sensorbridge_window_samples", 2, {"sensor", "window"}, {"60s"}, K_COUNT},
    {SB_GAUGE, "sensorbridge_window_mean", 2, {"sensor", "window"}, {"60s"}, K_FULL},
    {SB_GAUGE, "sensorbridge_window_min", 2, {"sensor", "window"}, {"60s"}, K_READING},
    {SB_GAUGE, "sensorbridge_window_max", 2, {"sensor", "window"}, {"60s"}, K_READING},
    {SB_GAUGE, "sensorbridge_window_stddev", 2, {"sensor", "window"}, {"60s"}, K_FULL},
    {SB_GAUGE,
     "sensorbridge_window_end_timestamp_seconds",
     2,
     {"sensor", "window"},
     {"60s"},
     K_TIMESTAMP},
    {SB_COUNTER, "sensorbridge_window_late_samples_total", 1, {"sensor"}, {NULL}, K_SMALL},
    {SB_COUNTER, "sensorbridge_window_future_samples_total", 1, {"sensor"}, {NULL}, K_SMALL},
    {SB_GAUGE, "sensorbridge_alert_level", 2, {"sensor", "rule"}, {"high"}, K_SMALL},
    {SB_COUNTER, "sensorbridge_alerts_total", 2, {"sensor", "level"}, {"warning"}, K_SMALL},
    {SB_COUNTER, "sensorbridge_alerts_total", 2, {"sensor", "level"}, {"critical"}, K_SMALL},
    {SB_COUNTER, "sensorbridge_messages_produced_total", 1, {"sensor"}, {NULL}, K_COUNT},
    {SB_COUNTER, "sensorbridge_messages_delivered_total", 1, {"sensor"}, {NULL}, K_COUNT},
    {SB_COUNTER, "sensorbridge_messages_delivery_failed_total", 1, {"sensor"}, {NULL}, K_SMALL},
    {SB_GAUGE, "sensorbridge_replay_schedule_lag_seconds", 1, {"sensor"}, {NULL}, K_LAG},
};

static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,   0.5,   1,      2.5,   5,    10,    30,   60};

/* The families every daemon has, whatever its sensors; returns their lines. */
static size_t add_fixed(struct sb_registry *r)
{
    size_t lines = 0;
    struct sb_family *lat =
        sb_registry_family(r, SB_HISTOGRAM, "sensorbridge_end_to_end_latency_seconds",
                           "Time from the hand-off to the producer to the sample's application.", 0,
                           NULL, latency_buckets, SB_ARRAY_SIZE(latency_buckets));
    struct sb_metric *m = sb_family_child(lat, NULL);
    for (int i = 0; i < 200000; i++)
        sb_histogram_observe(m, unit() * unit() * 3);
    lines += SB_ARRAY_SIZE(latency_buckets) + 3; /* the buckets, +Inf, _sum, _count */

    const char *lagnames[] = {"topic", "partition"};
    struct sb_family *lag =
        sb_registry_family(r, SB_GAUGE, "sensorbridge_consumer_lag_messages",
                           "Messages between the consumer's position and the end of the partition.",
                           2, lagnames, NULL, 0);
    for (int p = 0; p < 64; p++) {
        char part[16];
        snprintf(part, sizeof(part), "%d", p);
        const char *vals[] = {"sensorbridge-samples", part};
        sb_gauge_set(sb_family_child(lag, vals), (double)(rnd() % 5000));
        lines++;
    }

    struct {
        enum sb_metric_type type;
        const char *name;
        double v;
    } proc[] = {
        {SB_COUNTER, "process_cpu_seconds_total", 1234.56},
        {SB_GAUGE, "process_resident_memory_bytes", 83886080},
        {SB_GAUGE, "process_virtual_memory_bytes", 1073741824},
        {SB_GAUGE, "process_open_fds", 42},
        {SB_GAUGE, "process_max_fds", 1048576},
        {SB_GAUGE, "process_start_time_seconds", 1762612245.37},
        {SB_COUNTER, "sensorbridge_consumer_messages_total", 96300000},
        {SB_GAUGE, "sensorbridge_ready", 1},
    };
    for (size_t i = 0; i < SB_ARRAY_SIZE(proc); i++) {
        struct sb_family *f = sb_registry_family(r, proc[i].type, proc[i].name,
                                                 "A process-wide figure.", 0, NULL, NULL, 0);
        struct sb_metric *c = sb_family_child(f, NULL);
        if (proc[i].type == SB_COUNTER)
            sb_counter_set(c, proc[i].v);
        else
            sb_gauge_set(c, proc[i].v);
        lines++;
    }
    return lines;
}

/* Adds sensors until exactly `series` lines exist; returns how many sensors. */
static size_t add_sensors(struct sb_registry *r, size_t series, size_t lines)
{
    size_t nsensors = 0;
    while (lines < series) {
        char sensor[32];
        snprintf(sensor, sizeof(sensor), "factory-%05zu", nsensors++);
        for (size_t i = 0; i < SB_ARRAY_SIZE(sensor_children) && lines < series; i++) {
            const struct per_sensor *c = &sensor_children[i];
            size_t cost = c->type == SB_HISTOGRAM ? 3 : 1; /* +Inf bucket, _sum, _count */
            if (lines + cost > series)
                continue;
            struct sb_family *f = sb_registry_family(r, c->type, c->name, "Per-sensor figure.",
                                                     c->nlabels, c->labels, NULL, 0);
            const char *vals[3] = {sensor, c->extra[0], c->extra[1]};
            struct sb_metric *m = sb_family_child(f, vals);
            if (c->type == SB_HISTOGRAM) {
                /* The ingest's sum of three-decimal readings: a long sum
                 * that needs all 17 digits. */
                int n = 1 + (int)(rnd() % 200);
                for (int k = 0; k < n; k++)
                    sb_histogram_observe(m, thousandths(0, 200));
            } else if (c->type == SB_COUNTER) {
                sb_counter_set(m, value_of(c->kind));
            } else {
                sb_gauge_set(m, value_of(c->kind));
            }
            lines += cost;
        }
    }
    return nsensors;
}

static void dump(const char *prefix, const char *ext, const struct sb_buf *b)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s.%s", prefix, ext);
    FILE *fp = fopen(path, "w");
    if (!fp || fwrite(b->data, 1, b->len, fp) != b->len || fclose(fp) != 0) {
        fprintf(stderr, "bench_registry: cannot write %s\n", path);
        exit(2);
    }
}

static void goal(const char *what, size_t series, double ms)
{
    printf("GOAL 6b: %s, %zu series = %.1f ms (goal <= %.0f ms) %s\n", what, series, ms, GOAL_MS,
           ms <= GOAL_MS ? "MET" : "NOT MET");
}

int main(int argc, char **argv)
{
    size_t series = argc > 1 ? strtoul(argv[1], NULL, 10) : DEFAULT_SERIES;
    size_t rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : DEFAULT_ROUNDS;
    const char *prefix = argc > 3 ? argv[3] : NULL;
    if (rounds == 0 || rounds > 1000) {
        fprintf(stderr, "usage: bench_registry [SERIES [ROUNDS (1-1000) [DUMP_PREFIX]]]\n");
        return 2;
    }

    struct sb_registry *r = sb_registry_new();
    sb_registry_set_clock(r, fake_clock);
    size_t lines = add_fixed(r);
    if (series < lines)
        series = lines;
    double t0 = now_ms();
    size_t nsensors = add_sensors(r, series, lines);
    double build_ms = now_ms() - t0;

    double *text = sb_xcalloc(rounds, sizeof(double));
    double *text_gz = sb_xcalloc(rounds, sizeof(double));
    double *om = sb_xcalloc(rounds, sizeof(double));
    double *om_gz = sb_xcalloc(rounds, sizeof(double));
    double *cpu_text = sb_xcalloc(rounds, sizeof(double));
    double *cpu_om = sb_xcalloc(rounds, sizeof(double));
    size_t text_len = 0, om_len = 0, text_gz_len = 0, om_gz_len = 0;
    for (size_t i = 0; i < rounds; i++) {
        /* The body is dumped between render and gzip, outside both clocks. */
        struct sb_buf body;
        sb_buf_init(&body);
        double ca = cpu_ms(), a = now_ms();
        sb_registry_expose(r, &body);
        double b = now_ms(), cb = cpu_ms();
        text_len = body.len;
        if (prefix && i == 0)
            dump(prefix, "txt", &body);
        double cc = cpu_ms(), c = now_ms();
        text_gz_len = gzip_like_http(&body);
        double d = now_ms();
        cpu_text[i] = (cb - ca) + (cpu_ms() - cc);
        text[i] = b - a;
        text_gz[i] = d - c;
        sb_buf_free(&body);

        sb_buf_init(&body);
        ca = cpu_ms();
        a = now_ms();
        sb_registry_expose_openmetrics(r, &body);
        b = now_ms();
        cb = cpu_ms();
        om_len = body.len;
        if (prefix && i == 0)
            dump(prefix, "om", &body);
        cc = cpu_ms();
        c = now_ms();
        om_gz_len = gzip_like_http(&body);
        d = now_ms();
        cpu_om[i] = (cb - ca) + (cpu_ms() - cc);
        om[i] = b - a;
        om_gz[i] = d - c;
        sb_buf_free(&body);
    }
    /* Render + gzip per round, then the median of those sums. */
    double *text_total = sb_xcalloc(rounds, sizeof(double));
    double *om_total = sb_xcalloc(rounds, sizeof(double));
    for (size_t i = 0; i < rounds; i++) {
        text_total[i] = text[i] + text_gz[i];
        om_total[i] = om[i] + om_gz[i];
    }

    printf("registry: %zu series (text sample lines), %zu sensors, built in %.0f ms; "
           "median of %zu rounds\n",
           series, nsensors, build_ms, rounds);
    printf("text:        %9zu bytes, gzipped %8zu bytes\n", text_len, text_gz_len);
    printf("openmetrics: %9zu bytes, gzipped %8zu bytes\n", om_len, om_gz_len);
    double mt = median(text_total, rounds), mo = median(om_total, rounds);
    double mtr = median(text, rounds), mtg = median(text_gz, rounds);
    double mor = median(om, rounds), mog = median(om_gz, rounds);
    printf("text render %.1f ms + gzip %.1f ms; openmetrics render %.1f ms + gzip %.1f ms "
           "(wall clock); render + gzip in CPU time: text %.1f ms, openmetrics %.1f ms\n",
           mtr, mtg, mor, mog, median(cpu_text, rounds), median(cpu_om, rounds));
    goal("render /metrics text + gzip", series, mt);
    goal("render /metrics openmetrics + gzip (what Prometheus 2.x negotiates)", series, mo);
    goal("render /metrics text", series, mtr);
    goal("render /metrics openmetrics", series, mor);

    free(text);
    free(text_gz);
    free(om);
    free(om_gz);
    free(cpu_text);
    free(cpu_om);
    free(text_total);
    free(om_total);
    sb_registry_free(r);
    return 0;
}
