/* test_util.c - number and time formatting, buffers, rate limiting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sensorbridge/log.h"
#include "sensorbridge/util.h"

static void util_fmt_double_shortest(void **state)
{
    (void)state;
    char b[32];
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {20.1, "20.1"},  {151.19, "151.19"},       {0, "0"},
        {8, "8"},        {-3.5, "-3.5"},           {0.1 + 0.2, "0.30000000000000004"},
        {1e20, "1e+20"}, {123456789, "123456789"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sb_fmt_double(b, sizeof(b), cases[i].v);
        assert_string_equal(b, cases[i].s);
    }
    sb_fmt_double(b, sizeof(b), 1.0 / 0.0);
    assert_string_equal(b, "+Inf");
    sb_fmt_double(b, sizeof(b), -1.0 / 0.0);
    assert_string_equal(b, "-Inf");
    sb_fmt_double(b, sizeof(b), 0.0 / 0.0);
    assert_string_equal(b, "NaN");
}

static void util_fmt_double_round_trips(void **state)
{
    (void)state;
    char b[32];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (v != v || v - v != 0)
            continue;
        sb_fmt_double(b, sizeof(b), v);
        assert_true(strtod(b, NULL) == v);
    }
}

/* The 3-decimal text of v computed another way: printf's correctly
 * rounded "%.3f", trailing zeros and a bare point removed. */
static void milli_by_printf(char *out, size_t cap, double v)
{
    snprintf(out, cap, "%.3f", v);
    char *dot = strchr(out, '.');
    char *end = out + strlen(out);
    while (end > dot + 1 && end[-1] == '0')
        *--end = '\0';
    if (end == dot + 1)
        *dot = '\0';
}

static void util_fmt_milli_cases(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        {151.19, "151.19"},
        {0.001, "0.001"},
        {-0.5, "-0.5"},
        {3.0, "3"},
        {0.0, "0"},
        {-2.0, "-2"},
        {1234.005, "1234.005"},
        {191.344, "191.344"},
        {0.333, "0.333"},
        {-0.001, "-0.001"},
        {999999999999.999, "999999999999.999"},
        {-999999999999.999, "-999999999999.999"},
        {123456789.1, "123456789.1"},
    };
    for (size_t i = 0; i < SB_ARRAY_SIZE(cases); i++) {
        char b[SB_FMT_MILLI_MAX + 1];
        size_t n = sb_fmt_milli(b, cases[i].v);
        b[n] = '\0';
        assert_string_equal(b, cases[i].s);
    }
    /* Not a 3-decimal double, or too large: the caller must fall back. */
    static const double refused[] = {-0.0,   0.0004, 0.1 + 0.2, 1e12,      -1e12,    1.0001,
                                     2.5e-4, 1e20,   1e-300,    1.0 / 0.0, 0.0 / 0.0};
    for (size_t i = 0; i < SB_ARRAY_SIZE(refused); i++) {
        char b[SB_FMT_MILLI_MAX];
        assert_int_equal(sb_fmt_milli(b, refused[i]), 0);
    }
}

/* The text of m / 1000 reads back as the same double, is the printf
 * spelling, and is byte for byte what sb_fmt_double (the encoder's old
 * path, snprintf and strtod) writes. */
static void check_milli(int64_t m)
{
    double v = (double)m / 1000.0;
    char got[SB_FMT_MILLI_MAX + 1], want[64], old[40];
    size_t n = sb_fmt_milli(got, v);
    assert_true(n > 0);
    got[n] = '\0';
    milli_by_printf(want, sizeof(want), v);
    assert_string_equal(got, want);
    assert_true(strtod(got, NULL) == v);
    sb_fmt_double(old, sizeof(old), v);
    assert_string_equal(got, old);
}

/* Thousandths in [-100000, 100000] (a stride prime to 10, so every last
 * digit and trailing-zero count occurs), then random ones below 1e12. */
static void util_fmt_milli_matches_printf_and_round_trips(void **state)
{
    (void)state;
    for (int64_t m = -100000000; m <= 100000000; m += 997)
        check_milli(m);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        check_milli((int64_t)(x % 1999999999999999ull) - 999999999999999);
    }
}

