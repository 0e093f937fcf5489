/* analytics.c - windows and alerts on the consumed stream. */
#include "sensorbridge/analytics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensorbridge/alert.h"
#include "sensorbridge/log.h"
#include "sensorbridge/window.h"

#define LAST_BUCKETS 1024 /* hash buckets of the last-closed-window table */

/* The last windows of a sensor and size: the last closed one, complete or
 * not, is the /api/v1/windows entry, which stays after sb_analytics_forget
 * (it is history) until the bound needs its room; the last complete one is
 * in the sensorbridge_window_* gauges while the sensor is held. */
struct last_window {
    struct last_window *next;
    char *sensor;
    struct sb_window_result r; /* r.sensor points at .sensor */
    int partial;               /* r's enum sb_partial_reason, or -1: complete */
    bool held;                 /* not forgotten since the window closed */
    /* NULL while not held, before its first complete window, or past the
     * registry's per-family cap. */
    struct sb_metric *count, *mean, *min, *max, *stddev, *end;
};

static const char *const partial_names[SB_PARTIAL__COUNT] = {
    [SB_PARTIAL_RESUMED] = "resumed", [SB_PARTIAL_FORCED] = "forced",
    [SB_PARTIAL_REVOKED] = "revoked", [SB_PARTIAL_EXPIRED] = "expired",
    [SB_PARTIAL_STOPPED] = "stopped",
};

const char *sb_partial_reason_name(enum sb_partial_reason r)
{
    return (unsigned)r < SB_PARTIAL__COUNT ? partial_names[r] : "unknown";
}

struct recent_alert {
    char *json;
};

struct sb_analytics {
    struct sb_registry *reg;
    sb_publish_cb publish;
    void *publish_ud;
    struct sb_windows *windows;
    struct sb_alerts *alerts;
    struct sb_condition *condition; /* borrowed, may be NULL */
    int64_t max_ahead_us;
    int64_t newest_us; /* the newest event time accepted, of any sensor */
    struct sb_family *f_future;
    struct sb_alert_rule_cfg *rules; /* deep copy, to detect changes on reload */
    size_t nrules;
    /* Per rule (same index): whether its sensor is held, i.e. seen since
     * the rules were built or it was last forgotten. Only then does it
     * have sensorbridge_alert_level series. */
    bool *live;
    int64_t *sizes; /* the window sizes, to find a sensor's last windows */
    size_t nsizes;

    struct sb_family *f_late, *f_w_count, *f_w_mean, *f_w_min, *f_w_max, *f_w_stddev, *f_w_end;
    struct sb_family *f_closed, *f_partial, *f_level, *f_alerts;
    struct sb_metric *forced;
    /* Why the window engine is reporting windows closed by
     * sb_windows_forget(_all): set around those calls. */
    enum sb_partial_reason forgetting;
    struct last_window *last[LAST_BUCKETS];
    size_t nlast;       /* entries in last[], at most max_sensors per size */
    size_t max_sensors; /* [consumer] max_sensors: the sensors held at most */
    uint32_t rules_gen; /* of the rules, for the records' alert_gen (sensortab.h) */

    struct recent_alert *recent; /* ring, newest at (head - 1) */
    size_t recent_cap, recent_len, recent_head;
    struct sb_buf scratch;
};

/* ---- helpers ---- */

static void put_num(struct sb_buf *b, double v)
{
    char tmp[40];
    if (!isfinite(v)) {
        sb_buf_puts(b, "null");
        return;
    }
    sb_fmt_double(tmp, sizeof(tmp), v);
    sb_buf_puts(b, tmp);
}

static void put_time(struct sb_buf *b, int64_t us)
{
    char tmp[40];
    sb_fmt_rfc3339_us(tmp, sizeof(tmp), us);
    sb_buf_putc(b, '"');
    sb_buf_puts(b, tmp);
    sb_buf_putc(b, '"');
}

static void put_str(struct sb_buf *b, const char *s)
{
    sb_buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sb_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            sb_buf_printf(b, "\\u%04x", c);
        else
            sb_buf_putc(b, (char)c);
    }
    sb_buf_putc(b, '"');
}

/* "60s", "300s": the window label. */
static void size_label(char *out, size_t len, int64_t size_us)
{
    snprintf(out, len, "%llds", (long long)(size_us / 1000000));
}

