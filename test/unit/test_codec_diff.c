/*
 * test_codec_diff.c - differential test of the message decoder: every case
 * goes through sb_codec_decode and through the jansson-based reference
 * (test/common/codec_ref.c), which must agree on the return value, the
 * reason and every decoded field, bit for bit.
 *
 * Cases: a hand-written corpus (the messages of test_codec.c and of
 * test_invalid_messages.sh, encoder output, Python-style and edge cases),
 * generated messages (numbers, strings, escapes, UTF-8, whitespace,
 * duplicate keys, nesting) and random mutations of both. The seed is fixed;
 * SB_CODEC_DIFF_CASES sets the number of cases (default 1,000,000).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/codec_ref.h"
#include "sensorbridge/codec.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

#define DEFAULT_CASES 1000000
#define MAX_REPORTED 10

/* Deterministic xorshift64*, so a failure reproduces. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Du;
}

/* Uniform in [0, n). */
static size_t below(size_t n)
{
    return (size_t)(rng() % n);
}

/* A random number of random magnitude: rng() shifted right by 0..63. */
static uint64_t any_size(void)
{
    unsigned shift = (unsigned)below(64);
    return rng() >> shift;
}

/* True with probability pct / 100. */
static int chance(unsigned pct)
{
    return rng() % 100 < pct;
}

/* ---------------------------------------------------------------- */
/* Byte strings                                                     */
/* ---------------------------------------------------------------- */

/* Room for messages somewhat over SB_CODEC_MAX_MESSAGE, so that the size
 * limit is exercised from both sides. */
#define BUF_CAP (2 * SB_CODEC_MAX_MESSAGE)

struct buf {
    char d[BUF_CAP];
    size_t n;
};

static void put(struct buf *b, const void *s, size_t n)
{
    if (n > BUF_CAP - b->n)
        n = BUF_CAP - b->n;
    memcpy(b->d + b->n, s, n);
    b->n += n;
}

