/* producer.c - librdkafka producer served from the libuv loop. */
#include "sensorbridge/producer.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kafka_util.h"
#include "sensorbridge/flow.h"
#include "sensorbridge/log.h"
#include "sensorbridge/util.h"

#define POLL_INTERVAL_MS 1000 /* safety net besides the eventfd wake-ups */

struct sb_producer_topic {
    struct sb_producer_topic *next;
    char *sensor;
    size_t sensor_len;
    char *topic;
    /* Created at the first message (topic_handle), not here: a topic the
     * cluster watch creates does not exist yet when the sources register,
     * and librdkafka, told so, looks again only at its next 1-s scan while
     * the first messages wait (0.75 s of every benchmark start against a
     * new topic). By the first message the watch has seen it exist. */
    rd_kafka_topic_t *rkt;
    /* The loop time (uv_now, ms) of the last message stamped with
     * SB_HEADER_PRODUCED_US; none yet while `stamped` is false. */
    uint64_t stamped_ms;
    bool stamped;
    struct sb_metric *produced;
    struct sb_metric *delivered;
    struct sb_metric *failed;
    struct sb_metric *dropped; /* output topics only */
};

struct outbox_item {
    struct outbox_item *next;
    struct sb_producer_topic *t;
    char *key;
    char *json;
    size_t len;
    int64_t ts_us;
};

struct sb_producer {
    uv_loop_t *loop;
    rd_kafka_t *rk;
    rd_kafka_queue_t *mainq;
    int efd;
    uv_poll_t poll;
    uv_timer_t timer;
    int open_handles;
    struct sb_producer_topic *topics;
    struct sb_registry *reg;
    struct sb_family *f_produced;
    struct sb_family *f_delivered;
    struct sb_family *f_failed;
    struct sb_family *f_out_produced;
    struct sb_family *f_out_delivered;
    struct sb_family *f_out_failed;
    struct sb_family *f_out_dropped;
    struct outbox_item *outbox_head, *outbox_tail;
    size_t outbox_len;
    struct sb_metric *queue_full;
    struct sb_metric *queue_len;
    long queue_max;
    bool full;
    sb_producer_drain_cb drain_cb;
    void *drain_ud;
    sb_kafka_fatal_cb fatal_cb;
    void *fatal_ud;
    struct sb_flow *flow;
    struct sb_ratelimit err_rl;
    struct sb_ratelimit dr_rl;
    void (*close_cb)(void *ud);
    void *close_ud;
};

/* sensorbridge's producer defaults; kafka.* keys in [producer] override them.
 * message.timeout.ms=0 makes librdkafka retry for ever, so a broker outage
 * fills the queue (and pauses the sources) instead of dropping samples.
 * One request in flight per broker: librdkafka's idempotent producer takes
 * a later batch's success as proof that a partition's earlier batches were
 * written, and a broker takes any first sequence number from a producer id
 * it holds no state for, so a first request refused with a retriable error
 * while a second was in flight was reported delivered and never written
 * (a new topic on Apache Kafka 4.4 lost a sensor's first 3 samples; the
 * test refused_first_request_is_sent_again in test_producer). */
static const char *const producer_defaults[] = {
    "client.id",
    "sensorbridge-producer",
    "enable.idempotence",
    "true",
    "max.in.flight.requests.per.connection",
    "1",
    "compression.codec",
    "lz4",
    "linger.ms",
    "5",
    "batch.num.messages",
    "10000",
    "queue.buffering.max.messages",
    "100000",
    "message.timeout.ms",
    "0",
    NULL,
};

/* The embedded mock cluster finds a fetch offset by a linear scan over a
 * partition's message sets and returns one set per fetch, so its CPU cost
 * is (sets produced per second) x (sets retained, up to 5 MiB per
 * partition). In the per-sensor layout lingering 500 ms puts ~50 samples of
 * a 100 Hz sensor in a set instead of one, cutting that product by ~2500;
 * with 5 ms the mock's thread climbed past half a core within minutes of a
 * real-time replay (see docs/performance.md). In the shared layout a
 * wake-up of the sources is one set per partition for every sensor, so the
 * sets are few and large, and the producer lingers 5 ms as with a real
 * broker. */
