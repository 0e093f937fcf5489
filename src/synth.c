/*
 * synth.c - synthetic factory sensors: a seeded generator (pure) and the
 * timer-driven source that emits its samples on an absolute schedule.
 *
 * Reproducibility is the point of this module: the same seed and event
 * epoch must give the same messages byte for byte, run after run and
 * machine after machine. So the generator uses only integer arithmetic
 * (xoshiro256**, splitmix64) and IEEE double operations that are
 * correctly rounded everywhere (+ - * / sqrt floor round), plus sin, cos
 * and log, whose last-bit differences between libms are then hidden by
 * rounding to 3 decimals. Nothing depends on the locale, on long double
 * (80 bits on x86, 128 on aarch64) or on how often the loop turns.
 * Builds must not contract a*b+c into an FMA: GCC does not in ISO C mode
 * (-std=c11 implies -ffp-contract=off), which is how meson builds us.
 */
#include "sensorbridge/synth.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensorbridge/codec.h"
#include "sensorbridge/log.h"
#include "sensorbridge/sched.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

/* At most this many samples per stream per turn of the loop, so a stream
 * catching up after a pause cannot starve HTTP or the consumer. */
#define MAX_BATCH 2000

/* At speed max each stream advances by this much event time per turn of
 * the loop (the replay does the same: one second of samples per turn), so
 * streams of different rates, and the replay, stay within about a second
 * of each other in event time. */
#define TURN_EVENT_US INT64_C(1000000)

#define HOUR_US INT64_C(3600000000)
#define DAY_US (24 * HOUR_US)
#define PEAK_OFFSET_US (8 * HOUR_US) /* sin(2 pi (t - 8 h) / 24 h) peaks at 14:00 */
#define TWO_PI 6.283185307179586476925286766559
#define MIN_RATE_HZ 0.001
#define MAX_RATE_HZ 1000.0

/* ------------------------------------------------------------------ */
/* Kinds                                                              */
/* ------------------------------------------------------------------ */

static const struct {
    const char *name;
    const char *unit;
} kinds[] = {
    [SB_SYNTH_TEMPERATURE] = {"temperature", "°C"}, [SB_SYNTH_VIBRATION] = {"vibration", "mm/s"},
    [SB_SYNTH_ENERGY] = {"energy", "kW"},           [SB_SYNTH_HUMIDITY] = {"humidity", "%"},
    [SB_SYNTH_PRESSURE] = {"pressure", "bar"},
};

static bool kind_valid(enum sb_synth_kind k)
{
    return (unsigned)k < SB_ARRAY_SIZE(kinds);
}

const char *sb_synth_kind_name(enum sb_synth_kind k)
{
    /* Never NULL: the result goes into a metric label. */
    return kind_valid(k) ? kinds[k].name : "unknown";
}

int sb_synth_kind_parse(const char *s)
{
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < SB_ARRAY_SIZE(kinds); i++)
        if (strcmp(s, kinds[i].name) == 0)
            return (int)i;
    return -1;
}

const char *sb_synth_kind_unit(enum sb_synth_kind k)
{
    return kind_valid(k) ? kinds[k].unit : "";
}

/* ------------------------------------------------------------------ */
/* Generator                                                          */
/* ------------------------------------------------------------------ */

/* splitmix64 (Steele, Lea, Flood), the seeding its authors recommend for
 * xoshiro: any 64-bit seed, including 0, gives a well-mixed state that is
 * never all zero. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** 1.0 (Blackman, Vigna). */
static inline uint64_t xoshiro_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* The top 53 bits as a double in [0, 1): exact, no rounding. */
static inline double unit_interval(uint64_t r)
{
    return (double)(r >> 11) * 0x1.0p-53;
}

void sb_synth_gen_init(struct sb_synth_gen *g, const struct sb_synth_cfg *cfg, int64_t epoch_us)
{
    uint64_t x = cfg->seed;
    memset(g, 0, sizeof(*g));
    g->cfg = *cfg;
    for (int i = 0; i < 4; i++)
        g->state[i] = splitmix64(&x);
    g->anomaly_until_us = INT64_MIN;
    g->anomaly_offset = 0;
    g->epoch_us = epoch_us;
}

