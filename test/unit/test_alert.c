/* test_alert.c - threshold and z-score alert state machines. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sensorbridge/alert.h"
#include "sensorbridge/log.h"
#include "sensorbridge/util.h"

#define S_US INT64_C(1000000)

/* Every event, copied: events are valid only during the callback. */
struct ev {
    char sensor[64];
    char rule[16];
    enum sb_alert_level from;
    enum sb_alert_level level;
    double value;
    double threshold;
    int64_t ts_us;
    char message[320];
};

struct log {
    struct ev *v;
    size_t n;
    size_t cap;
};

static void record(void *ud, const struct sb_alert_event *e)
{
    struct log *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = sb_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    struct ev *x = &l->v[l->n++];
    snprintf(x->sensor, sizeof(x->sensor), "%s", e->sensor);
    snprintf(x->rule, sizeof(x->rule), "%s", e->rule);
    snprintf(x->message, sizeof(x->message), "%s", e->message);
    x->from = e->from;
    x->level = e->level;
    x->value = e->value;
    x->threshold = e->threshold;
    x->ts_us = e->ts_us;
}

static void log_free(struct log *l)
{
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static struct sb_alert_rule_cfg rule(const char *sensor)
{
    struct sb_alert_rule_cfg r = {
        .sensor = (char *)sensor,
        .low_critical = NAN,
        .low_warning = NAN,
        .high_warning = NAN,
        .high_critical = NAN,
        .hysteresis = 0,
        .min_duration_us = 0,
        .zscore = NAN,
        .zscore_baseline = 10,
        .zscore_window_us = 60 * S_US,
        .zscore_on = SB_ZSCORE_MEAN,
    };
    return r;
}

static struct sb_alerts *new1(const struct sb_alert_rule_cfg *r, struct log *l)
{
    struct sb_alerts *a = sb_alerts_new(r, 1, record, l);
    assert_non_null(a);
    return a;
}

static void assert_event(const struct ev *e, enum sb_alert_level from, enum sb_alert_level to,
                         double value, double threshold, int64_t ts, const char *message)
{
    assert_int_equal(e->from, from);
    assert_int_equal(e->level, to);
    assert_true(e->value == value);
    if (!(fabs(e->threshold - threshold) <= 1e-9 * fmax(1, fabs(threshold))))
        fail_msg("threshold %.17g, want %.17g", e->threshold, threshold);
    assert_int_equal(e->ts_us, ts);
    if (message)
        assert_string_equal(e->message, message);
}

static void alert_hover_gives_one_warning(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg r = rule("PS1");
    r.high_warning = 180;
    r.hysteresis = 2;
    struct sb_alerts *a = new1(&r, &l);
    for (int i = 0; i < 200; i++)
        sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), i * S_US, (i % 2) ? 180.5 : 179.5);
    assert_int_equal(l.n, 1);
    assert_event(&l.v[0], SB_ALERT_NORMAL, SB_ALERT_WARNING, 180.5, 180, S_US,
                 "PS1 high warning: 180.5 >= 180");
    assert_string_equal(l.v[0].sensor, "PS1");
    assert_string_equal(l.v[0].rule, "threshold");
    assert_int_equal(sb_alerts_level(a, "PS1", "threshold"), SB_ALERT_WARNING);
    /* Exactly at threshold - h still stays; just below clears. */
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 300 * S_US, 178);
    assert_int_equal(l.n, 1);
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 301 * S_US, 177.9);
    assert_int_equal(l.n, 2);
    assert_event(&l.v[1], SB_ALERT_WARNING, SB_ALERT_NORMAL, 177.9, 180, 301 * S_US,
                 "PS1 back to normal: 177.9 < 178 (180 - hysteresis 2)");
    assert_int_equal(sb_alerts_level(a, "PS1", "threshold"), SB_ALERT_NORMAL);
    /* Between 178 and 180 from normal: nothing. */
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 302 * S_US, 179.9);
    assert_int_equal(l.n, 2);
    sb_alerts_free(a);
    log_free(&l);
}

