/*
 * consumer.h - the Kafka consumer on the libuv loop: a member of a
 * consumer group subscribed to "^<prefix>-" topics by pattern, or to the
 * one samples topic in the shared layout. With the embedded broker it is
 * the group's only possible member and assigns itself every partition of
 * the topics the subscription matches instead of joining (no join wait, no
 * rebalance), still committing to the group. Messages are taken in groups
 * (rd_kafka_consume_batch_queue); each is decoded, validated and applied
 * to the ingest and the analytics, its sensor looked up once; each
 * partition's offset is stored once per group, only after every message
 * of the group was applied, and stored offsets are committed periodically
 * and on close (at-least-once after processing). With strict_sensors, a
 * sensor must be one of the 17 UCI sensors or a configured synthetic one.
 */
#ifndef SB_CONSUMER_H
#define SB_CONSUMER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sensorbridge/analytics.h"
#include "sensorbridge/config.h"
#include "sensorbridge/flow.h"
#include "sensorbridge/ingest.h"
#include "sensorbridge/producer.h"
#include "sensorbridge/registry.h"

#define SB_CONSUMER_BATCH 10000 /* messages per loop turn (at most 5 ms) before yielding */

struct sb_consumer;

/* analytics may be NULL. Messages on the aggregates and alerts topics
 * (which the pattern also matches) are skipped without being counted. */
int sb_consumer_new(struct sb_consumer **out, uv_loop_t *loop, const struct sb_config *cfg,
                    const char *bootstraps, struct sb_ingest *ingest,
                    struct sb_analytics *analytics, struct sb_registry *reg, char *err,
                    size_t errlen);

/* Subscribes (once the topics exist: a subscription to a missing topic
 * only yields errors); with the embedded broker, takes the partitions of
 * the matching topics, and again of new ones at each sb_consumer_reload.
 * Returns 0 or -EIO with a message. */
int sb_consumer_start(struct sb_consumer *c, char *err, size_t errlen);

/* Fatal errors of the consumer client go to cb (see sb_kafka_fatal_cb). */
void sb_consumer_on_fatal(struct sb_consumer *c, sb_kafka_fatal_cb cb, void *ud);

/* The consumer's progress on sample topics (each message applied, each
 * partition revoked, whether it holds an assignment) is reported to f (may
 * be NULL), which must outlive the consumer. */
void sb_consumer_set_flow(struct sb_consumer *c, struct sb_flow *f);

/* True while the consumer holds an assignment from its group (which may be
 * empty if the group has more members than partitions). */
bool sb_consumer_assigned(const struct sb_consumer *c);

/* {"subscription":..., "assigned":bool, "partitions":[{"topic","partition"}...],
 * "messages":N} for the status API; a new reference. */
json_t *sb_consumer_status(const struct sb_consumer *c);

/* Messages consumed since start (what the status API calls "messages"). */
uint64_t sb_consumer_messages(const struct sb_consumer *c);

/* The lag summed over the assigned partitions, counted as
 * sensorbridge_consumer_lag_messages counts each (0 without an assignment). */
int64_t sb_consumer_lag(struct sb_consumer *c);

/* Reload: strict_sensors and the configured synthetic sensor names. */
void sb_consumer_reload(struct sb_consumer *c, const struct sb_config *cfg);

/* Applies what is already fetched (until drain_deadline_ns on the
 * monotonic clock; the rest is left uncommitted for the next start),
 * commits stored offsets, leaves the group, destroys the handle and closes
 * the loop handles; cb runs when everything is released. Blocks for the
 * commit and the group leave (bounded by librdkafka). The collector
 * sb_consumer_new added to the registry is removed at once; the metric
 * families stay. */
void sb_consumer_close(struct sb_consumer *c, uint64_t drain_deadline_ns, void (*cb)(void *ud),
                       void *ud);

#endif
