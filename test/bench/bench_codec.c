/*
 * bench_codec.c - how long sb_codec_decode takes per message, next to the
 * jansson-based decoder it replaced (test/common/codec_ref.c). A
 * measurement, not a test.
 *
 *   build/test/bench_codec [DATASET_DIR [DECODES]]
 *
 * The messages are cycle 0 of the UCI dataset exactly as the replay
 * encodes them at speed = max: 17 sensors, 43,680 messages, the file's
 * digits for the eight 1 Hz sensors and interpolated values (up to 17
 * significant digits) for the nine stand-ins. Both decoders first have to
 * agree on every message; then each decodes DECODES messages (default
 * 2,000,000) in five rounds, and the median and the fastest round are
 * printed, for the whole mix and for the file-digit messages alone. Not
 * strict, as the daemon's consumer decodes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/codec_ref.h"
#include "sensorbridge/codec.h"
#include "sensorbridge/dataset.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

#define ROUNDS 5
#define EPOCH_US INT64_C(1762612245000000) /* 2025-11-08T14:30:45Z */

struct msgs {
    char **data;
    size_t *len;
    size_t n, cap, bytes;
};

static void add(struct msgs *m, const char *buf, size_t len)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 1024;
        m->data = sb_xrealloc(m->data, m->cap * sizeof(*m->data));
        m->len = sb_xrealloc(m->len, m->cap * sizeof(*m->len));
    }
    m->data[m->n] = sb_xstrndup(buf, len);
    m->len[m->n] = len;
    m->bytes += len;
    m->n++;
}

/* Cycle 0 of one sensor, as src/replay.c builds its samples. */
static void load_sensor(const char *dir, const struct sb_sensor_info *si, struct msgs *mix,
                        struct msgs *digits)
{
    char path[1024], err[256];
    int standin = 0;
    snprintf(path, sizeof(path), "%s/%s.txt", dir, si->name);
    struct sb_dsfile *f;
    size_t per_cycle = (size_t)si->rate_hz * SB_UCI_CYCLE_SECONDS;
    if (sb_dsfile_open(&f, path, per_cycle, err, sizeof(err)) != 0) {
        standin = 1;
        snprintf(path, sizeof(path), "%s/standin/%s_1hz.txt", dir, si->name);
        if (sb_dsfile_open(&f, path, SB_UCI_CYCLE_SECONDS, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_codec: %s\n", err);
            exit(2);
        }
    }
    struct sb_row row;
    if (sb_dsfile_next(f, &row, err, sizeof(err)) != 1) {
        fprintf(stderr, "bench_codec: %s: no first row: %s\n", path, err);
        exit(2);
    }
    for (size_t k = 0; k < per_cycle; k++) {
        struct sb_sample s = {
            .sensor = si->name,
            .cycle = 0,
            .sample_idx = k,
            .ts_us = EPOCH_US + (int64_t)(k * 1000000 / si->rate_hz),
            .rate_hz = si->rate_hz,
            .unit = si->unit,
            .source = standin ? "uci-hydraulic-standin" : "uci-hydraulic",
        };
        if (standin) {
            s.value = sb_upsample_linear(row.values, row.nvalues, si->rate_hz, k);
        } else {
            s.value = row.values[k];
            s.value_text = row.text[k];
            s.value_len = row.textlen[k];
        }
        char buf[512];
        size_t n = sb_codec_encode(&s, buf, sizeof(buf));
        add(mix, buf, n);
        if (!standin)
            add(digits, buf, n);
    }
    sb_dsfile_close(f);
}

typedef int (*decode_fn)(const void *, size_t, int, struct sb_decoded *, enum sb_invalid_reason *);

/* Nanoseconds per message for `decodes` decodes, cycling through m. */
static double run(decode_fn decode, const struct msgs *m, uint64_t decodes)
{
    uint64_t check = 0;
    uint64_t t0 = sb_now_mono_ns();
    for (uint64_t i = 0; i < decodes; i++) {
        size_t k = (size_t)(i % m->n);
        struct sb_decoded d;
        if (decode(m->data[k], m->len[k], 0, &d, NULL) != 0)
            abort();
        check += (uint64_t)d.sample_idx;
    }
    uint64_t t1 = sb_now_mono_ns();
    if (check == UINT64_MAX) /* keeps the loop's results alive */
        printf("?\n");
    return (double)(t1 - t0) / (double)decodes;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void measure(const char *what, const struct msgs *m, uint64_t decodes)
{
    double ref[ROUNDS], dec[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        ref[r] = run(sb_codec_decode_ref, m, decodes / 4);
        dec[r] = run(sb_codec_decode, m, decodes);
    }
    qsort(ref, ROUNDS, sizeof(double), cmp_double);
    qsort(dec, ROUNDS, sizeof(double), cmp_double);
    printf("%-34s %zu msgs, %.0f B avg\n", what, m->n, (double)m->bytes / (double)m->n);
    printf("  jansson (reference)   median %7.1f ns/msg, best %7.1f\n", ref[ROUNDS / 2], ref[0]);
    printf("  hand-written          median %7.1f ns/msg, best %7.1f   (%.1fx)\n", dec[ROUNDS / 2],
           dec[0], ref[ROUNDS / 2] / dec[ROUNDS / 2]);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "datasets/uci-hydraulic";
    uint64_t decodes = argc > 2 ? strtoull(argv[2], NULL, 10) : 2000000;
    if (decodes == 0) {
        fprintf(stderr, "usage: %s [DATASET_DIR [DECODES]]\n", argv[0]);
        return 2;
    }
    struct msgs mix = {0}, digits = {0};
    size_t n;
    const struct sb_sensor_info *uci = sb_sensors_uci(&n);
    for (size_t i = 0; i < n; i++)
        load_sensor(dir, &uci[i], &mix, &digits);

    /* Both decoders must agree before their speed means anything. */
    for (size_t k = 0; k < mix.n; k++) {
        struct sb_decoded a, b;
        if (sb_codec_decode_ref(mix.data[k], mix.len[k], 1, &a, NULL) != 0 ||
            sb_codec_decode(mix.data[k], mix.len[k], 1, &b, NULL) != 0 ||
            memcmp(&a.value, &b.value, sizeof(double)) != 0 || a.ts_us != b.ts_us ||
            a.sample_idx != b.sample_idx) {
            fprintf(stderr, "bench_codec: decoders disagree on %s\n", mix.data[k]);
            return 1;
        }
    }
    printf("decodes per round: %" PRIu64 " (jansson: a quarter), %d rounds\n", decodes, ROUNDS);
    measure("replay mix, cycle 0 (speed = max)", &mix, decodes);
    measure("file digits only (8 sensors)", &digits, decodes);

    for (size_t k = 0; k < mix.n; k++)
        free(mix.data[k]);
    for (size_t k = 0; k < digits.n; k++)
        free(digits.data[k]);
    free(mix.data);
    free(mix.len);
    free(digits.data);
    free(digits.len);
    return 0;
}
