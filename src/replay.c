/* replay.c - the UCI hydraulic dataset replayed on absolute timer schedules. */
#include "sensorbridge/replay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sensorbridge/dataset.h"
#include "sensorbridge/log.h"
#include "sensorbridge/sched.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

/* At most this many samples per stream per timer callback, so one stream
 * catching up after a pause cannot starve the loop (HTTP, consumer). */
#define MAX_BATCH 2000

#define SOURCE_UCI "uci-hydraulic"
#define SOURCE_STANDIN "uci-hydraulic-standin"

/* The streams of one rate share a schedule and a timer: sample j of the
 * shared schedule is due at start + j / (rate * speed), and each stream's
 * sample seq is the schedule's sample seq - base_seq, so every stream of
 * the rate waits for the same instants. One wake-up serves them all; a
 * stream behind its schedule (paused, or past MAX_BATCH) catches up from
 * its own idle handle as before, and never shifts the others. With
 * [producer] coalesce_ms the timer waits for the end of the coalescing
 * period that holds the next due time (sb_sched_coalesce_ns), and the
 * wake-up emits every sample due by then: the same samples with the same
 * event times, handed over in fewer, larger groups. */
struct rate_group {
    struct sb_replay *r;
    unsigned rate_hz;
    struct sb_sched sched;
    uv_timer_t timer; /* armed while a member waits */
    bool armed;
    uint64_t armed_ns; /* the wake-up it is armed for */
    size_t first, n;   /* members: r->order[first .. first + n) */
};

struct stream {
    struct sb_replay *r;
    struct rate_group *g;
    const struct sb_sensor_info *info;
    char *path;
    bool standin;       /* 1-second means interpolated to the native rate */
    unsigned per_cycle; /* samples per cycle at the native rate */
    struct sb_dsfile *f;
    struct sb_row row;
    bool have_row;
    uint64_t base_seq; /* seq at which g->sched was (re)started */
    bool waiting;      /* on g's timer for its next due sample */
    uv_idle_t idle;    /* runs the next turn at once (speed max, catching up) */
    void *bound;
    uint64_t seq;   /* next sample, counted from the start of the replay */
    unsigned cycle; /* row of the next sample */
    unsigned k;     /* index of the next sample within its cycle */
    bool paused;
    bool finished;
    struct sb_metric *lag;
    struct sb_metric *rows_invalid;
    struct sb_metric *stream_cycle;
};

struct sb_replay {
    uv_loop_t *loop;
    struct sb_source_sink sink;
    struct stream *streams;
    size_t nstreams;
    struct rate_group *groups;
    size_t ngroups;
    size_t *order; /* stream indices by rate, grouped */
    unsigned first, last;
    bool loop_at_end;
    double speed;
    uint64_t coalesce_ns; /* [producer] coalesce_ms; 0: wake at each due time */
    int64_t epoch_us;
    int *profile; /* SB_PROFILE_COLUMNS ints per cycle, or NULL */
    unsigned profile_rows;
    long cur_cycle; /* lowest cycle any stream is in; -1 before start */
    bool finished;
    struct sb_metric *m_cycle;
    struct sb_metric *m_paused;
    struct sb_metric *m_wakeups;
    struct sb_metric *m_profile[SB_PROFILE_COLUMNS];
    struct sb_ratelimit rl;
    int open_handles;
    void (*close_cb)(void *ud);
    void *close_ud;
};

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int load_profile(struct sb_replay *r, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/profile.txt", dir);
    if (!is_file(path))
        return 0;
    size_t rows;
    int rc = sb_profile_load(path, &r->profile, &rows, err, errlen);
    r->profile_rows = (unsigned)rows;
    return rc;
}

