/* test_history.c - the status page's ring buffers: sampling, rates and
 * ratios, wrap-around, the series bound, since=. Expected JSON is written
 * out by hand from the inputs. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sensorbridge/history.h"
#include "sensorbridge/util.h"

static void assert_json(const struct sb_history *h, int64_t since, const char *want)
{
    struct sb_buf b;
    sb_buf_init(&b);
    sb_history_json(h, since, &b);
    assert_string_equal(b.data, want);
    sb_buf_free(&b);
}

static void history_gauges_one_point_per_tick(void **state)
{
    (void)state;
    struct sb_history *h = sb_history_new(10);
    assert_json(h, -1, "{\"points\":10,\"t\":[],\"series\":{}}\n");
    assert_int_equal(sb_history_tick(h, 1000), 0);
    assert_int_equal(sb_history_gauge(h, "sensor", "PS1", 151.19), 0);
    assert_int_equal(sb_history_gauge(h, "sensor", "TS1", 35.5), 0);
    assert_int_equal(sb_history_tick(h, 2000), 0);
    assert_int_equal(sb_history_gauge(h, "sensor", "PS1", 20.1), 0);
    /* TS1 silent this tick; a non-finite value is null too. */
    assert_int_equal(sb_history_tick(h, 3000), 0);
    assert_int_equal(sb_history_gauge(h, "sensor", "PS1", NAN), 0);
    assert_int_equal(sb_history_gauge(h, "sensor", "TS1", -2), 0);
    assert_int_equal(sb_history_len(h), 3);
    assert_int_equal(sb_history_series_count(h), 2);
    assert_json(h, -1,
                "{\"points\":10,\"t\":[1000,2000,3000],\"series\":{\"sensor\":{"
                "\"PS1\":[151.19,20.1,null],\"TS1\":[35.5,null,-2]}}}\n");
    sb_history_free(h);
}

static void history_rate_is_increase_per_second(void **state)
{
    (void)state;
    struct sb_history *h = sb_history_new(10);
    sb_history_tick(h, 1000);
    sb_history_rate(h, "pipeline", "produced", 10); /* first: null */
    sb_history_tick(h, 2000);
    sb_history_rate(h, "pipeline", "produced", 30); /* 20 in 1 s */
    sb_history_tick(h, 4000);
    sb_history_rate(h, "pipeline", "produced", 50); /* 20 in 2 s */
    sb_history_tick(h, 4500);
    sb_history_rate(h, "pipeline", "produced", 60); /* 10 in 0.5 s */
    sb_history_tick(h, 5500);                       /* not recorded: null */
    sb_history_tick(h, 6500);
    sb_history_rate(h, "pipeline", "produced", 70); /* no previous total: null */
    sb_history_tick(h, 7500);
    sb_history_rate(h, "pipeline", "produced", 5); /* fell: counted from 0 */
    sb_history_tick(h, 8500);
    /* Twice in one tick: the last total, measured from the previous tick's. */
    sb_history_rate(h, "pipeline", "produced", 6);
    sb_history_rate(h, "pipeline", "produced", 8);
    assert_json(h, -1,
                "{\"points\":10,\"t\":[1000,2000,4000,4500,5500,6500,7500,8500],\"series\":{"
                "\"pipeline\":{\"produced\":[null,20,10,20,null,null,5,3]}}}\n");
    sb_history_free(h);
}

static void history_ratio_is_mean_of_the_tick(void **state)
{
    (void)state;
    struct sb_history *h = sb_history_new(10);
    sb_history_tick(h, 1000);
    sb_history_ratio(h, "pipeline", "latency", 0.5, 10);
    sb_history_tick(h, 2000);
    sb_history_ratio(h, "pipeline", "latency", 1.5, 30); /* 1.0 over 20 */
    sb_history_tick(h, 3000);
    sb_history_ratio(h, "pipeline", "latency", 1.5, 30); /* nothing observed: null */
    sb_history_tick(h, 4000);
    sb_history_ratio(h, "pipeline", "latency", 2.25, 33); /* 0.75 over 3 */
    assert_json(h, -1,
                "{\"points\":10,\"t\":[1000,2000,3000,4000],\"series\":{"
                "\"pipeline\":{\"latency\":[null,0.05,null,0.25]}}}\n");
    sb_history_free(h);
}

static void history_wraps_around_keeping_the_last_points(void **state)
{
    (void)state;
    struct sb_history *h = sb_history_new(3);
    for (int i = 1; i <= 7; i++) {
        assert_int_equal(sb_history_tick(h, i * 1000), 0);
        assert_int_equal(sb_history_gauge(h, "sensor", "FS1", i * 1.5), 0);
        if (i == 6)
            sb_history_rate(h, "pipeline", "consumed", 100);
        if (i == 7)
            sb_history_rate(h, "pipeline", "consumed", 112);
    }
    assert_int_equal(sb_history_len(h), 3);
    assert_json(h, -1,
                "{\"points\":3,\"t\":[5000,6000,7000],\"series\":{"
                "\"sensor\":{\"FS1\":[7.5,9,10.5]},\"pipeline\":{\"consumed\":[null,null,12]}}}\n");
    sb_history_free(h);
}

