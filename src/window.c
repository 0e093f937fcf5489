/* window.c - event-time tumbling windows per sensor and size, closed by a
 * per-sensor watermark. */
#include "sensorbridge/window.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sensorbridge/util.h"

/* Event times beyond +-2^62 us are refused so that window starts, ends
 * and watermarks never overflow int64 (sizes and lateness are <= 2^61). */
#define TS_LIMIT (INT64_C(1) << 62)
#define SIZE_LIMIT (INT64_C(1) << 61)
#define MAX_SIZES 64
#define MAX_OPEN 65536
/* Most sensors have one or two windows open per size (lateness < size),
 * so rings start small and double on demand up to max_open. */
#define RING_INITIAL 4

/* One open window. Welford's update runs on value - pivot, pivot being the
 * window's first value: with data like 1e9 + noise the shifted values are
 * exact (Sterbenz) and small, so mean and M2 keep full precision, where
 * plain Welford loses digits in proportion to offset / spread (the unit
 * test shows it missing 1e-12) and the sum-of-squares formula loses all. */
struct acc {
    int64_t start;
    int64_t first_ts;
    int64_t last_ts;
    uint64_t count;
    double pivot;
    double mean; /* of value - pivot */
    double m2;   /* sum of squared deviations from the mean */
    double sum;
    double min;
    double max;
    bool resumed; /* opened or open when its sensor resumed: see window.h */
};

/* The open windows of one sensor and size, sorted by start, oldest at
 * head. A ring because windows close at the front and open at the back. */
struct ring {
    struct acc *w;
    uint32_t head;
    uint32_t n;
    uint32_t cap; /* power of two, 0 until the first window opens */
};

/* The window engine's slot of a sensor record (sensortab.h), on the
 * engine's list of the sensors it holds. */
struct sb_window_sensor {
    struct sb_sensor *rec;
    struct sb_window_sensor *prev, *next;
    bool seen;
    int64_t max_ts;
    uint64_t run; /* id of the run of its last sample */
    /* Windows starting at or before this are opened resumed: the largest
     * ts0 + lateness of its resumes; INT64_MIN before any. */
    int64_t resumed_until;
    /* Smallest end among the open windows of all sizes (INT64_MAX if none):
     * the per-sample test for "anything to close" is one comparison. */
    int64_t next_end;
    struct ring rings[]; /* one per size, same order as sb_windows.sizes */
};

struct sb_windows {
    int64_t *sizes; /* ascending, so ties on end time close the smaller size first */
    size_t nsizes;
    int64_t lateness;
    uint32_t max_open;
    sb_window_closed_cb cb;
    void *ud;
    struct sb_window_sensor *sensors; /* held: a list, the records find their slot */
    size_t nsensors;
    size_t open;
};

/* The record's slot, made on its first sample. */
static struct sb_window_sensor *slot_of(struct sb_windows *w, struct sb_sensor *rec)
{
    if (rec->windows)
        return rec->windows;
    struct sb_window_sensor *s = sb_xcalloc(1, sizeof(*s) + w->nsizes * sizeof(s->rings[0]));
    s->rec = rec;
    s->next_end = INT64_MAX;
    s->resumed_until = INT64_MIN;
    s->next = w->sensors;
    if (w->sensors)
        w->sensors->prev = s;
    w->sensors = s;
    w->nsensors++;
    rec->windows = s;
    return s;
}

static struct acc *ring_at(const struct ring *r, uint32_t i)
{
    return &r->w[(r->head + i) & (r->cap - 1)];
}

static void ring_grow(struct ring *r)
{
    uint32_t cap = r->cap ? r->cap * 2 : RING_INITIAL;
    struct acc *w = sb_xmalloc(cap * sizeof(*w));
    for (uint32_t i = 0; i < r->n; i++)
        w[i] = *ring_at(r, i);
    free(r->w);
    r->w = w;
    r->head = 0;
    r->cap = cap;
}

/* Inserts an uninitialized slot at position pos (0..n) and returns it. */
static struct acc *ring_insert(struct ring *r, uint32_t pos)
{
    if (r->n == r->cap)
        ring_grow(r);
    /* Out-of-order windows are rare and rings short: shifting the tail by
     * one is cheaper than anything smarter. */
    for (uint32_t i = r->n; i > pos; i--)
        *ring_at(r, i) = *ring_at(r, i - 1);
    r->n++;
    return ring_at(r, pos);
}

static void recompute_next_end(const struct sb_windows *w, struct sb_window_sensor *s)
{
    int64_t next = INT64_MAX;
    for (size_t k = 0; k < w->nsizes; k++) {
        const struct ring *r = &s->rings[k];
        if (r->n) {
            int64_t end = ring_at(r, 0)->start + w->sizes[k];
            if (end < next)
                next = end;
        }
    }
    s->next_end = next;
}

/* Removes the oldest window of size k and reports it. The sensor's state
 * is consistent before the callback runs. */
