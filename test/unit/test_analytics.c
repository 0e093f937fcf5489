/* test_analytics.c - forgetting a sensor: the window and alert engines, and
 * the analytics' series, published documents and history. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sensorbridge/alert.h"
#include "sensorbridge/analytics.h"
#include "sensorbridge/config.h"
#include "sensorbridge/log.h"
#include "sensorbridge/registry.h"
#include "sensorbridge/sensortab.h"
#include "sensorbridge/window.h"

#define S_US INT64_C(1000000)

/* ---- helpers ---- */

static struct sb_alert_rule_cfg rule(const char *sensor)
{
    struct sb_alert_rule_cfg r = {
        .sensor = sb_xstrdup(sensor),
        .low_critical = NAN,
        .low_warning = NAN,
        .high_warning = NAN,
        .high_critical = NAN,
        .hysteresis = 0,
        .min_duration_us = 0,
        .zscore = NAN,
        .zscore_baseline = 10,
        .zscore_window_us = 10 * S_US,
        .zscore_on = SB_ZSCORE_MEAN,
    };
    return r;
}

/* Defaults, one window size of 10 s with no lateness, and the rules
 * (taken over: sb_config_free frees them). */
static void config(struct sb_config *c, struct sb_alert_rule_cfg *rules, size_t n)
{
    sb_config_defaults(c);
    c->windows_enabled = true;
    c->window_sizes_us[0] = 10 * S_US;
    c->nwindow_sizes = 1;
    c->watermark_us = 0;
    c->max_open_windows = 4;
    c->alerts_enabled = true;
    c->recent_alerts = 100;
    c->nalert_rules = n;
    c->alert_rules = calloc(n ? n : 1, sizeof(*rules));
    assert_non_null(c->alert_rules);
    if (n)
        memcpy(c->alert_rules, rules, n * sizeof(*rules));
}

/* Everything the analytics published, one "kind key json" line each. */
struct published {
    struct sb_buf all;
    size_t n;
};

static void on_publish(void *ud, enum sb_publish_kind kind, const char *key, const char *json,
                       size_t len, int64_t ts_us)
{
    (void)ts_us;
    struct published *p = ud;
    sb_buf_printf(&p->all, "%s %s %.*s\n", kind == SB_PUBLISH_ALERT ? "alert" : "aggregate", key,
                  (int)len, json);
    p->n++;
}

/* The records the analytics get from the ingest in the daemon; one table
 * per fixture (fixture_start, fixture_free). */
static struct sb_sensortab *records;

static void asample(struct sb_analytics *a, const struct sb_decoded *d, int64_t now_us,
                    const struct sb_window_run *run)
{
    struct sb_sensor *rec = sb_sensortab_get(records, d->sensor);
    assert_non_null(rec);
    sb_analytics_sample(a, rec, d, now_us, run);
}

/* As the ingest's removal does: the analytics forget the record, and the
 * record goes (a name never seen gets a record just for this). */
static void aforget(struct sb_analytics *a, const char *sensor, enum sb_partial_reason why)
{
    struct sb_sensor *rec = sb_sensortab_get(records, sensor);
    assert_non_null(rec);
    sb_analytics_forget(a, rec, why);
    assert_null(rec->windows);
    sb_sensortab_remove(records, rec);
}

static void feed(struct sb_analytics *a, const char *sensor, int64_t ts_us, double v)
{
    struct sb_decoded d = {.value = v, .ts_us = ts_us, .rate_hz = 1};
    snprintf(d.sensor, sizeof(d.sensor), "%s", sensor);
    /* A live sensor: the wall clock is at its event time. */
    asample(a, &d, ts_us, NULL);
}

static char *expose(struct sb_registry *r, struct sb_buf *b)
{
    sb_buf_reset(b);
    sb_registry_expose(r, b);
    return b->data;
}

/* The sample lines of /metrics that mention `sensor`, in order. */
static char *series_of(struct sb_registry *r, const char *sensor, struct sb_buf *out)
{
    struct sb_buf all;
    sb_buf_init(&all);
    sb_registry_expose(r, &all);
    char needle[96];
    snprintf(needle, sizeof(needle), "sensor=\"%s\"", sensor);
    sb_buf_reset(out);
    sb_buf_puts(out, "");
    for (char *p = all.data; p && *p;) {
        char *end = strchr(p, '\n');
        size_t len = (size_t)(end - p) + 1;
        char *hit = strstr(p, needle);
        if (p[0] != '#' && hit && hit < end)
            sb_buf_append(out, p, len);
        p += len;
    }
    sb_buf_free(&all);
    return out->data;
}

static size_t count_of(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- the window engine ---- */

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1Dull;
}

