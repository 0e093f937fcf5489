/* test_codec.c - the sample message: exact bytes out, every field checked in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sensorbridge/codec.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

/* 2025-11-08T14:30:45.123456Z */
#define EXAMPLE_US INT64_C(1762612245123456)

#define EXAMPLE_JSON                                                                               \
    "{\"sensor\":\"PS1\",\"cycle\":0,\"sample_idx\":100,\"value\":151.19,"                         \
    "\"timestamp\":\"2025-11-08T14:30:45.123456Z\",\"sampling_rate_hz\":100,"                      \
    "\"unit\":\"bar\",\"source\":\"uci-hydraulic\"}"

static struct sb_sample example(void)
{
    struct sb_sample s = {
        .sensor = "PS1",
        .cycle = 0,
        .sample_idx = 100,
        .value = 151.19,
        .value_text = "151.19",
        .value_len = 6,
        .ts_us = EXAMPLE_US,
        .rate_hz = 100,
        .unit = "bar",
        .source = "uci-hydraulic",
    };
    return s;
}

/* Deterministic xorshift64*, so a failure reproduces. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Du;
}

static size_t encode(const struct sb_sample *s, char *buf, size_t cap)
{
    size_t n = sb_codec_encode(s, buf, cap);
    assert_true(n < cap);
    assert_int_equal(strlen(buf), n);
    return n;
}

/* The "value" member exactly as encoded, between "value": and ,"timestamp". */
static void encoded_value(const struct sb_sample *s, char *out, size_t cap)
{
    char buf[512];
    encode(s, buf, sizeof(buf));
    const char *b = strstr(buf, "\"value\":");
    assert_non_null(b);
    b += strlen("\"value\":");
    const char *e = strstr(b, ",\"timestamp\":");
    assert_non_null(e);
    assert_true((size_t)(e - b) < cap);
    memcpy(out, b, (size_t)(e - b));
    out[e - b] = '\0';
}

static void assert_decodes(const char *msg, int strict, struct sb_decoded *d)
{
    enum sb_invalid_reason r = SB_INVALID__COUNT;
    int rc = sb_codec_decode(msg, strlen(msg), strict, d, &r);
    if (rc != 0)
        fail_msg("refused (%s): %s", sb_invalid_reason_name(r), msg);
}

static void assert_reason(const char *msg, size_t len, int strict, enum sb_invalid_reason want)
{
    struct sb_decoded d;
    memset(&d, 0xA5, sizeof(d));
    struct sb_decoded before = d;
    enum sb_invalid_reason r = SB_INVALID__COUNT;
    int rc = sb_codec_decode(msg, len, strict, &d, &r);
    if (rc != -1 || r != want)
        fail_msg("want %s, got rc=%d %s: %.*s", sb_invalid_reason_name(want), rc,
                 rc == 0 ? "ok" : sb_invalid_reason_name(r), (int)(len > 200 ? 200 : len), msg);
    /* A refused message leaves the caller's struct alone. */
    assert_memory_equal(&d, &before, sizeof(d));
}

#define REFUSED(msg, reason) assert_reason((msg), strlen(msg), 1, (reason))

/* Builds a valid strict message with one member replaced (or, with
 * value NULL, removed). */
static void with_member(char *out, size_t cap, const char *key, const char *value)
{
    static const char *const keys[] = {"sensor", "cycle",     "sample_idx",
                                       "value",  "timestamp", "sampling_rate_hz"};
    static const char *const vals[] = {
        "\"PS1\"", "0", "100", "151.19", "\"2025-11-08T14:30:45.123456Z\"", "100"};
    size_t n = (size_t)snprintf(out, cap, "{");
    int first = 1;
    for (size_t i = 0; i < 6; i++) {
        const char *v = vals[i];
        if (strcmp(keys[i], key) == 0) {
            if (value == NULL)
                continue;
            v = value;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s\"%s\":%s", first ? "" : ",", keys[i], v);
        first = 0;
    }
    snprintf(out + n, cap - n, "}");
}

static void refused_member(const char *key, const char *value, enum sb_invalid_reason want)
{
    char msg[512];
    with_member(msg, sizeof(msg), key, value);
    REFUSED(msg, want);
}

/* ---------------------------------------------------------------- */

static void codec_encode_example_exact(void **state)
{
    (void)state;
    struct sb_sample s = example();
    char buf[512];
    size_t n = encode(&s, buf, sizeof(buf));
    assert_string_equal(buf, EXAMPLE_JSON);
    assert_int_equal(n, strlen(EXAMPLE_JSON));

    /* Without value_text the shortest round-trip spelling is the same. */
    s.value_text = NULL;
    s.value_len = 0;
    encode(&s, buf, sizeof(buf));
    assert_string_equal(buf, EXAMPLE_JSON);
}

