/* test_ingest.c - consumed samples and rejects as they appear on /metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sensorbridge/ingest.h"
#include "sensorbridge/registry.h"

/* The bound the tests give the ingest ([consumer] max_sensors): its table
 * starts at 16 slots, so filling it goes through every doubling. */
#define MAX_SENSORS 4096

static char *expose(struct sb_registry *r, struct sb_buf *b)
{
    sb_buf_reset(b);
    sb_registry_expose(r, b);
    return b->data;
}

static struct sb_decoded sample(const char *sensor, double v, int64_t ts_us)
{
    struct sb_decoded d = {.cycle = 0, .sample_idx = 0, .value = v, .ts_us = ts_us, .rate_hz = 1};
    snprintf(d.sensor, sizeof(d.sensor), "%s", sensor);
    return d;
}

/* Applies one sample of `sensor` with value v from `origin` at wall time now_us. */
static void apply(struct sb_ingest *in, const char *sensor, double v, uint32_t origin,
                  int64_t now_us)
{
    struct sb_decoded d = sample(sensor, v, 1762612200000000ll);
    assert_non_null(sb_ingest_sample(in, NULL, &d, origin, NULL, 0, now_us));
}

/* What a sb_ingest_forget_cb was told, in order. */
struct forgotten {
    char names[64][64];
    uint32_t origins[64];
    size_t n;
};

static void remember_forgotten(void *ud, struct sb_sensor *sensor, uint32_t origin)
{
    struct forgotten *f = ud;
    assert_true(f->n < 64);
    /* The record's ingest slot is empty; the record is still whole. */
    assert_null(sensor->ingest);
    f->origins[f->n] = origin;
    snprintf(f->names[f->n++], sizeof(f->names[0]), "%s", sensor->name);
}

static void ingest_applies_samples(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    struct sb_ingest *in = sb_ingest_new(r, MAX_SENSORS);
    struct sb_buf b;
    sb_buf_init(&b);
    struct sb_decoded d = sample("TS1", 35.57, 1762612200000000ll);
    sb_ingest_consumed(in);
    assert_non_null(sb_ingest_sample(in, NULL, &d, 0, "1000", 4, 1000 + 3000));
    d = sample("TS1", 35.492, 1762612201500000ll);
    sb_ingest_consumed(in);
    assert_non_null(sb_ingest_sample(in, NULL, &d, 0, NULL, 0, 5000));
    char *t = expose(r, &b);
    assert_non_null(strstr(t, "\nsensorbridge_sensor_value{sensor=\"TS1\"} 35.492\n"));
    assert_non_null(strstr(t, "\nsensorbridge_sensor_samples_consumed_total{sensor=\"TS1\"} 2\n"));
    assert_non_null(strstr(t, "\nsensorbridge_sensor_last_event_timestamp_seconds{sensor=\"TS1\"} "
                              "1762612201.5\n"));
    assert_non_null(strstr(t, "\nsensorbridge_consumer_messages_total 2\n"));
    /* Only the sample with a producer timestamp has a latency: 3 ms. */
    assert_non_null(strstr(t, "\nsensorbridge_end_to_end_latency_seconds_count 1\n"));
    assert_non_null(
        strstr(t, "\nsensorbridge_end_to_end_latency_seconds_bucket{le=\"0.0025\"} 0\n"));
    assert_non_null(
        strstr(t, "\nsensorbridge_end_to_end_latency_seconds_bucket{le=\"0.005\"} 1\n"));
    /* Cumulative sum, count and sum of squares for range statistics. */
    assert_non_null(strstr(t, "\nsensorbridge_sensor_values_sum{sensor=\"TS1\"} 71.062\n"));
    assert_non_null(strstr(t, "\nsensorbridge_sensor_values_count{sensor=\"TS1\"} 2\n"));
    char want[128];
    char num[40];
    sb_fmt_double(num, sizeof(num), 35.57 * 35.57 + 35.492 * 35.492);
    snprintf(want, sizeof(want), "\nsensorbridge_sensor_values_squared_total{sensor=\"TS1\"} %s\n",
             num);
    assert_non_null(strstr(t, want));
    assert_non_null(strstr(t, "sensorbridge_sensor_info{sensor=\"TS1\",quantity=\"Temperature\","
                              "unit=\"°C\",rate_hz=\"1\"} 1\n"));
    sb_buf_free(&b);
    sb_ingest_free(in);
    sb_registry_free(r);
}