static void put_str(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_byte(struct buf *b, unsigned char c)
{
    put(b, &c, 1);
}

static void put_fmt(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put_fmt(struct buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    put(b, tmp, n < (int)sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

struct corpus {
    char **data;
    size_t *len;
    size_t n, cap;
};

static struct corpus corpus;

static void corpus_add(const void *msg, size_t len)
{
    if (corpus.n == corpus.cap) {
        corpus.cap = corpus.cap ? 2 * corpus.cap : 256;
        corpus.data = sb_xrealloc(corpus.data, corpus.cap * sizeof(*corpus.data));
        corpus.len = sb_xrealloc(corpus.len, corpus.cap * sizeof(*corpus.len));
    }
    corpus.data[corpus.n] = sb_xmalloc(len ? len : 1);
    memcpy(corpus.data[corpus.n], msg, len);
    corpus.len[corpus.n] = len;
    corpus.n++;
}

static void corpus_add_str(const char *msg)
{
    corpus_add(msg, strlen(msg));
}

static void corpus_free(void)
{
    for (size_t i = 0; i < corpus.n; i++)
        free(corpus.data[i]);
    free(corpus.data);
    free(corpus.len);
    memset(&corpus, 0, sizeof(corpus));
}

/* ---------------------------------------------------------------- */
/* The comparison                                                   */
/* ---------------------------------------------------------------- */

static uint64_t n_cases;
static uint64_t n_mismatches;
static uint64_t n_by_reason[SB_INVALID__COUNT + 1]; /* [SB_INVALID__COUNT]: decoded */

static void print_escaped(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
}

static void print_result(const char *who, int rc, enum sb_invalid_reason r,
                         const struct sb_decoded *d)
{
    if (rc != 0) {
        printf("  %s: rc=%d reason=%s\n", who, rc, sb_invalid_reason_name(r));
        return;
    }
    uint64_t vbits, rbits;
    memcpy(&vbits, &d->value, sizeof(vbits));
    memcpy(&rbits, &d->rate_hz, sizeof(rbits));
    printf("  %s: rc=0 reason=%s sensor=\"", who,
           r == SB_INVALID__COUNT ? "(untouched)" : sb_invalid_reason_name(r));
    print_escaped(d->sensor, strnlen(d->sensor, sizeof(d->sensor)));
    printf("\" cycle=%" PRId64 " sample_idx=%" PRId64 " value=%.17g (0x%016" PRIx64
           ") ts_us=%" PRId64 " rate_hz=%.17g (0x%016" PRIx64 ")\n",
           d->cycle, d->sample_idx, d->value, vbits, d->ts_us, d->rate_hz, rbits);
}

static int same_decoded(const struct sb_decoded *a, const struct sb_decoded *b)
{
    return strcmp(a->sensor, b->sensor) == 0 && a->cycle == b->cycle &&
           a->sample_idx == b->sample_idx && memcmp(&a->value, &b->value, sizeof(double)) == 0 &&
           a->ts_us == b->ts_us && memcmp(&a->rate_hz, &b->rate_hz, sizeof(double)) == 0;
}

/* Decodes msg[0..len) with both decoders from a heap copy of exactly len
 * bytes (so that ASan and valgrind see any read beyond the message) and
 * compares everything the contract promises. */
static void check(const char *msg, size_t len, int strict)
{
    char *copy = sb_xmalloc(len ? len : 1);
    memcpy(copy, msg, len);

    struct sb_decoded want, got, untouched;
    memset(&want, 0xA5, sizeof(want));
    memset(&got, 0xA5, sizeof(got));
    memset(&untouched, 0xA5, sizeof(untouched));
    enum sb_invalid_reason rw = SB_INVALID__COUNT, rg = SB_INVALID__COUNT;
    int cw = sb_codec_decode_ref(copy, len, strict, &want, &rw);
    int cg = sb_codec_decode(copy, len, strict, &got, &rg);

    int same = cw == cg && rw == rg;
    if (same && cw == 0)
        same = same_decoded(&want, &got);
    else if (same)
        same = memcmp(&got, &untouched, sizeof(got)) == 0;
    /* A NULL reason pointer changes nothing but the reason. */
    if (same && n_cases % 64 == 0) {
        struct sb_decoded again;
        same = sb_codec_decode(copy, len, strict, &again, NULL) == cg;
    }
    free(copy);

    n_cases++;
    n_by_reason[cw == 0 ? SB_INVALID__COUNT : rw]++;
    if (same)
        return;
    if (++n_mismatches <= MAX_REPORTED) {
        printf("MISMATCH (case %" PRIu64 ", strict=%d, len=%zu): ", n_cases, strict, len);
        print_escaped(msg, len);
        printf("\n");
        print_result("jansson", cw, rw, &want);
        print_result("decoder", cg, rg, &got);
    }
}

static void check_both(const char *msg, size_t len)
{
    check(msg, len, 0);
    check(msg, len, 1);
}

/* ---------------------------------------------------------------- */
/* The hand-written corpus                                          */
/* ---------------------------------------------------------------- */

#define EXAMPLE_JSON                                                                               \
    "{\"sensor\":\"PS1\",\"cycle\":0,\"sample_idx\":100,\"value\":151.19,"                         \
    "\"timestamp\":\"2025-11-08T14:30:45.123456Z\",\"sampling_rate_hz\":100,"                      \
    "\"unit\":\"bar\",\"source\":\"uci-hydraulic\"}"

#define TS "\"timestamp\": \"2025-11-08T14:30:00.000000Z\""

/* Whole messages from test_codec.c, test_invalid_messages.sh and
 * jansson's corners. */
static const char *const seed_messages[] = {
    EXAMPLE_JSON,
    "{\"sensor\": \"PS1\", \"cycle\": 0, \"sample_idx\": 100, \"value\": 151.19, "
    "\"timestamp\": \"2025-11-08T14:30:45.123456Z\", \"sampling_rate_hz\": 100}",
    "{\n  \"timestamp\": \"2025-11-08T14:30:45.123456+00:00\",\n"
    "  \"value\": 8,\n  \"sensor\": \"TS1\",\n  \"unit\": \"\\u00b0C\",\n"
    "  \"source\": \"uci-hydraulic\",\n  \"factory_section\": \"press\",\n"
    "  \"machine\": {\"id\": 7, \"tags\": [1, 2.5, null]},\n  \"zone\": null,\n"
    "  \"note\": \"nul \\u0000 inside\"\n}\n",
    "{\"sensor\":\"PS1\",\"sample_idx\":100,\"value\":151.19,"
    "\"timestamp\":\"2025-11-08T14:30:45.123456Z\",\"sampling_rate_hz\":"
    "0.5,\"unit\":\"\xc2\xb0"
    "C\",\"source\":\"synthetic\",\"factory_section\":"
    "\"A\",\"machine\":\"M3\",\"zone\":\"north\"}",
    "{\"sensor\":\"FS1\",\"value\":8,\"timestamp\":\"2025-11-08T14:30:45Z\","
    "\"sampling_rate_hz\":10.0}",
    "{\"sensor\":\"FS1\",\"value\":-1.5e3,\"timestamp\":\"2025-11-08T14:30:45Z\","
    "\"sampling_rate_hz\":1e1,\"cycle\":2204,\"sample_idx\":5999}",
    "{\"sensor\":\"FS1\",\"value\":1e-400,\"timestamp\":\"2025-11-08T14:30:45Z\"}",
    "{\"sensor\":\"FS1\",\"value\":0,\"timestamp\":\"2025-11-08T14:30:45Z\","
    "\"cycle\":9223372036854775807,\"sample_idx\":0,\"sampling_rate_hz\":0}",
    "{\"sensor\":\"FS1\",\"value\":0,\"timestamp\":\"2025-11-08T14:30:45Z\","
    "\"cycle\":null,\"sample_idx\":null,\"sampling_rate_hz\":null}",
    "",
    "   \n",
    "hello",
    "{",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"",
    "{\"sensor\":'PS1',\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"}",
    EXAMPLE_JSON " x",
    EXAMPLE_JSON EXAMPLE_JSON,
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\","
    "\"unit\":\"\xff\"}",
    "{\"sensor\":\"PS1\",\"sensor\":\"PS2\",\"value\":1,"
    "\"timestamp\":\"2025-11-08T14:30:45Z\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"value\":2,\"timestamp\":\"2025-11-08T14:30:45Z\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\","
    "\"zone\":1,\"zone\":1}",
    "[]",
    "[" EXAMPLE_JSON "]",
    "\"PS1\"",
    "42",
    "151.19",
    "null",
    " true ",
    "{}",
    "{\"Sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"}",
    "{\"sensor\":\"PS1\",\"val\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"ts\":\"2025-11-08T14:30:45Z\"}",
    "{\"sensor\":42,\"value\":\"1\"}",
    "{\"sensor\": \"PS1\", \"value\": NaN, \"timestamp\": \"2025-11-08T14:30:45Z\"}",
    "{\"sensor\": \"PS1\", \"timestamp\": \"2025-11-08T14:30:45Z\", \"value\" :\n"
    "  -Infinity}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\","
    "\"note\":\"value\",\"x\":NaN}",
    /* test_invalid_messages.sh */
    "{\"sensor\":\"TS1\",\"cycle\":0,\"sample_idx\":0,\"value\":35.57,\"timestamp\":\"2025-11-"
    "08T14:"
    "30:00.000000Z\",\"sampling_rate_hz\":1,\"unit\":\"\xc2\xb0"
    "C\",\"source\":\"uci-hydraulic\"}",
    "not json at all",
    "{\"sensor\": \"TS1\", \"value\": 1.0,",
    "{\"sensor\": \"TS1\", \"value\": 1, \"value\": 2, " TS "}",
    "[1, 2, 3]",
    "\"TS1\"",
    "{\"sensor\": \"TS1\", " TS "}",
    "{\"sensor\": \"TS1\", \"value\": 20.5}",
    "{\"value\": 20.5, " TS "}",
    "{\"sensor\": \"TS1\", \"cycle\": 0, \"sample_idx\": 1, \"value\": 35.59, \"timestamp\": "
    "\"2025-11-08T14:30:01.000000Z\", \"sampling_rate_hz\": 1}",
    "{\"sensor\": \"TS1\", \"value\": \"99.5\", " TS "}",
    "{\"sensor\": 1, \"value\": 99.5, " TS "}",
    "{\"sensor\": \"TS1\", \"cycle\": -1, \"value\": 99.5, " TS "}",
    "{\"sensor\": \"TS1\", \"value\": 99.5, \"timestamp\": 1762612200}",
    "{\"sensor\": \"TS1\", \"cycle\": 0, \"sample_idx\": 2, \"value\": NaN, " TS
    ", \"sampling_rate_hz\": 1}",
    "{\"sensor\": \"TS1\", \"value\": Infinity, " TS "}",
    "{\"sensor\": \"TS1\", \"value\": -Infinity, " TS "}",
    "{\"sensor\": \"TS1\", \"value\": null, " TS "}",
    "{\"sensor\": \"TS1\", \"value\": 1e400, " TS "}",
    "{\"sensor\": \"TS1\", \"value\": 99.5, \"timestamp\": \"yesterday\"}",
    "{\"sensor\": \"TS1\", \"value\": 99.5, \"timestamp\": \"2025-02-29T00:00:00Z\"}",
    "{\"sensor\": \"TS1\", \"value\": 99.5, \"timestamp\": \"2025-11-08 14:30:00\"}",
    "{\"sensor\": \"XX9\", \"value\": 99.5, " TS "}",
    "{\"sensor\": \"ts1\", \"value\": 99.5, " TS "}",
    "{\"sensor\": \"\", \"value\": 99.5, " TS "}",
    "{\"sensor\": \"TS1\", \"cycle\": null, \"sample_idx\": null, \"value\": 36, \"timestamp\": "
    "\"2025-11-08T14:30:02Z\", \"sampling_rate_hz\": null, \"extra\": [1, {\"x\": 2}]}",
    "{\"sensor\": \"TS1\", \"value\": 77.7, \"timestamp\": \"2025-11-08T25:00:00Z\"}",
    "{\"sensor\": \"X X\", \"value\": 1, " TS "}",
    "{\"sensor\": \"s7\", \"value\": 0.5, \"timestamp\": \"2025-11-08T14:30:01Z\"}",
    /* jansson's corners: a BOM, escaped keys, NUL in a key, surrogates,
     * nested duplicates, the position of an error after "value". */
    "\xef\xbb\xbf" EXAMPLE_JSON,
    "{\"sensor\":\"PS1\",\"\\u0076alue\":2.5,\"timestamp\":\"2025-11-08T14:30:45Z\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"val\\u0075e\":2,\"timestamp\":\"2025-11-08T14:30:45Z\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\\u0000\":1}",
    "{\"\\u0073ensor\":\"P\\u00531\",\"value\":1,\"timestamp\":\"\\u0032025-11-08T14:30:45Z\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"u\":\"\\ud83d\\ude00"
    "\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"u\":\"\\ud800\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"u\":\"\\udc00\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"u\":\"\\ud800\\u0041"
    "\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"u\":\"\\ud800\\ud800"
    "\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"o\":{\"a\":1,\"a\":2}"
    "}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"o\":[{\"a\":1},"
    "{\"a\":2}]}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\":1,\"\\u0061\":2}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"\\u00e9\":1,"
    "\"\xc3\xa9\":2}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":-Infinity}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":-Infinity\xff}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":1e400\xff}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":1e400",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":NaN",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":nan}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":+inf}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":-1.5e309,\"x\":1}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":[1e400]}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\\\"value\":NaN}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"x\":\"\\\"value\\\":NaN\x01\"}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":\"NaN\x01\"}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":99999999999999999999}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":-9223372036854775809}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":-9223372036854775808}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":9007199254740993}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":-0}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":-0.0,"
    "\"sampling_rate_hz\":-0.0}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":1.7976931348623157e308}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":1.7976931348623159e308}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":4.9e-324}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":2.4703282292062328e-324}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":0e999999999999999999}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":1e-99999999999999999}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":"
    "0.00000000000000000000000000000000000000000000000000000001e56}",
    "{\"sensor\":\"PS1\",\"timestamp\":\"2025-11-08T14:30:45Z\",\"value\":"
    "123456789012345678901234567890.123456789e-10}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"}\n\r\t ",
    " \t\n\r{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"}\f",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"} 1e400",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"} \"\\ud800\"",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\":[1,]}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\":[}",
    "{\"sensor\":\"PS1\",\"value\":true,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\":tru}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\":\"\\x\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\":\"\\u12g4\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\":\"tab\there\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\":\"\x7f\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\":"
    "\"\xed\xa0\x80\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\":"
    "\"\xf4\x90\x80\x80"
    "\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\":\"\xc0\xaf\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\":\"\xe2\x82\"}",
    "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\",\"a\":\xc3\xa9}",
};

