/* test_sensortab.c - the per-sensor records and their one hash table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sensorbridge/sensors.h"
#include "sensorbridge/sensortab.h"

static void sensortab_finds_adds_and_bounds(void **state)
{
    (void)state;
    struct sb_sensortab *t = sb_sensortab_new(3);
    assert_null(sb_sensortab_find(t, "PS1"));
    struct sb_sensor *ps1 = sb_sensortab_get(t, "PS1");
    assert_non_null(ps1);
    assert_string_equal(ps1->name, "PS1");
    assert_int_equal(ps1->len, 3);
    assert_null(ps1->ingest);
    assert_null(ps1->windows);
    assert_int_equal(ps1->alert_rule, -1);
    assert_int_equal(ps1->alert_gen, 0);
    assert_ptr_equal(sb_sensortab_get(t, "PS1"), ps1);
    assert_ptr_equal(sb_sensortab_find(t, "PS1"), ps1);
    struct sb_sensor *ts1 = sb_sensortab_get(t, "TS1");
    /* The last hit is checked first, and a miss there still finds. */
    assert_ptr_equal(sb_sensortab_find(t, "PS1"), ps1);
    assert_ptr_equal(sb_sensortab_find(t, "TS1"), ts1);
    assert_non_null(sb_sensortab_get(t, "FS1"));
    assert_int_equal(sb_sensortab_count(t), 3);
    assert_int_equal(sb_sensortab_max(t), 3);
    /* Full: no new name, the held ones still found. */
    assert_null(sb_sensortab_get(t, "FS2"));
    assert_ptr_equal(sb_sensortab_get(t, "TS1"), ts1);
    sb_sensortab_remove(t, ts1);
    assert_null(sb_sensortab_find(t, "TS1"));
    assert_int_equal(sb_sensortab_count(t), 2);
    assert_non_null(sb_sensortab_get(t, "FS2"));
    /* Names: 1..SB_SENSOR_NAME_MAX - 1 bytes. */
    sb_sensortab_remove(t, sb_sensortab_find(t, "FS2"));
    char name[SB_SENSOR_NAME_MAX + 1];
    memset(name, 'n', sizeof(name));
    name[SB_SENSOR_NAME_MAX] = '\0';
    assert_null(sb_sensortab_get(t, name));
    assert_null(sb_sensortab_get(t, ""));
    name[SB_SENSOR_NAME_MAX - 1] = '\0';
    assert_non_null(sb_sensortab_get(t, name));
    sb_sensortab_free(t);
    sb_sensortab_free(NULL);
}

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1Dull;
}

/* Random adds and removals against a model, growing from 16 slots to
 * 100,000 records: every record keeps its address, every name is found
 * exactly while it is held, and the snapshot is sorted and complete. */
static void sensortab_grows_and_removes(void **state)
{
    (void)state;
    enum { NAMES = 150000, MAX = 100000 };
    struct sb_sensortab *t = sb_sensortab_new(MAX);
    struct sb_sensor **rec = calloc(NAMES, sizeof(*rec));
    assert_non_null(rec);
    size_t held = 0, full = 0;
    uint64_t rnd = 7;
    char name[32];
    for (int step = 0; step < 600000; step++) {
        uint64_t x = next_rand(&rnd);
        int i = (int)((x >> 16) % NAMES);
        snprintf(name, sizeof(name), "sensor-%d", i);
        assert_ptr_equal(sb_sensortab_find(t, name), rec[i]);
        if (x % 8 == 0) {
            if (rec[i]) {
                sb_sensortab_remove(t, rec[i]);
                rec[i] = NULL;
                held--;
            }
        } else if (!rec[i]) {
            rec[i] = sb_sensortab_get(t, name);
            if (held == MAX) {
                assert_null(rec[i]);
                full++;
            } else {
                assert_non_null(rec[i]);
                held++;
            }
        }
        assert_int_equal(sb_sensortab_count(t), held);
    }
    assert_true(full > 1000);
    struct sb_sensor **all = calloc(held ? held : 1, sizeof(*all));
    assert_non_null(all);
    assert_int_equal(sb_sensortab_sorted(t, all), held);
    for (size_t k = 1; k < held; k++)
        assert_true(strcmp(all[k - 1]->name, all[k]->name) < 0);
    size_t n = 0;
    for (int i = 0; i < NAMES; i++) {
        if (!rec[i])
            continue;
        snprintf(name, sizeof(name), "sensor-%d", i);
        assert_string_equal(rec[i]->name, name);
        n++;
    }
    assert_int_equal(n, held);
    free(all);
    free(rec);
    sb_sensortab_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sensortab_finds_adds_and_bounds),
        cmocka_unit_test(sensortab_grows_and_removes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