static size_t last_bucket(const char *sensor, int64_t size_us)
{
    int64_t key[2] = {(int64_t)sb_hash_fnv1a(sensor, strlen(sensor)), size_us};
    return (size_t)(sb_hash_fnv1a(key, sizeof(key)) % LAST_BUCKETS);
}

/* partial: the window's enum sb_partial_reason, or -1 if complete. */
static void window_json(struct sb_buf *b, const struct sb_window_result *w, int partial)
{
    sb_buf_puts(b, "{\"sensor\":");
    put_str(b, w->sensor);
    sb_buf_printf(b,
                  ",\"window_seconds\":%lld,\"window_start\":", (long long)(w->size_us / 1000000));
    put_time(b, w->start_us);
    sb_buf_puts(b, ",\"window_end\":");
    put_time(b, w->end_us);
    sb_buf_printf(b, ",\"count\":%llu,\"sum\":", (unsigned long long)w->count);
    put_num(b, w->sum);
    sb_buf_puts(b, ",\"min\":");
    put_num(b, w->min);
    sb_buf_puts(b, ",\"max\":");
    put_num(b, w->max);
    sb_buf_puts(b, ",\"mean\":");
    put_num(b, w->mean);
    sb_buf_puts(b, ",\"stddev\":");
    put_num(b, w->stddev);
    sb_buf_puts(b, ",\"first_event\":");
    put_time(b, w->first_ts_us);
    sb_buf_puts(b, ",\"last_event\":");
    put_time(b, w->last_ts_us);
    sb_buf_printf(b, ",\"forced\":%s,\"complete\":%s,\"partial_reason\":",
                  w->closed == SB_WINDOW_CLOSED_FORCED ? "true" : "false",
                  partial < 0 ? "true" : "false");
    if (partial < 0)
        sb_buf_puts(b, "null}");
    else
        sb_buf_printf(b, "\"%s\"}", sb_partial_reason_name((enum sb_partial_reason)partial));
}

/* Why a closed window is partial, or -1 if it is complete. An early close
 * is named before a resume: it is what happened last to the window. */
static int partial_reason(const struct sb_analytics *a, const struct sb_window_result *w)
{
    switch (w->closed) {
    case SB_WINDOW_CLOSED_FORCED:
        return SB_PARTIAL_FORCED;
    case SB_WINDOW_CLOSED_FORGOTTEN:
        return (int)a->forgetting;
    case SB_WINDOW_CLOSED_WATERMARK:
        break;
    }
    return w->resumed ? SB_PARTIAL_RESUMED : -1;
}

/* ---- callbacks from the engines ---- */

/* Children are NULL past the registry's per-family cap. */
static void gauge_set(struct sb_metric *m, double v)
{
    if (m)
        sb_gauge_set(m, v);
}

static struct last_window *find_last(const struct sb_analytics *a, const char *sensor,
                                     int64_t size_us)
{
    for (struct last_window *l = a->last[last_bucket(sensor, size_us)]; l; l = l->next)
        if (l->r.size_us == size_us && strcmp(l->sensor, sensor) == 0)
            return l;
    return NULL;
}

static void last_free(struct last_window *l)
{
    free(l->sensor);
    free(l);
}

/* Makes room for one more entry by dropping the forgotten one whose window
 * ended first. Held entries belong to sensors the window engine holds, at
 * most max_sensors per size, so at the bound one is forgotten. */
static void evict_forgotten(struct sb_analytics *a)
{
    struct last_window **victim = NULL;
    for (size_t i = 0; i < LAST_BUCKETS; i++)
        for (struct last_window **p = &a->last[i]; *p; p = &(*p)->next)
            if (!(*p)->held && (!victim || (*p)->r.end_us < (*victim)->r.end_us))
                victim = p;
    if (!victim)
        return;
    struct last_window *l = *victim;
    *victim = l->next;
    last_free(l);
    a->nlast--;
}

static void last_series_create(struct sb_analytics *a, struct last_window *l)
{
    char label[32];
    size_label(label, sizeof(label), l->r.size_us);
    const char *lv[] = {l->sensor, label};
    l->count = sb_family_child(a->f_w_count, lv);
    l->mean = sb_family_child(a->f_w_mean, lv);
    l->min = sb_family_child(a->f_w_min, lv);
    l->max = sb_family_child(a->f_w_max, lv);
    l->stddev = sb_family_child(a->f_w_stddev, lv);
    l->end = sb_family_child(a->f_w_end, lv);
}

