/*
 * ingest.h - applies consumed samples to the metrics registry: per-sensor
 * last value, samples consumed, last event time, cumulative sum, count and
 * squares, catalogue data; invalid messages by reason; the end-to-end
 * latency histogram, and the samples it could not measure by reason. Pure:
 * times are arguments.
 *
 * Every sample comes with an origin, an opaque number the caller chooses
 * (the consumer numbers the topic partitions it is assigned) and the
 * ingest only compares. A sensor belongs to the origin of its last sample.
 * When the caller gives up an origin (partitions revoked) or a sensor falls
 * silent, the sensor is removed with every per-sensor series, so /metrics
 * shows only the sensors this instance holds now and, across the instances
 * of a consumer group, each sample counts once. A sensor seen again after
 * that starts again from zero.
 *
 * The sensors held are the records of the ingest's sensortab (sensortab.h),
 * at most max_sensors of them; the ingest fills their ingest slot, and the
 * record of a sample is what the analytics get next (sb_analytics_sample),
 * so the name is looked up once per message.
 *
 * Ownership: the ingest keeps borrowed pointers into the registry, which
 * must outlive it, and owns the per-sensor children it creates (families
 * sensorbridge_sensor_*): nobody else may remove or clear them. It owns
 * the sensortab and its records; a record passed to a sb_ingest_forget_cb
 * is valid only during the call.
 */
#ifndef SB_INGEST_H
#define SB_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "sensorbridge/codec.h"
#include "sensorbridge/registry.h"
#include "sensorbridge/sensortab.h"

struct sb_ingest;

/* max_sensors ([consumer] max_sensors, >= 1): sensors held at once;
 * further names are counted invalid (unknown_sensor) until some are
 * removed. */
struct sb_ingest *sb_ingest_new(struct sb_registry *r, size_t max_sensors);
void sb_ingest_free(struct sb_ingest *in);

/* The record of a sensor held, or NULL (the last one found is compared
 * first, then one hash lookup). */
struct sb_sensor *sb_ingest_find(struct sb_ingest *in, const char *name);

/* Applies one valid sample that came from `origin`; rec is its sensor's
 * record from sb_ingest_find, or NULL to have the ingest find it or add
 * it (with its series). produced holds the
 * produced_len bytes of the message's sb-produced-us header (no NUL
 * needed), or is NULL if it has none (another producer wrote it): when
 * the producer handed the message to Kafka, in decimal microseconds since
 * the epoch. now_us is the wall time of application, which
 * sb_ingest_expire measures silence against. The sample's end-to-end
 * latency, now_us minus that time, goes into
 * sensorbridge_end_to_end_latency_seconds; a sample whose latency cannot
 * be measured is counted instead in
 * sensorbridge_end_to_end_latency_unmeasured_samples_total by reason: no
 * header, a header that is not a decimal integer from 0 to INT64_MAX
 * (sb_parse_decimal_i64), or a time after now_us (the producer's clock is
 * ahead of ours). Returns the sensor's record, or NULL if the table
 * holds max_sensors (the message was counted invalid instead, and in
 * neither latency family). */
struct sb_sensor *sb_ingest_sample(struct sb_ingest *in, struct sb_sensor *rec,
                                   const struct sb_decoded *d, uint32_t origin,
                                   const char *produced, size_t produced_len, int64_t now_us);

/* Told about each sensor removed by the two functions below, with the
 * origin of its last sample, after its series are gone and before its
 * record goes (after the call), in strcmp order of the names, so the
 * caller can forget the sensor elsewhere too (sb_analytics_forget, which
 * empties the record's other slots). It must not call back into the same
 * ingest. */
typedef void (*sb_ingest_forget_cb)(void *ud, struct sb_sensor *s, uint32_t origin);

/* Removes every sensor whose last sample came from `origin`: its
 * sensorbridge_sensor_value, _samples_consumed_total,
 * _last_event_timestamp_seconds, _values (sum and count),
 * _values_squared_total and _info series and its table entry. Counted in
 * sensorbridge_sensor_series_removed_total{reason="revoked"}. cb may be
 * NULL. Returns how many sensors were removed. */
size_t sb_ingest_forget_origin(struct sb_ingest *in, uint32_t origin, sb_ingest_forget_cb cb,
                               void *ud);

/* Removes, as above, every sensor last applied more than max_silence_us
 * before now_us (on sb_ingest_sample's clock; exactly max_silence_us ago
 * stays). max_silence_us <= 0 removes nothing: expiry is off. A sensor
 * applied "after" now_us (the wall clock stepped back) is not silent.
 * Counted with reason="expired". Returns how many were removed. */
size_t sb_ingest_expire(struct sb_ingest *in, int64_t now_us, int64_t max_silence_us,
                        sb_ingest_forget_cb cb, void *ud);

/* Sensors held now. */
size_t sb_ingest_sensor_count(const struct sb_ingest *in);

/* Counts one rejected message. */
void sb_ingest_invalid(struct sb_ingest *in, enum sb_invalid_reason reason);

/* Counts one consumed message, valid or not. */
void sb_ingest_consumed(struct sb_ingest *in);

#endif