static void alert_without_hysteresis_clears_below_threshold(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg r = rule("TS1");
    r.high_warning = 58;
    struct sb_alerts *a = new1(&r, &l);
    sb_alerts_sample(a, sb_alerts_rule(a, "TS1"), 1, 58.4);
    sb_alerts_sample(a, sb_alerts_rule(a, "TS1"), 2, 58);
    sb_alerts_sample(a, sb_alerts_rule(a, "TS1"), 3, 57.9);
    assert_int_equal(l.n, 2);
    assert_event(&l.v[0], SB_ALERT_NORMAL, SB_ALERT_WARNING, 58.4, 58, 1,
                 "TS1 high warning: 58.4 >= 58");
    assert_event(&l.v[1], SB_ALERT_WARNING, SB_ALERT_NORMAL, 57.9, 58, 3,
                 "TS1 back to normal: 57.9 < 58");
    sb_alerts_free(a);
    log_free(&l);
}

static void alert_critical_escalation_stepwise_deescalation(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg r = rule("PS1");
    r.high_warning = 180;
    r.high_critical = 190;
    r.hysteresis = 2;
    struct sb_alerts *a = new1(&r, &l);
    const double v[] = {170, 185, 191, 188.5, 188, 187, 179, 178, 170};
    for (size_t i = 0; i < SB_ARRAY_SIZE(v); i++)
        sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), (int64_t)i * S_US, v[i]);
    assert_int_equal(l.n, 4);
    assert_event(&l.v[0], SB_ALERT_NORMAL, SB_ALERT_WARNING, 185, 180, 1 * S_US,
                 "PS1 high warning: 185 >= 180");
    assert_event(&l.v[1], SB_ALERT_WARNING, SB_ALERT_CRITICAL, 191, 190, 2 * S_US,
                 "PS1 high critical: 191 >= 190");
    assert_event(&l.v[2], SB_ALERT_CRITICAL, SB_ALERT_WARNING, 187, 190, 5 * S_US,
                 "PS1 down to warning: 187 < 188 (190 - hysteresis 2)");
    assert_event(&l.v[3], SB_ALERT_WARNING, SB_ALERT_NORMAL, 170, 180, 8 * S_US,
                 "PS1 back to normal: 170 < 178 (180 - hysteresis 2)");
    sb_alerts_free(a);
    log_free(&l);
}

static void alert_straight_to_critical_and_back(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg r = rule("PS1");
    r.high_warning = 180;
    r.high_critical = 190;
    r.hysteresis = 2;
    struct sb_alerts *a = new1(&r, &l);
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 0, 195);
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 1, 100);
    assert_int_equal(l.n, 2);
    assert_event(&l.v[0], SB_ALERT_NORMAL, SB_ALERT_CRITICAL, 195, 190, 0, NULL);
    /* A drop through both levels at once is one transition. */
    assert_event(&l.v[1], SB_ALERT_CRITICAL, SB_ALERT_NORMAL, 100, 190, 1,
                 "PS1 back to normal: 100 < 188 (190 - hysteresis 2)");
    sb_alerts_free(a);
    log_free(&l);
}

