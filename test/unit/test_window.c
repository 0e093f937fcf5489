/* test_window.c - event-time tumbling windows: statistics, watermark,
 * lateness, several sizes, bounded state. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sensorbridge/sensors.h"
#include "sensorbridge/sensortab.h"
#include "sensorbridge/util.h"
#include "sensorbridge/window.h"

#define S_US INT64_C(1000000)

/* The engines a test has open, each with its own sensortab: a record's
 * windows slot serves one engine. wadd, wforget and wfree stand for
 * sb_windows_add, sb_windows_forget and sb_windows_free by name. */
static struct {
    struct sb_windows *w;
    struct sb_sensortab *t;
} engines[8];

static struct sb_sensortab *table_of(struct sb_windows *w)
{
    for (size_t i = 0; i < 8; i++)
        if (engines[i].w == w)
            return engines[i].t;
    for (size_t i = 0; i < 8; i++) {
        if (!engines[i].w) {
            engines[i].w = w;
            engines[i].t = sb_sensortab_new(1000000);
            return engines[i].t;
        }
    }
    fail_msg("more than 8 engines open");
    return NULL;
}

static enum sb_window_verdict wadd(struct sb_windows *w, const char *sensor, int64_t ts_us,
                                   double value, const struct sb_window_run *run)
{
    struct sb_sensor *rec = sb_sensortab_get(table_of(w), sensor);
    assert_non_null(rec);
    return sb_windows_add(w, rec, ts_us, value, run);
}

static bool wforget(struct sb_windows *w, const char *sensor)
{
    struct sb_sensor *rec = sb_sensortab_find(table_of(w), sensor);
    return rec && sb_windows_forget(w, rec);
}

static void wfree(struct sb_windows *w)
{
    sb_windows_free(w);
    for (size_t i = 0; i < 8; i++) {
        if (engines[i].w == w) {
            sb_sensortab_free(engines[i].t);
            engines[i].w = NULL;
            engines[i].t = NULL;
        }
    }
}

/* Every closed window, copied: results are valid only during the callback. */
struct got {
    struct sb_window_result r;
    char sensor[SB_SENSOR_NAME_MAX];
};

struct collector {
    struct got *v;
    size_t n;
    size_t cap;
};

static void collect(void *ud, const struct sb_window_result *w)
{
    struct collector *c = ud;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->v = sb_xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    struct got *g = &c->v[c->n++];
    g->r = *w;
    snprintf(g->sensor, sizeof(g->sensor), "%s", w->sensor);
    g->r.sensor = NULL;
}

static void collector_free(struct collector *c)
{
    free(c->v);
    memset(c, 0, sizeof(*c));
}

static struct sb_windows *new1(int64_t size, int64_t lateness, int max_open, struct collector *c)
{
    int64_t sizes[] = {size};
    struct sb_windows *w = sb_windows_new(sizes, 1, lateness, max_open, collect, c);
    assert_non_null(w);
    return w;
}

static void assert_close(double got, double want, double rel)
{
    double tol = rel * fmax(fabs(want), 1e-300);
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (rel %.3g)", got, want, fabs(got - want) / fabs(want));
}

/* The reference: two passes in long double over the same doubles, the
 * mean corrected by the mean of the residuals (so it stays exact where
 * long double is only double, as under valgrind). */
struct ref {
    long double mean;
    long double stddev;
    double min;
    double max;
};

static struct ref two_pass(const double *x, size_t n)
{
    struct ref r = {0, 0, x[0], x[0]};
    long double s = 0;
    for (size_t i = 0; i < n; i++) {
        s += x[i];
        r.min = fmin(r.min, x[i]);
        r.max = fmax(r.max, x[i]);
    }
    r.mean = s / (long double)n;
    long double resid = 0;
    for (size_t i = 0; i < n; i++)
        resid += x[i] - r.mean;
    r.mean += resid / (long double)n;
    long double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - r.mean) * (x[i] - r.mean);
    r.stddev = sqrtl(ss / (long double)n);
    return r;
}

/* A reproducible generator for noise (xorshift64*), uniform in [-1, 1). */
static double noise(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double)((x * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0 * 2 - 1;
}

static void window_exact_stats_known_sequence(void **state)
{
    (void)state;
    struct collector c = {0};
    struct sb_windows *w = new1(60 * S_US, 0, 10, &c);
    const double v[] = {4, 1, 3, 2};
    const int64_t t[] = {5, 1, 59, 30}; /* seconds, out of order within the window */
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(wadd(w, "PS1", t[i] * S_US, v[i], NULL), SB_WINDOW_ACCEPTED);
    assert_int_equal(c.n, 0);
    assert_int_equal(sb_windows_open_count(w), 1);
    /* The next window's first sample moves the watermark (lateness 0) to 60 s. */
    assert_int_equal(wadd(w, "PS1", 60 * S_US, 100, NULL), SB_WINDOW_ACCEPTED);
    assert_int_equal(c.n, 1);
    const struct sb_window_result *r = &c.v[0].r;
    assert_string_equal(c.v[0].sensor, "PS1");
    assert_int_equal(r->size_us, 60 * S_US);
    assert_int_equal(r->start_us, 0);
    assert_int_equal(r->end_us, 60 * S_US);
    assert_int_equal(r->count, 4);
    assert_true(r->sum == 10);
    assert_true(r->min == 1);
    assert_true(r->max == 4);
    assert_close(r->mean, 2.5, 1e-15);
    assert_close(r->stddev, sqrt(1.25), 1e-15);
    assert_int_equal(r->first_ts_us, 1 * S_US);
    assert_int_equal(r->last_ts_us, 59 * S_US);
    assert_int_equal(r->closed, SB_WINDOW_CLOSED_WATERMARK);
    assert_true(r->complete);
    assert_int_equal(sb_windows_open_count(w), 1);
    wfree(w);
    collector_free(&c);
}

static void window_single_sample_has_zero_stddev(void **state)
{
    (void)state;
    struct collector c = {0};
    struct sb_windows *w = new1(S_US, 0, 10, &c);
    wadd(w, "a", 500000, -7.25, NULL);
    wadd(w, "a", 1000000, 0, NULL);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.v[0].r.count, 1);
    assert_true(c.v[0].r.mean == -7.25);
    assert_true(c.v[0].r.sum == -7.25);
    assert_true(c.v[0].r.stddev == 0);
    assert_int_equal(c.v[0].r.first_ts_us, 500000);
    assert_int_equal(c.v[0].r.last_ts_us, 500000);
    wfree(w);
    collector_free(&c);
}