/* The members of test_codec.c's with_member(): one replaced (or, with
 * value NULL, removed) in an otherwise valid strict message. */
static const struct {
    const char *key, *value;
} seed_members[] = {
    {"sensor", NULL},
    {"value", NULL},
    {"timestamp", NULL},
    {"value", "35."},
    {"value", ".5"},
    {"value", "+1"},
    {"value", "007"},
    {"value", "99999999999999999999"},
    {"cycle", "99999999999999999999"},
    {"cycle", "1e400"},
    {"sampling_rate_hz", "NaN"},
    {"value", "\"151.19\""},
    {"value", "true"},
    {"value", "false"},
    {"value", "[151.19]"},
    {"value", "{\"v\":1}"},
    {"sensor", "42"},
    {"sensor", "null"},
    {"sensor", "[\"PS1\"]"},
    {"timestamp", "1762612245123456"},
    {"timestamp", "null"},
    {"cycle", "-1"},
    {"cycle", "3.0"},
    {"cycle", "\"3\""},
    {"cycle", "true"},
    {"sample_idx", "-9223372036854775808"},
    {"sample_idx", "1.5"},
    {"sample_idx", "1e2"},
    {"sampling_rate_hz", "-1"},
    {"sampling_rate_hz", "-0.5"},
    {"sampling_rate_hz", "\"100\""},
    {"sampling_rate_hz", "false"},
    {"value", "null"},
    {"value", "NaN"},
    {"value", "Infinity"},
    {"value", "-Infinity"},
    {"value", "1e400"},
    {"value", "-1e400"},
    {"value", "1.5E+309"},
    {"sensor", "\"\""},
    {"sensor", "\"PS 1\""},
    {"sensor", "\"PS1\\n\""},
    {"sensor", "\"\\u00e9t\xc3\xa9\""},
    {"sensor", "\"PS1\\u0000\""},
    {"sensor", "\"PS1\\u0000x\""},
    {"sensor", "\"PS/1\""},
    {"sensor", "\"PS1\\\"\""},
    {"sensor", "\"XX1\""},
    {"sensor", "\"ps1\""},
    {"sensor", "\"PS7\""},
    {"sensor", "\"machine-7.zone:a_b\""},
    {"sensor", "\"PS1_\""},
    {"sensor", "\"P\\u00531\""},
    {"sensor", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""},
    {"sensor", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""},
    {"sensor", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\u0061\""},
    {"value", "8"},
    {"value", "-1.5e3"},
    {"value", "1e-400"},
    {"sampling_rate_hz", "10.0"},
    {"sampling_rate_hz", "1e1"},
    {"cycle", "9223372036854775807"},
    {"cycle", "null"},
    {"sample_idx", "null"},
    {"sampling_rate_hz", "null"},
};