static void last_series_remove(struct last_window *l)
{
    sb_metric_remove(l->count);
    sb_metric_remove(l->mean);
    sb_metric_remove(l->min);
    sb_metric_remove(l->max);
    sb_metric_remove(l->stddev);
    sb_metric_remove(l->end);
    l->count = l->mean = l->min = l->max = l->stddev = l->end = NULL;
    l->held = false;
}

/* The entry for a window that just closed. */
static struct last_window *last_window(struct sb_analytics *a, const char *sensor, int64_t size_us)
{
    struct last_window *l = find_last(a, sensor, size_us);
    if (!l) {
        if (a->nlast >= a->max_sensors * a->nsizes)
            evict_forgotten(a);
        l = sb_xcalloc(1, sizeof(*l));
        l->sensor = sb_xstrdup(sensor);
        l->r.size_us = size_us;
        size_t h = last_bucket(sensor, size_us);
        l->next = a->last[h];
        a->last[h] = l;
        a->nlast++;
    }
    return l;
}

/* The index of the record's alert rule (-1: none), looked up by name once
 * per sensor and set of rules. */
static int rule_of(struct sb_analytics *a, struct sb_sensor *rec)
{
    if (rec->alert_gen != a->rules_gen) {
        rec->alert_rule = a->alerts ? sb_alerts_rule(a->alerts, rec->name) : -1;
        rec->alert_gen = a->rules_gen;
    }
    return rec->alert_rule;
}

/* Every closed window is published and is its sensor's last one on
 * /api/v1/windows; only a complete one sets the gauges and joins the
 * z-score baselines, so a window that missed samples never passes for the
 * sensor's level. */
static void window_closed(void *ud, const struct sb_window_result *w)
{
    struct sb_analytics *a = ud;
    int partial = partial_reason(a, w);
    struct last_window *l = last_window(a, w->sensor, w->size_us);
    l->r = *w;
    l->r.sensor = l->sensor;
    l->partial = partial;
    l->held = true;
    char label[32];
    size_label(label, sizeof(label), w->size_us);
    if (partial < 0) {
        /* Also retried while the registry's cap leaves one NULL. */
        if (!l->count || !l->mean || !l->min || !l->max || !l->stddev || !l->end)
            last_series_create(a, l);
        gauge_set(l->count, (double)w->count);
        gauge_set(l->mean, w->mean);
        gauge_set(l->min, w->min);
        gauge_set(l->max, w->max);
        gauge_set(l->stddev, w->stddev);
        gauge_set(l->end, (double)w->end_us / 1e6);
    } else {
        const char *lv[] = {label, sb_partial_reason_name((enum sb_partial_reason)partial)};
        sb_counter_add(sb_family_child(a->f_partial, lv), 1);
    }
    const char *lv[] = {label};
    sb_counter_add(sb_family_child(a->f_closed, lv), 1);
    if (w->closed == SB_WINDOW_CLOSED_FORCED)
        sb_counter_add(a->forced, 1);
    sb_buf_reset(&a->scratch);
    window_json(&a->scratch, w, partial);
    if (a->publish)
        a->publish(a->publish_ud, SB_PUBLISH_AGGREGATE, w->sensor, a->scratch.data, a->scratch.len,
                   w->end_us);
    if (a->alerts && partial < 0)
        sb_alerts_window(a->alerts, rule_of(a, w->record), w->size_us, w->end_us, w->mean);
}

