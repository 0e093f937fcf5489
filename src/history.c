/* history.c - bounded ring buffers of the status page's series. */
#include "sensorbridge/history.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum kind {
    KIND_GAUGE,
    KIND_RATE,
    KIND_RATIO,
};

struct series {
    const char *group;
    char name[SB_HISTORY_NAME_MAX];
    enum kind kind;
    double *v; /* points values, NaN = null, indexed like the timeline */
    /* The tick (1-based) last recorded, its totals, and those of the tick
     * before it if that was recorded too: a rate measures from them. */
    uint64_t last_tick;
    double num, den;
    bool have_base;
    double base_num, base_den;
};

struct sb_history {
    size_t points;
    uint64_t ticks; /* ticks so far; the current one is `ticks`, 1-based */
    int64_t *t;     /* tick times, slot (tick - 1) % points */
    int64_t prev_t_ms;
    struct series series[SB_HISTORY_MAX_SERIES];
    size_t nslots; /* series[0..nslots) are in use; a stale one may be taken over */
};

struct sb_history *sb_history_new(size_t points)
{
    assert(points >= 1 && points <= SB_HISTORY_MAX_POINTS);
    struct sb_history *h = sb_xcalloc(1, sizeof(*h));
    h->points = points;
    h->t = sb_xcalloc(points, sizeof(*h->t));
    return h;
}

void sb_history_free(struct sb_history *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nslots; i++)
        free(h->series[i].v);
    free(h->t);
    free(h);
}

static size_t slot_of(const struct sb_history *h, uint64_t tick)
{
    return (size_t)((tick - 1) % h->points);
}

