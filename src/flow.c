/* flow.c - flow control between the producer and the consumer of one process. */
#include "sensorbridge/flow.h"

#include <stdlib.h>
#include <string.h>

#include "sensorbridge/log.h"
#include "sensorbridge/util.h"

struct part {
    char *topic; /* NULL: free slot */
    int32_t partition;
    int64_t delivered; /* 1 + highest acknowledged offset; 0 = none */
    /* Next offset the consumer applies; until its first applied message
     * of a held partition, the first offset delivered since the
     * assignment; -1 = unknown. */
    int64_t next;
    bool held;
    bool behind;
};

struct sb_flow {
    struct part *slots;
    size_t cap; /* power of two */
    size_t n;
    struct part *last_delivered; /* caches: reports come in runs per partition */
    struct part *last_applied;
    int64_t max_lag;
    size_t nbehind;
    bool joined;
    bool closed;
    bool full_logged;
    void (*open_cb)(void *ud);
    void *ud;
    struct sb_metric *paused;
    struct sb_metric *pauses;
};

static uint64_t hash(const char *topic, int32_t partition)
{
    return sb_hash_fnv1a(topic, strlen(topic)) ^ sb_hash_fnv1a(&partition, sizeof(partition));
}

static bool is(const struct part *p, const char *topic, int32_t partition)
{
    return p->topic && p->partition == partition && strcmp(p->topic, topic) == 0;
}

static void grow(struct sb_flow *f)
{
    struct part *old = f->slots;
    size_t oldcap = f->cap;
    f->cap = oldcap ? 2 * oldcap : 64;
    f->slots = sb_xcalloc(f->cap, sizeof(*f->slots));
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].topic)
            continue;
        size_t j = hash(old[i].topic, old[i].partition) & (f->cap - 1);
        while (f->slots[j].topic)
            j = (j + 1) & (f->cap - 1);
        f->slots[j] = old[i];
    }
    free(old);
    f->last_delivered = f->last_applied = NULL;
}

/* The entry of topic/partition, created on first sight; NULL past the
 * bound. */
static struct part *lookup(struct sb_flow *f, struct part **cache, const char *topic,
                           int32_t partition)
{
    if (*cache && is(*cache, topic, partition))
        return *cache;
    if (f->cap) {
        for (size_t j = hash(topic, partition) & (f->cap - 1); f->slots[j].topic;
             j = (j + 1) & (f->cap - 1))
            if (is(&f->slots[j], topic, partition))
                return *cache = &f->slots[j];
    }
    if (f->n >= SB_FLOW_MAX_PARTITIONS) {
        if (!f->full_logged)
            sb_warn("msg=\"flow control tracks no more partitions\" max=%d topic=%s",
                    SB_FLOW_MAX_PARTITIONS, topic);
        f->full_logged = true;
        return NULL;
    }
    if (2 * (f->n + 1) > f->cap)
        grow(f);
    size_t j = hash(topic, partition) & (f->cap - 1);
    while (f->slots[j].topic)
        j = (j + 1) & (f->cap - 1);
    f->slots[j] = (struct part){sb_xstrdup(topic), partition, 0, -1, false, false};
    f->n++;
    return *cache = &f->slots[j];
}

static void update(struct sb_flow *f)
{
    bool closed = f->max_lag > 0 && (!f->joined || f->nbehind > 0);
    if (closed == f->closed)
        return;
    f->closed = closed;
    sb_gauge_set(f->paused, closed);
    if (closed) {
        sb_counter_add(f->pauses, 1);
    } else if (f->open_cb) {
        f->open_cb(f->ud);
    }
}

/* Re-evaluates one partition against the bound, with hysteresis. Until
 * the consumer applies its first message of a held partition, its
 * position is not known, and what was delivered since the assignment
 * counts as unread. */
static void judge(struct sb_flow *f, struct part *p)
{
    bool behind = p->behind;
    if (!p->held || p->next < 0 || f->max_lag <= 0)
        behind = false;
    else if (p->delivered - p->next > f->max_lag)
        behind = true;
    else if (p->delivered - p->next <= f->max_lag / 2)
        behind = false;
    if (behind == p->behind)
        return;
    p->behind = behind;
    if (behind)
        f->nbehind++;
    else
        f->nbehind--;
    update(f);
}

struct sb_flow *sb_flow_new(struct sb_registry *reg, int64_t max_lag, void (*open_cb)(void *ud),
                            void *ud)
{
    struct sb_flow *f = sb_xcalloc(1, sizeof(*f));
    f->max_lag = max_lag;
    f->open_cb = open_cb;
    f->ud = ud;
    f->paused = sb_family_child(
        sb_registry_family(reg, SB_GAUGE, "sensorbridge_flow_control_paused",
                           "1 while the sources wait for this process's consumer (not joined "
                           "to its group, or more than [producer] max_consumer_lag messages "
                           "behind on a partition); else 0.",
                           0, NULL, NULL, 0),
        NULL);
    f->pauses = sb_family_child(
        sb_registry_family(reg, SB_COUNTER, "sensorbridge_flow_control_pauses_total",
                           "Times the sources began to wait for this process's consumer.", 0, NULL,
                           NULL, 0),
        NULL);
    update(f);
    return f;
}

void sb_flow_free(struct sb_flow *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->cap; i++)
        free(f->slots[i].topic);
    free(f->slots);
    free(f);
}

void sb_flow_set_max_lag(struct sb_flow *f, int64_t max_lag)
{
    f->max_lag = max_lag;
    for (size_t i = 0; i < f->cap; i++)
        if (f->slots[i].topic)
            judge(f, &f->slots[i]);
    update(f);
}

void sb_flow_delivered(struct sb_flow *f, const char *topic, int32_t partition, int64_t offset)
{
    struct part *p = lookup(f, &f->last_delivered, topic, partition);
    if (!p || offset < 0 || offset + 1 <= p->delivered)
        return;
    p->delivered = offset + 1;
    if (p->held && p->next < 0)
        p->next = offset;
    if (p->held)
        judge(f, p);
}

void sb_flow_assigned(struct sb_flow *f, const char *topic, int32_t partition)
{
    struct part *p = lookup(f, &f->last_applied, topic, partition);
    if (!p || p->held)
        return;
    p->held = true;
    p->next = -1;
    judge(f, p);
}

void sb_flow_applied(struct sb_flow *f, const char *topic, int32_t partition, int64_t next)
{
    struct part *p = lookup(f, &f->last_applied, topic, partition);
    if (!p)
        return;
    p->held = true;
    p->next = next;
    judge(f, p);
}

void sb_flow_released(struct sb_flow *f, const char *topic, int32_t partition)
{
    struct part *p = lookup(f, &f->last_applied, topic, partition);
    if (!p)
        return;
    p->held = false;
    p->next = -1;
    judge(f, p);
}

void sb_flow_joined(struct sb_flow *f, bool joined)
{
    f->joined = joined;
    update(f);
}

bool sb_flow_closed(const struct sb_flow *f)
{
    return f->closed;
}
