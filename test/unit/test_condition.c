/*
 * test_condition.c - the condition monitor's cycle assembly: a complete
 * cycle is diagnosed with the expected state and probability; duplicates,
 * late samples, missing samples, overflow, forgetting and stopping are
 * counted as condition.h says. The model is hand-made: one component "x"
 * with classes 0 and 1 on the single feature TS1_mean (standardised with
 * mean 50, scale 1; coefficients -1 and +1), so state 1 means a TS1 mean
 * above 50 and its probability is 1 / (1 + exp(-2 (mean - 50))).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensorbridge/condition.h"
#include "sensorbridge/sensors.h"

#define EPOCH 1762612200000000LL /* 2025-11-08T14:30:00Z */
#define CYCLE_US (60 * 1000000LL)

static char model_path[64], other_path[64];

static struct sb_model *model(void)
{
    struct sb_model *m;
    char err[256];
    assert_int_equal(sb_model_load(&m, model_path, err, sizeof(err)), 0);
    return m;
}

struct seen {
    int n;
    int64_t cycle;
    double state, prob, truth;
};

static void on_diag(void *ud, const struct sb_condition_diagnosis *dg)
{
    struct seen *s = ud;
    s->n++;
    s->cycle = dg->cycle;
    s->state = dg->res[0].value;
    s->prob = dg->res[0].prob[dg->res[0].cls];
    s->truth = dg->truth[0];
    json_error_t je;
    json_t *j = json_loadb(dg->json, dg->len, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "cycle")), dg->cycle);
    json_decref(j);
}

/* Sends sample k of sensor s in dataset cycle `cycle` (the n-th replayed). */
static void sample(struct sb_condition *c, size_t s, int64_t cycle, int n, unsigned k, double v)
{
    size_t ncat;
    const struct sb_sensor_info *info = &sb_sensors_uci(&ncat)[s];
    unsigned r = info->rate_hz;
    struct sb_decoded d = {
        .cycle = cycle,
        .sample_idx = k,
        .value = v,
        .ts_us = EPOCH + n * CYCLE_US + (k / r) * 1000000LL + (k % r) * 1000000LL / r,
        .rate_hz = r,
    };
    snprintf(d.sensor, sizeof(d.sensor), "%s", info->name);
    sb_condition_sample(c, (int)s, &d);
}

/* Every sample of every sensor of one cycle, TS1 at ts1, the rest at 1;
 * skip_sensor's sample skip_k is left out (skip_sensor -1: none). */
static void cycle(struct sb_condition *c, int64_t number, int n, double ts1, int skip_sensor,
                  unsigned skip_k)
{
    size_t ncat;
    const struct sb_sensor_info *cat = sb_sensors_uci(&ncat);
    for (size_t s = 0; s < ncat; s++)
        for (unsigned k = 0; k < cat[s].rate_hz * 60; k++)
            if (!((int)s == skip_sensor && k == skip_k))
                sample(c, s, number, n, k, strcmp(cat[s].name, "TS1") == 0 ? ts1 : 1);
}

static json_int_t count(struct sb_condition *c, const char *group, const char *key)
{
    struct sb_buf b;
    sb_buf_init(&b);
    sb_condition_json(c, &b);
    json_error_t je;
    json_t *j = json_loads(b.data, 0, &je);
    assert_non_null(j);
    json_t *v = group ? json_object_get(json_object_get(j, group), key) : json_object_get(j, key);
    assert_non_null(v);
    json_int_t n = json_integer_value(v);
    json_decref(j);
    sb_buf_free(&b);
    return n;
}

struct child_value {
    const char *label, *want; /* the label and its value to pick; NULL: any */
    double value;
    int n;
};

static void pick_child(void *ud, size_t nlabels, const char *const *names,
                       const char *const *values, double value)
{
    struct child_value *cv = ud;
    bool match = !cv->label;
    for (size_t i = 0; i < nlabels && !match; i++)
        match = strcmp(names[i], cv->label) == 0 && strcmp(values[i], cv->want) == 0;
    if (match) {
        cv->value = value;
        cv->n++;
    }
}

/* The value of the one child of `family` whose `label` is `want` (label
 * NULL: the family's only child; a histogram's value is its count); NAN if
 * there is none. */
static double metric(struct sb_registry *reg, const char *family, const char *label,
                     const char *want)
{
    struct child_value cv = {.label = label, .want = want, .value = NAN};
    sb_registry_each_child(reg, family, pick_child, &cv);
    assert_true(cv.n <= 1);
    return cv.value;
}

