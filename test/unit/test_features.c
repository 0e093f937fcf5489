/*
 * test_features.c - the condition model's features: the names, the
 * one-second means' integer arithmetic, the statistics on synthetic cycles
 * with closed-form values, and real dataset cycles against values computed
 * independently from the files.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sensorbridge/dataset.h"
#include "sensorbridge/features.h"
#include "sensorbridge/sensors.h"

#define PER_SENSOR 30

static double means[SB_UCI_NSENSORS][SB_UCI_CYCLE_SECONDS];
static double feat[SB_FEATURES_MAX];

/* Feature `stat` of sensor `sensor`, found by name. */
static double feature(const char *sensor, const char *stat)
{
    char name[96];
    snprintf(name, sizeof(name), "%s_%s", sensor, stat);
    for (size_t i = 0; i < sb_features_count(); i++)
        if (strcmp(sb_features_name(i), name) == 0)
            return feat[i];
    fail_msg("no feature %s", name);
    return NAN;
}

static void assert_close(double got, double want)
{
    if (!(fabs(got - want) <= 1e-12 * fabs(want) + 1e-12))
        fail_msg("got %.17g, want %.17g", got, want);
}

static void features_names(void **state)
{
    (void)state;
    size_t n;
    const struct sb_sensor_info *s = sb_sensors_uci(&n);
    assert_int_equal(sb_features_count(), 2 * SB_UCI_NSENSORS * PER_SENSOR);
    assert_true(sb_features_count() <= SB_FEATURES_MAX);
    assert_string_equal(sb_features_name(0), "PS1_mean");
    assert_string_equal(sb_features_name(5), "PS1_maxdiff");
    assert_string_equal(sb_features_name(6), "PS1_seg00_mean");
    assert_string_equal(sb_features_name(18), "PS1_seg00_std");
    assert_string_equal(sb_features_name(30), "PS2_mean");
    assert_string_equal(sb_features_name(509), "SE_seg11_std");
    assert_string_equal(sb_features_name(510), "PS1_mean_per_K");
    assert_string_equal(sb_features_name(1019), "SE_seg11_std_per_K");
    assert_null(sb_features_name(1020));
    /* Every name starts with its sensor, in catalogue order, and is unique;
     * the second half is the first with "_per_K" appended. */
    for (size_t i = 0; i < sb_features_count(); i++) {
        const char *nm = sb_features_name(i), *sn = s[(i % 510) / PER_SENSOR].name;
        assert_int_equal(strncmp(nm, sn, strlen(sn)), 0);
        assert_int_equal(nm[strlen(sn)], '_');
        if (i >= 510) {
            char want[96];
            snprintf(want, sizeof(want), "%s_per_K", sb_features_name(i - 510));
            assert_string_equal(nm, want);
        }
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(nm, sb_features_name(j));
    }
}

static void features_milli_and_second_mean(void **state)
{
    (void)state;
    assert_int_equal(sb_features_milli(0.0), 0);
    assert_int_equal(sb_features_milli(1.234), 1234);
    assert_int_equal(sb_features_milli(-1.234), -1234);
    assert_int_equal(sb_features_milli(0.0005), 1); /* halves away from zero */
    assert_int_equal(sb_features_milli(-0.0005), -1);
    assert_int_equal(sb_features_milli(0.00049), 0);
    assert_int_equal(sb_features_milli(191.615), 191615);
    assert_int_equal(sb_features_milli(8999999999.999), INT64_C(8999999999999));
    assert_true(sb_features_second_mean(1234567, 100) == 1234567.0 / 100000.0);
    assert_true(sb_features_second_mean(-5, 1) == -0.005);
    assert_true(sb_features_second_mean(0, 10) == 0.0);
    /* The order of the samples does not matter: an integer sum. */
    int64_t a = sb_features_milli(0.1) + sb_features_milli(0.2) + sb_features_milli(0.3);
    int64_t b = sb_features_milli(0.3) + sb_features_milli(0.1) + sb_features_milli(0.2);
    assert_true(sb_features_second_mean(a, 3) == sb_features_second_mean(b, 3));
    assert_true(sb_features_second_mean(a, 3) == 0.2);
}