static int64_t add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/*
 * Every sample takes exactly three draws (two for the Box-Muller normal,
 * one for the anomaly), whatever the parameters, so turning noise off or
 * changing the anomaly probability never shifts the rest of the stream,
 * and sample n always depends on draws 3n..3n+2. One normal per pair of
 * uniforms wastes the sine half of Box-Muller, but keeping the spare
 * would need state the struct does not have and would tie a sample to
 * the parity of its index.
 *
 * Terms whose coefficient is 0 are skipped: 0 * x is +-0 for finite x,
 * so skipping them changes at most the sign of a zero, which is dropped
 * at the end anyway.
 */
double sb_synth_gen_next(struct sb_synth_gen *g, int64_t ts_us, bool *anomaly)
{
    const struct sb_synth_cfg *c = &g->cfg;
    uint64_t r1 = xoshiro_next(g->state);
    uint64_t r2 = xoshiro_next(g->state);
    uint64_t r3 = xoshiro_next(g->state);
    double v = c->base;

    if (c->drift_per_hour != 0) {
        /* Both operands are exact below 2^53 us (the year 2255). */
        double hours = ((double)ts_us - (double)g->epoch_us) / (double)HOUR_US;
        v += c->drift_per_hour * hours;
    }
    if (c->daily_amplitude != 0) {
        int64_t sod = ts_us % DAY_US;
        if (sod < 0)
            sod += DAY_US;
        double phase = (double)(sod - PEAK_OFFSET_US) / (double)DAY_US;
        v += c->daily_amplitude * sin(TWO_PI * phase);
    }
    if (c->noise != 0) {
        /* u1 in (0, 1] so log never sees 0. */
        double u1 = (double)((r1 >> 11) + 1) * 0x1.0p-53;
        double u2 = unit_interval(r2);
        v += c->noise * (sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2));
    }

    /* An anomaly covers the sample that starts it and every later sample
     * before start + duration in event time (a duration of 0 is a
     * one-sample spike). A new one can start only once it is over. */
    bool active = ts_us < g->anomaly_until_us;
    if (!active && unit_interval(r3) < c->anomaly_probability) {
        int64_t d = c->anomaly_duration_us > 0 ? c->anomaly_duration_us : 0;
        g->anomaly_until_us = add_sat(ts_us, d);
        g->anomaly_offset = c->anomaly_magnitude;
        active = true;
    }
    if (active)
        v += g->anomaly_offset;

    switch (c->kind) {
    case SB_SYNTH_HUMIDITY:
        if (v < 0)
            v = 0;
        else if (v > 100)
            v = 100;
        break;
    case SB_SYNTH_VIBRATION:
    case SB_SYNTH_ENERGY:
        if (v < 0)
            v = 0;
        break;
    default:
        break;
    }
    /* The bounds are multiples of 0.001, so rounding after clamping stays
     * inside them. Dividing the integral round() by 1000 gives the double
     * nearest to the 3-decimal number, which prints back as those digits.
     * Adding +0.0 turns -0.0 into 0.0 so "-0.0" never reaches the wire. */
    v = round(v * 1000.0) / 1000.0 + 0.0;
    if (anomaly)
        *anomaly = active;
    return v;
}

/* ------------------------------------------------------------------ */
/* Source                                                             */
/* ------------------------------------------------------------------ */

/* The streams of one rate share a schedule and a timer, as the replay's
 * do (see replay.c): 10,000 sensors at 1 Hz wake the loop once a second,
 * not 10,000 times. */
struct rate_group {
    struct sb_synth *sy;
    double rate_hz;
    struct sb_sched sched; /* rate 1, speed rate_hz * speed: see sb_synth_start */
    uv_timer_t timer;      /* armed while a member waits */
    bool armed;
    uint64_t armed_ns; /* the wake-up it is armed for */
    size_t first, n;   /* members: sy->order[first .. first + n) */
};

