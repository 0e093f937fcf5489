/* topics.c - the cluster watch: brokers answer, topics exist (or are created). */
#include "sensorbridge/topics.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_util.h"
#include "sensorbridge/analytics.h"
#include "sensorbridge/log.h"
#include "sensorbridge/sensors.h"

/* A missing topic is logged when the set of missing topics changes, and
 * again at this interval while it stays. */
#define MISSING_LOG_INTERVAL_NS (60ull * 1000000000u)

/* One check, owned by the worker thread between uv_queue_work and its
 * after-work callback; the loop reads it only then. */
struct check {
    uv_work_t req;
    struct sb_topics *t;
    char **names; /* copies of t->required at submission */
    size_t n;
    bool create;
    rd_kafka_resp_err_t md_err; /* the metadata request's */
    bool *present;
    bool *created;
    char **create_err; /* why a creation failed; NULL = no failure */
};

struct sb_topics {
    uv_loop_t *loop;
    rd_kafka_t *rk;
    rd_kafka_queue_t *rq; /* CreateTopics results; yielded to cut a wait short */
    uv_timer_t timer;
    struct check *job; /* in flight, or NULL */
    bool closing;
    bool timer_closed;
    bool create;
    int partitions;
    int replication_factor;
    struct sb_kvlist configs; /* copied */
    char *bootstraps;
    struct sb_namelist required;
    uint64_t generation; /* bumped by set_required: a check of an older list is stale */
    uint64_t job_generation;
    /* The last complete check. */
    bool attempted; /* a check has finished, whatever it found */
    bool checked;   /* ... and the brokers answered it, for the current list */
    bool reachable;
    bool ready;
    struct sb_namelist missing;
    uint64_t ncreated;
    char why[1024];
    char *missing_logged; /* the missing set last logged, joined */
    uint64_t missing_logged_ns;
    struct sb_metric *m_reachable;
    struct sb_metric *m_missing;
    struct sb_metric *m_created;
    sb_topics_ready_cb ready_cb;
    void *ready_ud;
    void (*close_cb)(void *ud);
    void *close_ud;
};

static void list_add(struct sb_namelist *l, const char *name)
{
    l->names = sb_xrealloc(l->names, (l->n + 1) * sizeof(*l->names));
    l->names[l->n++] = sb_xstrdup(name);
}

void sb_topics_add_samples(const struct sb_config *cfg, struct sb_namelist *out)
{
    char topic[512];
    if (cfg->layout == SB_LAYOUT_SHARED) {
        sb_config_sample_topic(cfg, "", topic, sizeof(topic));
        list_add(out, topic);
        return;
    }
    size_t n;
    const struct sb_sensor_info *cat = sb_sensors_uci(&n);
    for (size_t i = 0; i < n; i++) {
        sb_config_sample_topic(cfg, cat[i].name, topic, sizeof(topic));
        list_add(out, topic);
    }
    for (size_t i = 0; i < cfg->nsynthetic; i++) {
        sb_config_sample_topic(cfg, cfg->synthetic[i].name, topic, sizeof(topic));
        list_add(out, topic);
    }
}

void sb_topics_add_outputs(const struct sb_config *cfg, struct sb_namelist *out)
{
    /* Only a daemon that both consumes and produces writes them. */
    if (!cfg->producer_enabled || !cfg->consumer_enabled)
        return;
    char aggregates[256], alerts[256];
    sb_analytics_topics(cfg, aggregates, alerts, sizeof(aggregates));
    if (cfg->windows_enabled)
        list_add(out, aggregates);
    if (cfg->alerts_enabled)
        list_add(out, alerts);
    if (sb_config_condition_on(cfg)) {
        char diagnosis[256];
        sb_condition_topic(cfg, diagnosis, sizeof(diagnosis));
        list_add(out, diagnosis);
    }
}

void sb_topics_required(const struct sb_config *cfg, struct sb_namelist *out)
{
    out->names = NULL;
    out->n = 0;
    /* A consumer of the per-sensor topics subscribes by pattern: it takes
     * whichever exist and needs none in particular. */
    if (cfg->producer_enabled || (cfg->consumer_enabled && cfg->layout == SB_LAYOUT_SHARED))
        sb_topics_add_samples(cfg, out);
    sb_topics_add_outputs(cfg, out);
}

/* ---- the check, on a worker thread ---- */