/* m[k] = k for every sensor but SE, which is constant 7; TS1 a step. */
static void features_closed_form(void **state)
{
    (void)state;
    for (size_t s = 0; s < SB_UCI_NSENSORS; s++)
        for (size_t k = 0; k < SB_UCI_CYCLE_SECONDS; k++)
            means[s][k] = s == 16 ? 7.0 : s == 9 ? (k < 30 ? 1.0 : 4.0) : (double)k;
    sb_features_compute((const double(*)[SB_UCI_CYCLE_SECONDS])means, feat);
    assert_close(feature("PS1", "mean"), 29.5);
    assert_close(feature("PS1", "std"), sqrt((60.0 * 60.0 - 1.0) / 12.0));
    assert_close(feature("PS1", "min"), 0.0);
    assert_close(feature("PS1", "max"), 59.0);
    assert_close(feature("PS1", "slope"), 1.0);
    assert_close(feature("PS1", "maxdiff"), 1.0);
    assert_close(feature("FS2", "seg00_mean"), 2.0);
    assert_close(feature("FS2", "seg11_mean"), 57.0);
    assert_close(feature("FS2", "seg05_std"), sqrt(2.0));
    assert_close(feature("SE", "mean"), 7.0);
    assert_true(feature("SE", "std") == 0.0);
    assert_true(feature("SE", "slope") == 0.0);
    assert_true(feature("SE", "maxdiff") == 0.0);
    assert_true(feature("SE", "seg07_std") == 0.0);
    assert_close(feature("TS1", "mean"), 2.5);
    assert_close(feature("TS1", "std"), 1.5);
    assert_close(feature("TS1", "maxdiff"), 3.0);
    assert_close(feature("TS1", "seg05_mean"), 1.0);
    assert_close(feature("TS1", "seg06_mean"), 4.0);
    /* slope of the step: sum (k - 29.5) m[k] / 17995 = 3 * (0.5 + ... + 29.5) / 17995 */
    assert_close(feature("TS1", "slope"), 1350.0 / 17995.0);
    /* Per kelvin: divided by 2.5 + 273.15. */
    assert_close(feature("PS1", "mean_per_K"), 29.5 / 275.65);
    assert_close(feature("TS1", "slope_per_K"), 1350.0 / 17995.0 / 275.65);
    assert_true(feature("SE", "std_per_K") == 0.0);

    /* TS1 at -300 degrees: the kelvin are taken as 1, nothing divides by
     * zero or flips its sign. */
    for (size_t k = 0; k < SB_UCI_CYCLE_SECONDS; k++)
        means[9][k] = -300.0;
    sb_features_compute((const double(*)[SB_UCI_CYCLE_SECONDS])means, feat);
    assert_true(feature("PS1", "mean_per_K") == feature("PS1", "mean"));
    assert_true(feature("TS1", "mean_per_K") == -300.0);
}

/* One cycle's one-second means read from the dataset as the replay reads
 * it: <SENSOR>.txt, else the stand-in upsampled to the native rate. */
static void load_cycle(unsigned cycle)
{
    const char *root = getenv("SB_SOURCE_ROOT");
    size_t n;
    const struct sb_sensor_info *si = sb_sensors_uci(&n);
    char path[4096], err[256];
    assert_non_null(root);
    for (size_t s = 0; s < n; s++) {
        struct sb_dsfile *f;
        struct sb_row row;
        unsigned r = si[s].rate_hz;
        int standin = r > 1;
        snprintf(path, sizeof(path), "%s/datasets/uci-hydraulic/%s%s%s", root,
                 standin ? "standin/" : "", si[s].name, standin ? "_1hz.txt" : ".txt");
        assert_int_equal(sb_dsfile_open(&f, path, SB_UCI_CYCLE_SECONDS, err, sizeof(err)), 0);
        assert_int_equal(sb_dsfile_seek(f, cycle), 0);
        assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
        for (unsigned k = 0; k < SB_UCI_CYCLE_SECONDS; k++) {
            int64_t sum = 0;
            for (unsigned j = k * r; j < (k + 1) * r; j++)
                sum += sb_features_milli(sb_upsample_linear(row.values, 60, r, j));
            means[s][k] = sb_features_second_mean(sum, r);
        }
        sb_dsfile_close(f);
    }
    sb_features_compute((const double(*)[SB_UCI_CYCLE_SECONDS])means, feat);
}

