/*
 * alert.h - per-sensor alert state machines. Pure: the caller feeds
 * samples and closed windows with their event times and receives
 * transitions.
 *
 * Threshold rule: levels normal < warning < critical from low/high
 * thresholds. A level is entered when the value crosses its threshold and
 * stays crossed for min_duration of event time; it is left only when the
 * value is back by more than the hysteresis (e.g. high warning at 180 with
 * hysteresis 2 clears below 178), so a value hovering at a threshold gives
 * one alert, not a storm.
 *
 * Statistical rule: with a rolling baseline of the means of the last N
 * closed windows (of one size), a window mean (or each sample, by config)
 * more than k baseline standard deviations from the baseline mean is a
 * warning, more than 2k critical; the same hysteresis and duration apply
 * (hysteresis in standard deviations is not used: the level drops when the
 * deviation is back under k, resp. 2k).
 *
 * Each transition is reported exactly once.
 */
#ifndef SB_ALERT_H
#define SB_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "sensorbridge/config.h"

enum sb_alert_level {
    SB_ALERT_NORMAL = 0,
    SB_ALERT_WARNING = 1,
    SB_ALERT_CRITICAL = 2,
};

const char *sb_alert_level_name(enum sb_alert_level l); /* "normal", "warning", "critical" */

struct sb_alert_event {
    const char *sensor;
    const char *rule; /* "threshold" or "zscore" */
    enum sb_alert_level from;
    enum sb_alert_level level;
    double value;        /* the sample value or window mean that caused it */
    double threshold;    /* the threshold crossed (for zscore: the bound in the unit) */
    int64_t ts_us;       /* event time of the transition */
    const char *message; /* one sentence, e.g. "PS1 high warning: 181.2 bar >= 180" */
};

typedef void (*sb_alert_cb)(void *ud, const struct sb_alert_event *e);

struct sb_alerts;

/* rules: the configured rules (copied). Returns NULL on invalid rules. */
struct sb_alerts *sb_alerts_new(const struct sb_alert_rule_cfg *rules, size_t nrules,
                                sb_alert_cb cb, void *ud);
void sb_alerts_free(struct sb_alerts *a);

/* A sample of a sensor (threshold rule; zscore rule with zscore_on = value). */
void sb_alerts_sample(struct sb_alerts *a, const char *sensor, int64_t ts_us, double value);

/* A closed window (zscore rule: baseline update and, with zscore_on = mean,
 * evaluation of its mean against the baseline before it joins it). */
void sb_alerts_window(struct sb_alerts *a, const char *sensor, int64_t size_us, int64_t end_us,
                      double mean);

/* Current level of a sensor's rule ("threshold" or "zscore"); -1 if no such rule. */
int sb_alerts_level(const struct sb_alerts *a, const char *sensor, const char *rule);

#endif
