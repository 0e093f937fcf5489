/* test_registry.c - the metrics registry and its text and OpenMetrics expositions. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sensorbridge/log.h"
#include "sensorbridge/registry.h"

/* Exposes r and compares the whole text. */
static void assert_exposition(struct sb_registry *r, const char *expected)
{
    struct sb_buf out;
    sb_buf_init(&out);
    sb_registry_expose(r, &out);
    assert_string_equal(out.data ? out.data : "", expected);
    sb_buf_free(&out);
}

static struct sb_metric *child1(struct sb_family *f, const char *v)
{
    const char *vals[] = {v};
    return sb_family_child(f, vals);
}

static struct sb_metric *child2(struct sb_family *f, const char *a, const char *b)
{
    const char *vals[] = {a, b};
    return sb_family_child(f, vals);
}

static int strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Runs fn in a child process and asserts that it aborted: registration
 * mistakes are bugs, and abort() is their contract. */
static void assert_aborts(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Keep the expected error lines out of the test output. */
        if (!freopen("/dev/null", "w", stderr))
            _exit(2);
        fn();
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void registry_counter_exact_text(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"topic"};
    struct sb_family *f =
        sb_registry_family(r, SB_COUNTER, "sensorbridge_messages_produced_total",
                           "Messages handed to the producer.", 1, labels, NULL, 0);
    sb_counter_add(child1(f, "b"), 5);
    sb_counter_add(child1(f, "a"), 1.5);
    sb_counter_add(child1(f, "a"), 1);
    struct sb_family *plain =
        sb_registry_family(r, SB_COUNTER, "sensorbridge_errors_total", "Errors.", 0, NULL, NULL, 0);
    sb_family_child(plain, NULL);
    assert_exposition(r, "# HELP sensorbridge_errors_total Errors.\n"
                         "# TYPE sensorbridge_errors_total counter\n"
                         "sensorbridge_errors_total 0\n"
                         "# HELP sensorbridge_messages_produced_total Messages handed to the "
                         "producer.\n"
                         "# TYPE sensorbridge_messages_produced_total counter\n"
                         "sensorbridge_messages_produced_total{topic=\"a\"} 2.5\n"
                         "sensorbridge_messages_produced_total{topic=\"b\"} 5\n");
    sb_registry_free(r);
}

static void registry_gauge_exact_text(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"sensor", "kind"};
    struct sb_family *f =
        sb_registry_family(r, SB_GAUGE, "sensor_value", "Last value.", 2, labels, NULL, 0);
    sb_gauge_set(child2(f, "s1", "temp"), 21.5);
    sb_gauge_set(child2(f, "s1", "hum"), -3);
    sb_gauge_add(child2(f, "s1", "hum"), 0.25);
    sb_gauge_set(child2(f, "s2", "a"), 123456789);
    sb_gauge_set(child2(f, "s2", "b"), 1e15);
    sb_gauge_set(child2(f, "s2", "c"), 9007199254740992.0);
    sb_gauge_set(child2(f, "s2", "d"), 1e20);
    sb_gauge_set(child2(f, "s2", "e"), NAN);
    sb_gauge_set(child2(f, "s2", "f"), INFINITY);
    sb_gauge_set(child2(f, "s2", "g"), -INFINITY);
    sb_gauge_set(child2(f, "s2", "h"), -0.0);
    sb_gauge_set(child2(f, "s2", "i"), 0.1);
    sb_gauge_set(child2(f, "s2", "j"), 1e-7);
    assert_exposition(r, "# HELP sensor_value Last value.\n"
                         "# TYPE sensor_value gauge\n"
                         "sensor_value{sensor=\"s1\",kind=\"hum\"} -2.75\n"
                         "sensor_value{sensor=\"s1\",kind=\"temp\"} 21.5\n"
                         "sensor_value{sensor=\"s2\",kind=\"a\"} 123456789\n"
                         "sensor_value{sensor=\"s2\",kind=\"b\"} 1000000000000000\n"
                         "sensor_value{sensor=\"s2\",kind=\"c\"} 9007199254740992\n"
                         "sensor_value{sensor=\"s2\",kind=\"d\"} 1e+20\n"
                         "sensor_value{sensor=\"s2\",kind=\"e\"} NaN\n"
                         "sensor_value{sensor=\"s2\",kind=\"f\"} +Inf\n"
                         "sensor_value{sensor=\"s2\",kind=\"g\"} -Inf\n"
                         "sensor_value{sensor=\"s2\",kind=\"h\"} 0\n"
                         "sensor_value{sensor=\"s2\",kind=\"i\"} 0.1\n"
                         "sensor_value{sensor=\"s2\",kind=\"j\"} 1e-07\n");
    sb_registry_free(r);
}

/* What the exposition printed for a sample value before it had a formatter
 * of its own, computed here with the C library only: an integral value up
 * to 2^53 in full, else the shortest of %.15g, %.16g, %.17g that strtod
 * reads back. */
static void reference_value(char *out, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
    } else if (isinf(v)) {
        snprintf(out, cap, "%s", v > 0 ? "+Inf" : "-Inf");
    } else if (fabs(v) <= 9007199254740992.0 && v == trunc(v)) {
        snprintf(out, cap, "%lld", (long long)v);
    } else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(out, cap, "%.*g", prec, v);
            if (strtod(out, NULL) == v)
                break;
        }
    }
}

static uint64_t test_rng = 0x853c49e6748fea9bu;

static uint64_t next_random(void)
{
    uint64_t z = (test_rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof(v));
    return v;
}

/* One value: the formatter gives the reference text, NUL-terminated, and
 * that text reads back as exactly v (as 0 for -0; NaN as NaN). */
static void check_value(double v)
{
    char got[SB_METRIC_VALUE_CHARS + 8], want[64];
    memset(got, 'x', sizeof(got));
    size_t n = sb_metric_format_value(got, v);
    reference_value(want, sizeof(want), v);
    if (n >= SB_METRIC_VALUE_CHARS || got[n] != '\0' || strcmp(got, want) != 0)
        fail_msg("value %a: got \"%.*s\" (length %zu), want \"%s\"", v, (int)sizeof(got) - 1, got,
                 n, want);
    assert_int_equal(n, strlen(want));
    double back = strtod(got, NULL);
    if (isnan(v))
        assert_true(isnan(back));
    else if (v == 0)
        assert_true(back == 0 && !signbit(back));
    else if (memcmp(&back, &v, sizeof(v)) != 0)
        fail_msg("value %a: \"%s\" reads back as %a", v, got, back);
}