/* Random samples and forgets against a model, with more names than the
 * sensortab holds, as the ingest and the analytics use them: a forgotten
 * sensor's windows go with sb_windows_forget and its record with
 * sb_sensortab_remove. Every held sensor has one sample at 100 s, so a
 * sample at 0 s is late for it; a survivor the table lost would come back
 * fresh and accept it. Each held sensor has exactly one open window. */
static void window_forget_table_stays_correct(void **state)
{
    (void)state;
    enum { NAMES = 9000, MAX = 4096 };
    const int64_t sizes[] = {10 * S_US};
    struct sb_windows *w = sb_windows_new(sizes, 1, 0, 4, NULL, NULL);
    struct sb_sensortab *t = sb_sensortab_new(MAX);
    bool *held = calloc(NAMES, sizeof(*held));
    assert_non_null(held);
    size_t nheld = 0, full = 0;
    uint64_t rnd = 42;
    char name[32];
    for (int step = 0; step < 100000; step++) {
        uint64_t x = next_rand(&rnd);
        int i = (int)((x >> 20) % NAMES);
        snprintf(name, sizeof(name), "s%d", i);
        struct sb_sensor *rec = sb_sensortab_find(t, name);
        assert_int_equal(rec != NULL, held[i]);
        if (x % 4 == 0) {
            if (rec) {
                assert_true(sb_windows_forget(w, rec));
                sb_sensortab_remove(t, rec);
                nheld--;
            }
            held[i] = false;
        } else if (held[i]) {
            assert_int_equal(sb_windows_add(w, rec, 0, 1, NULL), SB_WINDOW_LATE);
        } else if (nheld == MAX) {
            assert_null(sb_sensortab_get(t, name));
            full++;
        } else {
            rec = sb_sensortab_get(t, name);
            assert_non_null(rec);
            assert_int_equal(sb_windows_add(w, rec, 100 * S_US, 1, NULL), SB_WINDOW_ACCEPTED);
            held[i] = true;
            nheld++;
        }
        assert_int_equal(sb_windows_open_count(w), nheld);
        assert_int_equal(sb_sensortab_count(t), nheld);
    }
    /* The table was at its bound for a good part of the run. */
    assert_true(full > 1000);
    free(held);
    sb_windows_free(w);
    sb_sensortab_free(t);
}

/* ---- the alert engine ---- */

struct transitions {
    int n;
    enum sb_alert_level from, level;
    int64_t ts_us;
};

static void on_alert(void *ud, const struct sb_alert_event *e)
{
    struct transitions *t = ud;
    t->n++;
    t->from = e->from;
    t->level = e->level;
    t->ts_us = e->ts_us;
}

static void alerts_forget_resets_state(void **state)
{
    (void)state;
    struct sb_alert_rule_cfg rules[2] = {rule("PS1"), rule("TS1")};
    rules[0].high_warning = 180;
    rules[1].high_warning = 50;
    rules[1].min_duration_us = 5 * S_US;
    struct transitions t = {.n = 0};
    struct sb_alerts *a = sb_alerts_new(rules, 2, on_alert, &t);
    assert_non_null(a);
    free(rules[0].sensor);
    free(rules[1].sensor);
    assert_int_equal(sb_alerts_rule(a, "PS1"), 0);
    assert_int_equal(sb_alerts_rule(a, "TS1"), 1);
    assert_int_equal(sb_alerts_rule(a, "FS1"), -1);
    sb_alerts_sample(a, 0, 0, 181);
    sb_alerts_sample(a, 1, 0, NAN);
    sb_alerts_sample(a, -1, 0, 1);
    assert_int_equal(t.n, 1);
    assert_int_equal(sb_alerts_level(a, "PS1", "threshold"), SB_ALERT_WARNING);

    /* An active alert is dropped without a transition. */
    sb_log_level = SB_LOG_ERR;
    assert_int_equal(sb_alerts_forget(a, "PS1"), 0);
    assert_int_equal(t.n, 1);
    assert_int_equal(sb_alerts_level(a, "PS1", "threshold"), SB_ALERT_NORMAL);
    /* Seen again above the threshold: raised again, from normal. */
    sb_alerts_sample(a, sb_alerts_rule(a, "PS1"), 10 * S_US, 181);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.from, SB_ALERT_NORMAL);
    assert_int_equal(t.level, SB_ALERT_WARNING);

    /* A pending escalation (min_duration 5 s since t = 0) starts over. */
    for (int s = 0; s < 4; s++)
        sb_alerts_sample(a, sb_alerts_rule(a, "TS1"), s * S_US, 55);
    assert_int_equal(sb_alerts_forget(a, "TS1"), 1);
    sb_alerts_sample(a, sb_alerts_rule(a, "TS1"), 5 * S_US, 55); /* would have escalated */
    assert_int_equal(t.n, 2);
    sb_alerts_sample(a, sb_alerts_rule(a, "TS1"), 9 * S_US, 55);
    assert_int_equal(t.n, 2);
    sb_alerts_sample(a, sb_alerts_rule(a, "TS1"), 10 * S_US, 55);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.ts_us, 10 * S_US);

    assert_int_equal(sb_alerts_forget(a, "FS1"), -1);
    sb_log_level = SB_LOG_WARNING;
    sb_alerts_free(a);
}

