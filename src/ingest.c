/* ingest.c - consumed samples into the metrics registry. */
#include "sensorbridge/ingest.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

/* Latency from the producer's hand-off to the registry update: the
 * pipeline's own delay, which the Python stack put at 5-6 s. */
static const double latency_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,   0.5,   1,      2.5,   5,    10,    30};

/* The ingest's slot of a sensor record. */
struct sb_ingest_sensor {
    uint32_t origin;    /* of the last sample */
    int64_t applied_us; /* wall time the last sample was applied */
    struct sb_metric *value;
    struct sb_metric *samples;
    struct sb_metric *last_event;
    struct sb_metric *observed;
    struct sb_metric *squares;
    struct sb_metric *info; /* NULL for names not in the UCI catalogue */
};

enum removal_reason {
    REMOVED_REVOKED,
    REMOVED_EXPIRED,
    REMOVED__COUNT,
};

static const char *const removal_reason_names[] = {
    [REMOVED_REVOKED] = "revoked",
    [REMOVED_EXPIRED] = "expired",
};

/* Why an applied sample has no latency observation. */
enum unmeasured_reason {
    UNMEASURED_NO_HEADER,
    UNMEASURED_MALFORMED_HEADER,
    UNMEASURED_FUTURE_HEADER,
    UNMEASURED__COUNT,
};

static const char *const unmeasured_reason_names[] = {
    [UNMEASURED_NO_HEADER] = "no_header",
    [UNMEASURED_MALFORMED_HEADER] = "malformed_header",
    [UNMEASURED_FUTURE_HEADER] = "future_header",
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
    struct sb_metric *unmeasured[UNMEASURED__COUNT];
    struct sb_metric *removed[REMOVED__COUNT];
    struct sb_sensortab *sensors;
};

struct sb_ingest *sb_ingest_new(struct sb_registry *r, size_t max_sensors)
{
    struct sb_ingest *in = sb_xcalloc(1, sizeof(*in));
    in->sensors = sb_sensortab_new(max_sensors);
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
                           "applying it to the registry, for the samples stamped with "
                           "sb-produced-us (a sensor's first in each millisecond of the "
                           "producer's loop).",
                           0, NULL, latency_buckets, SB_ARRAY_SIZE(latency_buckets)),
        NULL);
    const char *unmeasured_label[] = {"reason"};
    struct sb_family *f_unmeasured = sb_registry_family(
        r, SB_COUNTER, "sensorbridge_end_to_end_latency_unmeasured_samples_total",
        "Applied samples without an end-to-end latency observation, by reason: no_header (no "
        "sb-produced-us header: not stamped, or another producer), malformed_header (not a "
        "decimal count of microseconds from 0 to 2^63-1), future_header (a time after the "
        "consumer's clock).",
        1, unmeasured_label, NULL, 0);
    for (int i = 0; i < UNMEASURED__COUNT; i++) {
        const char *lv[] = {unmeasured_reason_names[i]};
        in->unmeasured[i] = sb_family_child(f_unmeasured, lv);
    }
    const char *removed_label[] = {"reason"};
    struct sb_family *f_removed = sb_registry_family(
        r, SB_COUNTER, "sensorbridge_sensor_series_removed_total",
        "Sensors whose per-sensor series were removed, by reason: revoked (the partitions their "
        "samples came from were revoked) or expired (silent for longer than allowed).",
        1, removed_label, NULL, 0);
    for (int i = 0; i < REMOVED__COUNT; i++) {
        const char *lv[] = {removal_reason_names[i]};
        in->removed[i] = sb_family_child(f_removed, lv);
    }
    return in;
}

void sb_ingest_free(struct sb_ingest *in)
{
    if (!in)
        return;
    size_t n = sb_sensortab_count(in->sensors);
    struct sb_sensor **all = sb_xmalloc((n ? n : 1) * sizeof(*all));
    n = sb_sensortab_sorted(in->sensors, all);
    for (size_t i = 0; i < n; i++)
        free(all[i]->ingest);
    free(all);
    sb_sensortab_free(in->sensors);
    free(in);
}

struct sb_sensor *sb_ingest_find(struct sb_ingest *in, const char *name)
{
    return sb_sensortab_find(in->sensors, name);
}

/* A new sensor's series. */
static struct sb_ingest_sensor *sensor_new(struct sb_ingest *in, const char *name)
{
    struct sb_ingest_sensor *s = sb_xcalloc(1, sizeof(*s));
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
        s->info = sb_family_child(in->f_info, ilv);
        if (s->info)
            sb_gauge_set(s->info, 1);
    }
    return s;
}

/* The latency from the sb-produced-us header to now_us, or why there is
 * none. */
