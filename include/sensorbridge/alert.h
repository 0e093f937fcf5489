/*
 * alert.h - per-sensor alert state machines. Pure: the caller feeds
 * samples and closed windows with their event times and receives
 * transitions.
 *
 * Threshold rule ("threshold"; a rule has one if any of its four
 * thresholds is set). Levels normal < warning < critical. With h the
 * hysteresis and cur the current level, held on side high or low:
 *   - level L's condition holds if v >= its high threshold or v <= its low
 *     threshold (an unset threshold never holds);
 *   - while cur >= L, L also stays while v >= high - h (side high) or
 *     v <= low + h (side low), so it clears only when v < high - h (resp.
 *     v > low + h): a high warning at 180 with hysteresis 2 clears below
 *     178, and a value hovering at a threshold gives one alert, not a storm;
 *   - escalation (to a level above cur) needs L's condition to have held
 *     on every sample from the first one where it held, t0, to a sample at
 *     t >= t0 + min_duration (event time); that sample's time is the
 *     transition's. A sample where it does not hold resets the wait. With
 *     several levels ready, the highest wins (normal -> critical directly);
 *   - de-escalation is immediate: the new level is the highest whose
 *     condition or stay condition holds (critical -> warning when critical
 *     clears but warning still holds, then warning -> normal);
 *   - the side is the one whose condition last held at the current level
 *     (high wins if both; valid rules make that impossible), so hysteresis
 *     only ever applies on the side the alert is on.
 * Thresholds that are set must satisfy low_critical <= low_warning <
 * high_warning <= high_critical (as the configuration checks).
 *
 * Statistical rule ("zscore"; when zscore = k is set): a rolling baseline
 * of the means of the last N = zscore_baseline closed windows of size
 * zscore_window_us, fed by sb_alerts_window. m is their mean, s their
 * sample standard deviation (divisor N - 1: the windows are a sample of the
 * process). Nothing is evaluated before N windows have been seen or while
 * s is 0 (or within rounding of 0 relative to the means). The evaluated x
 * is each closed window's mean before it joins the baseline (zscore_on =
 * mean; event time = the window's end) or each sample against the current
 * baseline (zscore_on = value). |x - m| > 2k*s is critical, > k*s warning;
 * the reported threshold is m +- k*s (resp. 2k*s) on x's side. The same
 * min_duration rule applies to escalation. Hysteresis is not applied: it
 * is in the unit, sized for the thresholds, while s (of window means) may
 * be far smaller; the level drops as soon as |x - m| <= 2k*s (resp. k*s).
 * In value mode samples scatter more than window means: use min_duration
 * there to avoid flapping.
 *
 * Each transition is reported exactly once, through the callback, in the
 * order the inputs arrive. Samples and windows with a NaN value are
 * ignored. Inputs are evaluated in arrival order; an older event time than
 * the previous one only delays a pending escalation.
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

/* Valid only during the callback (strings included). */
struct sb_alert_event {
    const char *sensor;
    const char *rule; /* "threshold" or "zscore" */
    enum sb_alert_level from;
    enum sb_alert_level level;
    double value;        /* the sample value or window mean that caused it */
    double threshold;    /* the threshold crossed; for a drop, the one that cleared (without
                            hysteresis); for zscore the bound in the unit */
    int64_t ts_us;       /* event time of the transition */
    const char *message; /* one sentence, e.g. "PS1 high warning: 181.2 >= 180",
                            "PS1 back to normal: 177.5 < 178 (180 - hysteresis 2)" */
};

typedef void (*sb_alert_cb)(void *ud, const struct sb_alert_event *e);

struct sb_alerts;

/* Checks rules as sb_alerts_new does: at most SB_MAX_ALERT_RULES, distinct
 * sensor names of 1..63 bytes, thresholds NAN or finite and ordered as
 * above, hysteresis finite >= 0, min_duration >= 0, zscore NAN or finite >
 * 0 with zscore_baseline 2..1000 and zscore_window_us > 0. Returns 0, or
 * -EINVAL and "[alert.SENSOR] key: why" in err. */
int sb_alerts_validate(const struct sb_alert_rule_cfg *rules, size_t nrules, char *err,
                       size_t errlen);

/* rules: the configured rules (copied). cb may be NULL. Returns NULL on
 * invalid rules (logged with the reason sb_alerts_validate gives). */
struct sb_alerts *sb_alerts_new(const struct sb_alert_rule_cfg *rules, size_t nrules,
                                sb_alert_cb cb, void *ud);
void sb_alerts_free(struct sb_alerts *a);

/* The index of a sensor's rule in the rules given to sb_alerts_new, or -1
 * if it has none: one hash lookup, which the caller keeps (the record's
 * alert_rule, sensortab.h) so that samples and windows need none. */
int sb_alerts_rule(const struct sb_alerts *a, const char *sensor);

/* A sample of the sensor of rule index `rule` (threshold rule; zscore rule
 * with zscore_on = value). A NaN value, or rule -1 (no rule), is ignored. */
void sb_alerts_sample(struct sb_alerts *a, int rule, int64_t ts_us, double value);

/* A closed window of the sensor of rule index `rule` (zscore rule:
 * baseline update and, with zscore_on = mean, evaluation of its mean
 * against the baseline before it joins it). Windows of other sizes than
 * the rule's zscore_window_us, and rule -1, are ignored. */
void sb_alerts_window(struct sb_alerts *a, int rule, int64_t size_us, int64_t end_us, double mean);

/* Puts a sensor's rule back as sb_alerts_new made it, as if the sensor had
 * never been seen: normal, no escalation pending, an empty z-score
 * baseline. Reports no transition: an active alert is dropped without a
 * "back to normal", because the value never came back (whoever takes the
 * sensor over raises it again if the condition still holds). Returns the
 * rule's index as sb_alerts_rule does, or -1 if the sensor has no rule.
 * Must not be called from the callback. */
int sb_alerts_forget(struct sb_alerts *a, const char *sensor);

/* Current level of a sensor's rule ("threshold" or "zscore"); -1 if no such rule. */
int sb_alerts_level(const struct sb_alerts *a, const char *sensor, const char *rule);

#endif
