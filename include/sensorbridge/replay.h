/*
 * replay.h - the UCI hydraulic replay source. Each selected sensor is its
 * own stream, emitting sample k of cycle c at
 *     start + (60 c + k / rate) / speed
 * on an absolute schedule (see sched.h); the streams of one rate share one
 * uv_timer_t (3 at speed 1: 100, 10 and 1 Hz), reading its file one row at a
 * time. <SENSOR>.txt is replayed unchanged; when it is absent,
 * standin/<SENSOR>_1hz.txt (1-second means) is interpolated to the native
 * rate and labelled source "uci-hydraulic-standin". When profile.txt is
 * present the current cycle's condition labels are exported as gauges.
 */
#ifndef SB_REPLAY_H
#define SB_REPLAY_H

#include <stddef.h>
#include <uv.h>

#include "sensorbridge/codec.h"
#include "sensorbridge/config.h"
#include "sensorbridge/registry.h"
#include "sensorbridge/source.h"

struct sb_replay;

/* Opens the dataset named by cfg (all files are checked here, so a
 * missing or unreadable file is reported before anything starts).
 * Returns 0 or -errno with a message. */
int sb_replay_new(struct sb_replay **out, uv_loop_t *loop, const struct sb_config *cfg,
                  struct sb_registry *reg, const struct sb_source_sink *sink, char *err,
                  size_t errlen);

void sb_replay_start(struct sb_replay *r);

/* Restarts every paused stream (the producer's queue has drained). */
void sb_replay_resume(struct sb_replay *r);

/* Applies a new speed to the running streams without losing their place. */
void sb_replay_set_speed(struct sb_replay *r, double speed);

/* Applies a new [producer] coalesce_ms: the waiting streams' timers are
 * armed again for the end of the new period; schedules, places and event
 * times are untouched. */
void sb_replay_set_coalesce(struct sb_replay *r, int coalesce_ms);

/* Stops the timers: no sample is emitted after this returns. */
void sb_replay_stop(struct sb_replay *r);

/* True once every stream has reached its last cycle (never with loop). */
bool sb_replay_finished(const struct sb_replay *r);

/* The event time the replay has reached: that of the next sample of its
 * furthest stream (the epoch before the first sample). */
int64_t sb_replay_event_time_us(const struct sb_replay *r);

/* Before sb_replay_start: moves the event epoch up to floor_us if it is
 * earlier, so that a replay that replaces another on a reload continues its
 * event time instead of going back behind the watermark. */
void sb_replay_set_epoch_floor(struct sb_replay *r, int64_t floor_us);

void sb_replay_close(struct sb_replay *r, void (*cb)(void *ud), void *ud);

#endif