/* ---- the analytics ---- */

struct fixture {
    struct sb_config cfg;
    struct sb_registry *reg;
    struct sb_analytics *a;
    struct published pub;
    struct sb_buf b;
};

/* The analytics of f->cfg. */
static void fixture_start(struct fixture *f)
{
    f->reg = sb_registry_new();
    sb_buf_init(&f->pub.all);
    f->pub.n = 0;
    sb_buf_init(&f->b);
    char err[256];
    f->a = sb_analytics_new(&f->cfg, f->reg, on_publish, &f->pub, err, sizeof(err));
    assert_non_null(f->a);
    records = sb_sensortab_new((size_t)f->cfg.max_sensors);
}

static void fixture_new(struct fixture *f, struct sb_alert_rule_cfg *rules, size_t n)
{
    config(&f->cfg, rules, n);
    fixture_start(f);
}

static void fixture_free(struct fixture *f)
{
    sb_analytics_free(f->a);
    sb_sensortab_free(records);
    records = NULL;
    sb_registry_free(f->reg);
    sb_config_free(&f->cfg);
    sb_buf_free(&f->pub.all);
    sb_buf_free(&f->b);
}

static void analytics_forget_removes_sensor_series(void **state)
{
    (void)state;
    struct sb_alert_rule_cfg rules[2] = {rule("TS1"), rule("PS1")};
    rules[0].high_warning = 50;
    rules[1].high_warning = 200;
    struct fixture f;
    fixture_new(&f, rules, 2);
    sb_log_level = SB_LOG_ERR; /* alert and "dropped" lines */

    /* No sensor seen yet: no per-sensor series, not even alert levels. */
    char *t = expose(f.reg, &f.b);
    assert_null(strstr(t, "sensor=\""));

    for (int s = 0; s < 10; s++)
        feed(f.a, "TS1", s * S_US, 40 + s);
    feed(f.a, "TS1", 10 * S_US, 55); /* closes [0,10), raises a warning */
    feed(f.a, "TS1", 3 * S_US, 51);  /* late (and still a warning) */
    feed(f.a, "PS1", 20 * S_US, 150);
    feed(f.a, "PS1", 30 * S_US, 160); /* closes [20,30) */
    feed(f.a, "PS1", 5 * S_US, 1);    /* late */
    assert_string_equal(
        series_of(f.reg, "TS1", &f.b),
        "sensorbridge_alert_level{sensor=\"TS1\",rule=\"threshold\"} 1\n"
        "sensorbridge_alerts_total{sensor=\"TS1\",level=\"warning\"} 1\n"
        "sensorbridge_window_end_timestamp_seconds{sensor=\"TS1\",window=\"10s\"} 10\n"
        "sensorbridge_window_late_samples_total{sensor=\"TS1\"} 1\n"
        "sensorbridge_window_max{sensor=\"TS1\",window=\"10s\"} 49\n"
        "sensorbridge_window_mean{sensor=\"TS1\",window=\"10s\"} 44.5\n"
        "sensorbridge_window_min{sensor=\"TS1\",window=\"10s\"} 40\n"
        "sensorbridge_window_samples{sensor=\"TS1\",window=\"10s\"} 10\n"
        "sensorbridge_window_stddev{sensor=\"TS1\",window=\"10s\"} 2.8722813232690143\n");
    char ps1_before[2048];
    snprintf(ps1_before, sizeof(ps1_before), "%s", series_of(f.reg, "PS1", &f.b));
    assert_non_null(strstr(ps1_before, "sensorbridge_window_mean{sensor=\"PS1\",window=\"10s\"} "
                                       "150\n"));
    assert_non_null(strstr(ps1_before, "sensorbridge_alert_level{sensor=\"PS1\","
                                       "rule=\"threshold\"} 0\n"));
    size_t published = f.pub.n;
    assert_int_equal(published, 3); /* two aggregates, one alert */
    sb_buf_reset(&f.b);
    sb_analytics_windows_json(f.a, &f.b);
    assert_non_null(strstr(f.b.data, "],\"open\":2}\n"));

    size_t mark = f.pub.all.len;
    aforget(f.a, "TS1", SB_PARTIAL_REVOKED);
    /* Nothing of TS1 left on /metrics; PS1 exactly as it was. */
    assert_string_equal(series_of(f.reg, "TS1", &f.b), "");
    assert_string_equal(series_of(f.reg, "PS1", &f.b), ps1_before);
    t = expose(f.reg, &f.b);
    assert_non_null(strstr(t, "\nsensorbridge_windows_closed_total{window=\"10s\"} 3\n"));
    assert_non_null(strstr(t, "\nsensorbridge_windows_partial_total{window=\"10s\","
                              "reason=\"revoked\"} 1\n"));
    /* No "back to normal" for the dropped alert; the open window [10,20)
     * is published, partial. */
    assert_int_equal(f.pub.n, published + 1);
    assert_string_equal(f.pub.all.data + mark,
                        "aggregate TS1 {\"sensor\":\"TS1\",\"window_seconds\":10,"
                        "\"window_start\":\"1970-01-01T00:00:10.000000Z\","
                        "\"window_end\":\"1970-01-01T00:00:20.000000Z\",\"count\":1,\"sum\":55,"
                        "\"min\":55,\"max\":55,\"mean\":55,\"stddev\":0,"
                        "\"first_event\":\"1970-01-01T00:00:10.000000Z\","
                        "\"last_event\":\"1970-01-01T00:00:10.000000Z\",\"forced\":false,"
                        "\"complete\":false,\"partial_reason\":\"revoked\"}\n");
    /* History stays: the alert and the last closed window, now that one. */
    sb_buf_reset(&f.b);
    sb_analytics_alerts_json(f.a, &f.b);
    assert_int_equal(count_of(f.b.data, "\"sensor\":\"TS1\""), 1);
    sb_buf_reset(&f.b);
    sb_analytics_windows_json(f.a, &f.b);
    assert_non_null(strstr(f.b.data, "{\"sensor\":\"TS1\",\"window_seconds\":10,"
                                     "\"window_start\":\"1970-01-01T00:00:10.000000Z\","));
    assert_non_null(strstr(f.b.data, "\"complete\":false,\"partial_reason\":\"revoked\"}"));
    assert_non_null(strstr(f.b.data, "],\"open\":1}\n"));
    /* Forgetting twice, or a sensor never seen, changes nothing. */
    aforget(f.a, "TS1", SB_PARTIAL_REVOKED);
    aforget(f.a, "never-seen", SB_PARTIAL_REVOKED);
    assert_string_equal(series_of(f.reg, "PS1", &f.b), ps1_before);

    /* Seen again: a fresh start. t = 2 s was late before the forget. */
    mark = f.pub.all.len;
    feed(f.a, "TS1", 2 * S_US, 45);
    assert_string_equal(series_of(f.reg, "TS1", &f.b),
                        "sensorbridge_alert_level{sensor=\"TS1\",rule=\"threshold\"} 0\n");
    feed(f.a, "TS1", 4 * S_US, 47);
    feed(f.a, "TS1", 10 * S_US, 60); /* closes the new [0,10); warning from normal */
    assert_int_equal(f.pub.n, published + 3);
    const char *news = f.pub.all.data + mark;
    assert_non_null(strstr(news, "aggregate TS1 {\"sensor\":\"TS1\",\"window_seconds\":10,"
                                 "\"window_start\":\"1970-01-01T00:00:00.000000Z\","
                                 "\"window_end\":\"1970-01-01T00:00:10.000000Z\",\"count\":2,"
                                 "\"sum\":92,\"min\":45,\"max\":47,\"mean\":46,\"stddev\":1,"));
    assert_non_null(strstr(news, "alert TS1 {\"timestamp\":\"1970-01-01T00:00:10.000000Z\","
                                 "\"sensor\":\"TS1\",\"rule\":\"threshold\",\"level\":\"warning\","
                                 "\"previous_level\":\"normal\",\"value\":60,"));
    assert_string_equal(
        series_of(f.reg, "TS1", &f.b),
        "sensorbridge_alert_level{sensor=\"TS1\",rule=\"threshold\"} 1\n"
        "sensorbridge_alerts_total{sensor=\"TS1\",level=\"warning\"} 1\n"
        "sensorbridge_window_end_timestamp_seconds{sensor=\"TS1\",window=\"10s\"} 10\n"
        "sensorbridge_window_max{sensor=\"TS1\",window=\"10s\"} 47\n"
        "sensorbridge_window_mean{sensor=\"TS1\",window=\"10s\"} 46\n"
        "sensorbridge_window_min{sensor=\"TS1\",window=\"10s\"} 45\n"
        "sensorbridge_window_samples{sensor=\"TS1\",window=\"10s\"} 2\n"
        "sensorbridge_window_stddev{sensor=\"TS1\",window=\"10s\"} 1\n");
    /* The history has both alerts, newest first. */
    sb_buf_reset(&f.b);
    sb_analytics_alerts_json(f.a, &f.b);
    assert_int_equal(count_of(f.b.data, "\"sensor\":\"TS1\""), 2);
    sb_log_level = SB_LOG_WARNING;
    fixture_free(&f);
}

