/* daemon.c - wiring, signals, reload and the shutdown order. */
#include "sensorbridge/daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "sensorbridge/analytics.h"
#include "sensorbridge/broker.h"
#include "sensorbridge/config.h"
#include "sensorbridge/consumer.h"
#include "sensorbridge/flow.h"
#include "sensorbridge/http.h"
#include "sensorbridge/ingest.h"
#include "sensorbridge/log.h"
#include "sensorbridge/procstats.h"
#include "sensorbridge/producer.h"
#include "sensorbridge/registry.h"
#include "sensorbridge/replay.h"
#include "sensorbridge/sdnotify.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/statuspage.h"
#include "sensorbridge/synth.h"
#include "sensorbridge/topics.h"
#include "sensorbridge/util.h"

struct sb_daemon {
    uv_loop_t loop;
    struct sb_config cfg;
    struct sb_registry *reg;
    struct sb_broker *broker;
    char *bootstraps; /* owned: a reload frees the configuration it came from */
    struct sb_producer *producer;
    struct sb_replay *replay;
    struct sb_synth *synth;
    struct sb_ingest *ingest;
    struct sb_analytics *analytics;
    struct sb_producer_topic *out_aggregates;
    struct sb_producer_topic *out_alerts;
    struct sb_condition *condition; /* with [condition] model; else NULL */
    struct sb_producer_topic *out_diagnosis;
    struct sb_consumer *consumer;
    struct sb_flow *flow; /* with both a producer and a consumer; else NULL */
    struct sb_topics *topics;
    /* Sources and the subscription wait for the topics to exist. */
    bool replay_started, synth_started, consumer_started;
    struct sb_http *http;
    struct sb_statuspage *statuspage;
    uv_signal_t sigint, sigterm, sighup;
    uv_timer_t fatal_timer; /* stops the daemon after a fatal Kafka error */
    char *fatal;            /* that error, or NULL */
    struct sb_metric *fatal_errors;
    struct sb_metric *reloads_ok;
    struct sb_metric *reloads_failed;
    struct sb_metric *ready;
    struct sb_metric *renders[2]; /* by enum expo_format */
    int64_t started_us;
    bool stopping;
    struct sb_sdnotify *sdnotify; /* what systemd hears */
    uint64_t rate_messages;       /* consumed messages at rate_ns, for the consumed/s of STATUS= */
    uint64_t rate_ns;
};

/* ---- replay -> producer ---- */

static void *sink_bind(void *ud, const char *sensor)
{
    struct sb_daemon *d = ud;
    char topic[512];
    sb_config_sample_topic(&d->cfg, sensor, topic, sizeof(topic));
    return sb_producer_topic(d->producer, sensor, topic);
}

static int sink_emit(void *ud, void *bound, const struct sb_sample *s)
{
    struct sb_daemon *d = ud;
    if (d->flow && sb_flow_closed(d->flow))
        return -EAGAIN;
    return sb_producer_send(d->producer, bound, s);
}

/* The producer's queue has room again, or the consumer caught up: the
 * paused streams go on (one that still finds the way closed pauses again). */
static void sources_may_go_on(void *ud)
{
    struct sb_daemon *d = ud;
    if (d->stopping)
        return;
    if (d->replay && d->replay_started)
        sb_replay_resume(d->replay);
    if (d->synth && d->synth_started)
        sb_synth_resume(d->synth);
}

static int synth_new(struct sb_daemon *d, const struct sb_config *cfg, struct sb_synth **out,
                     char *err, size_t errlen)
{
    struct sb_source_sink sink = {.bind = sink_bind, .emit = sink_emit, .ud = d};
    return sb_synth_new(out, &d->loop, cfg, d->reg, &sink, err, errlen);
}

/* ---- analytics -> producer ---- */

static void publish(void *ud, enum sb_publish_kind kind, const char *key, const char *json,
                    size_t len, int64_t ts_us)
{
    struct sb_daemon *d = ud;
    struct sb_producer_topic *t = kind == SB_PUBLISH_AGGREGATE ? d->out_aggregates
                                  : kind == SB_PUBLISH_ALERT   ? d->out_alerts
                                                               : d->out_diagnosis;
    if (d->producer && t)
        sb_producer_send_json(d->producer, t, key, json, len, ts_us);
}

/* A diagnosis goes to the diagnosis topic, keyed by its cycle, and each
 * component's predicted state to the alert rules of condition_<name>. */
static void on_diagnosis(void *ud, const struct sb_condition_diagnosis *dg)
{
    struct sb_daemon *d = ud;
    char key[32], name[96];
    snprintf(key, sizeof(key), "%" PRId64, dg->cycle);
    publish(d, SB_PUBLISH_DIAGNOSIS, key, dg->json, dg->len, dg->end_us);
    for (size_t c = 0; c < sb_model_components(dg->model); c++) {
        snprintf(name, sizeof(name), "condition_%s", sb_model_component_name(dg->model, c));
        sb_analytics_value(d->analytics, name, dg->end_us, dg->res[c].value);
    }
}