static void create_missing(struct sb_topics *t, struct check *c)
{
    char errstr[512];
    size_t nnew = 0;
    rd_kafka_NewTopic_t **nt = sb_xcalloc(c->n ? c->n : 1, sizeof(*nt));
    size_t *idx = sb_xcalloc(c->n ? c->n : 1, sizeof(*idx));
    for (size_t i = 0; i < c->n; i++) {
        if (c->present[i])
            continue;
        rd_kafka_NewTopic_t *x = rd_kafka_NewTopic_new(
            c->names[i], t->partitions, t->replication_factor, errstr, sizeof(errstr));
        if (!x) {
            c->create_err[i] = sb_xstrdup(errstr);
            continue;
        }
        for (size_t k = 0; k < t->configs.n; k++)
            rd_kafka_NewTopic_set_config(x, t->configs.items[k].key, t->configs.items[k].value);
        idx[nnew] = i;
        nt[nnew++] = x;
    }
    if (nnew) {
        rd_kafka_AdminOptions_t *opt =
            rd_kafka_AdminOptions_new(t->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_request_timeout(opt, SB_TOPICS_CREATE_TIMEOUT_MS, errstr,
                                                  sizeof(errstr));
        rd_kafka_AdminOptions_set_operation_timeout(opt, SB_TOPICS_CREATE_TIMEOUT_MS, errstr,
                                                    sizeof(errstr));
        rd_kafka_CreateTopics(t->rk, nt, nnew, opt, t->rq);
        rd_kafka_AdminOptions_destroy(opt);
        /* The request times out by itself; the margin covers the queueing.
         * A close yields the queue and ends the wait at once (NULL). */
        rd_kafka_event_t *ev = rd_kafka_queue_poll(t->rq, SB_TOPICS_CREATE_TIMEOUT_MS + 2000);
        const rd_kafka_CreateTopics_result_t *res =
            ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
        if (!res) {
            for (size_t k = 0; k < nnew; k++)
                c->create_err[idx[k]] = sb_xstrdup(ev ? rd_kafka_event_error_string(ev)
                                                      : "no answer to CreateTopics in time");
        } else if (rd_kafka_event_error(ev)) {
            for (size_t k = 0; k < nnew; k++)
                c->create_err[idx[k]] = sb_xstrdup(rd_kafka_event_error_string(ev));
        } else {
            size_t nres;
            const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &nres);
            for (size_t r = 0; r < nres; r++) {
                const char *name = rd_kafka_topic_result_name(tr[r]);
                rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[r]);
                for (size_t k = 0; k < nnew; k++) {
                    size_t i = idx[k];
                    if (strcmp(c->names[i], name) != 0)
                        continue;
                    if (!e) {
                        /* Present once metadata shows it: a subscription
                         * made before would only yield errors. */
                        c->created[i] = true;
                    } else if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                        /* Another instance was quicker. */
                        c->present[i] = true;
                    } else {
                        const char *s = rd_kafka_topic_result_error_string(tr[r]);
                        c->create_err[i] = sb_xstrdup(s && *s ? s : rd_kafka_err2str(e));
                    }
                }
            }
        }
        if (ev)
            rd_kafka_event_destroy(ev);
    }
    rd_kafka_NewTopic_destroy_array(nt, nnew);
    free(nt);
    free(idx);
}

static void check_work(uv_work_t *req)
{
    struct check *c = req->data;
    struct sb_topics *t = c->t;
    const struct rd_kafka_metadata *md = NULL;
    /* All topics: a request naming topics could make a broker with
     * auto.create.topics.enable create them, which sensorbridge must not
     * depend on. */
    c->md_err = rd_kafka_metadata(t->rk, 1, NULL, &md, SB_TOPICS_METADATA_TIMEOUT_MS);
    if (c->md_err)
        return;
    for (size_t i = 0; i < c->n; i++)
        for (int k = 0; k < md->topic_cnt; k++)
            if (!md->topics[k].err && strcmp(md->topics[k].topic, c->names[i]) == 0)
                c->present[i] = true;
    rd_kafka_metadata_destroy(md);
    if (c->create)
        create_missing(t, c);
}

/* ---- back on the loop ---- */

static void arm(struct sb_topics *t, uint64_t ms);
static void finish_close(struct sb_topics *t);