/* One sample per window: value v in [10k, 10k + 10). */
static void feed_window(struct sb_analytics *a, const char *sensor, int k, double v)
{
    feed(a, sensor, k * 10 * S_US, v);
}

static void analytics_forget_empties_zscore_baseline(void **state)
{
    (void)state;
    for (int forget = 0; forget <= 1; forget++) {
        struct sb_alert_rule_cfg rules[1] = {rule("PS1")};
        rules[0].zscore = 1;
        rules[0].zscore_baseline = 2;
        struct fixture f;
        fixture_new(&f, rules, 1);
        sb_log_level = SB_LOG_ERR;
        feed_window(f.a, "PS1", 0, 10);
        feed_window(f.a, "PS1", 1, 12);
        feed_window(f.a, "PS1", 2, 100); /* baseline 10, 12: mean 11, sd sqrt(2) */
        if (forget) {
            aforget(f.a, "PS1", SB_PARTIAL_REVOKED);
            feed_window(f.a, "PS1", 2, 100);
        }
        feed_window(f.a, "PS1", 3, 200); /* closes the window of mean 100 */
        feed_window(f.a, "PS1", 4, 0);   /* and of 200 */
        /* |100 - 11| > 2 sd: critical (and 200 against 12, 100 stays so),
         * unless the baseline went with the sensor: then 100 finds it empty
         * and 200 finds one window, and nothing is evaluated. (A baseline
         * of 100 and a stale 0 would make 200 critical.) */
        sb_buf_reset(&f.b);
        sb_analytics_alerts_json(f.a, &f.b);
        assert_int_equal(count_of(f.b.data, "\"level\":\"critical\""), forget ? 0 : 1);
        assert_non_null(
            strstr(series_of(f.reg, "PS1", &f.b),
                   forget ? "sensorbridge_alert_level{sensor=\"PS1\",rule=\"zscore\"} 0\n"
                          : "sensorbridge_alert_level{sensor=\"PS1\",rule=\"zscore\"} 2\n"));
        sb_log_level = SB_LOG_WARNING;
        fixture_free(&f);
    }
}