static void codec_encode_omits_null_unit_and_source(void **state)
{
    (void)state;
    struct sb_sample s = example();
    char buf[512];
    s.unit = NULL;
    encode(&s, buf, sizeof(buf));
    assert_string_equal(buf, "{\"sensor\":\"PS1\",\"cycle\":0,\"sample_idx\":100,\"value\":151.19,"
                             "\"timestamp\":\"2025-11-08T14:30:45.123456Z\",\"sampling_rate_hz\":"
                             "100,\"source\":\"uci-hydraulic\"}");
    s.unit = "bar";
    s.source = NULL;
    encode(&s, buf, sizeof(buf));
    assert_string_equal(buf, "{\"sensor\":\"PS1\",\"cycle\":0,\"sample_idx\":100,\"value\":151.19,"
                             "\"timestamp\":\"2025-11-08T14:30:45.123456Z\",\"sampling_rate_hz\":"
                             "100,\"unit\":\"bar\"}");
    s.unit = NULL;
    encode(&s, buf, sizeof(buf));
    assert_string_equal(buf, "{\"sensor\":\"PS1\",\"cycle\":0,\"sample_idx\":100,\"value\":151.19,"
                             "\"timestamp\":\"2025-11-08T14:30:45.123456Z\",\"sampling_rate_hz\":"
                             "100}");
    /* An empty unit is still a unit: only NULL omits the field. */
    s.unit = "";
    encode(&s, buf, sizeof(buf));
    assert_non_null(strstr(buf, ",\"unit\":\"\"}"));
}

static void codec_encode_synthetic_shape(void **state)
{
    (void)state;
    struct sb_sample s = example();
    char buf[512];
    s.cycle = -1;
    s.rate_hz = 0.5;
    s.unit = "°C";
    s.source = "synthetic";
    s.extra = ",\"factory_section\":\"A\",\"machine\":\"M3\",\"zone\":\"north\"";
    size_t n = encode(&s, buf, sizeof(buf));
    assert_string_equal(buf, "{\"sensor\":\"PS1\",\"sample_idx\":100,\"value\":151.19,"
                             "\"timestamp\":\"2025-11-08T14:30:45.123456Z\",\"sampling_rate_hz\":"
                             "0.5,\"unit\":\"°C\",\"source\":\"synthetic\",\"factory_section\":"
                             "\"A\",\"machine\":\"M3\",\"zone\":\"north\"}");
    assert_int_equal(n, strlen(buf));
    struct sb_decoded d;
    enum sb_invalid_reason why;
    assert_int_equal(sb_codec_decode(buf, n, 0, &d, &why), 0);
    assert_int_equal(d.cycle, -1);
    assert_true(d.rate_hz == 0.5);
}

static void codec_encode_integer_extremes(void **state)
{
    (void)state;
    struct sb_sample s = example();
    s.cycle = UINT32_MAX;
    s.sample_idx = 1000000000;
    s.rate_hz = 0;
    s.unit = NULL;
    s.source = NULL;
    s.ts_us = 0;
    char buf[512];
    encode(&s, buf, sizeof(buf));
    assert_string_equal(buf, "{\"sensor\":\"PS1\",\"cycle\":4294967295,\"sample_idx\":1000000000,"
                             "\"value\":151.19,\"timestamp\":\"1970-01-01T00:00:00.000000Z\","
                             "\"sampling_rate_hz\":0}");
    for (uint32_t v = 0; v < 100000; v = v * 3 + 1) {
        s.cycle = v;
        s.sample_idx = UINT32_MAX - v;
        s.rate_hz = v;
        encode(&s, buf, sizeof(buf));
        char want[128];
        snprintf(want, sizeof(want), "\"cycle\":%u,\"sample_idx\":%u,", (unsigned)v,
                 (unsigned)(UINT32_MAX - v));
        assert_non_null(strstr(buf, want));
        snprintf(want, sizeof(want), "\"sampling_rate_hz\":%u}", (unsigned)v);
        assert_non_null(strstr(buf, want));
    }
}

static void codec_encode_keeps_value_text(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "20.1",   "0",           "8",    "35.57",   "-0.5",
        "151.19", "-0",          "1e-3", "1.5E+10", "2E5",
        "0.000",  "1234567.125", "0e0",  "-0.0",    "20.100000000000001"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct sb_sample s = example();
        s.value_text = texts[i];
        s.value_len = strlen(texts[i]);
        s.value = strtod(texts[i], NULL);
        char got[64];
        encoded_value(&s, got, sizeof(got));
        assert_string_equal(got, texts[i]);
    }
    /* value_len bounds the text: it need not be NUL-terminated. */
    struct sb_sample s = example();
    s.value_text = "35.57,garbage";
    s.value_len = 5;
    s.value = 35.57;
    char got[64];
    encoded_value(&s, got, sizeof(got));
    assert_string_equal(got, "35.57");
}

static void codec_encode_normalizes_bad_value_text(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double value;
        const char *want;
    } cases[] = {
        {"35.", 35.0, "35"},   {".5", 0.5, "0.5"},       {"+1", 1.0, "1"},  {"007", 7.0, "7"},
        {"-.5", -0.5, "-0.5"}, {"1e", 1.0, "1"},         {"1e+", 1.0, "1"}, {"-", 0.0, "0"},
        {"", 20.1, "20.1"},    {" 1", 1.0, "1"},         {"1 ", 1.0, "1"},  {"0x10", 16.0, "16"},
        {"1.2.3", 1.2, "1.2"}, {"nan", 3.5, "3.5"},      {"00", 0.0, "0"},  {"-01.5", -1.5, "-1.5"},
        {"1,5", 1.5, "1.5"},   {"20.10", 20.1, "20.10"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sb_sample s = example();
        s.value_text = cases[i].text;
        s.value_len = strlen(cases[i].text);
        s.value = cases[i].value;
        char got[64];
        encoded_value(&s, got, sizeof(got));
        assert_string_equal(got, cases[i].want);
    }
}