/* The model and the labels cfg names, for a new monitor or a reload. */
static int condition_load(const struct sb_config *cfg, struct sb_model **model, int **labels,
                          size_t *rows, char *err, size_t errlen)
{
    char path[4096];
    int rc = sb_model_load(model, cfg->condition_model, err, errlen);
    if (rc)
        return rc;
    sb_condition_labels_path(cfg, path, sizeof(path));
    if ((rc = sb_condition_load_labels(path, labels, rows, err, errlen))) {
        sb_model_free(*model);
        *model = NULL;
    }
    return rc;
}

static int replay_new(struct sb_daemon *d, const struct sb_config *cfg, struct sb_replay **out,
                      char *err, size_t errlen)
{
    struct sb_source_sink sink = {.bind = sink_bind, .emit = sink_emit, .ud = d};
    return sb_replay_new(out, &d->loop, cfg, d->reg, &sink, err, errlen);
}

/* ---- HTTP ---- */

enum expo_format { EXPO_TEXT, EXPO_OPENMETRICS };

/* What /metrics offers, in the order of enum expo_format; text is the
 * default for a request whose Accept names neither. */
static const struct sb_http_media expo_media[] = {
    [EXPO_TEXT] = {"text/plain", "0.0.4"},
    [EXPO_OPENMETRICS] = {"application/openmetrics-text", "1.0.0"},
};

static void handle_metrics(void *ud, const struct sb_http_request *req,
                           struct sb_http_response *resp)
{
    struct sb_daemon *d = ud;
    int fmt = sb_http_negotiate(sb_http_request_header(req, "Accept"), expo_media,
                                SB_ARRAY_SIZE(expo_media));
    resp->content_type =
        fmt == EXPO_OPENMETRICS ? SB_OPENMETRICS_CONTENT_TYPE : SB_EXPOSITION_CONTENT_TYPE;
    /* A HEAD gets the headers of the format a GET would get, and the
     * collectors are not run for it. */
    if (sb_http_request_is_head(req))
        return;
    if (fmt == EXPO_OPENMETRICS) {
        sb_counter_add(d->renders[EXPO_OPENMETRICS], 1);
        sb_registry_expose_openmetrics(d->reg, &resp->body);
    } else {
        sb_counter_add(d->renders[EXPO_TEXT], 1);
        sb_registry_expose(d->reg, &resp->body);
    }
}

static void handle_healthz(void *ud, const struct sb_http_request *req,
                           struct sb_http_response *resp)
{
    (void)req;
    struct sb_daemon *d = ud;
    if (d->fatal) {
        resp->status = 503;
        sb_buf_printf(&resp->body, "%s\n", d->fatal);
    } else if (d->stopping) {
        resp->status = 503;
        sb_buf_puts(&resp->body, "stopping\n");
    } else {
        sb_buf_puts(&resp->body, "ok\n");
    }
}

/* Ready: the brokers answer, every topic exists, and a consumer holds its
 * group's assignment. What it waits for, so that STATUS= can say it. */
enum readiness { READY, WAIT_CLUSTER, WAIT_GROUP, NOT_READY };

static enum readiness readiness(const struct sb_daemon *d, const char **why)
{
    if (d->fatal) {
        *why = d->fatal;
        return NOT_READY;
    }
    if (d->stopping) {
        *why = "stopping";
        return NOT_READY;
    }
    if (!d->topics) {
        *why = "starting";
        return NOT_READY;
    }
    if (!sb_topics_ready(d->topics, why))
        return WAIT_CLUSTER;
    if (d->consumer && !sb_consumer_assigned(d->consumer)) {
        *why = "waiting for the consumer group to assign partitions";
        return WAIT_GROUP;
    }
    return READY;
}

static bool is_ready(const struct sb_daemon *d, const char **why)
{
    return readiness(d, why) == READY;
}

static void handle_readyz(void *ud, const struct sb_http_request *req,
                          struct sb_http_response *resp)
{
    (void)req;
    struct sb_daemon *d = ud;
    const char *why = "starting";
    if (is_ready(d, &why)) {
        sb_buf_puts(&resp->body, "ready\n");
    } else {
        resp->status = 503;
        sb_buf_printf(&resp->body, "not ready: %s\n", why);
    }
}

static void collect_ready(void *ud)
{
    struct sb_daemon *d = ud;
    const char *why;
    sb_gauge_set(d->ready, is_ready(d, &why));
}

static void handle_alerts(void *ud, const struct sb_http_request *req,
                          struct sb_http_response *resp)
{
    (void)req;
    struct sb_daemon *d = ud;
    resp->content_type = "application/json";
    if (d->analytics)
        sb_analytics_alerts_json(d->analytics, &resp->body);
    else
        sb_buf_puts(&resp->body, "{\"alerts\":[],\"capacity\":0}\n");
}

static void handle_diagnosis(void *ud, const struct sb_http_request *req,
                             struct sb_http_response *resp)
{
    (void)req;
    struct sb_daemon *d = ud;
    resp->content_type = "application/json";
    if (d->condition)
        sb_condition_json(d->condition, &resp->body);
    else
        sb_buf_puts(&resp->body, "{\"model\":null,\"diagnosed\":0,\"recent\":[]}");
    sb_buf_putc(&resp->body, '\n');
}