/* Feeds n values at 100 Hz from t0 and checks the window they fill. */
static void check_cycle(const double *x, size_t n, int64_t t0)
{
    struct collector c = {0};
    int64_t sizes[] = {60 * S_US};
    struct sb_windows *w = sb_windows_new(sizes, 1, 10 * S_US, 4, collect, &c);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(wadd(w, "PS2", t0 + (int64_t)i * 10000, x[i], NULL), SB_WINDOW_ACCEPTED);
    /* Past the window end plus the lateness. */
    wadd(w, "PS2", t0 + 70 * S_US, 0, NULL);
    assert_int_equal(c.n, 1);
    const struct sb_window_result *r = &c.v[0].r;
    struct ref ref = two_pass(x, n);
    assert_int_equal(r->count, n);
    assert_int_equal(r->start_us, t0);
    assert_int_equal(r->end_us, t0 + 60 * S_US);
    assert_int_equal(r->first_ts_us, t0);
    assert_int_equal(r->last_ts_us, t0 + (int64_t)(n - 1) * 10000);
    assert_true(r->min == ref.min);
    assert_true(r->max == ref.max);
    assert_close(r->mean, (double)ref.mean, 1e-12);
    assert_close(r->stddev, (double)ref.stddev, 1e-12);
    assert_close(r->sum, (double)(ref.mean * n), 1e-12);
    wfree(w);
    collector_free(&c);
}

static double *read_cycles(size_t *n)
{
    const char *dir = getenv("SB_FIXTURES");
    char path[4096];
    snprintf(path, sizeof(path), "%s/PS2_cycles_0001-0002.txt",
             dir && *dir ? dir : "test/fixtures");
    FILE *fp = fopen(path, "r");
    if (!fp)
        fail_msg("cannot open %s (set SB_FIXTURES or run from the source root)", path);
    size_t cap = 12000;
    double *x = sb_xmalloc(cap * sizeof(*x));
    *n = 0;
    while (*n < cap && fscanf(fp, "%lf", &x[*n]) == 1)
        (*n)++;
    fclose(fp);
    return x;
}

static void window_cycle_matches_two_pass(void **state)
{
    (void)state;
    /* Real hydraulic data: PS2 is sampled at 100 Hz, 6000 values a cycle. */
    size_t n;
    double *x = read_cycles(&n);
    assert_int_equal(n, 12000);
    int64_t t0 = INT64_C(1700000040) * S_US; /* a whole minute */
    check_cycle(x, 6000, t0);
    check_cycle(x + 6000, 6000, t0 + 60 * S_US);
    free(x);

    /* A synthetic cycle with a mean far from zero and a small spread. */
    uint64_t seed = 42;
    double y[6000];
    for (size_t i = 0; i < 6000; i++)
        y[i] = 150 + 5 * sin((double)i / 300) + 0.01 * noise(&seed);
    check_cycle(y, 6000, t0);
}

static void window_welford_large_offset(void **state)
{
    (void)state;
    uint64_t seed = 7;
    double x[6000];
    for (size_t i = 0; i < 6000; i++)
        x[i] = 1e9 + noise(&seed);
    struct ref ref = two_pass(x, 6000);

    /* The naive sum-of-squares formula loses everything to the offset... */
    double s = 0, s2 = 0;
    for (size_t i = 0; i < 6000; i++) {
        s += x[i];
        s2 += x[i] * x[i];
    }
    double naive_var = s2 / 6000 - (s / 6000) * (s / 6000);
    double naive_sd = naive_var > 0 ? sqrt(naive_var) : 0;
    assert_true(fabs(naive_sd - (double)ref.stddev) > 0.01 * (double)ref.stddev);

    /* ...the engine keeps full precision. */
    check_cycle(x, 6000, 0);

    /* Also when the window's first value is not typical of it. */
    x[0] = 1e9 - 1000;
    check_cycle(x, 6000, 0);
}