static void registry_format_value_matches_the_c_library(void **state)
{
    (void)state;
    static const double fixed[] = {
        0.0,
        -0.0,
        1,
        -1,
        0.1,
        0.2,
        0.3,
        -0.3,
        1.0 / 3,
        2.0 / 3,
        101.234,
        -40.125,
        1e21,
        1e22,
        1e23,
        1e-4,
        -1e-4,
        1e-5,
        1e15,
        -1e15,
        1e15 + 0.5,
        999999999999999.875,
        999999999999999.9,
        99999999999999.99,
        9.999999999999999,
        9.9999999999999999e14,
        0.00099999999999999999,
        9007199254740991.0,
        9007199254740992.0,
        9007199254740994.0,
        -9007199254740992.0,
        4503599627370495.5,
        123456789012345.5,
        12345678901234.25,
        1762612245.37,
        1762612245.1,
        DBL_MAX,
        -DBL_MAX,
        DBL_MIN,
        DBL_TRUE_MIN,
        -DBL_TRUE_MIN,
        0x1p-1060,
        DBL_EPSILON,
        1 + DBL_EPSILON,
        1 - DBL_EPSILON / 2,
        NAN,
        INFINITY,
        -INFINITY,
    };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        check_value(fixed[i]);

    /* Around every power of ten from 1e-6 to 1e17, where the decimal
     * exponent and %g's notation change, and every power of two in that
     * span, where the next double down is closer than the next one up. */
    for (int x = -6; x <= 17; x++) {
        double p = pow(10, x);
        double v = p;
        for (int j = 0; j < 40; j++)
            v = nextafter(v, 0);
        for (int j = 0; j < 80; j++) {
            check_value(v);
            check_value(-v);
            v = nextafter(v, INFINITY);
        }
    }
    for (int b = -20; b <= 54; b++) {
        double p = ldexp(1, b);
        check_value(p);
        check_value(nextafter(p, 0));
        check_value(nextafter(p, INFINITY));
        check_value(p * 1.1);
    }

    for (int i = 0; i < 40000; i++) {
        uint64_t r = next_random();
        /* Any bit pattern: every exponent, subnormals, NaN and Inf. */
        check_value(from_bits(r));
        /* Short decimals, as readings are: m / 10^k. */
        int k = 1 + (int)(next_random() % 17);
        double m = (double)(int64_t)(next_random() % 2000000000000000u) - 1e15;
        check_value(m / pow(10, k));
        /* Integers up to 2^53 and a little beyond. */
        check_value((double)(int64_t)(next_random() >> (10 + next_random() % 40)));
        /* 1e-4 .. 1e15 evenly in the exponent, all 53 bits random. */
        check_value(pow(10, -4 + 19 * ((double)(next_random() >> 11) / 9007199254740992.0)));
        /* Large values with a short binary fraction (.5, .25, .125):
         * exact decimal ties when the digits are rounded. */
        double big = (double)(next_random() % 1000000000000000u);
        check_value(big + (double)(next_random() % 8) / 8);
    }
}

static void registry_histogram_exact_text(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"stage"};
    const double bounds[] = {0.005, 0.5, 1, 2.5};
    struct sb_family *f = sb_registry_family(r, SB_HISTOGRAM, "latency_seconds", "Latency.", 1,
                                             labels, bounds, SB_ARRAY_SIZE(bounds));
    struct sb_metric *m = child1(f, "decode");
    sb_histogram_observe(m, 0.001);
    sb_histogram_observe(m, 0.75);
    sb_histogram_observe(m, 0.75);
    sb_histogram_observe(m, 7);
    struct sb_family *plain =
        sb_registry_family(r, SB_HISTOGRAM, "size_bytes", "Sizes.", 0, NULL, bounds, 1);
    sb_histogram_observe(sb_family_child(plain, NULL), 3);
    assert_exposition(r, "# HELP latency_seconds Latency.\n"
                         "# TYPE latency_seconds histogram\n"
                         "latency_seconds_bucket{stage=\"decode\",le=\"0.005\"} 1\n"
                         "latency_seconds_bucket{stage=\"decode\",le=\"0.5\"} 1\n"
                         "latency_seconds_bucket{stage=\"decode\",le=\"1\"} 3\n"
                         "latency_seconds_bucket{stage=\"decode\",le=\"2.5\"} 3\n"
                         "latency_seconds_bucket{stage=\"decode\",le=\"+Inf\"} 4\n"
                         "latency_seconds_sum{stage=\"decode\"} 8.501\n"
                         "latency_seconds_count{stage=\"decode\"} 4\n"
                         "# HELP size_bytes Sizes.\n"
                         "# TYPE size_bytes histogram\n"
                         "size_bytes_bucket{le=\"0.005\"} 0\n"
                         "size_bytes_bucket{le=\"+Inf\"} 1\n"
                         "size_bytes_sum 3\n"
                         "size_bytes_count 1\n");
    assert_true(sb_metric_value(m) == 4);
    sb_registry_free(r);
}

static void registry_histogram_bucket_boundaries(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const double bounds[] = {1, 2, 3};
    struct sb_family *f =
        sb_registry_family(r, SB_HISTOGRAM, "h", "H.", 0, NULL, bounds, SB_ARRAY_SIZE(bounds));
    struct sb_metric *m = sb_family_child(f, NULL);
    /* A value equal to a bound belongs to that bucket ("le" is <=). */
    const double obs[] = {-5, 0, 1, 1.0000001, 2, 2, 3, 3.0000001, 1e300, NAN};
    for (size_t i = 0; i < SB_ARRAY_SIZE(obs) - 1; i++)
        sb_histogram_observe(m, obs[i]);
    assert_exposition(r, "# HELP h H.\n"
                         "# TYPE h histogram\n"
                         "h_bucket{le=\"1\"} 3\n"
                         "h_bucket{le=\"2\"} 6\n"
                         "h_bucket{le=\"3\"} 7\n"
                         "h_bucket{le=\"+Inf\"} 9\n"
                         "h_sum 1e+300\n"
                         "h_count 9\n");
    /* NaN counts in +Inf only, as in client_golang, and poisons the sum. */
    sb_histogram_observe(m, obs[SB_ARRAY_SIZE(obs) - 1]);
    assert_exposition(r, "# HELP h H.\n"
                         "# TYPE h histogram\n"
                         "h_bucket{le=\"1\"} 3\n"
                         "h_bucket{le=\"2\"} 6\n"
                         "h_bucket{le=\"3\"} 7\n"
                         "h_bucket{le=\"+Inf\"} 10\n"
                         "h_sum NaN\n"
                         "h_count 10\n");
    sb_registry_free(r);
}

static void registry_histogram_le_format(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    /* The spellings of Go's strconv.FormatFloat(v, 'g', -1, 64). */
    const double bounds[] = {-1.5, 1e-5, 0.0001, 0.025, 1, 10, 100000, 1e6, 1234567, 2.5e9};
    struct sb_family *f =
        sb_registry_family(r, SB_HISTOGRAM, "h", "H.", 0, NULL, bounds, SB_ARRAY_SIZE(bounds));
    sb_family_child(f, NULL);
    assert_exposition(r, "# HELP h H.\n"
                         "# TYPE h histogram\n"
                         "h_bucket{le=\"-1.5\"} 0\n"
                         "h_bucket{le=\"1e-05\"} 0\n"
                         "h_bucket{le=\"0.0001\"} 0\n"
                         "h_bucket{le=\"0.025\"} 0\n"
                         "h_bucket{le=\"1\"} 0\n"
                         "h_bucket{le=\"10\"} 0\n"
                         "h_bucket{le=\"100000\"} 0\n"
                         "h_bucket{le=\"1e+06\"} 0\n"
                         "h_bucket{le=\"1.234567e+06\"} 0\n"
                         "h_bucket{le=\"2.5e+09\"} 0\n"
                         "h_bucket{le=\"+Inf\"} 0\n"
                         "h_sum 0\n"
                         "h_count 0\n");
    sb_registry_free(r);
}

static void registry_escaping(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"v"};
    struct sb_family *f = sb_registry_family(r, SB_GAUGE, "g", "Back\\slash, \"quotes\",\nnewline.",
                                             1, labels, NULL, 0);
    sb_gauge_set(child1(f, "a\\b\"c\nd"), 1);
    sb_gauge_set(child1(f, "tab\there {x=\"y\"}"), 2);
    assert_exposition(r, "# HELP g Back\\\\slash, \"quotes\",\\nnewline.\n"
                         "# TYPE g gauge\n"
                         "g{v=\"a\\\\b\\\"c\\nd\"} 1\n"
                         "g{v=\"tab\there {x=\\\"y\\\"}\"} 2\n");
    sb_registry_free(r);
}