/* Every applied sample is either in the latency histogram or counted
 * under the reason it could not be measured. */
static void ingest_latency_from_header(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    struct sb_ingest *in = sb_ingest_new(r, MAX_SENSORS);
    struct sb_buf b;
    sb_buf_init(&b);
    const int64_t now = 1762612245000000ll;
    static const struct {
        const char *hdr; /* NULL: no header */
        size_t len;
    } cases[] = {
        /* Measured: 0, 0.25 s, 2 s (only the first 16 bytes are the
         * header), 0.5 s. */
        {"1762612245000000", 16},
        {"1762612244750000", 16},
        {"1762612243000000 and more", 16},
        {"0001762612244500000", 19},
        /* No header. */
        {NULL, 0},
        /* Malformed: empty, signs, spaces, other bytes, beyond INT64_MAX. */
        {"", 0},
        {"-1", 2},
        {"+1762612245000000", 17},
        {" 1762612245000000", 17},
        {"1762612245000000 ", 17},
        {"1.762612245e15", 14},
        {"9223372036854775808", 19},
        {"99999999999999999999", 20},
        {"184467440737095516160", 21},
        /* After now: the producer's clock is ahead. */
        {"1762612245000001", 16},
        {"9223372036854775807", 19},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct sb_decoded d = sample("TS1", 1, 1762612200000000ll);
        assert_non_null(sb_ingest_sample(in, NULL, &d, 0, cases[i].hdr, cases[i].len, now));
    }
    char *t = expose(r, &b);
    assert_non_null(strstr(t, "\nsensorbridge_sensor_samples_consumed_total{sensor=\"TS1\"} 16\n"));
    assert_non_null(strstr(t, "\nsensorbridge_end_to_end_latency_seconds_count 4\n"));
    assert_non_null(strstr(t, "\nsensorbridge_end_to_end_latency_seconds_sum 2.75\n"));
    assert_non_null(
        strstr(t, "\nsensorbridge_end_to_end_latency_seconds_bucket{le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(t, "\nsensorbridge_end_to_end_latency_seconds_bucket{le=\"0.1\"} 1\n"));
    assert_non_null(strstr(t, "\nsensorbridge_end_to_end_latency_seconds_bucket{le=\"0.25\"} 2\n"));
    assert_non_null(strstr(t, "\nsensorbridge_end_to_end_latency_seconds_bucket{le=\"0.5\"} 3\n"));
    assert_non_null(strstr(t, "\nsensorbridge_end_to_end_latency_seconds_bucket{le=\"2.5\"} 4\n"));
    assert_non_null(strstr(t, "\nsensorbridge_end_to_end_latency_unmeasured_samples_total{reason="
                              "\"no_header\"} 1\n"));
    assert_non_null(strstr(t, "\nsensorbridge_end_to_end_latency_unmeasured_samples_total{reason="
                              "\"malformed_header\"} 9\n"));
    assert_non_null(strstr(t, "\nsensorbridge_end_to_end_latency_unmeasured_samples_total{reason="
                              "\"future_header\"} 2\n"));
    sb_buf_free(&b);
    sb_ingest_free(in);
    sb_registry_free(r);
}

static void ingest_counts_invalid_by_reason(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    struct sb_ingest *in = sb_ingest_new(r, MAX_SENSORS);
    struct sb_buf b;
    sb_buf_init(&b);
    sb_ingest_invalid(in, SB_INVALID_NOT_JSON);
    sb_ingest_invalid(in, SB_INVALID_NOT_JSON);
    sb_ingest_invalid(in, SB_INVALID_NON_FINITE);
    char *t = expose(r, &b);
    assert_non_null(
        strstr(t, "sensorbridge_consumer_invalid_messages_total{reason=\"not_json\"} 2\n"));
    assert_non_null(
        strstr(t, "sensorbridge_consumer_invalid_messages_total{reason=\"non_finite\"} 1\n"));
    /* Every reason is exported from the start, at 0. */
    assert_non_null(
        strstr(t, "sensorbridge_consumer_invalid_messages_total{reason=\"bad_timestamp\"} 0\n"));
    sb_buf_free(&b);
    sb_ingest_free(in);
    sb_registry_free(r);
}

static void ingest_bounds_sensor_table(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    struct sb_ingest *in = sb_ingest_new(r, MAX_SENSORS);
    struct sb_decoded d;
    for (int i = 0; i < MAX_SENSORS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "s%d", i);
        d = sample(name, i, 0);
        assert_non_null(sb_ingest_sample(in, NULL, &d, 0, NULL, 0, 0));
    }
    d = sample("one-too-many", 1, 0);
    assert_null(sb_ingest_sample(in, NULL, &d, 0, NULL, 0, 0));
    d = sample("s17", 2, 0);
    assert_non_null(sb_ingest_sample(in, NULL, &d, 0, NULL, 0, 0));
    struct sb_buf b;
    sb_buf_init(&b);
    char *t = expose(r, &b);
    assert_non_null(
        strstr(t, "sensorbridge_consumer_invalid_messages_total{reason=\"unknown_sensor\"} 1\n"));
    assert_null(strstr(t, "one-too-many"));
    /* The cap is on sensors held at once: removing some makes room. */
    assert_int_equal(sb_ingest_forget_origin(in, 0, NULL, NULL), MAX_SENSORS);
    d = sample("one-too-many", 1, 0);
    assert_non_null(sb_ingest_sample(in, NULL, &d, 1, NULL, 0, 0));
    assert_int_equal(sb_ingest_sensor_count(in), 1);
    sb_buf_free(&b);
    sb_ingest_free(in);
    sb_registry_free(r);
}