static void alert_fired(void *ud, const struct sb_alert_event *e)
{
    struct sb_analytics *a = ud;
    const char *lv_level[] = {e->sensor, e->rule};
    struct sb_metric *m = sb_family_child(a->f_level, lv_level);
    if (m)
        sb_gauge_set(m, e->level);
    if (e->level > e->from) {
        const char *lv[] = {e->sensor, sb_alert_level_name(e->level)};
        sb_counter_add(sb_family_child(a->f_alerts, lv), 1);
    }
    struct sb_buf *b = &a->scratch;
    sb_buf_reset(b);
    sb_buf_puts(b, "{\"timestamp\":");
    put_time(b, e->ts_us);
    sb_buf_puts(b, ",\"sensor\":");
    put_str(b, e->sensor);
    sb_buf_puts(b, ",\"rule\":");
    put_str(b, e->rule);
    sb_buf_printf(b, ",\"level\":\"%s\",\"previous_level\":\"%s\",\"value\":",
                  sb_alert_level_name(e->level), sb_alert_level_name(e->from));
    put_num(b, e->value);
    sb_buf_puts(b, ",\"threshold\":");
    put_num(b, e->threshold);
    sb_buf_puts(b, ",\"message\":");
    put_str(b, e->message);
    sb_buf_putc(b, '}');
    sb_notice("msg=\"alert\" sensor=%s rule=%s level=%s previous=%s value=%g threshold=%g",
              e->sensor, e->rule, sb_alert_level_name(e->level), sb_alert_level_name(e->from),
              e->value, e->threshold);

    struct recent_alert *slot = &a->recent[a->recent_head];
    free(slot->json);
    slot->json = sb_xstrndup(b->data, b->len);
    a->recent_head = (a->recent_head + 1) % a->recent_cap;
    if (a->recent_len < a->recent_cap)
        a->recent_len++;
    if (a->publish)
        a->publish(a->publish_ud, SB_PUBLISH_ALERT, e->sensor, b->data, b->len, e->ts_us);
}

/* ---- rules ---- */

/* Exports the level series of rule i at the rule's current level: its
 * sensor is held from now on. */
static void make_live(struct sb_analytics *a, size_t i)
{
    const struct sb_alert_rule_cfg *r = &a->rules[i];
    if (sb_alert_rule_has_threshold(r)) {
        const char *lv[] = {r->sensor, "threshold"};
        struct sb_metric *m = sb_family_child(a->f_level, lv);
        if (m)
            sb_gauge_set(m, sb_alerts_level(a->alerts, r->sensor, "threshold"));
    }
    if (sb_alert_rule_has_zscore(r)) {
        const char *lv[] = {r->sensor, "zscore"};
        struct sb_metric *m = sb_family_child(a->f_level, lv);
        if (m)
            sb_gauge_set(m, sb_alerts_level(a->alerts, r->sensor, "zscore"));
    }
    a->live[i] = true;
}

static void free_rules(struct sb_alert_rule_cfg *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].sensor);
    free(r);
}

static struct sb_alert_rule_cfg *copy_rules(const struct sb_alert_rule_cfg *r, size_t n)
{
    struct sb_alert_rule_cfg *c = sb_xcalloc(n ? n : 1, sizeof(*c));
    for (size_t i = 0; i < n; i++) {
        c[i] = r[i];
        c[i].sensor = sb_xstrdup(r[i].sensor);
    }
    return c;
}

int sb_analytics_set_rules(struct sb_analytics *a, const struct sb_config *cfg, char *err,
                           size_t errlen)
{
    size_t n = cfg->alerts_enabled ? cfg->nalert_rules : 0;
    struct sb_alerts *fresh = NULL;
    if (n) {
        if (sb_alerts_validate(cfg->alert_rules, n, err, errlen))
            return -EINVAL;
        fresh = sb_alerts_new(cfg->alert_rules, n, alert_fired, a);
        if (!fresh) {
            snprintf(err, errlen, "[alert.*]: invalid alert rules");
            return -EINVAL;
        }
    }
    /* A sensor held under the old rules is still held: carry that over by
     * name (at most 256 x 256 comparisons, once per reload). */
    bool *live = sb_xcalloc(n ? n : 1, sizeof(*live));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < a->nrules; j++)
            if (a->live[j] && strcmp(a->rules[j].sensor, cfg->alert_rules[i].sensor) == 0)
                live[i] = true;
    sb_alerts_free(a->alerts);
    a->alerts = fresh;
    free_rules(a->rules, a->nrules);
    a->rules = copy_rules(cfg->alert_rules, n);
    a->nrules = n;
    free(a->live);
    a->live = live;
    /* The records' rule indexes are stale now (0 stays "never resolved"). */
    a->rules_gen = a->rules_gen == UINT32_MAX ? 1 : a->rules_gen + 1;
    /* Every rule starts again from normal: reset the exported levels. The
     * rules of sensors not held get theirs with their first sample. */
    sb_family_clear(a->f_level);
    for (size_t i = 0; i < n; i++)
        if (a->live[i])
            make_live(a, i);
    sb_notice("msg=\"alert rules loaded\" rules=%zu", n);
    return 0;
}

/* ---- lifecycle ---- */