static void registry_invalid_utf8_replaced(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"v"};
    struct sb_family *f = sb_registry_family(r, SB_GAUGE, "g", "G.", 1, labels, NULL, 0);
    struct sb_metric *a = child1(f, "a\xff"
                                    "b");
    /* The same sanitized key finds the same child: no duplicate series. */
    assert_ptr_equal(child1(f, "a\xfe"
                               "b"),
                     a);
    assert_ptr_equal(child1(f, "a\xEF\xBF\xBD"
                               "b"),
                     a);
    /* Valid multi-byte text is kept; overlong and surrogate forms are not. */
    sb_gauge_set(child1(f, "caf\xC3\xA9"), 1);
    sb_gauge_set(child1(f, "\xC0\xAF"), 2);
    sb_gauge_set(child1(f, "\xED\xA0\x80"), 3);
    assert_exposition(r, "# HELP g G.\n"
                         "# TYPE g gauge\n"
                         "g{v=\"a\xEF\xBF\xBD"
                         "b\"} 0\n"
                         "g{v=\"caf\xC3\xA9\"} 1\n"
                         "g{v=\"\xEF\xBF\xBD\xEF\xBF\xBD\"} 2\n"
                         "g{v=\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"} 3\n");
    sb_registry_free(r);
}

static void registry_families_sorted_by_name(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *names[] = {"zeta", "alpha_b", "Alpha", "alpha", "mid:rule", "alpha_a", "_x"};
    for (size_t i = 0; i < SB_ARRAY_SIZE(names); i++)
        sb_registry_family(r, SB_GAUGE, names[i], "X.", 0, NULL, NULL, 0);
    assert_exposition(r, "# HELP Alpha X.\n# TYPE Alpha gauge\n"
                         "# HELP _x X.\n# TYPE _x gauge\n"
                         "# HELP alpha X.\n# TYPE alpha gauge\n"
                         "# HELP alpha_a X.\n# TYPE alpha_a gauge\n"
                         "# HELP alpha_b X.\n# TYPE alpha_b gauge\n"
                         "# HELP mid:rule X.\n# TYPE mid:rule gauge\n"
                         "# HELP zeta X.\n# TYPE zeta gauge\n");
    sb_registry_free(r);
}

static void registry_children_sorted_by_label_values(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"a", "b"};
    struct sb_family *f = sb_registry_family(r, SB_GAUGE, "g", "G.", 2, labels, NULL, 0);
    /* Tuple order: the first value decides ("a" < "ab" whatever follows);
     * bytes compare unsigned ("B" < "a" < "\xC3\xA9"). */
    child2(f, "ab", "a");
    child2(f, "a", "z");
    child2(f, "\xC3\xA9", "");
    child2(f, "a", "");
    child2(f, "B", "x");
    child2(f, "", "q");
    child2(f, "a", "y");
    assert_exposition(r, "# HELP g G.\n# TYPE g gauge\n"
                         "g{a=\"\",b=\"q\"} 0\n"
                         "g{a=\"B\",b=\"x\"} 0\n"
                         "g{a=\"a\",b=\"\"} 0\n"
                         "g{a=\"a\",b=\"y\"} 0\n"
                         "g{a=\"a\",b=\"z\"} 0\n"
                         "g{a=\"ab\",b=\"a\"} 0\n"
                         "g{a=\"\xC3\xA9\",b=\"\"} 0\n");
    /* A child added after a scrape is sorted into place at the next one. */
    child2(f, "a", "a");
    assert_exposition(r, "# HELP g G.\n# TYPE g gauge\n"
                         "g{a=\"\",b=\"q\"} 0\n"
                         "g{a=\"B\",b=\"x\"} 0\n"
                         "g{a=\"a\",b=\"\"} 0\n"
                         "g{a=\"a\",b=\"a\"} 0\n"
                         "g{a=\"a\",b=\"y\"} 0\n"
                         "g{a=\"a\",b=\"z\"} 0\n"
                         "g{a=\"ab\",b=\"a\"} 0\n"
                         "g{a=\"\xC3\xA9\",b=\"\"} 0\n");
    sb_registry_free(r);
}

static void registry_samples_contiguous_with_interleaved_creation(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"k"};
    struct sb_family *b = sb_registry_family(r, SB_COUNTER, "b_total", "B.", 1, labels, NULL, 0);
    struct sb_family *a = sb_registry_family(r, SB_GAUGE, "a", "A.", 1, labels, NULL, 0);
    const double bounds[] = {1};
    struct sb_family *h = sb_registry_family(r, SB_HISTOGRAM, "a_h", "H.", 1, labels, bounds, 1);
    sb_counter_add(child1(b, "2"), 1);
    sb_gauge_set(child1(a, "2"), 2);
    sb_histogram_observe(child1(h, "y"), 0.5);
    sb_counter_add(child1(b, "1"), 3);
    sb_gauge_set(child1(a, "1"), 4);
    sb_histogram_observe(child1(h, "x"), 5);
    assert_exposition(r, "# HELP a A.\n# TYPE a gauge\n"
                         "a{k=\"1\"} 4\n"
                         "a{k=\"2\"} 2\n"
                         "# HELP a_h H.\n# TYPE a_h histogram\n"
                         "a_h_bucket{k=\"x\",le=\"1\"} 0\n"
                         "a_h_bucket{k=\"x\",le=\"+Inf\"} 1\n"
                         "a_h_sum{k=\"x\"} 5\n"
                         "a_h_count{k=\"x\"} 1\n"
                         "a_h_bucket{k=\"y\",le=\"1\"} 1\n"
                         "a_h_bucket{k=\"y\",le=\"+Inf\"} 1\n"
                         "a_h_sum{k=\"y\"} 0.5\n"
                         "a_h_count{k=\"y\"} 1\n"
                         "# HELP b_total B.\n# TYPE b_total counter\n"
                         "b_total{k=\"1\"} 3\n"
                         "b_total{k=\"2\"} 1\n");
    sb_registry_free(r);
}

static void registry_empty_family_prints_help_and_type(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"x"};
    const double bounds[] = {1, 2};
    sb_registry_family(r, SB_HISTOGRAM, "h", "H.", 1, labels, bounds, 2);
    sb_registry_family(r, SB_GAUGE, "g", "", 0, NULL, NULL, 0);
    assert_exposition(r, "# HELP g \n# TYPE g gauge\n"
                         "# HELP h H.\n# TYPE h histogram\n");
    sb_registry_free(r);

    struct sb_registry *empty = sb_registry_new();
    struct sb_buf out;
    sb_buf_init(&out);
    sb_registry_expose(empty, &out); /* an empty registry prints nothing */
    assert_int_equal(out.len, 0);
    sb_buf_free(&out);
    sb_registry_free(empty);
}

struct collect_state {
    struct sb_metric *m;
    char order[8];
    int calls;
};

static void collect_first(void *ud)
{
    struct collect_state *cs = ud;
    cs->order[cs->calls++] = '1';
    sb_gauge_set(cs->m, 42);
}

static void collect_second(void *ud)
{
    struct collect_state *cs = ud;
    cs->order[cs->calls++] = '2';
    sb_gauge_add(cs->m, 1);
}

static void registry_collectors_run_before_output(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    struct sb_family *f = sb_registry_family(r, SB_GAUGE, "g", "G.", 0, NULL, NULL, 0);
    struct collect_state cs = {.m = sb_family_child(f, NULL)};
    sb_registry_add_collector(r, collect_first, &cs);
    sb_registry_add_collector(r, collect_second, &cs);
    assert_exposition(r, "# HELP g G.\n# TYPE g gauge\ng 43\n");
    assert_string_equal(cs.order, "12");
    assert_exposition(r, "# HELP g G.\n# TYPE g gauge\ng 43\n");
    assert_int_equal(cs.calls, 4);
    sb_registry_free(r);
}