static void alert_low_thresholds(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg r = rule("FS1");
    r.low_warning = 10;
    r.low_critical = 5;
    r.hysteresis = 1;
    struct sb_alerts *a = new1(&r, &l);
    const double v[] = {12, 10.5, 9, 4, 5.5, 6, 6.5, 10.5, 11, 11.5};
    for (size_t i = 0; i < SB_ARRAY_SIZE(v); i++)
        sb_alerts_sample(a, sb_alerts_rule(a, "FS1"), (int64_t)i, v[i]);
    assert_int_equal(l.n, 4);
    assert_event(&l.v[0], SB_ALERT_NORMAL, SB_ALERT_WARNING, 9, 10, 2, "FS1 low warning: 9 <= 10");
    assert_event(&l.v[1], SB_ALERT_WARNING, SB_ALERT_CRITICAL, 4, 5, 3, "FS1 low critical: 4 <= 5");
    assert_event(&l.v[2], SB_ALERT_CRITICAL, SB_ALERT_WARNING, 6.5, 5, 6,
                 "FS1 down to warning: 6.5 > 6 (5 + hysteresis 1)");
    assert_event(&l.v[3], SB_ALERT_WARNING, SB_ALERT_NORMAL, 11.5, 10, 9,
                 "FS1 back to normal: 11.5 > 11 (10 + hysteresis 1)");
    sb_alerts_free(a);
    log_free(&l);
}

static void alert_hysteresis_only_on_the_alert_side(void **state)
{
    (void)state;
    /* Hysteresis wider than the normal band: the alert clears by its own
     * side's rule, and a jump to the other side is not a transition. */
    struct log l = {0};
    struct sb_alert_rule_cfg r = rule("X");
    r.low_warning = 10;
    r.high_warning = 20;
    r.hysteresis = 8;
    struct sb_alerts *a = new1(&r, &l);
    sb_alerts_sample(a, sb_alerts_rule(a, "X"), 0, 21); /* high warning */
    sb_alerts_sample(a, sb_alerts_rule(a, "X"), 1, 13); /* stays: >= 12 */
    sb_alerts_sample(a, sb_alerts_rule(a, "X"), 2, 11); /* < 12: clears, though <= 10 + 8 */
    sb_alerts_sample(a, sb_alerts_rule(a, "X"), 3, 9);  /* low warning */
    sb_alerts_sample(a, sb_alerts_rule(a, "X"), 4, 25); /* warning on the other side: no event */
    sb_alerts_sample(a, sb_alerts_rule(a, "X"), 5, 17); /* stays: >= 12 */
    sb_alerts_sample(a, sb_alerts_rule(a, "X"), 6, 11.5);
    assert_int_equal(l.n, 4);
    assert_event(&l.v[0], SB_ALERT_NORMAL, SB_ALERT_WARNING, 21, 20, 0, NULL);
    assert_event(&l.v[1], SB_ALERT_WARNING, SB_ALERT_NORMAL, 11, 20, 2,
                 "X back to normal: 11 < 12 (20 - hysteresis 8)");
    assert_event(&l.v[2], SB_ALERT_NORMAL, SB_ALERT_WARNING, 9, 10, 3, "X low warning: 9 <= 10");
    assert_event(&l.v[3], SB_ALERT_WARNING, SB_ALERT_NORMAL, 11.5, 20, 6, NULL);
    sb_alerts_free(a);
    log_free(&l);
}

static void alert_min_duration(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg r = rule("TS1");
    r.high_warning = 60;
    r.min_duration_us = 5 * S_US;
    struct sb_alerts *a = new1(&r, &l);
    /* A 4-second spike at 1 Hz (t = 10..14): ignored. */
    for (int64_t t = 0; t < 100; t++)
        sb_alerts_sample(a, sb_alerts_rule(a, "TS1"), t * S_US, (t >= 10 && t < 15) ? 70 : 50);
    assert_int_equal(l.n, 0);
    /* Interrupted at t = 203: the wait starts again at 204. */
    for (int64_t t = 200; t < 220; t++)
        sb_alerts_sample(a, sb_alerts_rule(a, "TS1"), t * S_US, t == 203 ? 50 : 70);
    assert_int_equal(l.n, 1);
    assert_event(&l.v[0], SB_ALERT_NORMAL, SB_ALERT_WARNING, 70, 60, 209 * S_US, NULL);
    /* De-escalation is immediate. */
    sb_alerts_sample(a, sb_alerts_rule(a, "TS1"), 220 * S_US, 50);
    assert_int_equal(l.n, 2);
    assert_event(&l.v[1], SB_ALERT_WARNING, SB_ALERT_NORMAL, 50, 60, 220 * S_US, NULL);
    /* Sustained from t = 300: the first sample 5 s later raises it. */
    for (int64_t t = 3000; t < 3100; t++)
        sb_alerts_sample(a, sb_alerts_rule(a, "TS1"), t * 100000, 65);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.v[2].ts_us, 305 * S_US);
    sb_alerts_free(a);
    log_free(&l);
}