static void history_since_gives_only_newer_points(void **state)
{
    (void)state;
    struct sb_history *h = sb_history_new(5);
    sb_history_tick(h, 1000);
    sb_history_gauge(h, "sensor", "SE", 1);
    sb_history_gauge(h, "sensor", "CE", 10);
    sb_history_tick(h, 2000);
    sb_history_gauge(h, "sensor", "SE", 2);
    sb_history_tick(h, 3000);
    sb_history_gauge(h, "sensor", "SE", 3);
    /* Strictly later than since; CE has no value there and is left out. */
    assert_json(h, 1000,
                "{\"points\":5,\"t\":[2000,3000],\"series\":{\"sensor\":{\"SE\":[2,3]}}}\n");
    assert_json(h, 2500, "{\"points\":5,\"t\":[3000],\"series\":{\"sensor\":{\"SE\":[3]}}}\n");
    assert_json(h, 3000, "{\"points\":5,\"t\":[],\"series\":{\"sensor\":{}}}\n");
    assert_json(h, 0,
                "{\"points\":5,\"t\":[1000,2000,3000],\"series\":{\"sensor\":{"
                "\"SE\":[1,2,3],\"CE\":[10,null,null]}}}\n");
    sb_history_free(h);
}

static void history_bounds_its_series(void **state)
{
    (void)state;
    char name[16];
    struct sb_history *h = sb_history_new(2);
    sb_history_tick(h, 1000);
    for (int i = 0; i < 128; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        assert_int_equal(sb_history_gauge(h, "sensor", name, i), 0);
    }
    assert_int_equal(SB_HISTORY_MAX_SERIES, 128);
    assert_int_equal(sb_history_gauge(h, "sensor", "one-more", 1), -ENOSPC);
    assert_int_equal(sb_history_series_count(h), 128);
    /* s0 alone goes on; the others' last value leaves the 2-point window
     * after two more ticks, and the new series then takes s1's slot. */
    sb_history_tick(h, 2000);
    sb_history_gauge(h, "sensor", "s0", 0);
    assert_int_equal(sb_history_gauge(h, "sensor", "one-more", 1), -ENOSPC);
    sb_history_tick(h, 3000);
    sb_history_gauge(h, "sensor", "s0", 0);
    assert_int_equal(sb_history_gauge(h, "sensor", "one-more", 1), 0);
    assert_int_equal(sb_history_series_count(h), 128);
    assert_json(h, -1,
                "{\"points\":2,\"t\":[2000,3000],\"series\":{\"sensor\":{"
                "\"s0\":[0,0],\"one-more\":[null,1]}}}\n");
    sb_history_free(h);
}

static void history_refuses_what_it_cannot_keep(void **state)
{
    (void)state;
    struct sb_history *h = sb_history_new(4);
    assert_int_equal(sb_history_gauge(h, "sensor", "PS1", 1), -EINVAL); /* no tick yet */
    assert_int_equal(sb_history_tick(h, 5000), 0);
    assert_int_equal(sb_history_tick(h, 5000), -EINVAL);
    assert_int_equal(sb_history_tick(h, 4000), -EINVAL);
    assert_int_equal(sb_history_gauge(h, "sensor", "", 1), -EINVAL);
    assert_int_equal(sb_history_gauge(h, "sensor", "a\"b", 1), -EINVAL);
    assert_int_equal(
        sb_history_gauge(h, "sensor",
                         "0123456789012345678901234567890123456789012345678901234567890"
                         "123",
                         1),
        -EINVAL);
    assert_int_equal(
        sb_history_gauge(h, "sensor",
                         "0123456789012345678901234567890123456789012345678901234567890"
                         "12",
                         1),
        0);
    assert_int_equal(sb_history_rate(h, "pipeline", "x", 1), 0);
    assert_int_equal(sb_history_gauge(h, "pipeline", "x", 1), -EINVAL);
    assert_int_equal(sb_history_ratio(h, "pipeline", "x", 1, 1), -EINVAL);
    assert_int_equal(sb_history_len(h), 1);
    assert_int_equal(sb_history_series_count(h), 2);
    sb_history_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(history_gauges_one_point_per_tick),
        cmocka_unit_test(history_rate_is_increase_per_second),
        cmocka_unit_test(history_ratio_is_mean_of_the_tick),
        cmocka_unit_test(history_wraps_around_keeping_the_last_points),
        cmocka_unit_test(history_since_gives_only_newer_points),
        cmocka_unit_test(history_bounds_its_series),
        cmocka_unit_test(history_refuses_what_it_cannot_keep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
