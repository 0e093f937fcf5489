/*
 * sched.h - absolute replay schedule. Sample `seq` of a stream (counted
 * from the start of the replay across cycles and loops) is due at
 *     start + seq / (rate * speed)
 * computed from the integer seq each time, never by adding intervals, so
 * there is no cumulative drift. Pure: the clock is an argument.
 */
#ifndef SB_SCHED_H
#define SB_SCHED_H

#include <stdbool.h>
#include <stdint.h>

struct sb_sched {
    uint64_t start_ns; /* monotonic time of seq 0 */
    unsigned rate_hz;  /* samples per second of event time */
    double speed;      /* replay factor; 0 = as fast as possible */
};

/* speed <= 0, NaN or infinity is stored as 0 (max). rate_hz must be > 0;
 * 0 is treated like speed max rather than dividing by zero. */
void sb_sched_init(struct sb_sched *s, uint64_t start_ns, unsigned rate_hz, double speed);

/* Monotonic time at which sample seq is due (start_ns when speed is max):
 * start_ns + seq * 1e9 / (rate * speed) rounded to the nearest ns,
 * non-decreasing in seq, saturating at UINT64_MAX. */
uint64_t sb_sched_due_ns(const struct sb_sched *s, uint64_t seq);

/* Event-time offset of sample seq from the replay's event epoch, in
 * microseconds: seq / rate, independent of speed. */
int64_t sb_sched_event_offset_us(const struct sb_sched *s, uint64_t seq);

/* The first seq whose due time is after now_ns: every seq below it is due.
 * Exactly consistent with sb_sched_due_ns: for every seq,
 *     seq < sb_sched_due_count(s, now)  <=>  sb_sched_due_ns(s, seq) <= now.
 * 0 before start_ns. UINT64_MAX stands for "all" (then seq UINT64_MAX is
 * due too): with speed max every seq is due from start_ns on, so the
 * caller must cap how many it emits per turn of the loop. */
uint64_t sb_sched_due_count(const struct sb_sched *s, uint64_t now_ns);

/* Tick coalescing: the end of the coalescing period that holds due_ns,
 * periods of period_ns aligned to start_ns, each including its end:
 *     start + ceil((due - start) / period) * period,
 * so a due time on a period's end is its own wake-up and nothing waits a
 * whole period. A source that wakes at this time instead of due_ns hands
 * over every sample of the period at once, at most period_ns - 1 after the
 * first of them was due, and the schedule itself (hence every event time)
 * is untouched. due_ns itself with period_ns 0, or due_ns at or before
 * start_ns; saturates at UINT64_MAX. */
uint64_t sb_sched_coalesce_ns(const struct sb_sched *s, uint64_t due_ns, uint64_t period_ns);

/* The timeout in whole milliseconds for a timer on a clock that reads
 * clock_ms now (libuv's uv_now: the loop's cached time, floored to the
 * millisecond and never ahead of the nanosecond clock of wake_ns) so that
 * it fires at or after wake_ns: ceil(wake_ns / 1e6) - clock_ms, at least
 * 0. Counting from the loop's own time rather than from a fresh reading
 * of the nanosecond clock means a timer armed late in a turn of the loop
 * (the cached time is then stale) cannot fire before its time and wake
 * the loop once more for nothing. */
uint64_t sb_sched_timer_ms(uint64_t clock_ms, uint64_t wake_ns);

#endif