static int children(struct sb_registry *reg, const char *family)
{
    struct child_value cv = {0};
    sb_registry_each_child(reg, family, pick_child, &cv);
    return cv.n;
}

static size_t ts1(void)
{
    size_t ncat;
    return (size_t)(sb_sensors_find("TS1") - sb_sensors_uci(&ncat));
}

static void complete_cycle_is_diagnosed(void **state)
{
    (void)state;
    struct sb_registry *reg = sb_registry_new();
    struct seen seen = {0};
    int *labels = malloc(5 * 3 * sizeof(int));
    for (int i = 0; i < 15; i++)
        labels[i] = 1; /* the true state of cycle 2 is 1 */
    struct sb_condition *c = sb_condition_new(model(), labels, 3, 8, 16, reg, on_diag, &seen);
    cycle(c, 2, 0, 50.25, -1, 0);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.cycle, 2);
    assert_true(seen.state == 1);
    assert_true(fabs(seen.prob - 1 / (1 + exp(-0.5))) < 1e-12);
    assert_true(seen.truth == 1);
    /* Every class's probability, and one inference timed. */
    double p1 = 1 / (1 + exp(-0.5));
    const char *fam = "sensorbridge_condition_class_probability";
    assert_int_equal(children(reg, fam), 2);
    assert_true(fabs(metric(reg, fam, "state", "1") - p1) < 1e-12);
    assert_true(fabs(metric(reg, fam, "state", "0") - (1 - p1)) < 1e-12);
    assert_true(metric(reg, "sensorbridge_condition_inference_seconds", NULL, NULL) == 1);
    /* A sample of the closed cycle is late; a second cycle at 49 is 0. */
    sample(c, ts1(), 2, 0, 3, 50);
    assert_int_equal(count(c, "ignored", "late"), 1);
    cycle(c, 3, 1, 49, -1, 0);
    assert_int_equal(seen.n, 2);
    assert_true(seen.state == 0);
    assert_true(isnan(seen.truth)); /* no label for row 3 */
    assert_int_equal(count(c, NULL, "diagnosed"), 2);
    assert_true(metric(reg, "sensorbridge_condition_inference_seconds", NULL, NULL) == 2);
    assert_true(metric(reg, "sensorbridge_condition_predictions_total", "outcome", "correct") == 1);
    sb_condition_free(c);
    sb_registry_free(reg);
}

static void duplicates_are_ignored(void **state)
{
    (void)state;
    struct sb_registry *reg = sb_registry_new();
    struct seen seen = {0};
    struct sb_condition *c = sb_condition_new(model(), NULL, 0, 8, 16, reg, on_diag, &seen);
    /* TS1's first 10 values come twice (a redelivery), the second time
     * with another value that must not count. */
    for (unsigned k = 0; k < 10; k++)
        sample(c, ts1(), 0, 0, k, 60);
    for (unsigned k = 0; k < 10; k++)
        sample(c, ts1(), 0, 0, k, 0);
    cycle(c, 0, 0, 60, -1, 0);
    assert_int_equal(count(c, "ignored", "duplicate"), 20);
    assert_int_equal(seen.n, 1);
    assert_true(fabs(seen.prob - 1 / (1 + exp(-20.0))) < 1e-12);
    sb_condition_free(c);
    sb_registry_free(reg);
}

static void missing_sample_is_counted(void **state)
{
    (void)state;
    struct sb_registry *reg = sb_registry_new();
    struct seen seen = {0};
    struct sb_condition *c = sb_condition_new(model(), NULL, 0, 8, 16, reg, on_diag, &seen);
    cycle(c, 5, 0, 60, 0, 1234); /* PS1 sample 1234 missing */
    assert_int_equal(seen.n, 0);
    assert_int_equal(count(c, "not_diagnosed", "missing_samples"), 0); /* not yet passed */
    cycle(c, 6, 1, 60, -1, 0);
    assert_int_equal(count(c, "not_diagnosed", "missing_samples"), 1);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.cycle, 6);
    sb_condition_free(c);
    sb_registry_free(reg);
}