static void ingest_forget_origin_removes_its_sensors(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    struct sb_ingest *in = sb_ingest_new(r, MAX_SENSORS);
    struct sb_buf b;
    sb_buf_init(&b);
    char *t = expose(r, &b);
    /* Both reasons are exported from the start, at 0. */
    assert_non_null(strstr(t, "\nsensorbridge_sensor_series_removed_total{reason=\"expired\"} 0\n"
                              "sensorbridge_sensor_series_removed_total{reason=\"revoked\"} 0\n"));
    apply(in, "TS1", 35.5, 1, 10);
    apply(in, "TS1", 35.25, 1, 11);
    apply(in, "PS1", 151.19, 1, 12);
    apply(in, "FS1", 8.5, 2, 13);
    apply(in, "boiler-3", -2.5, 2, 14); /* not in the catalogue: no info series */
    /* A sensor belongs to the origin of its last sample. */
    apply(in, "PS2", 100, 1, 15);
    apply(in, "PS2", 101, 2, 16);
    assert_int_equal(sb_ingest_sensor_count(in), 5);

    struct forgotten f = {.n = 0};
    assert_int_equal(sb_ingest_forget_origin(in, 1, remember_forgotten, &f), 2);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.names[0], "PS1");
    assert_string_equal(f.names[1], "TS1");
    assert_int_equal(f.origins[0], 1);
    assert_int_equal(f.origins[1], 1);
    assert_int_equal(sb_ingest_sensor_count(in), 3);

    t = expose(r, &b);
    /* Nothing of TS1 or PS1 is left, in any family. */
    assert_null(strstr(t, "\"TS1\""));
    assert_null(strstr(t, "\"PS1\""));
    /* Origin 2's sensors are all there with their values: the whole
     * sensorbridge_sensor_value family, exactly. */
    assert_non_null(strstr(t, "# TYPE sensorbridge_sensor_value gauge\n"
                              "sensorbridge_sensor_value{sensor=\"FS1\"} 8.5\n"
                              "sensorbridge_sensor_value{sensor=\"PS2\"} 101\n"
                              "sensorbridge_sensor_value{sensor=\"boiler-3\"} -2.5\n#"));
    assert_non_null(strstr(t, "# TYPE sensorbridge_sensor_samples_consumed_total counter\n"
                              "sensorbridge_sensor_samples_consumed_total{sensor=\"FS1\"} 1\n"
                              "sensorbridge_sensor_samples_consumed_total{sensor=\"PS2\"} 2\n"
                              "sensorbridge_sensor_samples_consumed_total{sensor=\"boiler-3\"} 1\n"
                              "#"));
    assert_non_null(strstr(t, "\nsensorbridge_sensor_values_sum{sensor=\"PS2\"} 201\n"));
    assert_non_null(strstr(t, "\nsensorbridge_sensor_values_count{sensor=\"PS2\"} 2\n"));
    assert_non_null(
        strstr(t, "\nsensorbridge_sensor_values_squared_total{sensor=\"PS2\"} 20201\n"));
    assert_non_null(strstr(t, "# TYPE sensorbridge_sensor_info gauge\n"
                              "sensorbridge_sensor_info{sensor=\"FS1\",quantity=\"Volume flow\","
                              "unit=\"l/min\",rate_hz=\"10\"} 1\n"
                              "sensorbridge_sensor_info{sensor=\"PS2\",quantity=\"Pressure\","
                              "unit=\"bar\",rate_hz=\"100\"} 1\n"
                              "# HELP"));
    assert_non_null(strstr(t, "\nsensorbridge_sensor_series_removed_total{reason=\"expired\"} 0\n"
                              "sensorbridge_sensor_series_removed_total{reason=\"revoked\"} 2\n"));
    /* Not per sensor, so untouched. */
    assert_non_null(strstr(t, "\nsensorbridge_end_to_end_latency_seconds_count 0\n"));

    /* Forgetting again, or an origin nobody has, removes nothing. */
    assert_int_equal(sb_ingest_forget_origin(in, 1, remember_forgotten, &f), 0);
    assert_int_equal(sb_ingest_forget_origin(in, 99, NULL, NULL), 0);
    assert_int_equal(f.n, 2);

    /* Seen again (now from origin 2): a fresh sensor, counting from 1. */
    apply(in, "TS1", 36, 2, 20);
    t = expose(r, &b);
    assert_non_null(strstr(t, "\nsensorbridge_sensor_samples_consumed_total{sensor=\"TS1\"} 1\n"));
    assert_non_null(strstr(t, "\nsensorbridge_sensor_values_sum{sensor=\"TS1\"} 36\n"));
    assert_non_null(strstr(t, "\nsensorbridge_sensor_value{sensor=\"TS1\"} 36\n"));
    assert_non_null(strstr(t, "\nsensorbridge_sensor_info{sensor=\"TS1\",quantity=\"Temperature\","
                              "unit=\"°C\",rate_hz=\"1\"} 1\n"));
    /* With no callback the sensors still go. */
    assert_int_equal(sb_ingest_forget_origin(in, 2, NULL, NULL), 4);
    assert_int_equal(sb_ingest_sensor_count(in), 0);
    t = expose(r, &b);
    assert_null(strstr(t, "sensor=\""));
    assert_non_null(strstr(t, "sensorbridge_sensor_series_removed_total{reason=\"revoked\"} 6\n"));
    sb_buf_free(&b);
    sb_ingest_free(in);
    sb_registry_free(r);
}

