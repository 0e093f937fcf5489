/* test_ingest.c - consumed samples and rejects as they appear on /metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sensorbridge/ingest.h"
#include "sensorbridge/registry.h"

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

static void ingest_applies_samples(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    struct sb_ingest *in = sb_ingest_new(r);
    struct sb_buf b;
    sb_buf_init(&b);
    struct sb_decoded d = sample("TS1", 35.57, 1762612200000000ll);
    sb_ingest_consumed(in);
    assert_int_equal(sb_ingest_sample(in, &d, 1000, 1000 + 3000), 0);
    d = sample("TS1", 35.492, 1762612201500000ll);
    sb_ingest_consumed(in);
    assert_int_equal(sb_ingest_sample(in, &d, -1, 5000), 0);
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

static void ingest_counts_invalid_by_reason(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    struct sb_ingest *in = sb_ingest_new(r);
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
    struct sb_ingest *in = sb_ingest_new(r);
    struct sb_decoded d;
    for (int i = 0; i < SB_INGEST_MAX_SENSORS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "s%d", i);
        d = sample(name, i, 0);
        assert_int_equal(sb_ingest_sample(in, &d, -1, 0), 0);
    }
    d = sample("one-too-many", 1, 0);
    assert_int_equal(sb_ingest_sample(in, &d, -1, 0), -1);
    d = sample("s17", 2, 0);
    assert_int_equal(sb_ingest_sample(in, &d, -1, 0), 0);
    struct sb_buf b;
    sb_buf_init(&b);
    char *t = expose(r, &b);
    assert_non_null(
        strstr(t, "sensorbridge_consumer_invalid_messages_total{reason=\"unknown_sensor\"} 1\n"));
    assert_null(strstr(t, "one-too-many"));
    sb_buf_free(&b);
    sb_ingest_free(in);
    sb_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ingest_applies_samples),
        cmocka_unit_test(ingest_counts_invalid_by_reason),
        cmocka_unit_test(ingest_bounds_sensor_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
