/*
 * bench_condition.c - the time per cycle of the condition diagnosis as the
 * stream runs it once a cycle is complete: sb_features_compute on the 17 x
 * 60 one-second means, then sb_model_predict with the shipped model. A
 * measurement, not a test.
 *
 *   build/test/bench_condition [DATASET_DIR [MODEL [CYCLES [ROUNDS]]]]
 *
 * The one-second means of the first CYCLES cycles (default 500) are read
 * from DATASET_DIR beforehand (1 Hz files as they are, stand-ins
 * upsampled as the replay sends them), so only the diagnosis is timed.
 * Each of ROUNDS rounds (default 7) diagnoses every cycle once; the median
 * round's time per cycle is printed beside issue 11's goal (well under
 * 1 ms per cycle).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sensorbridge/dataset.h"
#include "sensorbridge/features.h"
#include "sensorbridge/model.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

typedef double cycle_means[SB_UCI_NSENSORS][SB_UCI_CYCLE_SECONDS];

static void die(const char *msg)
{
    fprintf(stderr, "bench_condition: %s\n", msg);
    exit(1);
}

static void read_means(const char *dir, cycle_means *means, unsigned ncycles)
{
    size_t n;
    const struct sb_sensor_info *si = sb_sensors_uci(&n);
    char path[4096], err[512];
    for (size_t s = 0; s < n; s++) {
        struct sb_dsfile *f;
        struct sb_row row;
        unsigned r = si[s].rate_hz;
        snprintf(path, sizeof(path), "%s/%s%s%s", dir, r > 1 ? "standin/" : "", si[s].name,
                 r > 1 ? "_1hz.txt" : ".txt");
        if (sb_dsfile_open(&f, path, SB_UCI_CYCLE_SECONDS, err, sizeof(err)) < 0)
            die(err);
        for (unsigned c = 0; c < ncycles; c++) {
            if (sb_dsfile_next(f, &row, err, sizeof(err)) != 1)
                die("the dataset has fewer cycles than asked for");
            for (unsigned k = 0; k < SB_UCI_CYCLE_SECONDS; k++) {
                int64_t sum = 0;
                for (unsigned j = k * r; j < (k + 1) * r; j++)
                    sum += sb_features_milli(sb_upsample_linear(row.values, 60, r, j));
                means[c][s][k] = sb_features_second_mean(sum, r);
            }
        }
        sb_dsfile_close(f);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "datasets/uci-hydraulic";
    const char *model = argc > 2 ? argv[2] : "conf/condition-model.json";
    unsigned ncycles = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 500;
    unsigned rounds = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 7;
    struct sb_model *m;
    char err[512];

    if (ncycles == 0 || ncycles > 2205 || rounds == 0 || rounds > 1000)
        die("CYCLES must be 1..2205 and ROUNDS 1..1000");
    if (sb_model_load(&m, model, err, sizeof(err)) < 0)
        die(err);
    cycle_means *means = sb_xcalloc(ncycles, sizeof(*means));
    read_means(dir, means, ncycles);
    double feat[SB_FEATURES_MAX], *per = sb_xcalloc(rounds, sizeof(double)), sink = 0.0;
    struct sb_model_result res[SB_MODEL_MAX_COMPONENTS];
    for (unsigned r = 0; r < rounds; r++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (unsigned c = 0; c < ncycles; c++) {
            sb_features_compute((const double(*)[SB_UCI_CYCLE_SECONDS])means[c], feat);
            sb_model_predict(m, feat, res);
            sink += res[0].value;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        per[r] = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) /
                 (double)ncycles;
    }
    qsort(per, rounds, sizeof(double), cmp_double);
    printf("condition diagnosis (features + predict, %zu features, %zu components): "
           "median %.1f us per cycle over %u cycles x %u rounds (goal: well under 1000 us)\n",
           sb_features_count(), sb_model_components(m), per[rounds / 2] / 1000.0, ncycles, rounds);
    printf("(checksum of the cooler predictions: %g)\n", sink);
    free(per);
    free(means);
    sb_model_free(m);
    return 0;
}