static void alert_min_duration_stepwise_escalation(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg r = rule("PS1");
    r.high_warning = 180;
    r.high_critical = 190;
    r.min_duration_us = 5 * S_US;
    struct sb_alerts *a = new1(&r, &l);
    /* Warning from t = 10, critical from t = 12. */
    for (int64_t t = 0; t < 30; t++)
        sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), t * S_US, t < 10 ? 170 : t < 12 ? 185 : 195);
    assert_int_equal(l.n, 2);
    assert_event(&l.v[0], SB_ALERT_NORMAL, SB_ALERT_WARNING, 195, 180, 15 * S_US, NULL);
    assert_event(&l.v[1], SB_ALERT_WARNING, SB_ALERT_CRITICAL, 195, 190, 17 * S_US, NULL);
    /* Sustained critical from normal: one transition, straight up. */
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 40 * S_US, 100);
    for (int64_t t = 50; t < 60; t++)
        sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), t * S_US, 195);
    assert_int_equal(l.n, 4);
    assert_event(&l.v[3], SB_ALERT_NORMAL, SB_ALERT_CRITICAL, 195, 190, 55 * S_US, NULL);
    sb_alerts_free(a);
    log_free(&l);
}

static void alert_partial_thresholds(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg rules[3] = {rule("HC"), rule("LW"), rule("Z")};
    rules[0].high_critical = 90;
    rules[1].low_warning = 3;
    rules[2].zscore = 3;
    struct sb_alerts *a = sb_alerts_new(rules, 3, record, &l);
    assert_non_null(a);
    /* Only a critical threshold: straight from normal to critical. */
    sb_alerts_sample(a, sb_alerts_rule(a, "HC"), 0, 89);
    sb_alerts_sample(a, sb_alerts_rule(a, "HC"), 1, 95);
    sb_alerts_sample(a, sb_alerts_rule(a, "HC"), 2, -1e6);
    /* Only a low warning: high values are normal. */
    sb_alerts_sample(a, sb_alerts_rule(a, "LW"), 0, 1e6);
    sb_alerts_sample(a, sb_alerts_rule(a, "LW"), 1, 2);
    assert_int_equal(l.n, 3);
    assert_event(&l.v[0], SB_ALERT_NORMAL, SB_ALERT_CRITICAL, 95, 90, 1,
                 "HC high critical: 95 >= 90");
    assert_event(&l.v[1], SB_ALERT_CRITICAL, SB_ALERT_NORMAL, -1e6, 90, 2, NULL);
    assert_event(&l.v[2], SB_ALERT_NORMAL, SB_ALERT_WARNING, 2, 3, 1, "LW low warning: 2 <= 3");
    assert_int_equal(sb_alerts_level(a, "LW", "threshold"), SB_ALERT_WARNING);
    assert_int_equal(sb_alerts_level(a, "LW", "zscore"), -1);
    assert_int_equal(sb_alerts_level(a, "Z", "threshold"), -1);
    assert_int_equal(sb_alerts_level(a, "Z", "zscore"), SB_ALERT_NORMAL);
    assert_int_equal(sb_alerts_level(a, "nope", "threshold"), -1);
    assert_int_equal(sb_alerts_level(a, "LW", "other"), -1);
    sb_alerts_free(a);
    log_free(&l);
}

