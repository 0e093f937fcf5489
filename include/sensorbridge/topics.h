/*
 * topics.h - the cluster watch: whether the brokers answer and whether the
 * topics this configuration reads and writes exist, creating the missing
 * ones through the Admin API when [kafka] create_topics allows it. It never
 * relies on broker-side auto-creation. Loop-bound.
 *
 * Every check runs on libuv's thread pool (a metadata request and, if
 * topics are missing, a CreateTopics request block for up to
 * SB_TOPICS_METADATA_TIMEOUT_MS and SB_TOPICS_CREATE_TIMEOUT_MS), so the
 * loop never waits on the cluster. Checks repeat every
 * SB_TOPICS_RECHECK_MS while everything is there and every
 * SB_TOPICS_RETRY_MS while it is not; what is missing is logged with the
 * command that creates it. A topic just created counts once metadata
 * shows it (the next check, SB_TOPICS_CREATED_RECHECK_MS later).
 *
 * Ownership: the watch owns its own librdkafka handle (configured with the
 * [producer] kafka.* properties, or the [consumer] ones if the producer is
 * disabled, so TLS and SASL settings apply to it too) and copies of
 * everything it takes from the configuration.
 */
#ifndef SB_TOPICS_H
#define SB_TOPICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "sensorbridge/config.h"
#include "sensorbridge/registry.h"

#define SB_TOPICS_METADATA_TIMEOUT_MS 3000
#define SB_TOPICS_CREATE_TIMEOUT_MS 10000
#define SB_TOPICS_RECHECK_MS 10000
#define SB_TOPICS_RETRY_MS 1000
#define SB_TOPICS_CREATED_RECHECK_MS 200 /* after creating topics, to see them in metadata */

struct sb_topics;

/* The topics cfg needs, in a stable order: in the per-sensor layout the
 * 17 UCI sensors' and each synthetic sensor's "<prefix>-<SENSOR>" if the
 * producer is on (a consumer subscribes by pattern and needs none in
 * particular); in the shared layout the samples topic if the producer or
 * the consumer is on; and the aggregates and alerts topics if both are on
 * and [windows] or [alerts] is enabled. The caller frees the list with
 * sb_namelist_free. */
void sb_topics_required(const struct sb_config *cfg, struct sb_namelist *out);

/* Append to out: the sample topics of cfg's layout, whatever the daemon's
 * role; the output topics, if cfg both produces and consumes. */
void sb_topics_add_samples(const struct sb_config *cfg, struct sb_namelist *out);
void sb_topics_add_outputs(const struct sb_config *cfg, struct sb_namelist *out);

/* Called on the loop each time the watch goes from "not everything is
 * there" to "the brokers answer and every topic exists". */
typedef void (*sb_topics_ready_cb)(void *ud);

/* create: whether missing topics may be created (false with the embedded
 * broker, which cannot serve CreateTopics: its topics are made up front). */
int sb_topics_new(struct sb_topics **out, uv_loop_t *loop, const struct sb_config *cfg,
                  const char *bootstraps, bool create, struct sb_registry *reg,
                  sb_topics_ready_cb cb, void *ud, char *err, size_t errlen);

/* Starts checking (the first check at once). */
void sb_topics_start(struct sb_topics *t);

/* Reload: the topics cfg needs now (new synthetic sensors); the watch is
 * not ready until a check has found them, and one starts at once. */
void sb_topics_set_required(struct sb_topics *t, const struct sb_config *cfg);

/* True if the last check reached the brokers and found every topic (or
 * created it). Otherwise *why (if not NULL) says what is wrong, valid until
 * the next loop turn. */
bool sb_topics_ready(const struct sb_topics *t, const char **why);

/* {"checked":bool,"cluster_reachable":bool,"required":[...],"missing":[...],
 * "created":N} for the status API; a new reference. */
json_t *sb_topics_status(const struct sb_topics *t);

/* Stops checking; a check in flight is finished (a CreateTopics wait is cut
 * short), then the handle is destroyed and cb runs. */
void sb_topics_close(struct sb_topics *t, void (*cb)(void *ud), void *ud);

#endif
