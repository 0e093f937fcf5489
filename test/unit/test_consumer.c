/* test_consumer.c - the consumer's life cycle against the registry it
 * reports into, on a real loop and the embedded broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "sensorbridge/broker.h"
#include "sensorbridge/config.h"
#include "sensorbridge/consumer.h"
#include "sensorbridge/ingest.h"
#include "sensorbridge/registry.h"
#include "sensorbridge/util.h"

static void closed(void *ud)
{
    *(bool *)ud = true;
}

/* The registry outlives the consumer (the daemon frees it last): a scrape
 * after the consumer is gone must not run the consumer's collector on the
 * freed client. */
static void consumer_close_removes_its_collector(void **state)
{
    (void)state;
    char err[512];
    struct sb_broker *b;
    assert_int_equal(sb_broker_new(&b, 1, err, sizeof(err)), 0);
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct sb_config cfg;
    sb_config_defaults(&cfg);
    struct sb_registry *reg = sb_registry_new();
    struct sb_ingest *in = sb_ingest_new(reg, 16);
    struct sb_consumer *c;
    assert_int_equal(
        sb_consumer_new(&c, &loop, &cfg, sb_broker_bootstraps(b), in, NULL, reg, err, sizeof(err)),
        0);
    struct sb_buf out;
    sb_buf_init(&out);
    sb_registry_expose(reg, &out);
    assert_non_null(strstr(out.data, "\nsensorbridge_consumer_offset_resets_total 0\n"));

    bool done = false;
    sb_consumer_close(c, sb_now_mono_ns(), closed, &done);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_true(done);
    /* The families stay (their counters are the run's record). */
    sb_buf_reset(&out);
    sb_registry_expose(reg, &out);
    assert_non_null(strstr(out.data, "\nsensorbridge_consumer_offset_resets_total 0\n"));

    sb_buf_free(&out);
    sb_ingest_free(in);
    sb_registry_free(reg);
    sb_config_free(&cfg);
    assert_int_equal(uv_loop_close(&loop), 0);
    sb_broker_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(consumer_close_removes_its_collector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
