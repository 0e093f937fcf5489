/* test_sensors.c - the UCI sensor catalogue against the dataset's own table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sensorbridge/sensors.h"

/* description.txt, "Attribute Information", row by row. */
static const struct {
    const char *name, *quantity, *unit;
    unsigned rate;
} documented[] = {
    {"PS1", "Pressure", "bar", 100},
    {"PS2", "Pressure", "bar", 100},
    {"PS3", "Pressure", "bar", 100},
    {"PS4", "Pressure", "bar", 100},
    {"PS5", "Pressure", "bar", 100},
    {"PS6", "Pressure", "bar", 100},
    {"EPS1", "Motor power", "W", 100},
    {"FS1", "Volume flow", "l/min", 10},
    {"FS2", "Volume flow", "l/min", 10},
    {"TS1", "Temperature", "°C", 1},
    {"TS2", "Temperature", "°C", 1},
    {"TS3", "Temperature", "°C", 1},
    {"TS4", "Temperature", "°C", 1},
    {"VS1", "Vibration", "mm/s", 1},
    {"CE", "Cooling efficiency (virtual)", "%", 1},
    {"CP", "Cooling power (virtual)", "kW", 1},
    {"SE", "Efficiency factor", "%", 1},
};

static void sensors_match_dataset_table(void **state)
{
    size_t n = 0;
    const struct sb_sensor_info *s = sb_sensors_uci(&n);

    (void)state;
    assert_int_equal(n, SB_UCI_NSENSORS);
    assert_int_equal(n, sizeof(documented) / sizeof(documented[0]));
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(s[i].name, documented[i].name);
        assert_string_equal(s[i].quantity, documented[i].quantity);
        assert_string_equal(s[i].unit, documented[i].unit);
        assert_int_equal(s[i].rate_hz, documented[i].rate);
    }
    assert_non_null(sb_sensors_uci(NULL));
}

static void sensors_attribute_count(void **state)
{
    size_t n = 0, total = 0;
    const struct sb_sensor_info *s = sb_sensors_uci(&n);

    (void)state;
    for (size_t i = 0; i < n; i++)
        total += sb_sensors_ncols(&s[i]);
    /* "Number of Attributes: 43680 (8x60 (1 Hz) + 2x600 (10 Hz) + 7x6000 (100 Hz))" */
    assert_int_equal(total, 43680);
    assert_int_equal(sb_sensors_ncols(sb_sensors_find("PS2")), 6000);
    assert_int_equal(sb_sensors_ncols(sb_sensors_find("FS1")), 600);
    assert_int_equal(sb_sensors_ncols(sb_sensors_find("SE")), 60);
}

static void sensors_descriptions_are_one_sentence(void **state)
{
    size_t n = 0;
    const struct sb_sensor_info *s = sb_sensors_uci(&n);

    (void)state;
    for (size_t i = 0; i < n; i++) {
        const char *d = s[i].description;
        size_t len;
        assert_non_null(d);
        len = strlen(d);
        assert_true(len > 20 && len < 200);
        assert_true(d[0] >= 'A' && d[0] <= 'Z');
        assert_int_equal(d[len - 1], '.');
        assert_null(strstr(d, ". ")); /* no second sentence */
        assert_true(strlen(s[i].name) < SB_SENSOR_NAME_MAX);
    }
}

static void sensors_find(void **state)
{
    size_t n = 0;
    const struct sb_sensor_info *s = sb_sensors_uci(&n);

    (void)state;
    for (size_t i = 0; i < n; i++)
        assert_ptr_equal(sb_sensors_find(s[i].name), &s[i]);
    assert_null(sb_sensors_find("ps1"));
    assert_null(sb_sensors_find("PS"));
    assert_null(sb_sensors_find("PS7"));
    assert_null(sb_sensors_find("PS1 "));
    assert_null(sb_sensors_find(""));
    assert_null(sb_sensors_find(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sensors_match_dataset_table),
        cmocka_unit_test(sensors_attribute_count),
        cmocka_unit_test(sensors_descriptions_are_one_sentence),
        cmocka_unit_test(sensors_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
