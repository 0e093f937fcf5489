/*
 * window.h - event-time tumbling windows per sensor, for several window
 * sizes at once, closed by a watermark. Pure: no loop, no Kafka, no
 * registry; the caller passes event times and receives closed windows.
 *
 * A window of size S covers [k*S, (k+1)*S) in event time (Unix epoch
 * based, so 1-minute windows start on whole minutes). Per sensor the
 * watermark is the largest event time seen minus the allowed lateness; a
 * window closes once the watermark reaches its end. A sample whose window
 * has already closed is late: it is counted and dropped, never folded into
 * another window.
 *
 * Memory is bounded: at most max_open windows per sensor and size are
 * open; opening one more force-closes the oldest (counted). Sensors are
 * capped at SB_WINDOW_MAX_SENSORS.
 *
 * Ownership: the engine owns its state; a struct sb_window_result passed
 * to the callback is valid only during the call.
 */
#ifndef SB_WINDOW_H
#define SB_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#define SB_WINDOW_MAX_SENSORS 4096

struct sb_window_result {
    const char *sensor;
    int64_t size_us;
    int64_t start_us; /* inclusive */
    int64_t end_us;   /* exclusive */
    uint64_t count;
    double sum;
    double min;
    double max;
    double mean;
    double stddev;       /* population standard deviation (Welford) */
    int64_t first_ts_us; /* earliest event time in the window */
    int64_t last_ts_us;  /* latest event time in the window */
    int forced;          /* closed early because max_open was reached */
};

typedef void (*sb_window_closed_cb)(void *ud, const struct sb_window_result *w);

struct sb_windows;

/* sizes_us: nsizes distinct sizes (each >= 1 s, dividing neither matters).
 * Returns NULL on invalid arguments. */
struct sb_windows *sb_windows_new(const int64_t *sizes_us, size_t nsizes, int64_t lateness_us,
                                  int max_open, sb_window_closed_cb cb, void *ud);
void sb_windows_free(struct sb_windows *w);

enum sb_window_verdict {
    SB_WINDOW_ACCEPTED,
    SB_WINDOW_LATE,     /* too late for at least one size: counted, not applied there */
    SB_WINDOW_OVERFLOW, /* sensor table full: not applied */
};

/* Adds one sample. Closes (and reports through the callback) every window
 * the advanced watermark passes, oldest first, before returning. Returns
 * SB_WINDOW_LATE if the sample was too late for any size (it is still
 * applied to the sizes whose window is open). */
enum sb_window_verdict sb_windows_add(struct sb_windows *w, const char *sensor, int64_t ts_us,
                                      double value);

/* Number of open windows over all sensors and sizes (bounded state). */
size_t sb_windows_open_count(const struct sb_windows *w);

#endif
