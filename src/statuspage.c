/* statuspage.c - the status page's files and JSON, and the once-a-second
 * sampler that fills its history from the registry. */
#include "sensorbridge/statuspage.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sensorbridge/history.h"
#include "sensorbridge/log.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/synth.h"
#include "sensorbridge/util.h"
#include "sensorbridge/www.h"

struct asset_route {
    const struct sb_www_asset *asset;
};

struct sb_statuspage {
    uv_loop_t *loop;
    uv_timer_t timer;
    struct sb_registry *reg;
    const struct sb_config *cfg;
    struct sb_history *history;
    /* The history's times are wall-clock milliseconds that never go back:
     * the wall clock at start plus the loop's monotonic time since. */
    int64_t wall0_ms;
    uint64_t mono0_ms;
    bool full_logged;
    struct asset_route *routes;
    size_t nroutes;
    void (*close_cb)(void *ud);
    void *close_ud;
};

/* ---- reading the registry ---- */

struct total {
    double sum;
    size_t n;
};

static void add_child(void *ud, size_t nlabels, const char *const *labelnames,
                      const char *const *labelvalues, double value)
{
    (void)nlabels;
    (void)labelnames;
    (void)labelvalues;
    struct total *t = ud;
    t->sum += value;
    t->n++;
}

/* The sum over a family's children; false if it has none (a part of the
 * daemon that is off, or nothing assigned). */
static bool family_total(struct sb_registry *reg, const char *name, double *out)
{
    struct total t = {0, 0};
    sb_registry_each_child(reg, name, add_child, &t);
    *out = t.sum;
    return t.n > 0;
}

/* ---- sampling ---- */

static void record(struct sb_statuspage *sp, int rc, const char *name)
{
    if (rc == -ENOSPC && !sp->full_logged) {
        sp->full_logged = true;
        sb_warn("msg=\"status page history full: series left out of its charts\" max_series=%d "
                "first=%s",
                SB_HISTORY_MAX_SERIES, name);
    }
}

/* The pipeline's counters as rates; lag and queue as they are. */
static const struct {
    const char *series;
    const char *family;
    bool rate;
} pipeline[] = {
    {"produced_per_second", "sensorbridge_messages_produced_total", true},
    {"delivered_per_second", "sensorbridge_messages_delivered_total", true},
    {"delivery_failed_per_second", "sensorbridge_messages_delivery_failed_total", true},
    {"consumed_per_second", "sensorbridge_consumer_messages_total", true},
    {"invalid_per_second", "sensorbridge_consumer_invalid_messages_total", true},
    {"lag_messages", "sensorbridge_consumer_lag_messages", false},
    {"producer_queue_messages", "sensorbridge_producer_queue_messages", false},
};

#define LATENCY_FAMILY "sensorbridge_end_to_end_latency_seconds"

static void record_sensor(void *ud, size_t nlabels, const char *const *labelnames,
                          const char *const *labelvalues, double value)
{
    (void)nlabels;
    (void)labelnames;
    struct sb_statuspage *sp = ud;
    record(sp, sb_history_gauge(sp->history, "sensor", labelvalues[0], value), labelvalues[0]);
}

static void sample(uv_timer_t *t)
{
    struct sb_statuspage *sp = t->data;
    int64_t now_ms = sp->wall0_ms + (int64_t)(uv_now(sp->loop) - sp->mono0_ms);
    if (sb_history_tick(sp->history, now_ms))
        return;
    /* Lag and the producer's queue are refreshed by collectors. */
    sb_registry_collect(sp->reg);
    for (size_t i = 0; i < SB_ARRAY_SIZE(pipeline); i++) {
        double v;
        if (!family_total(sp->reg, pipeline[i].family, &v))
            continue;
        int rc = pipeline[i].rate
                     ? sb_history_rate(sp->history, "pipeline", pipeline[i].series, v)
                     : sb_history_gauge(sp->history, "pipeline", pipeline[i].series, v);
        record(sp, rc, pipeline[i].series);
    }
    double count;
    if (family_total(sp->reg, LATENCY_FAMILY, &count))
        record(sp,
               sb_history_ratio(sp->history, "pipeline", "latency_seconds",
                                sb_registry_histogram_sum(sp->reg, LATENCY_FAMILY), count),
               "latency_seconds");
    sb_registry_each_child(sp->reg, "sensorbridge_sensor_value", record_sensor, sp);
}