struct sb_analytics *sb_analytics_new(const struct sb_config *cfg, struct sb_registry *reg,
                                      sb_publish_cb cb, void *ud, char *err, size_t errlen)
{
    struct sb_analytics *a = sb_xcalloc(1, sizeof(*a));
    a->reg = reg;
    a->publish = cb;
    a->publish_ud = ud;
    sb_buf_init(&a->scratch);
    a->recent_cap = cfg->recent_alerts > 0 ? (size_t)cfg->recent_alerts : 1;
    a->recent = sb_xcalloc(a->recent_cap, sizeof(*a->recent));

    const char *sensor_label[] = {"sensor"};
    const char *win_labels[] = {"sensor", "window"};
    a->max_ahead_us = cfg->max_ahead_us;
    a->newest_us = INT64_MIN;
    a->max_sensors = cfg->max_sensors > 0 ? (size_t)cfg->max_sensors : 1;
    a->f_future = sb_registry_family(
        reg, SB_COUNTER, "sensorbridge_window_future_samples_total",
        "Samples whose event time jumped more than [windows] max_ahead past the newest event "
        "time and the wall clock, by sensor; counted and kept out of windows and alerts.",
        1, sensor_label, NULL, 0);
    a->f_late = sb_registry_family(reg, SB_COUNTER, "sensorbridge_window_late_samples_total",
                                   "Samples that arrived after the watermark had closed their "
                                   "window, by sensor; counted and not aggregated.",
                                   1, sensor_label, NULL, 0);
    a->f_w_count = sb_registry_family(reg, SB_GAUGE, "sensorbridge_window_samples",
                                      "Samples in the last closed window, by sensor and window "
                                      "size.",
                                      2, win_labels, NULL, 0);
    a->f_w_mean = sb_registry_family(reg, SB_GAUGE, "sensorbridge_window_mean",
                                     "Mean of the last closed window, in the sensor's unit.", 2,
                                     win_labels, NULL, 0);
    a->f_w_min = sb_registry_family(reg, SB_GAUGE, "sensorbridge_window_min",
                                    "Minimum of the last closed window, in the sensor's unit.", 2,
                                    win_labels, NULL, 0);
    a->f_w_max = sb_registry_family(reg, SB_GAUGE, "sensorbridge_window_max",
                                    "Maximum of the last closed window, in the sensor's unit.", 2,
                                    win_labels, NULL, 0);
    a->f_w_stddev = sb_registry_family(reg, SB_GAUGE, "sensorbridge_window_stddev",
                                       "Population standard deviation of the last closed "
                                       "window, in the sensor's unit.",
                                       2, win_labels, NULL, 0);
    a->f_w_end = sb_registry_family(reg, SB_GAUGE, "sensorbridge_window_end_timestamp_seconds",
                                    "End (exclusive) of the last closed window in event time, "
                                    "Unix seconds.",
                                    2, win_labels, NULL, 0);
    const char *window_label[] = {"window"};
    a->f_closed = sb_registry_family(reg, SB_COUNTER, "sensorbridge_windows_closed_total",
                                     "Windows closed and published, complete or partial, by "
                                     "window size.",
                                     1, window_label, NULL, 0);
    const char *partial_labels[] = {"window", "reason"};
    a->f_partial = sb_registry_family(
        reg, SB_COUNTER, "sensorbridge_windows_partial_total",
        "Windows published as partial (\"complete\":false): kept out of the "
        "sensorbridge_window_* gauges and the z-score baselines, by window size and reason.",
        2, partial_labels, NULL, 0);
    a->forced = sb_family_child(
        sb_registry_family(reg, SB_COUNTER, "sensorbridge_windows_forced_total",
                           "Windows closed before the watermark passed them because a sensor "
                           "had the maximum of open windows.",
                           0, NULL, NULL, 0),
        NULL);
    const char *level_labels[] = {"sensor", "rule"};
    a->f_level = sb_registry_family(reg, SB_GAUGE, "sensorbridge_alert_level",
                                    "Current alert level by sensor and rule: 0 normal, 1 "
                                    "warning, 2 critical.",
                                    2, level_labels, NULL, 0);
    const char *alert_labels[] = {"sensor", "level"};
    a->f_alerts = sb_registry_family(reg, SB_COUNTER, "sensorbridge_alerts_total",
                                     "Alerts raised (transitions up to warning or critical), by "
                                     "sensor and level.",
                                     2, alert_labels, NULL, 0);

    if (cfg->windows_enabled && cfg->nwindow_sizes > 0) {
        a->nsizes = cfg->nwindow_sizes;
        a->sizes = sb_xmalloc(a->nsizes * sizeof(*a->sizes));
        memcpy(a->sizes, cfg->window_sizes_us, a->nsizes * sizeof(*a->sizes));
        a->windows = sb_windows_new(cfg->window_sizes_us, cfg->nwindow_sizes, cfg->watermark_us,
                                    cfg->max_open_windows, window_closed, a);
        if (!a->windows) {
            snprintf(err, errlen, "[windows]: invalid window settings");
            sb_analytics_free(a);
            return NULL;
        }
        /* Every size and reason from the start, so that rate() sees the
         * first partial window. */
        for (size_t k = 0; k < a->nsizes; k++) {
            char label[32];
            size_label(label, sizeof(label), a->sizes[k]);
            for (int r = 0; r < SB_PARTIAL__COUNT; r++) {
                const char *lv[] = {label, partial_names[r]};
                sb_family_child(a->f_partial, lv);
            }
        }
    }
    if (sb_analytics_set_rules(a, cfg, err, errlen)) {
        sb_analytics_free(a);
        return NULL;
    }
    return a;
}