/* A reload that rebuilds the rules resets the levels of the sensors held,
 * and still exports none for sensors not held. */
static void analytics_reload_keeps_only_held_levels(void **state)
{
    (void)state;
    struct sb_alert_rule_cfg rules[2] = {rule("TS1"), rule("PS1")};
    rules[0].high_warning = 50;
    rules[1].high_warning = 200;
    struct fixture f;
    fixture_new(&f, rules, 2);
    sb_log_level = SB_LOG_ERR;
    feed(f.a, "TS1", 0, 55);
    feed(f.a, "PS1", 0, 1);
    aforget(f.a, "PS1", SB_PARTIAL_REVOKED);

    struct sb_alert_rule_cfg next[3] = {rule("PS1"), rule("TS1"), rule("FS1")};
    next[0].high_warning = 200;
    next[1].high_warning = 60; /* changed: the engine is rebuilt */
    next[2].high_warning = 10;
    struct sb_config cfg2;
    config(&cfg2, next, 3);
    char err[256];
    assert_int_equal(sb_analytics_set_rules(f.a, &cfg2, err, sizeof(err)), 0);
    char *t = expose(f.reg, &f.b);
    assert_int_equal(count_of(t, "\nsensorbridge_alert_level{"), 1);
    assert_non_null(strstr(t, "\nsensorbridge_alert_level{sensor=\"TS1\",rule=\"threshold\"} 0\n"));
    feed(f.a, "FS1", 0, 1);
    t = expose(f.reg, &f.b);
    assert_int_equal(count_of(t, "\nsensorbridge_alert_level{"), 2);
    assert_non_null(strstr(t, "\nsensorbridge_alert_level{sensor=\"FS1\",rule=\"threshold\"} 0\n"));
    /* The held TS1 carries on under the new rule. */
    feed(f.a, "TS1", 1, 61);
    t = expose(f.reg, &f.b);
    assert_non_null(strstr(t, "\nsensorbridge_alert_level{sensor=\"TS1\",rule=\"threshold\"} 1\n"));
    sb_config_free(&cfg2);
    sb_log_level = SB_LOG_WARNING;
    fixture_free(&f);
}

/* Group of sensor i of the first batch: a (1/4, held, window [0,10)),
 * b (3/8, forgotten, [10,20)) or c (3/8, forgotten, [20,30)). */
static char group(int i)
{
    return i % 8 < 2 ? 'a' : i % 8 < 5 ? 'b' : 'c';
}

/* /api/v1/windows keeps forgotten sensors' last windows, but no more than
 * [consumer] max_sensors per size: new ones replace the forgotten entries
 * whose windows ended first, never those of sensors still held. */