/* ---- the files ---- */

/* Whether an If-None-Match list ("\"a\", W/\"b\"" or "*") names etag,
 * by the weak comparison If-None-Match uses: W/ on either side is ignored. */
static bool etag_matches(const char *list, const char *etag)
{
    if (!list)
        return false;
    if (strcmp(list, "*") == 0)
        return true;
    if (strncmp(etag, "W/", 2) == 0)
        etag += 2;
    size_t n = strlen(etag);
    for (const char *p = strstr(list, etag); p; p = strstr(p + 1, etag)) {
        char after = p[n];
        if (after == '\0' || after == ',' || after == ' ' || after == '\t')
            return true;
    }
    return false;
}

static void handle_asset(void *ud, const struct sb_http_request *req, struct sb_http_response *resp)
{
    const struct sb_www_asset *a = ((const struct asset_route *)ud)->asset;
    resp->content_type = a->content_type;
    /* The names carry no version, so a browser revalidates on every load:
     * a 304 costs a round trip and no body, and an upgraded binary is seen
     * at once. */
    sb_http_response_header(resp, "ETag", a->etag);
    sb_http_response_header(resp, "Cache-Control", "no-cache");
    sb_http_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* Everything the page uses comes from here: nothing inline, no CDN. */
    sb_http_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:");
    if (etag_matches(sb_http_request_header(req, "If-None-Match"), a->etag)) {
        resp->status = 304;
        return;
    }
    sb_buf_append(&resp->body, a->data, a->len);
}

/* ---- the JSON ---- */

static void handle_history(void *ud, const struct sb_http_request *req,
                           struct sb_http_response *resp)
{
    struct sb_statuspage *sp = ud;
    const char *since = sb_http_request_query(req, "since");
    int64_t since_ms = -1;
    resp->content_type = "application/json";
    sb_http_response_header(resp, "Cache-Control", "no-store");
    if (since && sb_parse_decimal_i64(since, strlen(since), &since_ms)) {
        resp->status = 400;
        sb_buf_puts(&resp->body, "{\"error\":\"since: not a time in milliseconds since the epoch "
                                 "(a decimal integer from 0)\"}\n");
        return;
    }
    sb_history_json(sp->history, since_ms, &resp->body);
}

static const char *level_name(double v)
{
    return v >= 2 ? "critical" : v >= 1 ? "warning" : "normal";
}

static void collect_alert(void *ud, size_t nlabels, const char *const *labelnames,
                          const char *const *labelvalues, double value)
{
    json_t *by_sensor = ud;
    const char *sensor = NULL, *rule = NULL;
    for (size_t i = 0; i < nlabels; i++) {
        if (strcmp(labelnames[i], "sensor") == 0)
            sensor = labelvalues[i];
        else if (strcmp(labelnames[i], "rule") == 0)
            rule = labelvalues[i];
    }
    if (!sensor || !rule)
        return;
    json_t *rules = json_object_get(by_sensor, sensor);
    if (!rules) {
        rules = json_object();
        json_object_set_new(by_sensor, sensor, rules);
    }
    json_object_set_new(rules, rule, json_string(level_name(value)));
}

struct live_walk {
    const struct sb_statuspage *sp;
    json_t *sensors;
    json_t *alerts; /* {sensor: {rule: level}} */
};