/* Baseline means 100 + d[i]; returns its mean and sample stddev. */
static void feed_baseline(struct sb_alerts *a, const char *sensor, int n, int64_t *end, double *m,
                          double *s)
{
    double sum = 0, ss = 0;
    for (int i = 0; i < n; i++) {
        double x = 100 + ((i % 5) - 2) * 0.1;
        sum += x;
        sb_alerts_window(a, sb_alerts_rule(a, sensor), 60 * S_US, *end, x);
        *end += 60 * S_US;
    }
    *m = sum / n;
    for (int i = 0; i < n; i++) {
        double d = 100 + ((i % 5) - 2) * 0.1 - *m;
        ss += d * d;
    }
    *s = sqrt(ss / (n - 1));
}

static void alert_zscore_on_means(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg r = rule("PS1");
    r.zscore = 3;
    r.zscore_baseline = 10;
    struct sb_alerts *a = new1(&r, &l);
    int64_t end = 60 * S_US;
    double m, s;
    feed_baseline(a, "PS1", 10, &end, &m, &s);
    assert_int_equal(l.n, 0);
    /* Windows of another size do nothing. */
    sb_alerts_window(a, sb_alerts_rule(a, "PS1"), 300 * S_US, end, 1e6);
    assert_int_equal(l.n, 0);
    /* Warning band: between 3 and 6 sd above. */
    double x = m + 4.5 * s;
    sb_alerts_window(a, sb_alerts_rule(a, "PS1"), 60 * S_US, end, x);
    assert_int_equal(l.n, 1);
    assert_event(&l.v[0], SB_ALERT_NORMAL, SB_ALERT_WARNING, x, m + 3 * s, end, NULL);
    assert_string_equal(l.v[0].rule, "zscore");
    assert_non_null(strstr(l.v[0].message, "PS1 zscore warning: window mean "));
    assert_int_equal(sb_alerts_level(a, "PS1", "zscore"), SB_ALERT_WARNING);
    sb_alerts_free(a);

    /* An outlier below: critical, then back to normal. */
    l.n = 0;
    a = new1(&r, &l);
    end = 60 * S_US;
    feed_baseline(a, "PS1", 10, &end, &m, &s);
    sb_alerts_window(a, sb_alerts_rule(a, "PS1"), 60 * S_US, end, 90);
    assert_int_equal(l.n, 1);
    assert_event(&l.v[0], SB_ALERT_NORMAL, SB_ALERT_CRITICAL, 90, m - 6 * s, end, NULL);
    /* The outlier joined the baseline: 100 is now well within it. */
    sb_alerts_window(a, sb_alerts_rule(a, "PS1"), 60 * S_US, end + 60 * S_US, 100);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.v[1].from, SB_ALERT_CRITICAL);
    assert_int_equal(l.v[1].level, SB_ALERT_NORMAL);
    assert_int_equal(l.v[1].ts_us, end + 60 * S_US);
    assert_non_null(strstr(l.v[1].message, "PS1 zscore back to normal: window mean 100 "));
    sb_alerts_free(a);
    log_free(&l);
}

static void alert_zscore_needs_full_baseline(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg r = rule("PS1");
    r.zscore = 2;
    r.zscore_baseline = 5;
    struct sb_alerts *a = new1(&r, &l);
    int64_t end = 0;
    double m, s;
    feed_baseline(a, "PS1", 4, &end, &m, &s);
    /* The fifth window is evaluated against 4: no alert, it joins. */
    sb_alerts_window(a, sb_alerts_rule(a, "PS1"), 60 * S_US, end, 1000);
    assert_int_equal(l.n, 0);
    sb_alerts_free(a);

    /* A flat baseline (s = 0) evaluates nothing either. */
    a = new1(&r, &l);
    for (int i = 0; i < 10; i++)
        sb_alerts_window(a, sb_alerts_rule(a, "PS1"), 60 * S_US, i, 0.1);
    sb_alerts_window(a, sb_alerts_rule(a, "PS1"), 60 * S_US, 10, 0.2);
    assert_int_equal(l.n, 0);
    sb_alerts_free(a);
    log_free(&l);
}