static void handle_windows(void *ud, const struct sb_http_request *req,
                           struct sb_http_response *resp)
{
    (void)req;
    struct sb_daemon *d = ud;
    resp->content_type = "application/json";
    if (d->analytics)
        sb_analytics_windows_json(d->analytics, &resp->body);
    else
        sb_buf_puts(&resp->body, "{\"windows\":[],\"open\":0}\n");
}

static void handle_status(void *ud, const struct sb_http_request *req,
                          struct sb_http_response *resp)
{
    (void)req;
    struct sb_daemon *d = ud;
    json_t *o = json_object();
    json_object_set_new(o, "version", json_string(SB_VERSION));
    json_object_set_new(o, "config", json_string(d->cfg.path ? d->cfg.path : ""));
    json_object_set_new(o, "uptime_seconds",
                        json_real((double)(sb_now_wall_us() - d->started_us) / 1e6));
    json_object_set_new(o, "brokers", json_string(d->bootstraps));
    json_object_set_new(o, "embedded_broker", json_boolean(d->broker != NULL));
    json_object_set_new(o, "topic_prefix", json_string(d->cfg.topic_prefix));
    json_object_set_new(o, "layout",
                        json_string(d->cfg.layout == SB_LAYOUT_SHARED ? "shared" : "per_sensor"));
    const char *why = NULL;
    bool ready = is_ready(d, &why);
    json_object_set_new(o, "ready", json_boolean(ready));
    json_object_set_new(o, "not_ready_reason", ready ? json_null() : json_string(why));
    if (d->topics)
        json_object_set_new(o, "topics", sb_topics_status(d->topics));
    json_t *prod = json_object();
    json_object_set_new(prod, "enabled", json_boolean(d->producer != NULL));
    if (d->producer)
        json_object_set_new(prod, "queue_messages",
                            json_integer(sb_producer_outq_len(d->producer)));
    json_object_set_new(o, "producer", prod);
    json_t *rep = json_object();
    json_object_set_new(rep, "enabled", json_boolean(d->replay != NULL));
    if (d->replay) {
        json_object_set_new(rep, "finished", json_boolean(sb_replay_finished(d->replay)));
        json_object_set_new(rep, "speed",
                            d->cfg.speed > 0 ? json_real(d->cfg.speed) : json_string("max"));
    }
    json_object_set_new(o, "replay", rep);
    json_t *con = d->consumer ? sb_consumer_status(d->consumer) : json_object();
    json_object_set_new(con, "enabled", json_boolean(d->consumer != NULL));
    if (d->consumer)
        json_object_set_new(con, "group_id", json_string(d->cfg.group_id));
    json_object_set_new(o, "consumer", con);
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    json_decref(o);
    resp->content_type = "application/json";
    sb_buf_puts(&resp->body, s);
    sb_buf_putc(&resp->body, '\n');
    free(s);
}

/* ---- systemd ---- */

/* The STATUS= line (sdnotify.h): what the daemon waits for, or how it
 * runs. Returns whether it is ready. */
static bool status_line(void *ud, char *out, size_t len)
{
    struct sb_daemon *d = ud;
    const char *why = "starting";
    enum readiness r = readiness(d, &why);
    if (r == READY && d->consumer) {
        /* consumed/s since the last call, about SB_SDNOTIFY_INTERVAL_MS ago */
        uint64_t n = sb_consumer_messages(d->consumer), now = sb_now_mono_ns();
        double rate = d->rate_ns && now > d->rate_ns
                          ? (double)(n - d->rate_messages) * 1e9 / (double)(now - d->rate_ns)
                          : 0;
        d->rate_messages = n;
        d->rate_ns = now;
        snprintf(out, len, "running: %.0f consumed/s, lag %" PRId64, rate,
                 sb_consumer_lag(d->consumer));
    } else if (r == READY) {
        snprintf(out, len, "running: producer only, %d messages queued",
                 d->producer ? sb_producer_outq_len(d->producer) : 0);
    } else if (r == WAIT_CLUSTER) {
        snprintf(out, len, "waiting for the brokers at %s: %s", d->bootstraps, why);
    } else if (r == WAIT_GROUP) {
        snprintf(out, len, "waiting for the group assignment (group %s)", d->cfg.group_id);
    } else {
        snprintf(out, len, "%s", why);
    }
    return r == READY;
}

/* ---- reload ---- */

static void closed_noop(void *ud)
{
    (void)ud;
}

static int create_topics(struct sb_daemon *d, const struct sb_config *cfg, char *err,
                         size_t errlen);
static void start_waiting(struct sb_daemon *d);

/* The event time the running sources have reached, rounded up to a whole
 * minute; -1 if there are none. */
static int64_t event_time_reached(const struct sb_daemon *d)
{
    const int64_t minute = 60ll * 1000000;
    int64_t t = -1;
    if (d->replay)
        t = sb_replay_event_time_us(d->replay);
    if (d->synth) {
        int64_t u = sb_synth_event_time_us(d->synth);
        if (u > t)
            t = u;
    }
    return t < 0 ? -1 : (t + minute - 1) / minute * minute;
}

