/*
 * source.h - what every source kind (UCI replay, synthetic sensors) emits
 * samples into. The daemon points it at the producer.
 */
#ifndef SB_SOURCE_H
#define SB_SOURCE_H

#include "sensorbridge/codec.h"

/* Every source counts its timer wake-ups in one family, labelled
 * source="replay" or "synthetic"; both register it with these. */
#define SB_SOURCE_WAKEUPS_METRIC "sensorbridge_source_wakeups_total"
#define SB_SOURCE_WAKEUPS_HELP                                                                     \
    "Timer wake-ups of the sources, one per rate group each time its timer fires; "                \
    "[producer] coalesce_ms lowers them."

/* bind is called once per stream when the source is created and returns
 * the handle passed to emit; emit returns 0, or -EAGAIN to pause the
 * stream (the sample is kept and emitted again after the source's resume
 * call). */
struct sb_source_sink {
    void *(*bind)(void *ud, const char *sensor);
    int (*emit)(void *ud, void *bound, const struct sb_sample *s);
    void *ud;
};

#endif