static const char *const timestamps[] = {
    "2025-11-08T14:30:45.123456Z",
    "2025-11-08T14:30:45.123456+00:00",
    "2025-11-08T16:30:45.123456+02:00",
    "2025-11-08T09:00:45.123456-05:30",
    "2025-11-08T14:30:45Z",
    "2025-11-08T14:30:45+00:00",
    "2025-11-08T14:30:45.1Z",
    "2025-11-08T14:30:45.123456789Z",
    "2025-11-08 14:30:45.123456Z",
    "1970-01-01T00:00:00Z",
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
    "2024-02-29t23:59:60z",
    "\\u0032025-11-08T14:30:45Z",
    "2025-11-08T14:30:45\\u005a",
};

static void with_member(struct buf *b, const char *key, const char *value)
{
    static const char *const keys[] = {"sensor", "cycle",     "sample_idx",
                                       "value",  "timestamp", "sampling_rate_hz"};
    static const char *const vals[] = {
        "\"PS1\"", "0", "100", "151.19", "\"2025-11-08T14:30:45.123456Z\"", "100"};
    b->n = 0;
    put_str(b, "{");
    int first = 1;
    for (size_t i = 0; i < 6; i++) {
        const char *v = vals[i];
        if (strcmp(keys[i], key) == 0) {
            if (value == NULL)
                continue;
            v = value;
        }
        put_fmt(b, "%s\"%s\":%s", first ? "" : ",", keys[i], v);
        first = 0;
    }
    put_str(b, "}");
}

/* Valid messages from the encoder, as the daemon's producer writes them. */
static void add_encoder_seeds(void)
{
    size_t nsensors;
    const struct sb_sensor_info *uci = sb_sensors_uci(&nsensors);
    static const char *const units[] = {"bar",
                                        "\xc2\xb0"
                                        "C",
                                        "l/min",
                                        "",
                                        "a\"b\\c\n",
                                        "\xff"};
    for (size_t i = 0; i < 200; i++) {
        const struct sb_sensor_info *si = &uci[i % nsensors];
        char text[40];
        struct sb_sample s = {
            .sensor = i % 50 == 7 ? "machine-7.zone:a_b" : si->name,
            .cycle = i % 3 == 0 ? -1 : (int64_t)(rng() % 3000),
            .sample_idx = rng() % 6000,
            .ts_us = (int64_t)(rng() % UINT64_C(4102444800000000)),
            .rate_hz = i % 7 == 0 ? 0.5 : (double)(rng() % 1000),
            .unit = i % 4 == 0 ? NULL : units[i % 6],
            .source = i % 5 == 0 ? NULL : "uci-hydraulic",
            .extra = i % 6 == 0 ? ",\"factory_section\":\"A\",\"machine\":\"M3\",\"zone\":\"north\""
                                : NULL,
        };
        switch (i % 5) {
        case 0:
            s.value = (double)(int64_t)(rng() % 2000000) / 100.0 - 5000.0;
            break;
        case 1: {
            uint64_t bits = rng();
            memcpy(&s.value, &bits, sizeof(s.value));
            break;
        }
        case 2:
            s.value = (double)(int64_t)(rng() % 2000001) - 1000000.0;
            break;
        case 3:
            s.value = i % 2 ? NAN : -0.0;
            break;
        default:
            s.value = (double)(rng() >> 11);
            s.value = ldexp(s.value, -(int)(rng() % 1100));
            break;
        }
        if (i % 3 == 1 && isfinite(s.value)) {
            s.value_len = sb_fmt_double(text, sizeof(text), s.value);
            s.value_text = text;
        }
        char out[1024];
        size_t n = sb_codec_encode(&s, out, sizeof(out));
        assert_true(n < sizeof(out));
        corpus_add(out, n);
    }
}

/* Nesting around jansson's depth limit of 2048, which only a message of
 * at most SB_CODEC_MAX_MESSAGE bytes can reach when it is invalid. */
static void add_depth_seeds(void)
{
    static const char *const inner[] = {
        "1",     "1e400", "NaN", "{\"value\":1e400}", "{\"value\":NaN}",
        "\"x\"", "[]",    "{}",  "{\"a\":1,\"a\":2}"};
    struct buf *b = sb_xmalloc(sizeof(*b));
    for (size_t depth = 2045; depth <= 2050; depth++) {
        for (size_t k = 0; k < SB_ARRAY_SIZE(inner); k++) {
            for (int close = 0; close < 2; close++) {
                b->n = 0;
                for (size_t d = 0; d < depth; d++)
                    put_byte(b, '[');
                put_str(b, inner[k]);
                for (size_t d = 0; close && d < depth; d++)
                    put_byte(b, ']');
                corpus_add(b->d, b->n < SB_CODEC_MAX_MESSAGE ? b->n : SB_CODEC_MAX_MESSAGE);
            }
        }
        b->n = 0;
        put_str(b, "{\"value\":");
        for (size_t d = 0; d < depth - 1 && b->n < SB_CODEC_MAX_MESSAGE - 8; d++)
            put_str(b, d % 2 ? "[" : "{\"\":");
        put_str(b, "NaN");
        corpus_add(b->d, b->n);
    }
    free(b);
}

/* A NUL byte right after a number or a literal: jansson's lexer puts the
 * look-ahead byte back into a buffer where NUL means "empty", so it loses
 * that byte, and every later error position is one byte short. */
