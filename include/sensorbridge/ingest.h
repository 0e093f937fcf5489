/*
 * ingest.h - applies consumed samples to the metrics registry: per-sensor
 * last value, samples consumed, last event time; invalid messages by
 * reason; the end-to-end latency histogram. Pure: times are arguments.
 *
 * Ownership: the ingest keeps borrowed pointers into the registry, which
 * must outlive it.
 */
#ifndef SB_INGEST_H
#define SB_INGEST_H

#include <stdint.h>

#include "sensorbridge/codec.h"
#include "sensorbridge/registry.h"

#define SB_INGEST_MAX_SENSORS 4096 /* further names are counted invalid (unknown_sensor) */

struct sb_ingest;

struct sb_ingest *sb_ingest_new(struct sb_registry *r);
void sb_ingest_free(struct sb_ingest *in);

/* Applies one valid sample. produced_us is when the producer handed the
 * message to Kafka (-1 if unknown, e.g. another producer wrote it); now_us
 * is the wall time of application. Returns 0, or -1 if the sensor table is
 * full (the message was counted invalid instead). */
int sb_ingest_sample(struct sb_ingest *in, const struct sb_decoded *d, int64_t produced_us,
                     int64_t now_us);

/* Counts one rejected message. */
void sb_ingest_invalid(struct sb_ingest *in, enum sb_invalid_reason reason);

/* Counts one consumed message, valid or not. */
void sb_ingest_consumed(struct sb_ingest *in);

#endif