static void register_metrics(struct sb_replay *r, struct sb_registry *reg)
{
    r->m_cycle = sb_family_child(
        sb_registry_family(reg, SB_GAUGE, "sensorbridge_replay_cycle",
                           "Dataset cycle (0-based row) being replayed; the lowest over all "
                           "sensors.",
                           0, NULL, NULL, 0),
        NULL);
    r->m_paused = sb_family_child(
        sb_registry_family(reg, SB_GAUGE, "sensorbridge_replay_paused",
                           "1 while the replay waits for the producer queue to drain.", 0, NULL,
                           NULL, 0),
        NULL);
    const char *source_label[] = {"source"};
    const char *replay_source[] = {"replay"};
    r->m_wakeups =
        sb_family_child(sb_registry_family(reg, SB_COUNTER, SB_SOURCE_WAKEUPS_METRIC,
                                           SB_SOURCE_WAKEUPS_HELP, 1, source_label, NULL, 0),
                        replay_source);
    if (!r->profile)
        return;
    static const char *const names[SB_PROFILE_COLUMNS][2] = {
        {"sensorbridge_hydraulic_cooler_condition_percent",
         "Cooler condition of the current cycle: 3 close to total failure, 20 reduced "
         "efficiency, 100 full efficiency."},
        {"sensorbridge_hydraulic_valve_condition_percent",
         "Valve condition of the current cycle: 100 optimal switching, 90 small lag, 80 severe "
         "lag, 73 close to total failure."},
        {"sensorbridge_hydraulic_pump_leakage",
         "Internal pump leakage of the current cycle: 0 none, 1 weak, 2 severe."},
        {"sensorbridge_hydraulic_accumulator_pressure_bar",
         "Hydraulic accumulator pressure of the current cycle: 130 optimal, 115 slightly "
         "reduced, 100 severely reduced, 90 close to total failure."},
        {"sensorbridge_hydraulic_stable_flag",
         "Stable flag of the current cycle: 0 conditions were stable, 1 static conditions "
         "might not have been reached yet."},
    };
    for (int i = 0; i < SB_PROFILE_COLUMNS; i++)
        r->m_profile[i] = sb_family_child(
            sb_registry_family(reg, SB_GAUGE, names[i][0], names[i][1], 0, NULL, NULL, 0), NULL);
}

static void update_cycle(struct sb_replay *r)
{
    long lowest = -1;
    for (size_t i = 0; i < r->nstreams; i++) {
        const struct stream *s = &r->streams[i];
        if (!s->finished && (lowest < 0 || (long)s->cycle < lowest))
            lowest = (long)s->cycle;
    }
    if (lowest < 0 || lowest == r->cur_cycle)
        return;
    r->cur_cycle = lowest;
    sb_gauge_set(r->m_cycle, (double)lowest);
    if (r->profile && (unsigned long)lowest < r->profile_rows)
        for (int i = 0; i < SB_PROFILE_COLUMNS; i++)
            sb_gauge_set(r->m_profile[i], r->profile[lowest * SB_PROFILE_COLUMNS + i]);
}

static int open_stream(struct sb_replay *r, struct stream *s, const char *dir,
                       const struct sb_sensor_info *info, bool required, char *err, size_t errlen)
{
    char path[4096];
    s->r = r;
    s->info = info;
    s->per_cycle = info->rate_hz * SB_UCI_CYCLE_SECONDS;
    snprintf(path, sizeof(path), "%s/%s.txt", dir, info->name);
    if (!is_file(path)) {
        snprintf(path, sizeof(path), "%s/standin/%s_1hz.txt", dir, info->name);
        if (!is_file(path)) {
            if (required) {
                snprintf(err, errlen, "[replay] sensors: no %s.txt or standin/%s_1hz.txt in %s",
                         info->name, info->name, dir);
                return -ENOENT;
            }
            return 1;
        }
        s->standin = info->rate_hz > 1;
    }
    s->path = sb_xstrdup(path);
    size_t ncols = s->standin ? SB_UCI_CYCLE_SECONDS : s->per_cycle;
    return sb_dsfile_open(&s->f, path, ncols, err, errlen);
}

static void on_group_timer(uv_timer_t *t);

/* One group per distinct rate, members in catalogue order. */
static void make_groups(struct sb_replay *r)
{
    r->order = sb_xcalloc(r->nstreams, sizeof(*r->order));
    r->groups = sb_xcalloc(r->nstreams, sizeof(*r->groups));
    size_t placed = 0;
    for (size_t i = 0; i < r->nstreams; i++) {
        if (r->streams[i].g)
            continue;
        struct rate_group *g = &r->groups[r->ngroups++];
        g->r = r;
        g->rate_hz = r->streams[i].info->rate_hz;
        g->first = placed;
        for (size_t j = i; j < r->nstreams; j++)
            if (!r->streams[j].g && r->streams[j].info->rate_hz == g->rate_hz) {
                r->streams[j].g = g;
                r->order[placed++] = j;
            }
        g->n = placed - g->first;
        uv_timer_init(r->loop, &g->timer);
        g->timer.data = g;
        r->open_handles++;
    }
}