static void window_out_of_order_within_lateness(void **state)
{
    (void)state;
    struct collector c = {0};
    struct sb_windows *w = new1(60 * S_US, 10 * S_US, 10, &c);
    assert_int_equal(wadd(w, "x", 55 * S_US, 1, NULL), SB_WINDOW_ACCEPTED);
    assert_int_equal(wadd(w, "x", 62 * S_US, 100, NULL), SB_WINDOW_ACCEPTED);
    /* Watermark 52 s: [0, 60) is still open, the sample lands there. */
    assert_int_equal(wadd(w, "x", 58 * S_US, 3, NULL), SB_WINDOW_ACCEPTED);
    assert_int_equal(wadd(w, "x", 61 * S_US, 200, NULL), SB_WINDOW_ACCEPTED);
    assert_int_equal(c.n, 0);
    assert_int_equal(sb_windows_open_count(w), 2);
    /* Watermark 61 s closes [0, 60). */
    assert_int_equal(wadd(w, "x", 71 * S_US, 300, NULL), SB_WINDOW_ACCEPTED);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.v[0].r.start_us, 0);
    assert_int_equal(c.v[0].r.count, 2);
    assert_true(c.v[0].r.sum == 4);
    assert_int_equal(c.v[0].r.first_ts_us, 55 * S_US);
    assert_int_equal(c.v[0].r.last_ts_us, 58 * S_US);
    /* The second window holds 62, 61, 71 s, first_ts is the earliest. */
    wadd(w, "x", 200 * S_US, 0, NULL);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.v[1].r.start_us, 60 * S_US);
    assert_int_equal(c.v[1].r.count, 3);
    assert_true(c.v[1].r.sum == 600);
    assert_int_equal(c.v[1].r.first_ts_us, 61 * S_US);
    assert_int_equal(c.v[1].r.last_ts_us, 71 * S_US);
    wfree(w);
    collector_free(&c);
}

static void window_out_of_order_opens_older_window(void **state)
{
    (void)state;
    /* With a long lateness a sample may open a window between or before
     * the open ones; it must still close in order. */
    struct collector c = {0};
    struct sb_windows *w = new1(10 * S_US, 60 * S_US, 10, &c);
    wadd(w, "x", 45 * S_US, 4, NULL);
    wadd(w, "x", 25 * S_US, 2, NULL);
    wadd(w, "x", 5 * S_US, 0, NULL);
    wadd(w, "x", 35 * S_US, 3, NULL);
    wadd(w, "x", 15 * S_US, 1, NULL);
    assert_int_equal(sb_windows_open_count(w), 5);
    wadd(w, "x", 200 * S_US, 9, NULL);
    assert_int_equal(c.n, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(c.v[i].r.start_us, (int64_t)i * 10 * S_US);
        assert_true(c.v[i].r.mean == (double)i);
    }
    wfree(w);
    collector_free(&c);
}

static void assert_same_result(const struct got *x, const struct got *y)
{
    assert_string_equal(x->sensor, y->sensor);
    assert_int_equal(x->r.size_us, y->r.size_us);
    assert_int_equal(x->r.start_us, y->r.start_us);
    assert_int_equal(x->r.end_us, y->r.end_us);
    assert_int_equal(x->r.count, y->r.count);
    /* Bit-identical: the same samples folded in the same order. */
    assert_memory_equal(&x->r.sum, &y->r.sum, sizeof(double));
    assert_memory_equal(&x->r.min, &y->r.min, sizeof(double));
    assert_memory_equal(&x->r.max, &y->r.max, sizeof(double));
    assert_memory_equal(&x->r.mean, &y->r.mean, sizeof(double));
    assert_memory_equal(&x->r.stddev, &y->r.stddev, sizeof(double));
    assert_int_equal(x->r.first_ts_us, y->r.first_ts_us);
    assert_int_equal(x->r.last_ts_us, y->r.last_ts_us);
    assert_int_equal(x->r.closed, y->r.closed);
    assert_int_equal(x->r.complete, y->r.complete);
}

/* Runs a fixed sequence, with or without extra late samples mixed in. */
static void run_with_late(struct collector *c, int with_late, int *nlate)
{
    struct sb_windows *w = new1(10 * S_US, 2 * S_US, 10, c);
    *nlate = 0;
    for (int64_t t = 0; t < 100; t++) {
        assert_int_equal(wadd(w, "x", t * S_US, (double)(t * t % 17), NULL), SB_WINDOW_ACCEPTED);
        if (with_late && t % 10 == 5 && t > 10) {
            /* Into the window before the current one: closed at t = 12, 22... */
            enum sb_window_verdict v = wadd(w, "x", (t - 10) * S_US, 1e6, NULL);
            assert_int_equal(v, SB_WINDOW_LATE);
            (*nlate)++;
        }
    }
    wfree(w);
}

static void window_late_samples_change_nothing(void **state)
{
    (void)state;
    struct collector a = {0}, b = {0};
    int na, nb;
    run_with_late(&a, 0, &na);
    run_with_late(&b, 1, &nb);
    assert_int_equal(na, 0);
    assert_int_equal(nb, 9);
    assert_int_equal(a.n, b.n);
    assert_int_equal(a.n, 9);
    for (size_t i = 0; i < a.n; i++)
        assert_same_result(&a.v[i], &b.v[i]);
    collector_free(&a);
    collector_free(&b);
}

static void window_lateness_boundary(void **state)
{
    (void)state;
    struct collector c = {0};
    struct sb_windows *w = new1(60 * S_US, 10 * S_US, 10, &c);
    wadd(w, "x", 30 * S_US, 1, NULL);
    /* max_ts 70 s - 1 us: watermark 60 s - 1 us < end 60 s: still open. */
    wadd(w, "x", 70 * S_US - 1, 2, NULL);
    assert_int_equal(c.n, 0);
    assert_int_equal(wadd(w, "x", 60 * S_US - 1, 3, NULL), SB_WINDOW_ACCEPTED);
    /* max_ts 70 s: watermark 60 s = end: closed, and the sample is late. */
    wadd(w, "x", 70 * S_US, 4, NULL);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.v[0].r.count, 2);
    assert_int_equal(wadd(w, "x", 60 * S_US - 1, 5, NULL), SB_WINDOW_LATE);
    /* A sample that does not raise max_ts but is within the lateness. */
    assert_int_equal(wadd(w, "x", 60 * S_US, 6, NULL), SB_WINDOW_ACCEPTED);
    wfree(w);
    collector_free(&c);
}