static void ingest_expire_boundary(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    struct sb_ingest *in = sb_ingest_new(r, MAX_SENSORS);
    const int64_t max = 10000000; /* 10 s */
    const int64_t t0 = 1762612200000000ll;
    apply(in, "TS1", 1, 7, t0);
    apply(in, "PS1", 2, 7, t0 + 500000);
    apply(in, "FS1", 3, 9, t0 - 1000000);
    apply(in, "FS1", 4, 8, t0); /* the last application counts, not the first (time and origin) */
    struct forgotten f = {.n = 0};
    /* Exactly max_silence after the last sample: not yet. */
    assert_int_equal(sb_ingest_expire(in, t0 + max, max, remember_forgotten, &f), 0);
    /* Off, or the clock behind the samples: nothing. */
    assert_int_equal(sb_ingest_expire(in, t0 + 1000 * max, 0, remember_forgotten, &f), 0);
    assert_int_equal(sb_ingest_expire(in, t0 + 1000 * max, -1, remember_forgotten, &f), 0);
    assert_int_equal(sb_ingest_expire(in, INT64_MIN, 1, remember_forgotten, &f), 0);
    assert_int_equal(f.n, 0);
    /* One microsecond more: TS1 and FS1 go, PS1 (half a second younger) stays. */
    assert_int_equal(sb_ingest_expire(in, t0 + max + 1, max, remember_forgotten, &f), 2);
    assert_int_equal(f.n, 2);
    assert_string_equal(f.names[0], "FS1");
    assert_string_equal(f.names[1], "TS1");
    /* Each with the origin of its last sample. */
    assert_int_equal(f.origins[0], 8);
    assert_int_equal(f.origins[1], 7);
    assert_int_equal(sb_ingest_sensor_count(in), 1);
    assert_int_equal(sb_ingest_expire(in, t0 + max + 500000, max, remember_forgotten, &f), 0);
    /* A sample resets the silence. */
    apply(in, "PS1", 5, 7, t0 + max);
    assert_int_equal(sb_ingest_expire(in, t0 + 2 * max, max, remember_forgotten, &f), 0);
    assert_int_equal(sb_ingest_expire(in, t0 + 2 * max + 1, max, remember_forgotten, &f), 1);
    assert_string_equal(f.names[2], "PS1");
    /* No overflow at the ends of the clock. */
    apply(in, "TS1", 1, 7, INT64_MIN);
    assert_int_equal(sb_ingest_expire(in, INT64_MAX, INT64_MAX, NULL, NULL), 1);
    struct sb_buf b;
    sb_buf_init(&b);
    char *t = expose(r, &b);
    assert_null(strstr(t, "sensor=\""));
    assert_non_null(strstr(t, "\nsensorbridge_sensor_series_removed_total{reason=\"expired\"} 4\n"
                              "sensorbridge_sensor_series_removed_total{reason=\"revoked\"} 0\n"));
    sb_buf_free(&b);
    sb_ingest_free(in);
    sb_registry_free(r);
}

