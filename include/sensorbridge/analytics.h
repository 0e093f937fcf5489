/*
 * analytics.h - the consumer's analytics: event-time windows and alert
 * rules wired to the metrics registry, the JSON they publish (one message
 * per closed window to the aggregates topic, one per alert transition to
 * the alerts topic), and the recent history served on /api/v1/windows and
 * /api/v1/alerts. Pure: publishing goes through a callback.
 *
 * Complete and partial windows. Every closed window is published, with
 * "complete" and "partial_reason". A complete one (see window.h: its
 * sensor was read without a miss from before it, and the watermark closed
 * it) sets the sensor's sensorbridge_window_* gauges and joins the z-score
 * baselines; a partial one does neither, so a window short of samples
 * never passes for the sensor's level. It is counted in
 * sensorbridge_windows_partial_total{window,reason} and is the sensor's
 * last window on /api/v1/windows, marked so. An early close is named
 * before a resume when both apply.
 *
 * Ownership: keeps borrowed pointers into the registry, which must outlive
 * it, and owns the children of the families it registers
 * (sensorbridge_window_*, sensorbridge_windows_*, sensorbridge_alert_level,
 * sensorbridge_alerts_total): nobody else may remove or clear them.
 * Strings passed to the publish callback are valid during the call.
 */
#ifndef SB_ANALYTICS_H
#define SB_ANALYTICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sensorbridge/codec.h"
#include "sensorbridge/condition.h"
#include "sensorbridge/config.h"
#include "sensorbridge/registry.h"
#include "sensorbridge/util.h"
#include "sensorbridge/window.h"

enum sb_publish_kind {
    SB_PUBLISH_AGGREGATE,
    SB_PUBLISH_ALERT,
    SB_PUBLISH_DIAGNOSIS, /* the daemon's, from the condition monitor (condition.h) */
};

/* Why a window is partial: "partial_reason" in its aggregate, the reason
 * label of sensorbridge_windows_partial_total. */
enum sb_partial_reason {
    SB_PARTIAL_RESUMED, /* its sensor's stream was picked up within its reach (window.h) */
    SB_PARTIAL_FORCED,  /* closed early: the sensor had [windows] max_open open */
    SB_PARTIAL_REVOKED, /* closed early: the sensor's partition went to another member */
    SB_PARTIAL_EXPIRED, /* closed early: the sensor was silent for [consumer] sensor_expiry */
    SB_PARTIAL_STOPPED, /* closed early: the daemon stopped (sb_analytics_stop) */
    SB_PARTIAL__COUNT,
};

/* "resumed", "forced", "revoked", "expired", "stopped". */
const char *sb_partial_reason_name(enum sb_partial_reason r);

/* key is the sensor name; ts_us the event time to stamp the message with. */
typedef void (*sb_publish_cb)(void *ud, enum sb_publish_kind kind, const char *key,
                              const char *json, size_t len, int64_t ts_us);

struct sb_analytics;

/* Windows follow cfg's [windows], alerts cfg's [alerts] and [alert.*].
 * Returns NULL with a message if the rules are invalid. */
struct sb_analytics *sb_analytics_new(const struct sb_config *cfg, struct sb_registry *reg,
                                      sb_publish_cb cb, void *ud, char *err, size_t errlen);
void sb_analytics_free(struct sb_analytics *a);

/* Feeds one valid consumed sample of the sensor of record rec (the
 * ingest's, sensortab.h: the analytics use its windows slot and its alert
 * rule, and look no name up), read in `run` (the windows' notion of
 * an unbroken read, see window.h; NULL: the whole stream in one run); now_us
 * is the wall time. A sensor with
 * an alert rule gets its sensorbridge_alert_level series with its first
 * sample (and again with the first one after sb_analytics_forget), so they
 * show the sensors this instance holds, not every configured one. A sample
 * more than [windows] max_ahead after both the newest event time accepted
 * (of any sensor) and now_us is counted in
 * sensorbridge_window_future_samples_total{sensor} and goes to neither the
 * windows nor the alert rules. */