static void close_oldest(struct sb_windows *w, struct sb_window_sensor *s, size_t k,
                         enum sb_window_closed closed)
{
    struct ring *r = &s->rings[k];
    struct acc a = *ring_at(r, 0);
    r->head = (r->head + 1) & (r->cap - 1);
    r->n--;
    w->open--;
    recompute_next_end(w, s);
    if (!w->cb)
        return;
    struct sb_window_result res = {
        .sensor = s->rec->name,
        .record = s->rec,
        .size_us = w->sizes[k],
        .start_us = a.start,
        .end_us = a.start + w->sizes[k],
        .count = a.count,
        .sum = a.sum,
        .min = a.min,
        .max = a.max,
        .mean = a.pivot + a.mean,
        .stddev = sqrt(a.m2 / (double)a.count),
        .first_ts_us = a.first_ts,
        .last_ts_us = a.last_ts,
        .closed = closed,
        .resumed = a.resumed,
        .complete = closed == SB_WINDOW_CLOSED_WATERMARK && !a.resumed,
    };
    w->cb(w->ud, &res);
}

/* Closes every window with end <= limit, oldest end first, smaller size
 * first on equal ends (INT64_MAX: every open window; ends are below it).
 * Each iteration costs O(nsizes) and closes one window that was opened by
 * at least one sample: amortized O(nsizes). */
static void close_until(struct sb_windows *w, struct sb_window_sensor *s, int64_t limit,
                        enum sb_window_closed closed)
{
    while (s->next_end != INT64_MAX && s->next_end <= limit) {
        size_t best = 0;
        int64_t best_end = INT64_MAX;
        for (size_t k = 0; k < w->nsizes; k++) {
            const struct ring *r = &s->rings[k];
            if (r->n) {
                int64_t end = ring_at(r, 0)->start + w->sizes[k];
                if (end < best_end) {
                    best_end = end;
                    best = k;
                }
            }
        }
        close_oldest(w, s, best, closed);
    }
}

/* The open window of size k that holds ts, or NULL with *pos set to where
 * a window for ts would go. Searching from the newest by range rather than
 * by computed start spares the 64-bit division (floor_div) for nearly
 * every sample: in-order data hits on the first compare. */
static struct acc *find_open(const struct ring *r, int64_t size, int64_t ts, uint32_t *pos)
{
    uint32_t i = r->n;
    while (i > 0) {
        struct acc *a = ring_at(r, i - 1);
        if (ts >= a->start) {
            if (ts - a->start < size)
                return a;
            break;
        }
        i--;
    }
    *pos = i;
    return NULL;
}

/* Opens the window of size k starting at start at position pos; NULL if
 * max_open are open and it would be older than all of them (force-closing
 * the oldest would then mean closing it).
 *
 * That rule is also what keeps a force-closed window from being reopened
 * and reported twice: right after a forced close the ring is full again
 * and every open window is newer than the closed one, and a slot frees up
 * only when the watermark passes one of those newer windows, which makes
 * the closed one late by the watermark as well. */
static struct acc *open_at(struct sb_windows *w, struct sb_window_sensor *s, size_t k,
                           int64_t start, uint32_t pos)
{
    struct ring *r = &s->rings[k];
    if (r->n >= w->max_open) {
        if (pos == 0)
            return NULL;
        close_oldest(w, s, k, SB_WINDOW_CLOSED_FORCED);
        pos--;
    }
    struct acc *a = ring_insert(r, pos);
    a->start = start;
    a->count = 0;
    a->resumed = start <= s->resumed_until;
    w->open++;
    int64_t end = start + w->sizes[k];
    if (end < s->next_end)
        s->next_end = end;
    return a;
}

static void fold(struct acc *a, int64_t ts, double v)
{
    if (a->count == 0) {
        a->count = 1;
        a->pivot = v;
        a->mean = 0;
        a->m2 = 0;
        a->sum = v;
        a->min = v;
        a->max = v;
        a->first_ts = ts;
        a->last_ts = ts;
        return;
    }
    /* Welford on the shifted value. */
    double x = v - a->pivot;
    a->count++;
    double d = x - a->mean;
    a->mean += d / (double)a->count;
    a->m2 += d * (x - a->mean);
    a->sum += v;
    if (v < a->min)
        a->min = v;
    if (v > a->max)
        a->max = v;
    if (ts < a->first_ts)
        a->first_ts = ts;
    if (ts > a->last_ts)
        a->last_ts = ts;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b < 0)
        q--;
    return q;
}