static void add_nul_seeds(void)
{
    static const char *const parts[][2] = {
        {"42", ""},
        {"{\"sensor\":\"PS1\",\"value\":1", ",\"timestamp\":\"2025-11-08T14:30:45Z\"}"},
        {"{\"sensor\":\"PS1\",\"value\":1.5", ",\"timestamp\":\"2025-11-08T14:30:45Z\"}"},
        {"{\"sensor\":\"PS1\",\"value\":true", ",\"timestamp\":\"2025-11-08T14:30:45Z\"}"},
        {"{\"a\":1", ",\"value\":-Infinity}"},
        {"{\"a\":null", ",\"b\":1,\"value\":-Infinity,\"sensor\":\"PS1\"}"},
        {"{\"a\":[0", ",1],\"value\":-Infinity}"},
        {"{\"a\":1", "}"},
        {"[1", "]"},
        {EXAMPLE_JSON, ""},
        {"{\"a\":\"x", "\"}"},
    };
    for (size_t i = 0; i < SB_ARRAY_SIZE(parts); i++) {
        for (size_t nuls = 1; nuls <= 3; nuls++) {
            struct buf b = {.n = 0};
            put_str(&b, parts[i][0]);
            for (size_t k = 0; k < nuls; k++)
                put_byte(&b, 0);
            put_str(&b, parts[i][1]);
            corpus_add(b.d, b.n);
        }
    }
}

/* Exactly at and around the size limit. */
static void add_size_seeds(void)
{
    const char *head = "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\","
                       "\"pad\":\"";
    struct buf *b = sb_xmalloc(sizeof(*b));
    for (size_t total = SB_CODEC_MAX_MESSAGE - 1; total <= SB_CODEC_MAX_MESSAGE + 1; total++) {
        b->n = 0;
        put_str(b, head);
        while (b->n < total - 2)
            put_byte(b, 'x');
        put_str(b, "\"}");
        corpus_add(b->d, b->n);
        b->n = 0;
        put_str(b, EXAMPLE_JSON);
        while (b->n < total)
            put_byte(b, ' ');
        corpus_add(b->d, b->n);
    }
    /* As many keys as fit: distinct ones in one object, then one more
     * that repeats the first; and a chain of objects with a key each. */
    static const char alnum[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (int dup = 0; dup < 2; dup++) {
        b->n = 0;
        put_str(b, "{\"sensor\":\"PS1\",\"value\":1,\"timestamp\":\"2025-11-08T14:30:45Z\"");
        for (size_t k = 0; b->n < SB_CODEC_MAX_MESSAGE - 16; k++)
            put_fmt(b, ",\"%c%c\":0", alnum[k / 62], alnum[k % 62]);
        put_str(b, dup ? ",\"00\":1}" : "}");
        corpus_add(b->d, b->n);
    }
    for (int dup = 0; dup < 2; dup++) {
        b->n = 0;
        size_t depth = 0;
        for (; b->n < (SB_CODEC_MAX_MESSAGE - 32) / 5 * 4; depth++)
            put_str(b, "{\"\":");
        put_str(b, dup ? "{\"\":1,\"\\u0000\":2}" : "{\"\":1,\"x\":2}");
        while (depth-- > 0)
            put_byte(b, '}');
        corpus_add(b->d, b->n);
    }
    free(b);
}

static void build_corpus(void)
{
    for (size_t i = 0; i < SB_ARRAY_SIZE(seed_messages); i++)
        corpus_add_str(seed_messages[i]);
    struct buf b;
    for (size_t i = 0; i < SB_ARRAY_SIZE(seed_members); i++) {
        with_member(&b, seed_members[i].key, seed_members[i].value);
        corpus_add(b.d, b.n);
    }
    for (size_t i = 0; i < SB_ARRAY_SIZE(timestamps); i++) {
        char v[128];
        snprintf(v, sizeof(v), "\"%s\"", timestamps[i]);
        with_member(&b, "timestamp", v);
        corpus_add(b.d, b.n);
    }
    size_t nsensors;
    const struct sb_sensor_info *uci = sb_sensors_uci(&nsensors);
    for (size_t i = 0; i < nsensors; i++) {
        char v[80];
        snprintf(v, sizeof(v), "\"%s\"", uci[i].name);
        with_member(&b, "sensor", v);
        corpus_add(b.d, b.n);
    }
    add_encoder_seeds();
    add_depth_seeds();
    add_nul_seeds();
    add_size_seeds();
}

/* ---------------------------------------------------------------- */
/* Generators                                                       */
/* ---------------------------------------------------------------- */

static void gen_ws(struct buf *b)
{
    static const char ws[] = " \t\n\r";
    if (chance(80))
        return;
    size_t n = 1 + below(3);
    for (size_t i = 0; i < n; i++) {
        if (chance(1))
            put_byte(b, chance(50) ? '\f' : 0); /* not JSON whitespace */
        else
            put_byte(b, (unsigned char)ws[below(4)]);
    }
}

static void put_digits(struct buf *b, size_t n, int leading_nonzero)
{
    for (size_t i = 0; i < n; i++)
        put_byte(b, (unsigned char)('0' + (i == 0 && leading_nonzero ? 1 + below(9) : below(10))));
}

/* A number as a producer might write it, and the spellings around the
 * edges: int64 and double limits, fast-path limits of the conversion,
 * underflow, overflow, long mantissas, and tokens JSON does not allow. */
static void gen_number(struct buf *b)
{
    static const char *const special[] = {
        "0",
        "-0",
        "-0.0",
        "0.0",
        "0e0",
        "-0e-0",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "9007199254740992",
        "9007199254740993",
        "9007199254740993.0",
        "1e22",
        "1e23",
        "1e-22",
        "1e-23",
        "123456789012345.6",
        "1234567890123456.7",
        "12345678901234567890",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "1.7976931348623159e308",
        "179769313486231580793728971405301e276",
        "2.2250738585072014e-308",
        "2.2250738585072011e-308",
        "4.9406564584124654e-324",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "1e-400",
        "-1e-400",
        "1e400",
        "-1e400",
        "1E+309",
        "0.1",
        "0.30000000000000004",
        "151.19",
        "35.57",
        "NaN",
        "-NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "infinity",
        "Inf",
        "-inf",
        "+Infinity",
        "+1",
        ".5",
        "-.5",
        "01",
        "-01",
        "00",
        "1.",
        "1.e5",
        "1e",
        "1e+",
        "1E-",
        "-",
        "--1",
        "1..2",
        "0x10",
        "1_000",
    };
    switch (below(8)) {
    case 0:
        put_str(b, special[below(SB_ARRAY_SIZE(special))]);
        return;
    case 1: {
        uint64_t u = any_size();
        put_fmt(b, "%s%" PRIu64, chance(50) ? "-" : "", u);
        return;
    }
    case 2: { /* every double, shortest or longer spellings */
        uint64_t bits = rng();
        double v;
        memcpy(&v, &bits, sizeof(v));
        if (!isfinite(v))
            v = 1.0;
        int digits = 1 + (int)below(20);
        put_fmt(b, "%.*g", digits, v);
        return;
    }
    case 3: {
        int decimals = (int)below(8);
        put_fmt(b, "%.*f", decimals, (double)(int64_t)(rng() % 2000000) / 100.0 - 5000.0);
        return;
    }
    default:
        break;
    }
    /* Digit soup: sign, integer part, fraction, exponent. */
    if (chance(30))
        put_byte(b, '-');
    if (chance(20))
        put_byte(b, '0');
    else
        put_digits(b, 1 + below(chance(10) ? 30 : 18), 1);
    if (chance(50)) {
        put_byte(b, '.');
        put_digits(b, 1 + below(chance(10) ? 30 : 18), 0);
    }
    if (chance(40)) {
        put_byte(b, chance(50) ? 'e' : 'E');
        if (chance(50))
            put_byte(b, chance(50) ? '-' : '+');
        size_t n = chance(10) ? 1 + below(25) : 1 + below(3);
        put_digits(b, n, 0);
    }
}

/* String contents: plain text, every escape, \u escapes including
 * surrogate pairs, raw UTF-8; now and then something invalid: lone or
 * reversed surrogates, bad escapes, bad UTF-8, control characters. */
static void gen_string_body(struct buf *b)
{
    static const char *const good[] = {
        "PS1",
        "a",
        "\\\"",
        "\\\\",
        "\\/",
        "\\b",
        "\\f",
        "\\n",
        "\\r",
        "\\t",
        "\\u0000",
        "\\u0041",
        "\\u00e9",
        "\\u00E9",
        "\\u20ac",
        "\\uFFFF",
        "\\u007f",
        "\\udbff\\udfff",
        "\\ud83d\\ude00",
        "\\uD834\\uDD1E",
        "\xc3\xa9",
        "\xe2\x82\xac",
        "\xf0\x9f\x8c\xa1",
        "\x7f",
        " ",
        "value",
        "\\\"value\\\":NaN",
    };
    static const char *const bad[] = {
        "\\ud800",
        "\\ude00\\ud83d",
        "\\udc00",
        "\\ud800\\",
        "\\ud800\\u",
        "\\ud800\\ud800",
        "\\u12",
        "\\uzzzz",
        "\\x",
        "\\'",
        "\\",
        "\xed\xa0\x80",
        "\xc0\xaf",
        "\xe0\x80\xaf",
        "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80",
        "\xff",
        "\x80",
        "\xc3",
        "\x01",
        "\x1f",
        "\t",
        "\n",
    };
    size_t n = below(6);
    for (size_t i = 0; i < n; i++) {
        if (chance(3))
            put_str(b, bad[below(SB_ARRAY_SIZE(bad))]);
        else if (chance(50))
            put_str(b, good[below(SB_ARRAY_SIZE(good))]);
        else if (chance(99))
            put_byte(b, (unsigned char)(0x20 + below(0x5f)));
        else
            put_byte(b, (unsigned char)below(256));
    }
}

static void gen_value(struct buf *b, int depth);

static void gen_string(struct buf *b)
{
    put_byte(b, '"');
    gen_string_body(b);
    put_byte(b, '"');
}

/* An extra member's key, often a field name, sometimes escaped. */
static void gen_key(struct buf *b)
{
    static const char *const keys[] = {
        "sensor",           "value",       "timestamp",    "cycle", "sample_idx",
        "sampling_rate_hz", "unit",        "source",       "x",     "",
        "\\u0076alue",      "val\\u0075e", "\\u0073ensor", "Value", "value ",
        "a\\u0000",         "\\u00e9",     "\xc3\xa9",     "a",     "\\u0061",
    };
    put_byte(b, '"');
    if (chance(90))
        put_str(b, keys[below(SB_ARRAY_SIZE(keys))]);
    else
        gen_string_body(b);
    put_byte(b, '"');
}

static void gen_object(struct buf *b, int depth)
{
    put_byte(b, '{');
    size_t n = below(4);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            put_byte(b, ',');
        gen_ws(b);
        gen_key(b);
        gen_ws(b);
        put_byte(b, ':');
        gen_ws(b);
        gen_value(b, depth + 1);
        gen_ws(b);
    }
    put_byte(b, '}');
}