static void free_check(struct check *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->names[i]);
        free(c->create_err[i]);
    }
    free(c->names);
    free(c->create_err);
    free(c->present);
    free(c->created);
    free(c);
}

/* The command that creates a topic by hand, with the settings
 * sensorbridge would have used. */
static void create_command(const struct sb_topics *t, const char *topic, struct sb_buf *b)
{
    sb_buf_printf(b, "kafka-topics.sh --bootstrap-server %s --create --topic %s --partitions %d",
                  t->bootstraps, topic, t->partitions);
    if (t->replication_factor > 0)
        sb_buf_printf(b, " --replication-factor %d", t->replication_factor);
    for (size_t k = 0; k < t->configs.n; k++)
        sb_buf_printf(b, " --config %s=%s", t->configs.items[k].key, t->configs.items[k].value);
}

static void log_missing(struct sb_topics *t, const struct check *c)
{
    struct sb_buf set = {0};
    for (size_t i = 0; i < t->missing.n; i++)
        sb_buf_printf(&set, "%s%s", i ? "," : "", t->missing.names[i]);
    sb_buf_putc(&set, '\0');
    uint64_t now = sb_now_mono_ns();
    bool same = t->missing_logged && strcmp(t->missing_logged, set.data) == 0;
    if (same && now - t->missing_logged_ns < MISSING_LOG_INTERVAL_NS) {
        free(set.data);
        return;
    }
    free(t->missing_logged);
    t->missing_logged = set.data;
    t->missing_logged_ns = now;
    for (size_t i = 0; i < c->n; i++) {
        /* Just created: present at the next check. */
        if (c->present[i] || c->created[i])
            continue;
        struct sb_buf cmd = {0};
        create_command(t, c->names[i], &cmd);
        sb_buf_putc(&cmd, '\0');
        if (c->create_err[i])
            sb_err("msg=\"cannot create topic; not ready until it exists\" topic=%s error=\"%s\" "
                   "create_with=\"%s\"",
                   c->names[i], sb_log_quote(c->create_err[i]), sb_log_quote(cmd.data));
        else
            sb_warn("msg=\"topic missing and create_topics = false; not ready until it exists\" "
                    "topic=%s create_with=\"%s\"",
                    c->names[i], sb_log_quote(cmd.data));
        free(cmd.data);
    }
}

static void check_done(uv_work_t *req, int status)
{
    struct check *c = req->data;
    struct sb_topics *t = c->t;
    t->job = NULL;
    (void)status;
    if (t->closing) {
        free_check(c);
        finish_close(t);
        return;
    }
    bool stale = t->job_generation != t->generation;
    size_t ncreated = 0;
    bool was_reachable = t->reachable || !t->attempted;
    t->attempted = true;
    t->reachable = c->md_err == RD_KAFKA_RESP_ERR_NO_ERROR;
    /* The topics were looked at only if the brokers answered. */
    t->checked = !stale && t->reachable;
    sb_gauge_set(t->m_reachable, t->reachable);
    if (!t->reachable) {
        snprintf(t->why, sizeof(t->why), "the brokers do not answer: %s",
                 rd_kafka_err2str(c->md_err));
        if (was_reachable)
            sb_err("msg=\"kafka cluster unreachable; not ready\" bootstraps=%s error=\"%s\"",
                   t->bootstraps, rd_kafka_err2str(c->md_err));
    } else if (!stale) {
        if (!was_reachable)
            sb_notice("msg=\"kafka cluster reachable again\" bootstraps=%s", t->bootstraps);
        sb_namelist_free(&t->missing);
        for (size_t i = 0; i < c->n; i++) {
            if (c->created[i]) {
                ncreated++;
                t->ncreated++;
                sb_counter_add(t->m_created, 1);
                char rf[16] = "default";
                if (t->replication_factor > 0)
                    snprintf(rf, sizeof(rf), "%d", t->replication_factor);
                sb_notice("msg=\"topic created\" topic=%s partitions=%d replication_factor=%s "
                          "configs=%zu",
                          c->names[i], t->partitions, rf, t->configs.n);
            }
            if (!c->present[i]) {
                list_add(&t->missing, c->names[i]);
            }
        }
        sb_gauge_set(t->m_missing, (double)t->missing.n);
        if (ncreated && ncreated == t->missing.n) {
            snprintf(t->why, sizeof(t->why),
                     "%zu topic(s) just created, waiting for the cluster's metadata", ncreated);
        } else if (t->missing.n) {
            struct sb_buf b = {0};
            sb_buf_printf(&b, "%zu topic(s) missing:", t->missing.n);
            for (size_t i = 0; i < t->missing.n && b.len < sizeof(t->why) - 64; i++)
                sb_buf_printf(&b, " %s", t->missing.names[i]);
            sb_buf_puts(&b, t->create ? " (cannot create them, see the log)"
                                      : " (create_topics = false: create them, see the log)");
            snprintf(t->why, sizeof(t->why), "%.*s", (int)b.len, b.data);
            free(b.data);
            log_missing(t, c);
        } else {
            free(t->missing_logged);
            t->missing_logged = NULL;
        }
    }
    bool ready = t->checked && t->reachable && t->missing.n == 0;
    free_check(c);
    bool rose = ready && !t->ready;
    t->ready = ready;
    arm(t, stale      ? 0
           : ready    ? SB_TOPICS_RECHECK_MS
           : ncreated ? SB_TOPICS_CREATED_RECHECK_MS
                      : SB_TOPICS_RETRY_MS);
    if (rose && t->ready_cb)
        t->ready_cb(t->ready_ud);
}

