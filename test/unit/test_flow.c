/* test_flow.c - flow control between producer and consumer: when the
 * sources must wait, and when they may go on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sensorbridge/flow.h"
#include "sensorbridge/registry.h"
#include "sensorbridge/util.h"

struct fixture {
    struct sb_registry *reg;
    struct sb_flow *f;
    int opened; /* open_cb calls */
};

static void on_open(void *ud)
{
    ((struct fixture *)ud)->opened++;
}

static struct fixture *fixture_new(int64_t max_lag)
{
    struct fixture *x = sb_xcalloc(1, sizeof(*x));
    x->reg = sb_registry_new();
    x->f = sb_flow_new(x->reg, max_lag, on_open, x);
    return x;
}

static void fixture_free(struct fixture *x)
{
    sb_flow_free(x->f);
    sb_registry_free(x->reg);
    free(x);
}

/* The value of an unlabelled series in the exposition, or -1. */
static double series(struct fixture *x, const char *name)
{
    struct sb_buf b = {0};
    sb_registry_expose(x->reg, &b);
    double v = -1;
    char key[128];
    snprintf(key, sizeof(key), "\n%s ", name);
    const char *p = strstr(b.data, key);
    if (p)
        sscanf(p + strlen(key), "%lf", &v);
    sb_buf_free(&b);
    return v;
}

static void closed_until_joined(void **state)
{
    (void)state;
    struct fixture *x = fixture_new(100);
    assert_true(sb_flow_closed(x->f));
    assert_int_equal(series(x, "sensorbridge_flow_control_paused"), 1);
    assert_int_equal(series(x, "sensorbridge_flow_control_pauses_total"), 1);
    sb_flow_joined(x->f, true);
    assert_false(sb_flow_closed(x->f));
    assert_int_equal(x->opened, 1);
    assert_int_equal(series(x, "sensorbridge_flow_control_paused"), 0);
    /* A rebalance: closed again until the next assignment. */
    sb_flow_joined(x->f, false);
    assert_true(sb_flow_closed(x->f));
    assert_int_equal(series(x, "sensorbridge_flow_control_pauses_total"), 2);
    sb_flow_joined(x->f, true);
    assert_int_equal(x->opened, 2);
    fixture_free(x);
}

/* Behind past max_lag (strictly), caught up at max_lag / 2 (inclusive). */
static void hysteresis(void **state)
{
    (void)state;
    struct fixture *x = fixture_new(100);
    sb_flow_joined(x->f, true);
    sb_flow_applied(x->f, "t", 0, 0);    /* held, nothing applied yet */
    sb_flow_delivered(x->f, "t", 0, 99); /* 100 delivered, 0 applied: at the bound */
    assert_false(sb_flow_closed(x->f));
    sb_flow_delivered(x->f, "t", 0, 100); /* 101: past it */
    assert_true(sb_flow_closed(x->f));
    sb_flow_applied(x->f, "t", 0, 50); /* 51 behind */
    assert_true(sb_flow_closed(x->f));
    assert_int_equal(x->opened, 1);
    sb_flow_applied(x->f, "t", 0, 51); /* 50 behind = max_lag / 2 */
    assert_false(sb_flow_closed(x->f));
    assert_int_equal(x->opened, 2);
    /* An older delivery report changes nothing. */
    sb_flow_delivered(x->f, "t", 0, 10);
    sb_flow_applied(x->f, "t", 0, 51);
    assert_false(sb_flow_closed(x->f));
    fixture_free(x);
}

/* Closed while any partition is behind; partitions are told apart by
 * topic and number. */
static void every_partition_counts(void **state)
{
    (void)state;
    struct fixture *x = fixture_new(10);
    sb_flow_joined(x->f, true);
    sb_flow_applied(x->f, "a", 0, 0);
    sb_flow_applied(x->f, "a", 1, 0);
    sb_flow_applied(x->f, "b", 0, 0);
    sb_flow_delivered(x->f, "a", 0, 20);
    sb_flow_delivered(x->f, "b", 0, 30);
    assert_true(sb_flow_closed(x->f));
    sb_flow_applied(x->f, "a", 0, 21);
    assert_true(sb_flow_closed(x->f)); /* b 0 still 31 behind */
    sb_flow_applied(x->f, "a", 1, 5);  /* a 1 never delivered: not behind */
    assert_true(sb_flow_closed(x->f));
    sb_flow_applied(x->f, "b", 0, 26);
    assert_false(sb_flow_closed(x->f));
    assert_int_equal(series(x, "sensorbridge_flow_control_pauses_total"), 2);
    fixture_free(x);
}

/* A partition the consumer does not hold (never assigned nor applied, or
 * released) cannot close the flow, and a release opens it. */