/* Expected values: `test/tools/features_expected.py` (numpy on the files,
 * independent of sensorbridge: the stand-ins' upsampling written out from
 * the rule in dataset.h), printed with %.17g. */
static void features_cycle_0(void **state)
{
    (void)state;
    load_cycle(0);
    assert_close(feature("TS1", "mean"), 35.621983333333333);
    assert_close(feature("TS1", "std"), 0.30565048076011453);
    assert_close(feature("TS1", "slope"), 0.016269936093358691);
    assert_close(feature("TS1", "maxdiff"), 0.096999999999994202);
    assert_close(feature("TS1", "seg03_mean"), 35.303600000000003);
    assert_close(feature("CE", "min"), 28.866);
    assert_close(feature("CE", "max"), 47.438000000000002);
    assert_close(feature("CE", "seg11_std"), 0.47152628770833144);
    assert_close(feature("SE", "maxdiff"), 69.141000000000005);
    assert_close(feature("PS1", "mean"), 160.67564049999999);
    assert_close(feature("PS1", "std"), 13.389952965183687);
    assert_close(feature("PS1", "min"), 146.01298);
    assert_close(feature("PS1", "max"), 191.31433999999999);
    assert_close(feature("PS1", "slope"), -0.40419099611003356);
    assert_close(feature("PS1", "maxdiff"), 22.281320000000022);
    assert_close(feature("PS1", "seg03_mean"), 147.68089600000002);
    assert_close(feature("PS1", "seg11_std"), 0.0054294994244406232);
    assert_close(feature("FS1", "mean"), 6.7041933333333326);
    assert_close(feature("FS1", "min"), 0.001);
    assert_close(feature("FS1", "seg11_std"), 0.0091501693973391942);
    assert_close(feature("TS1", "mean_per_K"), 0.11536663057566914);
    assert_close(feature("CE", "seg11_std_per_K"), 0.0015271019171428436);
    assert_close(feature("PS1", "mean_per_K"), 0.52036988189612843);
    assert_close(feature("PS1", "seg11_std_per_K"), 1.7584171225079166e-05);
}

static void features_cycle_1500(void **state)
{
    (void)state;
    load_cycle(1500);
    assert_close(feature("TS1", "mean"), 35.487833333333327);
    assert_close(feature("TS1", "std"), 0.15381592534223806);
    assert_close(feature("CE", "slope"), -0.0042115587663242166);
    assert_close(feature("SE", "max"), 77.123999999999995);
    assert_close(feature("SE", "seg03_mean"), 65.514600000000002);
    assert_close(feature("PS1", "mean"), 160.9750861666667);
    assert_close(feature("PS1", "std"), 13.605263324265859);
    assert_close(feature("PS1", "min"), 146.33676);
    assert_close(feature("PS1", "max"), 191.54396);
    assert_close(feature("PS1", "slope"), -0.41803144456793873);
    assert_close(feature("PS1", "maxdiff"), 22.520769999999999);
    assert_close(feature("FS1", "min"), 0.0005);
    assert_close(feature("FS1", "max"), 8.6770999999999994);
    assert_close(feature("FS1", "maxdiff"), 5.5655999999999999);
    assert_close(feature("FS1", "seg03_mean"), 7.6650800000000006);
    assert_close(feature("CE", "mean_per_K"), 0.15059214494658518);
    assert_close(feature("PS1", "mean_per_K"), 0.52156627859945892);
    assert_close(feature("PS1", "seg11_std_per_K"), 5.4654203620398865e-05);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(features_names),       cmocka_unit_test(features_milli_and_second_mean),
        cmocka_unit_test(features_closed_form), cmocka_unit_test(features_cycle_0),
        cmocka_unit_test(features_cycle_1500),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