static const char *const producer_embedded_defaults[] = {
    "linger.ms",
    "500",
    NULL,
};

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct sb_producer *p = opaque;
    struct sb_producer_topic *t = m->_private;
    (void)rk;
    if (!m->err) {
        sb_counter_add(t->delivered, 1);
        if (p->flow && !t->dropped)
            sb_flow_delivered(p->flow, rd_kafka_topic_name(m->rkt), m->partition, m->offset);
        return;
    }
    sb_counter_add(t->failed, 1);
    uint64_t suppressed = 0;
    if (sb_ratelimit_ok(&p->dr_rl, sb_now_mono_ns(), &suppressed))
        sb_err("msg=\"delivery failed\" sensor=%s error=\"%s\" suppressed=%" PRIu64, t->sensor,
               rd_kafka_err2str(m->err), suppressed);
}

/* Served on the loop by rd_kafka_poll. Without an error callback librdkafka
 * would only log a fatal error, and every later produce would fail. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct sb_producer *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[640];
        sb_kafka_fatal_describe(rk, why, sizeof(why));
        if (p->fatal_cb)
            p->fatal_cb(p->fatal_ud, "producer", why);
        return;
    }
    uint64_t suppressed = 0;
    if (sb_ratelimit_ok(&p->err_rl, sb_now_mono_ns(), &suppressed))
        sb_warn("msg=\"kafka producer error\" error=%s reason=\"%s\" suppressed=%" PRIu64,
                rd_kafka_err2name((rd_kafka_resp_err_t)err), reason, suppressed);
}

/* In the shared layout every sensor names the same topic: librdkafka hands
 * out one handle per name and counts the references. */
static rd_kafka_topic_t *topic_handle(struct sb_producer *p, struct sb_producer_topic *t)
{
    if (!t->rkt)
        t->rkt = rd_kafka_topic_new(p->rk, t->topic, NULL);
    return t->rkt;
}

static rd_kafka_resp_err_t produce_json(struct sb_producer *p, struct sb_producer_topic *t,
                                        const char *key, const char *json, size_t len,
                                        int64_t ts_us)
{
    return rd_kafka_producev(
        p->rk, RD_KAFKA_V_RKT(topic_handle(p, t)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)json, len),
        RD_KAFKA_V_TIMESTAMP(ts_us / 1000), RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
}

/* Sends what waits in the outbox, oldest first. Returns true once it is
 * empty. */
static bool flush_outbox(struct sb_producer *p)
{
    while (p->outbox_head) {
        struct outbox_item *it = p->outbox_head;
        rd_kafka_resp_err_t e = produce_json(p, it->t, it->key, it->json, it->len, it->ts_us);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return false;
        sb_counter_add(e ? it->t->failed : it->t->produced, 1);
        p->outbox_head = it->next;
        if (!p->outbox_head)
            p->outbox_tail = NULL;
        p->outbox_len--;
        free(it->key);
        free(it->json);
        free(it);
    }
    return true;
}

static void serve(struct sb_producer *p)
{
    /* The eventfd is written only on empty -> non-empty, so drain the
     * queue completely every time. */
    uint64_t junk;
    while (read(p->efd, &junk, sizeof(junk)) > 0)
        ;
    while (rd_kafka_poll(p->rk, 0) > 0)
        ;
    if (!flush_outbox(p))
        return;
    if (p->full && rd_kafka_outq_len(p->rk) <= p->queue_max / 2) {
        p->full = false;
        if (p->drain_cb)
            p->drain_cb(p->drain_ud);
    }
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    serve(h->data);
}

static void timer_cb(uv_timer_t *h)
{
    serve(h->data);
}

static void collect(void *ud)
{
    struct sb_producer *p = ud;
    sb_gauge_set(p->queue_len, rd_kafka_outq_len(p->rk));
}

