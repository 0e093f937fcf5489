/* ingest.c - consumed samples into the metrics registry. */
#include "sensorbridge/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

#define TABLE_SIZE (2 * SB_INGEST_MAX_SENSORS) /* power of two, at most half full */

/* Latency from the producer's hand-off to the registry update: the
 * pipeline's own delay, which the Python stack put at 5-6 s. */
static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,   0.5,   1,      2.5,   5,    10,    30};

struct sensor {
    char *name;
    struct sb_metric *value;
    struct sb_metric *samples;
    struct sb_metric *last_event;
    struct sb_metric *observed;
    struct sb_metric *squares;
};

struct sb_ingest {
    struct sb_family *f_value;
    struct sb_family *f_samples;
    struct sb_family *f_last_event;
    struct sb_family *f_info;
    struct sb_family *f_observed;
    struct sb_family *f_squares;
    struct sb_metric *consumed;
    struct sb_metric *invalid[SB_INVALID__COUNT];
    struct sb_metric *latency;
    struct sensor *table[TABLE_SIZE];
    size_t nsensors;
};

struct sb_ingest *sb_ingest_new(struct sb_registry *r)
{
    struct sb_ingest *in = sb_xcalloc(1, sizeof(*in));
    const char *sensor_label[] = {"sensor"};
    in->f_value = sb_registry_family(r, SB_GAUGE, "sensorbridge_sensor_value",
                                     "Last consumed value of each sensor, in the sensor's unit "
                                     "(see sensorbridge_sensor_info).",
                                     1, sensor_label, NULL, 0);
    in->f_samples = sb_registry_family(r, SB_COUNTER, "sensorbridge_sensor_samples_consumed_total",
                                       "Valid samples consumed and applied, by sensor.", 1,
                                       sensor_label, NULL, 0);
    in->f_last_event =
        sb_registry_family(r, SB_GAUGE, "sensorbridge_sensor_last_event_timestamp_seconds",
                           "Event time of the last consumed sample, by sensor, in seconds since "
                           "the Unix epoch.",
                           1, sensor_label, NULL, 0);
    /* Cumulative sum, count and sum of squares, so PromQL can compute the
     * mean and variance over any range (increase(_sum) / increase(_count)).
     * A histogram without buckets is the standard _sum/_count pair. */
    in->f_observed = sb_registry_family(
        r, SB_HISTOGRAM, "sensorbridge_sensor_values",
        "Sum and count of the consumed values of each sensor, in the sensor's unit.", 1,
        sensor_label, NULL, 0);
    in->f_squares = sb_registry_family(
        r, SB_COUNTER, "sensorbridge_sensor_values_squared_total",
        "Sum of the squares of the consumed values of each sensor, for variance over a range.", 1,
        sensor_label, NULL, 0);
    const char *info_labels[] = {"sensor", "quantity", "unit", "rate_hz"};
    in->f_info = sb_registry_family(r, SB_GAUGE, "sensorbridge_sensor_info",
                                    "Catalogue data of each consumed UCI sensor; always 1.", 4,
                                    info_labels, NULL, 0);
    in->consumed = sb_family_child(
        sb_registry_family(r, SB_COUNTER, "sensorbridge_consumer_messages_total",
                           "Messages consumed from Kafka, valid or not.", 0, NULL, NULL, 0),
        NULL);
    const char *reason_label[] = {"reason"};
    struct sb_family *f_invalid = sb_registry_family(
        r, SB_COUNTER, "sensorbridge_consumer_invalid_messages_total",
        "Consumed messages rejected and skipped, by reason.", 1, reason_label, NULL, 0);
    for (int i = 0; i < SB_INVALID__COUNT; i++) {
        const char *lv[] = {sb_invalid_reason_name((enum sb_invalid_reason)i)};
        in->invalid[i] = sb_family_child(f_invalid, lv);
    }
    in->latency = sb_family_child(
        sb_registry_family(r, SB_HISTOGRAM, "sensorbridge_end_to_end_latency_seconds",
                           "Time from the producer handing a sample to Kafka to the consumer "
                           "applying it to the registry.",
                           0, NULL, latency_buckets, SB_ARRAY_SIZE(latency_buckets)),
        NULL);
    return in;
}

void sb_ingest_free(struct sb_ingest *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        if (in->table[i]) {
            free(in->table[i]->name);
            free(in->table[i]);
        }
    }
    free(in);
}

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static struct sensor *lookup(struct sb_ingest *in, const char *name)
{
    uint32_t i = hash(name) & (TABLE_SIZE - 1);
    while (in->table[i]) {
        if (strcmp(in->table[i]->name, name) == 0)
            return in->table[i];
        i = (i + 1) & (TABLE_SIZE - 1);
    }
    if (in->nsensors >= SB_INGEST_MAX_SENSORS)
        return NULL;
    struct sensor *s = sb_xcalloc(1, sizeof(*s));
    s->name = sb_xstrdup(name);
    const char *lv[] = {name};
    s->value = sb_family_child(in->f_value, lv);
    s->samples = sb_family_child(in->f_samples, lv);
    s->last_event = sb_family_child(in->f_last_event, lv);
    s->observed = sb_family_child(in->f_observed, lv);
    s->squares = sb_family_child(in->f_squares, lv);
    const struct sb_sensor_info *info = sb_sensors_find(name);
    if (info) {
        char rate[16];
        snprintf(rate, sizeof(rate), "%u", info->rate_hz);
        const char *ilv[] = {name, info->quantity, info->unit, rate};
        sb_gauge_set(sb_family_child(in->f_info, ilv), 1);
    }
    in->table[i] = s;
    in->nsensors++;
    return s;
}

int sb_ingest_sample(struct sb_ingest *in, const struct sb_decoded *d, int64_t produced_us,
                     int64_t now_us)
{
    struct sensor *s = lookup(in, d->sensor);
    if (!s) {
        sb_ingest_invalid(in, SB_INVALID_UNKNOWN_SENSOR);
        return -1;
    }
    sb_gauge_set(s->value, d->value);
    sb_counter_add(s->samples, 1);
    sb_gauge_set(s->last_event, (double)d->ts_us / 1e6);
    sb_histogram_observe(s->observed, d->value);
    sb_counter_add(s->squares, d->value * d->value);
    if (produced_us >= 0 && now_us >= produced_us)
        sb_histogram_observe(in->latency, (double)(now_us - produced_us) / 1e6);
    return 0;
}

void sb_ingest_invalid(struct sb_ingest *in, enum sb_invalid_reason reason)
{
    if ((unsigned)reason < SB_INVALID__COUNT)
        sb_counter_add(in->invalid[reason], 1);
}

void sb_ingest_consumed(struct sb_ingest *in)
{
    sb_counter_add(in->consumed, 1);
}
