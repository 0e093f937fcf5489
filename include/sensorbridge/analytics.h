/*
 * analytics.h - the consumer's analytics: event-time windows and alert
 * rules wired to the metrics registry, the JSON they publish (one message
 * per closed window to the aggregates topic, one per alert transition to
 * the alerts topic), and the recent history served on /api/v1/windows and
 * /api/v1/alerts. Pure: publishing goes through a callback.
 *
 * Ownership: keeps borrowed pointers into the registry, which must outlive
 * it. Strings passed to the publish callback are valid during the call.
 */
#ifndef SB_ANALYTICS_H
#define SB_ANALYTICS_H

#include <stddef.h>
#include <stdint.h>

#include "sensorbridge/codec.h"
#include "sensorbridge/config.h"
#include "sensorbridge/registry.h"
#include "sensorbridge/util.h"

enum sb_publish_kind {
    SB_PUBLISH_AGGREGATE,
    SB_PUBLISH_ALERT,
};

/* key is the sensor name; ts_us the event time to stamp the message with. */
typedef void (*sb_publish_cb)(void *ud, enum sb_publish_kind kind, const char *key,
                              const char *json, size_t len, int64_t ts_us);

struct sb_analytics;

/* Windows follow cfg's [windows], alerts cfg's [alerts] and [alert.*].
 * Returns NULL with a message if the rules are invalid. */
struct sb_analytics *sb_analytics_new(const struct sb_config *cfg, struct sb_registry *reg,
                                      sb_publish_cb cb, void *ud, char *err, size_t errlen);
void sb_analytics_free(struct sb_analytics *a);

/* Feeds one valid consumed sample. */
void sb_analytics_sample(struct sb_analytics *a, const struct sb_decoded *d);

/* Reload: if cfg's [alert.*] rules differ in any way from the running
 * ones, the rule engine is rebuilt and every rule starts again from
 * normal; an unchanged set keeps its state, so a reload that does not touch
 * the rules never repeats an alert. Returns 0, or -EINVAL with a message
 * (the old rules stay). */
int sb_analytics_set_rules(struct sb_analytics *a, const struct sb_config *cfg, char *err,
                           size_t errlen);

/* JSON documents for the status API. */
void sb_analytics_alerts_json(const struct sb_analytics *a, struct sb_buf *out);
void sb_analytics_windows_json(const struct sb_analytics *a, struct sb_buf *out);

/* "<prefix>-aggregates" / "<prefix>-alerts" unless the config names them. */
void sb_analytics_topics(const struct sb_config *cfg, char *aggregates, char *alerts, size_t len);

#endif