/* A collector that appends its id to a shared log. */
struct tag {
    char id;
    char *log;
};

static void collect_tag(void *ud)
{
    struct tag *t = ud;
    size_t n = strlen(t->log);
    t->log[n] = t->id;
    t->log[n + 1] = '\0';
}

/* Runs the collectors and returns the log they left. */
static const char *collected(struct sb_registry *r, char *log)
{
    struct sb_buf out;
    sb_buf_init(&out);
    log[0] = '\0';
    sb_registry_expose(r, &out);
    sb_buf_free(&out);
    return log;
}

/* sb_registry_collect runs the collectors, in order, with no output. */
static void registry_collect_runs_collectors(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    char log[8] = "";
    struct tag a = {'a', log}, b = {'b', log};
    sb_registry_add_collector(r, collect_tag, &a);
    sb_registry_add_collector(r, collect_tag, &b);
    sb_registry_collect(r);
    assert_string_equal(log, "ab");
    sb_registry_collect(r);
    assert_string_equal(log, "abab");
    sb_registry_free(r);
}

/* The sum of every child's observations; 0 for no family or another type. */
static void registry_histogram_sum_adds_children(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const double buckets[] = {1};
    const char *labels[] = {"x"};
    struct sb_family *f =
        sb_registry_family(r, SB_HISTOGRAM, "h_seconds", "H.", 1, labels, buckets, 1);
    const char *a[] = {"a"}, *b[] = {"b"};
    sb_histogram_observe(sb_family_child(f, a), 0.25);
    sb_histogram_observe(sb_family_child(f, a), 2);
    sb_histogram_observe(sb_family_child(f, b), 0.5);
    assert_true(sb_registry_histogram_sum(r, "h_seconds") == 2.75);
    sb_gauge_set(
        sb_family_child(sb_registry_family(r, SB_GAUGE, "g", "G.", 0, NULL, NULL, 0), NULL), 5);
    assert_true(sb_registry_histogram_sum(r, "g") == 0);
    assert_true(sb_registry_histogram_sum(r, "missing") == 0);
    sb_registry_free(r);
}

static void registry_collector_removed_is_not_called(void **state)
{
    (void)state;
    char log[16];
    struct tag a = {'A', log}, b = {'B', log}, c = {'C', log}, other = {'X', log};
    struct sb_registry *r = sb_registry_new();
    sb_registry_add_collector(r, collect_tag, &a);
    sb_registry_add_collector(r, collect_tag, &b);
    sb_registry_add_collector(r, collect_tag, &c);
    sb_registry_add_collector(r, collect_tag, &a);
    assert_string_equal(collected(r, log), "ABCA");
    assert_true(sb_registry_remove_collector(r, collect_tag, &b));
    assert_string_equal(collected(r, log), "ACA");
    /* Added twice: the earliest registration goes first. */
    assert_true(sb_registry_remove_collector(r, collect_tag, &a));
    assert_string_equal(collected(r, log), "CA");
    /* Both cb and ud must match. */
    assert_false(sb_registry_remove_collector(r, collect_tag, &other));
    assert_false(sb_registry_remove_collector(r, collect_first, &c));
    assert_false(sb_registry_remove_collector(r, collect_tag, &b));
    assert_string_equal(collected(r, log), "CA");
    assert_true(sb_registry_remove_collector(r, collect_tag, &a));
    assert_true(sb_registry_remove_collector(r, collect_tag, &c));
    assert_false(sb_registry_remove_collector(r, collect_tag, &a));
    assert_string_equal(collected(r, log), "");
    sb_registry_add_collector(r, collect_tag, &b);
    assert_string_equal(collected(r, log), "B");
    sb_registry_free(r);
}

/* ud is the registry. */
static void collect_removes_itself(void *ud)
{
    sb_registry_remove_collector(ud, collect_removes_itself, ud);
}

static void collect_adds_another(void *ud)
{
    sb_registry_add_collector(ud, collect_removes_itself, ud);
}

static void expose_with(sb_collect_cb cb)
{
    struct sb_registry *r = sb_registry_new();
    sb_registry_add_collector(r, cb, r);
    struct sb_buf out;
    sb_buf_init(&out);
    sb_registry_expose(r, &out);
}

static void bad_remove_from_collector(void)
{
    expose_with(collect_removes_itself);
}

static void bad_add_from_collector(void)
{
    expose_with(collect_adds_another);
}

/* Collectors run from a loop over the list they would change. */
static void registry_collector_changes_from_a_collector_abort(void **state)
{
    (void)state;
    assert_aborts(bad_remove_from_collector);
    assert_aborts(bad_add_from_collector);
}

static void registry_family_clear(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"partition"};
    struct sb_family *f = sb_registry_family(r, SB_GAUGE, "lag", "Lag.", 1, labels, NULL, 0);
    struct sb_family *other = sb_registry_family(r, SB_GAUGE, "other", "O.", 0, NULL, NULL, 0);
    sb_gauge_set(sb_family_child(other, NULL), 7);
    for (int i = 0; i < 100; i++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", i);
        sb_gauge_set(child1(f, v), i);
    }
    sb_family_clear(f);
    assert_exposition(r, "# HELP lag Lag.\n# TYPE lag gauge\n"
                         "# HELP other O.\n# TYPE other gauge\nother 7\n");
    /* New children start from zero; the family is usable again. */
    sb_gauge_add(child1(f, "5"), 1);
    sb_gauge_add(child1(f, "5"), 1);
    assert_exposition(r, "# HELP lag Lag.\n# TYPE lag gauge\nlag{partition=\"5\"} 2\n"
                         "# HELP other O.\n# TYPE other gauge\nother 7\n");
    sb_family_clear(f);
    sb_family_clear(f); /* clearing an empty family is harmless */
    sb_registry_free(r);
}

/* Appends "name=value,...:value;" per child to the sb_buf in ud. */
static void collect_child(void *ud, size_t nlabels, const char *const *labelnames,
                          const char *const *labelvalues, double value)
{
    struct sb_buf *b = ud;
    for (size_t i = 0; i < nlabels; i++)
        sb_buf_printf(b, "%s%s=%s", i ? "," : "", labelnames[i], labelvalues[i]);
    sb_buf_printf(b, ":%g;", value);
}

static void registry_each_child(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"sensor", "kind"};
    struct sb_family *f =
        sb_registry_family(r, SB_COUNTER, "samples_total", "Samples.", 2, labels, NULL, 0);
    sb_counter_add(child2(f, "TS1", "a\"b"), 3);
    sb_counter_add(child2(f, "PS1", "x"), 12000);
    sb_counter_add(child2(f, "PS1", "w"), 1);
    struct sb_family *h =
        sb_registry_family(r, SB_HISTOGRAM, "lat", "L.", 0, NULL, (const double[]){1}, 1);
    sb_histogram_observe(sb_family_child(h, NULL), 0.5);
    sb_histogram_observe(sb_family_child(h, NULL), 7);
    struct sb_buf b;
    sb_buf_init(&b);
    /* Exposition order, values as stored (the quote is not escaped). */
    sb_registry_each_child(r, "samples_total", collect_child, &b);
    assert_string_equal(b.data, "sensor=PS1,kind=w:1;sensor=PS1,kind=x:12000;"
                                "sensor=TS1,kind=a\"b:3;");
    sb_buf_reset(&b);
    /* A histogram child's value is its count. */
    sb_registry_each_child(r, "lat", collect_child, &b);
    assert_string_equal(b.data, ":2;");
    sb_buf_reset(&b);
    sb_registry_each_child(r, "no_such_family", collect_child, &b);
    sb_registry_each_child(r, "samples", collect_child, &b);
    assert_int_equal(b.len, 0);
    sb_buf_free(&b);
    sb_registry_free(r);
}