struct stream {
    struct sb_synth *sy;
    struct rate_group *g;
    /* Copies: the configuration may be freed by a reload while we run. */
    char *name;
    char *unit;
    char *factory_section;
    char *machine;
    char *zone;
    char *extra[2]; /* the message's extra members, [anomaly] */
    struct sb_synth_gen gen;
    double rate_hz;
    unsigned int_rate; /* rate_hz when it is a whole number, else 0 */
    uint64_t max_samples;
    bool max;           /* as fast as possible */
    uint64_t base_seq;  /* seq at which g->sched was started */
    int64_t horizon_us; /* speed max: event offset this turn stops before */
    bool waiting;       /* on g's timer for its next due sample */
    uv_idle_t idle;     /* runs the next turn at once (speed max, catching up) */
    void *bound;
    uint64_t seq; /* next sample */
    /* The generated sample the sink refused: emitted again on resume, not
     * generated again, because generating advances the generator. */
    bool have_pending;
    bool pending_anomaly;
    double pending_value;
    bool paused;
    bool finished;
    bool anomaly_shown; /* what the anomaly gauge says */
    struct sb_metric *m_samples;
    struct sb_metric *m_anomaly;
};

struct sb_synth {
    uv_loop_t *loop;
    struct sb_source_sink sink;
    struct stream *streams;
    size_t nstreams;
    struct rate_group *groups;
    size_t ngroups;
    size_t *order; /* stream indices sorted by rate, grouped */
    size_t nfinished;
    double speed;
    uint64_t coalesce_ns; /* [producer] coalesce_ms; 0: wake at each due time */
    int64_t epoch_us;
    bool stopped;
    struct sb_metric *m_wakeups;
    int open_handles;
    void (*close_cb)(void *ud);
    void *close_ud;
};

/* Event-time offset of sample seq from the epoch: seq / rate, floored to
 * the microsecond. Whole rates use integers (the same as the replay's
 * sb_sched_event_offset_us); fractional ones one exact product and one
 * correctly rounded division, identical on every IEEE machine and
 * non-decreasing in seq. */
static int64_t event_offset_us(const struct stream *s, uint64_t seq)
{
    if (s->int_rate) {
        uint64_t q = seq / s->int_rate, r = seq % s->int_rate;
        if (q >= (uint64_t)INT64_MAX / 1000000 - 1)
            return INT64_MAX;
        return (int64_t)(q * 1000000 + r * 1000000 / s->int_rate);
    }
    double off = floor((double)seq * 1e6 / s->rate_hz);
    return off < 0x1p62 ? (int64_t)off : INT64_MAX;
}

static char *str_or_empty(const char *s)
{
    return sb_xstrdup(s ? s : "");
}

/* JSON-escapes s with the codec's own rules (quotes, backslashes, control
 * characters, invalid UTF-8 as \ufffd), by encoding it as a sensor name
 * and cutting it out of the message: the escaped name starts right after
 * {"sensor":" and is as long as the message grows over an empty name. */
static char *json_escape(const char *s)
{
    static const char prefix[] = "{\"sensor\":\"";
    struct sb_sample smp = {.sensor = "", .cycle = -1};
    size_t base = sb_codec_encode(&smp, NULL, 0);
    smp.sensor = s;
    size_t n = sb_codec_encode(&smp, NULL, 0);
    char *buf = sb_xmalloc(n + 1);
    sb_codec_encode(&smp, buf, n + 1);
    size_t len = n - base;
    memmove(buf, buf + sizeof(prefix) - 1, len);
    buf[len] = '\0';
    return buf;
}

static char *make_extra(const struct stream *s, bool anomaly)
{
    char *sec = json_escape(s->factory_section);
    char *mach = json_escape(s->machine);
    char *zone = json_escape(s->zone);
    struct sb_buf b;
    sb_buf_init(&b);
    sb_buf_printf(&b,
                  ",\"factory_section\":\"%s\",\"machine\":\"%s\",\"zone\":\"%s\",\"anomaly\":%s",
                  sec, mach, zone, anomaly ? "true" : "false");
    free(sec);
    free(mach);
    free(zone);
    return b.data;
}

