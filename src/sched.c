/* sched.c - absolute replay schedule with no cumulative drift. */
#include "sensorbridge/sched.h"

#include <math.h>

/* Offsets at or beyond 2^63 ns (292 years) saturate to UINT64_MAX. */
#define SB_SCHED_MAX_OFFSET 0x1p63L

void sb_sched_init(struct sb_sched *s, uint64_t start_ns, unsigned rate_hz, double speed)
{
    s->start_ns = start_ns;
    s->rate_hz = rate_hz;
    /* Anything that is not a positive finite factor means "as fast as
     * possible", so a bad value can never divide by zero later. */
    s->speed = (isfinite(speed) && speed > 0) ? speed : 0;
}

static bool sched_is_max(const struct sb_sched *s)
{
    return s->rate_hz == 0 || !(s->speed > 0) || !isfinite(s->speed);
}

/* Nanoseconds between samples, as a long double: 64 mantissa bits on x86
 * (113 on aarch64), so seq * period stays within a small fraction of a
 * nanosecond of the exact value for any replay that fits in 2^63 ns. */
static long double sched_period_ns(const struct sb_sched *s)
{
    return 1e9L / ((long double)s->rate_hz * (long double)s->speed);
}

/* Rounds a * b / c to the nearest integer without overflow, for b, c < 2^32. */
static uint64_t mul_div_round(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t q = a / c, r = a % c;
    uint64_t rb = r * b; /* r < c < 2^32 */
    uint64_t out = q * b + rb / c;

    if (2 * (rb % c) >= c)
        out++;
    return out;
}

/*
 * due = start + seq * 1e9 / (rate * speed), from the integer seq every
 * time, so no rounding error is ever carried from one sample to the next.
 *
 * When a replayed second lasts a whole number of nanoseconds (1e9 / speed
 * is an integer: speed 1, 2, 10, 1000, 0.5, 0.1, ...) the whole sum is
 * done in integers, exact to the nanosecond however long the replay and
 * whatever the FPU (valgrind, for one, runs x87 long double at double
 * precision). Otherwise seq * period is one long double product, rounded.
 * Either way due is non-decreasing in seq, which sb_sched_due_count
 * relies on: in the integer path each second's samples stay below the
 * next second's start, and a rounded product with a fixed factor is
 * monotonic.
 */
uint64_t sb_sched_due_ns(const struct sb_sched *s, uint64_t seq)
{
    double sec_ns;
    uint64_t off;

    if (sched_is_max(s))
        return s->start_ns;
    sec_ns = 1e9 / s->speed;
    if (sec_ns >= 1.0 && sec_ns < 0x1p53 && sec_ns == floor(sec_ns)) {
        uint64_t sec = (uint64_t)sec_ns;
        uint64_t q = seq / s->rate_hz, r = seq % s->rate_hz;
        uint64_t part;

        if (q > (UINT64_C(1) << 63) / sec)
            return UINT64_MAX;
        /* r * sec / rate, split so that no product exceeds 64 bits. */
        part = (sec / s->rate_hz) * r + mul_div_round(r, sec % s->rate_hz, s->rate_hz);
        off = q * sec + part;
    } else {
        long double x = (long double)seq * sched_period_ns(s);
        if (!(x < SB_SCHED_MAX_OFFSET))
            return UINT64_MAX;
        off = (uint64_t)(x + 0.5L);
    }
    if (off > UINT64_MAX - s->start_ns)
        return UINT64_MAX;
    return s->start_ns + off;
}

int64_t sb_sched_event_offset_us(const struct sb_sched *s, uint64_t seq)
{
    uint64_t q, r;

    if (s->rate_hz == 0)
        return 0;
    /* Whole seconds and the remainder separately: exact integer maths for
     * every rate, and no overflow until seq / rate nears 9.2e12 s. */
    q = seq / s->rate_hz;
    r = seq % s->rate_hz;
    if (q >= (uint64_t)INT64_MAX / 1000000 - 1)
        return INT64_MAX;
    return (int64_t)(q * 1000000 + r * 1000000 / s->rate_hz);
}

/*
 * Inverts sb_sched_due_ns by search against sb_sched_due_ns itself, so the
 * two agree exactly for every seq whatever the floating-point rounding:
 * an estimate from the inverse formula, a gallop to bracket the answer,
 * then bisection. The estimate is nearly always within one step, so this
 * costs two or three due computations.
 */
uint64_t sb_sched_due_count(const struct sb_sched *s, uint64_t now_ns)
{
    long double est;
    uint64_t guess, lo, hi, step;

    /* Every due time is at or after start. */
    if (now_ns < s->start_ns)
        return 0;
    if (sched_is_max(s))
        return UINT64_MAX;

    est = ((long double)(now_ns - s->start_ns) + 0.5L) / sched_period_ns(s);
    guess = est < 0x1p63L ? (uint64_t)est : UINT64_C(1) << 63;

    /* Bracket: due(lo) <= now < due(hi), lo < hi. */
    if (sb_sched_due_ns(s, guess) > now_ns) {
        hi = guess;
        step = 1;
        for (;;) {
            uint64_t cand;
            if (hi == 0)
                return 0;
            cand = hi > step ? hi - step : 0;
            if (sb_sched_due_ns(s, cand) <= now_ns) {
                lo = cand;
                break;
            }
            hi = cand;
            step = step < (UINT64_C(1) << 62) ? step * 2 : step;
        }
    } else {
        lo = guess;
        step = 1;
        for (;;) {
            uint64_t cand;
            if (lo == UINT64_MAX)
                return UINT64_MAX;
            cand = UINT64_MAX - lo > step ? lo + step : UINT64_MAX;
            if (sb_sched_due_ns(s, cand) > now_ns) {
                hi = cand;
                break;
            }
            lo = cand;
            step = step < (UINT64_C(1) << 62) ? step * 2 : step;
        }
    }
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (sb_sched_due_ns(s, mid) <= now_ns)
            lo = mid;
        else
            hi = mid;
    }
    return hi;
}

uint64_t sb_sched_coalesce_ns(const struct sb_sched *s, uint64_t due_ns, uint64_t period_ns)
{
    uint64_t off, periods;

    if (period_ns == 0 || due_ns <= s->start_ns)
        return due_ns;
    off = due_ns - s->start_ns;
    periods = off / period_ns + (off % period_ns != 0);
    if (periods > (UINT64_MAX - s->start_ns) / period_ns)
        return UINT64_MAX;
    return s->start_ns + periods * period_ns;
}

uint64_t sb_sched_timer_ms(uint64_t clock_ms, uint64_t wake_ns)
{
    uint64_t wake_ms = wake_ns / 1000000 + (wake_ns % 1000000 != 0);
    return wake_ms > clock_ms ? wake_ms - clock_ms : 0;
}