static void reload(struct sb_daemon *d)
{
    char err[1024], why[1200];
    struct sb_config next;
    sb_sdnotify_reloading(d->sdnotify, d->cfg.path);
    sb_config_defaults(&next);
    int rc = sb_config_load(&next, d->cfg.path, err, sizeof(err));
    const char *key = NULL;
    /* The option table says what each changed key needs (config.h). */
    unsigned apply = rc ? 0 : sb_config_changes(&d->cfg, &next, &key);
    struct sb_replay *fresh_replay = NULL;
    struct sb_synth *fresh_synth = NULL;
    struct sb_model *fresh_model = NULL;
    int *fresh_labels = NULL;
    size_t fresh_rows = 0;
    bool new_replay = apply & SB_APPLY_REPLAY;
    bool new_synth = apply & SB_APPLY_SYNTH;
    /* All or nothing: no stage may leave a trace (series, topic handles,
     * topics) that a later stage's refusal would not undo. The replay goes
     * first because it reads its dataset only here, which makes it the one
     * stage a file that sb_config_load accepted can still fail; the later
     * ones repeat the loader's checks (or fail only if the embedded
     * cluster does). test_reload compares /metrics and the cluster's
     * topics across such a refusal. */
    if (rc) {
        sb_err("msg=\"reload refused, keeping the running configuration\" error=\"%s\"",
               sb_log_quote(err));
        snprintf(why, sizeof(why), "%s", err);
    } else if (key) {
        sb_err("msg=\"reload refused: key needs a restart, keeping the running "
               "configuration\" key=%s",
               key);
        snprintf(why, sizeof(why), "%s needs a restart", key);
        rc = -EINVAL;
    } else if (new_replay && next.replay_enabled && d->producer &&
               (rc = replay_new(d, &next, &fresh_replay, err, sizeof(err)))) {
        sb_err("msg=\"reload refused: new replay settings do not work, keeping the running "
               "configuration\" error=\"%s\"",
               sb_log_quote(err));
        snprintf(why, sizeof(why), "new replay settings do not work: %s", err);
    } else if (new_synth && d->producer &&
               ((d->broker && (rc = create_topics(d, &next, err, sizeof(err)))) ||
                (rc = synth_new(d, &next, &fresh_synth, err, sizeof(err))))) {
        sb_err("msg=\"reload refused: new synthetic sensors do not work, keeping the running "
               "configuration\" error=\"%s\"",
               sb_log_quote(err));
        snprintf(why, sizeof(why), "new synthetic sensors do not work: %s", err);
    } else if (!d->condition != !sb_config_condition_on(&next)) {
        sb_err("msg=\"reload refused: condition monitoring can be turned on or off only by a "
               "restart, keeping the running configuration\" key=condition.model");
        snprintf(why, sizeof(why), "condition.model: turning it on or off needs a restart");
        rc = -EINVAL;
    } else if (d->condition && (rc = condition_load(&next, &fresh_model, &fresh_labels, &fresh_rows,
                                                    err, sizeof(err)))) {
        sb_err("msg=\"reload refused: the condition model or labels do not load, keeping the "
               "running configuration\" error=\"%s\"",
               sb_log_quote(err));
        snprintf(why, sizeof(why), "condition model: %s", err);
    } else if (d->analytics && (apply & SB_APPLY_ALERTS) &&
               (rc = sb_analytics_set_rules(d->analytics, &next, err, sizeof(err)))) {
        sb_err("msg=\"reload refused: alert rules do not work, keeping the running "
               "configuration\" error=\"%s\"",
               sb_log_quote(err));
        snprintf(why, sizeof(why), "alert rules do not work: %s", err);
    }
    if (rc) {
        sb_model_free(fresh_model);
        free(fresh_labels);
        if (fresh_replay)
            sb_replay_close(fresh_replay, closed_noop, NULL);
        if (fresh_synth)
            sb_synth_close(fresh_synth, closed_noop, NULL);
        sb_counter_add(d->reloads_failed, 1);
        sb_config_free(&next);
        sb_sdnotify_reloaded(d->sdnotify, why);
        return;
    }
    /* Everything is validated: apply old -> new. New sources continue the
     * event time of the ones they replace (from the next whole minute, so
     * windows keep starting on cycle boundaries) instead of starting over
     * behind every sensor's watermark with event times already on the
     * topics. */
    if (fresh_replay || fresh_synth) {
        int64_t floor = event_time_reached(d);
        if (fresh_replay)
            sb_replay_set_epoch_floor(fresh_replay, floor);
        if (fresh_synth)
            sb_synth_set_epoch_floor(fresh_synth, floor);
    }
    if (apply & SB_APPLY_LOG_LEVEL)
        sb_log_level = next.log_level;
    if (d->condition)
        sb_condition_set_model(d->condition, fresh_model, fresh_labels, fresh_rows);
    if (d->consumer && (apply & SB_APPLY_CONSUMER))
        sb_consumer_reload(d->consumer, &next);
    if (d->flow && (apply & SB_APPLY_FLOW))
        sb_flow_set_max_lag(d->flow, next.max_consumer_lag);
    if (new_replay) {
        if (d->replay) {
            sb_replay_stop(d->replay);
            sb_replay_close(d->replay, closed_noop, NULL);
        }
        d->replay = fresh_replay;
        d->replay_started = false;
    } else if (d->replay && (apply & SB_APPLY_SPEED)) {
        sb_replay_set_speed(d->replay, next.speed);
    }
    if (new_synth) {
        if (d->synth) {
            sb_synth_stop(d->synth);
            sb_synth_close(d->synth, closed_noop, NULL);
        }
        d->synth = fresh_synth;
        d->synth_started = false;
    } else if (d->synth && (apply & SB_APPLY_SPEED)) {
        sb_synth_set_speed(d->synth, next.speed);
    }
    /* A new source reads coalesce_ms itself. */
    if (!new_replay && d->replay && (apply & SB_APPLY_COALESCE))
        sb_replay_set_coalesce(d->replay, next.coalesce_ms);
    if (!new_synth && d->synth && (apply & SB_APPLY_COALESCE))
        sb_synth_set_coalesce(d->synth, next.coalesce_ms);
    if (d->topics)
        sb_topics_set_required(d->topics, &next);
    sb_config_free(&d->cfg);
    d->cfg = next;
    start_waiting(d);
    sb_counter_add(d->reloads_ok, 1);
    sb_notice("msg=\"configuration reloaded\" config=%s", d->cfg.path);
    sb_sdnotify_reloaded(d->sdnotify, NULL);
}

