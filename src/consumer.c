/* consumer.c - librdkafka consumer group member served from the libuv loop. */
#include "sensorbridge/consumer.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kafka_util.h"
#include "sensorbridge/flow.h"
#include "sensorbridge/log.h"
#include "sensorbridge/producer.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

/* An idle consumer must still call rd_kafka_consumer_poll within
 * max.poll.interval.ms or the group evicts it. */
#define POLL_INTERVAL_MS 500

/* How often the poll timer looks for sensors silent past sensor_expiry: the
 * expiry takes effect within this much of its due time. */
#define EXPIRY_EVERY_NS (1000ull * 1000000u)

/* One turn of the loop spends at most this long applying messages, so a
 * backlog cannot hold up a scrape or the sources; the idle handle goes on
 * in the next turn. Checked once per group (CONSUME_GROUP). */
#define DRAIN_BUDGET_NS (5 * 1000000ull)

/* Messages taken from librdkafka at once (rd_kafka_consume_batch_queue)
 * and applied as one group: one wall-clock reading stamps them all, and
 * each partition's offset is stored and reported to the flow once, after
 * the whole group. The reading is taken when the group has been fetched,
 * before its first message is applied, so the end-to-end latency of a
 * message later in the group is short by at most the time the group takes
 * to apply: at about 1 us per message, 0.13 ms for 128, a quarter of the
 * latency histogram's smallest bucket (0.5 ms). */
#define CONSUME_GROUP 128

/* How long an assignment waits for its partitions' committed offsets. */
#define COMMITTED_TIMEOUT_MS 5000

/* How long the embedded broker's consumer waits for the metadata it takes
 * its partitions from (the cluster is in this process: milliseconds). */
#define MANUAL_METADATA_TIMEOUT_MS 5000

/* Every topic partition the consumer has been assigned, kept for the
 * daemon's lifetime (the cluster bounds their number): its index is the
 * ingest's origin of the samples read from it, and `next` is where its next
 * message should be, to count the offsets the consumer jumps over
 * (messages deleted before they were read). */
struct part {
    char *topic;
    int32_t partition;
    const rd_kafka_topic_t *rkt; /* cache, valid within one assignment */
    int64_t next;                /* -1 while unknown (see start_positions) */
    struct sb_metric *skipped;   /* by topic */
    bool revoked;                /* revoked, and its sensors not yet forgotten */
    /* The windows' run (window.h) of what is read from it now, and the
     * offset after the last message read from it, across assignments (-1
     * before the first): see follow(). */
    struct sb_window_run run;
    int64_t followed;
    bool output;     /* an aggregates or alerts topic: stored, not applied */
    int64_t applied; /* last offset applied in the current group, -1 if none */
    /* Paused for the condition monitor (see hold): its UCI sensor ran
     * ahead of the others in event time. */
    bool held;
    int held_uci;
};

struct sb_consumer {
    uv_loop_t *loop;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    int efd;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_idle_t idle; /* continues a drain that hit SB_CONSUMER_BATCH */
    int open_handles;
    bool strict;
    char **known; /* sorted synthetic sensor names accepted in strict mode */
    size_t nknown;
    uint32_t accepted_gen; /* of known, for the records' accepted_gen (sensortab.h) */
    char skip[3][256]; /* output topics: aggregates, alerts, diagnosis (part.output caches it) */
    uint64_t count;
    struct sb_ingest *ingest;
    struct sb_analytics *analytics;
    struct sb_registry *reg; /* holds our collector until close */
    struct sb_family *f_lag;
    struct sb_family *f_skipped;
    struct sb_metric *rebalances;
    struct sb_metric *errors;
    struct sb_metric *resets;
    struct sb_metric *m_pauses, *m_paused;
    size_t nheld;                 /* partitions held (part.held) */
    bool align;                   /* per-sensor topics: a partition carries one sensor */
    uint64_t group_ns;            /* monotonic time of the group being applied */
    atomic_uint_fast64_t nresets; /* counted on librdkafka's threads */
    bool from_oldest;             /* auto.offset.reset is earliest */
    struct part *parts;
    size_t nparts, capparts, lastpart;
    uint64_t runs;           /* run ids handed out */
    bool closing;            /* in sb_consumer_close: the daemon stops the windows */
    int64_t expiry_us;       /* [consumer] sensor_expiry; 0 = never */
    uint64_t last_expiry_ns; /* monotonic time of the last expiry pass */
    struct sb_ratelimit invalid_rl;
    struct sb_ratelimit error_rl;
    struct sb_ratelimit skip_rl;
    char subscription[512]; /* the samples topic, or a pattern of the per-sensor topics */
    char *group_id;
    char *bootstraps;
    bool assigned; /* holds an assignment (possibly empty) from the group */
    /* Embedded broker: the consumer is its group's only member and takes
     * the partitions itself (take_partitions) instead of joining. */
    bool manual;
    bool started;
    sb_kafka_fatal_cb fatal_cb;
    void *fatal_ud;
    struct sb_flow *flow;
    void (*close_cb)(void *ud);
    void *close_ud;
    /* The group being applied (see consume_group), and the partitions with
     * an offset to store once it is applied. */
    rd_kafka_message_t *group[CONSUME_GROUP];
    size_t touched[CONSUME_GROUP];
    size_t ntouched;
    /* A rebalance served inside rd_kafka_consume_batch_queue while
     * in_group: it waits until the messages fetched before it are applied
     * and stored (see rebalance_cb). */
    bool in_group;
    bool deferred;
    rd_kafka_resp_err_t deferred_err;
    rd_kafka_topic_partition_list_t *deferred_parts;
};