static void codec_encode_formats_value_without_text(void **state)
{
    (void)state;
    static const struct {
        double value;
        const char *want;
    } cases[] = {
        {20.1, "20.1"},
        {0.1 + 0.2, "0.30000000000000004"},
        {8.0, "8"},
        {0.0, "0"},
        {-0.0, "-0.0"},
        {1e300, "1e+300"},
        {-2.5e-7, "-2.5e-07"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sb_sample s = example();
        s.value_text = NULL;
        s.value_len = 0;
        s.value = cases[i].value;
        char got[64];
        encoded_value(&s, got, sizeof(got));
        assert_string_equal(got, cases[i].want);
    }
    /* A text pointer with zero length is no text. */
    struct sb_sample s = example();
    s.value_text = "151.19";
    s.value_len = 0;
    s.value = 42.5;
    char got[64];
    encoded_value(&s, got, sizeof(got));
    assert_string_equal(got, "42.5");
}

static void codec_encode_non_finite_as_null(void **state)
{
    (void)state;
    const double values[] = {NAN, -NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 4; i++) {
        for (int with_text = 0; with_text < 2; with_text++) {
            struct sb_sample s = example();
            s.value = values[i];
            s.value_text = with_text ? "1e400" : NULL;
            s.value_len = with_text ? 5 : 0;
            char buf[512];
            encode(&s, buf, sizeof(buf));
            assert_non_null(strstr(buf, ",\"value\":null,"));
            /* The message stays valid JSON and is refused as non_finite. */
            assert_reason(buf, strlen(buf), 1, SB_INVALID_NON_FINITE);
        }
    }
}

static void codec_encode_escapes_strings(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"\xc2\xb0"
         "C",
         "\xc2\xb0"
         "C"},
        {"a\"b", "a\\\"b"},
        {"a\\b", "a\\\\b"},
        {"line\nnext\ttab\r", "line\\u000anext\\u0009tab\\u000d"},
        {"\x01\x1f", "\\u0001\\u001f"},
        {"del\x7f", "del\x7f"},
        {"/", "/"},
        {"\xe2\x82\xac \xf0\x9f\x8c\xa1", "\xe2\x82\xac \xf0\x9f\x8c\xa1"}, /* euro, emoji */
        {"\xff", "\\ufffd"},                                                /* never UTF-8 */
        {"x\xc3", "x\\ufffd"},                                              /* truncated */
        {"\xc0\xaf", "\\ufffd\\ufffd"},                                     /* overlong '/' */
        {"\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd"},                          /* overlong */
        {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},                          /* surrogate */
        {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},               /* > U+10FFFF */
        {"\xe2\x82", "\\ufffd\\ufffd"},                                     /* cut short */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sb_sample s = example();
        s.unit = cases[i].in;
        s.source = cases[i].in;
        char buf[512];
        encode(&s, buf, sizeof(buf));
        char want[256];
        snprintf(want, sizeof(want), ",\"unit\":\"%s\",\"source\":\"%s\"}", cases[i].want,
                 cases[i].want);
        assert_non_null(strstr(buf, want));

        /* Whatever the input bytes, the output is JSON jansson accepts, and
         * valid UTF-8 comes back unchanged. */
        json_error_t err;
        json_t *j = json_loads(buf, JSON_REJECT_DUPLICATES, &err);
        if (j == NULL)
            fail_msg("case %zu: %s: %s", i, err.text, buf);
        const char *unit = json_string_value(json_object_get(j, "unit"));
        assert_non_null(unit);
        if (strstr(cases[i].want, "\\ufffd") == NULL)
            assert_string_equal(unit, cases[i].in);
        json_decref(j);
    }

    /* The sensor name is escaped too; the decoder then refuses it. */
    struct sb_sample s = example();
    s.sensor = "P\"S\n1";
    char buf[512];
    encode(&s, buf, sizeof(buf));
    assert_non_null(strstr(buf, "{\"sensor\":\"P\\\"S\\u000a1\","));
    assert_reason(buf, strlen(buf), 0, SB_INVALID_UNKNOWN_SENSOR);
}

static void codec_encode_small_buffer_never_overruns(void **state)
{
    (void)state;
    struct sb_sample s = example();
    s.unit = "\xc2\xb0"
             "C\n\"";
    s.source = "\xff";
    char full[512];
    size_t need = encode(&s, full, sizeof(full));

    assert_int_equal(sb_codec_encode(&s, NULL, 0), need);
    for (size_t cap = 0; cap <= need + 2; cap++) {
        char buf[600];
        memset(buf, '#', sizeof(buf));
        size_t n = sb_codec_encode(&s, buf + 8, cap);
        assert_int_equal(n, need);
        /* Canaries on both sides stay untouched. */
        for (size_t i = 0; i < 8; i++)
            assert_int_equal(buf[i], '#');
        for (size_t i = 8 + cap; i < sizeof(buf); i++)
            assert_int_equal(buf[i], '#');
        if (cap > 0) {
            size_t kept = need < cap - 1 ? need : cap - 1;
            assert_memory_equal(buf + 8, full, kept);
            assert_int_equal(buf[8 + kept], '\0');
        }
    }
}