int sb_replay_new(struct sb_replay **out, uv_loop_t *loop, const struct sb_config *cfg,
                  struct sb_registry *reg, const struct sb_source_sink *sink, char *err,
                  size_t errlen)
{
    struct sb_replay *r = sb_xcalloc(1, sizeof(*r));
    r->loop = loop;
    r->sink = *sink;
    r->speed = cfg->speed;
    r->coalesce_ns = (uint64_t)cfg->coalesce_ms * 1000000;
    r->loop_at_end = cfg->loop;
    r->cur_cycle = -1;
    r->rl.interval_ns = 10ull * 1000000000u;
    int rc = load_profile(r, cfg->dataset, err, errlen);
    if (rc)
        goto fail;

    size_t ncat;
    const struct sb_sensor_info *cat = sb_sensors_uci(&ncat);
    bool explicit = cfg->sensors.n > 0;
    size_t want = explicit ? cfg->sensors.n : ncat;
    r->streams = sb_xcalloc(want, sizeof(*r->streams));
    unsigned rows = UINT32_MAX;
    for (size_t i = 0; i < want; i++) {
        const struct sb_sensor_info *info =
            explicit ? sb_sensors_find(cfg->sensors.names[i]) : &cat[i];
        struct stream *s = &r->streams[r->nstreams];
        rc = open_stream(r, s, cfg->dataset, info, explicit, err, errlen);
        if (rc == 1) {
            sb_warn("msg=\"sensor has no file, not replayed\" sensor=%s dataset=%s", info->name,
                    cfg->dataset);
            continue;
        }
        r->nstreams++;
        if (rc)
            goto fail;
        unsigned n;
        rc = sb_dsfile_count_rows(s->path, &n);
        if (rc) {
            snprintf(err, errlen, "%s: %s", s->path, strerror(-rc));
            goto fail;
        }
        if (n != rows && rows != UINT32_MAX)
            sb_notice("msg=\"dataset files differ in rows; replaying the rows all have\" "
                      "file=%s rows=%u",
                      s->path, n);
        if (n < rows)
            rows = n;
    }
    if (r->nstreams == 0) {
        snprintf(err, errlen, "[replay] dataset: no sensor files in %s", cfg->dataset);
        rc = -ENOENT;
        goto fail;
    }
    r->first = (unsigned)cfg->cycle_first;
    r->last = cfg->cycle_last < 0 ? rows - 1 : (unsigned)cfg->cycle_last;
    if (rows == 0 || r->first > r->last || r->last >= rows) {
        snprintf(err, errlen, "[replay] cycles: %u-%u is outside the dataset's %u cycles", r->first,
                 r->last, rows);
        rc = -EINVAL;
        goto fail;
    }
    if (cfg->event_epoch_us >= 0) {
        r->epoch_us = cfg->event_epoch_us;
    } else {
        int64_t minute = 60ll * 1000000;
        r->epoch_us = sb_now_wall_us() / minute * minute;
    }

    register_metrics(r, reg);
    const char *sensor_label[] = {"sensor"};
    struct sb_family *f_lag =
        sb_registry_family(reg, SB_GAUGE, "sensorbridge_replay_schedule_lag_seconds",
                           "How late the last sample of each sensor was emitted relative to its "
                           "absolute schedule (0 at speed max).",
                           1, sensor_label, NULL, 0);
    struct sb_family *f_invalid = sb_registry_family(
        reg, SB_COUNTER, "sensorbridge_replay_rows_invalid_total",
        "Dataset rows skipped as malformed, by sensor.", 1, sensor_label, NULL, 0);
    struct sb_family *f_scycle = sb_registry_family(
        reg, SB_GAUGE, "sensorbridge_replay_sensor_cycle",
        "Dataset cycle (0-based row) each sensor is replaying.", 1, sensor_label, NULL, 0);
    const char *info_labels[] = {"sensor", "source", "file"};
    struct sb_family *f_info = sb_registry_family(
        reg, SB_GAUGE, "sensorbridge_replay_stream_info",
        "Replayed streams: source is uci-hydraulic for original files, uci-hydraulic-standin "
        "for 1-second means interpolated to the native rate; always 1.",
        3, info_labels, NULL, 0);
    for (size_t i = 0; i < r->nstreams; i++) {
        struct stream *s = &r->streams[i];
        const char *lv[] = {s->info->name};
        s->lag = sb_family_child(f_lag, lv);
        s->rows_invalid = sb_family_child(f_invalid, lv);
        s->stream_cycle = sb_family_child(f_scycle, lv);
        const char *ilv[] = {s->info->name, s->standin ? SOURCE_STANDIN : SOURCE_UCI, s->path};
        sb_gauge_set(sb_family_child(f_info, ilv), 1);
        s->bound = r->sink.bind(r->sink.ud, s->info->name);
        s->cycle = r->first;
        uv_idle_init(loop, &s->idle);
        s->idle.data = s;
        r->open_handles++;
        sb_info("msg=\"replay stream\" sensor=%s rate_hz=%u source=%s file=%s", s->info->name,
                s->info->rate_hz, s->standin ? SOURCE_STANDIN : SOURCE_UCI, s->path);
    }
    make_groups(r);
    *out = r;
    return 0;
fail:
    for (size_t i = 0; i < r->nstreams; i++) {
        if (r->streams[i].f)
            sb_dsfile_close(r->streams[i].f);
        free(r->streams[i].path);
    }
    free(r->streams);
    free(r->profile);
    free(r);
    return rc < 0 ? rc : -EINVAL;
}

