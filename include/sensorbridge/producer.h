/*
 * producer.h - the Kafka producer on the libuv loop. Delivery reports are
 * served from the loop: librdkafka writes to an eventfd when its main
 * queue becomes non-empty, a uv_poll_t watches it, rd_kafka_poll drains.
 *
 * Backpressure: when librdkafka's queue is full, sb_producer_send returns
 * -EAGAIN and the caller keeps the sample; the drain callback fires once
 * the queue is below half full again. Nothing is dropped.
 *
 * Ownership: topics returned by sb_producer_topic belong to the producer.
 */
#ifndef SB_PRODUCER_H
#define SB_PRODUCER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sensorbridge/codec.h"
#include "sensorbridge/config.h"
#include "sensorbridge/flow.h"
#include "sensorbridge/registry.h"

/* Header carrying the wall time (decimal microseconds) at which the
 * producer handed the message to librdkafka: the start of the end-to-end
 * latency measurement. sb_producer_send stamps a sensor's first message
 * in each millisecond of the loop's clock (uv_now), not every message. */
#define SB_HEADER_PRODUCED_US "sb-produced-us"

struct sb_producer;
struct sb_producer_topic;

typedef void (*sb_producer_drain_cb)(void *ud);

int sb_producer_new(struct sb_producer **out, uv_loop_t *loop, const struct sb_config *cfg,
                    const char *bootstraps, struct sb_registry *reg, char *err, size_t errlen);

void sb_producer_on_drain(struct sb_producer *p, sb_producer_drain_cb cb, void *ud);

/* A fatal librdkafka error: the client cannot go on (e.g. the idempotent
 * producer was refused a producer id, or lost its sequence with the
 * broker); every later produce would fail. `client` names the client
 * ("producer", "consumer"), `why` the error. Called on the loop, from inside
 * librdkafka's poll: the callee must not close the client there. */
typedef void (*sb_kafka_fatal_cb)(void *ud, const char *client, const char *why);

/* Fatal errors go to cb; other client-wide errors (all brokers down, ...)
 * are logged, rate-limited. */
void sb_producer_on_fatal(struct sb_producer *p, sb_kafka_fatal_cb cb, void *ud);

/* Deliveries to sample topics are reported to f (may be NULL), which must
 * outlive the producer. */
void sb_producer_set_flow(struct sb_producer *p, struct sb_flow *f);

/* The sample topic of `sensor` (named `topic`: see sb_config_sample_topic)
 * with the sensor's counters; messages carry the sensor as their key. */
struct sb_producer_topic *sb_producer_topic(struct sb_producer *p, const char *sensor,
                                            const char *topic);

/* Encodes s and hands it to librdkafka with key = sensor, the Kafka
 * timestamp = event time and, if it is t's first message in this
 * millisecond of the loop's clock, the SB_HEADER_PRODUCED_US header.
 * Returns 0, -EAGAIN (queue full: retry after the drain callback), or
 * another negative errno (logged, counted failed). */
int sb_producer_send(struct sb_producer *p, struct sb_producer_topic *t, const struct sb_sample *s);

#define SB_PRODUCER_OUTBOX_MAX 10000 /* documents waiting for room in a full queue */

/* An output topic (aggregates, alerts), its counters labelled by topic. */
struct sb_producer_topic *sb_producer_output(struct sb_producer *p, const char *topic);

/* Sends a ready JSON document with the given key and Kafka timestamp to an
 * output topic. If librdkafka's queue is full (the replay fills it at
 * speed max), the document waits in a FIFO outbox of at most
 * SB_PRODUCER_OUTBOX_MAX entries that is flushed first once there is room;
 * only past that bound is a document dropped, counted and logged. */
void sb_producer_send_json(struct sb_producer *p, struct sb_producer_topic *t, const char *key,
                           const char *json, size_t len, int64_t ts_us);

/* Messages waiting in librdkafka (queued or in flight). */
int sb_producer_outq_len(const struct sb_producer *p);

/* Blocks up to timeout_ms for outstanding messages; returns how many are
 * left (0 = everything delivered). Run at shutdown only. */
int sb_producer_flush(struct sb_producer *p, int timeout_ms);

/* Destroys the librdkafka handle and closes the loop handles; cb runs
 * when everything is released. The collector sb_producer_new added to the
 * registry is removed at once; the metric families stay. */
void sb_producer_close(struct sb_producer *p, void (*cb)(void *ud), void *ud);

#endif