static void window_watermark_zero(void **state)
{
    (void)state;
    struct collector c = {0};
    struct sb_windows *w = new1(S_US, 0, 10, &c);
    wadd(w, "x", 0, 1, NULL);
    wadd(w, "x", S_US - 1, 2, NULL);
    assert_int_equal(c.n, 0);
    /* A sample exactly at the end closes the window at once. */
    wadd(w, "x", S_US, 3, NULL);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.v[0].r.count, 2);
    /* Any sample of an earlier window is late, even 1 us after max_ts... */
    assert_int_equal(wadd(w, "x", S_US - 1, 4, NULL), SB_WINDOW_LATE);
    /* ...but one in the current window is not, even if older than max_ts. */
    wadd(w, "x", S_US + 500000, 5, NULL);
    assert_int_equal(wadd(w, "x", S_US + 1, 6, NULL), SB_WINDOW_ACCEPTED);
    wadd(w, "x", 2 * S_US, 0, NULL);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.v[1].r.count, 3);
    assert_true(c.v[1].r.sum == 14);
    wfree(w);
    collector_free(&c);
}

static void window_negative_timestamps(void **state)
{
    (void)state;
    struct collector c = {0};
    struct sb_windows *w = new1(60 * S_US, 0, 10, &c);
    wadd(w, "x", -60 * S_US - 1, 1, NULL); /* [-120 s, -60 s) */
    wadd(w, "x", -60 * S_US, 2, NULL);     /* [-60 s, 0) */
    wadd(w, "x", -1, 3, NULL);             /* [-60 s, 0) */
    wadd(w, "x", 0, 4, NULL);              /* [0, 60 s) */
    wadd(w, "x", 60 * S_US, 5, NULL);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.v[0].r.start_us, -120 * S_US);
    assert_int_equal(c.v[0].r.end_us, -60 * S_US);
    assert_int_equal(c.v[0].r.count, 1);
    assert_int_equal(c.v[1].r.start_us, -60 * S_US);
    assert_int_equal(c.v[1].r.end_us, 0);
    assert_int_equal(c.v[1].r.count, 2);
    assert_int_equal(c.v[1].r.first_ts_us, -60 * S_US);
    assert_int_equal(c.v[1].r.last_ts_us, -1);
    assert_int_equal(c.v[2].r.start_us, 0);
    assert_int_equal(c.v[2].r.count, 1);
    wfree(w);
    collector_free(&c);
}

static void window_multiple_sizes_close_in_order(void **state)
{
    (void)state;
    struct collector c = {0};
    int64_t sizes[] = {300 * S_US, 60 * S_US}; /* any order */
    struct sb_windows *w = sb_windows_new(sizes, 2, 5 * S_US, 10, collect, &c);
    assert_non_null(w);
    for (int64_t t = 0; t < 660; t++)
        assert_int_equal(wadd(w, "x", t * S_US, 1, NULL), SB_WINDOW_ACCEPTED);
    /* Watermark 654 s: 60 s windows up to 600 s and 300 s windows up to 600 s. */
    assert_int_equal(c.n, 12);
    const int64_t want_end[] = {60, 120, 180, 240, 300, 300, 360, 420, 480, 540, 600, 600};
    const int64_t want_size[] = {60, 60, 60, 60, 60, 300, 60, 60, 60, 60, 60, 300};
    for (size_t i = 0; i < 12; i++) {
        assert_int_equal(c.v[i].r.end_us, want_end[i] * S_US);
        assert_int_equal(c.v[i].r.size_us, want_size[i] * S_US);
        assert_int_equal(c.v[i].r.count, (uint64_t)want_size[i]);
        assert_int_equal(c.v[i].r.start_us, (want_end[i] - want_size[i]) * S_US);
    }
    assert_int_equal(sb_windows_open_count(w), 2);
    wfree(w);
    collector_free(&c);
}

static void window_late_for_one_size_only(void **state)
{
    (void)state;
    struct collector c = {0};
    int64_t sizes[] = {10 * S_US, 60 * S_US};
    struct sb_windows *w = sb_windows_new(sizes, 2, 0, 10, collect, &c);
    wadd(w, "x", 5 * S_US, 1, NULL);
    wadd(w, "x", 25 * S_US, 2, NULL);
    assert_int_equal(c.n, 1); /* [0, 10) */
    /* [10, 20) of size 10 s is behind the watermark; [0, 60) is open. */
    assert_int_equal(wadd(w, "x", 15 * S_US, 4, NULL), SB_WINDOW_LATE);
    wadd(w, "x", 60 * S_US, 0, NULL);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.v[1].r.size_us, 10 * S_US);
    assert_int_equal(c.v[1].r.start_us, 20 * S_US);
    assert_int_equal(c.v[1].r.count, 1);
    assert_int_equal(c.v[2].r.size_us, 60 * S_US);
    assert_int_equal(c.v[2].r.count, 3);
    assert_true(c.v[2].r.sum == 7);
    wfree(w);
    collector_free(&c);
}

