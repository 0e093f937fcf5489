/*
 * flow.h - flow control between the producer and the consumer of one
 * process: the sources wait while the consumer is too far behind what the
 * producer delivered, so that the broker never has to hold more than a
 * known number of unread messages per partition (the embedded broker
 * deletes what exceeds 5 MiB per partition, read or not). Pure: no loop,
 * no Kafka; the producer reports deliveries, the consumer its progress,
 * and the daemon's sources ask sb_flow_closed before each sample.
 *
 * Per topic partition: delivered = 1 + the highest offset the producer was
 * acknowledged, next = the offset of the next message the consumer will
 * apply. A partition is behind when it is held (assigned to the consumer,
 * or a message of it applied, since it was last released) and delivered -
 * next > max_lag; it is caught up again at delivered - next <= max_lag / 2.
 * Until its first applied message the consumer's position in a held
 * partition is not known, and next is the first offset delivered since the
 * assignment: what the producer delivers while the consumer has not started
 * reading is bounded too (at start-up, while the consumer looks up its
 * offsets and sends its first fetch, the sources would otherwise run
 * unbounded; the embedded broker then deleted sets before they were read). The
 * flow is closed while the consumer has not joined its group (it holds no
 * assignment: before the first one, and during a rebalance) or any
 * partition is behind, so the broker holds at most max_lag unread messages
 * per held partition, plus what the producer had in flight when the flow
 * closed (at most its queue, queue.buffering.max.messages). Partitions the
 * consumer does not hold (another group member has them) do not close it.
 * max_lag = 0 disables the whole mechanism: never closed.
 *
 * Memory: one entry per partition seen, at most SB_FLOW_MAX_PARTITIONS;
 * past that, new partitions are not tracked (and cannot close the flow).
 *
 * Ownership: the flow copies topic names; it registers
 * sensorbridge_flow_control_paused and sensorbridge_flow_control_pauses_total
 * in the registry, which must outlive it.
 */
#ifndef SB_FLOW_H
#define SB_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "sensorbridge/registry.h"

#define SB_FLOW_MAX_PARTITIONS 65536

struct sb_flow;

/* open_cb runs each time the flow opens again: the sources may go on. */
struct sb_flow *sb_flow_new(struct sb_registry *reg, int64_t max_lag, void (*open_cb)(void *ud),
                            void *ud);
void sb_flow_free(struct sb_flow *f);

/* Reload: a new bound applies from the next report on. */
void sb_flow_set_max_lag(struct sb_flow *f, int64_t max_lag);

/* The producer was acknowledged a message at `offset` of topic/partition. */
void sb_flow_delivered(struct sb_flow *f, const char *topic, int32_t partition, int64_t offset);

/* The consumer holds topic/partition from now on (an assignment), at a
 * position not known yet. */
void sb_flow_assigned(struct sb_flow *f, const char *topic, int32_t partition);
/* The consumer applied the message before `next` of topic/partition. */
void sb_flow_applied(struct sb_flow *f, const char *topic, int32_t partition, int64_t next);

/* The consumer no longer holds topic/partition (revoked or lost). */
void sb_flow_released(struct sb_flow *f, const char *topic, int32_t partition);

/* Whether the consumer holds an assignment from its group. */
void sb_flow_joined(struct sb_flow *f, bool joined);

/* True while the sources must wait. */
bool sb_flow_closed(const struct sb_flow *f);

#endif