/* sensorbridge's consumer defaults; kafka.* keys in [consumer] override them. */
/* The embedded mock cluster holds an empty fetch for the full
 * fetch.wait.max.ms even when data arrives meanwhile (a real broker answers
 * at once). Each fetch scans the sets a partition retains (see producer.c):
 * in the shared layout there are few partitions of few large sets, and a
 * fetch every 50 ms costs the mock little. */
static const char *const consumer_embedded_shared_defaults[] = {
    "fetch.wait.max.ms",
    "50",
    NULL,
};

static const char *const consumer_defaults[] = {
    "client.id",
    "sensorbridge-consumer",
    "auto.offset.reset",
    "earliest",
    "enable.auto.offset.store",
    "false",
    "enable.auto.commit",
    "true",
    "auto.commit.interval.ms",
    "1000",
    "session.timeout.ms",
    "6000",
    "queued.min.messages",
    "1000000",
    "topic.metadata.refresh.interval.ms",
    "10000",
    /* A real broker holds a fetch only while every partition in it is
     * empty, but librdkafka 2.0.2 sends the next fetch only after that one
     * returns: partitions that start meanwhile (an assignment's, as their
     * offset lookups return) join only the next request. With librdkafka's
     * 500 ms the first fetch of an assignment, one empty partition, held
     * the other 75 of the per-sensor layout for half a second; the mock
     * holds every empty fetch this long, so it also bounds the latency
     * there. */
    "fetch.wait.max.ms",
    "100",
    NULL,
};

/* The bytes of the message's sb-produced-us header, or NULL if it has
 * none; the ingest decides what they are worth. A header without a value
 * is there, and empty. */
static const char *produced_header(const rd_kafka_message_t *m, size_t *len)
{
    rd_kafka_headers_t *hdrs = NULL;
    const void *val = NULL;
    *len = 0;
    if (rd_kafka_message_headers(m, &hdrs) || !hdrs ||
        rd_kafka_header_get_last(hdrs, SB_HEADER_PRODUCED_US, &val, len))
        return NULL;
    return val ? val : "";
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool known_sensor(const struct sb_consumer *c, const char *name)
{
    return sb_sensors_find(name) ||
           bsearch(&name, c->known, c->nknown, sizeof(*c->known), cmp_name) != NULL;
}

static void free_known(struct sb_consumer *c)
{
    for (size_t i = 0; i < c->nknown; i++)
        free(c->known[i]);
    free(c->known);
    c->known = NULL;
    c->nknown = 0;
}

static int take_partitions(struct sb_consumer *c, char *err, size_t errlen);

void sb_consumer_reload(struct sb_consumer *c, const struct sb_config *cfg)
{
    free_known(c);
    /* Every held sensor is checked again against the new names. */
    c->accepted_gen = c->accepted_gen == UINT32_MAX ? 1 : c->accepted_gen + 1;
    c->strict = cfg->strict_sensors;
    c->expiry_us = cfg->sensor_expiry_us;
    c->known = sb_xcalloc(cfg->nsynthetic ? cfg->nsynthetic : 1, sizeof(*c->known));
    for (size_t i = 0; i < cfg->nsynthetic; i++)
        c->known[i] = sb_xstrdup(cfg->synthetic[i].name);
    c->nknown = cfg->nsynthetic;
    qsort(c->known, c->nknown, sizeof(*c->known), cmp_name);
    char err[512];
    if (c->manual && c->started && take_partitions(c, err, sizeof(err)))
        sb_err("msg=\"the partitions of the reloaded configuration were not taken\" error=\"%s\"",
               sb_log_quote(err));
}

/* The entry of a topic partition, created on first sight. */
static size_t part_find(struct sb_consumer *c, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].partition == partition && strcmp(c->parts[i].topic, topic) == 0)
            return i;
    if (c->nparts == c->capparts) {
        c->capparts = c->capparts ? 2 * c->capparts : 32;
        c->parts = sb_xrealloc(c->parts, c->capparts * sizeof(*c->parts));
    }
    const char *lv[] = {topic};
    c->parts[c->nparts] =
        (struct part){.topic = sb_xstrdup(topic),
                      .partition = partition,
                      .next = -1,
                      .skipped = sb_family_child(c->f_skipped, lv),
                      .followed = -1,
                      .output = strcmp(topic, c->skip[0]) == 0 || strcmp(topic, c->skip[1]) == 0 ||
                                strcmp(topic, c->skip[2]) == 0,
                      .applied = -1};
    return c->nparts++;
}

/* The entry of a message's partition: by handle within an assignment (the
 * last one first: messages come in runs), by name otherwise. */
static size_t part_of(struct sb_consumer *c, const rd_kafka_message_t *m)
{
    struct part *p = c->lastpart < c->nparts ? &c->parts[c->lastpart] : NULL;
    if (p && p->rkt == m->rkt && p->partition == m->partition)
        return c->lastpart;
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].rkt == m->rkt && c->parts[i].partition == m->partition)
            return c->lastpart = i;
    size_t i = part_find(c, rd_kafka_topic_name(m->rkt), m->partition);
    c->parts[i].rkt = m->rkt;
    return c->lastpart = i;
}

/* Within an assignment, offsets follow each other; a jump forward means
 * the broker reset the position past messages it had deleted (retention
 * outran the consumer), or transaction control records. */