/* ---- shutdown ---- */

static void handle_closed(uv_handle_t *h)
{
    (void)h;
}

static int budget_left_ms(uint64_t deadline_ns)
{
    uint64_t now = sb_now_mono_ns();
    return now >= deadline_ns ? 0 : (int)((deadline_ns - now) / 1000000u);
}

static void shutdown_daemon(struct sb_daemon *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = true;
    sb_sdnotify_stopping(d->sdnotify, "stopping");
    sb_notice("msg=\"stopping\" signal=%s", why);
    /* Order: stop sources -> flush the producer (bounded) -> commit and
     * close the consumer -> publish the open windows as partial -> flush
     * what the consumer's last messages published (aggregates, alerts) and
     * those windows -> stop HTTP -> close handles. The flushes and the
     * consumer close block, so no scrape runs in between. */
    if (d->replay)
        sb_replay_stop(d->replay);
    if (d->synth)
        sb_synth_stop(d->synth);
    /* One budget for both flushes and the consumer's final drain, so that
     * the stop fits the unit's TimeoutStopSec (docs/operations.md). */
    uint64_t deadline = sb_now_mono_ns() + (uint64_t)d->cfg.flush_timeout_ms * 1000000u;
    if (d->producer)
        sb_producer_flush(d->producer, budget_left_ms(deadline));
    if (d->consumer) {
        sb_consumer_close(d->consumer, deadline, closed_noop, NULL);
        d->consumer = NULL;
        /* Their samples are committed: published now, or the restart
         * would resume past samples that no aggregate holds. */
        sb_analytics_stop(d->analytics);
        if (d->producer)
            sb_producer_flush(d->producer, budget_left_ms(deadline));
    }
    if (d->topics) {
        sb_topics_close(d->topics, closed_noop, NULL);
        d->topics = NULL;
    }
    if (d->http) {
        sb_http_close(d->http, closed_noop, NULL);
        d->http = NULL;
    }
    if (d->statuspage) {
        sb_statuspage_close(d->statuspage, closed_noop, NULL);
        d->statuspage = NULL;
    }
    if (d->replay) {
        sb_replay_close(d->replay, closed_noop, NULL);
        d->replay = NULL;
    }
    if (d->synth) {
        sb_synth_close(d->synth, closed_noop, NULL);
        d->synth = NULL;
    }
    if (d->producer) {
        sb_producer_close(d->producer, closed_noop, NULL);
        d->producer = NULL;
    }
    uv_close((uv_handle_t *)&d->fatal_timer, handle_closed);
    sb_sdnotify_close(d->sdnotify, closed_noop, NULL);
    d->sdnotify = NULL;
    uv_close((uv_handle_t *)&d->sigint, handle_closed);
    uv_close((uv_handle_t *)&d->sigterm, handle_closed);
    uv_close((uv_handle_t *)&d->sighup, handle_closed);
}

static void fatal_stop(uv_timer_t *h)
{
    shutdown_daemon(h->data, "fatal Kafka error");
}

/* A librdkafka client hit a fatal error: every later produce (or fetch)
 * would fail, so nothing more is handed to it. The sources stop at once,
 * the daemon goes unready and unhealthy, and it stops with exit status 1
 * so that systemd (Restart=on-failure) starts it again with new clients;
 * it stops from a timer, not from inside librdkafka's poll. */