int sb_producer_new(struct sb_producer **out, uv_loop_t *loop, const struct sb_config *cfg,
                    const char *bootstraps, struct sb_registry *reg, char *err, size_t errlen)
{
    char errstr[512];
    rd_kafka_conf_t *conf = sb_kafka_conf(
        producer_defaults, cfg->layout == SB_LAYOUT_SHARED ? NULL : producer_embedded_defaults,
        sb_config_embedded(cfg), bootstraps, &cfg->producer_props, "[producer]", err, errlen);
    if (!conf)
        return -EINVAL;
    char qmax[32];
    size_t qmax_len = sizeof(qmax);
    rd_kafka_conf_get(conf, "queue.buffering.max.messages", qmax, &qmax_len);

    struct sb_producer *p = sb_xcalloc(1, sizeof(*p));
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!p->rk) {
        snprintf(err, errlen, "[producer]: %s", errstr);
        rd_kafka_conf_destroy(conf);
        free(p);
        return -EINVAL;
    }
    p->queue_max = strtol(qmax, NULL, 10);
    if (p->queue_max <= 0)
        p->queue_max = 100000;
    p->loop = loop;
    p->reg = reg;
    p->dr_rl.interval_ns = 10ull * 1000000000u;
    p->err_rl.interval_ns = 10ull * 1000000000u;

    const char *sensor_label[] = {"sensor"};
    p->f_produced = sb_registry_family(reg, SB_COUNTER, "sensorbridge_messages_produced_total",
                                       "Sample messages handed to the Kafka producer, by sensor.",
                                       1, sensor_label, NULL, 0);
    p->f_delivered = sb_registry_family(
        reg, SB_COUNTER, "sensorbridge_messages_delivered_total",
        "Sample messages the Kafka cluster acknowledged, by sensor.", 1, sensor_label, NULL, 0);
    p->f_failed = sb_registry_family(
        reg, SB_COUNTER, "sensorbridge_messages_delivery_failed_total",
        "Sample messages whose delivery failed permanently, by sensor.", 1, sensor_label, NULL, 0);
    const char *topic_label[] = {"topic"};
    p->f_out_produced =
        sb_registry_family(reg, SB_COUNTER, "sensorbridge_output_messages_produced_total",
                           "Aggregate and alert documents handed to the Kafka producer, by topic.",
                           1, topic_label, NULL, 0);
    p->f_out_delivered = sb_registry_family(
        reg, SB_COUNTER, "sensorbridge_output_messages_delivered_total",
        "Aggregate and alert documents the Kafka cluster acknowledged, by topic.", 1, topic_label,
        NULL, 0);
    p->f_out_failed = sb_registry_family(
        reg, SB_COUNTER, "sensorbridge_output_messages_delivery_failed_total",
        "Aggregate and alert documents whose delivery failed permanently, by topic.", 1,
        topic_label, NULL, 0);
    p->f_out_dropped = sb_registry_family(
        reg, SB_COUNTER, "sensorbridge_output_messages_dropped_total",
        "Aggregate and alert documents dropped because the outbox was full, by topic.", 1,
        topic_label, NULL, 0);
    p->queue_full = sb_family_child(
        sb_registry_family(reg, SB_COUNTER, "sensorbridge_producer_queue_full_total",
                           "Times the producer queue was full and the sources were paused.", 0,
                           NULL, NULL, 0),
        NULL);
    p->queue_len =
        sb_family_child(sb_registry_family(reg, SB_GAUGE, "sensorbridge_producer_queue_messages",
                                           "Messages waiting in the producer queue or in flight.",
                                           0, NULL, NULL, 0),
                        NULL);

    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        int e = errno;
        snprintf(err, errlen, "[producer]: eventfd: %s", strerror(e));
        rd_kafka_destroy(p->rk);
        free(p);
        return -e;
    }
    static const uint64_t one = 1;
    p->mainq = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(p->mainq, p->efd, &one, sizeof(one));
    uv_poll_init(loop, &p->poll, p->efd);
    p->poll.data = p;
    uv_poll_start(&p->poll, UV_READABLE, poll_cb);
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, timer_cb, POLL_INTERVAL_MS, POLL_INTERVAL_MS);
    p->open_handles = 2;
    /* Registered last: a failed start must leave no callback behind. */
    sb_registry_add_collector(reg, collect, p);
    sb_info("msg=\"producer started\" bootstraps=%s queue_max=%ld", bootstraps, p->queue_max);
    *out = p;
    return 0;
}

void sb_producer_on_drain(struct sb_producer *p, sb_producer_drain_cb cb, void *ud)
{
    p->drain_cb = cb;
    p->drain_ud = ud;
}