static void track_offset(struct sb_consumer *c, const rd_kafka_message_t *m, struct part *p)
{
    if (p->next >= 0 && m->offset > p->next) {
        int64_t n = m->offset - p->next;
        if (p->skipped)
            sb_counter_add(p->skipped, (double)n);
        uint64_t suppressed = 0;
        if (sb_ratelimit_ok(&c->skip_rl, sb_now_mono_ns(), &suppressed))
            sb_warn("msg=\"messages skipped: gone from the broker before they were read\" "
                    "topic=%s partition=%" PRId32 " from=%" PRId64 " to=%" PRId64 " count=%" PRId64
                    " suppressed=%" PRIu64,
                    rd_kafka_topic_name(m->rkt), m->partition, p->next, m->offset, n, suppressed);
    }
    p->next = m->offset + 1;
}

/* A run is what the consumer reads of a partition one message after the
 * other. A message that is not the one after the last it read from the
 * partition (a start from committed offsets, the partition back from
 * another member, offsets the broker deleted, a re-delivery) begins a new
 * run: the windows take its sensors to resume there. Only the run that
 * begins at offset 0 of a partition never read before has read everything
 * (from_start); forget_sensor takes that back when a sensor of it is
 * forgotten. */
static void follow(struct sb_consumer *c, struct part *p, int64_t offset)
{
    if (offset != p->followed) {
        p->run.id = ++c->runs;
        p->run.from_start = p->followed < 0 && offset == 0;
    }
    p->followed = offset + 1;
}

/* Pauses or resumes partition p (one of the assignment's). librdkafka drops
 * what it prefetched of a paused partition and fetches again from the
 * message after the last one the consumer took, so nothing is lost. */
static void pause_resume(struct sb_consumer *c, struct part *p, bool pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    rd_kafka_resp_err_t e =
        pause ? rd_kafka_pause_partitions(c->rk, l) : rd_kafka_resume_partitions(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e && pause)
        return;
    p->held = pause;
    if (pause) {
        c->nheld++;
        sb_counter_add(c->m_pauses, 1);
    } else {
        c->nheld--;
    }
    sb_gauge_set(c->m_paused, (double)c->nheld);
}

/* The condition monitor's alignment in event time (docs/condition.md): a
 * partition of the per-sensor layout whose UCI sensor ran ahead of the
 * others is paused until they catch up. In the shared layout a partition
 * carries many sensors, and pausing it would stop those behind too. */
static void hold(struct sb_consumer *c, struct part *p, int uci)
{
    if (c->align && !p->held && sb_analytics_ahead(c->analytics, uci, c->group_ns)) {
        p->held_uci = uci;
        pause_resume(c, p, true);
    }
}

/* Resumes the held partitions whose sensor is no longer ahead, or all of
 * them (before a rebalance: librdkafka keeps a partition paused across
 * one). */
static void release(struct sb_consumer *c, bool all)
{
    for (size_t i = 0; c->nheld && i < c->nparts; i++) {
        struct part *p = &c->parts[i];
        if (p->held && (all || !sb_analytics_ahead(c->analytics, p->held_uci, c->group_ns)))
            pause_resume(c, p, false);
    }
}

/* Applies one message of a group; now_us is the group's wall time. Its
 * offset is stored with the group's (store_group). */
static void handle_message(struct sb_consumer *c, rd_kafka_message_t *m, int64_t now_us)
{
    if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            return;
        /* A pattern that matches no topic yet (the producer has not made
         * them) is a state, not an error: the topics are picked up at the
         * next metadata refresh. */
        if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && c->subscription[0] == '^') {
            sb_info("msg=\"no topic matches the subscription yet\" subscription=\"%s\"",
                    c->subscription);
            return;
        }
        sb_counter_add(c->errors, 1);
        uint64_t suppressed = 0;
        if (sb_ratelimit_ok(&c->error_rl, sb_now_mono_ns(), &suppressed))
            sb_err("msg=\"consumer error\" error=\"%s\" suppressed=%" PRIu64,
                   rd_kafka_message_errstr(m), suppressed);
        return;
    }
    size_t origin = part_of(c, m);
    struct part *p = &c->parts[origin];
    track_offset(c, m, p);
    follow(c, p, m->offset);
    if (p->applied < 0)
        c->touched[c->ntouched++] = origin;
    p->applied = m->offset;
    if (p->output)
        return;
    c->count++;
    sb_ingest_consumed(c->ingest);
    struct sb_decoded d;
    enum sb_invalid_reason reason;
    int rc = sb_codec_decode(m->payload, m->len, 0, &d, &reason);
    /* The sensor is looked up once; its record goes through the ingest to
     * the analytics. A held sensor was accepted when it was added, and is
     * checked again only after a reload changed the names. */
    struct sb_sensor *rec = rc == 0 ? sb_ingest_find(c->ingest, d.sensor) : NULL;
    bool recheck = c->strict && (!rec || rec->accepted_gen != c->accepted_gen);
    if (rc == 0 && recheck && !known_sensor(c, d.sensor)) {
        rc = -1;
        reason = SB_INVALID_UNKNOWN_SENSOR;
    }
    if (rc == 0) {
        size_t hlen;
        const char *hdr = produced_header(m, &hlen);
        rec = sb_ingest_sample(c->ingest, rec, &d, (uint32_t)origin, hdr, hlen, now_us);
        if (rec && recheck)
            rec->accepted_gen = c->accepted_gen;
        if (rec && c->analytics) {
            sb_analytics_sample(c->analytics, rec, &d, now_us, &p->run);
            if (rec->uci >= 0)
                hold(c, p, rec->uci);
        }
    } else {
        sb_ingest_invalid(c->ingest, reason);
        uint64_t suppressed = 0;
        if (sb_ratelimit_ok(&c->invalid_rl, sb_now_mono_ns(), &suppressed))
            sb_warn("msg=\"invalid message skipped\" reason=%s topic=%s partition=%" PRId32
                    " offset=%" PRId64 " suppressed=%" PRIu64,
                    sb_invalid_reason_name(reason), rd_kafka_topic_name(m->rkt), m->partition,
                    m->offset, suppressed);
    }
}