static void overflow_forget_and_stop(void **state)
{
    (void)state;
    struct sb_registry *reg = sb_registry_new();
    struct seen seen = {0};
    struct sb_condition *c = sb_condition_new(model(), NULL, 0, 2, 16, reg, on_diag, &seen);
    /* Only TS1 is held: three cycles with two open at most. */
    for (int n = 0; n < 3; n++)
        for (unsigned k = 0; k < 60; k++)
            sample(c, ts1(), n, n, k, 60);
    assert_int_equal(count(c, "not_diagnosed", "overflow"), 1);
    assert_int_equal(count(c, NULL, "open_cycles"), 2);
    /* Every other sensor goes: the cycles TS1 has passed close. */
    for (size_t s = 0; s < SB_UCI_NSENSORS; s++)
        if (s != ts1())
            sb_condition_forget(c, (int)s);
    assert_int_equal(count(c, "not_diagnosed", "missing_samples"), 1);
    assert_int_equal(count(c, NULL, "open_cycles"), 1);
    sb_condition_stop(c);
    assert_int_equal(count(c, "not_diagnosed", "stopped"), 1);
    assert_int_equal(count(c, NULL, "open_cycles"), 0);
    assert_int_equal(seen.n, 0);
    sb_condition_free(c);
    sb_registry_free(reg);
}

/* A backlog: TS1 (1 Hz) runs ahead of the other sensors, which have not
 * sent yet. With 8 cycles open at most it is held back once it is 4 cycles
 * past the oldest open one; once no sensor behind has moved on for
 * SB_CONDITION_HOLD_MAX_NS it is not, and a sensor behind moving on holds
 * it again. */
static void ahead_holds_a_sensor_until_the_others_catch_up(void **state)
{
    (void)state;
    struct sb_registry *reg = sb_registry_new();
    struct seen seen = {0};
    struct sb_condition *c = sb_condition_new(model(), NULL, 0, 8, 16, reg, on_diag, &seen);
    const uint64_t t0 = 1000000000000ULL, sec = 1000000000ULL;
    assert_false(sb_condition_ahead(c, (int)ts1(), t0)); /* nothing open */
    for (int n = 0; n < 4; n++)
        for (unsigned k = 0; k < 60; k++)
            sample(c, ts1(), n, n, k, 60);
    assert_false(sb_condition_ahead(c, (int)ts1(), t0)); /* cycle 3: 3 past cycle 0 */
    sample(c, ts1(), 4, 4, 0, 60);
    assert_true(sb_condition_ahead(c, (int)ts1(), t0)); /* cycle 4: 4 past */
    assert_false(sb_condition_ahead(c, 0, t0));         /* PS1, not seen: behind */
    assert_false(sb_condition_ahead(c, -1, t0));
    assert_false(sb_condition_ahead(c, SB_UCI_NSENSORS, t0));
    /* Nothing behind moves: held for SB_CONDITION_HOLD_MAX_NS, then not. */
    assert_true(sb_condition_ahead(c, (int)ts1(), t0 + SB_CONDITION_HOLD_MAX_NS));
    assert_false(sb_condition_ahead(c, (int)ts1(), t0 + SB_CONDITION_HOLD_MAX_NS + 1));
    assert_false(sb_condition_ahead(c, (int)ts1(), t0 + 60 * sec));
    /* PS1 sends its first sample, of cycle 0: progress, TS1 is held again. */
    sample(c, 0, 0, 0, 0, 1);
    assert_true(sb_condition_ahead(c, (int)ts1(), t0 + 61 * sec));
    assert_false(sb_condition_ahead(c, 0, t0 + 61 * sec));
    /* The other sensors deliver cycles 0 and 1 whole (TS1 sent them
     * already): they close, diagnosed, and TS1 at cycle 4 is 2 past the
     * oldest open one (2): not held. */
    size_t ncat;
    const struct sb_sensor_info *cat = sb_sensors_uci(&ncat);
    for (int n = 0; n < 2; n++)
        for (size_t s = 0; s < ncat; s++)
            if (s != ts1())
                for (unsigned k = 0; k < cat[s].rate_hz * 60; k++)
                    sample(c, s, n, n, k, 1);
    assert_int_equal(seen.n, 2);
    assert_false(sb_condition_ahead(c, (int)ts1(), t0 + 62 * sec));
    assert_int_equal(count(c, "not_diagnosed", "overflow"), 0);
    sb_condition_free(c);
    sb_registry_free(reg);
}