void sb_producer_set_flow(struct sb_producer *p, struct sb_flow *f)
{
    p->flow = f;
}

void sb_producer_on_fatal(struct sb_producer *p, sb_kafka_fatal_cb cb, void *ud)
{
    p->fatal_cb = cb;
    p->fatal_ud = ud;
}

struct sb_producer_topic *sb_producer_topic(struct sb_producer *p, const char *sensor,
                                            const char *topic)
{
    for (struct sb_producer_topic *t = p->topics; t; t = t->next)
        if (!t->dropped && strcmp(t->sensor, sensor) == 0)
            return t;
    struct sb_producer_topic *t = sb_xcalloc(1, sizeof(*t));
    t->sensor = sb_xstrdup(sensor);
    t->sensor_len = strlen(sensor);
    t->topic = sb_xstrdup(topic);
    const char *lv[] = {sensor};
    t->produced = sb_family_child(p->f_produced, lv);
    t->delivered = sb_family_child(p->f_delivered, lv);
    t->failed = sb_family_child(p->f_failed, lv);
    t->next = p->topics;
    p->topics = t;
    return t;
}

struct sb_producer_topic *sb_producer_output(struct sb_producer *p, const char *topic)
{
    for (struct sb_producer_topic *t = p->topics; t; t = t->next)
        if (t->dropped && strcmp(t->sensor, topic) == 0)
            return t;
    struct sb_producer_topic *t = sb_xcalloc(1, sizeof(*t));
    t->sensor = sb_xstrdup(topic);
    t->sensor_len = strlen(topic);
    t->topic = sb_xstrdup(topic);
    const char *lv[] = {topic};
    t->produced = sb_family_child(p->f_out_produced, lv);
    t->delivered = sb_family_child(p->f_out_delivered, lv);
    t->failed = sb_family_child(p->f_out_failed, lv);
    t->dropped = sb_family_child(p->f_out_dropped, lv);
    t->next = p->topics;
    p->topics = t;
    return t;
}

void sb_producer_send_json(struct sb_producer *p, struct sb_producer_topic *t, const char *key,
                           const char *json, size_t len, int64_t ts_us)
{
    if (!p->outbox_head) {
        rd_kafka_resp_err_t e = produce_json(p, t, key, json, len, ts_us);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            sb_counter_add(e ? t->failed : t->produced, 1);
            if (e)
                sb_err("msg=\"produce failed\" topic=%s error=\"%s\"", t->sensor,
                       rd_kafka_err2str(e));
            return;
        }
        p->full = true;
    }
    if (p->outbox_len >= SB_PRODUCER_OUTBOX_MAX) {
        sb_counter_add(t->dropped, 1);
        uint64_t suppressed = 0;
        if (sb_ratelimit_ok(&p->dr_rl, sb_now_mono_ns(), &suppressed))
            sb_err("msg=\"outbox full, document dropped\" topic=%s bound=%d "
                   "suppressed=%" PRIu64,
                   t->sensor, SB_PRODUCER_OUTBOX_MAX, suppressed);
        return;
    }
    struct outbox_item *it = sb_xcalloc(1, sizeof(*it));
    it->t = t;
    it->key = sb_xstrdup(key);
    it->json = sb_xstrndup(json, len);
    it->len = len;
    it->ts_us = ts_us;
    if (p->outbox_tail)
        p->outbox_tail->next = it;
    else
        p->outbox_head = it;
    p->outbox_tail = it;
    p->outbox_len++;
}