struct sb_windows *sb_windows_new(const int64_t *sizes_us, size_t nsizes, int64_t lateness_us,
                                  int max_open, sb_window_closed_cb cb, void *ud)
{
    if (!sizes_us || nsizes == 0 || nsizes > MAX_SIZES || lateness_us < 0 ||
        lateness_us > SIZE_LIMIT || max_open < 1 || max_open > MAX_OPEN)
        return NULL;
    for (size_t i = 0; i < nsizes; i++) {
        if (sizes_us[i] < 1000000 || sizes_us[i] > SIZE_LIMIT)
            return NULL;
        for (size_t j = 0; j < i; j++)
            if (sizes_us[j] == sizes_us[i])
                return NULL;
    }
    struct sb_windows *w = sb_xcalloc(1, sizeof(*w));
    w->sizes = sb_xmalloc(nsizes * sizeof(*w->sizes));
    /* Insertion sort: at most 64 sizes, once. */
    for (size_t i = 0; i < nsizes; i++) {
        size_t j = i;
        while (j > 0 && w->sizes[j - 1] > sizes_us[i]) {
            w->sizes[j] = w->sizes[j - 1];
            j--;
        }
        w->sizes[j] = sizes_us[i];
    }
    w->nsizes = nsizes;
    w->lateness = lateness_us;
    w->max_open = (uint32_t)max_open;
    w->cb = cb;
    w->ud = ud;
    return w;
}

static void sensor_free(const struct sb_windows *w, struct sb_window_sensor *s)
{
    for (size_t k = 0; k < w->nsizes; k++)
        free(s->rings[k].w);
    free(s);
}

void sb_windows_free(struct sb_windows *w)
{
    if (!w)
        return;
    while (w->sensors) {
        struct sb_window_sensor *s = w->sensors;
        w->sensors = s->next;
        sensor_free(w, s);
    }
    free(w->sizes);
    free(w);
}

/* The sensor resumes at ts (see window.h): what is open now, and what
 * opens later with a start <= ts + lateness, may lack samples from before. */
static void resume(struct sb_windows *w, struct sb_window_sensor *s, int64_t ts)
{
    for (size_t k = 0; k < w->nsizes; k++)
        for (uint32_t i = 0; i < s->rings[k].n; i++)
            ring_at(&s->rings[k], i)->resumed = true;
    if (ts + w->lateness > s->resumed_until)
        s->resumed_until = ts + w->lateness;
}

enum sb_window_verdict sb_windows_add(struct sb_windows *w, struct sb_sensor *sensor, int64_t ts_us,
                                      double value, const struct sb_window_run *run)
{
    if (!isfinite(value) || ts_us < -TS_LIMIT || ts_us > TS_LIMIT)
        return SB_WINDOW_LATE;
    struct sb_window_sensor *s = slot_of(w, sensor);

    static const struct sb_window_run whole = {0, true};
    if (!run)
        run = &whole;
    if (s->seen ? run->id != s->run : !run->from_start)
        resume(w, s, ts_us);
    s->run = run->id;
    if (!s->seen || ts_us > s->max_ts) {
        s->seen = true;
        s->max_ts = ts_us;
        /* Close before applying: a slot freed here spares a forced close. */
        if (s->next_end <= ts_us - w->lateness)
            close_until(w, s, ts_us - w->lateness, SB_WINDOW_CLOSED_WATERMARK);
    }
    int64_t watermark = s->max_ts - w->lateness;

    enum sb_window_verdict verdict = SB_WINDOW_ACCEPTED;
    for (size_t k = 0; k < w->nsizes; k++) {
        int64_t size = w->sizes[k];
        uint32_t pos;
        /* Open windows all end after the watermark: no lateness test. */
        struct acc *a = find_open(&s->rings[k], size, ts_us, &pos);
        if (!a) {
            int64_t start = floor_div(ts_us, size) * size;
            if (start + size > watermark)
                a = open_at(w, s, k, start, pos);
        }
        if (!a) {
            verdict = SB_WINDOW_LATE;
            continue;
        }
        fold(a, ts_us, value);
    }
    return verdict;
}

static void unlink_free(struct sb_windows *w, struct sb_window_sensor *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        w->sensors = s->next;
    if (s->next)
        s->next->prev = s->prev;
    w->nsensors--;
    s->rec->windows = NULL;
    sensor_free(w, s);
}

bool sb_windows_forget(struct sb_windows *w, struct sb_sensor *sensor)
{
    struct sb_window_sensor *s = sensor->windows;
    if (!s)
        return false;
    /* Reported while the sensor is still whole. */
    close_until(w, s, INT64_MAX, SB_WINDOW_CLOSED_FORGOTTEN);
    unlink_free(w, s);
    return true;
}

static int cmp_sensor(const void *x, const void *y)
{
    return strcmp((*(struct sb_window_sensor *const *)x)->rec->name,
                  (*(struct sb_window_sensor *const *)y)->rec->name);
}

void sb_windows_forget_all(struct sb_windows *w)
{
    struct sb_window_sensor **all = sb_xmalloc((w->nsensors ? w->nsensors : 1) * sizeof(*all));
    size_t n = 0;
    for (struct sb_window_sensor *s = w->sensors; s; s = s->next)
        all[n++] = s;
    qsort(all, n, sizeof(*all), cmp_sensor);
    for (size_t i = 0; i < n; i++)
        close_until(w, all[i], INT64_MAX, SB_WINDOW_CLOSED_FORGOTTEN);
    for (size_t i = 0; i < n; i++)
        unlink_free(w, all[i]);
    free(all);
}

size_t sb_windows_open_count(const struct sb_windows *w)
{
    return w->open;
}