/* Stores, per partition of the group, the offset of its last message,
 * now that every message of the group is applied: a crash before this
 * re-delivers them rather than losing any. The group's messages are not
 * destroyed yet, so the partitions' topic handles are valid. */
static void store_group(struct sb_consumer *c)
{
    for (size_t i = 0; i < c->ntouched; i++) {
        struct part *p = &c->parts[c->touched[i]];
        rd_kafka_offset_store((rd_kafka_topic_t *)p->rkt, p->partition, p->applied);
        if (c->flow && !p->output)
            sb_flow_applied(c->flow, p->topic, p->partition, p->applied + 1);
        p->applied = -1;
    }
    c->ntouched = 0;
}

static void rebalance(struct sb_consumer *c, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts);

/* Takes up to CONSUME_GROUP messages (and serves the callbacks queued
 * among them); applies them, or, with apply false (the stop budget is
 * spent), drops them unapplied and unstored; then runs a rebalance that
 * came with them. Returns how many messages it took. */
static size_t consume_group(struct sb_consumer *c, bool apply)
{
    c->in_group = true;
    ssize_t n = rd_kafka_consume_batch_queue(c->q, 0, c->group, CONSUME_GROUP);
    c->in_group = false;
    if (n < 0)
        n = 0;
    c->group_ns = sb_now_mono_ns();
    if (apply && n > 0) {
        int64_t now_us = sb_now_wall_us();
        for (ssize_t i = 0; i < n; i++)
            handle_message(c, c->group[i], now_us);
        store_group(c);
    }
    for (ssize_t i = 0; i < n; i++)
        rd_kafka_message_destroy(c->group[i]);
    if (c->nheld)
        release(c, false);
    if (c->deferred) {
        c->deferred = false;
        rebalance(c, c->rk, c->deferred_err, c->deferred_parts);
        rd_kafka_topic_partition_list_destroy(c->deferred_parts);
        c->deferred_parts = NULL;
    }
    return (size_t)n;
}

static void idle_cb(uv_idle_t *h);
static void forget_expired(void *ud, struct sb_sensor *sensor, uint32_t origin);

static void drain(struct sb_consumer *c)
{
    uint64_t junk;
    while (read(c->efd, &junk, sizeof(junk)) > 0)
        ;
    uint64_t deadline = sb_now_mono_ns() + DRAIN_BUDGET_NS;
    for (size_t done = 0; done < SB_CONSUMER_BATCH;) {
        size_t n = consume_group(c, true);
        if (n < CONSUME_GROUP) {
            uv_idle_stop(&c->idle);
            return;
        }
        done += n;
        if (sb_now_mono_ns() >= deadline)
            break;
    }
    /* The caps keep HTTP and the sources responsive under a backlog; the
     * queue is not empty, so no new wake-up will come. */
    uv_idle_start(&c->idle, idle_cb);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    drain(h->data);
}

static void timer_cb(uv_timer_t *h)
{
    struct sb_consumer *c = h->data;
    drain(c);
    uint64_t now = sb_now_mono_ns();
    if (c->expiry_us > 0 && now - c->last_expiry_ns >= EXPIRY_EVERY_NS) {
        c->last_expiry_ns = now;
        size_t n = sb_ingest_expire(c->ingest, sb_now_wall_us(), c->expiry_us, forget_expired, c);
        if (n)
            sb_info("msg=\"silent sensors removed\" sensors=%zu silent_for_s=%" PRId64, n,
                    c->expiry_us / 1000000);
    }
}

static void idle_cb(uv_idle_t *h)
{
    drain(h->data);
}

/* The analytics publish the sensor's open windows as partial. If the
 * sensor comes back on its partition's run, it finds no windows: that run
 * no longer has everything for it (nor for a sensor it has not seen yet,
 * which cannot be told apart). */
static void forget_sensor(struct sb_consumer *c, struct sb_sensor *sensor, uint32_t origin,
                          enum sb_partial_reason why)
{
    c->parts[origin].run.from_start = false;
    if (c->analytics)
        sb_analytics_forget(c->analytics, sensor, why);
}

static void forget_expired(void *ud, struct sb_sensor *sensor, uint32_t origin)
{
    forget_sensor(ud, sensor, origin, SB_PARTIAL_EXPIRED);
}

static void forget_moved(void *ud, struct sb_sensor *sensor, uint32_t origin)
{
    forget_sensor(ud, sensor, origin, SB_PARTIAL_REVOKED);
}

/* Forgets the sensors of every partition marked revoked. */
static void forget_revoked(struct sb_consumer *c)
{
    size_t forgotten = 0;
    for (size_t i = 0; i < c->nparts; i++) {
        if (!c->parts[i].revoked)
            continue;
        c->parts[i].revoked = false;
        forgotten += sb_ingest_forget_origin(c->ingest, (uint32_t)i, forget_moved, c);
    }
    if (forgotten)
        sb_info("msg=\"sensors of partitions now assigned elsewhere removed\" sensors=%zu",
                forgotten);
}

