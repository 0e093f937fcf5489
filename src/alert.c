/* alert.c - threshold and z-score alert state machines per sensor. */
#include "sensorbridge/alert.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensorbridge/log.h"
#include "sensorbridge/sensortab.h"
#include "sensorbridge/util.h"

#define NAME_MAX_LEN 63 /* as on the wire */
#define BASELINE_MIN 2
#define BASELINE_MAX 1000

enum side {
    SIDE_HIGH = 1,
    SIDE_LOW = -1,
};

/* The part both rules share: the current level and, per higher level,
 * since when its condition has held (the min_duration wait). */
struct machine {
    enum sb_alert_level level;
    bool pending[3];
    int64_t since[3];
};

struct rule {
    struct sb_alert_rule_cfg cfg; /* cfg.sensor is owned */
    uint64_t hash;
    bool has_threshold;
    bool has_zscore;

    struct machine thr;
    enum side side; /* of the current threshold level */

    struct machine z;
    double *base; /* ring of the last zscore_baseline window means */
    int nbase;
    int headbase; /* next slot to overwrite */
    bool ready;   /* full baseline with s > 0 */
    double m;
    double s;
};

struct sb_alerts {
    struct rule *rules;
    size_t nrules;
    int32_t *table; /* rule index + 1, 0 = empty; open addressing */
    size_t tablesize;
    sb_alert_cb cb;
    void *ud;
    char msg[320];
};

static const char *const level_names[] = {"normal", "warning", "critical"};

const char *sb_alert_level_name(enum sb_alert_level l)
{
    if ((unsigned)l < SB_ARRAY_SIZE(level_names))
        return level_names[l];
    return "unknown";
}

static bool has_threshold(const struct sb_alert_rule_cfg *r)
{
    return !isnan(r->low_critical) || !isnan(r->low_warning) || !isnan(r->high_warning) ||
           !isnan(r->high_critical);
}

/* ---- validation ---- */