static void alert_zscore_on_values(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg r = rule("PS1");
    r.zscore = 3;
    r.zscore_on = SB_ZSCORE_VALUE;
    struct sb_alerts *a = new1(&r, &l);
    /* Before the baseline: nothing. */
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 0, 1000);
    int64_t end = 60 * S_US;
    double m, s;
    feed_baseline(a, "PS1", 10, &end, &m, &s);
    /* In value mode window means are not evaluated. */
    sb_alerts_window(a, sb_alerts_rule(a, "PS1"), 60 * S_US, end, 1000);
    assert_int_equal(l.n, 0);
    sb_alerts_free(a);

    a = new1(&r, &l);
    end = 60 * S_US;
    feed_baseline(a, "PS1", 10, &end, &m, &s);
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 1000, m + s);
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 2000, m - 3.5 * s);
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 3000, m - 7 * s);
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 4000, m - 5 * s);
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 5000, m + 2 * s);
    assert_int_equal(l.n, 4);
    assert_event(&l.v[0], SB_ALERT_NORMAL, SB_ALERT_WARNING, m - 3.5 * s, m - 3 * s, 2000, NULL);
    assert_non_null(strstr(l.v[0].message, "PS1 zscore warning: value "));
    assert_event(&l.v[1], SB_ALERT_WARNING, SB_ALERT_CRITICAL, m - 7 * s, m - 6 * s, 3000, NULL);
    assert_event(&l.v[2], SB_ALERT_CRITICAL, SB_ALERT_WARNING, m - 5 * s, m - 6 * s, 4000, NULL);
    assert_event(&l.v[3], SB_ALERT_WARNING, SB_ALERT_NORMAL, m + 2 * s, m + 3 * s, 5000, NULL);
    sb_alerts_free(a);
    log_free(&l);
}

static void alert_zscore_min_duration(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg r = rule("PS1");
    r.zscore = 3;
    r.zscore_on = SB_ZSCORE_VALUE;
    r.min_duration_us = 2 * S_US;
    struct sb_alerts *a = new1(&r, &l);
    int64_t end = 0;
    double m, s;
    feed_baseline(a, "PS1", 10, &end, &m, &s);
    for (int64_t t = 0; t < 10; t++)
        sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), t * S_US, (t % 2 == 0) ? m + 10 * s : m);
    assert_int_equal(l.n, 0);
    for (int64_t t = 10; t < 20; t++)
        sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), t * S_US, m + 10 * s);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].level, SB_ALERT_CRITICAL);
    assert_int_equal(l.v[0].ts_us, 12 * S_US);
    sb_alerts_free(a);
    log_free(&l);
}

static void alert_one_callback_per_transition(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg rules[2] = {rule("A"), rule("B")};
    rules[0].low_critical = -50;
    rules[0].low_warning = -20;
    rules[0].high_warning = 20;
    rules[0].high_critical = 50;
    rules[0].hysteresis = 3;
    rules[0].min_duration_us = 3;
    rules[1].high_warning = 0;
    struct sb_alerts *a = sb_alerts_new(rules, 2, record, &l);
    uint64_t x = 12345;
    int level[2] = {0, 0};
    size_t changes = 0;
    for (int64_t t = 0; t < 100000; t++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        double v = (double)(int64_t)(x >> 33) / (1 << 30) * 40 - 60 + (t / 1000 % 2) * 40;
        const char *sensor = (t % 3) ? "A" : "B";
        int i = (t % 3) ? 0 : 1;
        size_t before = l.n;
        sb_alerts_sample(a, sb_alerts_rule(a, sensor), t, v);
        int now = sb_alerts_level(a, sensor, "threshold");
        if (now != level[i]) {
            changes++;
            assert_int_equal(l.n, before + 1);
            assert_string_equal(l.v[l.n - 1].sensor, sensor);
            assert_int_equal(l.v[l.n - 1].from, level[i]);
            assert_int_equal(l.v[l.n - 1].level, now);
            assert_int_equal(l.v[l.n - 1].ts_us, t);
            level[i] = now;
        } else {
            assert_int_equal(l.n, before);
        }
    }
    assert_true(changes > 100);
    assert_int_equal(l.n, changes);
    sb_alerts_free(a);
    log_free(&l);
}