static void gen_value(struct buf *b, int depth)
{
    switch (below(depth > 3 ? 6 : 8)) {
    case 0:
    case 1:
        gen_number(b);
        break;
    case 2:
    case 3:
        gen_string(b);
        break;
    case 4:
        put_str(b, chance(50) ? "null" : chance(50) ? "true" : "false");
        break;
    case 5:
        put_str(b, chance(50) ? "[]" : "{}");
        break;
    case 6: {
        put_byte(b, '[');
        size_t n = below(4);
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                put_byte(b, ',');
            gen_ws(b);
            gen_value(b, depth + 1);
            gen_ws(b);
        }
        put_byte(b, ']');
        break;
    }
    default:
        gen_object(b, depth);
        break;
    }
}

static void gen_sensor_value(struct buf *b)
{
    static const char *const names[] = {
        "\"XX1\"", "\"\"",          "\"PS 1\"",   "\"PS1\\u0000\"", "\"P\\u00531\"",
        "\"ps1\"", "\"a.b:c-d_e\"", "\"PS1\\n\"", "\"\xc3\xa9\"",   "null",
        "42",      "[\"PS1\"]",
    };
    if (chance(75)) {
        size_t n;
        const struct sb_sensor_info *uci = sb_sensors_uci(&n);
        put_fmt(b, "\"%s\"", uci[below(n)].name);
    } else if (chance(85)) {
        put_str(b, names[below(SB_ARRAY_SIZE(names))]);
    } else {
        put_byte(b, '"');
        size_t n = 60 + below(8);
        for (size_t i = 0; i < n; i++)
            put_byte(b, (unsigned char)('a' + below(3)));
        put_byte(b, '"');
    }
}

static void gen_timestamp_value(struct buf *b)
{
    if (chance(70)) {
        char ts[40];
        sb_fmt_rfc3339_us(ts, sizeof(ts), (int64_t)(rng() % UINT64_C(4102444800000000)));
        put_fmt(b, "\"%s\"", ts);
    } else if (chance(85)) {
        put_fmt(b, "\"%s\"", timestamps[below(SB_ARRAY_SIZE(timestamps))]);
    } else {
        gen_value(b, 3);
    }
}

/* A sample message: the fields we decode, each usually well-formed, in
 * any order, with extra members, duplicates and whitespace. */