/* Where each newly assigned partition starts: its committed offset, read
 * here (one OffsetFetch; the loop waits for it as it does for the commit
 * at revocation) and handed to the assignment, so librdkafka starts exactly
 * there. With it, track_offset counts the messages a reset at the start
 * jumps over: a committed offset whose messages the broker deleted while
 * nobody read the partition (the daemon was stopped, or the group had no
 * member). A partition the group never committed starts at offset 0 with
 * auto.offset.reset = earliest, so what retention deleted before the
 * group first read it counts too; with latest, the history was not asked
 * for and nothing counts. */
static void start_positions(struct sb_consumer *c, rd_kafka_t *rk,
                            rd_kafka_topic_partition_list_t *parts)
{
    if (!parts->cnt)
        return;
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(parts);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, committed, COMMITTED_TIMEOUT_MS);
    if (e)
        sb_warn("msg=\"committed offsets unknown: a reset at the start of this assignment "
                "would not be counted\" error=\"%s\"",
                rd_kafka_err2str(e));
    for (int i = 0; i < committed->cnt && !e; i++) {
        const rd_kafka_topic_partition_t *tp = &committed->elems[i];
        size_t k = part_find(c, tp->topic, tp->partition);
        if (tp->err)
            continue;
        if (tp->offset >= 0) {
            c->parts[k].next = tp->offset;
            rd_kafka_topic_partition_t *a =
                rd_kafka_topic_partition_list_find(parts, tp->topic, tp->partition);
            if (a)
                a->offset = tp->offset;
        } else if (c->from_oldest) {
            c->parts[k].next = 0;
        }
    }
    rd_kafka_topic_partition_list_destroy(committed);
}

static void rebalance_failed(struct sb_consumer *c, const char *what, const char *why)
{
    sb_counter_add(c->errors, 1);
    sb_err("msg=\"%s failed\" error=\"%s\"", what, why);
}

/* Both protocols. EAGER (range, roundrobin) revokes the whole assignment
 * and then assigns a whole new one; COOPERATIVE (cooperative-sticky) only
 * revokes what moves away and only assigns what is new, through the
 * incremental calls (rd_kafka_assign would fail there and leave the
 * consumer with nothing). The embedded broker's consumer takes its
 * partitions itself (take_partitions), only ever adding: incrementally
 * too (librdkafka allows it without a subscription). */
static void rebalance(struct sb_consumer *c, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts)
{
    const char *proto = rd_kafka_rebalance_protocol(rk);
    bool coop = c->manual || (proto && strcmp(proto, "COOPERATIVE") == 0);
    const char *how = c->manual ? "manual" : coop ? "cooperative" : "eager";
    sb_counter_add(c->rebalances, 1);
    release(c, true);
    /* The listed partitions start from their committed offsets, and their
     * topic handles may change; under EAGER that is every partition. */
    for (int i = 0; i < parts->cnt; i++) {
        /* part_find may move c->parts: index after the call. */
        size_t k = part_find(c, parts->elems[i].topic, parts->elems[i].partition);
        c->parts[k].next = -1;
        c->parts[k].revoked = err != RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
        if (c->parts[k].revoked && c->flow)
            sb_flow_released(c->flow, parts->elems[i].topic, parts->elems[i].partition);
        else if (c->flow && !c->parts[k].output)
            sb_flow_assigned(c->flow, parts->elems[i].topic, parts->elems[i].partition);
    }
    for (size_t i = 0; i < c->nparts && !coop; i++)
        c->parts[i].rkt = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        start_positions(c, rk, parts);
        sb_info("msg=\"partitions assigned\" count=%d protocol=%s", parts->cnt, how);
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
            if (e) {
                rebalance_failed(c, "incremental assign", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        } else {
            rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
            if (e)
                rebalance_failed(c, "assign", rd_kafka_err2str(e));
        }
        c->assigned = true;
        if (c->flow)
            sb_flow_joined(c->flow, true);
        /* The sensors of revoked partitions that did not come back are
         * another member's now: their series go, so that across the group
         * each sample is counted once and no stale last value remains.
         * EAGER revokes everything before each assignment, so only now is
         * it known which partitions stay. */
        forget_revoked(c);
        return;
    }
    bool lost = rd_kafka_assignment_lost(rk);
    sb_info("msg=\"partitions revoked\" count=%d protocol=%s lost=%s", parts->cnt, how,
            lost ? "yes" : "no");
    /* Commit what was processed before the partitions move on (not
     * possible for a lost assignment: the group has moved on already). */
    if (!lost) {
        rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);
        if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
            sb_warn("msg=\"commit before revocation failed\" error=\"%s\"", rd_kafka_err2str(e));
    }
    if (coop) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e) {
            rebalance_failed(c, "incremental unassign", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        /* Nothing of these comes back in the next assignment, which lists
         * only what is new. Not while closing: the daemon then publishes
         * every open window as stopped. */
        if (!c->closing)
            forget_revoked(c);
    } else {
        rd_kafka_resp_err_t e = rd_kafka_assign(rk, NULL);
        if (e)
            rebalance_failed(c, "unassign", rd_kafka_err2str(e));
    }
    c->assigned = false;
    /* EAGER has taken everything away until the next assignment; under
     * COOPERATIVE the partitions not listed stay, and only those listed no
     * longer count (released above). */
    if (c->flow)
        sb_flow_joined(c->flow, coop && !lost);
}