static void util_fmt_i64(void **state)
{
    (void)state;
    static const int64_t cases[] = {0, 7, -7, 10, 1762612245123456, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < SB_ARRAY_SIZE(cases); i++) {
        char got[SB_FMT_I64_MAX + 1], want[32];
        size_t n = sb_fmt_i64(got, cases[i]);
        got[n] = '\0';
        snprintf(want, sizeof(want), "%lld", (long long)cases[i]);
        assert_string_equal(got, want);
    }
}

static void util_rfc3339_format(void **state)
{
    (void)state;
    char b[40];
    sb_fmt_rfc3339_us(b, sizeof(b), 1762612245123456ll);
    assert_string_equal(b, "2025-11-08T14:30:45.123456Z");
    sb_fmt_rfc3339_us(b, sizeof(b), 0);
    assert_string_equal(b, "1970-01-01T00:00:00.000000Z");
    sb_fmt_rfc3339_us(b, sizeof(b), -1);
    assert_string_equal(b, "1969-12-31T23:59:59.999999Z");
}

static void util_rfc3339_parse(void **state)
{
    (void)state;
    int64_t us;
    const char *s = "2025-11-08T14:30:45.123456Z";
    assert_int_equal(sb_parse_rfc3339_us(s, strlen(s), &us), 0);
    assert_int_equal(us, 1762612245123456ll);
    s = "2025-11-08T15:30:45.123456+01:00";
    assert_int_equal(sb_parse_rfc3339_us(s, strlen(s), &us), 0);
    assert_int_equal(us, 1762612245123456ll);
    s = "2025-11-08 14:30:45Z";
    assert_int_equal(sb_parse_rfc3339_us(s, strlen(s), &us), 0);
    assert_int_equal(us, 1762612245000000ll);
    s = "2024-02-29T00:00:00.5Z";
    assert_int_equal(sb_parse_rfc3339_us(s, strlen(s), &us), 0);
    assert_int_equal(us, 1709164800500000ll);
    static const char *bad[] = {
        "",
        "2025-11-08",
        "2025-13-01T00:00:00Z",
        "2025-11-08T24:00:00Z",
        "2025-11-08T14:30:45",
        "2025-11-08T14:30:45.Z",
        "2025-11-08T14:30:45.1234567890Z",
        "2025-11-08T14:30:45Zjunk",
        "yesterday at noon, roughly",
        "2025-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sb_parse_rfc3339_us(bad[i], strlen(bad[i]), &us), -EINVAL);
}

static void util_parse_decimal_i64(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t v;
    } ok[] = {
        {"0", 0},
        {"7", 7},
        {"1762612245123456", 1762612245123456ll},
        {"9223372036854775806", 9223372036854775806ll},
        {"9223372036854775807", INT64_MAX},
        {"000000000000000000009223372036854775807", INT64_MAX},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t v = -1;
        assert_int_equal(sb_parse_decimal_i64(ok[i].s, strlen(ok[i].s), &v), 0);
        assert_int_equal(v, ok[i].v);
    }
    /* Only the len bytes count: the input need not end in a NUL. */
    int64_t v = -1;
    assert_int_equal(sb_parse_decimal_i64("12345", 3, &v), 0);
    assert_int_equal(v, 123);
    static const char *const too_large[] = {
        "9223372036854775808",  "9223372036854775810",   "9999999999999999999",
        "10000000000000000000", "18446744073709551616",  "99999999999999999999",
        "92233720368547758070", "184467440737095516160",
    };
    for (size_t i = 0; i < sizeof(too_large) / sizeof(too_large[0]); i++) {
        v = 42;
        assert_int_equal(sb_parse_decimal_i64(too_large[i], strlen(too_large[i]), &v), -ERANGE);
        assert_int_equal(v, 42);
    }
    static const char *const bad[] = {
        "",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1a",
        "0x10",
        "1.5",
        "1e3",
        "\xef\xbc\x91",
        "99999999999999999999x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = 42;
        assert_int_equal(sb_parse_decimal_i64(bad[i], strlen(bad[i]), &v), -EINVAL);
        assert_int_equal(v, 42);
    }
    assert_int_equal(sb_parse_decimal_i64("1\0002", 3, &v), -EINVAL);
}