static void gen_message(struct buf *b)
{
    enum { SENSOR, VALUE, TIMESTAMP, CYCLE, SAMPLE_IDX, RATE, UNIT, SOURCE, EXTRA, NSLOTS };
    static const char *const keys[] = {"sensor", "value",      "timestamp",
                                       "cycle",  "sample_idx", "sampling_rate_hz",
                                       "unit",   "source"};
    static const char *const escaped_keys[] = {"\\u0073ensor",     "valu\\u0065",
                                               "\\u0074imestamp",  "cycl\\u0065",
                                               "sample\\u005fidx", "sampling_rate_h\\u007a",
                                               "\\u0075nit",       "sourc\\u0065"};
    b->n = 0;
    if (chance(3)) {
        gen_ws(b);
        gen_value(b, 0);
        gen_ws(b);
        return;
    }
    int slots[NSLOTS + 4];
    size_t n = 0;
    for (int s = SENSOR; s < EXTRA; s++)
        if (chance(s <= TIMESTAMP ? 93 : s <= RATE ? 60 : 30))
            slots[n++] = s;
    for (size_t extra = below(3); extra > 0; extra--)
        slots[n++] = EXTRA;
    if (n > 0 && chance(4)) {
        size_t k = below(n); /* a duplicate key */
        slots[n] = slots[k];
        n++;
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = below(i);
        int t = slots[i - 1];
        slots[i - 1] = slots[j];
        slots[j] = t;
    }
    const char *colon = chance(30) ? ": " : ":";
    const char *comma = chance(30) ? ", " : ",";
    gen_ws(b);
    put_byte(b, '{');
    for (size_t i = 0; i < n; i++) {
        int s = slots[i];
        if (i > 0)
            put_str(b, comma);
        gen_ws(b);
        if (s == EXTRA)
            gen_key(b);
        else
            put_fmt(b, "\"%s\"", chance(3) ? escaped_keys[s] : keys[s]);
        gen_ws(b);
        put_str(b, colon);
        gen_ws(b);
        switch (s) {
        case SENSOR:
            gen_sensor_value(b);
            break;
        case VALUE:
            if (chance(85))
                gen_number(b);
            else
                gen_value(b, 2);
            break;
        case TIMESTAMP:
            gen_timestamp_value(b);
            break;
        case CYCLE:
        case SAMPLE_IDX:
        case RATE:
            if (chance(70))
                gen_number(b);
            else if (chance(50))
                put_str(b, "null");
            else
                gen_value(b, 2);
            break;
        case UNIT:
        case SOURCE:
            gen_string(b);
            break;
        default:
            gen_value(b, 1);
            break;
        }
        gen_ws(b);
    }
    put_byte(b, '}');
    gen_ws(b);
}

/* A valid message but for its numbers, so that most of them decode and
 * their values are compared bit for bit. */
static void gen_number_message(struct buf *b)
{
    b->n = 0;
    put_str(b, "{\"sensor\":\"PS1\",\"value\":");
    gen_number(b);
    put_str(b, ",\"timestamp\":\"2025-11-08T14:30:45.123456Z\",\"cycle\":");
    put_fmt(b, "%" PRIu64, any_size());
    put_str(b, ",\"sample_idx\":");
    put_fmt(b, "%" PRIu64, any_size());
    put_str(b, ",\"sampling_rate_hz\":");
    gen_number(b);
    put_str(b, "}");
}

/* ---------------------------------------------------------------- */
/* Mutations                                                        */
/* ---------------------------------------------------------------- */

static const unsigned char interesting_bytes[] = {
    0,   0x01, 0x1f, ' ',  '\t', '\n', '\r', '"',  '\\', '/',  '{',  '}',  '[',  ']',  ':',
    ',', '-',  '+',  '.',  'e',  'E',  '0',  '1',  '9',  'a',  'N',  'I',  'n',  't',  'f',
    'u', 'x',  0x7f, 0x80, 0xbf, 0xc2, 0xc3, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
};

static const char *const interesting_tokens[] = {
    "NaN",
    "Infinity",
    "-Infinity",
    "inf",
    "1e400",
    "-1e400",
    "1e-400",
    "null",
    "true",
    "false",
    "-0",
    "01",
    "1.",
    ".5",
    "1e",
    "9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999",
    "1.7976931348623159e308",
    "\"value\":",
    ",\"value\":1",
    "\"value\":NaN",
    ",\"sensor\":\"PS1\"",
    "\"sensor\"",
    "\"timestamp\"",
    "\"\\u0076alue\"",
    "\\u0000",
    "\\ud800",
    "\\udc00",
    "\\ud83d\\ude00",
    "\\u00e9",
    "\\u",
    "\\x",
    "\xc3\xa9",
    "\xe2\x82\xac",
    "\xf0\x9f\x8c\xa1",
    "\xed\xa0\x80",
    "\xef\xbb\xbf",
    "[",
    "]",
    "{",
    "}",
    "[]",
    "{}",
    "[[",
    "{\"a\":",
    ",\"x\":1",
    "\": \"",
    "  ",
    "\r\n",
};

/* The end of a short random range that starts at `at`, within n bytes. */
static size_t range_end(size_t at, size_t n)
{
    size_t len = 1 + below(chance(10) ? 64 : 8);
    return len < n - at ? at + len : n;
}

/* Replaces b->d[at..end) with s[0..n). */
static void splice_in(struct buf *b, size_t at, size_t end, const void *s, size_t n)
{
    if (b->n - end + at + n > BUF_CAP)
        n = BUF_CAP - (b->n - end + at);
    memmove(b->d + at + n, b->d + end, b->n - end);
    memcpy(b->d + at, s, n);
    b->n = b->n - end + at + n;
}

/* The extent of the number or string token that contains b->d[at], if
 * any, so that a generator can replace it. */
static int find_token(const struct buf *b, size_t at, int want_string, size_t *start, size_t *end)
{
    for (size_t i = at; i < b->n; i++) {
        char c = b->d[i];
        if (want_string && c == '"') {
            size_t j = i + 1;
            while (j < b->n && b->d[j] != '"')
                j += b->d[j] == '\\' ? 2 : 1;
            if (j >= b->n)
                return 0;
            *start = i;
            *end = j + 1;
            return 1;
        }
        if (!want_string && ((c >= '0' && c <= '9') || c == '-')) {
            size_t j = i;
            while (j < b->n && strchr("0123456789+-.eE", b->d[j]) != NULL && b->d[j] != '\0')
                j++;
            *start = i;
            *end = j;
            return 1;
        }
    }
    return 0;
}