/* Served on the loop by rd_kafka_consume_batch_queue (and by
 * rd_kafka_consumer_close). Inside a group, the messages fetched before
 * the rebalance are taken but not yet applied: the rebalance waits until
 * they are and their offsets are stored (consume_group), so that the
 * commit before a revocation has them, as when each message was polled
 * on its own. Until it runs, no assign or unassign call has been made, so
 * librdkafka keeps the old assignment and outdates none of them (it waits
 * for the call; rd_kafka_assign and the incremental calls may be made
 * outside the callback). A second rebalance cannot come before that call. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct sb_consumer *c = opaque;
    if (c->in_group) {
        c->deferred = true;
        c->deferred_err = err;
        c->deferred_parts = rd_kafka_topic_partition_list_copy(parts);
        return;
    }
    rebalance(c, rk, err, parts);
}

/* Served on the loop by rd_kafka_consume_batch_queue. A fatal error
 * (static group membership fenced) goes to the daemon; others are counted. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct sb_consumer *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[640];
        sb_kafka_fatal_describe(rk, why, sizeof(why));
        if (c->fatal_cb)
            c->fatal_cb(c->fatal_ud, "consumer", why);
        return;
    }
    sb_counter_add(c->errors, 1);
    uint64_t suppressed = 0;
    if (sb_ratelimit_ok(&c->error_rl, sb_now_mono_ns(), &suppressed))
        sb_err("msg=\"consumer error\" error=\"%s\" suppressed=%" PRIu64, reason, suppressed);
}

/* librdkafka's threads call this. A reset that is not for want of a
 * committed offset (that one is logged at debug level) means the position
 * was out of range: the messages before the new position are lost to this
 * group. librdkafka reports it only as this log line. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    sb_kafka_log(rk, level, fac, buf);
    if (level <= SB_LOG_WARNING && strcmp(fac, "OFFSET") == 0 && strstr(buf, "offset reset")) {
        struct sb_consumer *c = rd_kafka_opaque(rk);
        atomic_fetch_add(&c->nresets, 1);
    }
}

/* The lag of every assigned partition, summed; with gauges, each one is
 * also set in the lag family (cleared by the caller). */
static int64_t walk_lag(struct sb_consumer *c, bool gauges)
{
    int64_t total = 0;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(c->rk, &parts) || !parts)
        return 0;
    rd_kafka_position(c->rk, parts);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(c->rk, tp->topic, tp->partition, &lo, &hi) || hi < 0)
            continue;
        /* Before the first message of an assignment librdkafka has no
         * position: the partition is where the assignment started it (its
         * committed offset, see start_positions), so a consumer resuming at
         * the end shows no lag; without a committed offset everything from
         * the low watermark is still to be consumed. */
        int64_t start = c->parts[part_find(c, tp->topic, tp->partition)].next;
        int64_t pos = tp->offset >= 0 ? tp->offset : start >= 0 ? start : lo;
        int64_t lag = hi > pos ? hi - pos : 0;
        total += lag;
        if (!gauges)
            continue;
        char pbuf[16];
        snprintf(pbuf, sizeof(pbuf), "%" PRId32, tp->partition);
        const char *lv[] = {tp->topic, pbuf};
        struct sb_metric *m = sb_family_child(c->f_lag, lv);
        if (m)
            sb_gauge_set(m, (double)lag);
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return total;
}

/* At each scrape: the resets counted so far, and the lag of every
 * assigned partition. */
static void collect(void *ud)
{
    struct sb_consumer *c = ud;
    sb_counter_set(c->resets, (double)atomic_load(&c->nresets));
    sb_family_clear(c->f_lag);
    walk_lag(c, true);
}

int64_t sb_consumer_lag(struct sb_consumer *c)
{
    return walk_lag(c, false);
}

uint64_t sb_consumer_messages(const struct sb_consumer *c)
{
    return c->count;
}

