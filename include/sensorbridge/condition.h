/*
 * condition.h - the condition monitor: assembles the samples of the 17 UCI
 * sensors into their 60-s load cycles in event time, and diagnoses every
 * complete cycle with the condition model (model.h) on its features
 * (features.h). Pure but for the monotonic clock that times each
 * inference; results go through a callback.
 *
 * A sample belongs to the cycle that starts at
 *     ts_us - ((k / R) * 1000000 + (k % R) * 1000000 / R)
 * (sample_idx k, rate R: the replay's schedule, sched.h), so the 17
 * sensors of one replayed cycle meet in one cycle whatever partitions and
 * instances their samples crossed. Samples without cycle, sample_idx or
 * the catalogue's rate are not the replay's and are ignored (counted).
 *
 * Per open cycle and sensor the monitor keeps the next sample index it
 * expects and one integer-thousandths sum per second (features.h): a
 * sensor's samples come in order (one partition per sensor), so an index
 * below the expected one is a redelivered duplicate (ignored, counted) and
 * one above it leaves a gap. Cycles close in the order they start:
 *   - a cycle holding every sample of every sensor (43,680) is diagnosed
 *     once every older cycle is closed;
 *   - one with samples missing closes, not diagnosed
 *     (reason "missing_samples"), once each of the 17 sensors has moved on
 *     to a later cycle or is forgotten (sb_condition_forget: no longer
 *     held here); a sensor not seen yet is waited for, so an instance that
 *     holds only some of the sensors closes its cycles by overflow;
 *   - at most max_open cycles are open: a new one beyond that closes the
 *     oldest, not diagnosed ("overflow");
 *   - sb_condition_stop drops the open ones ("stopped").
 * A sample of a cycle at or before the last closed one is late: ignored,
 * counted. A consumer reading a backlog reads a 1 Hz partition a hundred
 * times faster in event time than a 100 Hz one, so the 1 Hz sensors would
 * run past max_open cycles: sb_condition_ahead tells it which sensor to
 * pause until the others catch up. Memory: max_open * 8,216 bytes (17 sensors * 60 sums of 8 bytes,
 * plus the next indexes and the cycle's start and number).
 *
 * Metrics (docs/metrics.md): sensorbridge_condition_* families.
 *
 * Ownership: the monitor owns the model given to it and keeps borrowed
 * pointers into the registry, which must outlive it.
 */
#ifndef SB_CONDITION_H
#define SB_CONDITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sensorbridge/codec.h"
#include "sensorbridge/config.h"
#include "sensorbridge/model.h"
#include "sensorbridge/registry.h"
#include "sensorbridge/util.h"

/* One diagnosis, valid during the callback. */
struct sb_condition_diagnosis {
    int64_t cycle;    /* dataset row, 0-based */
    int64_t start_us; /* event time of the cycle's start */
    int64_t end_us;   /* start + 60 s */
    const struct sb_model *model;
    const struct sb_model_result *res; /* one per model component */
    const double *truth;               /* per component, NAN when unknown */
    const char *json;                  /* the diagnosis message (docs/condition.md) */
    size_t len;
};

typedef void (*sb_condition_cb)(void *ud, const struct sb_condition_diagnosis *dg);

struct sb_condition;

/* "<prefix>-diagnosis" unless [condition] topic names one. */
void sb_condition_topic(const struct sb_config *cfg, char *out, size_t len);

/* The labels file of cfg: [condition] labels, else the [replay] dataset's
 * profile.txt if it exists, else "" (none). */
void sb_condition_labels_path(const struct sb_config *cfg, char *out, size_t len);

/* The labels as sb_profile_load (dataset.h) reads them; path "" (or
 * NULL) is no labels: 0 with *out NULL and *rows 0. */
int sb_condition_load_labels(const char *path, int **out, size_t *rows, char *err, size_t errlen);

/* model: owned from here on; labels: rows * 5 ints from
 * sb_condition_load_labels, owned too (may be NULL); recent: diagnoses
 * kept for sb_condition_json. */
struct sb_condition *sb_condition_new(struct sb_model *model, int *labels, size_t rows,
                                      size_t max_open, size_t recent, struct sb_registry *reg,
                                      sb_condition_cb cb, void *ud);
void sb_condition_free(struct sb_condition *c);

/* Swaps model and labels (both owned from here on) between two samples:
 * the open cycles are diagnosed with the new model. With the same
 * components (names and classes, in order) the per-component series and
 * the running accuracy go on; otherwise they start again for the new
 * components. */
void sb_condition_set_model(struct sb_condition *c, struct sb_model *model, int *labels,
                            size_t rows);

/* A valid consumed sample of UCI sensor `uci` (its index in
 * sb_sensors_uci; anything else is not passed). */
void sb_condition_sample(struct sb_condition *c, int uci, const struct sb_decoded *d);

/* UCI sensor `uci` is no longer held here: it leaves the watermark. */
void sb_condition_forget(struct sb_condition *c, int uci);

/* Whether the consumer should pause the partition of UCI sensor `uci`
 * (and resume it once this is false again): its newest cycle starts at
 * least max_open / 2 cycles (1 at least) after the oldest open one, which
 * still waits for a sensor. Liveness: once no sensor at or before the
 * oldest open cycle (or not seen yet) has moved on for
 * SB_CONDITION_HOLD_MAX_NS (now_ns, monotonic, as seen by these calls),
 * the answer is false until one does, so a sensor that stopped sending or
 * that another instance holds stalls the others at most that long: their
 * cycles then close by overflow, counted. */
#define SB_CONDITION_HOLD_MAX_NS (10 * UINT64_C(1000000000))
bool sb_condition_ahead(struct sb_condition *c, int uci, uint64_t now_ns);

/* Drops the open cycles (counted "stopped"). */
void sb_condition_stop(struct sb_condition *c);

/* {"model":..., "diagnosed":N, "not_diagnosed":{reason:N}, "ignored":{reason:N},
 * "recent":[diagnosis, ...]} (oldest first) for /api/v1/diagnosis. */
void sb_condition_json(const struct sb_condition *c, struct sb_buf *out);

#endif