static void live_sensor(void *ud, size_t nlabels, const char *const *labelnames,
                        const char *const *labelvalues, double value)
{
    (void)nlabels;
    (void)labelnames;
    struct live_walk *w = ud;
    const char *name = labelvalues[0];
    const char *unit = NULL, *quantity = NULL;
    const struct sb_sensor_info *info = sb_sensors_find(name);
    if (info) {
        unit = info->unit;
        quantity = info->quantity;
    }
    for (size_t i = 0; !info && i < w->sp->cfg->nsynthetic; i++) {
        const struct sb_synth_cfg *s = &w->sp->cfg->synthetic[i];
        if (strcmp(s->name, name) == 0) {
            unit = s->unit;
            quantity = sb_synth_kind_name(s->kind);
        }
    }
    json_t *o = json_object();
    json_object_set_new(o, "sensor", json_string(name));
    json_object_set_new(o, "value", isfinite(value) ? json_real(value) : json_null());
    json_object_set_new(o, "unit", unit ? json_string(unit) : json_null());
    json_object_set_new(o, "quantity", quantity ? json_string(quantity) : json_null());
    json_object_set_new(o, "synthetic", json_boolean(!info && quantity));
    json_t *rules = json_object_get(w->alerts, name);
    const char *level = "normal";
    const char *rule;
    json_t *v;
    json_object_foreach(rules, rule, v)
    {
        const char *l = json_string_value(v);
        if (strcmp(l, "critical") == 0 ||
            (strcmp(l, "warning") == 0 && strcmp(level, "normal") == 0))
            level = l;
    }
    json_object_set_new(o, "level", json_string(level));
    json_object_set_new(o, "rules", rules ? json_incref(rules) : json_object());
    json_array_append_new(w->sensors, o);
}

static void set_value(struct sb_registry *reg, json_t *o, const char *key, const char *family)
{
    double v;
    if (family_total(reg, family, &v))
        json_object_set_new(o, key, json_real(v));
}

/* One member of each component's object in the live JSON's diagnosis. */
struct diagnosis_walk {
    json_t *components;
    const char *key;
};

static void diagnosis_child(void *ud, size_t nlabels, const char *const *names,
                            const char *const *values, double value)
{
    struct diagnosis_walk *w = ud;
    if (nlabels != 1 || strcmp(names[0], "component") != 0)
        return;
    json_t *o = json_object_get(w->components, values[0]);
    if (!o) {
        o = json_object();
        json_object_set_new(w->components, values[0], o);
    }
    json_object_set_new(o, w->key, json_real(value));
}

/* The condition monitor's last diagnosis from its gauges; NULL before the
 * first (or without a monitor). */
static json_t *last_diagnosis(struct sb_registry *reg)
{
    static const struct {
        const char *key, *family;
    } members[] = {{"state", "sensorbridge_condition_state"},
                   {"probability", "sensorbridge_condition_probability"},
                   {"true_state", "sensorbridge_condition_true_state"}};
    double cycle, diagnosed;
    if (!family_total(reg, "sensorbridge_condition_cycles_diagnosed_total", &diagnosed) ||
        diagnosed == 0 || !family_total(reg, "sensorbridge_condition_cycle", &cycle))
        return NULL;
    struct diagnosis_walk w = {json_object(), NULL};
    for (size_t i = 0; i < SB_ARRAY_SIZE(members); i++) {
        w.key = members[i].key;
        sb_registry_each_child(reg, members[i].family, diagnosis_child, &w);
    }
    return json_pack("{s:f, s:o}", "cycle", cycle, "components", w.components);
}