int sb_consumer_new(struct sb_consumer **out, uv_loop_t *loop, const struct sb_config *cfg,
                    const char *bootstraps, struct sb_ingest *ingest,
                    struct sb_analytics *analytics, struct sb_registry *reg, char *err,
                    size_t errlen)
{
    char errstr[512];
    rd_kafka_conf_t *conf = sb_kafka_conf(
        consumer_defaults,
        cfg->layout == SB_LAYOUT_SHARED ? consumer_embedded_shared_defaults : NULL,
        sb_config_embedded(cfg), bootstraps, &cfg->consumer_props, "[consumer]", err, errlen);
    if (!conf)
        return -EINVAL;
    if (rd_kafka_conf_set(conf, "group.id", cfg->group_id, errstr, sizeof(errstr))) {
        snprintf(err, errlen, "[consumer] group_id: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return -EINVAL;
    }
    struct sb_consumer *c = sb_xcalloc(1, sizeof(*c));
    char reset[32];
    size_t reset_len = sizeof(reset);
    c->from_oldest =
        rd_kafka_conf_get(conf, "auto.offset.reset", reset, &reset_len) == RD_KAFKA_CONF_OK &&
        (!strcmp(reset, "smallest") || !strcmp(reset, "earliest") || !strcmp(reset, "beginning"));
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!c->rk) {
        snprintf(err, errlen, "[consumer]: %s", errstr);
        rd_kafka_conf_destroy(conf);
        free(c);
        return -EINVAL;
    }
    c->loop = loop;
    c->ingest = ingest;
    c->analytics = analytics;
    c->manual = sb_config_embedded(cfg);
    sb_consumer_reload(c, cfg);
    sb_analytics_topics(cfg, c->skip[0], c->skip[1], sizeof(c->skip[0]));
    sb_condition_topic(cfg, c->skip[2], sizeof(c->skip[2]));
    c->invalid_rl.interval_ns = 10ull * 1000000000u;
    c->error_rl.interval_ns = 10ull * 1000000000u;
    c->skip_rl.interval_ns = 10ull * 1000000000u;
    const char *lag_labels[] = {"topic", "partition"};
    c->f_lag = sb_registry_family(reg, SB_GAUGE, "sensorbridge_consumer_lag_messages",
                                  "Messages in an assigned partition not yet consumed "
                                  "(high watermark minus position).",
                                  2, lag_labels, NULL, 0);
    c->rebalances = sb_family_child(
        sb_registry_family(reg, SB_COUNTER, "sensorbridge_consumer_rebalances_total",
                           "Consumer group rebalances (assignments and revocations; with the "
                           "embedded broker, the assignments the consumer takes itself).",
                           0, NULL, NULL, 0),
        NULL);
    c->errors = sb_family_child(
        sb_registry_family(reg, SB_COUNTER, "sensorbridge_consumer_errors_total",
                           "Errors reported by the Kafka consumer.", 0, NULL, NULL, 0),
        NULL);
    c->resets = sb_family_child(
        sb_registry_family(reg, SB_COUNTER, "sensorbridge_consumer_offset_resets_total",
                           "Partition positions reset by auto.offset.reset because the "
                           "position was no longer on the broker (messages lost to the group).",
                           0, NULL, NULL, 0),
        NULL);
    c->m_pauses = sb_family_child(
        sb_registry_family(reg, SB_COUNTER, "sensorbridge_consumer_partition_pauses_total",
                           "Partitions paused because their UCI sensor ran ahead of the "
                           "others in event time, for the condition monitor's cycles.",
                           0, NULL, NULL, 0),
        NULL);
    c->m_paused = sb_family_child(
        sb_registry_family(reg, SB_GAUGE, "sensorbridge_consumer_partitions_paused",
                           "Partitions paused now for the condition monitor.", 0, NULL, NULL, 0),
        NULL);
    c->align = cfg->layout != SB_LAYOUT_SHARED;
    const char *topic_label[] = {"topic"};
    c->f_skipped =
        sb_registry_family(reg, SB_COUNTER, "sensorbridge_consumer_skipped_messages_total",
                           "Offsets jumped over within an assignment: messages the "
                           "broker deleted before they were read.",
                           1, topic_label, NULL, 0);
    rd_kafka_poll_set_consumer(c->rk);
    if (cfg->layout == SB_LAYOUT_SHARED) {
        sb_config_sample_topic(cfg, "", c->subscription, sizeof(c->subscription));
    } else {
        /* The prefix may contain '.', a regex wildcard: escape it. */
        size_t n = 0;
        c->subscription[n++] = '^';
        for (const char *p = cfg->topic_prefix; *p && n < sizeof(c->subscription) - 6; p++) {
            if (*p == '.')
                c->subscription[n++] = '\\';
            c->subscription[n++] = *p;
        }
        memcpy(c->subscription + n, "-.*", 4);
    }

    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->efd < 0) {
        int en = errno;
        snprintf(err, errlen, "[consumer]: eventfd: %s", strerror(en));
        rd_kafka_consumer_close(c->rk);
        rd_kafka_destroy(c->rk);
        free_known(c);
        free(c);
        return -en;
    }
    static const uint64_t one = 1;
    c->q = rd_kafka_queue_get_consumer(c->rk);
    rd_kafka_queue_io_event_enable(c->q, c->efd, &one, sizeof(one));
    uv_poll_init(loop, &c->poll, c->efd);
    c->poll.data = c;
    uv_poll_start(&c->poll, UV_READABLE, poll_cb);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_start(&c->timer, timer_cb, POLL_INTERVAL_MS, POLL_INTERVAL_MS);
    uv_idle_init(loop, &c->idle);
    c->idle.data = c;
    c->open_handles = 3;
    /* Registered last: a failed start must leave no callback behind. */
    sb_registry_add_collector(reg, collect, c);
    c->reg = reg;
    c->group_id = sb_xstrdup(cfg->group_id);
    c->bootstraps = sb_xstrdup(bootstraps);
    *out = c;
    return 0;
}

static bool holds(const rd_kafka_topic_partition_list_t *held, const char *topic, int32_t partition)
{
    for (int i = 0; held && i < held->cnt; i++)
        if (held->elems[i].partition == partition && strcmp(held->elems[i].topic, topic) == 0)
            return true;
    return false;
}

/* The embedded broker's consumer: the only member its group can have (the
 * cluster lives in this process), so it assigns itself every partition of
 * the topics the subscription matches, from the cluster's metadata, and
 * joins no group: no join wait (librdkafka's mock holds the first join of
 * a group for 3 s), no rebalance. Offsets are still committed to the
 * group. Only partitions it does not hold yet are added; the topics of a
 * reload (which this daemon creates on its cluster) come in this way. */