static void kafka_fatal(void *ud, const char *client, const char *why)
{
    struct sb_daemon *d = ud;
    if (d->fatal)
        return;
    struct sb_buf b = {0};
    sb_buf_printf(&b, "fatal Kafka %s error: %s", client, why);
    sb_buf_putc(&b, '\0');
    d->fatal = b.data;
    sb_counter_add(d->fatal_errors, 1);
    char quoted[640];
    snprintf(quoted, sizeof(quoted), "%s", why);
    sb_err("msg=\"fatal Kafka error: the client cannot go on, stopping with exit status 1\" "
           "client=%s error=\"%s\"",
           client, sb_log_quote(quoted));
    if (d->replay)
        sb_replay_stop(d->replay);
    if (d->synth)
        sb_synth_stop(d->synth);
    uv_timer_start(&d->fatal_timer, fatal_stop, 0, 0);
}

static void log_final_count(void *ud, size_t nlabels, const char *const *labelnames,
                            const char *const *labelvalues, double value)
{
    struct sb_buf b;
    sb_buf_init(&b);
    for (size_t i = 0; i < nlabels; i++)
        sb_buf_printf(&b, " %s=\"%s\"", labelnames[i], labelvalues[i]);
    sb_info("msg=\"final count\" metric=%s%s value=%.17g", (const char *)ud, b.data ? b.data : "",
            value);
    sb_buf_free(&b);
}

/* The last values of the counters that account for every sample, once the
 * flushes and the consumer's final drain are done: no scrape sees what
 * changed after the last one, so the log keeps it (docs/operations.md,
 * Stopping). The labels are sensor and topic names, which need no quoting
 * beyond the quotes. */