static void observe_latency(struct sb_ingest *in, const char *produced, size_t produced_len,
                            int64_t now_us)
{
    int64_t produced_us;
    if (!produced) {
        sb_counter_add(in->unmeasured[UNMEASURED_NO_HEADER], 1);
    } else if (sb_parse_decimal_i64(produced, produced_len, &produced_us)) {
        sb_counter_add(in->unmeasured[UNMEASURED_MALFORMED_HEADER], 1);
    } else if (produced_us > now_us) {
        sb_counter_add(in->unmeasured[UNMEASURED_FUTURE_HEADER], 1);
    } else {
        /* 0 <= produced_us <= now_us: the difference cannot overflow. */
        sb_histogram_observe(in->latency, (double)(now_us - produced_us) / 1e6);
    }
}

struct sb_sensor *sb_ingest_sample(struct sb_ingest *in, struct sb_sensor *rec,
                                   const struct sb_decoded *d, uint32_t origin,
                                   const char *produced, size_t produced_len, int64_t now_us)
{
    if (!rec)
        rec = sb_sensortab_get(in->sensors, d->sensor);
    if (!rec) {
        sb_ingest_invalid(in, SB_INVALID_UNKNOWN_SENSOR);
        return NULL;
    }
    if (!rec->ingest)
        rec->ingest = sensor_new(in, rec->name);
    struct sb_ingest_sensor *s = rec->ingest;
    s->origin = origin;
    s->applied_us = now_us;
    sb_gauge_set(s->value, d->value);
    sb_counter_add(s->samples, 1);
    sb_gauge_set(s->last_event, (double)d->ts_us / 1e6);
    sb_histogram_observe(s->observed, d->value);
    sb_counter_add(s->squares, d->value * d->value);
    observe_latency(in, produced, produced_len, now_us);
    return rec;
}

static void series_remove(struct sb_ingest_sensor *s)
{
    sb_metric_remove(s->value);
    sb_metric_remove(s->samples);
    sb_metric_remove(s->last_event);
    sb_metric_remove(s->observed);
    sb_metric_remove(s->squares);
    sb_metric_remove(s->info);
}

struct removal {
    enum removal_reason reason;
    uint32_t origin;
    int64_t now_us;
    int64_t max_silence_us;
};

static bool to_remove(const struct removal *rm, const struct sb_ingest_sensor *s)
{
    if (rm->reason == REMOVED_REVOKED)
        return s->origin == rm->origin;
    /* Unsigned difference: no overflow for any pair of times. */
    return rm->now_us > s->applied_us &&
           (uint64_t)rm->now_us - (uint64_t)s->applied_us > (uint64_t)rm->max_silence_us;
}

/* Collects first and removes after: removing while scanning would shift
 * entries the scan has not reached into slots it has passed. The
 * callback gets the record with its ingest slot already emptied; the
 * record goes after it returns. */
static size_t remove_where(struct sb_ingest *in, const struct removal *rm, sb_ingest_forget_cb cb,
                           void *ud)
{
    size_t held = sb_sensortab_count(in->sensors);
    if (!held)
        return 0;
    struct sb_sensor **all = sb_xmalloc(held * sizeof(*all));
    held = sb_sensortab_sorted(in->sensors, all);
    size_t n = 0;
    for (size_t i = 0; i < held; i++) {
        struct sb_ingest_sensor *s = all[i]->ingest;
        if (!s || !to_remove(rm, s))
            continue;
        uint32_t origin = s->origin;
        series_remove(s);
        free(s);
        all[i]->ingest = NULL;
        sb_counter_add(in->removed[rm->reason], 1);
        if (cb)
            cb(ud, all[i], origin);
        sb_sensortab_remove(in->sensors, all[i]);
        n++;
    }
    free(all);
    return n;
}

size_t sb_ingest_forget_origin(struct sb_ingest *in, uint32_t origin, sb_ingest_forget_cb cb,
                               void *ud)
{
    struct removal rm = {.reason = REMOVED_REVOKED, .origin = origin};
    return remove_where(in, &rm, cb, ud);
}

size_t sb_ingest_expire(struct sb_ingest *in, int64_t now_us, int64_t max_silence_us,
                        sb_ingest_forget_cb cb, void *ud)
{
    if (max_silence_us <= 0)
        return 0;
    struct removal rm = {
        .reason = REMOVED_EXPIRED, .now_us = now_us, .max_silence_us = max_silence_us};
    return remove_where(in, &rm, cb, ud);
}

size_t sb_ingest_sensor_count(const struct sb_ingest *in)
{
    return sb_sensortab_count(in->sensors);
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