static int take_partitions(struct sb_consumer *c, char *err, size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(c->rk, 1, NULL, &md, MANUAL_METADATA_TIMEOUT_MS);
    if (e) {
        snprintf(err, errlen, "[consumer]: metadata of the embedded broker: %s",
                 rd_kafka_err2str(e));
        return -EIO;
    }
    bool pattern = c->subscription[0] == '^';
    regex_t re;
    if (pattern && regcomp(&re, c->subscription, REG_EXTENDED | REG_NOSUB)) {
        snprintf(err, errlen, "[consumer]: subscription pattern %s does not compile",
                 c->subscription);
        rd_kafka_metadata_destroy(md);
        return -EINVAL;
    }
    rd_kafka_topic_partition_list_t *held = NULL;
    if (rd_kafka_assignment(c->rk, &held))
        held = NULL;
    rd_kafka_topic_partition_list_t *add = rd_kafka_topic_partition_list_new(16);
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (t->err ||
            (pattern ? regexec(&re, t->topic, 0, NULL, 0) : strcmp(t->topic, c->subscription)))
            continue;
        for (int k = 0; k < t->partition_cnt; k++)
            if (!holds(held, t->topic, t->partitions[k].id))
                rd_kafka_topic_partition_list_add(add, t->topic, t->partitions[k].id);
    }
    if (pattern)
        regfree(&re);
    rd_kafka_metadata_destroy(md);
    if (held)
        rd_kafka_topic_partition_list_destroy(held);
    /* The first assignment even if empty, as a group's can be: the flow
     * control waits for one, not for partitions that do not exist. */
    if (add->cnt || !c->assigned)
        rebalance(c, c->rk, RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, add);
    rd_kafka_topic_partition_list_destroy(add);
    return 0;
}

int sb_consumer_start(struct sb_consumer *c, char *err, size_t errlen)
{
    c->started = true;
    if (c->manual) {
        int rc = take_partitions(c, err, errlen);
        if (!rc)
            sb_info("msg=\"consumer started\" group=%s subscription=\"%s\" bootstraps=%s "
                    "assignment=manual",
                    c->group_id, c->subscription, c->bootstraps);
        return rc;
    }
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, c->subscription, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        snprintf(err, errlen, "[consumer]: subscribe %s: %s", c->subscription, rd_kafka_err2str(e));
        return -EIO;
    }
    sb_info("msg=\"consumer started\" group=%s subscription=\"%s\" bootstraps=%s", c->group_id,
            c->subscription, c->bootstraps);
    return 0;
}

void sb_consumer_on_fatal(struct sb_consumer *c, sb_kafka_fatal_cb cb, void *ud)
{
    c->fatal_cb = cb;
    c->fatal_ud = ud;
}

void sb_consumer_set_flow(struct sb_consumer *c, struct sb_flow *f)
{
    c->flow = f;
}

bool sb_consumer_assigned(const struct sb_consumer *c)
{
    return c->assigned;
}

json_t *sb_consumer_status(const struct sb_consumer *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "subscription", json_string(c->subscription));
    json_object_set_new(o, "assigned", json_boolean(c->assigned));
    json_t *a = json_array();
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (!rd_kafka_assignment(c->rk, &parts) && parts) {
        for (int i = 0; i < parts->cnt; i++) {
            json_t *p = json_object();
            json_object_set_new(p, "topic", json_string(parts->elems[i].topic));
            json_object_set_new(p, "partition", json_integer(parts->elems[i].partition));
            json_array_append_new(a, p);
        }
        rd_kafka_topic_partition_list_destroy(parts);
    }
    json_object_set_new(o, "partitions", a);
    json_object_set_new(o, "messages", json_integer((json_int_t)c->count));
    return o;
}

static void handle_closed(uv_handle_t *h)
{
    struct sb_consumer *c = h->data;
    if (--c->open_handles > 0)
        return;
    close(c->efd);
    free_known(c);
    free(c->group_id);
    free(c->bootstraps);
    for (size_t i = 0; i < c->nparts; i++)
        free(c->parts[i].topic);
    free(c->parts);
    void (*cb)(void *) = c->close_cb;
    void *ud = c->close_ud;
    free(c);
    if (cb)
        cb(ud);
}

void sb_consumer_close(struct sb_consumer *c, uint64_t drain_deadline_ns, void (*cb)(void *ud),
                       void *ud)
{
    /* The registry outlives us: no scrape may reach the client from here. */
    sb_registry_remove_collector(c->reg, collect, c);
    c->close_cb = cb;
    c->close_ud = ud;
    /* Apply what is already fetched so its offsets are committed too, until
     * the deadline: what is left is not stored, so it comes again after the
     * restart (at-least-once), and the stop stays within its budget. */
    uint64_t left = 0;
    for (;;) {
        bool apply = sb_now_mono_ns() < drain_deadline_ns;
        size_t n = consume_group(c, apply);
        if (!apply)
            left += n;
        if (n < CONSUME_GROUP)
            break;
    }
    if (left)
        sb_warn("msg=\"stop budget spent: fetched messages left for the next start\" "
                "messages=%" PRIu64,
                left);
    rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, NULL, 0);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        sb_warn("msg=\"final commit failed\" error=\"%s\"", rd_kafka_err2str(e));
    rd_kafka_queue_io_event_enable(c->q, -1, NULL, 0);
    rd_kafka_queue_destroy(c->q);
    c->closing = true;
    rd_kafka_consumer_close(c->rk);
    rd_kafka_destroy(c->rk);
    sb_info("msg=\"consumer closed\" consumed=%" PRIu64, c->count);
    uv_close((uv_handle_t *)&c->poll, handle_closed);
    uv_close((uv_handle_t *)&c->timer, handle_closed);
    uv_close((uv_handle_t *)&c->idle, handle_closed);
}