static void not_replay_samples_are_ignored(void **state)
{
    (void)state;
    struct sb_registry *reg = sb_registry_new();
    struct sb_condition *c = sb_condition_new(model(), NULL, 0, 8, 16, reg, NULL, NULL);
    struct sb_decoded d = {.cycle = -1, .sample_idx = 0, .value = 1, .ts_us = EPOCH, .rate_hz = 1};
    sb_condition_sample(c, (int)ts1(), &d); /* no cycle */
    d.cycle = 0;
    d.rate_hz = 10; /* not TS1's rate */
    sb_condition_sample(c, (int)ts1(), &d);
    d.rate_hz = 1;
    d.sample_idx = 60; /* beyond the cycle */
    sb_condition_sample(c, (int)ts1(), &d);
    assert_int_equal(count(c, "ignored", "not_replay"), 3);
    assert_int_equal(count(c, NULL, "open_cycles"), 0);
    sb_condition_free(c);
    sb_registry_free(reg);
}

/* A model with the same components and classes keeps the series and the
 * running accuracy; one with other classes starts them again. */
static void set_model_keeps_or_restarts_series(void **state)
{
    (void)state;
    struct sb_registry *reg = sb_registry_new();
    struct seen seen = {0};
    int *labels = malloc(5 * sizeof(int));
    for (int i = 0; i < 5; i++)
        labels[i] = 1;
    struct sb_condition *c = sb_condition_new(model(), labels, 1, 8, 16, reg, on_diag, &seen);
    cycle(c, 0, 0, 60, -1, 0);
    const char *pred = "sensorbridge_condition_predictions_total";
    assert_true(metric(reg, pred, "outcome", "correct") == 1);
    labels = malloc(5 * sizeof(int));
    for (int i = 0; i < 5; i++)
        labels[i] = 1;
    sb_condition_set_model(c, model(), labels, 1);
    assert_true(metric(reg, pred, "outcome", "correct") == 1);
    assert_true(metric(reg, "sensorbridge_condition_state", NULL, NULL) == 1);
    struct sb_model *other;
    char err[256];
    assert_int_equal(sb_model_load(&other, other_path, err, sizeof(err)), 0);
    sb_condition_set_model(c, other, NULL, 0);
    assert_true(metric(reg, pred, "outcome", "correct") == 0);
    assert_int_equal(children(reg, "sensorbridge_condition_class_probability"), 2);
    assert_true(isnan(metric(reg, "sensorbridge_condition_class_probability", "state", "1")));
    /* The next cycle is diagnosed with the new classes 5 and 7. */
    cycle(c, 1, 1, 60, -1, 0);
    assert_true(seen.state == 7);
    assert_true(fabs(metric(reg, "sensorbridge_condition_class_probability", "state", "7") -
                     1 / (1 + exp(-20.0))) < 1e-12);
    sb_condition_free(c);
    sb_registry_free(reg);
}

static int setup(void **state)
{
    (void)state;
    snprintf(model_path, sizeof(model_path), "/tmp/sb-condition-model.%d.json", (int)getpid());
    FILE *f = fopen(model_path, "w");
    if (!f)
        return -1;
    fputs("{\"format\":\"sensorbridge-condition-model\",\"version\":1,\"trained\":\"test\","
          "\"features\":[\"TS1_mean\"],\"mean\":[50],\"scale\":[1],"
          "\"components\":[{\"name\":\"x\",\"unit\":\"\",\"profile_column\":1,"
          "\"classes\":[0,1],\"intercept\":[0,0],\"coef\":[[-1],[1]]}]}",
          f);
    if (fclose(f))
        return -1;
    /* The same component "x" with other classes. */
    snprintf(other_path, sizeof(other_path), "/tmp/sb-condition-other.%d.json", (int)getpid());
    if (!(f = fopen(other_path, "w")))
        return -1;
    fputs("{\"format\":\"sensorbridge-condition-model\",\"version\":1,\"trained\":\"other\","
          "\"features\":[\"TS1_mean\"],\"mean\":[50],\"scale\":[1],"
          "\"components\":[{\"name\":\"x\",\"unit\":\"\",\"profile_column\":1,"
          "\"classes\":[5,7],\"intercept\":[0,0],\"coef\":[[-1],[1]]}]}",
          f);
    return fclose(f);
}

static int teardown(void **state)
{
    (void)state;
    unlink(model_path);
    unlink(other_path);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(complete_cycle_is_diagnosed),
        cmocka_unit_test(duplicates_are_ignored),
        cmocka_unit_test(missing_sample_is_counted),
        cmocka_unit_test(overflow_forget_and_stop),
        cmocka_unit_test(ahead_holds_a_sensor_until_the_others_catch_up),
        cmocka_unit_test(not_replay_samples_are_ignored),
        cmocka_unit_test(set_model_keeps_or_restarts_series),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
