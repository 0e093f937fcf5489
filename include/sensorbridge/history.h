/*
 * history.h - the recent past the status page draws: one point per tick
 * for each series, the last `points` ticks, in ring buffers. Pure: the
 * caller ticks it (the daemon once a second) and passes the times.
 *
 * A series belongs to a group ("pipeline", "sensor") and has a name that is
 * unique within it. Each tick starts a point that is null in every series;
 * a series recorded during the tick gets a value there:
 *   - sb_history_gauge: the value as given (a sensor's last value, a lag);
 *   - sb_history_rate: a counter's total, stored as its increase per second
 *     since the previous tick;
 *   - sb_history_ratio: two counters' totals, stored as the increase of the
 *     first over the increase of the second since the previous tick (a
 *     histogram's sum over its count: the mean of the observations that
 *     tick).
 * A rate or ratio is null at a series' first tick, after a tick in which
 * it was not recorded, and (ratio) when the second counter did not move. A
 * total below the previous one is a counter that started again from 0 (its
 * series was removed and came back), so the increase is the total itself.
 *
 * Memory bound, fixed at sb_history_new: at most SB_HISTORY_MAX_SERIES
 * series of `points` doubles, one timeline of `points` int64 and, per
 * series, a name of at most SB_HISTORY_NAME_MAX bytes: 8 bytes * points *
 * (SB_HISTORY_MAX_SERIES + 1) plus about 100 bytes per series, e.g. 620 KiB
 * for the daemon's 600 points. A new series that finds the table full takes
 * the slot of one with no value left in the window (a sensor gone for
 * `points` ticks); when there is none it is refused.
 *
 * Names are 1..SB_HISTORY_NAME_MAX-1 bytes of [A-Za-z0-9_.:-] (the
 * sensor names the consumer accepts), so they need no escaping in JSON.
 * Ownership: group names are borrowed and must outlive the history
 * (literals, of the same characters); series names are copied.
 */
#ifndef SB_HISTORY_H
#define SB_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "sensorbridge/util.h"

#define SB_HISTORY_MAX_SERIES 128
#define SB_HISTORY_MAX_POINTS 86400
#define SB_HISTORY_NAME_MAX 64 /* including the NUL */

struct sb_history;

/* A history of the last `points` ticks, 1..SB_HISTORY_MAX_POINTS
 * (asserted: the caller's constant, not input). */
struct sb_history *sb_history_new(size_t points);
void sb_history_free(struct sb_history *h);

/* Starts the point of time t_ms (milliseconds since the epoch), which must
 * be later than the previous tick's: returns 0, or -EINVAL and starts
 * nothing if it is not (the values recorded next then go to the previous
 * point). The oldest point leaves the window once `points` are held. */
int sb_history_tick(struct sb_history *h, int64_t t_ms);

/* Record into the current point as described above. Return 0; -EINVAL
 * before the first tick, for a name that is empty, too long or holds
 * another character, or for a
 * series of this group and name recorded before with another kind; -ENOSPC
 * when it is new and the table has no free slot. Recording a series twice
 * in a tick keeps the last value (a rate then measures from the same
 * previous total). Non-finite gauge values are stored as null. */
int sb_history_gauge(struct sb_history *h, const char *group, const char *name, double v);
int sb_history_rate(struct sb_history *h, const char *group, const char *name, double total);
int sb_history_ratio(struct sb_history *h, const char *group, const char *name, double num_total,
                     double den_total);

/* Points held now (0..points), and the series held (stale ones too). */
size_t sb_history_len(const struct sb_history *h);
size_t sb_history_series_count(const struct sb_history *h);

/* Appends the points later than since_ms, oldest first, as one JSON object:
 *   {"points":P,"t":[T...],"series":{"GROUP":{"NAME":[V...],...},...}}
 * P is the window's capacity, T the tick times (ms), each V a number or
 * null, one per T. Groups appear in the order of their first series, series
 * in the order of their slots (first recorded first; one that took a freed
 * slot takes its place); a series without a value among these points is
 * left out.
 * since_ms < 0 gives the whole window. Numbers are the shortest decimals
 * that read back to the same double. */
void sb_history_json(const struct sb_history *h, int64_t since_ms, struct sb_buf *out);

#endif