static void window_forced_close_when_max_open(void **state)
{
    (void)state;
    struct collector c = {0};
    struct sb_windows *w = new1(S_US, 3600 * S_US, 2, &c);
    wadd(w, "x", 0, 1, NULL);
    wadd(w, "x", S_US, 2, NULL);
    assert_int_equal(c.n, 0);
    assert_int_equal(sb_windows_open_count(w), 2);
    wadd(w, "x", 2 * S_US, 3, NULL);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.v[0].r.start_us, 0);
    assert_int_equal(c.v[0].r.closed, SB_WINDOW_CLOSED_FORCED);
    assert_false(c.v[0].r.complete);
    assert_true(c.v[0].r.sum == 1);
    assert_int_equal(sb_windows_open_count(w), 2);
    /* The force-closed window is never reopened: its samples are late now. */
    assert_int_equal(wadd(w, "x", 500000, 9, NULL), SB_WINDOW_LATE);
    /* Samples of open windows are still fine. */
    assert_int_equal(wadd(w, "x", S_US + 1, 2, NULL), SB_WINDOW_ACCEPTED);
    wadd(w, "x", 10 * S_US, 5, NULL); /* forces [1 s, 2 s) out */
    assert_int_equal(c.n, 2);
    assert_int_equal(c.v[1].r.count, 2);
    assert_int_equal(c.v[1].r.closed, SB_WINDOW_CLOSED_FORCED);
    assert_false(c.v[1].r.complete);
    /* A window between the open ones forces the oldest, [2 s, 3 s), out. */
    assert_int_equal(wadd(w, "x", 5 * S_US, 7, NULL), SB_WINDOW_ACCEPTED);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.v[2].r.start_us, 2 * S_US);
    assert_int_equal(sb_windows_open_count(w), 2);
    /* A window older than both open ones would be the one force-closed by
     * its own opening: late. */
    assert_int_equal(wadd(w, "x", 3 * S_US, 7, NULL), SB_WINDOW_LATE);
    assert_int_equal(c.n, 3);
    wfree(w);
    collector_free(&c);
}

static void window_random_order_reports_each_window_once(void **state)
{
    (void)state;
    /* Jitter beyond the lateness and a small max_open exercise late
     * samples, forced closes and out-of-order opens together. */
    struct collector c = {0};
    int64_t sizes[] = {7 * S_US, S_US};
    struct sb_windows *w = sb_windows_new(sizes, 2, 20 * S_US, 3, collect, &c);
    uint64_t seed = 99;
    uint64_t applied = 0, forced = 0;
    for (int64_t i = 0; i < 200000; i++) {
        int64_t ts = i * 1000 - (int64_t)((noise(&seed) + 1) * 12.5 * S_US);
        if (wadd(w, "x", ts, noise(&seed), NULL) == SB_WINDOW_ACCEPTED)
            applied += 2;
        assert_true(sb_windows_open_count(w) <= 6);
    }
    wadd(w, "x", INT64_C(1) << 40, 0, NULL);
    int64_t last[2] = {INT64_MIN, INT64_MIN};
    uint64_t total = 0;
    for (size_t k = 0; k < c.n; k++) {
        const struct sb_window_result *r = &c.v[k].r;
        int s = r->size_us == S_US;
        assert_true(r->start_us > last[s]);
        last[s] = r->start_us;
        assert_true(r->first_ts_us >= r->start_us && r->last_ts_us < r->end_us);
        assert_true(r->first_ts_us <= r->last_ts_us);
        total += r->count;
        forced += r->closed == SB_WINDOW_CLOSED_FORCED;
    }
    assert_true(forced > 0);
    assert_true(total >= applied);
    wfree(w);
    collector_free(&c);
}

static void window_open_count_bounded(void **state)
{
    (void)state;
    struct collector c = {0};
    int64_t sizes[] = {S_US, 60 * S_US};
    struct sb_windows *w = sb_windows_new(sizes, 2, 5 * S_US, 1000, collect, &c);
    size_t max_open = 0;
    uint64_t total = 0;
    for (int64_t i = 0; i < 1000000; i++) {
        const char *sensor = (i & 1) ? "PS1" : "TS1";
        /* 100 Hz per sensor, slightly shuffled within the lateness. */
        int64_t ts = (i / 2) * 10000 + ((i % 7) - 3) * 300000;
        wadd(w, sensor, ts, 1, NULL);
        size_t open = sb_windows_open_count(w);
        if (open > max_open)
            max_open = open;
        if (c.n > 1000) {
            for (size_t k = 0; k < c.n; k++) {
                total += c.v[k].r.count;
                assert_int_equal(c.v[k].r.closed, SB_WINDOW_CLOSED_WATERMARK);
            }
            c.n = 0;
        }
    }
    /* Per sensor: at most lateness/size + 2 one-second windows and two
     * one-minute windows are open. */
    assert_true(max_open <= 2 * (7 + 2));
    for (size_t k = 0; k < c.n; k++)
        total += c.v[k].r.count;
    /* Every sample went into both sizes; those not yet reported are in the
     * windows still open: at most 7 s (1 s windows) and 66 s (60 s
     * windows) of 100 Hz data per sensor. */
    assert_true(total <= 2 * 1000000);
    assert_true(total >= 2 * 1000000 - 2 * (7 + 66) * 100);
    for (size_t k = 0; k < c.n; k++)
        assert_int_equal(c.v[k].r.closed, SB_WINDOW_CLOSED_WATERMARK);
    wfree(w);
    collector_free(&c);
}

/* Each sensor's state is in its record's slot: filled by its first
 * sample, emptied when the sensor is forgotten (alone or all at once). */