static void registry_many_children_lookup(void **state)
{
    (void)state;
    enum { N = 10000 };
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"topic", "partition"};
    struct sb_family *f =
        sb_registry_family(r, SB_COUNTER, "msgs_total", "Msgs.", 2, labels, NULL, 0);
    struct sb_metric **ms = calloc(N, sizeof(ms[0]));
    assert_non_null(ms);
    char t[32], p[32];
    for (int i = 0; i < N; i++) {
        snprintf(t, sizeof(t), "topic-%d", i % 97);
        snprintf(p, sizeof(p), "%d", i);
        ms[i] = child2(f, t, p);
        assert_non_null(ms[i]);
        sb_counter_add(ms[i], i);
    }
    for (int i = 0; i < N; i++) {
        snprintf(t, sizeof(t), "topic-%d", i % 97);
        snprintf(p, sizeof(p), "%d", i);
        assert_ptr_equal(child2(f, t, p), ms[i]);
        assert_true(sb_metric_value(ms[i]) == i);
    }
    /* Every child is printed once, in order. */
    struct sb_buf out;
    sb_buf_init(&out);
    sb_registry_expose(r, &out);
    size_t lines = 0;
    const char *prev = NULL;
    for (char *line = strtok(out.data, "\n"); line; line = strtok(NULL, "\n")) {
        lines++;
        if (line[0] == '#')
            continue;
        if (prev)
            assert_true(strcmp(prev, line) < 0);
        prev = line;
    }
    assert_int_equal(lines, N + 2);
    sb_buf_free(&out);
    free(ms);
    sb_registry_free(r);
}

static void registry_children_capped(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"i"};
    struct sb_family *f = sb_registry_family(r, SB_GAUGE, "g", "G.", 1, labels, NULL, 0);
    char v[16];
    for (int i = 0; i < SB_METRIC_MAX_CHILDREN; i++) {
        snprintf(v, sizeof(v), "%d", i);
        assert_non_null(child1(f, v));
    }
    int level = sb_log_level;
    sb_log_level = SB_LOG_ERR; /* the expected "family full" warning */
    assert_null(child1(f, "one too many"));
    sb_log_level = level;
    assert_non_null(child1(f, "123")); /* existing children are still found */
    sb_family_clear(f);
    assert_non_null(child1(f, "one too many"));
    sb_registry_free(r);
}

static void registry_metric_remove_exposition(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"sensor"};
    struct sb_family *f = sb_registry_family(r, SB_GAUGE, "v", "V.", 1, labels, NULL, 0);
    const char *names[] = {"d", "b", "a", "c", "e"};
    struct sb_metric *m[5];
    for (int i = 0; i < 5; i++) {
        m[i] = child1(f, names[i]);
        sb_gauge_set(m[i], i + 1);
    }
    struct sb_family *other = sb_registry_family(r, SB_GAUGE, "w", "W.", 1, labels, NULL, 0);
    sb_gauge_set(child1(other, "b"), 9);
    /* A child in the middle, the first created and the last created. */
    sb_metric_remove(m[1]);
    assert_exposition(r, "# HELP v V.\n# TYPE v gauge\n"
                         "v{sensor=\"a\"} 3\nv{sensor=\"c\"} 4\nv{sensor=\"d\"} 1\n"
                         "v{sensor=\"e\"} 5\n"
                         "# HELP w W.\n# TYPE w gauge\nw{sensor=\"b\"} 9\n");
    sb_metric_remove(m[0]);
    sb_metric_remove(m[4]);
    assert_exposition(r, "# HELP v V.\n# TYPE v gauge\n"
                         "v{sensor=\"a\"} 3\nv{sensor=\"c\"} 4\n"
                         "# HELP w W.\n# TYPE w gauge\nw{sensor=\"b\"} 9\n");
    /* Survivors are still found, the removed ones are gone. */
    assert_ptr_equal(child1(f, "a"), m[2]);
    assert_ptr_equal(child1(f, "c"), m[3]);
    const char *gone[] = {"d"};
    assert_false(sb_family_remove(f, gone));
    const char *there[] = {"a"};
    assert_true(sb_family_remove(f, there));
    sb_metric_remove(NULL); /* a child left NULL at the cap */
    sb_metric_remove(m[3]);
    assert_exposition(r, "# HELP v V.\n# TYPE v gauge\n"
                         "# HELP w W.\n# TYPE w gauge\nw{sensor=\"b\"} 9\n");
    sb_registry_free(r);
}

static void registry_removed_child_recreated_fresh(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"sensor"};
    struct sb_family *c = sb_registry_family(r, SB_COUNTER, "c_total", "C.", 1, labels, NULL, 0);
    const double bounds[] = {1};
    struct sb_family *h = sb_registry_family(r, SB_HISTOGRAM, "h", "H.", 1, labels, bounds, 1);
    struct sb_family *plain = sb_registry_family(r, SB_GAUGE, "p", "P.", 0, NULL, NULL, 0);
    sb_counter_add(child1(c, "TS1"), 5);
    sb_histogram_observe(child1(h, "TS1"), 0.5);
    sb_histogram_observe(child1(h, "TS1"), 3);
    sb_gauge_set(sb_family_child(plain, NULL), 7);
    sb_metric_remove(child1(c, "TS1"));
    sb_metric_remove(child1(h, "TS1"));
    assert_true(sb_family_remove(plain, NULL));
    assert_false(sb_family_remove(plain, NULL));
    assert_exposition(r, "# HELP c_total C.\n# TYPE c_total counter\n"
                         "# HELP h H.\n# TYPE h histogram\n"
                         "# HELP p P.\n# TYPE p gauge\n");
    /* The same labels give a new child from zero, not the old values. */
    sb_counter_add(child1(c, "TS1"), 1);
    sb_histogram_observe(child1(h, "TS1"), 2);
    sb_family_child(plain, NULL);
    assert_exposition(r, "# HELP c_total C.\n# TYPE c_total counter\nc_total{sensor=\"TS1\"} 1\n"
                         "# HELP h H.\n# TYPE h histogram\n"
                         "h_bucket{sensor=\"TS1\",le=\"1\"} 0\n"
                         "h_bucket{sensor=\"TS1\",le=\"+Inf\"} 1\n"
                         "h_sum{sensor=\"TS1\"} 2\nh_count{sensor=\"TS1\"} 1\n"
                         "# HELP p P.\n# TYPE p gauge\np 0\n");
    /* Label values are looked up as sb_family_child does: sanitized. */
    assert_non_null(child1(c, "x\xff"));
    const char *bad_lv[] = {"x\xff"};
    assert_true(sb_family_remove(c, bad_lv));
    assert_false(sb_family_remove(c, bad_lv));
    sb_registry_free(r);
}

/* Checks that the exposition of a one-family registry has exactly the
 * lines `lag{p="<i>"} <i>` for the i with alive[i], in label order. */