static void only_held_partitions(void **state)
{
    (void)state;
    struct fixture *x = fixture_new(10);
    sb_flow_joined(x->f, true);
    sb_flow_delivered(x->f, "t", 3, 1000);
    assert_false(sb_flow_closed(x->f));
    sb_flow_applied(x->f, "t", 3, 0);
    assert_true(sb_flow_closed(x->f));
    sb_flow_released(x->f, "t", 3);
    assert_false(sb_flow_closed(x->f));
    sb_flow_delivered(x->f, "t", 3, 2000);
    assert_false(sb_flow_closed(x->f));
    fixture_free(x);
}

/* An assigned partition is held before the consumer applies anything of
 * it: what is delivered since the assignment counts as unread until the
 * first applied message says where the consumer is. */
static void assigned_before_applied(void **state)
{
    (void)state;
    struct fixture *x = fixture_new(10);
    sb_flow_delivered(x->f, "t", 0, 499); /* before the assignment: not counted */
    sb_flow_assigned(x->f, "t", 0);
    sb_flow_joined(x->f, true);
    assert_false(sb_flow_closed(x->f));
    sb_flow_delivered(x->f, "t", 0, 500); /* the first since: 1 unread */
    sb_flow_delivered(x->f, "t", 0, 509); /* 10 unread: at the bound */
    assert_false(sb_flow_closed(x->f));
    sb_flow_delivered(x->f, "t", 0, 510); /* 11: past it */
    assert_true(sb_flow_closed(x->f));
    /* The first applied message: the consumer read from its committed
     * offset 400, so it is 111 behind, not 11. */
    sb_flow_applied(x->f, "t", 0, 400);
    assert_true(sb_flow_closed(x->f));
    sb_flow_applied(x->f, "t", 0, 506); /* 5 behind = max_lag / 2 */
    assert_false(sb_flow_closed(x->f));
    /* Released, then assigned again: unknown again, counting anew. */
    sb_flow_released(x->f, "t", 0);
    sb_flow_delivered(x->f, "t", 0, 600);
    sb_flow_assigned(x->f, "t", 0);
    sb_flow_delivered(x->f, "t", 0, 601);
    sb_flow_delivered(x->f, "t", 0, 610);
    assert_false(sb_flow_closed(x->f));
    sb_flow_delivered(x->f, "t", 0, 611);
    assert_true(sb_flow_closed(x->f));
    /* A partition assigned and never delivered to never closes it. */
    sb_flow_applied(x->f, "t", 0, 612);
    sb_flow_assigned(x->f, "u", 0);
    assert_false(sb_flow_closed(x->f));
    fixture_free(x);
}

/* max_lag = 0: never closed, not even before the join; a reload to a
 * bound applies at once. */
static void zero_disables_and_reload(void **state)
{
    (void)state;
    struct fixture *x = fixture_new(0);
    assert_false(sb_flow_closed(x->f));
    assert_int_equal(series(x, "sensorbridge_flow_control_pauses_total"), 0);
    sb_flow_joined(x->f, true);
    sb_flow_applied(x->f, "t", 0, 0);
    sb_flow_delivered(x->f, "t", 0, 1000000);
    assert_false(sb_flow_closed(x->f));
    sb_flow_set_max_lag(x->f, 1000);
    assert_true(sb_flow_closed(x->f));
    sb_flow_set_max_lag(x->f, 0);
    assert_false(sb_flow_closed(x->f));
    assert_int_equal(x->opened, 1);
    fixture_free(x);
}

/* Many partitions (the table grows) keep their own state. */
static void many_partitions(void **state)
{
    (void)state;
    struct fixture *x = fixture_new(5);
    sb_flow_joined(x->f, true);
    char topic[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(topic, sizeof(topic), "topic-%d", i % 37);
        sb_flow_applied(x->f, topic, i, 0);
        sb_flow_delivered(x->f, topic, i, i == 777 ? 5 : 4);
    }
    assert_true(sb_flow_closed(x->f));      /* only partition 777: 6 behind */
    sb_flow_applied(x->f, "other", 777, 6); /* another topic: no effect */
    assert_true(sb_flow_closed(x->f));
    snprintf(topic, sizeof(topic), "topic-%d", 777 % 37);
    sb_flow_applied(x->f, topic, 777, 6);
    assert_false(sb_flow_closed(x->f));
    fixture_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(closed_until_joined),     cmocka_unit_test(hysteresis),
        cmocka_unit_test(every_partition_counts),  cmocka_unit_test(only_held_partitions),
        cmocka_unit_test(assigned_before_applied), cmocka_unit_test(zero_disables_and_reload),
        cmocka_unit_test(many_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
