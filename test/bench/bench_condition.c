/*
 * bench_condition.c - how long one cycle's diagnosis takes: the features
 * of a cycle (sb_features_compute over the 17 x 60 one-second means) and
 * the model's inference (sb_model_predict) with the shipped model. A
 * measurement, not a test.
 *
 *   build/test/bench_condition [MODEL [CYCLES]]
 *
 * MODEL defaults to conf/condition-model.json (run from the source root),
 * CYCLES to 100,000. The means are a fixed pattern of plausible values, so
 * every run does the same work; each of 7 rounds times CYCLES cycles, and
 * the medians per cycle are printed beside issue 11's goal (inference well
 * under 1 ms per cycle).
 */
#include <stdio.h>
#include <stdlib.h>

#include "sensorbridge/features.h"
#include "sensorbridge/model.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

#define ROUNDS 7

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "conf/condition-model.json";
    long cycles = argc > 2 ? strtol(argv[2], NULL, 10) : 100000;
    if (cycles < 1) {
        fprintf(stderr, "bench_condition: CYCLES must be a positive integer\n");
        return 2;
    }
    struct sb_model *m;
    char err[512];
    if (sb_model_load(&m, path, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench_condition: %s\n", err);
        return 1;
    }

    static double means[SB_UCI_NSENSORS][SB_UCI_CYCLE_SECONDS];
    for (size_t s = 0; s < SB_UCI_NSENSORS; s++)
        for (size_t k = 0; k < SB_UCI_CYCLE_SECONDS; k++)
            means[s][k] = 10.0 * (double)(s + 1) + (double)((k * 7 + s * 3) % 11) * 0.125;
    double features[SB_FEATURES_MAX];
    struct sb_model_result res[SB_MODEL_MAX_COMPONENTS];
    double feat_ns[ROUNDS], pred_ns[ROUNDS];
    volatile double sink = 0;

    for (int r = 0; r < ROUNDS; r++) {
        uint64_t t0 = sb_now_mono_ns();
        for (long i = 0; i < cycles; i++) {
            means[i % SB_UCI_NSENSORS][i % SB_UCI_CYCLE_SECONDS] += 0.001;
            sb_features_compute((const double(*)[SB_UCI_CYCLE_SECONDS])means, features);
            sink += features[(size_t)i % sb_features_count()];
        }
        uint64_t t1 = sb_now_mono_ns();
        for (long i = 0; i < cycles; i++) {
            features[(size_t)i % sb_features_count()] += 0.001;
            sb_model_predict(m, features, res);
            sink += res[0].prob[0];
        }
        uint64_t t2 = sb_now_mono_ns();
        feat_ns[r] = (double)(t1 - t0) / (double)cycles;
        pred_ns[r] = (double)(t2 - t1) / (double)cycles;
    }
    qsort(feat_ns, ROUNDS, sizeof(double), cmp_double);
    qsort(pred_ns, ROUNDS, sizeof(double), cmp_double);
    printf("model %s: %zu features of %zu, %zu components\n", path, sb_model_features(m),
           sb_features_count(), sb_model_components(m));
    printf("features per cycle: median %.0f ns (min %.0f, max %.0f)\n", feat_ns[ROUNDS / 2],
           feat_ns[0], feat_ns[ROUNDS - 1]);
    printf("inference per cycle: median %.0f ns (min %.0f, max %.0f)\n", pred_ns[ROUNDS / 2],
           pred_ns[0], pred_ns[ROUNDS - 1]);
    printf("GOAL inference well under 1 ms per cycle: %s\n",
           feat_ns[ROUNDS / 2] + pred_ns[ROUNDS / 2] < 1e5 ? "met" : "NOT met");
    sb_model_free(m);
    return sink == 0.5 ? 3 : 0;
}
