/*
 * synth.h - synthetic factory sensors (temperature, vibration, energy,
 * humidity, pressure): a base value with Gaussian noise, a slow drift, a
 * daily pattern and injected anomalies, from a seeded generator, so one
 * seed gives the same stream byte for byte. Each [synthetic.<NAME>]
 * section is one stream on its own timer, on the same absolute schedule
 * and event epoch as the replay ([replay] speed and event_epoch).
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

/* Defaults of a kind: unit, base, noise. */
const char *sb_synth_kind_name(enum sb_synth_kind k);
int sb_synth_kind_parse(const char *s); /* -1 if unknown */
const char *sb_synth_kind_unit(enum sb_synth_kind k);

struct sb_synth_gen {
    struct sb_synth_cfg cfg; /* borrowed strings */
    uint64_t state[4];       /* xoshiro256** */
    int64_t anomaly_until_us;
    double anomaly_offset;
    int64_t epoch_us;
};

/* Seeds the generator from cfg->seed; epoch_us is the event time of
 * sample 0 (the drift is measured from it). */
void sb_synth_gen_init(struct sb_synth_gen *g, const struct sb_synth_cfg *cfg, int64_t epoch_us);

/* The value at event time ts_us. Must be called once per sample, in
 * order: the noise and anomaly draws advance the generator. Values are
 * rounded to 3 decimals and clamped to the kind's physical range.
 * *anomaly tells whether an injected anomaly is active. */
double sb_synth_gen_next(struct sb_synth_gen *g, int64_t ts_us, bool *anomaly);

struct sb_synth;

/* One stream per cfg->synthetic entry. Returns 0 or -errno with a message;
 * with no [synthetic.*] sections *out is NULL and 0 is returned. */
int sb_synth_new(struct sb_synth **out, uv_loop_t *loop, const struct sb_config *cfg,
                 struct sb_registry *reg, const struct sb_source_sink *sink, char *err,
                 size_t errlen);
void sb_synth_start(struct sb_synth *s);
void sb_synth_resume(struct sb_synth *s);
void sb_synth_stop(struct sb_synth *s);
void sb_synth_close(struct sb_synth *s, void (*cb)(void *ud), void *ud);

#endif