/* xorshift64*: a fixed sequence, so failures reproduce. */
static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1Dull;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

enum { MODEL_NAMES = 9000, MODEL_ORIGINS = 7 };

/* The reference: per name, whether it is held, its origin and how many
 * samples it has since it was (re)created. */
struct model {
    bool held[MODEL_NAMES];
    uint32_t origin[MODEL_NAMES];
    unsigned count[MODEL_NAMES];
    size_t nheld;
};

static void model_name(char *out, size_t len, int i)
{
    snprintf(out, len, "sensor-%d", i);
}

/* The samples_consumed family on /metrics must be exactly the model's. */
static void assert_matches_model(struct sb_registry *r, const struct model *m)
{
    char(*names)[32] = calloc(MODEL_NAMES, sizeof(*names));
    assert_non_null(names);
    size_t n = 0;
    for (int i = 0; i < MODEL_NAMES; i++)
        if (m->held[i])
            model_name(names[n++], sizeof(names[0]), i);
    qsort(names, n, sizeof(names[0]), cmp_str);
    struct sb_buf want, got;
    sb_buf_init(&want);
    sb_buf_init(&got);
    const char *family = "sensorbridge_sensor_samples_consumed_total{";
    for (size_t k = 0; k < n; k++) {
        int i = atoi(names[k] + strlen("sensor-"));
        sb_buf_printf(&want, "%ssensor=\"%s\"} %u\n", family, names[k], m->count[i]);
    }
    sb_registry_expose(r, &got);
    /* Keep only that family's samples. */
    struct sb_buf lines;
    sb_buf_init(&lines);
    for (char *p = got.data; p && *p;) {
        char *end = strchr(p, '\n');
        size_t len = (size_t)(end - p) + 1;
        if (strncmp(p, family, strlen(family)) == 0)
            sb_buf_append(&lines, p, len);
        p += len;
    }
    assert_string_equal(lines.data ? lines.data : "", want.data ? want.data : "");
    sb_buf_free(&lines);
    sb_buf_free(&want);
    sb_buf_free(&got);
    free(names);
}