static void window_sensors_in_their_records(void **state)
{
    (void)state;
    struct collector c = {0};
    struct sb_windows *w = new1(60 * S_US, 0, 4, &c);
    struct sb_sensortab *t = table_of(w);
    char name[32];
    for (int i = 0; i < 4096; i++) {
        snprintf(name, sizeof(name), "sensor-%d", i);
        assert_int_equal(wadd(w, name, 0, i, NULL), SB_WINDOW_ACCEPTED);
        assert_non_null(sb_sensortab_find(t, name)->windows);
    }
    assert_int_equal(sb_windows_open_count(w), 4096);
    struct sb_sensor *s17 = sb_sensortab_find(t, "sensor-17");
    assert_true(sb_windows_forget(w, s17));
    assert_null(s17->windows);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.v[0].sensor, "sensor-17");
    assert_false(sb_windows_forget(w, s17));
    assert_int_equal(sb_windows_open_count(w), 4095);
    sb_windows_forget_all(w);
    assert_int_equal(c.n, 4096);
    assert_int_equal(sb_windows_open_count(w), 0);
    for (int i = 0; i < 4096; i++) {
        snprintf(name, sizeof(name), "sensor-%d", i);
        assert_null(sb_sensortab_find(t, name)->windows);
    }
    /* Back after forget_all: a new sensor again. */
    assert_int_equal(wadd(w, "sensor-17", 1, 1, NULL), SB_WINDOW_ACCEPTED);
    assert_non_null(s17->windows);
    wfree(w);
    collector_free(&c);
}

static void window_sensors_independent_and_names_copied(void **state)
{
    (void)state;
    struct collector c = {0};
    struct sb_windows *w = new1(10 * S_US, 0, 4, &c);
    char name[16];
    strcpy(name, "A");
    wadd(w, name, 0, 1, NULL);
    strcpy(name, "B");
    wadd(w, name, 100 * S_US, 2, NULL); /* B's watermark does not close A */
    assert_int_equal(c.n, 0);
    strcpy(name, "A");
    wadd(w, name, 10 * S_US, 3, NULL);
    strcpy(name, "zzz");
    assert_int_equal(c.n, 1);
    assert_string_equal(c.v[0].sensor, "A");
    assert_true(c.v[0].r.sum == 1);
    wfree(w);
    collector_free(&c);
}

static void window_rejects_bad_input(void **state)
{
    (void)state;
    struct collector c = {0};
    int64_t ok[] = {60 * S_US};
    int64_t small[] = {999999};
    int64_t dup[] = {60 * S_US, 60 * S_US};
    assert_null(sb_windows_new(ok, 0, 0, 1, collect, &c));
    assert_null(sb_windows_new(NULL, 1, 0, 1, collect, &c));
    assert_null(sb_windows_new(small, 1, 0, 1, collect, &c));
    assert_null(sb_windows_new(dup, 2, 0, 1, collect, &c));
    assert_null(sb_windows_new(ok, 1, -1, 1, collect, &c));
    assert_null(sb_windows_new(ok, 1, 0, 0, collect, &c));

    struct sb_windows *w = sb_windows_new(ok, 1, 0, 1, NULL, NULL);
    assert_non_null(w);
    assert_int_equal(wadd(w, "x", 0, NAN, NULL), SB_WINDOW_LATE);
    assert_int_equal(wadd(w, "x", 0, INFINITY, NULL), SB_WINDOW_LATE);
    assert_int_equal(wadd(w, "x", INT64_MAX, 1, NULL), SB_WINDOW_LATE);
    assert_int_equal(wadd(w, "x", INT64_MIN, 1, NULL), SB_WINDOW_LATE);
    assert_int_equal(sb_windows_open_count(w), 0);
    /* Without a callback windows still close. */
    wadd(w, "x", 0, 1, NULL);
    wadd(w, "x", 600 * S_US, 1, NULL);
    assert_int_equal(sb_windows_open_count(w), 1);
    wfree(w);
    wfree(NULL);
}

/* ---- completeness: runs and resumes ---- */

/* The window of size `size` starting at `start` among those reported, or
 * NULL (and fails if it was reported twice). */
static const struct sb_window_result *reported(const struct collector *c, int64_t size,
                                               int64_t start)
{
    const struct sb_window_result *hit = NULL;
    for (size_t k = 0; k < c->n; k++) {
        if (c->v[k].r.size_us == size && c->v[k].r.start_us == start) {
            assert_null(hit);
            hit = &c->v[k].r;
        }
    }
    return hit;
}

/* A new sensor whose first sample, at ts0, comes from a run that did not
 * begin at the start of the stream (lateness L): then samples follow at
 * 1 Hz up to 300 s. Returns whether the 60-s window starting at `start`
 * was complete; every window up to 240 s must have been reported. */
static bool complete_after_resume(int64_t ts0, int64_t lateness, int64_t start)
{
    struct collector c = {0};
    struct sb_windows *w = new1(60 * S_US, lateness, 10, &c);
    const struct sb_window_run run = {7, false};
    wadd(w, "x", ts0, 1, &run);
    for (int64_t t = ts0 / S_US + 1; t <= 300; t++)
        wadd(w, "x", t * S_US, 1, &run);
    const struct sb_window_result *r = reported(&c, 60 * S_US, start);
    assert_non_null(r);
    assert_int_equal(r->closed, SB_WINDOW_CLOSED_WATERMARK);
    assert_int_equal(r->resumed, !r->complete);
    bool complete = r->complete;
    wfree(w);
    collector_free(&c);
    return complete;
}

/* Samples before ts0 may be missing with event times up to ts0 + L: a
 * window is complete exactly when its start > ts0 + L. */
