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

void sb_sched_init(struct sb_sched *s, uint64_t start_ns, unsigned rate_hz, double speed);

/* Monotonic time at which sample seq is due (start_ns when speed is max). */
uint64_t sb_sched_due_ns(const struct sb_sched *s, uint64_t seq);

/* Event-time offset of sample seq from the replay's event epoch, in
 * microseconds: seq / rate, independent of speed. */
int64_t sb_sched_event_offset_us(const struct sb_sched *s, uint64_t seq);

/* The first seq whose due time is after now_ns: every seq below it is due. */
uint64_t sb_sched_due_count(const struct sb_sched *s, uint64_t now_ns);

#endif