static void submit(struct sb_topics *t)
{
    struct check *c = sb_xcalloc(1, sizeof(*c));
    c->t = t;
    c->n = t->required.n;
    c->names = sb_xcalloc(c->n ? c->n : 1, sizeof(*c->names));
    for (size_t i = 0; i < c->n; i++)
        c->names[i] = sb_xstrdup(t->required.names[i]);
    c->present = sb_xcalloc(c->n ? c->n : 1, sizeof(*c->present));
    c->created = sb_xcalloc(c->n ? c->n : 1, sizeof(*c->created));
    c->create_err = sb_xcalloc(c->n ? c->n : 1, sizeof(*c->create_err));
    c->create = t->create;
    c->req.data = c;
    t->job = c;
    t->job_generation = t->generation;
    /* libuv starts its pool threads on the first submission, and they
     * inherit this thread's signal mask: only the loop thread may take
     * SIGHUP, SIGINT and SIGTERM (see src/broker.c for why that matters). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    uv_queue_work(t->loop, &c->req, check_work, check_done);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void timer_cb(uv_timer_t *h)
{
    struct sb_topics *t = h->data;
    if (!t->job)
        submit(t);
}

static void arm(struct sb_topics *t, uint64_t ms)
{
    uv_timer_start(&t->timer, timer_cb, ms, 0);
}

/* Takes `next` over. */
static void set_required(struct sb_topics *t, struct sb_namelist next)
{
    sb_namelist_free(&t->required);
    t->required = next;
    t->generation++;
}

int sb_topics_new(struct sb_topics **out, uv_loop_t *loop, const struct sb_config *cfg,
                  const char *bootstraps, bool create, struct sb_registry *reg,
                  sb_topics_ready_cb cb, void *ud, char *err, size_t errlen)
{
    static const char *const defaults[] = {"client.id", "sensorbridge-admin", NULL};
    bool consumer_side = !cfg->producer_enabled;
    rd_kafka_conf_t *conf =
        sb_kafka_conf(defaults, NULL, sb_config_embedded(cfg), bootstraps,
                      consumer_side ? &cfg->consumer_props : &cfg->producer_props,
                      consumer_side ? "[consumer]" : "[producer]", err, errlen);
    if (!conf)
        return -EINVAL;
    char errstr[512];
    /* A consumer handle without group.id joins no group: it only serves
     * the metadata and admin requests, with the consumer's properties. */
    rd_kafka_t *rk = rd_kafka_new(consumer_side ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER, conf,
                                  errstr, sizeof(errstr));
    if (!rk) {
        snprintf(err, errlen, "%s: %s", consumer_side ? "[consumer]" : "[producer]", errstr);
        rd_kafka_conf_destroy(conf);
        return -EINVAL;
    }
    struct sb_topics *t = sb_xcalloc(1, sizeof(*t));
    t->loop = loop;
    t->rk = rk;
    t->rq = rd_kafka_queue_new(rk);
    t->create = create && cfg->create_topics;
    t->partitions = cfg->partitions;
    t->replication_factor = cfg->replication_factor;
    /* An empty value leaves the config to the broker: not sent. */
    for (size_t i = 0; i < cfg->topic_configs.n; i++) {
        const struct sb_kv *kv = &cfg->topic_configs.items[i];
        if (!*kv->value)
            continue;
        size_t n = t->configs.n;
        t->configs.items = sb_xrealloc(t->configs.items, (n + 1) * sizeof(*t->configs.items));
        t->configs.items[n].key = sb_xstrdup(kv->key);
        t->configs.items[n].value = sb_xstrdup(kv->value);
        t->configs.n = t->configs.cap = n + 1;
    }
    t->bootstraps = sb_xstrdup(bootstraps);
    sb_topics_required(cfg, &t->required);
    snprintf(t->why, sizeof(t->why), "the first check of the cluster has not finished");
    t->ready_cb = cb;
    t->ready_ud = ud;
    t->m_reachable = sb_family_child(
        sb_registry_family(reg, SB_GAUGE, "sensorbridge_kafka_cluster_reachable",
                           "1 if the brokers answered the last metadata request, else 0.", 0, NULL,
                           NULL, 0),
        NULL);
    t->m_missing = sb_family_child(
        sb_registry_family(reg, SB_GAUGE, "sensorbridge_kafka_topics_missing",
                           "Topics this configuration needs that the last check did not find "
                           "on the cluster.",
                           0, NULL, NULL, 0),
        NULL);
    t->m_created = sb_family_child(
        sb_registry_family(reg, SB_COUNTER, "sensorbridge_kafka_topics_created_total",
                           "Topics created through the Admin API.", 0, NULL, NULL, 0),
        NULL);
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    *out = t;
    return 0;
}

void sb_topics_start(struct sb_topics *t)
{
    arm(t, 0);
}

void sb_topics_set_required(struct sb_topics *t, const struct sb_config *cfg)
{
    struct sb_namelist next;
    sb_topics_required(cfg, &next);
    bool same = next.n == t->required.n;
    for (size_t i = 0; same && i < next.n; i++)
        same = strcmp(next.names[i], t->required.names[i]) == 0;
    if (same) {
        sb_namelist_free(&next);
        return;
    }
    set_required(t, next);
    t->ready = false;
    t->checked = false;
    snprintf(t->why, sizeof(t->why), "checking the topics of the new configuration");
    if (!t->job)
        arm(t, 0);
}

bool sb_topics_ready(const struct sb_topics *t, const char **why)
{
    if (!t->ready && why)
        *why = t->why;
    return t->ready;
}

json_t *sb_topics_status(const struct sb_topics *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "checked", json_boolean(t->checked));
    json_object_set_new(o, "cluster_reachable", json_boolean(t->reachable));
    json_object_set_new(o, "create_topics", json_boolean(t->create));
    json_t *req = json_array();
    for (size_t i = 0; i < t->required.n; i++)
        json_array_append_new(req, json_string(t->required.names[i]));
    json_object_set_new(o, "required", req);
    json_t *miss = json_array();
    for (size_t i = 0; i < t->missing.n; i++)
        json_array_append_new(miss, json_string(t->missing.names[i]));
    json_object_set_new(o, "missing", miss);
    json_object_set_new(o, "created", json_integer((json_int_t)t->ncreated));
    return o;
}

static void timer_closed(uv_handle_t *h)
{
    struct sb_topics *t = h->data;
    t->timer_closed = true;
    finish_close(t);
}

static void finish_close(struct sb_topics *t)
{
    if (t->job || !t->timer_closed)
        return;
    rd_kafka_queue_destroy(t->rq);
    rd_kafka_destroy(t->rk);
    sb_namelist_free(&t->required);
    sb_namelist_free(&t->missing);
    for (size_t i = 0; i < t->configs.n; i++) {
        free(t->configs.items[i].key);
        free(t->configs.items[i].value);
    }
    free(t->configs.items);
    free(t->bootstraps);
    free(t->missing_logged);
    void (*cb)(void *) = t->close_cb;
    void *ud = t->close_ud;
    free(t);
    if (cb)
        cb(ud);
}

void sb_topics_close(struct sb_topics *t, void (*cb)(void *ud), void *ud)
{
    t->closing = true;
    t->close_cb = cb;
    t->close_ud = ud;
    if (t->job)
        rd_kafka_queue_yield(t->rq);
    uv_close((uv_handle_t *)&t->timer, timer_closed);
}
