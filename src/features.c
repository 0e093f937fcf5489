/*
 * features.c - the condition model's per-cycle features (features.h).
 */
#include "sensorbridge/features.h"

#include <math.h>

#define SEGMENTS 12 /* fixed segments of 5 s */
#define SEGMENT_SECONDS (SB_UCI_CYCLE_SECONDS / SEGMENTS)
#define PER_SENSOR (6 + 2 * SEGMENTS)
#define BASE (SB_UCI_NSENSORS * PER_SENSOR) /* features before the per-kelvin copies */
#define TS1 9                               /* TS1's position in the catalogue */
#define KELVIN 273.15                       /* 0 degrees Celsius in kelvin */

/* The names, a compile-time table: for each sensor in catalogue order
 * (test_features checks it against sb_sensors_uci), its PER_SENSOR
 * statistics in the order sb_features_compute writes them; then the same
 * again with "_per_K" appended, the per-kelvin copies. */
#define SEGS(n, stat)                                                                              \
    n "_seg00_" stat, n "_seg01_" stat, n "_seg02_" stat, n "_seg03_" stat, n "_seg04_" stat,      \
        n "_seg05_" stat, n "_seg06_" stat, n "_seg07_" stat, n "_seg08_" stat, n "_seg09_" stat,  \
        n "_seg10_" stat, n "_seg11_" stat
#define STATS(n, x)                                                                                \
    n "_mean" x, n "_std" x, n "_min" x, n "_max" x, n "_slope" x, n "_maxdiff" x,                 \
        SEGS(n, "mean" x), SEGS(n, "std" x)
#define ALL(x)                                                                                     \
    STATS("PS1", x), STATS("PS2", x), STATS("PS3", x), STATS("PS4", x), STATS("PS5", x),           \
        STATS("PS6", x), STATS("EPS1", x), STATS("FS1", x), STATS("FS2", x), STATS("TS1", x),      \
        STATS("TS2", x), STATS("TS3", x), STATS("TS4", x), STATS("VS1", x), STATS("CE", x),        \
        STATS("CP", x), STATS("SE", x)
static const char *const names[] = {ALL(""), ALL("_per_K")};
_Static_assert(sizeof(names) / sizeof(names[0]) == 2 * BASE, "one name per feature");
_Static_assert(2 * BASE <= SB_FEATURES_MAX, "within SB_FEATURES_MAX");

size_t sb_features_count(void)
{
    return 2 * BASE;
}

const char *sb_features_name(size_t i)
{
    return i < sb_features_count() ? names[i] : NULL;
}

int64_t sb_features_milli(double v)
{
    return (int64_t)llround(v * 1000.0);
}

double sb_features_second_mean(int64_t sum_milli, unsigned n)
{
    return (double)sum_milli / (1000.0 * (double)n);
}

/* Mean and population standard deviation of x[0..n-1], two passes. */
static void mean_std(const double *x, size_t n, double *mean, double *std)
{
    double s = 0.0, q = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    *mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        q += (x[i] - *mean) * (x[i] - *mean);
    *std = sqrt(q / (double)n);
}

/*
 * For each sensor s in catalogue order, with m[k] = means[s][k], k = 0..59
 * (all sums in increasing k), PER_SENSOR = 30 features:
 *   mean     (1/60) sum m[k]
 *   std      sqrt((1/60) sum (m[k] - mean)^2)  (population, two passes)
 *   min      min m[k]
 *   max      max m[k]
 *   slope    least-squares slope over t = k: sum (k - 29.5) m[k] / 17995
 *            (17995 = sum (k - 29.5)^2), in units per second
 *   maxdiff  max over k = 1..59 of |m[k] - m[k-1]|
 *   segGG_mean, GG = 00..11: mean of m[5 GG .. 5 GG + 4]
 *   segGG_std,  GG = 00..11: population std of m[5 GG .. 5 GG + 4]
 * Feature index = s * 30 + position in this list (mean 0, ..., maxdiff 5,
 * seg00_mean 6, ..., seg11_mean 17, seg00_std 18, ..., seg11_std 29).
 * Then feature 510 + i = feature i / T, i = 0..509, T = TS1_mean + 273.15
 * (the oil's temperature in kelvin, taken as 1 if it is below 1, so that
 * no value a sensor sends divides by zero): each one per kelvin, so that a
 * linear model can weigh an effect that scales with the temperature (the
 * accumulator's gas pressure is proportional to its absolute temperature).
 */
void sb_features_compute(const double means[SB_UCI_NSENSORS][SB_UCI_CYCLE_SECONDS], double *out)
{
    const size_t n = SB_UCI_CYCLE_SECONDS;
    const double tbar = (double)(n - 1) / 2.0;
    double sxx = 0.0;
    for (size_t k = 0; k < n; k++)
        sxx += ((double)k - tbar) * ((double)k - tbar);
    for (size_t s = 0; s < SB_UCI_NSENSORS; s++) {
        const double *m = means[s];
        double *f = out + s * PER_SENSOR;
        double mn = m[0], mx = m[0], sxy = 0.0, maxdiff = 0.0;
        mean_std(m, n, &f[0], &f[1]);
        for (size_t k = 0; k < n; k++) {
            if (m[k] < mn)
                mn = m[k];
            if (m[k] > mx)
                mx = m[k];
            sxy += ((double)k - tbar) * m[k];
            if (k > 0 && fabs(m[k] - m[k - 1]) > maxdiff)
                maxdiff = fabs(m[k] - m[k - 1]);
        }
        f[2] = mn;
        f[3] = mx;
        f[4] = sxy / sxx;
        f[5] = maxdiff;
        for (size_t g = 0; g < SEGMENTS; g++)
            mean_std(m + g * SEGMENT_SECONDS, SEGMENT_SECONDS, &f[6 + g], &f[6 + SEGMENTS + g]);
    }
    const double kelvin = fmax(out[TS1 * PER_SENSOR] + KELVIN, 1.0);
    for (size_t i = 0; i < BASE; i++)
        out[BASE + i] = out[i] / kelvin;
}