static void codec_encode_timestamp_matches_util(void **state)
{
    (void)state;
    struct sb_sample s = example();
    s.unit = NULL;
    s.source = NULL;
    /* 0001-01-01 .. 9999-12-31, including the epoch and days around it. */
    const int64_t lo = INT64_C(-62135596800000000), hi = INT64_C(253402300799999999);
    const int64_t fixed[] = {
        0, -1, 1, -1000000, 999999, lo, hi, EXAMPLE_US, INT64_C(951782400000000) /* 2000-02-29 */};
    for (size_t i = 0; i < 200000 + sizeof(fixed) / sizeof(fixed[0]); i++) {
        int64_t us = i < sizeof(fixed) / sizeof(fixed[0])
                         ? fixed[i]
                         : lo + (int64_t)(rng() % (uint64_t)(hi - lo));
        s.ts_us = us;
        char buf[512];
        encode(&s, buf, sizeof(buf));
        char want[64], key[96];
        sb_fmt_rfc3339_us(want, sizeof(want), us);
        snprintf(key, sizeof(key), "\"timestamp\":\"%s\",", want);
        if (strstr(buf, key) == NULL)
            fail_msg("us=%lld want %s in %s", (long long)us, want, buf);
    }
    /* Beyond year 9999 or before year 0 the field cannot be RFC 3339; the
     * message stays JSON and the decoder names the problem. */
    const int64_t extreme[] = {INT64_MIN, INT64_MAX, hi + 1, INT64_C(-62167219200000001)};
    for (size_t i = 0; i < 4; i++) {
        s.ts_us = extreme[i];
        char buf[512];
        encode(&s, buf, sizeof(buf));
        assert_reason(buf, strlen(buf), 1, SB_INVALID_BAD_TIMESTAMP);
    }
    /* Year 0 is still four digits. */
    s.ts_us = INT64_C(-62167219200000000);
    char buf[512];
    encode(&s, buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"0000-01-01T00:00:00.000000Z\""));
}

/* ---------------------------------------------------------------- */

static void codec_roundtrip_random(void **state)
{
    (void)state;
    size_t nsensors;
    const struct sb_sensor_info *uci = sb_sensors_uci(&nsensors);
    assert_int_equal(nsensors, SB_UCI_NSENSORS);
    for (int i = 0; i < 100000; i++) {
        struct sb_sample s = example();
        const struct sb_sensor_info *si = &uci[rng() % nsensors];
        s.sensor = si->name;
        s.unit = (i & 1) ? si->unit : NULL;
        s.source = (i & 2) ? "uci-hydraulic" : NULL;
        s.cycle = (uint32_t)rng();
        s.sample_idx = (uint32_t)rng();
        s.rate_hz = (unsigned)(rng() % 1000);
        /* 1970 .. ~2100 */
        s.ts_us = (int64_t)(rng() % UINT64_C(4102444800000000));
        double v;
        switch (i % 4) {
        case 0: { /* every finite double, subnormals included */
            uint64_t bits;
            do {
                bits = rng();
                memcpy(&v, &bits, sizeof(v));
            } while (!isfinite(v));
            break;
        }
        case 1: /* sensor-like decimals */
            v = (double)(int64_t)(rng() % 2000000) / 100.0 - 5000.0;
            break;
        case 2: /* integral values are written as JSON integers */
            v = (double)(int64_t)(rng() % 2000001) - 1000000.0;
            break;
        default:
            v = (i % 8 == 3) ? -0.0 : ldexp((double)(rng() >> 11), -(int)(rng() % 1100));
            break;
        }
        s.value = v;
        char text[40];
        if (i % 3 == 0) {
            s.value_len = sb_fmt_double(text, sizeof(text), v);
            s.value_text = text;
            if (v == 0 && signbit(v)) {
                s.value_text = "-0.0";
                s.value_len = 4;
            }
        } else {
            s.value_text = NULL;
            s.value_len = 0;
        }

        char buf[512];
        size_t n = encode(&s, buf, sizeof(buf));
        struct sb_decoded d;
        enum sb_invalid_reason r;
        if (sb_codec_decode(buf, n, 1, &d, &r) != 0)
            fail_msg("%s: %s", sb_invalid_reason_name(r), buf);
        assert_string_equal(d.sensor, s.sensor);
        assert_int_equal(d.cycle, s.cycle);
        assert_int_equal(d.sample_idx, s.sample_idx);
        assert_int_equal(d.ts_us, s.ts_us);
        assert_true(d.rate_hz == (double)s.rate_hz);
        if (memcmp(&d.value, &v, sizeof(v)) != 0)
            fail_msg("value %.17g came back as %.17g: %s", v, d.value, buf);
    }
}

/* ---------------------------------------------------------------- */