/* [windows] max_ahead (1 h by default): a jump past both the newest event
 * time and the wall clock is counted and kept out of windows and alerts. */
static void analytics_future_jump_is_kept_out(void **state)
{
    (void)state;
    struct sb_alert_rule_cfg rules[1] = {rule("TS1")};
    rules[0].high_warning = 50;
    struct fixture f;
    fixture_new(&f, rules, 1);
    sb_log_level = SB_LOG_ERR;
    const int64_t now = 1000 * S_US; /* the wall clock, ahead of these event times */
    const int64_t hour = 3600 * S_US;
    struct sb_decoded d = {.rate_hz = 1};
    snprintf(d.sensor, sizeof(d.sensor), "TS1");
    for (int s = 0; s < 10; s++) {
        d.ts_us = s * S_US;
        d.value = 40;
        asample(f.a, &d, now, NULL);
    }
    /* 9999-12-31 and the wall clock plus an hour and a microsecond: both
     * out, neither closes [0,10) nor raises the alert their value would. */
    d.value = 99;
    d.ts_us = INT64_C(253402214400) * S_US;
    asample(f.a, &d, now, NULL);
    d.ts_us = now + hour + 1;
    asample(f.a, &d, now, NULL);
    char *t = expose(f.reg, &f.b);
    assert_non_null(strstr(t, "sensorbridge_window_future_samples_total{sensor=\"TS1\"} 2\n"));
    assert_null(strstr(t, "sensorbridge_window_samples{sensor=\"TS1\""));
    assert_non_null(strstr(t, "sensorbridge_alert_level{sensor=\"TS1\",rule=\"threshold\"} 0\n"));
    /* Exactly an hour ahead of the wall clock is allowed, and moves the
     * newest event time: an hour past that is allowed too. */
    snprintf(d.sensor, sizeof(d.sensor), "PS1");
    d.value = 1;
    d.ts_us = now + hour;
    asample(f.a, &d, now, NULL);
    d.ts_us = now + 2 * hour;
    asample(f.a, &d, now, NULL);
    t = expose(f.reg, &f.b);
    assert_null(strstr(t, "sensorbridge_window_future_samples_total{sensor=\"PS1\"}"));
    /* TS1 goes on where it was: its window closes with its 10 samples and
     * nothing is late. */
    snprintf(d.sensor, sizeof(d.sensor), "TS1");
    d.value = 40;
    d.ts_us = 10 * S_US;
    asample(f.a, &d, now, NULL);
    t = expose(f.reg, &f.b);
    assert_non_null(strstr(t, "sensorbridge_window_samples{sensor=\"TS1\",window=\"10s\"} 10\n"));
    assert_null(strstr(t, "sensorbridge_window_late_samples_total{sensor=\"TS1\"}"));
    /* Forgetting the sensor removes its count too. */
    aforget(f.a, "TS1", SB_PARTIAL_REVOKED);
    t = expose(f.reg, &f.b);
    assert_null(strstr(t, "sensorbridge_window_future_samples_total{sensor=\"TS1\"}"));
    fixture_free(&f);
}

static void analytics_windows_history_bounded(void **state)
{
    (void)state;
    enum { N = 4096, NA = N / 4, NB = 3 * N / 8, NC = 3 * N / 8, ND = NB };
    struct fixture f;
    config(&f.cfg, NULL, 0);
    f.cfg.max_sensors = N;
    fixture_start(&f);
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "%c%d", group(i), i);
        int k = group(i) - 'a';
        feed_window(f.a, name, k, 1);
        feed_window(f.a, name, k + 1, 1);
    }
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "%c%d", group(i), i);
        if (group(i) != 'a')
            aforget(f.a, name, SB_PARTIAL_REVOKED);
    }
    sb_buf_reset(&f.b);
    sb_analytics_windows_json(f.a, &f.b);
    assert_int_equal(count_of(f.b.data, "{\"sensor\":"), N);
    assert_non_null(strstr(f.b.data, "],\"open\":1024}\n"));
    /* New sensors, as many as b: the bound is reached, and the b entries
     * (forgotten, ended first) make room; the a ones ended even earlier
     * but are held. */
    for (int i = 0; i < ND; i++) {
        snprintf(name, sizeof(name), "d%d", i);
        feed_window(f.a, name, 5, 1);
        feed_window(f.a, name, 6, 1);
    }
    sb_buf_reset(&f.b);
    sb_analytics_windows_json(f.a, &f.b);
    assert_int_equal(count_of(f.b.data, "{\"sensor\":"), N);
    assert_int_equal(count_of(f.b.data, "{\"sensor\":\"a"), NA);
    assert_int_equal(count_of(f.b.data, "{\"sensor\":\"b"), 0);
    assert_int_equal(count_of(f.b.data, "{\"sensor\":\"c"), NC);
    assert_int_equal(count_of(f.b.data, "{\"sensor\":\"d"), ND);
    /* A forgotten sensor seen again reuses its entry. */
    feed_window(f.a, "c5", 7, 5);
    feed_window(f.a, "c5", 8, 5);
    sb_buf_reset(&f.b);
    sb_analytics_windows_json(f.a, &f.b);
    assert_int_equal(count_of(f.b.data, "{\"sensor\":"), N);
    assert_int_equal(count_of(f.b.data, "{\"sensor\":\"c5\","), 1);
    assert_non_null(strstr(f.b.data, "{\"sensor\":\"c5\",\"window_seconds\":10,"
                                     "\"window_start\":\"1970-01-01T00:01:10.000000Z\""));
    fixture_free(&f);
}