static void assert_alive(struct sb_registry *r, const bool *alive, int n)
{
    struct sb_buf out, want;
    sb_buf_init(&out);
    sb_buf_init(&want);
    sb_registry_expose(r, &out);
    /* Label values compare as strings: "10" < "9". */
    char **keys = calloc((size_t)n, sizeof(keys[0]));
    assert_non_null(keys);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!alive[i])
            continue;
        keys[k] = malloc(16);
        assert_non_null(keys[k]);
        snprintf(keys[k], 16, "%d", i);
        k++;
    }
    qsort(keys, (size_t)k, sizeof(keys[0]), strcmp_ptr);
    sb_buf_puts(&want, "# HELP lag Lag.\n# TYPE lag gauge\n");
    for (int i = 0; i < k; i++) {
        sb_buf_printf(&want, "lag{p=\"%s\"} %s\n", keys[i], keys[i]);
        free(keys[i]);
    }
    free(keys);
    assert_string_equal(out.data, want.data);
    sb_buf_free(&out);
    sb_buf_free(&want);
}

static void registry_remove_many_children(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"p"};
    struct sb_family *f = sb_registry_family(r, SB_GAUGE, "lag", "Lag.", 1, labels, NULL, 0);
    struct sb_metric **ms = calloc(N, sizeof(ms[0]));
    bool *alive = calloc(N, sizeof(alive[0]));
    assert_non_null(ms);
    assert_non_null(alive);
    char v[16];
    for (int i = 0; i < N; i++) {
        snprintf(v, sizeof(v), "%d", i);
        ms[i] = child1(f, v);
        sb_gauge_set(ms[i], i);
        alive[i] = true;
    }
    /* Remove two thirds in a scattered order (7 is coprime with N), with
     * an exposition (which sorts) in between. */
    for (int k = 0; k < N; k++) {
        int i = (int)((7L * k) % N);
        if (i % 3 == 0)
            continue;
        if (k == N / 2)
            assert_alive(r, alive, N);
        sb_metric_remove(ms[i]);
        alive[i] = false;
    }
    assert_alive(r, alive, N);
    for (int i = 0; i < N; i++) {
        snprintf(v, sizeof(v), "%d", i);
        const char *lv[] = {v};
        if (alive[i]) {
            assert_ptr_equal(child1(f, v), ms[i]);
            assert_true(sb_metric_value(ms[i]) == i);
        } else {
            assert_false(sb_family_remove(f, lv));
        }
    }
    /* Re-creating the removed ones: fresh children, found again. */
    for (int i = 0; i < N; i++) {
        if (alive[i])
            continue;
        snprintf(v, sizeof(v), "%d", i);
        ms[i] = child1(f, v);
        assert_true(sb_metric_value(ms[i]) == 0);
        sb_gauge_set(ms[i], i);
        alive[i] = true;
    }
    assert_alive(r, alive, N);
    for (int i = 0; i < N; i++) {
        snprintf(v, sizeof(v), "%d", i);
        assert_ptr_equal(child1(f, v), ms[i]);
    }
    free(alive);
    free(ms);
    sb_registry_free(r);
}

static void registry_remove_at_cap_and_clear(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"i"};
    struct sb_family *f = sb_registry_family(r, SB_GAUGE, "g", "G.", 1, labels, NULL, 0);
    char v[16];
    for (int i = 0; i < SB_METRIC_MAX_CHILDREN; i++) {
        snprintf(v, sizeof(v), "%d", i);
        assert_non_null(child1(f, v));
    }
    int level = sb_log_level;
    sb_log_level = SB_LOG_ERR; /* the expected "family full" warning */
    assert_null(child1(f, "new"));
    /* Removing one makes room for exactly one. */
    const char *lv[] = {"17"};
    assert_true(sb_family_remove(f, lv));
    assert_non_null(child1(f, "new"));
    assert_null(child1(f, "newer"));
    assert_null(child1(f, "17"));
    sb_log_level = level;
    /* Clearing after removals empties the family and resets the cap. */
    sb_metric_remove(child1(f, "new"));
    sb_metric_remove(child1(f, "0"));
    sb_family_clear(f);
    assert_exposition(r, "# HELP g G.\n# TYPE g gauge\n");
    assert_false(sb_family_remove(f, lv));
    sb_gauge_set(child1(f, "b"), 2);
    sb_gauge_set(child1(f, "a"), 1);
    sb_gauge_set(child1(f, "c"), 3);
    sb_metric_remove(child1(f, "a"));
    assert_exposition(r, "# HELP g G.\n# TYPE g gauge\ng{i=\"b\"} 2\ng{i=\"c\"} 3\n");
    sb_family_clear(f);
    /* A family that never had a child has no table: removal finds nothing. */
    struct sb_family *empty = sb_registry_family(r, SB_GAUGE, "e", "E.", 1, labels, NULL, 0);
    assert_false(sb_family_remove(empty, lv));
    sb_registry_free(r);
}

static void registry_metric_name_validation(void **state)
{
    (void)state;
    const char *good[] = {"a", "_", ":", "a_b:c", "A1", "process_cpu_seconds_total", "__x"};
    const char *bad[] = {"", "1a", "a-b", "a b", "a.b", "é", "a\n", "a{"};
    for (size_t i = 0; i < SB_ARRAY_SIZE(good); i++)
        assert_true(sb_metric_name_valid(good[i]));
    for (size_t i = 0; i < SB_ARRAY_SIZE(bad); i++)
        assert_false(sb_metric_name_valid(bad[i]));
    assert_false(sb_metric_name_valid(NULL));
}

static void registry_label_name_validation(void **state)
{
    (void)state;
    const char *good[] = {"a", "_", "_a", "topic", "A_1", "le"};
    const char *bad[] = {"", "__", "__name__", "1a", "a:b", "a-b", "a b", "é"};
    for (size_t i = 0; i < SB_ARRAY_SIZE(good); i++)
        assert_true(sb_label_name_valid(good[i]));
    for (size_t i = 0; i < SB_ARRAY_SIZE(bad); i++)
        assert_false(sb_label_name_valid(bad[i]));
    assert_false(sb_label_name_valid(NULL));
}

static void registry_reregister_returns_same_family(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    const char *labels[] = {"a", "b"};
    const double bounds[] = {1, 2};
    struct sb_family *c = sb_registry_family(r, SB_COUNTER, "c_total", "C.", 2, labels, NULL, 0);
    struct sb_family *h = sb_registry_family(r, SB_HISTOGRAM, "h", "H.", 2, labels, bounds, 2);
    const char *same[] = {"a", "b"};
    assert_ptr_equal(sb_registry_family(r, SB_COUNTER, "c_total", "Other help.", 2, same, NULL, 0),
                     c);
    assert_ptr_equal(sb_registry_family(r, SB_HISTOGRAM, "h", "H.", 2, same, bounds, 2), h);
    /* The first help text stays. */
    assert_exposition(r, "# HELP c_total C.\n# TYPE c_total counter\n"
                         "# HELP h H.\n# TYPE h histogram\n");
    sb_registry_free(r);
}

/* Each of these is a programming bug and must abort. */
static void bad_type_mismatch(void)
{
    struct sb_registry *r = sb_registry_new();
    sb_registry_family(r, SB_GAUGE, "x", "X.", 0, NULL, NULL, 0);
    sb_registry_family(r, SB_COUNTER, "x", "X.", 0, NULL, NULL, 0);
}

static void bad_label_mismatch(void)
{
    struct sb_registry *r = sb_registry_new();
    const char *a[] = {"a"}, *b[] = {"b"};
    sb_registry_family(r, SB_GAUGE, "x", "X.", 1, a, NULL, 0);
    sb_registry_family(r, SB_GAUGE, "x", "X.", 1, b, NULL, 0);
}