/* Makes the row of s->cycle current. Returns false if that row is bad or
 * missing: the caller skips the cycle. */
static bool load_row(struct stream *s)
{
    char err[512];
    int rc = 0;
    /* Rows are read in order; only the start of a pass needs a seek. */
    if (s->cycle == s->r->first) {
        rc = sb_dsfile_seek(s->f, s->cycle);
        if (rc > 0)
            snprintf(err, sizeof(err), "%s: fewer than %u rows", s->path, s->cycle + 1);
    }
    if (rc == 0) {
        rc = sb_dsfile_next(s->f, &s->row, err, sizeof(err));
        if (rc == 0)
            snprintf(err, sizeof(err), "%s: row %u missing", s->path, s->cycle + 1);
        else if (rc < 0 && rc != -EINVAL)
            snprintf(err, sizeof(err), "%s: %s", s->path, strerror(-rc));
    }
    s->have_row = true;
    if (rc != 1) {
        sb_counter_add(s->rows_invalid, 1);
        uint64_t suppressed = 0;
        if (sb_ratelimit_ok(&s->r->rl, sb_now_mono_ns(), &suppressed))
            sb_err("msg=\"dataset row skipped\" sensor=%s cycle=%u error=\"%s\" "
                   "suppressed=%" PRIu64,
                   s->info->name, s->cycle, sb_log_quote(err), suppressed);
    }
    return rc == 1;
}

static void finish_cycle(struct stream *s)
{
    struct sb_replay *r = s->r;
    s->k = 0;
    if (s->cycle < r->last) {
        s->cycle++;
    } else if (r->loop_at_end) {
        s->cycle = r->first;
    } else {
        s->finished = true;
    }
    s->have_row = false;
    sb_gauge_set(s->stream_cycle, s->cycle);
    update_cycle(r);
    if (s->finished) {
        for (size_t i = 0; i < r->nstreams; i++)
            if (!r->streams[i].finished)
                return;
        r->finished = true;
        sb_notice("msg=\"replay finished\" cycles=%u-%u", r->first, r->last);
    }
}

static void on_idle(uv_idle_t *h);

/* Arms g's timer for the wake-up that serves a sample due at `due` (the
 * end of its coalescing period) unless it already fires by then. */
static void group_arm(struct rate_group *g, uint64_t due)
{
    uint64_t wake = sb_sched_coalesce_ns(&g->sched, due, g->r->coalesce_ns);
    if (g->armed && g->armed_ns <= wake)
        return;
    g->armed = true;
    g->armed_ns = wake;
    uv_timer_start(&g->timer, on_group_timer, sb_sched_timer_ms(uv_now(g->r->loop), wake), 0);
}

/* Schedules the stream's next turn. A sample already due runs from the
 * idle handle, not from a 0 ms timer: libuv runs a timer re-armed with 0
 * from its own callback again before polling for I/O, which would starve
 * delivery reports, the consumer and HTTP. */
