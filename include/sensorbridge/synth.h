/*
 * synth.h - synthetic factory sensors (temperature, vibration, energy,
 * humidity, pressure): a base value with Gaussian noise, a slow drift, a
 * daily pattern and injected anomalies, from a seeded generator, so one
 * seed gives the same stream byte for byte. Each [synthetic.<NAME>]
 * section is one stream, on the same absolute schedule and event epoch as
 * the replay ([replay] speed and event_epoch); streams of one rate share
 * one timer, so 10,000 sensors at 1 Hz wake the loop once a second.
 *
 * The generator (sb_synth_gen_*) is pure; the source (sb_synth_*) follows
 * libuv's new -> start/stop -> close.
 */
#ifndef SB_SYNTH_H
#define SB_SYNTH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "sensorbridge/config.h"
#include "sensorbridge/registry.h"
#include "sensorbridge/source.h"

#define SB_SYNTH_SOURCE "synthetic" /* the message's "source" field */

/* Kind names as written in the configuration ("temperature", "vibration",
 * "energy", "humidity", "pressure") and their default units ("°C", "mm/s",
 * "kW", "%", "bar"). The name of a value outside the enum is "unknown" and
 * its unit ""; parsing is exact (lower case) and returns -1 if unknown. */
const char *sb_synth_kind_name(enum sb_synth_kind k);
int sb_synth_kind_parse(const char *s); /* -1 if unknown */
const char *sb_synth_kind_unit(enum sb_synth_kind k);

struct sb_synth_gen {
    struct sb_synth_cfg cfg; /* a copy; its strings are borrowed and never read */
    uint64_t state[4];       /* xoshiro256** */
    int64_t anomaly_until_us;
    double anomaly_offset;
    int64_t epoch_us;
};

/* Seeds the generator from cfg->seed (xoshiro256** seeded by splitmix64;
 * every seed, 0 included, is valid); epoch_us is the event time of
 * sample 0 (the drift is measured from it). */
void sb_synth_gen_init(struct sb_synth_gen *g, const struct sb_synth_cfg *cfg, int64_t epoch_us);

/* The value at event time ts_us:
 *     base + drift_per_hour * hours since epoch
 *          + daily_amplitude * sin(2 pi (UTC second of day - 8 h) / 24 h)
 *          + noise * N(0, 1) + the active anomaly's offset,
 * clamped to the kind's physical range (humidity 0..100, vibration and
 * energy >= 0) and rounded to 3 decimals (never -0.0). Must be called once
 * per sample, in order: every call takes exactly three draws (two for the
 * Box-Muller normal, one for the anomaly) whatever the parameters, so the
 * stream of a seed depends only on the sequence of ts_us. When no anomaly
 * is active one starts with probability anomaly_probability; it covers
 * this sample and every later one with ts_us < start + anomaly_duration_us
 * (a duration of 0 is a one-sample spike). *anomaly (may be NULL) tells
 * whether one is active. Identical on every IEEE-754 machine, with or
 * without FMA contraction, up to last-bit differences of libm's sin, cos
 * and log that the rounding to 3 decimals hides. */
double sb_synth_gen_next(struct sb_synth_gen *g, int64_t ts_us, bool *anomaly);

struct sb_synth;

/* One stream per cfg->synthetic entry (one timer per distinct rate): sample seq
 * is due at start + seq / (rate_hz * speed) on an absolute schedule (at
 * speed max, one second of event time per stream per turn of the loop)
 * and carries event time epoch + seq / rate_hz, floored to the
 * microsecond, where the epoch is cfg->event_epoch_us, or now floored to
 * the minute when that is < 0. A stream stops after max_samples if > 0.
 * The strings are copied: cfg may be freed once this returns. Calls
 * sink->bind once per stream, and registers the metrics
 * sensorbridge_synthetic_samples_total{sensor},
 * sensorbridge_synthetic_anomaly_active{sensor} and
 * sensorbridge_synthetic_info{sensor,kind,factory_section,machine,zone}
 * (rebuilt from scratch, so after a reload that replaces the source the
 * sensors no longer configured disappear from it).
 * Returns 0, or -EINVAL with a message (a name that is not 1..63 of
 * [A-Za-z0-9_.:-] or is used twice, an unknown kind, rate_hz outside
 * 0.001..1000, location strings so long that a message would exceed
 * SB_CODEC_MAX_MESSAGE) having touched neither the loop, the registry nor
 * the sink. With no [synthetic.*] sections *out is NULL and 0 is
 * returned. */
int sb_synth_new(struct sb_synth **out, uv_loop_t *loop, const struct sb_config *cfg,
                 struct sb_registry *reg, const struct sb_source_sink *sink, char *err,
                 size_t errlen);
/* Starts (or, after sb_synth_stop, restarts from where it stopped) every
 * unfinished stream; the schedule starts now. */
void sb_synth_start(struct sb_synth *s);

/* Restarts every stream that sink.emit paused with -EAGAIN; the refused
 * sample is emitted again, not generated again. No effect after stop. */
void sb_synth_resume(struct sb_synth *s);

/* No sample is emitted after this returns (also when called from emit). */
void sb_synth_stop(struct sb_synth *s);
/* Reload: a new [replay] speed, each stream keeping its place. */
void sb_synth_set_speed(struct sb_synth *s, double speed);

/* Reload: a new [producer] coalesce_ms (see sb_replay_set_coalesce). */
void sb_synth_set_coalesce(struct sb_synth *s, int coalesce_ms);

/* The event time the streams have reached (that of the furthest stream's
 * next sample; the epoch before the first). */
int64_t sb_synth_event_time_us(const struct sb_synth *s);

/* Before sb_synth_start: moves the event epoch up to floor_us if it is
 * earlier (see sb_replay_set_epoch_floor). */
void sb_synth_set_epoch_floor(struct sb_synth *s, int64_t floor_us);

/* Sets the anomaly gauges to 0 and closes every handle; s is freed, then
 * cb(ud) is called (cb may be NULL) from the loop. A replacing source may
 * be created before this is called. */
void sb_synth_close(struct sb_synth *s, void (*cb)(void *ud), void *ud);

#endif