static int invalid(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills err (if given) and returns -EINVAL. */
static int invalid(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static int validate_rule(const struct sb_alert_rule_cfg *r, char *err, size_t errlen)
{
    const char *const *names = sb_alert_threshold_names;
    double t[4];
    sb_alert_rule_thresholds(r, t);
    for (size_t i = 0; i < 4; i++)
        if (!isnan(t[i]) && !isfinite(t[i]))
            return invalid(err, errlen, "[alert.%s] %s: must be a finite number", r->sensor,
                           names[i]);
    size_t i, j;
    bool same_side;
    if (!sb_alert_rule_ordered(r, &i, &j, &same_side))
        return invalid(err, errlen,
                       "[alert.%s] %s: must be %s %s; thresholds must satisfy "
                       "low_critical <= low_warning < high_warning <= high_critical",
                       r->sensor, names[i], same_side ? "at most" : "below", names[j]);
    if (!isfinite(r->hysteresis) || r->hysteresis < 0)
        return invalid(err, errlen, "[alert.%s] hysteresis: must be a finite number >= 0",
                       r->sensor);
    if (r->min_duration_us < 0)
        return invalid(err, errlen, "[alert.%s] min_duration: must be >= 0", r->sensor);
    if (isnan(r->zscore))
        return 0;
    if (!isfinite(r->zscore) || r->zscore <= 0)
        return invalid(err, errlen, "[alert.%s] zscore: must be a finite number > 0", r->sensor);
    if (r->zscore_baseline < BASELINE_MIN || r->zscore_baseline > BASELINE_MAX)
        return invalid(err, errlen, "[alert.%s] zscore_baseline: must be %d..%d", r->sensor,
                       BASELINE_MIN, BASELINE_MAX);
    if (r->zscore_window_us <= 0)
        return invalid(err, errlen, "[alert.%s] zscore_window: must be > 0", r->sensor);
    if (r->zscore_on != SB_ZSCORE_MEAN && r->zscore_on != SB_ZSCORE_VALUE)
        return invalid(err, errlen, "[alert.%s] zscore_on: must be mean or value", r->sensor);
    return 0;
}

int sb_alerts_validate(const struct sb_alert_rule_cfg *rules, size_t nrules, char *err,
                       size_t errlen)
{
    if (nrules > SB_MAX_ALERT_RULES)
        return invalid(err, errlen, "[alert.*]: %zu rules, at most %d", nrules, SB_MAX_ALERT_RULES);
    if (nrules && !rules)
        return invalid(err, errlen, "[alert.*]: no rules given");
    for (size_t i = 0; i < nrules; i++) {
        const char *name = rules[i].sensor;
        size_t len = name ? strlen(name) : 0;
        if (len == 0 || len > NAME_MAX_LEN)
            return invalid(err, errlen, "[alert.%s]: sensor name must be 1..%d bytes",
                           name ? name : "", NAME_MAX_LEN);
        for (size_t j = 0; j < i; j++)
            if (strcmp(rules[j].sensor, name) == 0)
                return invalid(err, errlen, "[alert.%s]: more than one rule for the sensor", name);
        int rc = validate_rule(&rules[i], err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- lookup ---- */

static struct rule *find(const struct sb_alerts *a, const char *sensor)
{
    if (!a->tablesize)
        return NULL;
    uint64_t h = sb_hash_fnv1a(sensor, strlen(sensor));
    for (size_t i = h & (a->tablesize - 1); a->table[i]; i = (i + 1) & (a->tablesize - 1)) {
        struct rule *r = &a->rules[a->table[i] - 1];
        if (r->hash == h && strcmp(r->cfg.sensor, sensor) == 0)
            return r;
    }
    return NULL;
}

/* ---- the shared state machine ---- */

/* True once since..ts spans min_dur; false for ts before since (out of
 * order) and without overflow for any pair of int64 times. */
static bool elapsed(int64_t since, int64_t ts, int64_t min_dur)
{
    return ts >= since && (uint64_t)ts - (uint64_t)since >= (uint64_t)min_dur;
}

/* One input. hold[L]: level L's condition; stay[L]: its stay condition
 * (only looked at for L <= the current level). Returns the new level and
 * stores it; the pending waits are updated either way. */
static enum sb_alert_level step(struct machine *m, const bool hold[3], const bool stay[3],
                                int64_t ts, int64_t min_dur)
{
    enum sb_alert_level cur = m->level;
    enum sb_alert_level up = SB_ALERT_NORMAL;
    for (int l = SB_ALERT_WARNING; l <= SB_ALERT_CRITICAL; l++) {
        if (l <= (int)cur || !hold[l]) {
            m->pending[l] = false;
            continue;
        }
        if (!m->pending[l]) {
            m->pending[l] = true;
            m->since[l] = ts;
        }
        if (elapsed(m->since[l], ts, min_dur))
            up = (enum sb_alert_level)l;
    }
    enum sb_alert_level next = SB_ALERT_NORMAL;
    if (up != SB_ALERT_NORMAL) {
        next = up;
    } else {
        for (int l = (int)cur; l > SB_ALERT_NORMAL; l--) {
            if (hold[l] || stay[l]) {
                next = (enum sb_alert_level)l;
                break;
            }
        }
    }
    m->level = next;
    return next;
}

/* "%.12g": exact for the short decimals people configure and send, and
 * hides the rounding in computed bounds such as 58.4 - 2.2. */
static const char *num(char *buf, double v)
{
    snprintf(buf, 32, "%.12g", v);
    return buf;
}

static void emit(struct sb_alerts *a, const struct rule *r, const char *rule,
                 enum sb_alert_level from, enum sb_alert_level to, double value, double threshold,
                 int64_t ts)
{
    if (!a->cb)
        return;
    struct sb_alert_event e = {
        .sensor = r->cfg.sensor,
        .rule = rule,
        .from = from,
        .level = to,
        .value = value,
        .threshold = threshold,
        .ts_us = ts,
        .message = a->msg,
    };
    a->cb(a->ud, &e);
}

/* ---- threshold rule ---- */

static double high_of(const struct rule *r, int l)
{
    return l == SB_ALERT_CRITICAL ? r->cfg.high_critical : r->cfg.high_warning;
}

static double low_of(const struct rule *r, int l)
{
    return l == SB_ALERT_CRITICAL ? r->cfg.low_critical : r->cfg.low_warning;
}

static void eval_threshold(struct sb_alerts *a, struct rule *r, int64_t ts, double v)
{
    double h = r->cfg.hysteresis;
    enum sb_alert_level from = r->thr.level;
    bool hold[3] = {true, false, false};
    bool stay[3] = {true, false, false};
    for (int l = SB_ALERT_WARNING; l <= SB_ALERT_CRITICAL; l++) {
        /* Comparisons with an unset (NAN) threshold are false. */
        hold[l] = v >= high_of(r, l) || v <= low_of(r, l);
        if (l <= (int)from)
            stay[l] = r->side == SIDE_HIGH ? v >= high_of(r, l) - h : v <= low_of(r, l) + h;
    }
    enum side old_side = r->side;
    enum sb_alert_level to = step(&r->thr, hold, stay, ts, r->cfg.min_duration_us);
    if (to != SB_ALERT_NORMAL) {
        if (v >= high_of(r, to))
            r->side = SIDE_HIGH;
        else if (v <= low_of(r, to))
            r->side = SIDE_LOW;
    }
    if (to == from)
        return;

    char vb[32], tb[32], bb[32], hb[32];
    const char *s = r->cfg.sensor;
    double threshold;
    if (to > from) {
        bool high = r->side == SIDE_HIGH;
        threshold = high ? high_of(r, to) : low_of(r, to);
        snprintf(a->msg, sizeof(a->msg), "%s %s %s: %s %s %s", s, high ? "high" : "low",
                 sb_alert_level_name(to), num(vb, v), high ? ">=" : "<=", num(tb, threshold));
    } else {
        /* The threshold of the level left, on the side it was held. */
        bool high = old_side == SIDE_HIGH;
        threshold = high ? high_of(r, from) : low_of(r, from);
        double bound = high ? threshold - h : threshold + h;
        int n = snprintf(a->msg, sizeof(a->msg), "%s %s: %s %s %s", s,
                         to == SB_ALERT_NORMAL ? "back to normal" : "down to warning", num(vb, v),
                         high ? "<" : ">", num(bb, bound));
        if (h > 0 && n > 0 && (size_t)n < sizeof(a->msg))
            snprintf(a->msg + n, sizeof(a->msg) - (size_t)n, " (%s %s hysteresis %s)",
                     num(tb, threshold), high ? "-" : "+", num(hb, h));
    }
    emit(a, r, "threshold", from, to, v, threshold, ts);
}

/* ---- z-score rule ---- */

static void eval_zscore(struct sb_alerts *a, struct rule *r, int64_t ts, double x, const char *what)
{
    if (!r->ready)
        return;
    double k = r->cfg.zscore;
    double dev = fabs(x - r->m);
    bool hold[3] = {true, dev > k * r->s, dev > 2 * k * r->s};
    /* No hysteresis: a level stays exactly while its condition holds. */
    const bool stay[3] = {true, false, false};
    enum sb_alert_level from = r->z.level;
    enum sb_alert_level to = step(&r->z, hold, stay, ts, r->cfg.min_duration_us);
    if (to == from)
        return;

    bool high = x >= r->m;
    /* The bound of the level entered, or of the level left. */
    double kl = (to > from ? (int)to : (int)from) * k;
    double bound = high ? r->m + kl * r->s : r->m - kl * r->s;
    const char *cmp;
    char head[96];
    if (to > from) {
        cmp = high ? ">" : "<";
        snprintf(head, sizeof(head), "%s zscore %s", r->cfg.sensor, sb_alert_level_name(to));
    } else {
        cmp = high ? "<=" : ">=";
        snprintf(head, sizeof(head), "%s zscore %s", r->cfg.sensor,
                 to == SB_ALERT_NORMAL ? "back to normal" : "down to warning");
    }
    char xb[32], bb[32], mb[32], kb[32], sb[32];
    snprintf(a->msg, sizeof(a->msg), "%s: %s %s %s %s (baseline mean %s %s %s x sd %s)", head, what,
             num(xb, x), cmp, num(bb, bound), num(mb, r->m), high ? "+" : "-", num(kb, kl),
             num(sb, r->s));
    emit(a, r, "zscore", from, to, x, bound, ts);
}

/* Adds a window mean to the baseline and recomputes m and s. Two passes
 * over at most 1000 values once per closed window: exact, and no drift
 * from sliding sums. */
static void baseline_push(struct rule *r, double mean)
{
    int cap = r->cfg.zscore_baseline;
    r->base[r->headbase] = mean;
    r->headbase = (r->headbase + 1) % cap;
    if (r->nbase < cap)
        r->nbase++;
    if (r->nbase < cap) {
        r->ready = false;
        return;
    }
    double sum = 0, maxabs = 0;
    for (int i = 0; i < cap; i++) {
        sum += r->base[i];
        if (fabs(r->base[i]) > maxabs)
            maxabs = fabs(r->base[i]);
    }
    double m = sum / cap;
    double ss = 0, corr = 0;
    for (int i = 0; i < cap; i++) {
        double d = r->base[i] - m;
        ss += d * d;
        corr += d;
    }
    /* Corrected two-pass: removes the rounding left in m. */
    m += corr / cap;
    ss -= corr * corr / cap;
    double s = ss > 0 ? sqrt(ss / (cap - 1)) : 0;
    r->m = m;
    r->s = s;
    /* Identical means can leave s at a few ulps instead of 0; a bound that
     * close to m would turn rounding noise into alerts. */
    r->ready = s > 8 * DBL_EPSILON * maxabs && s > 0;
}

/* ---- public ---- */

struct sb_alerts *sb_alerts_new(const struct sb_alert_rule_cfg *rules, size_t nrules,
                                sb_alert_cb cb, void *ud)
{
    char err[256];
    if (sb_alerts_validate(rules, nrules, err, sizeof(err))) {
        sb_log_quote(err);
        sb_err("msg=\"invalid alert rules\" why=\"%s\"", err);
        return NULL;
    }
    struct sb_alerts *a = sb_xcalloc(1, sizeof(*a));
    a->cb = cb;
    a->ud = ud;
    a->nrules = nrules;
    a->rules = sb_xcalloc(nrules ? nrules : 1, sizeof(*a->rules));
    if (nrules) {
        a->tablesize = 8;
        while (a->tablesize < 2 * nrules)
            a->tablesize *= 2;
        a->table = sb_xcalloc(a->tablesize, sizeof(*a->table));
    }
    for (size_t i = 0; i < nrules; i++) {
        struct rule *r = &a->rules[i];
        r->cfg = rules[i];
        r->cfg.sensor = sb_xstrdup(rules[i].sensor);
        r->hash = sb_hash_fnv1a(r->cfg.sensor, strlen(r->cfg.sensor));
        r->has_threshold = has_threshold(&r->cfg);
        r->has_zscore = !isnan(r->cfg.zscore);
        r->side = SIDE_HIGH;
        if (r->has_zscore)
            r->base = sb_xcalloc((size_t)r->cfg.zscore_baseline, sizeof(*r->base));
        size_t at = r->hash & (a->tablesize - 1);
        while (a->table[at])
            at = (at + 1) & (a->tablesize - 1);
        a->table[at] = (int32_t)i + 1;
    }
    return a;
}

void sb_alerts_free(struct sb_alerts *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nrules; i++) {
        free(a->rules[i].cfg.sensor);
        free(a->rules[i].base);
    }
    free(a->rules);
    free(a->table);
    free(a);
}

int sb_alerts_rule(const struct sb_alerts *a, const char *sensor)
{
    const struct rule *r = find(a, sensor);
    return r ? (int)(r - a->rules) : -1;
}

/* The rule at index i, or NULL for an index sb_alerts_rule does not give. */
static struct rule *rule_at(struct sb_alerts *a, int i)
{
    return i >= 0 && (size_t)i < a->nrules ? &a->rules[i] : NULL;
}

void sb_alerts_sample(struct sb_alerts *a, int rule, int64_t ts_us, double value)
{
    struct rule *r = rule_at(a, rule);
    if (!r || isnan(value))
        return;
    if (r->has_threshold)
        eval_threshold(a, r, ts_us, value);
    if (r->has_zscore && r->cfg.zscore_on == SB_ZSCORE_VALUE)
        eval_zscore(a, r, ts_us, value, "value");
}

int sb_alerts_forget(struct sb_alerts *a, const char *sensor)
{
    struct rule *r = find(a, sensor);
    if (!r)
        return -1;
    /* Everything sb_alerts_new starts a rule with; the configuration and
     * the baseline's memory stay. */
    r->thr = (struct machine){.level = SB_ALERT_NORMAL};
    r->side = SIDE_HIGH;
    r->z = (struct machine){.level = SB_ALERT_NORMAL};
    if (r->base)
        memset(r->base, 0, (size_t)r->cfg.zscore_baseline * sizeof(*r->base));
    r->nbase = 0;
    r->headbase = 0;
    r->ready = false;
    r->m = 0;
    r->s = 0;
    return (int)(r - a->rules);
}

void sb_alerts_window(struct sb_alerts *a, int rule, int64_t size_us, int64_t end_us, double mean)
{
    struct rule *r = rule_at(a, rule);
    if (!r || !r->has_zscore || size_us != r->cfg.zscore_window_us || isnan(mean))
        return;
    if (r->cfg.zscore_on == SB_ZSCORE_MEAN)
        eval_zscore(a, r, end_us, mean, "window mean");
    baseline_push(r, mean);
}

int sb_alerts_level(const struct sb_alerts *a, const char *sensor, const char *rule)
{
    const struct rule *r = find(a, sensor);
    if (!r || !rule)
        return -1;
    if (strcmp(rule, "threshold") == 0)
        return r->has_threshold ? (int)r->thr.level : -1;
    if (strcmp(rule, "zscore") == 0)
        return r->has_zscore ? (int)r->z.level : -1;
    return -1;
}