static void alert_ignores_other_sensors_and_nan(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg r = rule("PS1");
    r.high_warning = 1;
    r.zscore = 1;
    r.zscore_baseline = 2;
    struct sb_alerts *a = new1(&r, &l);
    sb_alerts_sample(a, sb_alerts_rule(a, "PS2"), 0, 100);
    sb_alerts_sample(a, sb_alerts_rule(a, "PS"), 0, 100);
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 0, NAN);
    sb_alerts_window(a, sb_alerts_rule(a, "PS2"), 60 * S_US, 0, 100);
    sb_alerts_window(a, sb_alerts_rule(a, "PS1"), 60 * S_US, 0, NAN);
    assert_int_equal(l.n, 0);
    assert_int_equal(sb_alerts_level(a, "PS1", "threshold"), SB_ALERT_NORMAL);
    sb_alerts_free(a);
    sb_alerts_free(NULL);

    /* No rules at all, and no callback. */
    a = sb_alerts_new(NULL, 0, NULL, NULL);
    assert_non_null(a);
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 0, 1);
    assert_int_equal(sb_alerts_level(a, "PS1", "threshold"), -1);
    sb_alerts_free(a);
    struct sb_alerts *quiet = sb_alerts_new(&r, 1, NULL, NULL);
    sb_alerts_sample(quiet, sb_alerts_rule(quiet, "PS1"), 0, 5);
    assert_int_equal(sb_alerts_level(quiet, "PS1", "threshold"), SB_ALERT_WARNING);
    sb_alerts_free(quiet);
    log_free(&l);
}