void sb_analytics_free(struct sb_analytics *a)
{
    if (!a)
        return;
    sb_windows_free(a->windows);
    sb_alerts_free(a->alerts);
    free_rules(a->rules, a->nrules);
    free(a->live);
    free(a->sizes);
    for (size_t i = 0; i < LAST_BUCKETS; i++) {
        while (a->last[i]) {
            struct last_window *l = a->last[i];
            a->last[i] = l->next;
            last_free(l);
        }
    }
    for (size_t i = 0; i < a->recent_cap; i++)
        free(a->recent[i].json);
    free(a->recent);
    sb_buf_free(&a->scratch);
    free(a);
}

void sb_analytics_sample(struct sb_analytics *a, struct sb_sensor *rec, const struct sb_decoded *d,
                         int64_t now_us, const struct sb_window_run *run)
{
    /* A sample far ahead of everything (of every sensor, and of the wall
     * clock, which a replay at speed max may outrun) would move its sensor's
     * watermark past all that follows. Sensors advance together, and a
     * live one with the wall clock, so the bound only catches jumps. */
    int64_t ref = a->newest_us > now_us ? a->newest_us : now_us;
    if (d->ts_us > ref && d->ts_us - ref > a->max_ahead_us) {
        const char *lv[] = {rec->name};
        struct sb_metric *m = sb_family_child(a->f_future, lv);
        if (m)
            sb_counter_add(m, 1);
        return;
    }
    if (d->ts_us > a->newest_us)
        a->newest_us = d->ts_us;
    if (a->windows && sb_windows_add(a->windows, rec, d->ts_us, d->value, run) == SB_WINDOW_LATE) {
        const char *lv[] = {rec->name};
        struct sb_metric *m = sb_family_child(a->f_late, lv);
        if (m)
            sb_counter_add(m, 1);
    }
    if (a->alerts) {
        int i = rule_of(a, rec);
        if (i >= 0) {
            sb_alerts_sample(a->alerts, i, d->ts_us, d->value);
            if (!a->live[i])
                make_live(a, (size_t)i);
        }
    }
    if (a->condition && rec->uci >= 0)
        sb_condition_sample(a->condition, rec->uci, d);
}

void sb_analytics_set_condition(struct sb_analytics *a, struct sb_condition *c)
{
    a->condition = c;
}

bool sb_analytics_ahead(struct sb_analytics *a, int uci, uint64_t now_ns)
{
    return a->condition && uci >= 0 && sb_condition_ahead(a->condition, uci, now_ns);
}

void sb_analytics_value(struct sb_analytics *a, const char *name, int64_t ts_us, double value)
{
    if (!a->alerts)
        return;
    int i = sb_alerts_rule(a->alerts, name);
    if (i < 0)
        return;
    sb_alerts_sample(a->alerts, i, ts_us, value);
    if (!a->live[i])
        make_live(a, (size_t)i);
}