static void bad_bucket_mismatch(void)
{
    struct sb_registry *r = sb_registry_new();
    const double b1[] = {1, 2}, b2[] = {1, 3};
    sb_registry_family(r, SB_HISTOGRAM, "x", "X.", 0, NULL, b1, 2);
    sb_registry_family(r, SB_HISTOGRAM, "x", "X.", 0, NULL, b2, 2);
}

static void bad_counter_suffix(void)
{
    sb_registry_family(sb_registry_new(), SB_COUNTER, "messages", "M.", 0, NULL, NULL, 0);
}

static void bad_metric_name(void)
{
    sb_registry_family(sb_registry_new(), SB_GAUGE, "a-b", "M.", 0, NULL, NULL, 0);
}

static void bad_label_name(void)
{
    const char *labels[] = {"__reserved"};
    sb_registry_family(sb_registry_new(), SB_GAUGE, "g", "M.", 1, labels, NULL, 0);
}

static void bad_duplicate_label(void)
{
    const char *labels[] = {"a", "a"};
    sb_registry_family(sb_registry_new(), SB_GAUGE, "g", "M.", 2, labels, NULL, 0);
}

static void bad_histogram_le(void)
{
    const char *labels[] = {"le"};
    const double bounds[] = {1};
    sb_registry_family(sb_registry_new(), SB_HISTOGRAM, "h", "M.", 1, labels, bounds, 1);
}

static void bad_buckets_not_increasing(void)
{
    const double bounds[] = {1, 1};
    sb_registry_family(sb_registry_new(), SB_HISTOGRAM, "h", "M.", 0, NULL, bounds, 2);
}

static void bad_bucket_inf(void)
{
    const double bounds[] = {1, INFINITY};
    sb_registry_family(sb_registry_new(), SB_HISTOGRAM, "h", "M.", 0, NULL, bounds, 2);
}

static void bad_sample_name_collision(void)
{
    struct sb_registry *r = sb_registry_new();
    const double bounds[] = {1};
    sb_registry_family(r, SB_GAUGE, "x_count", "X.", 0, NULL, NULL, 0);
    sb_registry_family(r, SB_HISTOGRAM, "x", "X.", 0, NULL, bounds, 1);
}

static void registry_bad_registrations_abort(void **state)
{
    (void)state;
    assert_aborts(bad_type_mismatch);
    assert_aborts(bad_label_mismatch);
    assert_aborts(bad_bucket_mismatch);
    assert_aborts(bad_counter_suffix);
    assert_aborts(bad_metric_name);
    assert_aborts(bad_label_name);
    assert_aborts(bad_duplicate_label);
    assert_aborts(bad_histogram_le);
    assert_aborts(bad_buckets_not_increasing);
    assert_aborts(bad_bucket_inf);
    assert_aborts(bad_sample_name_collision);
}

static void registry_counter_updates(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    struct sb_family *f = sb_registry_family(r, SB_COUNTER, "c_total", "C.", 0, NULL, NULL, 0);
    struct sb_metric *m = sb_family_child(f, NULL);
    assert_ptr_equal(sb_family_child(f, NULL), m);
    sb_counter_add(m, 2);
    sb_counter_add(m, -1);  /* ignored: counters only go up */
    sb_counter_add(m, NAN); /* ignored */
    assert_true(sb_metric_value(m) == 2);
    sb_counter_set(m, 10.25);
    assert_true(sb_metric_value(m) == 10.25);
    assert_exposition(r, "# HELP c_total C.\n# TYPE c_total counter\nc_total 10.25\n");
    sb_registry_free(r);
}

/* ---- OpenMetrics 1.0.0 ---- */

/* An injected wall clock: each child created takes the next of these. */
static const int64_t fake_times_us[] = {1700000000250000, 1700000001000001, 1700000002999999,
                                        1700000003000000};
static size_t fake_time_next;

static int64_t fake_now_us(void)
{
    assert_true(fake_time_next < SB_ARRAY_SIZE(fake_times_us));
    return fake_times_us[fake_time_next++];
}

static struct sb_registry *om_registry(void)
{
    struct sb_registry *r = sb_registry_new();
    fake_time_next = 0;
    sb_registry_set_clock(r, fake_now_us);
    return r;
}

static void assert_openmetrics(struct sb_registry *r, const char *expected)
{
    struct sb_buf out;
    sb_buf_init(&out);
    sb_registry_expose_openmetrics(r, &out);
    assert_string_equal(out.data ? out.data : "", expected);
    sb_buf_free(&out);
}

static void registry_openmetrics_counter(void **state)
{
    (void)state;
    struct sb_registry *r = om_registry();
    const char *labels[] = {"topic"};
    struct sb_family *f =
        sb_registry_family(r, SB_COUNTER, "sensorbridge_messages_produced_total",
                           "Messages handed to the producer.", 1, labels, NULL, 0);
    sb_counter_add(child1(f, "b"), 5);
    sb_counter_add(child1(f, "a"), 2.5);
    struct sb_family *plain =
        sb_registry_family(r, SB_COUNTER, "errors_total", "Errors.", 0, NULL, NULL, 0);
    sb_family_child(plain, NULL);
    assert_openmetrics(r, "# HELP errors Errors.\n"
                          "# TYPE errors counter\n"
                          "errors_total 0\n"
                          "errors_created 1700000002.999999\n"
                          "# HELP sensorbridge_messages_produced Messages handed to the producer.\n"
                          "# TYPE sensorbridge_messages_produced counter\n"
                          "sensorbridge_messages_produced_total{topic=\"a\"} 2.5\n"
                          "sensorbridge_messages_produced_created{topic=\"a\"} 1700000001.000001\n"
                          "sensorbridge_messages_produced_total{topic=\"b\"} 5\n"
                          "sensorbridge_messages_produced_created{topic=\"b\"} 1700000000.250000\n"
                          "# EOF\n");
    /* The text format of the same registry has no _created and keeps the
     * counter's name in HELP and TYPE. */
    assert_exposition(r, "# HELP errors_total Errors.\n"
                         "# TYPE errors_total counter\n"
                         "errors_total 0\n"
                         "# HELP sensorbridge_messages_produced_total Messages handed to the "
                         "producer.\n"
                         "# TYPE sensorbridge_messages_produced_total counter\n"
                         "sensorbridge_messages_produced_total{topic=\"a\"} 2.5\n"
                         "sensorbridge_messages_produced_total{topic=\"b\"} 5\n");
    sb_registry_free(r);
}

static void registry_openmetrics_gauge_and_escaping(void **state)
{
    (void)state;
    struct sb_registry *r = om_registry();
    const char *labels[] = {"v"};
    struct sb_family *f = sb_registry_family(r, SB_GAUGE, "g", "Back\\slash, \"quotes\",\nnewline.",
                                             1, labels, NULL, 0);
    sb_gauge_set(child1(f, "a\\b\"c\nd"), -1.5);
    sb_gauge_set(child1(f, "x"), INFINITY);
    struct sb_family *empty = sb_registry_family(r, SB_GAUGE, "h", "Empty.", 0, NULL, NULL, 0);
    (void)empty;
    /* Gauges have no _created; HELP escapes the quotes too. */
    assert_openmetrics(r, "# HELP g Back\\\\slash, \\\"quotes\\\",\\nnewline.\n"
                          "# TYPE g gauge\n"
                          "g{v=\"a\\\\b\\\"c\\nd\"} -1.5\n"
                          "g{v=\"x\"} +Inf\n"
                          "# HELP h Empty.\n"
                          "# TYPE h gauge\n"
                          "# EOF\n");
    sb_registry_free(r);
}