static void alert_rejects_invalid_rules(void **state)
{
    (void)state;
    int saved = sb_log_level;
    sb_log_level = 0; /* the expected error lines */
    char err[256];
    struct sb_alert_rule_cfg r[2] = {rule("A"), rule("B")};
    assert_int_equal(sb_alerts_validate(r, 2, err, sizeof(err)), 0);

    r[0].high_warning = 10;
    r[0].high_critical = 5;
    assert_int_equal(sb_alerts_validate(r, 2, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "[alert.A] high_warning: must be at most high_critical; thresholds "
                             "must satisfy low_critical <= low_warning < high_warning <= "
                             "high_critical");
    assert_null(sb_alerts_new(r, 2, record, NULL));
    r[0] = rule("A");
    r[0].low_warning = 10;
    r[0].high_warning = 10;
    assert_int_equal(sb_alerts_validate(r, 2, err, sizeof(err)), -EINVAL);
    r[0] = rule("A");
    r[0].high_warning = INFINITY;
    assert_int_equal(sb_alerts_validate(r, 2, err, sizeof(err)), -EINVAL);
    r[0] = rule("A");
    r[0].hysteresis = -1;
    assert_int_equal(sb_alerts_validate(r, 2, err, sizeof(err)), -EINVAL);
    r[0] = rule("A");
    r[0].min_duration_us = -1;
    assert_int_equal(sb_alerts_validate(r, 2, err, sizeof(err)), -EINVAL);
    r[0] = rule("A");
    r[0].zscore = 0;
    assert_int_equal(sb_alerts_validate(r, 2, err, sizeof(err)), -EINVAL);
    r[0].zscore = 3;
    r[0].zscore_baseline = 1;
    assert_int_equal(sb_alerts_validate(r, 2, err, sizeof(err)), -EINVAL);
    r[0].zscore_baseline = 1001;
    assert_int_equal(sb_alerts_validate(r, 2, err, sizeof(err)), -EINVAL);
    r[0].zscore_baseline = 1000;
    r[0].zscore_window_us = 0;
    assert_int_equal(sb_alerts_validate(r, 2, err, sizeof(err)), -EINVAL);
    r[0] = rule("A");
    r[1] = rule("A");
    assert_int_equal(sb_alerts_validate(r, 2, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "[alert.A]: more than one rule for the sensor");
    r[1] = rule("");
    assert_int_equal(sb_alerts_validate(r, 2, err, sizeof(err)), -EINVAL);
    assert_int_equal(sb_alerts_validate(r, SB_MAX_ALERT_RULES + 1, err, sizeof(err)), -EINVAL);
    sb_log_level = saved;
}

static void alert_level_names(void **state)
{
    (void)state;
    assert_string_equal(sb_alert_level_name(SB_ALERT_NORMAL), "normal");
    assert_string_equal(sb_alert_level_name(SB_ALERT_WARNING), "warning");
    assert_string_equal(sb_alert_level_name(SB_ALERT_CRITICAL), "critical");
}

static void alert_many_rules_found(void **state)
{
    (void)state;
    struct log l = {0};
    struct sb_alert_rule_cfg *r = sb_xcalloc(SB_MAX_ALERT_RULES, sizeof(*r));
    char(*names)[16] = sb_xcalloc(SB_MAX_ALERT_RULES, sizeof(*names));
    for (int i = 0; i < SB_MAX_ALERT_RULES; i++) {
        snprintf(names[i], sizeof(names[i]), "S%d", i);
        r[i] = rule(names[i]);
        r[i].high_warning = i;
    }
    struct sb_alerts *a = sb_alerts_new(r, SB_MAX_ALERT_RULES, record, &l);
    assert_non_null(a);
    /* The rule index is the rule's place in the configuration. */
    for (int i = 0; i < SB_MAX_ALERT_RULES; i++)
        assert_int_equal(sb_alerts_rule(a, names[i]), i);
    assert_int_equal(sb_alerts_rule(a, "S"), -1);
    for (int i = 0; i < SB_MAX_ALERT_RULES; i++)
        sb_alerts_sample(a, sb_alerts_rule(a, names[i]), i, i + 0.5);
    assert_int_equal(l.n, SB_MAX_ALERT_RULES);
    for (int i = 0; i < SB_MAX_ALERT_RULES; i++) {
        assert_string_equal(l.v[i].sensor, names[i]);
        assert_true(l.v[i].threshold == i);
    }
    sb_alerts_free(a);
    free(names);
    free(r);
    log_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alert_hover_gives_one_warning),
        cmocka_unit_test(alert_without_hysteresis_clears_below_threshold),
        cmocka_unit_test(alert_critical_escalation_stepwise_deescalation),
        cmocka_unit_test(alert_straight_to_critical_and_back),
        cmocka_unit_test(alert_low_thresholds),
        cmocka_unit_test(alert_hysteresis_only_on_the_alert_side),
        cmocka_unit_test(alert_min_duration),
        cmocka_unit_test(alert_min_duration_stepwise_escalation),
        cmocka_unit_test(alert_partial_thresholds),
        cmocka_unit_test(alert_zscore_on_means),
        cmocka_unit_test(alert_zscore_needs_full_baseline),
        cmocka_unit_test(alert_zscore_on_values),
        cmocka_unit_test(alert_zscore_min_duration),
        cmocka_unit_test(alert_one_callback_per_transition),
        cmocka_unit_test(alert_ignores_other_sensors_and_nan),
        cmocka_unit_test(alert_rejects_invalid_rules),
        cmocka_unit_test(alert_level_names),
        cmocka_unit_test(alert_many_rules_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