void sb_analytics_forget(struct sb_analytics *a, struct sb_sensor *rec, enum sb_partial_reason why)
{
    const char *sensor = rec->name;
    if (a->condition && rec->uci >= 0)
        sb_condition_forget(a->condition, rec->uci);
    if (a->windows) {
        a->forgetting = why;
        sb_windows_forget(a->windows, rec);
    }
    for (size_t k = 0; k < a->nsizes; k++) {
        struct last_window *l = find_last(a, sensor, a->sizes[k]);
        if (l && l->held)
            last_series_remove(l);
    }
    const char *lv[] = {sensor};
    sb_family_remove(a->f_late, lv);
    sb_family_remove(a->f_future, lv);
    if (a->alerts) {
        static const char *const kinds[] = {"threshold", "zscore"};
        for (size_t k = 0; k < SB_ARRAY_SIZE(kinds); k++) {
            int level = sb_alerts_level(a->alerts, sensor, kinds[k]);
            if (level > SB_ALERT_NORMAL)
                sb_notice("msg=\"active alert dropped with its sensor\" sensor=%s rule=%s level=%s",
                          sensor, kinds[k], sb_alert_level_name((enum sb_alert_level)level));
        }
        int i = sb_alerts_forget(a->alerts, sensor);
        if (i >= 0)
            a->live[i] = false;
    }
    /* Also where no rule is left (a reload removed it): the series of a
     * sensor no longer held go all the same. */
    const char *lv_thr[] = {sensor, "threshold"}, *lv_z[] = {sensor, "zscore"};
    sb_family_remove(a->f_level, lv_thr);
    sb_family_remove(a->f_level, lv_z);
    const char *lv_warn[] = {sensor, "warning"}, *lv_crit[] = {sensor, "critical"};
    sb_family_remove(a->f_alerts, lv_warn);
    sb_family_remove(a->f_alerts, lv_crit);
}

void sb_analytics_stop(struct sb_analytics *a)
{
    if (a->condition)
        sb_condition_stop(a->condition);
    if (!a->windows)
        return;
    size_t open = sb_windows_open_count(a->windows);
    a->forgetting = SB_PARTIAL_STOPPED;
    sb_windows_forget_all(a->windows);
    if (open)
        sb_info("msg=\"open windows published as partial\" reason=stopped windows=%zu", open);
}

/* ---- status API ---- */

void sb_analytics_alerts_json(const struct sb_analytics *a, struct sb_buf *out)
{
    sb_buf_puts(out, "{\"alerts\":[");
    for (size_t i = 0; i < a->recent_len; i++) {
        size_t at = (a->recent_head + a->recent_cap - 1 - i) % a->recent_cap;
        if (i)
            sb_buf_putc(out, ',');
        sb_buf_puts(out, a->recent[at].json);
    }
    sb_buf_printf(out, "],\"capacity\":%zu}\n", a->recent_cap);
}

static int cmp_last(const void *x, const void *y)
{
    const struct last_window *a = *(const struct last_window *const *)x;
    const struct last_window *b = *(const struct last_window *const *)y;
    int c = strcmp(a->sensor, b->sensor);
    if (c)
        return c;
    return (a->r.size_us > b->r.size_us) - (a->r.size_us < b->r.size_us);
}

void sb_analytics_windows_json(const struct sb_analytics *a, struct sb_buf *out)
{
    size_t n = 0;
    for (size_t i = 0; i < LAST_BUCKETS; i++)
        for (struct last_window *l = a->last[i]; l; l = l->next)
            n++;
    struct last_window **all = sb_xcalloc(n ? n : 1, sizeof(*all));
    n = 0;
    for (size_t i = 0; i < LAST_BUCKETS; i++)
        for (struct last_window *l = a->last[i]; l; l = l->next)
            all[n++] = l;
    qsort(all, n, sizeof(*all), cmp_last);
    sb_buf_puts(out, "{\"windows\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            sb_buf_putc(out, ',');
        window_json(out, &all[i]->r, all[i]->partial);
    }
    sb_buf_printf(out, "],\"open\":%zu}\n", a->windows ? sb_windows_open_count(a->windows) : 0);
    free(all);
}

void sb_analytics_topics(const struct sb_config *cfg, char *aggregates, char *alerts, size_t len)
{
    if (cfg->aggregates_topic && cfg->aggregates_topic[0])
        snprintf(aggregates, len, "%s", cfg->aggregates_topic);
    else
        snprintf(aggregates, len, "%s-aggregates", cfg->topic_prefix);
    if (cfg->alerts_topic && cfg->alerts_topic[0])
        snprintf(alerts, len, "%s", cfg->alerts_topic);
    else
        snprintf(alerts, len, "%s-alerts", cfg->topic_prefix);
}