static void codec_decode_python_producer_format(void **state)
{
    (void)state;
    struct sb_decoded d;
    /* json.dumps() default separators: ", " and ": ". */
    assert_decodes("{\"sensor\": \"PS1\", \"cycle\": 0, \"sample_idx\": 100, \"value\": 151.19, "
                   "\"timestamp\": \"2025-11-08T14:30:45.123456Z\", \"sampling_rate_hz\": 100}",
                   1, &d);
    assert_string_equal(d.sensor, "PS1");
    assert_int_equal(d.cycle, 0);
    assert_int_equal(d.sample_idx, 100);
    assert_true(d.value == 151.19);
    assert_int_equal(d.ts_us, EXAMPLE_US);
    assert_true(d.rate_hz == 100.0);

    /* Pretty-printed, keys in another order, extra fields of the synthetic
     * sensors ignored whatever their type. */
    assert_decodes("{\n  \"timestamp\": \"2025-11-08T14:30:45.123456+00:00\",\n"
                   "  \"value\": 8,\n  \"sensor\": \"TS1\",\n  \"unit\": \"\\u00b0C\",\n"
                   "  \"source\": \"uci-hydraulic\",\n  \"factory_section\": \"press\",\n"
                   "  \"machine\": {\"id\": 7, \"tags\": [1, 2.5, null]},\n  \"zone\": null,\n"
                   "  \"note\": \"nul \\u0000 inside\"\n}\n",
                   1, &d);
    assert_string_equal(d.sensor, "TS1");
    assert_true(d.value == 8.0);
    assert_int_equal(d.ts_us, EXAMPLE_US);
    assert_int_equal(d.cycle, -1);
    assert_int_equal(d.sample_idx, -1);
    assert_true(d.rate_hz == -1.0);

    /* Our own encoder's output, unit "°C" in raw UTF-8. */
    struct sb_sample s = example();
    s.sensor = "TS2";
    s.unit = "\xc2\xb0"
             "C";
    char buf[512];
    encode(&s, buf, sizeof(buf));
    assert_decodes(buf, 1, &d);
    assert_string_equal(d.sensor, "TS2");
}

static void codec_decode_timestamp_variants(void **state)
{
    (void)state;
    static const struct {
        const char *ts;
        int64_t us;
    } cases[] = {
        {"2025-11-08T14:30:45.123456Z", EXAMPLE_US},
        {"2025-11-08T14:30:45.123456+00:00", EXAMPLE_US},
        {"2025-11-08T16:30:45.123456+02:00", EXAMPLE_US},
        {"2025-11-08T09:00:45.123456-05:30", EXAMPLE_US},
        {"2025-11-08T14:30:45Z", EXAMPLE_US - 123456},
        {"2025-11-08T14:30:45+00:00", EXAMPLE_US - 123456},
        {"2025-11-08T14:30:45.1Z", EXAMPLE_US - 23456},
        {"2025-11-08T14:30:45.123456789Z", EXAMPLE_US},
        {"2025-11-08 14:30:45.123456Z", EXAMPLE_US},
        {"1970-01-01T00:00:00Z", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[256];
        snprintf(msg, sizeof(msg), "{\"sensor\":\"PS1\",\"value\":1.5,\"timestamp\":\"%s\"}",
                 cases[i].ts);
        struct sb_decoded d;
        assert_decodes(msg, 1, &d);
        assert_int_equal(d.ts_us, cases[i].us);
    }
}

static void codec_decode_number_kinds(void **state)
{
    (void)state;
    struct sb_decoded d;
    /* value and sampling_rate_hz accept integers and reals. */
    assert_decodes("{\"sensor\":\"FS1\",\"value\":8,\"timestamp\":\"2025-11-08T14:30:45Z\","
                   "\"sampling_rate_hz\":10.0}",
                   1, &d);
    assert_true(d.value == 8.0);
    assert_true(d.rate_hz == 10.0);
    assert_decodes("{\"sensor\":\"FS1\",\"value\":-1.5e3,\"timestamp\":\"2025-11-08T14:30:45Z\","
                   "\"sampling_rate_hz\":1e1,\"cycle\":2204,\"sample_idx\":5999}",
                   1, &d);
    assert_true(d.value == -1500.0);
    assert_true(d.rate_hz == 10.0);
    assert_int_equal(d.cycle, 2204);
    assert_int_equal(d.sample_idx, 5999);
    /* Underflow is not overflow: jansson rounds 1e-400 to 0. */
    assert_decodes("{\"sensor\":\"FS1\",\"value\":1e-400,\"timestamp\":\"2025-11-08T14:30:45Z\"}",
                   1, &d);
    assert_true(d.value == 0.0);
    /* The largest int64 counters fit. */
    assert_decodes("{\"sensor\":\"FS1\",\"value\":0,\"timestamp\":\"2025-11-08T14:30:45Z\","
                   "\"cycle\":9223372036854775807,\"sample_idx\":0,\"sampling_rate_hz\":0}",
                   1, &d);
    assert_int_equal(d.cycle, INT64_MAX);
    assert_int_equal(d.sample_idx, 0);
    assert_true(d.rate_hz == 0.0);
    /* Optional fields written as null count as absent. */
    assert_decodes("{\"sensor\":\"FS1\",\"value\":0,\"timestamp\":\"2025-11-08T14:30:45Z\","
                   "\"cycle\":null,\"sample_idx\":null,\"sampling_rate_hz\":null}",
                   1, &d);
    assert_int_equal(d.cycle, -1);
    assert_int_equal(d.sample_idx, -1);
    assert_true(d.rate_hz == -1.0);
}

static void codec_decode_size_limit(void **state)
{
    (void)state;
    /* Exactly SB_CODEC_MAX_MESSAGE bytes is accepted, one more is not
     * even parsed. */
    static char msg[SB_CODEC_MAX_MESSAGE + 2];
    const char *head = "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\","
                       "\"pad\":\"";
    size_t hl = strlen(head);
    memcpy(msg, head, hl);
    memset(msg + hl, 'x', SB_CODEC_MAX_MESSAGE - hl - 2);
    memcpy(msg + SB_CODEC_MAX_MESSAGE - 2, "\"}", 2);
    struct sb_decoded d;
    enum sb_invalid_reason r;
    assert_int_equal(sb_codec_decode(msg, SB_CODEC_MAX_MESSAGE, 1, &d, &r), 0);

    memcpy(msg + SB_CODEC_MAX_MESSAGE - 2, "x\"}", 3);
    assert_reason(msg, SB_CODEC_MAX_MESSAGE + 1, 1, SB_INVALID_NOT_JSON);
    /* Whitespace padding counts too. */
    memset(msg, ' ', sizeof(msg));
    memcpy(msg, EXAMPLE_JSON, strlen(EXAMPLE_JSON));
    assert_reason(msg, SB_CODEC_MAX_MESSAGE + 1, 1, SB_INVALID_NOT_JSON);
    assert_int_equal(sb_codec_decode(msg, SB_CODEC_MAX_MESSAGE, 1, &d, &r), 0);
}

static void codec_decode_not_json(void **state)
{
    (void)state;
    assert_reason("", 0, 1, SB_INVALID_NOT_JSON);
    assert_reason(NULL, 0, 1, SB_INVALID_NOT_JSON);
    REFUSED("   \n", SB_INVALID_NOT_JSON);
    REFUSED("hello", SB_INVALID_NOT_JSON);
    REFUSED("{", SB_INVALID_NOT_JSON);
    REFUSED("{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"",
            SB_INVALID_NOT_JSON);
    REFUSED("{\"sensor\":'PS1',\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"}",
            SB_INVALID_NOT_JSON);
    /* Truncated anywhere. */
    for (size_t n = 1; n < strlen(EXAMPLE_JSON); n++)
        assert_reason(EXAMPLE_JSON, n, 1, SB_INVALID_NOT_JSON);
    /* Trailing bytes, two documents, a NUL terminator sent along. */
    REFUSED(EXAMPLE_JSON " x", SB_INVALID_NOT_JSON);
    REFUSED(EXAMPLE_JSON EXAMPLE_JSON, SB_INVALID_NOT_JSON);
    assert_reason(EXAMPLE_JSON, strlen(EXAMPLE_JSON) + 1, 1, SB_INVALID_NOT_JSON);
    /* Invalid UTF-8 anywhere. */
    REFUSED("{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\","
            "\"unit\":\"\xff\"}",
            SB_INVALID_NOT_JSON);
    /* Numbers JSON does not allow. */
    refused_member("value", "35.", SB_INVALID_NOT_JSON);
    refused_member("value", ".5", SB_INVALID_NOT_JSON);
    refused_member("value", "+1", SB_INVALID_NOT_JSON);
    refused_member("value", "007", SB_INVALID_NOT_JSON);
    /* Integers beyond int64 are finite but jansson cannot hold them. */
    refused_member("value", "99999999999999999999", SB_INVALID_NOT_JSON);
    refused_member("cycle", "99999999999999999999", SB_INVALID_NOT_JSON);
    /* An out-of-range or NaN token elsewhere than value is just bad JSON. */
    refused_member("cycle", "1e400", SB_INVALID_NOT_JSON);
    refused_member("sampling_rate_hz", "NaN", SB_INVALID_NOT_JSON);
}