static void rearm(struct stream *s, uint64_t now)
{
    if (s->finished || s->paused)
        return;
    if (s->r->speed > 0) {
        uint64_t due = sb_sched_due_ns(&s->g->sched, s->seq - s->base_seq);
        if (due > now) {
            s->waiting = true;
            group_arm(s->g, due);
            return;
        }
    }
    uv_idle_start(&s->idle, on_idle);
}

static void tick(struct stream *s, uint64_t now)
{
    struct sb_replay *r = s->r;
    uv_idle_stop(&s->idle);
    s->waiting = false;
    uint64_t limit;
    if (r->speed > 0)
        limit = s->base_seq + sb_sched_due_count(&s->g->sched, now);
    else
        limit = s->seq + s->info->rate_hz; /* one second of event time per turn */
    if (limit > s->seq + MAX_BATCH)
        limit = s->seq + MAX_BATCH;

    struct sb_sample smp = {
        .sensor = s->info->name,
        .rate_hz = s->info->rate_hz,
        .unit = s->info->unit,
        .source = s->standin ? SOURCE_STANDIN : SOURCE_UCI,
    };
    while (s->seq < limit && !s->finished) {
        if (!s->have_row && !load_row(s)) {
            /* The cycle's samples are skipped, not shifted: the schedule
             * and event times of later cycles stay where they belong. */
            s->seq += s->per_cycle - s->k;
            finish_cycle(s);
            continue;
        }
        smp.cycle = s->cycle;
        smp.sample_idx = s->k;
        smp.ts_us = r->epoch_us + sb_sched_event_offset_us(&s->g->sched, s->seq);
        if (s->standin) {
            smp.value = sb_upsample_linear(s->row.values, s->row.nvalues, s->info->rate_hz, s->k);
            smp.value_text = NULL;
        } else {
            smp.value = s->row.values[s->k];
            smp.value_text = s->row.text[s->k];
            smp.value_len = s->row.textlen[s->k];
        }
        if (r->sink.emit(r->sink.ud, s->bound, &smp) == -EAGAIN) {
            s->paused = true;
            sb_gauge_set(r->m_paused, 1);
            return;
        }
        s->seq++;
        if (++s->k == s->per_cycle)
            finish_cycle(s);
    }
    if (r->speed > 0 && s->seq > s->base_seq) {
        uint64_t due = sb_sched_due_ns(&s->g->sched, s->seq - 1 - s->base_seq);
        sb_gauge_set(s->lag, now > due ? (double)(now - due) / 1e9 : 0);
    }
    rearm(s, now);
}

/* The members that wait go one after the other with the same now; a
 * member that is paused, finished or catching up from its idle handle
 * is not waiting and is left alone. */
static void on_group_timer(uv_timer_t *t)
{
    struct rate_group *g = t->data;
    struct sb_replay *r = g->r;
    uint64_t now = uv_hrtime();
    g->armed = false;
    sb_counter_add(r->m_wakeups, 1);
    for (size_t i = 0; i < g->n; i++) {
        struct stream *s = &r->streams[r->order[g->first + i]];
        if (s->waiting)
            tick(s, now);
    }
}

static void on_idle(uv_idle_t *h)
{
    tick(h->data, uv_hrtime());
}

/* Every group's schedule starts at now; every stream counts from its seq. */
static void restart_schedules(struct sb_replay *r, uint64_t now)
{
    for (size_t i = 0; i < r->ngroups; i++) {
        struct rate_group *g = &r->groups[i];
        sb_sched_init(&g->sched, now, g->rate_hz, r->speed);
        uv_timer_stop(&g->timer);
        g->armed = false;
    }
    for (size_t i = 0; i < r->nstreams; i++) {
        r->streams[i].base_seq = r->streams[i].seq;
        r->streams[i].waiting = false;
    }
}

void sb_replay_start(struct sb_replay *r)
{
    uint64_t now = uv_hrtime();
    restart_schedules(r, now);
    for (size_t i = 0; i < r->nstreams; i++) {
        struct stream *s = &r->streams[i];
        sb_gauge_set(s->stream_cycle, s->cycle);
        rearm(s, now);
    }
    update_cycle(r);
    char epoch[40];
    sb_fmt_rfc3339_us(epoch, sizeof(epoch), r->epoch_us);
    if (r->speed > 0)
        sb_notice("msg=\"replay started\" streams=%zu cycles=%u-%u speed=%g loop=%s "
                  "event_epoch=%s",
                  r->nstreams, r->first, r->last, r->speed, r->loop_at_end ? "true" : "false",
                  epoch);
    else
        sb_notice("msg=\"replay started\" streams=%zu cycles=%u-%u speed=max loop=%s "
                  "event_epoch=%s",
                  r->nstreams, r->first, r->last, r->loop_at_end ? "true" : "false", epoch);
}