static void window_resume_boundary(void **state)
{
    (void)state;
    /* Lateness 0: resumed at 59 s, [60, 120) is whole; at 60 s it is not. */
    assert_false(complete_after_resume(59 * S_US, 0, 0));
    assert_true(complete_after_resume(59 * S_US, 0, 60 * S_US));
    assert_false(complete_after_resume(60 * S_US, 0, 60 * S_US));
    assert_true(complete_after_resume(60 * S_US, 0, 120 * S_US));
    /* To the microsecond: 59.999999 s + 0 < 60 s. */
    assert_true(complete_after_resume(60 * S_US - 1, 0, 60 * S_US));
    /* Lateness 10 s: a missing sample may be 10 s newer than ts0. */
    assert_true(complete_after_resume(49 * S_US + 999999, 10 * S_US, 60 * S_US));
    assert_false(complete_after_resume(50 * S_US, 10 * S_US, 60 * S_US));
    assert_true(complete_after_resume(50 * S_US, 10 * S_US, 120 * S_US));
    /* Whole stream, no resume: the first window is complete already. */
    struct collector c = {0};
    struct sb_windows *w = new1(60 * S_US, 10 * S_US, 10, &c);
    const struct sb_window_run whole = {7, true};
    for (int64_t t = 30; t <= 200; t++)
        wadd(w, "x", t * S_US, 1, &whole);
    assert_true(reported(&c, 60 * S_US, 0)->complete);
    assert_false(reported(&c, 60 * S_US, 0)->resumed);
    wfree(w);
    collector_free(&c);
}

/* A run that changes under a sensor (a gap, a re-delivery, a partition
 * back from elsewhere): every window open then is resumed, and so is every
 * window opened later with a start <= ts0 + L, also out of order. */
static void window_resume_within_a_sensor(void **state)
{
    (void)state;
    struct collector c = {0};
    int64_t sizes[] = {60 * S_US, 10 * S_US};
    struct sb_windows *w = sb_windows_new(sizes, 2, 30 * S_US, 10, collect, &c);
    const struct sb_window_run one = {1, true}, two = {2, false};
    for (int64_t t = 0; t <= 100; t++)
        wadd(w, "x", t * S_US, 1, &one);
    /* Watermark 70 s: [0, 60) and the 10-s windows up to [60, 70) closed
     * whole; [60, 120), [70, 80) ... [100, 110) open. */
    assert_true(reported(&c, 60 * S_US, 0)->complete);
    assert_true(reported(&c, 10 * S_US, 60 * S_US)->complete);
    size_t before = c.n;
    /* Run 2 picks up at 105 s: missing samples may reach 135 s. */
    wadd(w, "x", 105 * S_US, 1, &two);
    for (int64_t t = 106; t <= 300; t++)
        wadd(w, "x", t * S_US, 1, &two);
    wadd(w, "x", 400 * S_US, 1, &two);
    assert_true(c.n > before);
    assert_false(reported(&c, 60 * S_US, 60 * S_US)->complete);  /* open at the resume */
    assert_false(reported(&c, 60 * S_US, 120 * S_US)->complete); /* 120 <= 135 */
    assert_true(reported(&c, 60 * S_US, 180 * S_US)->complete);
    assert_false(reported(&c, 10 * S_US, 70 * S_US)->complete); /* open at the resume */
    assert_false(reported(&c, 10 * S_US, 130 * S_US)->complete);
    assert_true(reported(&c, 10 * S_US, 140 * S_US)->complete);
    assert_true(reported(&c, 10 * S_US, 240 * S_US)->complete);
    assert_int_equal(reported(&c, 10 * S_US, 240 * S_US)->count, 10);
    wfree(w);
    collector_free(&c);
}

/* Resumes only where the run changes; a later resume at an older event
 * time does not shrink the reach of an earlier one, and a window opened
 * out of order within the reach is resumed too. */
static void window_resume_only_on_run_change(void **state)
{
    (void)state;
    struct collector c = {0};
    struct sb_windows *w = new1(10 * S_US, 20 * S_US, 10, &c);
    const struct sb_window_run a = {5, false}, b = {6, false};
    wadd(w, "x", 100 * S_US, 1, &a); /* resume: reach 120 s */
    wadd(w, "x", 95 * S_US, 1, &b);  /* resume again, reach stays 120 s */
    for (int64_t t = 101; t <= 200; t++)
        wadd(w, "x", t * S_US, 1, &b);
    assert_false(reported(&c, 10 * S_US, 90 * S_US)->complete);
    assert_false(reported(&c, 10 * S_US, 120 * S_US)->complete);
    assert_true(reported(&c, 10 * S_US, 130 * S_US)->complete);
    /* Another sensor in run a, seen first now, resumes for itself. */
    wadd(w, "y", 200 * S_US, 1, &a);
    wadd(w, "y", 300 * S_US, 1, &a);
    assert_non_null(reported(&c, 10 * S_US, 200 * S_US));
    for (size_t k = 0; k < c.n; k++)
        if (strcmp(c.v[k].sensor, "y") == 0)
            assert_true(c.v[k].r.resumed);
    wfree(w);
    collector_free(&c);
}

/* Forgetting reports the open windows (not complete), oldest end first,
 * then the smaller size; the sensor then starts over, whole only if the
 * caller's run says so. */