static void log_final_counts(struct sb_registry *reg)
{
    static const char *const names[] = {
        "sensorbridge_messages_produced_total",
        "sensorbridge_messages_delivered_total",
        "sensorbridge_messages_delivery_failed_total",
        "sensorbridge_sensor_samples_consumed_total",
        "sensorbridge_consumer_skipped_messages_total",
        "sensorbridge_consumer_messages_total",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        sb_registry_each_child(reg, names[i], log_final_count, (void *)names[i]);
}

static void signal_cb(uv_signal_t *h, int signum)
{
    struct sb_daemon *d = h->data;
    if (signum == SIGHUP)
        reload(d);
    else
        shutdown_daemon(d, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* ---- start-up ---- */

static void register_build_info(struct sb_daemon *d)
{
    const char *labels[] = {"version", "librdkafka", "libuv", "libmicrohttpd", "jansson"};
    const char *values[] = {SB_VERSION, rd_kafka_version_str(), uv_version_string(),
                            MHD_get_version(), JANSSON_VERSION};
    sb_gauge_set(sb_family_child(sb_registry_family(d->reg, SB_GAUGE, "sensorbridge_build_info",
                                                    "Versions of sensorbridge and its "
                                                    "libraries; always 1.",
                                                    5, labels, NULL, 0),
                                 values),
                 1);
    d->ready = sb_family_child(
        sb_registry_family(d->reg, SB_GAUGE, "sensorbridge_ready",
                           "1 if /readyz answers 200: the brokers answer, every topic exists and "
                           "a consumer holds its group's assignment; else 0.",
                           0, NULL, NULL, 0),
        NULL);
    const char *format[] = {"format"};
    struct sb_family *renders = sb_registry_family(
        d->reg, SB_COUNTER, "sensorbridge_http_metrics_renders_total",
        "Expositions of the registry built for /metrics, by format (text 0.0.4 or OpenMetrics "
        "1.0.0, as negotiated from the Accept header); a HEAD builds none.",
        1, format, NULL, 0);
    const char *text[] = {"text"}, *openmetrics[] = {"openmetrics"};
    d->renders[EXPO_TEXT] = sb_family_child(renders, text);
    d->renders[EXPO_OPENMETRICS] = sb_family_child(renders, openmetrics);
    d->fatal_errors = sb_family_child(
        sb_registry_family(d->reg, SB_COUNTER, "sensorbridge_kafka_fatal_errors_total",
                           "Fatal librdkafka errors; the daemon stops with exit status 1 after "
                           "one.",
                           0, NULL, NULL, 0),
        NULL);
    d->reloads_ok = sb_family_child(
        sb_registry_family(d->reg, SB_COUNTER, "sensorbridge_config_reloads_total",
                           "Configuration reloads (SIGHUP) applied.", 0, NULL, NULL, 0),
        NULL);
    d->reloads_failed = sb_family_child(
        sb_registry_family(d->reg, SB_COUNTER, "sensorbridge_config_reload_failures_total",
                           "Configuration reloads refused; the running configuration was kept.", 0,
                           NULL, NULL, 0),
        NULL);
}

/* Embedded mode: the mock cluster cannot serve CreateTopics, so the topics
 * the configuration needs are made up front (existing ones are left as
 * they are); the cluster watch then finds them. The cluster is this
 * daemon's own, so nobody else would make the sample topics: a consumer's
 * pattern gets them too, or it would start on nothing to match. */
static int create_topics(struct sb_daemon *d, const struct sb_config *cfg, char *err, size_t errlen)
{
    struct sb_namelist topics = {0};
    int rc = 0;
    sb_topics_add_samples(cfg, &topics);
    sb_topics_add_outputs(cfg, &topics);
    for (size_t i = 0; i < topics.n && !rc; i++)
        rc = sb_broker_create_topic(d->broker, topics.names[i], cfg->partitions, err, errlen);
    sb_namelist_free(&topics);
    return rc;
}

/* Starts what waits for the topics: the subscription and the sources
 * (whose samples would otherwise wait for a topic that may never come,
 * and then fail). Each starts once; a reload's new sources start here too. */
static void start_waiting(struct sb_daemon *d)
{
    char err[1024];
    if (d->stopping || !d->topics || !sb_topics_ready(d->topics, NULL))
        return;
    if (d->consumer && !d->consumer_started) {
        d->consumer_started = true;
        if (sb_consumer_start(d->consumer, err, sizeof(err)))
            sb_err("msg=\"consumer cannot subscribe\" error=\"%s\"", sb_log_quote(err));
    }
    if (d->replay && !d->replay_started) {
        d->replay_started = true;
        sb_replay_start(d->replay);
    }
    if (d->synth && !d->synth_started) {
        d->synth_started = true;
        sb_synth_start(d->synth);
    }
}

static void topics_ready(void *ud)
{
    struct sb_daemon *d = ud;
    sb_notice("msg=\"kafka cluster ready: every topic exists\" brokers=%s", d->bootstraps);
    start_waiting(d);
}

static int start(struct sb_daemon *d, char *err, size_t errlen)
{
    int rc;
    d->reg = sb_registry_new();
    sb_procstats_register(d->reg);
    register_build_info(d);

    if (sb_config_embedded(&d->cfg)) {
        if ((rc = sb_broker_new(&d->broker, d->cfg.embedded_brokers, err, errlen)) ||
            (rc = create_topics(d, &d->cfg, err, errlen)))
            return rc;
        d->bootstraps = sb_xstrdup(sb_broker_bootstraps(d->broker));
    } else {
        d->bootstraps = sb_xstrdup(d->cfg.brokers);
    }
    if ((rc = sb_topics_new(&d->topics, &d->loop, &d->cfg, d->bootstraps, d->broker == NULL, d->reg,
                            topics_ready, d, err, errlen)))
        return rc;

    if (d->cfg.producer_enabled) {
        if ((rc = sb_producer_new(&d->producer, &d->loop, &d->cfg, d->bootstraps, d->reg, err,
                                  errlen)))
            return rc;
        sb_producer_on_drain(d->producer, sources_may_go_on, d);
        sb_producer_on_fatal(d->producer, kafka_fatal, d);
        /* Only the outputs something will write: a topic handle asks the
         * cluster for the topic's metadata, which may auto-create it and
         * make every consumer group on the pattern rebalance. */
        if (d->cfg.consumer_enabled) {
            char aggregates[256], alerts[256];
            sb_analytics_topics(&d->cfg, aggregates, alerts, sizeof(aggregates));
            if (d->cfg.windows_enabled)
                d->out_aggregates = sb_producer_output(d->producer, aggregates);
            if (d->cfg.alerts_enabled)
                d->out_alerts = sb_producer_output(d->producer, alerts);
            if (sb_config_condition_on(&d->cfg)) {
                char diagnosis[256];
                sb_condition_topic(&d->cfg, diagnosis, sizeof(diagnosis));
                d->out_diagnosis = sb_producer_output(d->producer, diagnosis);
            }
        }
    }
    if (d->cfg.replay_enabled) {
        if (!d->producer)
            sb_warn("msg=\"replay is enabled but the producer is not: nothing is replayed\"");
        else if ((rc = replay_new(d, &d->cfg, &d->replay, err, errlen)))
            return rc;
    }
    if (d->cfg.nsynthetic && d->producer && (rc = synth_new(d, &d->cfg, &d->synth, err, errlen)))
        return rc;
    if (d->cfg.consumer_enabled) {
        d->ingest = sb_ingest_new(d->reg, (size_t)d->cfg.max_sensors);
        d->analytics = sb_analytics_new(&d->cfg, d->reg, publish, d, err, errlen);
        if (!d->analytics)
            return -EINVAL;
        if (sb_config_condition_on(&d->cfg)) {
            struct sb_model *model;
            int *labels;
            size_t rows;
            if ((rc = condition_load(&d->cfg, &model, &labels, &rows, err, errlen)))
                return rc;
            d->condition = sb_condition_new(model, labels, rows, (size_t)d->cfg.condition_max_open,
                                            (size_t)d->cfg.recent_alerts, d->reg, on_diagnosis, d);
            sb_analytics_set_condition(d->analytics, d->condition);
            sb_notice("msg=\"condition monitoring on\" model=%s components=%zu labels=%zu",
                      d->cfg.condition_model, sb_model_components(model), rows);
        }
        if (!d->producer && (d->cfg.windows_enabled || d->cfg.alerts_enabled))
            sb_notice("msg=\"the producer is disabled: windows and alerts are served on "
                      "/metrics and /api/v1 but not published to Kafka\"");
        if ((rc = sb_consumer_new(&d->consumer, &d->loop, &d->cfg, d->bootstraps, d->ingest,
                                  d->analytics, d->reg, err, errlen)))
            return rc;
        sb_consumer_on_fatal(d->consumer, kafka_fatal, d);
        /* The sources and the consumer share the broker: see flow.h. */
        if (d->producer) {
            d->flow = sb_flow_new(d->reg, d->cfg.max_consumer_lag, sources_may_go_on, d);
            sb_producer_set_flow(d->producer, d->flow);
            sb_consumer_set_flow(d->consumer, d->flow);
        }
    }
    if ((rc = sb_http_new(&d->http, &d->loop, d->cfg.listen, err, errlen)))
        return rc;
    sb_http_set_limits(d->http, (unsigned)d->cfg.http_max_connections,
                       (unsigned)(d->cfg.http_timeout_us / 1000000));
    sb_http_set_web_config(d->http, &d->cfg.web);
    d->statuspage = sb_statuspage_new(&d->loop, d->reg, &d->cfg);
    sb_statuspage_route(d->statuspage, d->http);
    sb_http_route(d->http, "/metrics", handle_metrics, d);
    sb_http_route(d->http, "/healthz", handle_healthz, d);
    sb_http_route(d->http, "/readyz", handle_readyz, d);
    sb_http_route(d->http, "/api/v1/status", handle_status, d);
    sb_http_route(d->http, "/api/v1/alerts", handle_alerts, d);
    sb_http_route(d->http, "/api/v1/windows", handle_windows, d);
    sb_http_route(d->http, "/api/v1/diagnosis", handle_diagnosis, d);
    if ((rc = sb_http_start(d->http, err, errlen)))
        return rc;
    sb_notice("msg=\"http listening\" listen=%s port=%u tls=%s basic_auth_users=%zu", d->cfg.listen,
              sb_http_port(d->http), sb_http_tls(d->http) ? "true" : "false", d->cfg.web.nusers);
    sb_statuspage_start(d->statuspage);

    sb_registry_add_collector(d->reg, collect_ready, d);
    sb_topics_start(d->topics);
    return 0;
}

int sb_daemon_main(const char *config_path)
{
    char err[1024];
    struct sb_daemon *d = sb_xcalloc(1, sizeof(*d));
    d->started_us = sb_now_wall_us();
    sb_config_defaults(&d->cfg);
    if (sb_config_load(&d->cfg, config_path, err, sizeof(err))) {
        sb_err("msg=\"invalid configuration\" error=\"%s\"", sb_log_quote(err));
        sb_config_free(&d->cfg);
        free(d);
        return 1;
    }
    sb_log_level = d->cfg.log_level;
    /* A scrape client that goes away mid-response must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&d->loop);
    uv_timer_init(&d->loop, &d->fatal_timer);
    d->fatal_timer.data = d;
    d->sdnotify = sb_sdnotify_new(&d->loop, status_line, d);
    uv_signal_init(&d->loop, &d->sigint);
    uv_signal_init(&d->loop, &d->sigterm);
    uv_signal_init(&d->loop, &d->sighup);
    d->sigint.data = d->sigterm.data = d->sighup.data = d;
    uv_signal_start(&d->sigint, signal_cb, SIGINT);
    uv_signal_start(&d->sigterm, signal_cb, SIGTERM);
    uv_signal_start(&d->sighup, signal_cb, SIGHUP);
    sb_notice("msg=\"starting\" version=%s config=%s", SB_VERSION, d->cfg.path);
    int status = 0;
    if (start(d, err, sizeof(err))) {
        sb_err("msg=\"start-up failed\" error=\"%s\"", sb_log_quote(err));
        char line[sizeof(err) + 32];
        snprintf(line, sizeof(line), "start-up failed: %s", err);
        sb_sdnotify_stopping(d->sdnotify, line);
        status = 1;
        shutdown_daemon(d, "start-up failure");
    } else {
        sb_notice("msg=\"running\" brokers=%s", d->bootstraps);
        sb_sdnotify_start(d->sdnotify);
    }
    uv_run(&d->loop, UV_RUN_DEFAULT);
    if (d->fatal)
        status = 1;
    int lc = uv_loop_close(&d->loop);
    if (lc) {
        sb_err("msg=\"handles left open at exit\" error=\"%s\"", uv_strerror(lc));
        status = 1;
    }
    /* librdkafka clients are gone; now the cluster they talked to. */
    sb_broker_free(d->broker);
    log_final_counts(d->reg);
    sb_flow_free(d->flow);
    sb_analytics_free(d->analytics);
    sb_condition_free(d->condition);
    sb_ingest_free(d->ingest);
    sb_registry_free(d->reg);
    sb_config_free(&d->cfg);
    free(d->bootstraps);
    free(d->fatal);
    free(d);
    if (status == 0)
        sb_notice("msg=\"stopped\"");
    return status;
}