static void handle_live(void *ud, const struct sb_http_request *req, struct sb_http_response *resp)
{
    (void)req;
    struct sb_statuspage *sp = ud;
    sb_registry_collect(sp->reg);
    struct live_walk w = {sp, json_array(), json_object()};
    sb_registry_each_child(sp->reg, "sensorbridge_alert_level", collect_alert, w.alerts);
    sb_registry_each_child(sp->reg, "sensorbridge_sensor_value", live_sensor, &w);
    json_t *o = json_object();
    json_object_set_new(o, "time_ms",
                        json_integer(sp->wall0_ms + (int64_t)(uv_now(sp->loop) - sp->mono0_ms)));
    json_object_set_new(o, "sensors", w.sensors);
    json_decref(w.alerts);
    json_t *cond = json_object();
    set_value(sp->reg, cond, "cooler_condition_percent",
              "sensorbridge_hydraulic_cooler_condition_percent");
    set_value(sp->reg, cond, "valve_condition_percent",
              "sensorbridge_hydraulic_valve_condition_percent");
    set_value(sp->reg, cond, "pump_leakage", "sensorbridge_hydraulic_pump_leakage");
    set_value(sp->reg, cond, "accumulator_pressure_bar",
              "sensorbridge_hydraulic_accumulator_pressure_bar");
    set_value(sp->reg, cond, "stable_flag", "sensorbridge_hydraulic_stable_flag");
    json_object_set_new(o, "conditions", cond);
    json_t *diagnosis = last_diagnosis(sp->reg);
    if (diagnosis)
        json_object_set_new(o, "diagnosis", diagnosis);
    set_value(sp->reg, o, "replay_cycle", "sensorbridge_replay_cycle");
    set_value(sp->reg, o, "rebalances", "sensorbridge_consumer_rebalances_total");
    set_value(sp->reg, o, "kafka_cluster_reachable", "sensorbridge_kafka_cluster_reachable");
    set_value(sp->reg, o, "flow_control_paused", "sensorbridge_flow_control_paused");
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    resp->content_type = "application/json";
    sb_http_response_header(resp, "Cache-Control", "no-store");
    sb_buf_puts(&resp->body, s);
    sb_buf_putc(&resp->body, '\n');
    free(s);
}

/* ---- lifecycle ---- */

struct sb_statuspage *sb_statuspage_new(uv_loop_t *loop, struct sb_registry *reg,
                                        const struct sb_config *cfg)
{
    struct sb_statuspage *sp = sb_xcalloc(1, sizeof(*sp));
    sp->loop = loop;
    sp->reg = reg;
    sp->cfg = cfg;
    sp->history = sb_history_new(SB_STATUSPAGE_HISTORY_POINTS);
    uv_timer_init(loop, &sp->timer);
    sp->timer.data = sp;
    const struct sb_www_asset *assets = sb_www_assets(&sp->nroutes);
    sp->routes = sb_xcalloc(sp->nroutes, sizeof(*sp->routes));
    for (size_t i = 0; i < sp->nroutes; i++)
        sp->routes[i].asset = &assets[i];
    return sp;
}

void sb_statuspage_route(struct sb_statuspage *sp, struct sb_http *http)
{
    for (size_t i = 0; i < sp->nroutes; i++)
        sb_http_route(http, sp->routes[i].asset->path, handle_asset, &sp->routes[i]);
    sb_http_route(http, "/api/v1/history", handle_history, sp);
    sb_http_route(http, "/api/v1/live", handle_live, sp);
}

void sb_statuspage_start(struct sb_statuspage *sp)
{
    uv_update_time(sp->loop);
    sp->mono0_ms = uv_now(sp->loop);
    sp->wall0_ms = sb_now_wall_us() / 1000;
    uv_timer_start(&sp->timer, sample, 0, SB_STATUSPAGE_INTERVAL_MS);
}

static void timer_closed(uv_handle_t *h)
{
    struct sb_statuspage *sp = h->data;
    void (*cb)(void *) = sp->close_cb;
    void *ud = sp->close_ud;
    sb_history_free(sp->history);
    free(sp->routes);
    free(sp);
    if (cb)
        cb(ud);
}

void sb_statuspage_close(struct sb_statuspage *sp, void (*cb)(void *ud), void *ud)
{
    sp->close_cb = cb;
    sp->close_ud = ud;
    uv_close((uv_handle_t *)&sp->timer, timer_closed);
}