static void codec_decode_duplicate_keys(void **state)
{
    (void)state;
    REFUSED("{\"sensor\":\"PS1\",\"sensor\":\"PS2\",\"value\":1,"
            "\"timestamp\":\"2025-11-08T14:30:45Z\"}",
            SB_INVALID_NOT_JSON);
    REFUSED("{\"sensor\":\"PS1\",\"value\":1,\"value\":2,\"timestamp\":\"2025-11-08T14:30:45Z\"}",
            SB_INVALID_NOT_JSON);
    REFUSED("{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\","
            "\"zone\":1,\"zone\":1}",
            SB_INVALID_NOT_JSON);
}

static void codec_decode_not_object(void **state)
{
    (void)state;
    REFUSED("[]", SB_INVALID_NOT_OBJECT);
    REFUSED("[" EXAMPLE_JSON "]", SB_INVALID_NOT_OBJECT);
    REFUSED("\"PS1\"", SB_INVALID_NOT_OBJECT);
    REFUSED("42", SB_INVALID_NOT_OBJECT);
    REFUSED("151.19", SB_INVALID_NOT_OBJECT);
    REFUSED("null", SB_INVALID_NOT_OBJECT);
    REFUSED(" true ", SB_INVALID_NOT_OBJECT);
}

static void codec_decode_missing_field(void **state)
{
    (void)state;
    refused_member("sensor", NULL, SB_INVALID_MISSING_FIELD);
    refused_member("value", NULL, SB_INVALID_MISSING_FIELD);
    refused_member("timestamp", NULL, SB_INVALID_MISSING_FIELD);
    REFUSED("{}", SB_INVALID_MISSING_FIELD);
    REFUSED("{\"Sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"}",
            SB_INVALID_MISSING_FIELD);
    REFUSED("{\"sensor\":\"PS1\",\"val\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"}",
            SB_INVALID_MISSING_FIELD);
    REFUSED("{\"sensor\":\"PS1\",\"value\":1,\"ts\":\"2025-11-08T14:30:45Z\"}",
            SB_INVALID_MISSING_FIELD);
    /* A missing field wins over a wrong one. */
    REFUSED("{\"sensor\":42,\"value\":\"1\"}", SB_INVALID_MISSING_FIELD);
}