/* Random applications and removals against a model: after every step the
 * number of sensors agrees (a survivor the probing lost would be created a
 * second time), and every 5000 steps the exposition does. */
static void ingest_table_survives_many_removals(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    struct sb_ingest *in = sb_ingest_new(r, MAX_SENSORS);
    struct model *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    uint64_t rnd = 0x9E3779B97F4A7C15ull;
    char name[32];
    size_t full = 0;
    for (int step = 0; step < 100000; step++) {
        uint64_t x = next_rand(&rnd);
        if (x % 2000 == 0) {
            uint32_t origin = (uint32_t)(x >> 32) % MODEL_ORIGINS;
            size_t expect = 0;
            for (int i = 0; i < MODEL_NAMES; i++) {
                if (m->held[i] && m->origin[i] == origin) {
                    m->held[i] = false;
                    m->nheld--;
                    expect++;
                }
            }
            assert_int_equal(sb_ingest_forget_origin(in, origin, NULL, NULL), expect);
        } else {
            int i = (int)((x >> 20) % MODEL_NAMES);
            uint32_t origin = (uint32_t)(x >> 8) % MODEL_ORIGINS;
            model_name(name, sizeof(name), i);
            struct sb_decoded d = sample(name, 1, 0);
            struct sb_sensor *rec = sb_ingest_sample(in, NULL, &d, origin, NULL, 0, step);
            if (!m->held[i] && m->nheld == MAX_SENSORS) {
                assert_null(rec);
                full++;
            } else {
                assert_non_null(rec);
                assert_string_equal(rec->name, name);
                /* The record is what sb_ingest_find finds. */
                assert_ptr_equal(sb_ingest_find(in, name), rec);
                if (!m->held[i]) {
                    m->held[i] = true;
                    m->count[i] = 0;
                    m->nheld++;
                }
                m->count[i]++;
                m->origin[i] = origin;
            }
        }
        assert_int_equal(sb_ingest_sensor_count(in), m->nheld);
        if (step % 5000 == 4999)
            assert_matches_model(r, m);
    }
    /* More names than room and rare removals: the table spends long
     * stretches full (at its load limit, where probe runs are longest and
     * wrap around its end), and removals always make room again. */
    assert_true(full > 1000);
    assert_matches_model(r, m);
    for (uint32_t o = 0; o < MODEL_ORIGINS; o++)
        sb_ingest_forget_origin(in, o, NULL, NULL);
    assert_int_equal(sb_ingest_sensor_count(in), 0);
    memset(m, 0, sizeof(*m));
    assert_matches_model(r, m);
    free(m);
    sb_ingest_free(in);
    sb_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ingest_applies_samples),
        cmocka_unit_test(ingest_latency_from_header),
        cmocka_unit_test(ingest_counts_invalid_by_reason),
        cmocka_unit_test(ingest_bounds_sensor_table),
        cmocka_unit_test(ingest_forget_origin_removes_its_sensors),
        cmocka_unit_test(ingest_expire_boundary),
        cmocka_unit_test(ingest_table_survives_many_removals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