void sb_replay_resume(struct sb_replay *r)
{
    sb_gauge_set(r->m_paused, 0);
    for (size_t i = 0; i < r->nstreams; i++) {
        struct stream *s = &r->streams[i];
        if (s->paused) {
            s->paused = false;
            uv_idle_start(&s->idle, on_idle);
        }
    }
}

void sb_replay_set_speed(struct sb_replay *r, double speed)
{
    if (speed == r->speed)
        return;
    r->speed = speed;
    /* The next sample is due now; later ones follow at the new pace.
     * Event times are unaffected: they depend on seq alone. */
    restart_schedules(r, uv_hrtime());
    for (size_t i = 0; i < r->nstreams; i++) {
        struct stream *s = &r->streams[i];
        if (!s->paused && !s->finished)
            uv_idle_start(&s->idle, on_idle);
    }
    if (speed > 0)
        sb_notice("msg=\"replay speed changed\" speed=%g", speed);
    else
        sb_notice("msg=\"replay speed changed\" speed=max");
}

void sb_replay_set_coalesce(struct sb_replay *r, int coalesce_ms)
{
    uint64_t ns = (uint64_t)coalesce_ms * 1000000, now = uv_hrtime();
    if (ns == r->coalesce_ns)
        return;
    r->coalesce_ns = ns;
    /* The schedules stay; only the wake-ups move. Each waiting stream arms
     * its group again for the new period's end. */
    for (size_t i = 0; i < r->ngroups; i++) {
        uv_timer_stop(&r->groups[i].timer);
        r->groups[i].armed = false;
    }
    for (size_t i = 0; i < r->nstreams; i++) {
        struct stream *s = &r->streams[i];
        if (s->waiting) {
            s->waiting = false;
            rearm(s, now);
        }
    }
    sb_notice("msg=\"replay coalescing changed\" coalesce_ms=%d", coalesce_ms);
}

void sb_replay_stop(struct sb_replay *r)
{
    for (size_t i = 0; i < r->ngroups; i++) {
        uv_timer_stop(&r->groups[i].timer);
        r->groups[i].armed = false;
    }
    for (size_t i = 0; i < r->nstreams; i++)
        uv_idle_stop(&r->streams[i].idle);
}

bool sb_replay_finished(const struct sb_replay *r)
{
    return r->finished;
}

int64_t sb_replay_event_time_us(const struct sb_replay *r)
{
    int64_t t = r->epoch_us;
    for (size_t i = 0; i < r->nstreams; i++) {
        const struct stream *s = &r->streams[i];
        int64_t next = r->epoch_us + sb_sched_event_offset_us(&s->g->sched, s->seq);
        if (next > t)
            t = next;
    }
    return t;
}

void sb_replay_set_epoch_floor(struct sb_replay *r, int64_t floor_us)
{
    if (floor_us > r->epoch_us)
        r->epoch_us = floor_us;
}

static void handle_closed(uv_handle_t *h)
{
    /* Group timers and stream idles both count in open_handles. */
    struct sb_replay *r = uv_handle_get_type(h) == UV_TIMER ? ((struct rate_group *)h->data)->r
                                                            : ((struct stream *)h->data)->r;
    if (--r->open_handles > 0)
        return;
    for (size_t i = 0; i < r->nstreams; i++) {
        sb_dsfile_close(r->streams[i].f);
        free(r->streams[i].path);
    }
    void (*cb)(void *) = r->close_cb;
    void *ud = r->close_ud;
    free(r->groups);
    free(r->order);
    free(r->streams);
    free(r->profile);
    free(r);
    if (cb)
        cb(ud);
}

void sb_replay_close(struct sb_replay *r, void (*cb)(void *ud), void *ud)
{
    r->close_cb = cb;
    r->close_ud = ud;
    for (size_t i = 0; i < r->ngroups; i++)
        uv_close((uv_handle_t *)&r->groups[i].timer, handle_closed);
    for (size_t i = 0; i < r->nstreams; i++)
        uv_close((uv_handle_t *)&r->streams[i].idle, handle_closed);
}