static void window_forget_reports_open_windows(void **state)
{
    (void)state;
    struct collector c = {0};
    int64_t sizes[] = {60 * S_US, 10 * S_US};
    struct sb_windows *w = sb_windows_new(sizes, 2, 0, 4, collect, &c);
    for (int t = 0; t < 12; t++)
        wadd(w, "TS1", t * S_US, t, NULL);
    wadd(w, "PS1", 20 * S_US, 1, NULL);
    /* TS1: [0,10) closed; [10,20) and [0,60) open. PS1: [20,30), [0,60). */
    assert_int_equal(c.n, 1);
    assert_int_equal(sb_windows_open_count(w), 4);
    assert_true(wforget(w, "TS1"));
    assert_false(wforget(w, "TS1"));
    assert_false(wforget(w, "never-seen"));
    assert_int_equal(c.n, 3);
    assert_int_equal(c.v[1].r.size_us, 10 * S_US);
    assert_int_equal(c.v[1].r.start_us, 10 * S_US);
    assert_int_equal(c.v[1].r.count, 2);
    assert_int_equal(c.v[2].r.size_us, 60 * S_US);
    assert_int_equal(c.v[2].r.count, 12);
    assert_true(c.v[2].r.sum == 66);
    for (size_t k = 1; k < 3; k++) {
        assert_string_equal(c.v[k].sensor, "TS1");
        assert_int_equal(c.v[k].r.closed, SB_WINDOW_CLOSED_FORGOTTEN);
        assert_false(c.v[k].r.resumed);
        assert_false(c.v[k].r.complete);
    }
    assert_int_equal(sb_windows_open_count(w), 2);
    /* A fresh start: no watermark, so t = 5 s is not late any more. The
     * caller says whether it read on without a miss. */
    const struct sb_window_run again = {9, false};
    assert_int_equal(wadd(w, "TS1", 5 * S_US, 100, &again), SB_WINDOW_ACCEPTED);
    assert_int_equal(wadd(w, "TS1", 60 * S_US, 1, &again), SB_WINDOW_ACCEPTED);
    assert_int_equal(c.n, 5);
    assert_int_equal(c.v[3].r.start_us, 0);
    assert_int_equal(c.v[3].r.count, 1); /* only the sample after the forget */
    assert_true(c.v[3].r.resumed);
    assert_false(c.v[3].r.complete);
    assert_int_equal(c.v[3].r.closed, SB_WINDOW_CLOSED_WATERMARK);
    /* PS1 kept its watermark. */
    assert_int_equal(wadd(w, "PS1", 5 * S_US, 1, NULL), SB_WINDOW_LATE);
    /* Forgetting the sensor of the last sample (the engine remembers it to
     * skip the hash): the next sample of it must not find the old state
     * (valgrind and ASan see a stale pointer). */
    assert_true(wforget(w, "PS1"));
    assert_int_equal(wadd(w, "PS1", 5 * S_US, 1, NULL), SB_WINDOW_ACCEPTED);
    assert_int_equal(wadd(w, "PS1", 10 * S_US, 1, NULL), SB_WINDOW_ACCEPTED);
    assert_true(c.v[c.n - 1].r.complete); /* a NULL run: the whole stream */
    wfree(w);
    collector_free(&c);
}

/* Everything open is reported, sensors in name order, and the engine is
 * left empty but usable. */
static void window_forget_all_reports_everything(void **state)
{
    (void)state;
    struct collector c = {0};
    struct sb_windows *w = new1(10 * S_US, 5 * S_US, 4, &c);
    const char *names[] = {"m", "b", "z", "a"};
    for (size_t i = 0; i < 4; i++) {
        wadd(w, names[i], 0, (double)i, NULL);
        wadd(w, names[i], 12 * S_US, (double)i, NULL);
    }
    assert_int_equal(sb_windows_open_count(w), 8);
    sb_windows_forget_all(w);
    assert_int_equal(sb_windows_open_count(w), 0);
    assert_int_equal(c.n, 8);
    const char *order = "aabbmmzz";
    for (size_t k = 0; k < 8; k++) {
        assert_int_equal(c.v[k].sensor[0], order[k]);
        assert_int_equal(c.v[k].r.start_us, k % 2 ? 10 * S_US : 0);
        assert_int_equal(c.v[k].r.closed, SB_WINDOW_CLOSED_FORGOTTEN);
        assert_false(c.v[k].r.complete);
    }
    /* Nothing is held: a sample at 0 s is not late, and nothing more is
     * reported by a second call. */
    sb_windows_forget_all(w);
    assert_int_equal(c.n, 8);
    assert_int_equal(wadd(w, "m", 0, 1, NULL), SB_WINDOW_ACCEPTED);
    assert_int_equal(sb_windows_open_count(w), 1);
    wfree(w);
    collector_free(&c);

    /* An empty engine. */
    w = new1(10 * S_US, 0, 4, NULL);
    sb_windows_forget_all(w);
    assert_int_equal(sb_windows_open_count(w), 0);
    wfree(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(window_exact_stats_known_sequence),
        cmocka_unit_test(window_single_sample_has_zero_stddev),
        cmocka_unit_test(window_cycle_matches_two_pass),
        cmocka_unit_test(window_welford_large_offset),
        cmocka_unit_test(window_out_of_order_within_lateness),
        cmocka_unit_test(window_out_of_order_opens_older_window),
        cmocka_unit_test(window_late_samples_change_nothing),
        cmocka_unit_test(window_lateness_boundary),
        cmocka_unit_test(window_watermark_zero),
        cmocka_unit_test(window_negative_timestamps),
        cmocka_unit_test(window_multiple_sizes_close_in_order),
        cmocka_unit_test(window_late_for_one_size_only),
        cmocka_unit_test(window_forced_close_when_max_open),
        cmocka_unit_test(window_random_order_reports_each_window_once),
        cmocka_unit_test(window_open_count_bounded),
        cmocka_unit_test(window_sensors_in_their_records),
        cmocka_unit_test(window_sensors_independent_and_names_copied),
        cmocka_unit_test(window_rejects_bad_input),
        cmocka_unit_test(window_resume_boundary),
        cmocka_unit_test(window_resume_within_a_sensor),
        cmocka_unit_test(window_resume_only_on_run_change),
        cmocka_unit_test(window_forget_reports_open_windows),
        cmocka_unit_test(window_forget_all_reports_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