/* A partial window is published as such and counted, but sets no gauge
 * and stays out of the z-score baseline; complete ones do both. */
static void analytics_partial_windows_kept_out(void **state)
{
    (void)state;
    struct sb_alert_rule_cfg rules[1] = {rule("PS1")};
    rules[0].zscore = 1;
    rules[0].zscore_baseline = 2;
    struct fixture f;
    fixture_new(&f, rules, 1);
    sb_log_level = SB_LOG_ERR;
    char *t = expose(f.reg, &f.b);
    /* Every reason is there from the start, at 0. */
    assert_non_null(
        strstr(t, "# TYPE sensorbridge_windows_partial_total counter\n"
                  "sensorbridge_windows_partial_total{window=\"10s\",reason=\"expired\"} 0\n"
                  "sensorbridge_windows_partial_total{window=\"10s\",reason=\"forced\"} 0\n"
                  "sensorbridge_windows_partial_total{window=\"10s\",reason=\"resumed\"} 0\n"
                  "sensorbridge_windows_partial_total{window=\"10s\",reason=\"revoked\"} 0\n"
                  "sensorbridge_windows_partial_total{window=\"10s\",reason=\"stopped\"} 0\n"));
    /* Picked up mid-stream at 5 s: [0,10) may lack samples before 5 s. */
    const struct sb_window_run run = {1, false};
    const double v[] = {10, 12, 100, 50, 1000, 0};
    struct sb_decoded d = {.rate_hz = 1};
    snprintf(d.sensor, sizeof(d.sensor), "PS1");
    d.ts_us = 5 * S_US;
    d.value = v[0];
    asample(f.a, &d, d.ts_us, &run);
    d.ts_us = 10 * S_US;
    d.value = v[1];
    asample(f.a, &d, d.ts_us, &run);
    assert_int_equal(f.pub.n, 1);
    assert_non_null(strstr(f.pub.all.data,
                           "aggregate PS1 {\"sensor\":\"PS1\",\"window_seconds\":10,"
                           "\"window_start\":\"1970-01-01T00:00:00.000000Z\","
                           "\"window_end\":\"1970-01-01T00:00:10.000000Z\","
                           "\"count\":1,\"sum\":10,"));
    assert_non_null(strstr(
        f.pub.all.data, ",\"forced\":false,\"complete\":false,\"partial_reason\":\"resumed\"}\n"));
    t = expose(f.reg, &f.b);
    assert_non_null(
        strstr(t, "\nsensorbridge_windows_partial_total{window=\"10s\",reason=\"resumed\"} 1\n"));
    assert_non_null(strstr(t, "\nsensorbridge_windows_closed_total{window=\"10s\"} 1\n"));
    assert_null(strstr(t, "sensorbridge_window_mean{"));
    assert_null(strstr(t, "sensorbridge_window_samples{"));
    sb_buf_reset(&f.b);
    sb_analytics_windows_json(f.a, &f.b);
    assert_non_null(strstr(f.b.data, "\"count\":1,"));
    assert_non_null(strstr(f.b.data, "\"complete\":false,\"partial_reason\":\"resumed\"}"));
    /* One window per 10 s from here: means 12, 100, 50, 1000. */
    for (int k = 2; k < 6; k++) {
        d.ts_us = k * 10 * S_US;
        d.value = v[k];
        asample(f.a, &d, d.ts_us, &run);
    }
    t = expose(f.reg, &f.b);
    assert_non_null(strstr(t, "\nsensorbridge_window_mean{sensor=\"PS1\",window=\"10s\"} 1000\n"));
    assert_non_null(strstr(t, "\nsensorbridge_windows_closed_total{window=\"10s\"} 5\n"));
    assert_non_null(
        strstr(t, "\nsensorbridge_windows_partial_total{window=\"10s\",reason=\"resumed\"} 1\n"));
    assert_int_equal(count_of(f.pub.all.data, "\"complete\":true,\"partial_reason\":null}"), 4);
    /* Baseline 12, 100 (mean 56, sd 62.2): 50 is normal; then 100, 50 (75,
     * 35.4): 1000 is critical, at 50 s. Had the partial 10 joined, 100
     * would have been critical against 10, 12 at 30 s. */
    sb_buf_reset(&f.b);
    sb_analytics_alerts_json(f.a, &f.b);
    assert_int_equal(count_of(f.b.data, "\"level\":\"critical\""), 1);
    assert_non_null(strstr(f.b.data, "{\"timestamp\":\"1970-01-01T00:00:50.000000Z\",\"sensor\":"
                                     "\"PS1\",\"rule\":\"zscore\",\"level\":\"critical\""));
    sb_buf_reset(&f.b);
    sb_analytics_windows_json(f.a, &f.b);
    assert_non_null(strstr(f.b.data, "\"complete\":true,\"partial_reason\":null}"));
    sb_log_level = SB_LOG_WARNING;
    fixture_free(&f);
}