static void util_rfc3339_round_trip(void **state)
{
    (void)state;
    char b[40];
    for (int64_t us = -86400000000ll; us < 4102444800000000ll; us += 987654321123ll) {
        int64_t back;
        size_t n = sb_fmt_rfc3339_us(b, sizeof(b), us);
        assert_int_equal(sb_parse_rfc3339_us(b, n, &back), 0);
        assert_int_equal(back, us);
    }
}

static void util_buf_grows(void **state)
{
    (void)state;
    struct sb_buf b;
    sb_buf_init(&b);
    for (int i = 0; i < 10000; i++)
        sb_buf_printf(&b, "%d,", i);
    assert_int_equal(b.len, strlen(b.data));
    assert_memory_equal(b.data, "0,1,2,", 6);
    sb_buf_reset(&b);
    assert_int_equal(b.len, 0);
    sb_buf_puts(&b, "x");
    assert_string_equal(b.data, "x");
    sb_buf_free(&b);
}

static void util_ratelimit_counts_suppressed(void **state)
{
    (void)state;
    struct sb_ratelimit rl = {.interval_ns = 1000};
    uint64_t sup = 99;
    assert_true(sb_ratelimit_ok(&rl, 5000, &sup));
    assert_int_equal(sup, 0);
    assert_false(sb_ratelimit_ok(&rl, 5100, &sup));
    assert_false(sb_ratelimit_ok(&rl, 5999, &sup));
    assert_true(sb_ratelimit_ok(&rl, 6000, &sup));
    assert_int_equal(sup, 2);
}

static void util_log_level_names(void **state)
{
    (void)state;
    assert_int_equal(sb_log_level_parse("debug"), SB_LOG_DEBUG);
    assert_int_equal(sb_log_level_parse("warning"), SB_LOG_WARNING);
    assert_int_equal(sb_log_level_parse("loud"), -1);
}

/* Slots of a table of 8: an entry keeps its slot after a hole opens at
 * `hole` only if its home lies cyclically in (hole, j]. */
static void util_probe_keeps(void **state)
{
    (void)state;
    /* No wrap: hole 2, entry at 5. */
    assert_false(sb_probe_keeps(2, 5, 1)); /* home before the hole: moves in */
    assert_false(sb_probe_keeps(2, 5, 2)); /* home is the hole itself */
    assert_true(sb_probe_keeps(2, 5, 3));
    assert_true(sb_probe_keeps(2, 5, 5));  /* at home */
    assert_false(sb_probe_keeps(2, 5, 6)); /* home after j: wrapped round to it */
    /* The run wraps: hole 6, entry at 1. */
    assert_true(sb_probe_keeps(6, 1, 7));
    assert_true(sb_probe_keeps(6, 1, 0));
    assert_true(sb_probe_keeps(6, 1, 1));
    assert_false(sb_probe_keeps(6, 1, 6));
    assert_false(sb_probe_keeps(6, 1, 3));
}

/* Published FNV-1a 64 test vectors (Fowler, Noll, Vo). */
static void util_hash_is_fnv1a(void **state)
{
    (void)state;
    assert_true(sb_hash_fnv1a("", 0) == UINT64_C(0xcbf29ce484222325));
    assert_true(sb_hash_fnv1a("a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    assert_true(sb_hash_fnv1a("foobar", 6) == UINT64_C(0x85944171f73967e8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(util_hash_is_fnv1a),
        cmocka_unit_test(util_fmt_double_shortest),
        cmocka_unit_test(util_fmt_double_round_trips),
        cmocka_unit_test(util_fmt_milli_cases),
        cmocka_unit_test(util_fmt_milli_matches_printf_and_round_trips),
        cmocka_unit_test(util_fmt_i64),
        cmocka_unit_test(util_rfc3339_format),
        cmocka_unit_test(util_rfc3339_parse),
        cmocka_unit_test(util_parse_decimal_i64),
        cmocka_unit_test(util_rfc3339_round_trip),
        cmocka_unit_test(util_buf_grows),
        cmocka_unit_test(util_ratelimit_counts_suppressed),
        cmocka_unit_test(util_log_level_names),
        cmocka_unit_test(util_probe_keeps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