static void mutate(struct buf *b)
{
    size_t at = b->n ? below(b->n + 1) : 0;
    switch (below(13)) {
    case 0: /* flip a bit */
        if (at < b->n)
            b->d[at] ^= (char)(1u << below(8));
        break;
    case 1: /* overwrite with an interesting byte */
        if (at < b->n)
            b->d[at] = (char)interesting_bytes[below(sizeof(interesting_bytes))];
        break;
    case 2: { /* insert a byte */
        unsigned char c = chance(70) ? interesting_bytes[below(sizeof(interesting_bytes))]
                                     : (unsigned char)below(256);
        splice_in(b, at, at, &c, 1);
        break;
    }
    case 3: { /* insert a token */
        const char *t = interesting_tokens[below(SB_ARRAY_SIZE(interesting_tokens))];
        splice_in(b, at, at, t, strlen(t));
        break;
    }
    case 4: /* delete a range */
        splice_in(b, at, range_end(at, b->n), "", 0);
        break;
    case 5: { /* duplicate a range elsewhere: repeated members, keys */
        size_t from = b->n ? below(b->n) : 0;
        size_t to = range_end(from, b->n);
        char tmp[80];
        size_t n = to - from < sizeof(tmp) ? to - from : sizeof(tmp);
        memcpy(tmp, b->d + from, n);
        splice_in(b, at, at, tmp, n);
        break;
    }
    case 6: /* truncate */
        b->n = at;
        break;
    case 7: { /* splice with another corpus entry */
        size_t k = below(corpus.n);
        size_t from = corpus.len[k] ? below(corpus.len[k] + 1) : 0;
        splice_in(b, at, b->n, corpus.data[k] + from, corpus.len[k] - from);
        break;
    }
    case 8: { /* replace a number */
        size_t s, e;
        if (find_token(b, at, 0, &s, &e)) {
            struct buf n;
            n.n = 0;
            gen_number(&n);
            splice_in(b, s, e, n.d, n.n);
        }
        break;
    }
    case 9: { /* replace a string */
        size_t s, e;
        if (find_token(b, at, 1, &s, &e)) {
            struct buf n;
            n.n = 0;
            gen_string(&n);
            splice_in(b, s, e, n.d, n.n);
        }
        break;
    }
    case 10: { /* whitespace, valid or not */
        struct buf w;
        w.n = 0;
        while (w.n == 0)
            gen_ws(&w);
        splice_in(b, at, at, w.d, w.n);
        break;
    }
    case 11: { /* repeat a whole member: a duplicate key */
        size_t s, e;
        if (find_token(b, at, 1, &s, &e)) {
            size_t v = e;
            while (v < b->n && b->d[v] != ',' && b->d[v] != '}')
                v++;
            char tmp[128];
            size_t n = v - s < sizeof(tmp) - 1 ? v - s : sizeof(tmp) - 1;
            tmp[0] = ',';
            memcpy(tmp + 1, b->d + s, n);
            splice_in(b, v, v, tmp, n + 1);
        }
        break;
    }
    default: /* swap the case of a letter: NaN, true, E */
        if (at < b->n && ((b->d[at] | 0x20) >= 'a' && (b->d[at] | 0x20) <= 'z'))
            b->d[at] ^= 0x20;
        break;
    }
}

/* ---------------------------------------------------------------- */
/* Tests                                                            */
/* ---------------------------------------------------------------- */

static uint64_t target_cases(void)
{
    const char *env = getenv("SB_CODEC_DIFF_CASES");
    if (env == NULL || *env == '\0')
        return DEFAULT_CASES;
    char *end;
    unsigned long long n = strtoull(env, &end, 10);
    if (*end != '\0' || n == 0)
        fail_msg("SB_CODEC_DIFF_CASES=%s is not a positive integer", env);
    return n;
}

static void codec_diff_corpus(void **state)
{
    (void)state;
    build_corpus();
    for (size_t i = 0; i < corpus.n; i++)
        check_both(corpus.data[i], corpus.len[i]);
    /* A NULL buffer. */
    struct sb_decoded d;
    enum sb_invalid_reason rw, rg;
    assert_int_equal(sb_codec_decode_ref(NULL, 0, 1, &d, &rw), -1);
    assert_int_equal(sb_codec_decode(NULL, 0, 1, &d, &rg), -1);
    assert_int_equal(rw, rg);
    printf("corpus: %zu messages, %" PRIu64 " cases, %" PRIu64 " mismatches\n", corpus.n, n_cases,
           n_mismatches);
    assert_int_equal(n_mismatches, 0);
}

static void codec_diff_random(void **state)
{
    (void)state;
    const uint64_t target = target_cases();
    struct buf *b = sb_xmalloc(sizeof(*b));
    struct buf *g = sb_xmalloc(sizeof(*g));
    while (n_cases < target && n_mismatches < MAX_REPORTED) {
        if (chance(35)) {
            if (chance(25))
                gen_number_message(g);
            else
                gen_message(g);
            check(g->d, g->n, (int)(rng() & 1));
            /* Keep some generated messages as material for mutation. */
            if (corpus.n < 20000 && chance(1))
                corpus_add(g->d, g->n);
            memcpy(b->d, g->d, g->n);
            b->n = g->n;
        } else {
            /* The long seeds (nesting, size limit) are slow to parse and
             * teach little more when mutated often. */
            size_t k = below(corpus.n);
            while (corpus.len[k] > 1024 && !chance(2))
                k = below(corpus.n);
            memcpy(b->d, corpus.data[k], corpus.len[k]);
            b->n = corpus.len[k];
        }
        size_t rounds = chance(60) ? 1 : 2 + below(4);
        for (size_t r = 0; r < rounds; r++)
            mutate(b);
        check(b->d, b->n, (int)(rng() & 1));
    }
    free(b);
    free(g);
    printf("total: %" PRIu64 " cases, %" PRIu64 " mismatches; by result:", n_cases, n_mismatches);
    for (int r = 0; r < SB_INVALID__COUNT; r++)
        printf(" %s %" PRIu64 ",", sb_invalid_reason_name((enum sb_invalid_reason)r),
               n_by_reason[r]);
    printf(" decoded %" PRIu64 "\n", n_by_reason[SB_INVALID__COUNT]);
    corpus_free();
    assert_int_equal(n_mismatches, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codec_diff_corpus),
        cmocka_unit_test(codec_diff_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
