/*
 * fuzz_codec.c - the message decoder, sb_codec_decode, on the bytes of a
 * Kafka message value: what any producer on the topic can send.
 *
 * Each input is decoded in both modes (strict and not), and each result
 * must:
 *   - agree with the jansson-based reference decoder (test/common/
 *     codec_ref.c) on acceptance, reason and every field, bit for bit, as
 *     sb_codec_decode promises (test_codec_diff checks the same on
 *     generated cases; here coverage guides the cases);
 *   - be one of the documented reasons, and on success hold a sensor name
 *     of 1..63 name characters (a catalogue name in strict mode),
 *     cycle and sample_idx of -1 or more, a finite value and a rate of -1
 *     (absent) or more;
 *   - survive a round trip: the decoded sample, encoded with
 *     sb_codec_encode and decoded again, gives the same fields (an absent
 *     sample_idx or rate is written as 0, and the encoder writes a rate
 *     above 1e15 as 0), for event times the encoder can write as RFC 3339
 *     (years 0000..9999; a decoded offset such as +01:00 can leave that
 *     range, which the encoder documents as bad_timestamp).
 * Inputs above SB_CODEC_MAX_MESSAGE are cut to one byte more than it, so
 * the size check is covered without mutating long inputs for nothing.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "../common/codec_ref.h"
#include "fuzz.h"
#include "sensorbridge/codec.h"
#include "sensorbridge/sensors.h"

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z. */
#define TS_MIN_US (-62167219200LL * 1000000)
#define TS_MAX_US (253402300799LL * 1000000 + 999999)

static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static void check_same(const struct sb_decoded *a, const struct sb_decoded *b, const char *what)
{
    SB_FUZZ_CHECK(strcmp(a->sensor, b->sensor) == 0, "%s: sensor %s vs %s", what, a->sensor,
                  b->sensor);
    SB_FUZZ_CHECK(a->cycle == b->cycle, "%s: cycle %" PRId64 " vs %" PRId64, what, a->cycle,
                  b->cycle);
    SB_FUZZ_CHECK(a->sample_idx == b->sample_idx, "%s: sample_idx %" PRId64 " vs %" PRId64, what,
                  a->sample_idx, b->sample_idx);
    SB_FUZZ_CHECK(same_double(a->value, b->value), "%s: value %.17g vs %.17g", what, a->value,
                  b->value);
    SB_FUZZ_CHECK(a->ts_us == b->ts_us, "%s: ts_us %" PRId64 " vs %" PRId64, what, a->ts_us,
                  b->ts_us);
    SB_FUZZ_CHECK(same_double(a->rate_hz, b->rate_hz), "%s: rate_hz %.17g vs %.17g", what,
                  a->rate_hz, b->rate_hz);
}

static bool name_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '.' || c == ':' || c == '-';
}

static void check_decoded(const struct sb_decoded *d, int strict)
{
    size_t n = strnlen(d->sensor, sizeof(d->sensor));
    SB_FUZZ_CHECK(n >= 1 && n < sizeof(d->sensor), "sensor name of %zu bytes", n);
    for (size_t i = 0; i < n; i++)
        SB_FUZZ_CHECK(name_char(d->sensor[i]), "sensor name byte 0x%02x",
                      (unsigned char)d->sensor[i]);
    SB_FUZZ_CHECK(!strict || sb_sensors_find(d->sensor), "strict mode accepted %s", d->sensor);
    SB_FUZZ_CHECK(d->cycle >= -1, "cycle %" PRId64, d->cycle);
    SB_FUZZ_CHECK(d->sample_idx >= -1, "sample_idx %" PRId64, d->sample_idx);
    SB_FUZZ_CHECK(isfinite(d->value), "value %g", d->value);
    SB_FUZZ_CHECK(d->rate_hz == -1 || (d->rate_hz >= 0 && isfinite(d->rate_hz)), "rate_hz %g",
                  d->rate_hz);
}

static void round_trip(const struct sb_decoded *d, int strict)
{
    if (d->ts_us < TS_MIN_US || d->ts_us > TS_MAX_US)
        return;
    struct sb_sample s = {
        .sensor = d->sensor,
        .cycle = d->cycle,
        .sample_idx = d->sample_idx < 0 ? 0 : (uint64_t)d->sample_idx,
        .value = d->value,
        .ts_us = d->ts_us,
        .rate_hz = d->rate_hz,
    };
    char buf[SB_CODEC_MAX_MESSAGE];
    size_t n = sb_codec_encode(&s, buf, sizeof(buf));
    SB_FUZZ_CHECK(n < sizeof(buf), "encoding needs %zu bytes", n);

    struct sb_decoded want = *d;
    if (want.sample_idx < 0)
        want.sample_idx = 0;
    if (want.rate_hz < 0 || want.rate_hz > 1e15)
        want.rate_hz = 0;
    struct sb_decoded again;
    enum sb_invalid_reason reason = SB_INVALID__COUNT;
    int rc = sb_codec_decode(buf, n, strict, &again, &reason);
    SB_FUZZ_CHECK(rc == 0, "re-decoding %s: %s", buf, sb_invalid_reason_name(reason));
    check_same(&want, &again, "round trip");
}

static void decode_both(const uint8_t *data, size_t size, int strict)
{
    struct sb_decoded got, ref;
    memset(&got, 0xa5, sizeof(got));
    memset(&ref, 0xa5, sizeof(ref));
    enum sb_invalid_reason rgot = SB_INVALID__COUNT, rref = SB_INVALID__COUNT;
    int cgot = sb_codec_decode(data, size, strict, &got, &rgot);
    int cref = sb_codec_decode_ref(data, size, strict, &ref, &rref);

    SB_FUZZ_CHECK(cgot == cref, "strict=%d: decoder %d (%s), reference %d (%s)", strict, cgot,
                  cgot ? sb_invalid_reason_name(rgot) : "ok", cref,
                  cref ? sb_invalid_reason_name(rref) : "ok");
    if (cgot != 0) {
        struct sb_decoded untouched;
        memset(&untouched, 0xa5, sizeof(untouched));
        SB_FUZZ_CHECK(memcmp(&got, &untouched, sizeof(got)) == 0,
                      "strict=%d: a refused message changed *out", strict);
        SB_FUZZ_CHECK(rgot < SB_INVALID__COUNT, "strict=%d: reason %d", strict, (int)rgot);
        SB_FUZZ_CHECK(rgot == rref, "strict=%d: reason %s, reference %s", strict,
                      sb_invalid_reason_name(rgot), sb_invalid_reason_name(rref));
        return;
    }
    check_same(&got, &ref, strict ? "strict, against the reference" : "against the reference");
    check_decoded(&got, strict);
    round_trip(&got, strict);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SB_CODEC_MAX_MESSAGE + 1)
        size = SB_CODEC_MAX_MESSAGE + 1;
    decode_both(data, size, 0);
    decode_both(data, size, 1);
    return 0;
}