static void codec_decode_wrong_type(void **state)
{
    (void)state;
    refused_member("value", "\"151.19\"", SB_INVALID_WRONG_TYPE);
    refused_member("value", "true", SB_INVALID_WRONG_TYPE);
    refused_member("value", "false", SB_INVALID_WRONG_TYPE);
    refused_member("value", "[151.19]", SB_INVALID_WRONG_TYPE);
    refused_member("value", "{\"v\":1}", SB_INVALID_WRONG_TYPE);
    refused_member("sensor", "42", SB_INVALID_WRONG_TYPE);
    refused_member("sensor", "null", SB_INVALID_WRONG_TYPE);
    refused_member("sensor", "[\"PS1\"]", SB_INVALID_WRONG_TYPE);
    refused_member("timestamp", "1762612245123456", SB_INVALID_WRONG_TYPE);
    refused_member("timestamp", "null", SB_INVALID_WRONG_TYPE);
    refused_member("cycle", "-1", SB_INVALID_WRONG_TYPE);
    refused_member("cycle", "3.0", SB_INVALID_WRONG_TYPE);
    refused_member("cycle", "\"3\"", SB_INVALID_WRONG_TYPE);
    refused_member("cycle", "true", SB_INVALID_WRONG_TYPE);
    refused_member("sample_idx", "-9223372036854775808", SB_INVALID_WRONG_TYPE);
    refused_member("sample_idx", "1.5", SB_INVALID_WRONG_TYPE);
    refused_member("sample_idx", "1e2", SB_INVALID_WRONG_TYPE);
    refused_member("sampling_rate_hz", "-1", SB_INVALID_WRONG_TYPE);
    refused_member("sampling_rate_hz", "-0.5", SB_INVALID_WRONG_TYPE);
    refused_member("sampling_rate_hz", "\"100\"", SB_INVALID_WRONG_TYPE);
    refused_member("sampling_rate_hz", "false", SB_INVALID_WRONG_TYPE);
}

static void codec_decode_non_finite(void **state)
{
    (void)state;
    /* JSON.stringify and our encoder write null; Python's json.dumps writes
     * NaN / Infinity, which jansson refuses; 1e400 overflows a double. */
    refused_member("value", "null", SB_INVALID_NON_FINITE);
    refused_member("value", "NaN", SB_INVALID_NON_FINITE);
    refused_member("value", "Infinity", SB_INVALID_NON_FINITE);
    refused_member("value", "-Infinity", SB_INVALID_NON_FINITE);
    refused_member("value", "1e400", SB_INVALID_NON_FINITE);
    refused_member("value", "-1e400", SB_INVALID_NON_FINITE);
    refused_member("value", "1.5E+309", SB_INVALID_NON_FINITE);
    REFUSED("{\"sensor\": \"PS1\", \"value\": NaN, \"timestamp\": \"2025-11-08T14:30:45Z\"}",
            SB_INVALID_NON_FINITE);
    REFUSED("{\"sensor\": \"PS1\", \"timestamp\": \"2025-11-08T14:30:45Z\", \"value\" :\n"
            "  -Infinity}",
            SB_INVALID_NON_FINITE);
    /* NaN elsewhere is not a non-finite value. */
    REFUSED("{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\","
            "\"note\":\"value\",\"x\":NaN}",
            SB_INVALID_NOT_JSON);
}

static void codec_decode_bad_timestamp(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "2025-13-01T00:00:00Z",
        "yesterday",
        "",
        "2025-11-08",
        "2025-11-08T14:30:45",
        "2025-11-08T25:00:00Z",
        "2025-11-08T14:60:00Z",
        "2025-02-30T00:00:00Z",
        "2025-00-10T00:00:00Z",
        "2025-11-08T14:30:45.Z",
        "2025-11-08T14:30:45.123Zx",
        "2025-11-08T14:30:45+0000",
        "1762612245",
        "2025-11-08T14:30:45\\u0000Z",
        " 2025-11-08T14:30:45Z",
        "2025-11-08T14:30:45.1234567890Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char v[128];
        snprintf(v, sizeof(v), "\"%s\"", bad[i]);
        refused_member("timestamp", v, SB_INVALID_BAD_TIMESTAMP);
    }
}

