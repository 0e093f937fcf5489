/*
 * features.h - the per-cycle features of the condition model, computed
 * from the 60 one-second means of each of the 17 UCI sensors of one 60-s
 * load cycle. The stream (condition.c) and the training tool
 * (tools/train.c, sensorbridge-train) both go through these functions, so a cycle gives the
 * same features, bit for bit, whether it was consumed from Kafka or read
 * from the dataset files. Pure.
 *
 * One-second means. Every sample is taken as its integer thousandths
 * (sb_features_milli: every value of the dataset, the stand-ins'
 * interpolation included, has at most 3 decimals), and the thousandths of a
 * second are summed as integers, so the mean does not depend on the order
 * the samples came in or on how the value was printed and parsed on the
 * way: sb_features_second_mean(sum, n) = sum / (1000 n).
 *
 * Features (their exact definitions are in docs/condition.md and beside
 * sb_features_compute in features.c): for each sensor, statistics over
 * the cycle and over fixed segments of it, then each of those again per
 * kelvin of the oil's temperature. sb_features_name(i) is feature i's
 * name, "<SENSOR>_<statistic>" or "<SENSOR>_<statistic>_per_K", the names a
 * model file lists.
 */
#ifndef SB_FEATURES_H
#define SB_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "sensorbridge/sensors.h"

#define SB_FEATURES_MAX 1024 /* upper bound of sb_features_count() */

/* The number of features. */
size_t sb_features_count(void);

/* Feature i's name, i < sb_features_count(); NULL beyond. */
const char *sb_features_name(size_t i);

/* v as integer thousandths: llround(v * 1000). v must be finite with
 * |v| < 9e12 (the caller checks; the dataset's values are far smaller). */
int64_t sb_features_milli(double v);

/* The mean of n samples whose thousandths sum to sum_milli. */
double sb_features_second_mean(int64_t sum_milli, unsigned n);

/* means[s][k]: the one-second mean of second k (0..59) of sensor s, in the
 * catalogue's order (sb_sensors_uci). Writes sb_features_count() values to
 * out. */
void sb_features_compute(const double means[SB_UCI_NSENSORS][SB_UCI_CYCLE_SECONDS], double *out);

#endif