int sb_history_tick(struct sb_history *h, int64_t t_ms)
{
    if (h->ticks && t_ms <= h->t[slot_of(h, h->ticks)])
        return -EINVAL;
    if (h->ticks)
        h->prev_t_ms = h->t[slot_of(h, h->ticks)];
    h->ticks++;
    size_t slot = slot_of(h, h->ticks);
    h->t[slot] = t_ms;
    for (size_t i = 0; i < h->nslots; i++)
        h->series[i].v[slot] = NAN;
    return 0;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= SB_HISTORY_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

/* A series with no value left in the window: last recorded `points` or
 * more ticks ago. */
static bool stale(const struct sb_history *h, const struct series *s)
{
    return h->ticks - s->last_tick >= h->points;
}

static int find(struct sb_history *h, const char *group, const char *name, enum kind kind,
                struct series **out)
{
    if (!h->ticks || !name_ok(group) || !name_ok(name))
        return -EINVAL;
    for (size_t i = 0; i < h->nslots; i++) {
        struct series *s = &h->series[i];
        if (strcmp(s->group, group) == 0 && strcmp(s->name, name) == 0) {
            if (s->kind != kind)
                return -EINVAL;
            *out = s;
            return 0;
        }
    }
    struct series *free_slot = NULL;
    if (h->nslots < SB_HISTORY_MAX_SERIES)
        free_slot = &h->series[h->nslots++];
    for (size_t i = 0; !free_slot && i < h->nslots; i++)
        if (stale(h, &h->series[i]))
            free_slot = &h->series[i];
    if (!free_slot)
        return -ENOSPC;
    struct series *s = free_slot;
    double *v = s->v ? s->v : sb_xmalloc(h->points * sizeof(*v));
    memset(s, 0, sizeof(*s));
    s->v = v;
    for (size_t i = 0; i < h->points; i++)
        s->v[i] = NAN;
    s->group = group;
    strcpy(s->name, name);
    s->kind = kind;
    *out = s;
    return 0;
}

/* Stores the totals of the current tick, keeping those of the previous
 * tick as the base; returns whether there is one. */
static bool advance(const struct sb_history *h, struct series *s, double num, double den)
{
    if (s->last_tick != h->ticks) {
        s->have_base = s->last_tick != 0 && s->last_tick + 1 == h->ticks;
        s->base_num = s->num;
        s->base_den = s->den;
        s->last_tick = h->ticks;
    }
    s->num = num;
    s->den = den;
    return s->have_base;
}

/* A counter's increase; a fall means it started again from 0. */
static double increase(double now, double before)
{
    return now >= before ? now - before : now;
}

int sb_history_gauge(struct sb_history *h, const char *group, const char *name, double v)
{
    struct series *s;
    int rc = find(h, group, name, KIND_GAUGE, &s);
    if (rc)
        return rc;
    advance(h, s, v, 0);
    s->v[slot_of(h, h->ticks)] = isfinite(v) ? v : NAN;
    return 0;
}

int sb_history_rate(struct sb_history *h, const char *group, const char *name, double total)
{
    struct series *s;
    int rc = find(h, group, name, KIND_RATE, &s);
    if (rc)
        return rc;
    double dt = (double)(h->t[slot_of(h, h->ticks)] - h->prev_t_ms) / 1000.0;
    s->v[slot_of(h, h->ticks)] = advance(h, s, total, 0) ? increase(total, s->base_num) / dt : NAN;
    return 0;
}

int sb_history_ratio(struct sb_history *h, const char *group, const char *name, double num_total,
                     double den_total)
{
    struct series *s;
    int rc = find(h, group, name, KIND_RATIO, &s);
    if (rc)
        return rc;
    double v = NAN;
    if (advance(h, s, num_total, den_total)) {
        double dd = increase(den_total, s->base_den);
        if (dd > 0)
            v = increase(num_total, s->base_num) / dd;
    }
    s->v[slot_of(h, h->ticks)] = v;
    return 0;
}

size_t sb_history_len(const struct sb_history *h)
{
    return h->ticks < h->points ? (size_t)h->ticks : h->points;
}

size_t sb_history_series_count(const struct sb_history *h)
{
    return h->nslots;
}

static void put_number(struct sb_buf *out, double v)
{
    char num[32];
    if (isnan(v)) {
        sb_buf_puts(out, "null");
        return;
    }
    sb_fmt_double(num, sizeof(num), v);
    sb_buf_puts(out, num);
}

static bool has_value(const struct sb_history *h, const struct series *s, uint64_t first)
{
    for (uint64_t k = first; k <= h->ticks; k++)
        if (!isnan(s->v[slot_of(h, k)]))
            return true;
    return false;
}

void sb_history_json(const struct sb_history *h, int64_t since_ms, struct sb_buf *out)
{
    /* The first tick of the window, then the first one after since_ms. */
    uint64_t first = h->ticks - sb_history_len(h) + 1;
    while (first <= h->ticks && h->t[slot_of(h, first)] <= since_ms)
        first++;
    sb_buf_printf(out, "{\"points\":%zu,\"t\":[", h->points);
    for (uint64_t k = first; k <= h->ticks; k++)
        sb_buf_printf(out, "%s%lld", k == first ? "" : ",", (long long)h->t[slot_of(h, k)]);
    sb_buf_puts(out, "],\"series\":{");
    bool any_group = false;
    for (size_t g = 0; g < h->nslots; g++) {
        const char *group = h->series[g].group;
        bool seen = false;
        for (size_t i = 0; i < g && !seen; i++)
            seen = strcmp(h->series[i].group, group) == 0;
        if (seen)
            continue;
        sb_buf_printf(out, "%s\"%s\":{", any_group ? "," : "", group);
        any_group = true;
        bool any = false;
        for (size_t i = g; i < h->nslots; i++) {
            const struct series *s = &h->series[i];
            if (strcmp(s->group, group) || !has_value(h, s, first))
                continue;
            sb_buf_printf(out, "%s\"%s\":[", any ? "," : "", s->name);
            any = true;
            for (uint64_t k = first; k <= h->ticks; k++) {
                if (k != first)
                    sb_buf_putc(out, ',');
                put_number(out, s->v[slot_of(h, k)]);
            }
            sb_buf_putc(out, ']');
        }
        sb_buf_putc(out, '}');
    }
    sb_buf_puts(out, "}}\n");
}