/* The names the consumer accepts outside strict mode (see codec.h). */
static bool name_valid(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len >= SB_SENSOR_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

static int check_cfg(const struct sb_config *cfg, size_t i, char *err, size_t errlen)
{
    const struct sb_synth_cfg *c = &cfg->synthetic[i];
    if (!name_valid(c->name)) {
        snprintf(err, errlen,
                 "[synthetic.%s]: the name must be 1 to %d characters of A-Z a-z 0-9 _ . : -",
                 c->name ? c->name : "", SB_SENSOR_NAME_MAX - 1);
        return -EINVAL;
    }
    for (size_t j = 0; j < i; j++)
        if (strcmp(cfg->synthetic[j].name, c->name) == 0) {
            snprintf(err, errlen, "[synthetic.%s]: defined twice", c->name);
            return -EINVAL;
        }
    if (!kind_valid(c->kind)) {
        snprintf(err, errlen, "[synthetic.%s] kind: unknown kind %d", c->name, (int)c->kind);
        return -EINVAL;
    }
    if (!(c->rate_hz >= MIN_RATE_HZ && c->rate_hz <= MAX_RATE_HZ)) {
        snprintf(err, errlen, "[synthetic.%s] rate_hz: %g is outside %g..%g", c->name, c->rate_hz,
                 MIN_RATE_HZ, MAX_RATE_HZ);
        return -EINVAL;
    }
    return 0;
}

/* A message with the longest value, index and extra members this stream
 * can produce must stay within what the consumer accepts. */
static int check_size(const struct stream *s, char *err, size_t errlen)
{
    struct sb_sample smp = {
        .sensor = s->name,
        .cycle = -1,
        .sample_idx = UINT64_MAX,
        .value = -1.2345678901234567e-300,
        .ts_us = INT64_C(253402300799999999), /* 9999-12-31T23:59:59.999999Z */
        .rate_hz = s->rate_hz,
        .unit = s->unit,
        .source = SB_SYNTH_SOURCE,
        .extra = strlen(s->extra[0]) > strlen(s->extra[1]) ? s->extra[0] : s->extra[1],
    };
    size_t n = sb_codec_encode(&smp, NULL, 0);
    if (n > SB_CODEC_MAX_MESSAGE) {
        snprintf(err, errlen,
                 "[synthetic.%s]: messages could reach %zu bytes, more than the %d the consumer "
                 "accepts; shorten factory_section, machine, zone or unit",
                 s->name, n, SB_CODEC_MAX_MESSAGE);
        return -EINVAL;
    }
    return 0;
}

static void free_stream_strings(struct stream *s)
{
    free(s->name);
    free(s->unit);
    free(s->factory_section);
    free(s->machine);
    free(s->zone);
    free(s->extra[0]);
    free(s->extra[1]);
}

static void on_group_timer(uv_timer_t *t);

struct rate_key {
    double rate_hz;
    size_t index;
};

static int by_rate(const void *a, const void *b)
{
    const struct rate_key *x = a, *y = b;
    if (x->rate_hz != y->rate_hz)
        return x->rate_hz < y->rate_hz ? -1 : 1;
    /* Equal rates keep configuration order. */
    return x->index < y->index ? -1 : 1;
}

/* One group per distinct rate: sorting makes each a run of `order`, in
 * O(n log n) however many sensors and rates there are. */
static void make_groups(struct sb_synth *sy)
{
    struct rate_key *keys = sb_xcalloc(sy->nstreams, sizeof(*keys));
    for (size_t i = 0; i < sy->nstreams; i++)
        keys[i] = (struct rate_key){sy->streams[i].rate_hz, i};
    qsort(keys, sy->nstreams, sizeof(*keys), by_rate);
    sy->order = sb_xcalloc(sy->nstreams, sizeof(*sy->order));
    sy->groups = sb_xcalloc(sy->nstreams, sizeof(*sy->groups));
    for (size_t i = 0; i < sy->nstreams; i++) {
        sy->order[i] = keys[i].index;
        struct stream *s = &sy->streams[keys[i].index];
        struct rate_group *g = sy->ngroups ? &sy->groups[sy->ngroups - 1] : NULL;
        if (!g || g->rate_hz != s->rate_hz) {
            g = &sy->groups[sy->ngroups++];
            g->sy = sy;
            g->rate_hz = s->rate_hz;
            g->first = i;
            uv_timer_init(sy->loop, &g->timer);
            g->timer.data = g;
            sy->open_handles++;
        }
        g->n++;
        s->g = g;
    }
    free(keys);
}

int sb_synth_new(struct sb_synth **out, uv_loop_t *loop, const struct sb_config *cfg,
                 struct sb_registry *reg, const struct sb_source_sink *sink, char *err,
                 size_t errlen)
{
    *out = NULL;
    if (cfg->nsynthetic == 0)
        return 0;
    int rc;
    for (size_t i = 0; i < cfg->nsynthetic; i++)
        if ((rc = check_cfg(cfg, i, err, errlen)))
            return rc;

    struct sb_synth *sy = sb_xcalloc(1, sizeof(*sy));
    sy->loop = loop;
    sy->sink = *sink;
    sy->speed = (isfinite(cfg->speed) && cfg->speed > 0) ? cfg->speed : 0;
    sy->coalesce_ns = (uint64_t)cfg->coalesce_ms * 1000000;
    if (cfg->event_epoch_us >= 0) {
        sy->epoch_us = cfg->event_epoch_us;
    } else {
        int64_t minute = 60ll * 1000000;
        sy->epoch_us = sb_now_wall_us() / minute * minute;
    }
    sy->streams = sb_xcalloc(cfg->nsynthetic, sizeof(*sy->streams));
    sy->nstreams = cfg->nsynthetic;
    for (size_t i = 0; i < sy->nstreams; i++) {
        const struct sb_synth_cfg *c = &cfg->synthetic[i];
        struct stream *s = &sy->streams[i];
        s->sy = sy;
        s->name = sb_xstrdup(c->name);
        s->unit = sb_xstrdup(c->unit ? c->unit : sb_synth_kind_unit(c->kind));
        s->factory_section = str_or_empty(c->factory_section);
        s->machine = str_or_empty(c->machine);
        s->zone = str_or_empty(c->zone);
        s->extra[0] = make_extra(s, false);
        s->extra[1] = make_extra(s, true);
        s->rate_hz = c->rate_hz;
        s->int_rate = c->rate_hz >= 1 && c->rate_hz == floor(c->rate_hz) ? (unsigned)c->rate_hz : 0;
        s->max_samples = c->max_samples;
        if ((rc = check_size(s, err, errlen))) {
            for (size_t j = 0; j <= i; j++)
                free_stream_strings(&sy->streams[j]);
            free(sy->streams);
            free(sy);
            return rc;
        }
        /* The generator keeps our copies, not the caller's strings. */
        struct sb_synth_cfg gc = *c;
        gc.name = s->name;
        gc.unit = s->unit;
        gc.factory_section = s->factory_section;
        gc.machine = s->machine;
        gc.zone = s->zone;
        sb_synth_gen_init(&s->gen, &gc, sy->epoch_us);
    }

    /* Nothing can fail from here on: only now touch the registry, the
     * sink and the loop. */
    const char *sensor_label[] = {"sensor"};
    struct sb_family *f_samples =
        sb_registry_family(reg, SB_COUNTER, "sensorbridge_synthetic_samples_total",
                           "Samples the synthetic sensors emitted to the producer, by sensor.", 1,
                           sensor_label, NULL, 0);
    struct sb_family *f_anomaly =
        sb_registry_family(reg, SB_GAUGE, "sensorbridge_synthetic_anomaly_active",
                           "1 while an injected anomaly is active in the last sample a synthetic "
                           "sensor emitted, else 0.",
                           1, sensor_label, NULL, 0);
    const char *info_labels[] = {"sensor", "kind", "factory_section", "machine", "zone"};
    struct sb_family *f_info =
        sb_registry_family(reg, SB_GAUGE, "sensorbridge_synthetic_info",
                           "Configured synthetic sensors with their kind and location; always 1.",
                           5, info_labels, NULL, 0);
    const char *source_label[] = {"source"};
    const char *synth_source[] = {"synthetic"};
    sy->m_wakeups =
        sb_family_child(sb_registry_family(reg, SB_COUNTER, SB_SOURCE_WAKEUPS_METRIC,
                                           SB_SOURCE_WAKEUPS_HELP, 1, source_label, NULL, 0),
                        synth_source);
    /* This source describes the whole set: after a reload the sensors
     * that are gone must not linger. The source being replaced keeps no
     * pointer into this family, so clearing it is safe. */
    sb_family_clear(f_info);
    for (size_t i = 0; i < sy->nstreams; i++) {
        struct stream *s = &sy->streams[i];
        const char *lv[] = {s->name};
        s->m_samples = sb_family_child(f_samples, lv);
        s->m_anomaly = sb_family_child(f_anomaly, lv);
        sb_gauge_set(s->m_anomaly, 0);
        const char *ilv[] = {s->name, sb_synth_kind_name(s->gen.cfg.kind), s->factory_section,
                             s->machine, s->zone};
        sb_gauge_set(sb_family_child(f_info, ilv), 1);
        s->bound = sy->sink.bind(sy->sink.ud, s->name);
        uv_idle_init(loop, &s->idle);
        s->idle.data = s;
        sy->open_handles++;
        sb_info("msg=\"synthetic stream\" sensor=%s kind=%s rate_hz=%g seed=%" PRIu64
                " samples=%" PRIu64,
                s->name, sb_synth_kind_name(s->gen.cfg.kind), s->rate_hz, s->gen.cfg.seed,
                s->max_samples);
    }
    make_groups(sy);
    *out = sy;
    return 0;
}

static void on_idle(uv_idle_t *h);

/* Arms g's timer for the wake-up that serves a sample due at `due` (the
 * end of its coalescing period, see the replay's rate groups) unless it
 * already fires by then. */
static void group_arm(struct rate_group *g, uint64_t due)
{
    uint64_t wake = sb_sched_coalesce_ns(&g->sched, due, g->sy->coalesce_ns);
    if (g->armed && g->armed_ns <= wake)
        return;
    g->armed = true;
    g->armed_ns = wake;
    uv_timer_start(&g->timer, on_group_timer, sb_sched_timer_ms(uv_now(g->sy->loop), wake), 0);
}

/* Schedules the stream's next turn. A sample already due runs from the
 * idle handle, not from a 0 ms timer: libuv runs a timer re-armed with 0
 * from its own callback again before polling for I/O, which would starve
 * delivery reports, the consumer and HTTP. */
static void rearm(struct stream *s, uint64_t now)
{
    if (s->finished || s->paused || s->sy->stopped)
        return;
    if (!s->max) {
        uint64_t due = sb_sched_due_ns(&s->g->sched, s->seq - s->base_seq);
        if (due > now) {
            s->waiting = true;
            group_arm(s->g, due);
            return;
        }
    }
    uv_idle_start(&s->idle, on_idle);
}

static void finish(struct stream *s)
{
    struct sb_synth *sy = s->sy;
    s->finished = true;
    sb_info("msg=\"synthetic stream finished\" sensor=%s samples=%" PRIu64, s->name, s->seq);
    if (++sy->nfinished == sy->nstreams)
        sb_notice("msg=\"synthetic sensors finished\" streams=%zu", sy->nstreams);
}

static void tick(struct stream *s, uint64_t now)
{
    struct sb_synth *sy = s->sy;
    uv_idle_stop(&s->idle);
    s->waiting = false;
    if (s->finished || s->paused || sy->stopped)
        return;
    uint64_t limit;
    if (!s->max) {
        uint64_t n = sb_sched_due_count(&s->g->sched, now);
        limit = n > UINT64_MAX - s->base_seq ? UINT64_MAX : s->base_seq + n;
        if (limit < s->seq)
            limit = s->seq;
    } else {
        if (event_offset_us(s, s->seq) >= s->horizon_us)
            s->horizon_us = add_sat(s->horizon_us, TURN_EVENT_US);
        limit = UINT64_MAX;
    }
    if (limit - s->seq > MAX_BATCH)
        limit = s->seq + MAX_BATCH;
    if (s->max_samples > 0 && limit > s->max_samples)
        limit = s->max_samples;

    struct sb_sample smp = {
        .sensor = s->name,
        .cycle = -1,
        .rate_hz = s->rate_hz,
        .unit = s->unit,
        .source = SB_SYNTH_SOURCE,
    };
    uint64_t emitted = 0;
    /* The sink may stop the source from emit (stopping is synchronous:
     * nothing is emitted after sb_synth_stop returns). */
    while (s->seq < limit && !sy->stopped) {
        int64_t off = event_offset_us(s, s->seq);
        if (s->max && off >= s->horizon_us)
            break;
        smp.ts_us = add_sat(sy->epoch_us, off);
        if (!s->have_pending) {
            s->pending_value = sb_synth_gen_next(&s->gen, smp.ts_us, &s->pending_anomaly);
            s->have_pending = true;
        }
        smp.sample_idx = s->seq;
        smp.value = s->pending_value;
        smp.extra = s->extra[s->pending_anomaly];
        /* Like the replay: any answer but -EAGAIN consumes the sample (the
         * producer counts its own failures). */
        if (sy->sink.emit(sy->sink.ud, s->bound, &smp) == -EAGAIN) {
            s->paused = true;
            break;
        }
        s->have_pending = false;
        s->seq++;
        emitted++;
        if (s->pending_anomaly != s->anomaly_shown) {
            s->anomaly_shown = s->pending_anomaly;
            sb_gauge_set(s->m_anomaly, s->anomaly_shown ? 1 : 0);
        }
    }
    if (emitted)
        sb_counter_add(s->m_samples, (double)emitted);
    if (s->paused)
        return;
    if (s->max_samples > 0 && s->seq >= s->max_samples) {
        finish(s);
        return;
    }
    rearm(s, now);
}

/* The members that wait go one after the other with the same now (the
 * sink may stop the source meanwhile: then the rest stay put). */
static void on_group_timer(uv_timer_t *t)
{
    struct rate_group *g = t->data;
    struct sb_synth *sy = g->sy;
    uint64_t now = uv_hrtime();
    g->armed = false;
    sb_counter_add(sy->m_wakeups, 1);
    for (size_t i = 0; i < g->n && !sy->stopped; i++) {
        struct stream *s = &sy->streams[sy->order[g->first + i]];
        if (s->waiting)
            tick(s, now);
    }
}

static void on_idle(uv_idle_t *h)
{
    tick(h->data, uv_hrtime());
}

/*
 * sb_sched takes an integer rate, and synthetic rates are fractional. Its
 * due time, start + seq * 1e9 / (rate * speed), only ever uses the
 * product rate * speed, so a schedule of rate 1 at speed rate_hz * speed
 * is the same absolute schedule, computed from seq each time, with the
 * exact integer path whenever 1e9 / (rate_hz * speed) is a whole number
 * of nanoseconds (1000 Hz at speed 1, 0.5 Hz at speed 10, ...). Event
 * times do not come from it (see event_offset_us).
 */
int64_t sb_synth_event_time_us(const struct sb_synth *sy)
{
    int64_t t = sy->epoch_us;
    for (size_t i = 0; i < sy->nstreams; i++) {
        int64_t next = add_sat(sy->epoch_us, event_offset_us(&sy->streams[i], sy->streams[i].seq));
        if (next > t)
            t = next;
    }
    return t;
}

void sb_synth_set_epoch_floor(struct sb_synth *sy, int64_t floor_us)
{
    if (floor_us <= sy->epoch_us)
        return;
    sy->epoch_us = floor_us;
    /* The drift counts hours since the epoch. */
    for (size_t i = 0; i < sy->nstreams; i++)
        sy->streams[i].gen.epoch_us = floor_us;
}

void sb_synth_start(struct sb_synth *sy)
{
    uint64_t now = uv_hrtime();
    sy->stopped = false;
    for (size_t i = 0; i < sy->ngroups; i++) {
        struct rate_group *g = &sy->groups[i];
        sb_sched_init(&g->sched, now, 1, sy->speed > 0 ? g->rate_hz * sy->speed : 0);
        uv_timer_stop(&g->timer);
        g->armed = false;
    }
    for (size_t i = 0; i < sy->nstreams; i++) {
        struct stream *s = &sy->streams[i];
        s->max = !(s->g->sched.speed > 0);
        s->base_seq = s->seq;
        s->waiting = false;
        /* A stream stopped while paused tries again; if the sink is still
         * full it answers -EAGAIN and the stream waits for resume. */
        s->paused = false;
        rearm(s, now);
    }
    char epoch[40];
    sb_fmt_rfc3339_us(epoch, sizeof(epoch), sy->epoch_us);
    if (sy->speed > 0)
        sb_notice("msg=\"synthetic sensors started\" streams=%zu speed=%g event_epoch=%s",
                  sy->nstreams, sy->speed, epoch);
    else
        sb_notice("msg=\"synthetic sensors started\" streams=%zu speed=max event_epoch=%s",
                  sy->nstreams, epoch);
}

void sb_synth_resume(struct sb_synth *sy)
{
    if (sy->stopped)
        return;
    for (size_t i = 0; i < sy->nstreams; i++) {
        struct stream *s = &sy->streams[i];
        if (s->paused) {
            s->paused = false;
            uv_idle_start(&s->idle, on_idle);
        }
    }
}

void sb_synth_set_speed(struct sb_synth *sy, double speed)
{
    if (speed == sy->speed)
        return;
    /* Restarting the schedules at each stream's current seq keeps its
     * place; event times depend on seq alone. */
    sb_synth_stop(sy);
    sy->speed = speed;
    sb_synth_start(sy);
}

void sb_synth_set_coalesce(struct sb_synth *sy, int coalesce_ms)
{
    uint64_t ns = (uint64_t)coalesce_ms * 1000000, now = uv_hrtime();
    if (ns == sy->coalesce_ns)
        return;
    sy->coalesce_ns = ns;
    /* As the replay: the schedules stay, the waiting streams arm their
     * groups again for the new period's end. */
    for (size_t i = 0; i < sy->ngroups; i++) {
        uv_timer_stop(&sy->groups[i].timer);
        sy->groups[i].armed = false;
    }
    for (size_t i = 0; i < sy->nstreams; i++) {
        struct stream *s = &sy->streams[i];
        if (s->waiting) {
            s->waiting = false;
            rearm(s, now);
        }
    }
    sb_notice("msg=\"synthetic coalescing changed\" coalesce_ms=%d", coalesce_ms);
}

void sb_synth_stop(struct sb_synth *sy)
{
    sy->stopped = true;
    for (size_t i = 0; i < sy->ngroups; i++) {
        uv_timer_stop(&sy->groups[i].timer);
        sy->groups[i].armed = false;
    }
    for (size_t i = 0; i < sy->nstreams; i++)
        uv_idle_stop(&sy->streams[i].idle);
}

static void handle_closed(uv_handle_t *h)
{
    /* Group timers and stream idles both count in open_handles. */
    struct sb_synth *sy = uv_handle_get_type(h) == UV_TIMER ? ((struct rate_group *)h->data)->sy
                                                            : ((struct stream *)h->data)->sy;
    if (--sy->open_handles > 0)
        return;
    for (size_t i = 0; i < sy->nstreams; i++)
        free_stream_strings(&sy->streams[i]);
    void (*cb)(void *) = sy->close_cb;
    void *ud = sy->close_ud;
    free(sy->groups);
    free(sy->order);
    free(sy->streams);
    free(sy);
    if (cb)
        cb(ud);
}

void sb_synth_close(struct sb_synth *sy, void (*cb)(void *ud), void *ud)
{
    sy->stopped = true;
    /* A sensor removed by a reload must not stay "in anomaly" forever; a
     * replacing source that keeps the sensor sets it again as it emits. */
    for (size_t i = 0; i < sy->nstreams; i++)
        sb_gauge_set(sy->streams[i].m_anomaly, 0);
    sy->close_cb = cb;
    sy->close_ud = ud;
    for (size_t i = 0; i < sy->ngroups; i++)
        uv_close((uv_handle_t *)&sy->groups[i].timer, handle_closed);
    for (size_t i = 0; i < sy->nstreams; i++)
        uv_close((uv_handle_t *)&sy->streams[i].idle, handle_closed);
}