void sb_analytics_sample(struct sb_analytics *a, struct sb_sensor *rec, const struct sb_decoded *d,
                         int64_t now_us, const struct sb_window_run *run);

/* Forgets the sensor of record rec, which this instance no longer holds (its partitions were
 * revoked: why = SB_PARTIAL_REVOKED; or it fell silent: SB_PARTIAL_EXPIRED;
 * see sb_ingest_forget_cb), so nothing of it stays stale:
 *   - its open windows are published now, partial with reason `why`:
 *     their samples are committed, so whoever takes the sensor over
 *     resumes after them, and its first windows of the sensor are partial
 *     too (resumed); the two parts hold every sample once (if a commit
 *     failed, the samples come again: at least once);
 *   - its alert rule goes back to normal with an empty z-score baseline and
 *     no transition is published: an active alert is dropped (and logged),
 *     not resolved, since the value never came back; the new owner raises
 *     it again if the condition still holds;
 *   - its per-sensor series go: sensorbridge_window_samples, _mean, _min,
 *     _max, _stddev, _end_timestamp_seconds and _late_samples_total,
 *     sensorbridge_alert_level and sensorbridge_alerts_total.
 * History stays: its alerts in /api/v1/alerts (until newer ones push them
 * out) and its last closed windows in /api/v1/windows (until the room is
 * needed, see sb_analytics_windows_json). A later sample of the sensor
 * starts afresh: no watermark, new windows (complete only if its run says
 * from_start, so the caller must not say so for it again), the rule from
 * normal, series from 0. A sensor never seen is a no-op. Not from the
 * publish callback. */
void sb_analytics_forget(struct sb_analytics *a, struct sb_sensor *rec, enum sb_partial_reason why);

/* At shutdown, after the last sample and before the producer's final
 * flush: publishes every open window, partial with reason "stopped", and
 * drops the windows' state (the other series stay until
 * sb_analytics_free). The samples in them are committed, so the next start
 * resumes after them: its first windows are partial (resumed). */
void sb_analytics_stop(struct sb_analytics *a);

/* Reload: rebuilds the rule engine from cfg's [alert.*] rules and every
 * rule starts again from normal. The daemon calls it only when
 * sb_config_changes reports SB_APPLY_ALERTS, so a reload that does not
 * touch the rules never repeats an alert. Returns 0, or -EINVAL with a
 * message (the old rules stay). */
int sb_analytics_set_rules(struct sb_analytics *a, const struct sb_config *cfg, char *err,
                           size_t errlen);

/* Hands every sample of a UCI sensor that reaches the windows to the
 * condition monitor `c` (borrowed, may be NULL: none), and the forgetting
 * and stopping of sensors too. */
void sb_analytics_set_condition(struct sb_analytics *a, struct sb_condition *c);

/* Whether the partition that carries only UCI sensor `uci` (a record's
 * uci, sensortab.h) should be paused for the condition monitor to keep its
 * cycles (sb_condition_ahead); false without a monitor or for uci < 0. */
bool sb_analytics_ahead(struct sb_analytics *a, int uci, uint64_t now_ns);

/* A value that is not a consumed sample but has alert rules of its own:
 * the condition monitor's predicted state of component X, fed as sensor
 * "condition_X" at the end of its cycle (event time), so that
 * [alert.condition_X] rules raise and clear alerts like any sensor's. A
 * name without a rule is ignored. */
void sb_analytics_value(struct sb_analytics *a, const char *name, int64_t ts_us, double value);

/* JSON documents for the status API. The windows document has the last
 * closed window of each sensor and size, complete or partial (as its
 * aggregate says), forgotten sensors' included; at
 * most [consumer] max_sensors entries per size are kept, and a new one
 * beyond that replaces the forgotten sensor's entry that ended first. */
void sb_analytics_alerts_json(const struct sb_analytics *a, struct sb_buf *out);
void sb_analytics_windows_json(const struct sb_analytics *a, struct sb_buf *out);

/* "<prefix>-aggregates" / "<prefix>-alerts" unless the config names them. */
void sb_analytics_topics(const struct sb_config *cfg, char *aggregates, char *alerts, size_t len);

#endif