/* Windows closed early: forced (max_open), forgotten (revoked, expired)
 * and stopped, each partial with its reason; an early close is named
 * before a resume. */
static void analytics_early_closes_are_partial(void **state)
{
    (void)state;
    struct fixture f;
    config(&f.cfg, NULL, 0);
    f.cfg.watermark_us = 100 * S_US; /* nothing closes by the watermark */
    fixture_start(&f);
    /* max_open 4: the fifth window of FS1 forces [0,10) out. */
    for (int k = 0; k < 5; k++)
        feed(f.a, "FS1", k * 10 * S_US + S_US, 1);
    feed(f.a, "TS1", 0, 1);
    feed(f.a, "PS1", 0, 2);
    const struct sb_window_run resumed = {3, false};
    struct sb_decoded d = {.rate_hz = 1, .value = 3, .ts_us = 0};
    snprintf(d.sensor, sizeof(d.sensor), "EPS1");
    asample(f.a, &d, 0, &resumed);
    aforget(f.a, "TS1", SB_PARTIAL_REVOKED);
    aforget(f.a, "PS1", SB_PARTIAL_EXPIRED);
    sb_log_level = SB_LOG_WARNING; /* the "published as partial" line is info */
    sb_analytics_stop(f.a);
    char *t = expose(f.reg, &f.b);
    assert_non_null(
        strstr(t, "sensorbridge_windows_partial_total{window=\"10s\",reason=\"expired\"} 1\n"
                  "sensorbridge_windows_partial_total{window=\"10s\",reason=\"forced\"} 1\n"
                  "sensorbridge_windows_partial_total{window=\"10s\",reason=\"resumed\"} 0\n"
                  "sensorbridge_windows_partial_total{window=\"10s\",reason=\"revoked\"} 1\n"
                  "sensorbridge_windows_partial_total{window=\"10s\",reason=\"stopped\"} 5\n"));
    assert_non_null(strstr(t, "\nsensorbridge_windows_forced_total 1\n"));
    assert_non_null(strstr(t, "\nsensorbridge_windows_closed_total{window=\"10s\"} 8\n"));
    assert_null(strstr(t, "sensorbridge_window_mean{"));
    assert_int_equal(count_of(f.pub.all.data, "\"complete\":false"), 8);
    assert_int_equal(count_of(f.pub.all.data, "\"forced\":true,\"complete\":false,"
                                              "\"partial_reason\":\"forced\"}"),
                     1);
    assert_non_null(strstr(f.pub.all.data, "aggregate TS1 "));
    assert_non_null(strstr(f.pub.all.data, "\"partial_reason\":\"revoked\"}\naggregate PS1 "));
    /* EPS1 resumed, then stopped: stopped. EPS1 before FS1 (name order). */
    assert_non_null(strstr(f.pub.all.data, "\"partial_reason\":\"expired\"}\naggregate EPS1 "));
    assert_non_null(strstr(f.pub.all.data, "aggregate EPS1 {\"sensor\":\"EPS1\","));
    assert_int_equal(count_of(f.pub.all.data, "\"partial_reason\":\"stopped\"}"), 5);
    sb_buf_reset(&f.b);
    sb_analytics_windows_json(f.a, &f.b);
    assert_non_null(strstr(f.b.data, "],\"open\":0}\n"));
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(window_forget_table_stays_correct),
        cmocka_unit_test(alerts_forget_resets_state),
        cmocka_unit_test(analytics_forget_removes_sensor_series),
        cmocka_unit_test(analytics_forget_empties_zscore_baseline),
        cmocka_unit_test(analytics_reload_keeps_only_held_levels),
        cmocka_unit_test(analytics_future_jump_is_kept_out),
        cmocka_unit_test(analytics_windows_history_bounded),
        cmocka_unit_test(analytics_partial_windows_kept_out),
        cmocka_unit_test(analytics_early_closes_are_partial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