static void registry_openmetrics_histogram(void **state)
{
    (void)state;
    struct sb_registry *r = om_registry();
    const char *labels[] = {"stage"};
    const double bounds[] = {0.005, 0.5, 1, 2.5, 1e6};
    struct sb_family *f = sb_registry_family(r, SB_HISTOGRAM, "latency_seconds", "Latency.", 1,
                                             labels, bounds, SB_ARRAY_SIZE(bounds));
    struct sb_metric *m = child1(f, "decode");
    sb_histogram_observe(m, 0.001);
    sb_histogram_observe(m, 0.75);
    sb_histogram_observe(m, 0.75);
    sb_histogram_observe(m, 7);
    const double negative[] = {-1, 0};
    struct sb_family *n =
        sb_registry_family(r, SB_HISTOGRAM, "offset", "Offsets.", 0, NULL, negative, 2);
    sb_histogram_observe(sb_family_child(n, NULL), -3);
    assert_openmetrics(r, "# HELP latency_seconds Latency.\n"
                          "# TYPE latency_seconds histogram\n"
                          "latency_seconds_bucket{stage=\"decode\",le=\"0.005\"} 1\n"
                          "latency_seconds_bucket{stage=\"decode\",le=\"0.5\"} 1\n"
                          "latency_seconds_bucket{stage=\"decode\",le=\"1.0\"} 3\n"
                          "latency_seconds_bucket{stage=\"decode\",le=\"2.5\"} 3\n"
                          "latency_seconds_bucket{stage=\"decode\",le=\"1e+06\"} 4\n"
                          "latency_seconds_bucket{stage=\"decode\",le=\"+Inf\"} 4\n"
                          "latency_seconds_count{stage=\"decode\"} 4\n"
                          "latency_seconds_sum{stage=\"decode\"} 8.501\n"
                          "latency_seconds_created{stage=\"decode\"} 1700000000.250000\n"
                          "# HELP offset Offsets.\n"
                          "# TYPE offset histogram\n"
                          "offset_bucket{le=\"-1.0\"} 1\n"
                          "offset_bucket{le=\"0.0\"} 1\n"
                          "offset_bucket{le=\"+Inf\"} 1\n"
                          "offset_count 1\n"
                          "offset_created 1700000001.000001\n"
                          "# EOF\n");
    sb_registry_free(r);
}

static void registry_openmetrics_created_restarts_with_the_series(void **state)
{
    (void)state;
    struct sb_registry *r = om_registry();
    const char *labels[] = {"sensor"};
    struct sb_family *f =
        sb_registry_family(r, SB_COUNTER, "samples_total", "S.", 1, labels, NULL, 0);
    sb_counter_add(child1(f, "PS1"), 3);
    const char *ps1[] = {"PS1"};
    assert_true(sb_family_remove(f, ps1));
    sb_counter_add(child1(f, "PS1"), 1);
    /* Looking a child up again is not creating it. */
    sb_counter_add(child1(f, "PS1"), 1);
    assert_openmetrics(r, "# HELP samples S.\n"
                          "# TYPE samples counter\n"
                          "samples_total{sensor=\"PS1\"} 2\n"
                          "samples_created{sensor=\"PS1\"} 1700000001.000001\n"
                          "# EOF\n");
    sb_registry_free(r);
}

static void registry_openmetrics_empty_registry_is_eof(void **state)
{
    (void)state;
    struct sb_registry *r = om_registry();
    assert_openmetrics(r, "# EOF\n");
    sb_registry_free(r);
}

static void clash_gauge_then_counter(void)
{
    struct sb_registry *r = sb_registry_new();
    sb_registry_family(r, SB_GAUGE, "x", "X.", 0, NULL, NULL, 0);
    sb_registry_family(r, SB_COUNTER, "x_total", "X.", 0, NULL, NULL, 0);
}

static void clash_counter_then_created_gauge(void)
{
    struct sb_registry *r = sb_registry_new();
    sb_registry_family(r, SB_COUNTER, "y_total", "Y.", 0, NULL, NULL, 0);
    sb_registry_family(r, SB_GAUGE, "y_created", "Y.", 0, NULL, NULL, 0);
}

static void clash_histogram_created(void)
{
    struct sb_registry *r = sb_registry_new();
    const double b[] = {1};
    sb_registry_family(r, SB_HISTOGRAM, "z", "Z.", 0, NULL, b, 1);
    sb_registry_family(r, SB_GAUGE, "z_created", "Z.", 0, NULL, NULL, 0);
}

static void clash_counter_without_stem(void)
{
    struct sb_registry *r = sb_registry_new();
    sb_registry_family(r, SB_COUNTER, "_total", "T.", 0, NULL, NULL, 0);
}

static void registry_openmetrics_name_clashes_abort(void **state)
{
    (void)state;
    assert_aborts(clash_gauge_then_counter);
    assert_aborts(clash_counter_then_created_gauge);
    assert_aborts(clash_histogram_created);
    assert_aborts(clash_counter_without_stem);
    /* Names that only share a prefix are fine. */
    struct sb_registry *r = sb_registry_new();
    sb_registry_family(r, SB_COUNTER, "x_total", "X.", 0, NULL, NULL, 0);
    sb_registry_family(r, SB_GAUGE, "x_created_seconds", "X.", 0, NULL, NULL, 0);
    sb_registry_family(r, SB_GAUGE, "x_totals", "X.", 0, NULL, NULL, 0);
    sb_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry_openmetrics_counter),
        cmocka_unit_test(registry_openmetrics_gauge_and_escaping),
        cmocka_unit_test(registry_openmetrics_histogram),
        cmocka_unit_test(registry_openmetrics_created_restarts_with_the_series),
        cmocka_unit_test(registry_openmetrics_empty_registry_is_eof),
        cmocka_unit_test(registry_openmetrics_name_clashes_abort),
        cmocka_unit_test(registry_counter_exact_text),
        cmocka_unit_test(registry_gauge_exact_text),
        cmocka_unit_test(registry_format_value_matches_the_c_library),
        cmocka_unit_test(registry_histogram_exact_text),
        cmocka_unit_test(registry_histogram_bucket_boundaries),
        cmocka_unit_test(registry_histogram_le_format),
        cmocka_unit_test(registry_escaping),
        cmocka_unit_test(registry_invalid_utf8_replaced),
        cmocka_unit_test(registry_families_sorted_by_name),
        cmocka_unit_test(registry_children_sorted_by_label_values),
        cmocka_unit_test(registry_samples_contiguous_with_interleaved_creation),
        cmocka_unit_test(registry_empty_family_prints_help_and_type),
        cmocka_unit_test(registry_collectors_run_before_output),
        cmocka_unit_test(registry_collector_removed_is_not_called),
        cmocka_unit_test(registry_collect_runs_collectors),
        cmocka_unit_test(registry_histogram_sum_adds_children),
        cmocka_unit_test(registry_collector_changes_from_a_collector_abort),
        cmocka_unit_test(registry_family_clear),
        cmocka_unit_test(registry_each_child),
        cmocka_unit_test(registry_many_children_lookup),
        cmocka_unit_test(registry_children_capped),
        cmocka_unit_test(registry_metric_remove_exposition),
        cmocka_unit_test(registry_removed_child_recreated_fresh),
        cmocka_unit_test(registry_remove_many_children),
        cmocka_unit_test(registry_remove_at_cap_and_clear),
        cmocka_unit_test(registry_metric_name_validation),
        cmocka_unit_test(registry_label_name_validation),
        cmocka_unit_test(registry_reregister_returns_same_family),
        cmocka_unit_test(registry_bad_registrations_abort),
        cmocka_unit_test(registry_counter_updates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
