/*
 * window.h - event-time tumbling windows per sensor, for several window
 * sizes at once, closed by a watermark. Pure: no loop, no Kafka, no
 * registry; the caller passes event times and receives closed windows.
 *
 * A window of size S covers [k*S, (k+1)*S) in event time, k = floor(ts/S)
 * (also for negative ts; Unix epoch based, so 1-minute windows start on
 * whole minutes). Per sensor the watermark is the largest event time seen
 * minus the allowed lateness L; a window closes once the watermark reaches
 * its end (end <= watermark). A sample whose window has already closed is
 * late: it is counted and dropped, never folded into another window. So a
 * sample at ts is accepted for size S iff its window end > max_ts - L, and
 * each window (sensor, size, start) is reported at most once, in
 * increasing start order per sensor and size.
 *
 * Completeness. A window is complete when it holds every sample of its
 * sensor's stream that the watermark lets into it: the stream was read
 * without a miss from before the first sample that belongs in it, and the
 * watermark closed it. The caller says how it read each sample through a struct
 * sb_window_run: a run is a stretch of the stream read one sample after
 * another, without missing any. A sensor *resumes* at a sample, ts0, when
 *   - that sample is its first (ever, or since sb_windows_forget) and its
 *     run did not begin at the very start of the stream (from_start), or
 *   - its run differs from the run of the sensor's previous sample;
 * then samples before ts0 may be missing. They can have event times up to
 * ts0 + L and no later: a missing sample more than L after ts0 would make
 * ts0 a sample more than L older than one before it, which the watermark
 * does not promise to place either (this rule assumes the same of the
 * stream as the watermark does). So at a resume every window open at that
 * point and every window whose start <= ts0 + L (at the resume with the
 * largest ts0 + L so far) is marked resumed: not complete. With L = 0 and
 * 60-s windows, a resume at 59 s leaves [60 s, 120 s) complete, one at
 * 60 s does not. A window is not complete either when it was closed before
 * the watermark passed its end (forced by max_open, or by
 * sb_windows_forget / sb_windows_forget_all).
 *
 * Memory is bounded: at most max_open windows per sensor and size are
 * open; opening one more force-closes the oldest (reported with closed =
 * SB_WINDOW_CLOSED_FORCED). Windows are opened by their first sample only,
 * so a sensor that stops sending leaves its windows open until it sends
 * again (or until sb_windows_forget, sb_windows_forget_all or
 * sb_windows_free). A sensor is a record of a sensortab (sensortab.h),
 * whose windows slot holds the engine's state of it: the table bounds the
 * sensors, and no name is looked up here. No memory is allocated per
 * sample: only per new sensor and, rarely, when a sensor's ring of open
 * windows grows (up to max_open).
 *
 * Ownership: the engine owns what it puts in the records' windows slots (a
 * record's slot serves one engine) and empties a slot when it drops the
 * sensor; sb_windows_free frees them without touching the records, which
 * may be gone by then. A struct sb_window_result passed to the callback
 * (and its sensor string) is valid only during the call. The callback
 * must not call back into the same engine.
 */
#ifndef SB_WINDOW_H
#define SB_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sensorbridge/sensortab.h"

/* How a window was closed. */
enum sb_window_closed {
    SB_WINDOW_CLOSED_WATERMARK, /* the watermark reached its end */
    SB_WINDOW_CLOSED_FORCED,    /* early: its sensor had max_open windows of its size open */
    SB_WINDOW_CLOSED_FORGOTTEN, /* early: sb_windows_forget or sb_windows_forget_all */
};

/* The run a sample was read in (see Completeness above). */
struct sb_window_run {
    uint64_t id;     /* the caller's: a new one whenever samples may have been missed */
    bool from_start; /* the run began at the start of the stream: nothing before it */
};

struct sb_window_result {
    const char *sensor;       /* record->name */
    struct sb_sensor *record; /* the sensor's */
    int64_t size_us;
    int64_t start_us; /* inclusive */
    int64_t end_us;   /* exclusive */
    uint64_t count;   /* >= 1: windows are opened by a sample */
    double sum;       /* plain running sum */
    double min;
    double max;
    double mean;         /* Welford, on values shifted by the window's first value */
    double stddev;       /* population standard deviation (Welford) */
    int64_t first_ts_us; /* earliest event time in the window */
    int64_t last_ts_us;  /* latest event time in the window */
    enum sb_window_closed closed;
    bool resumed;  /* its sensor resumed within its reach: samples may be missing */
    bool complete; /* closed == SB_WINDOW_CLOSED_WATERMARK && !resumed */
};

typedef void (*sb_window_closed_cb)(void *ud, const struct sb_window_result *w);

struct sb_windows;

/* sizes_us: nsizes (1..64) distinct sizes, each 1 s..2^61 us, in any
 * order, and none needs to divide another. lateness_us: 0..2^61.
 * max_open: 1..65536. cb: called for every closed window (may be NULL).
 * Returns NULL on invalid arguments. */
struct sb_windows *sb_windows_new(const int64_t *sizes_us, size_t nsizes, int64_t lateness_us,
                                  int max_open, sb_window_closed_cb cb, void *ud);

/* Frees everything; windows still open are discarded, not reported
 * (sb_windows_forget_all reports them first). */
void sb_windows_free(struct sb_windows *w);

enum sb_window_verdict {
    SB_WINDOW_ACCEPTED,
    SB_WINDOW_LATE, /* too late for at least one size: counted, not applied there */
};

/* Adds one sample, read in `run` (NULL: the whole stream in one run, as
 * if {0, true}). First, if the sensor resumes at this sample (see
 * Completeness), its open windows are marked resumed. If ts_us raises the
 * sensor's maximum event time, it then closes (and reports through the
 * callback) every open window of that sensor, of every size, whose end <=
 * the new watermark, ordered by end time, then by size. Then, per size: if
 * the sample's window end <= the watermark the sample is late for that
 * size; otherwise it is folded into its window, which is opened if needed
 * (resumed if its start <= the sensor's latest ts0 + L). Opening a window
 * when max_open are open force-closes the oldest first (reported at once,
 * closed = SB_WINDOW_CLOSED_FORCED); a sample whose window would itself be
 * older than all max_open open ones is late (so a window is never reopened
 * once reported).
 *
 * Returns SB_WINDOW_LATE if the sample was too late for any size (it is
 * still applied to the sizes whose window is open). A non-finite value or
 * |ts_us| > 2^62 (about 146,000 years; the codec never produces either)
 * is applied nowhere and also returns SB_WINDOW_LATE. */
enum sb_window_verdict sb_windows_add(struct sb_windows *w, struct sb_sensor *sensor, int64_t ts_us,
                                      double value, const struct sb_window_run *run);

/* Drops a sensor: its open windows are reported first (closed =
 * SB_WINDOW_CLOSED_FORGOTTEN, so not complete), ordered by end time, then
 * by size; then its watermark and slot go. A later sample of that
 * name starts over as a new sensor: no watermark, so nothing is late, and
 * new windows, complete from its first sample only if its run has
 * from_start (a caller that read on without a miss must still say it
 * did not: the windows reported here may be the same as new ones).
 * Returns whether the sensor was held. Must not be called from the
 * callback. */
bool sb_windows_forget(struct sb_windows *w, struct sb_sensor *sensor);

/* sb_windows_forget for every sensor held, in strcmp order of the names:
 * every open window is reported, every slot emptied and the engine is left
 * empty. The records must still exist. */
void sb_windows_forget_all(struct sb_windows *w);

/* Number of open windows over all sensors and sizes (bounded state). */
size_t sb_windows_open_count(const struct sb_windows *w);

#endif