int sb_producer_send(struct sb_producer *p, struct sb_producer_topic *t, const struct sb_sample *s)
{
    /* Waiting documents go first; until they are out, the sources wait. */
    if (p->outbox_head && !flush_outbox(p)) {
        p->full = true;
        return -EAGAIN;
    }
    char stack[512];
    char *buf = stack;
    size_t n = sb_codec_encode(s, stack, sizeof(stack));
    if (n >= sizeof(stack)) {
        buf = sb_xmalloc(n + 1);
        sb_codec_encode(s, buf, n + 1);
    }
    /* One stamp per sensor per loop millisecond: the samples a source
     * hands over together share their hand-off time, and librdkafka's
     * header list (two allocations on each side) was a third of the CPU
     * per message when every sample carried one. */
    uint64_t now_ms = uv_now(p->loop);
    rd_kafka_headers_t *hdrs = NULL;
    if (!t->stamped || t->stamped_ms != now_ms) {
        char hdr[SB_FMT_I64_MAX];
        size_t hlen = sb_fmt_i64(hdr, sb_now_wall_us());
        hdrs = rd_kafka_headers_new(1);
        rd_kafka_header_add(hdrs, SB_HEADER_PRODUCED_US, -1, hdr, (ssize_t)hlen);
    }
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->rk, RD_KAFKA_V_RKT(topic_handle(p, t)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(t->sensor, t->sensor_len), RD_KAFKA_V_VALUE(buf, n),
        RD_KAFKA_V_TIMESTAMP(s->ts_us / 1000), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(t),
        RD_KAFKA_V_END);
    if (buf != stack)
        free(buf);
    if (hdrs && e) {
        rd_kafka_headers_destroy(hdrs); /* still ours when producev fails */
    } else if (hdrs) {
        t->stamped = true;
        t->stamped_ms = now_ms;
    }
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        if (!p->full) {
            p->full = true;
            sb_counter_add(p->queue_full, 1);
            sb_debug("msg=\"producer queue full, pausing sources\" queued=%d",
                     rd_kafka_outq_len(p->rk));
        }
        return -EAGAIN;
    }
    if (e) {
        sb_counter_add(t->failed, 1);
        uint64_t suppressed = 0;
        if (sb_ratelimit_ok(&p->dr_rl, sb_now_mono_ns(), &suppressed))
            sb_err("msg=\"produce failed\" sensor=%s error=\"%s\" suppressed=%" PRIu64, t->sensor,
                   rd_kafka_err2str(e), suppressed);
        return -EIO;
    }
    sb_counter_add(t->produced, 1);
    return 0;
}

int sb_producer_outq_len(const struct sb_producer *p)
{
    return rd_kafka_outq_len(p->rk);
}

int sb_producer_flush(struct sb_producer *p, int timeout_ms)
{
    /* The outbox drains as deliveries make room, within the same bound. */
    uint64_t deadline = sb_now_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    while (!flush_outbox(p) && sb_now_mono_ns() < deadline)
        rd_kafka_poll(p->rk, 10);
    int64_t left_ms = ((int64_t)deadline - (int64_t)sb_now_mono_ns()) / 1000000;
    rd_kafka_flush(p->rk, left_ms > 0 ? (int)left_ms : 0);
    int left = rd_kafka_outq_len(p->rk) + (int)p->outbox_len;
    if (left)
        sb_err("msg=\"producer flush timed out, messages not delivered\" left=%d timeout_ms=%d",
               left, timeout_ms);
    else
        sb_info("msg=\"producer flushed\"");
    return left;
}

static void handle_closed(uv_handle_t *h)
{
    struct sb_producer *p = h->data;
    if (--p->open_handles > 0)
        return;
    close(p->efd);
    void (*cb)(void *) = p->close_cb;
    void *ud = p->close_ud;
    free(p);
    if (cb)
        cb(ud);
}

void sb_producer_close(struct sb_producer *p, void (*cb)(void *ud), void *ud)
{
    /* The registry outlives us: no scrape may reach the client from here. */
    sb_registry_remove_collector(p->reg, collect, p);
    p->close_cb = cb;
    p->close_ud = ud;
    while (p->outbox_head) {
        struct outbox_item *it = p->outbox_head;
        p->outbox_head = it->next;
        free(it->key);
        free(it->json);
        free(it);
    }
    rd_kafka_queue_io_event_enable(p->mainq, -1, NULL, 0);
    rd_kafka_queue_destroy(p->mainq);
    while (p->topics) {
        struct sb_producer_topic *t = p->topics;
        p->topics = t->next;
        if (t->rkt)
            rd_kafka_topic_destroy(t->rkt);
        free(t->topic);
        free(t->sensor);
        free(t);
    }
    rd_kafka_destroy(p->rk);
    uv_close((uv_handle_t *)&p->poll, handle_closed);
    uv_close((uv_handle_t *)&p->timer, handle_closed);
}