static void codec_decode_unknown_sensor(void **state)
{
    (void)state;
    char msg[512];
    struct sb_decoded d;
    enum sb_invalid_reason r;

    /* Every catalogue name passes strict mode. */
    size_t n;
    const struct sb_sensor_info *uci = sb_sensors_uci(&n);
    for (size_t i = 0; i < n; i++) {
        char v[80];
        snprintf(v, sizeof(v), "\"%s\"", uci[i].name);
        with_member(msg, sizeof(msg), "sensor", v);
        assert_decodes(msg, 1, &d);
        assert_string_equal(d.sensor, uci[i].name);
    }

    /* Names outside the catalogue: refused strict, accepted otherwise. */
    static const char *const other[] = {"XX1", "ps1", "PS7", "machine-7.zone:a_b", "PS1_"};
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        char v[80];
        snprintf(v, sizeof(v), "\"%s\"", other[i]);
        with_member(msg, sizeof(msg), "sensor", v);
        assert_reason(msg, strlen(msg), 1, SB_INVALID_UNKNOWN_SENSOR);
        assert_int_equal(sb_codec_decode(msg, strlen(msg), 0, &d, &r), 0);
        assert_string_equal(d.sensor, other[i]);
    }

    /* 63 bytes is the longest name; 64 is too long in both modes. */
    char name[80] = "\"";
    memset(name + 1, 'a', 63);
    strcpy(name + 64, "\"");
    with_member(msg, sizeof(msg), "sensor", name);
    assert_int_equal(sb_codec_decode(msg, strlen(msg), 0, &d, &r), 0);
    assert_int_equal(strlen(d.sensor), 63);
    assert_reason(msg, strlen(msg), 1, SB_INVALID_UNKNOWN_SENSOR);
    memset(name + 1, 'a', 64);
    strcpy(name + 65, "\"");
    with_member(msg, sizeof(msg), "sensor", name);
    assert_reason(msg, strlen(msg), 0, SB_INVALID_UNKNOWN_SENSOR);
    assert_reason(msg, strlen(msg), 1, SB_INVALID_UNKNOWN_SENSOR);

    /* Empty, bad characters, an embedded NUL hiding a valid prefix. */
    static const char *const bad[] = {
        "\"\"",           "\"PS 1\"",        "\"PS1\\n\"", "\"\\u00e9t\xc3\xa9\"",
        "\"PS1\\u0000\"", "\"PS1\\u0000x\"", "\"PS/1\"",   "\"PS1\\\"\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        with_member(msg, sizeof(msg), "sensor", bad[i]);
        assert_reason(msg, strlen(msg), 0, SB_INVALID_UNKNOWN_SENSOR);
        assert_reason(msg, strlen(msg), 1, SB_INVALID_UNKNOWN_SENSOR);
    }
}

static void codec_reason_names(void **state)
{
    (void)state;
    assert_string_equal(sb_invalid_reason_name(SB_INVALID_NOT_JSON), "not_json");
    assert_string_equal(sb_invalid_reason_name(SB_INVALID_NOT_OBJECT), "not_object");
    assert_string_equal(sb_invalid_reason_name(SB_INVALID_MISSING_FIELD), "missing_field");
    assert_string_equal(sb_invalid_reason_name(SB_INVALID_WRONG_TYPE), "wrong_type");
    assert_string_equal(sb_invalid_reason_name(SB_INVALID_NON_FINITE), "non_finite");
    assert_string_equal(sb_invalid_reason_name(SB_INVALID_BAD_TIMESTAMP), "bad_timestamp");
    assert_string_equal(sb_invalid_reason_name(SB_INVALID_UNKNOWN_SENSOR), "unknown_sensor");
    assert_string_equal(sb_invalid_reason_name(SB_INVALID__COUNT), "unknown");
    assert_string_equal(sb_invalid_reason_name((enum sb_invalid_reason) - 1), "unknown");
}

static void codec_decode_null_reason_pointer(void **state)
{
    (void)state;
    struct sb_decoded d;
    assert_int_equal(sb_codec_decode("[]", 2, 1, &d, NULL), -1);
    assert_int_equal(sb_codec_decode(EXAMPLE_JSON, strlen(EXAMPLE_JSON), 1, &d, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_encode_example_exact),
        cmocka_unit_test(codec_encode_synthetic_shape),
        cmocka_unit_test(codec_encode_omits_null_unit_and_source),
        cmocka_unit_test(codec_encode_integer_extremes),
        cmocka_unit_test(codec_encode_keeps_value_text),
        cmocka_unit_test(codec_encode_normalizes_bad_value_text),
        cmocka_unit_test(codec_encode_formats_value_without_text),
        cmocka_unit_test(codec_encode_non_finite_as_null),
        cmocka_unit_test(codec_encode_escapes_strings),
        cmocka_unit_test(codec_encode_small_buffer_never_overruns),
        cmocka_unit_test(codec_encode_timestamp_matches_util),
        cmocka_unit_test(codec_roundtrip_random),
        cmocka_unit_test(codec_decode_python_producer_format),
        cmocka_unit_test(codec_decode_timestamp_variants),
        cmocka_unit_test(codec_decode_number_kinds),
        cmocka_unit_test(codec_decode_size_limit),
        cmocka_unit_test(codec_decode_not_json),
        cmocka_unit_test(codec_decode_duplicate_keys),
        cmocka_unit_test(codec_decode_not_object),
        cmocka_unit_test(codec_decode_missing_field),
        cmocka_unit_test(codec_decode_wrong_type),
        cmocka_unit_test(codec_decode_non_finite),
        cmocka_unit_test(codec_decode_bad_timestamp),
        cmocka_unit_test(codec_decode_unknown_sensor),
        cmocka_unit_test(codec_reason_names),
        cmocka_unit_test(codec_decode_null_reason_pointer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
