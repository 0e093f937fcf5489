/*
 * test_model.c - the condition model's loader and inference: predictions
 * and probabilities of hand-written models (linear; version 2 with a
 * quadratic stage) against numpy, every check of the loader with the
 * member it names, and every truncation of a valid file refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensorbridge/features.h"
#include "sensorbridge/model.h"

/* Features in another order than the vector's (features.c's names), two
 * three-class components, one whose first two scores tie, and one whose
 * scores would overflow exp() without the maximum subtracted. No trailing
 * newline: every strict prefix is invalid JSON. */
static const char model_json[] =
    "{\"format\": \"sensorbridge-condition-model\", \"version\": 1,\n"
    " \"trained\": \"test_model.c, 2026-01-01, cycles 0-99\",\n"
    " \"training_cycles\": [[0, 99]],\n"
    " \"features\": [\"TS1_mean\", \"PS1_mean\", \"VS1_max\"],\n"
    " \"mean\": [20, 150, 0.5],\n"
    " \"scale\": [5, 10, 0.25],\n"
    " \"components\": [\n"
    "  {\"name\": \"cooler\", \"unit\": \"percent\", \"profile_column\": 1,\n"
    "   \"classes\": [3, 20, 100],\n"
    "   \"intercept\": [0.2, -0.1, 0.4],\n"
    "   \"coef\": [[0.5, -1.2, 2.0], [-0.3, 0.8, 0.1], [1.1, 0.05, -0.7]],\n"
    "   \"evaluation\": {\"accuracy\": 1}},\n"
    "  {\"name\": \"pump_leakage\", \"unit\": \"\",\n"
    "   \"classes\": [0, 1, 2],\n"
    "   \"intercept\": [0, 0.5, -0.5],\n"
    "   \"coef\": [[-2, 0.5, 0.25], [0.3, 0.3, 0.3], [1.5, -1, 0]]},\n"
    "  {\"name\": \"tie\", \"unit\": \"u\", \"profile_column\": 3,\n"
    "   \"classes\": [7, 8, 9.5],\n"
    "   \"intercept\": [1, 1, 0],\n"
    "   \"coef\": [[0, 0, 0], [0, 0, 0], [0, 0, 0]]},\n"
    "  {\"name\": \"stable\", \"unit\": \"bar\",\n"
    "   \"classes\": [130, 115, 90],\n"
    "   \"intercept\": [800, 799, 0],\n"
    "   \"coef\": [[0, 0, 0], [0, 0, 0], [0, 0, 0]]}\n"
    " ]}";

/* Version 2: a component with a quadratic stage on its three linear
 * scores, and one without. */
static const char quad_json[] =
    "{\"format\": \"sensorbridge-condition-model\", \"version\": 2,\n"
    " \"features\": [\"TS1_mean\", \"PS1_mean\"],\n"
    " \"mean\": [20, 150],\n"
    " \"scale\": [5, 10],\n"
    " \"components\": [\n"
    "  {\"name\": \"acc\", \"unit\": \"bar\",\n"
    "   \"classes\": [90, 115, 130],\n"
    "   \"intercept\": [0.1, 0, -0.1],\n"
    "   \"coef\": [[1, 0.5], [-0.5, 1], [0.2, -0.3]],\n"
    "   \"quadratic\": {\"mean\": [[0, 0, 0], [1, 1, -1], [-1, 0.5, 2]],\n"
    "     \"precision\": [[[1, 0, 0], [0, 1, 0], [0, 0, 1]],\n"
    "                   [[2, 0.5, 0], [0.5, 1, 0], [0, 0, 0.5]],\n"
    "                   [[0.5, 0, 0.1], [0, 0.5, 0], [0.1, 0, 3]]],\n"
    "     \"constant\": [0, -0.2, 0.3]}},\n"
    "  {\"name\": \"lin\", \"unit\": \"\",\n"
    "   \"classes\": [0, 1],\n"
    "   \"intercept\": [0, 0.5],\n"
    "   \"coef\": [[1, 0], [0, 1]]}\n"
    " ]}";

static char dir[64];
static char path[96];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_model.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/model.json", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return rmdir(dir);
}

static void write_file(const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* model_json with its one occurrence of `from` replaced by `to`; the
 * caller frees it. */
static char *replaced(const char *from, const char *to)
{
    const char *at = strstr(model_json, from);
    assert_non_null(at);
    assert_null(strstr(at + 1, from));
    size_t head = (size_t)(at - model_json);
    size_t n = sizeof(model_json) - 1 - strlen(from) + strlen(to);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, model_json, head);
    strcpy(s + head, to);
    strcat(s, at + strlen(from));
    return s;
}

static struct sb_model *load_ok(const char *text)
{
    struct sb_model *m = NULL;
    char err[512] = "";
    write_file(text, strlen(text));
    int rc = sb_model_load(&m, path, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_non_null(m);
    return m;
}

/* Loading `text` fails with rc and an error "PATH: <why>", why containing
 * `want`. */
static void load_fails(const char *text, int rc, const char *want)
{
    struct sb_model *m = (struct sb_model *)&m;
    char err[512] = "";
    write_file(text, strlen(text));
    int got = sb_model_load(&m, path, err, sizeof(err));
    if (got != rc || strncmp(err, path, strlen(path)) != 0 || !strstr(err, want))
        fail_msg("rc %d (want %d), err \"%s\" (want \"%s: ...%s...\")", got, rc, err, path, want);
    assert_null(m);
}

static void load_fails_replaced(const char *from, const char *to, const char *want)
{
    char *s = replaced(from, to);
    load_fails(s, -EINVAL, want);
    free(s);
}

static void model_accessors(void **state)
{
    (void)state;
    struct sb_model *m = load_ok(model_json);
    assert_int_equal(sb_model_components(m), 4);
    assert_string_equal(sb_model_description(m), "test_model.c, 2026-01-01, cycles 0-99");
    assert_string_equal(sb_model_component_name(m, 0), "cooler");
    assert_string_equal(sb_model_component_unit(m, 0), "percent");
    assert_string_equal(sb_model_component_name(m, 1), "pump_leakage");
    assert_string_equal(sb_model_component_unit(m, 1), "");
    assert_int_equal(sb_model_component_column(m, 0), 1);
    assert_int_equal(sb_model_component_column(m, 1), 0);
    assert_int_equal(sb_model_component_column(m, 2), 3);
    assert_int_equal(sb_model_classes(m, 0), 3);
    assert_true(sb_model_class_value(m, 0, 0) == 3);
    assert_true(sb_model_class_value(m, 0, 2) == 100);
    assert_true(sb_model_class_value(m, 2, 2) == 9.5);
    assert_int_equal(sb_model_features(m), 3);
    assert_string_equal(sb_features_name(sb_model_feature(m, 0)), "TS1_mean");
    assert_string_equal(sb_features_name(sb_model_feature(m, 1)), "PS1_mean");
    assert_string_equal(sb_features_name(sb_model_feature(m, 2)), "VS1_max");
    sb_model_free(m);

    /* Without "trained" the description is empty. */
    char *s = replaced(" \"trained\": \"test_model.c, 2026-01-01, cycles 0-99\",\n", "");
    m = load_ok(s);
    assert_string_equal(sb_model_description(m), "");
    sb_model_free(m);
    free(s);
}

static void check_probs(const struct sb_model_result *r, size_t ncls, const double *want)
{
    /* fabs(...) <= tol, not assert_float_equal: a NaN must fail. */
    for (size_t k = 0; k < ncls; k++)
        if (!(fabs(r->prob[k] - want[k]) <= 1e-12))
            fail_msg("prob[%zu] = %.17g, want %.17g", k, r->prob[k], want[k]);
    for (size_t k = ncls; k < SB_MODEL_MAX_CLASSES; k++)
        assert_true(r->prob[k] == 0);
}

static void set_feature(double *f, const char *name, double v)
{
    for (size_t i = 0; i < sb_features_count(); i++) {
        if (strcmp(sb_features_name(i), name) == 0) {
            f[i] = v;
            return;
        }
    }
    fail_msg("no feature %s", name);
}

/* The expected values, from numpy:
 *   mean=np.array([20,150,0.5]); scale=np.array([5,10,0.25])
 *   z=(np.array(x)-mean)/scale; s=b+W@z; p=np.exp(s-s.max()); p/=p.sum()
 * with x the model's features (TS1_mean, PS1_mean, VS1_max), b and W each
 * component's intercept and coef; s.argmax() and p.tolist(). */
static void model_predict_matches_numpy(void **state)
{
    (void)state;
    struct sb_model *m = load_ok(model_json);
    struct sb_model_result r[4];

    /* x = [41.7, 155.3, 0.61], in a vector whose other features are not
     * used. */
    double f[SB_FEATURES_MAX];
    for (size_t i = 0; i < SB_FEATURES_MAX; i++)
        f[i] = 1e6 + (double)i;
    set_feature(f, "TS1_mean", 41.7);
    set_feature(f, "PS1_mean", 155.3);
    set_feature(f, "VS1_max", 0.61);
    sb_model_predict(m, f, r);
    assert_int_equal(r[0].cls, 2);
    assert_true(r[0].value == 100);
    check_probs(&r[0], 3,
                (const double[]){0.09267146176759901, 0.002667283581656663, 0.9046612546507442});
    assert_int_equal(r[1].cls, 2);
    assert_true(r[1].value == 2);
    check_probs(&r[1], 3,
                (const double[]){9.972623518792177e-07, 0.0327041937424663, 0.9672948089951818});

    /* Scores [1, 1, 0]: the first of the tied classes, probabilities
     * e/(2e+1), e/(2e+1), 1/(2e+1). */
    assert_int_equal(r[2].cls, 0);
    assert_true(r[2].value == 7);
    check_probs(&r[2], 3,
                (const double[]){0.4223187982515182, 0.4223187982515182, 0.15536240349696362});

    /* Scores [800, 799, 0]: exp(800) overflows, exp(-800) underflows to 0;
     * 1/(1+e^-1), e^-1/(1+e^-1), 0. */
    assert_int_equal(r[3].cls, 0);
    assert_true(r[3].value == 130);
    check_probs(&r[3], 3, (const double[]){0.7310585786300049, 0.2689414213699951, 0.0});

    /* x = [12.5, 171.0, 0.2]. */
    set_feature(f, "TS1_mean", 12.5);
    set_feature(f, "PS1_mean", 171.0);
    set_feature(f, "VS1_max", 0.2);
    sb_model_predict(m, f, r);
    assert_int_equal(r[0].cls, 1);
    assert_true(r[0].value == 20);
    check_probs(&r[0], 3,
                (const double[]){0.0005619154310312908, 0.9010818355889754, 0.09835624897999332});
    assert_int_equal(r[1].cls, 0);
    assert_true(r[1].value == 0);
    check_probs(&r[1], 3,
                (const double[]){0.9684563627123989, 0.031365338860311454, 0.00017829842728958316});
    sb_model_free(m);
}

/* The expected values, from numpy, with mean, scale, b (intercept) and W
 * (coef) as in quad_json, M, P and c its quadratic mean, precision and
 * constant:
 *   z=(np.array(x)-mean)/scale; u=b+W@z
 *   s=np.array([c[k]-0.5*(u-M[k])@P[k]@(u-M[k]) for k in range(3)])
 *   p=np.exp(s-s.max()); p/=p.sum()
 * for x = (TS1_mean, PS1_mean); s.argmax() and p.tolist(). */
static void model_quadratic_matches_numpy(void **state)
{
    (void)state;
    struct sb_model *m = load_ok(quad_json);
    struct sb_model_result r[2];
    double f[SB_FEATURES_MAX] = {0};
    static const struct {
        double ts1, ps1;
        size_t cls;
        double prob[3];
    } cases[] = {
        {41.7, 155.3, 2, {0.16434054809347443, 0.09296736686181516, 0.7426920850447104}},
        {12.5, 171.0, 1, {0.1026860371608072, 0.8973097768986122, 4.185940580617983e-06}},
        {20, 150, 0, {0.8946213721679044, 0.10394901940308533, 0.0014296084290103418}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set_feature(f, "TS1_mean", cases[i].ts1);
        set_feature(f, "PS1_mean", cases[i].ps1);
        sb_model_predict(m, f, r);
        assert_int_equal(r[0].cls, cases[i].cls);
        static const double value[] = {90, 115, 130};
        assert_true(r[0].value == value[cases[i].cls]);
        check_probs(&r[0], 3, cases[i].prob);
        /* The linear component beside it: scores z0 and 0.5 + z1. */
        double z0 = (cases[i].ts1 - 20) / 5, z1 = 0.5 + (cases[i].ps1 - 150) / 10;
        assert_int_equal(r[1].cls, z1 > z0);
        check_probs(&r[1], 2, (const double[]){1 / (1 + exp(z1 - z0)), 1 / (1 + exp(z0 - z1))});
    }
    sb_model_free(m);
}

/* quad_json with `from` replaced by `to` must be refused with `want`. */
static void quad_fails(const char *from, const char *to, const char *want)
{
    const char *at = strstr(quad_json, from);
    assert_non_null(at);
    char *s = malloc(sizeof(quad_json) + strlen(to));
    assert_non_null(s);
    memcpy(s, quad_json, (size_t)(at - quad_json));
    strcpy(s + (at - quad_json), to);
    strcat(s, at + strlen(from));
    load_fails(s, -EINVAL, want);
    free(s);
}

static void model_quadratic_checked(void **state)
{
    (void)state;
    quad_fails("\"version\": 2", "\"version\": 1", "components[0].quadratic: needs version 2");
    quad_fails("\"quadratic\": {", "\"quadratic\": 7, \"q\": {",
               "components[0].quadratic: expected an object");
    quad_fails("\"mean\": [[0, 0, 0], ", "\"mea\": [[0, 0, 0], ",
               "components[0].quadratic.mean: missing");
    quad_fails("\"precision\"", "\"prec\"", "components[0].quadratic.precision: missing");
    quad_fails("\"constant\": [0, -0.2, 0.3]", "\"constant\": [0, -0.2]",
               "components[0].quadratic.constant: expected 3 numbers, found 2");
    quad_fails("[[0, 0, 0], [1, 1, -1], [-1, 0.5, 2]]", "[[0, 0, 0], [1, 1, -1]]",
               "components[0].quadratic.mean: expected 3 rows (one per class), found 2");
    quad_fails("[-1, 0.5, 2]", "[-1, 0.5]",
               "components[0].quadratic.mean[2]: expected 3 numbers, found 2");
    quad_fails("[[0.5, 0, 0.1], [0, 0.5, 0], [0.1, 0, 3]]", "[[0.5, 0, 0.1], [0, 0.5, 0]]",
               "components[0].quadratic.precision[2]: expected 3 rows of 3 numbers");
    quad_fails("[0.5, 1, 0]", "[0.5, \"1\", 0]",
               "components[0].quadratic.precision[1][1][1]: expected a number");
    quad_fails("\"version\": 2", "\"version\": 3",
               "version: 3 is not supported (this build reads versions 1 to 2)");
}

static void model_missing_members(void **state)
{
    (void)state;
    load_fails_replaced("\"format\": \"sensorbridge-condition-model\", ", "", "format: missing");
    load_fails_replaced("\"version\": 1,", "", "version: missing");
    load_fails_replaced(" \"features\": [\"TS1_mean\", \"PS1_mean\", \"VS1_max\"],\n", "",
                        "features: missing");
    load_fails_replaced(" \"mean\": [20, 150, 0.5],\n", "", "mean: missing");
    load_fails_replaced(" \"scale\": [5, 10, 0.25],\n", "", "scale: missing");
    load_fails_replaced("\"name\": \"pump_leakage\", ", "", "components[1].name: missing");
    load_fails_replaced("\"unit\": \"percent\", ", "", "components[0].unit: missing");
    load_fails_replaced("   \"classes\": [0, 1, 2],\n", "", "components[1].classes: missing");
    load_fails_replaced("   \"intercept\": [0.2, -0.1, 0.4],\n", "",
                        "components[0].intercept: missing");
    load_fails_replaced(",\n   \"coef\": [[0, 0, 0], [0, 0, 0], [0, 0, 0]]}\n", "}\n",
                        "components[3].coef: missing");
    char *s = malloc(sizeof(model_json));
    assert_non_null(s);
    strcpy(s, model_json);
    *strstr(s, " \"components\"") = '\0';
    strcpy(strrchr(s, ','), "}");
    load_fails(s, -EINVAL, "components: missing");
    free(s);
}

static void model_wrong_types(void **state)
{
    (void)state;
    load_fails("[1, 2]", -EINVAL, "expected a JSON object at the top level");
    load_fails_replaced("\"format\": \"sensorbridge-condition-model\"", "\"format\": 1",
                        "format: expected a string");
    load_fails_replaced("\"format\": \"sensorbridge-condition-model\"", "\"format\": \"other\"",
                        "format: expected \"sensorbridge-condition-model\", found \"other\"");
    load_fails_replaced("\"version\": 1,", "\"version\": \"1\",", "version: expected an integer");
    load_fails_replaced("\"version\": 1,", "\"version\": 0,",
                        "version: 0 is not supported (this build reads versions 1 to 2)");
    load_fails_replaced("\"trained\": \"test_model.c, 2026-01-01, cycles 0-99\"",
                        "\"trained\": [2026]", "trained: expected a string");
    load_fails_replaced("[\"TS1_mean\", \"PS1_mean\", \"VS1_max\"]", "\"TS1_mean\"",
                        "features: expected an array");
    load_fails_replaced("[\"TS1_mean\", \"PS1_mean\", \"VS1_max\"]",
                        "[\"TS1_mean\", 3, \"VS1_max\"]", "features[1]: expected a string");
    load_fails_replaced("\"mean\": [20, 150, 0.5]", "\"mean\": {\"a\": 1}",
                        "mean: expected an array");
    load_fails_replaced("\"components\": [\n", "\"components\": [7,\n",
                        "components[0]: expected an object");
    load_fails_replaced("\"name\": \"cooler\"", "\"name\": 5",
                        "components[0].name: expected a string");
    load_fails_replaced("\"unit\": \"bar\"", "\"unit\": null",
                        "components[3].unit: expected a string");
    load_fails_replaced("\"profile_column\": 1", "\"profile_column\": \"1\"",
                        "components[0].profile_column: expected an integer from 1 to 4");
    load_fails_replaced("\"classes\": [0, 1, 2]", "\"classes\": 3",
                        "components[1].classes: expected an array");
    load_fails_replaced("\"classes\": [0, 1, 2]", "\"classes\": [0, true, 2]",
                        "components[1].classes[1]: expected a number");
    load_fails_replaced("\"intercept\": [0, 0.5, -0.5]", "\"intercept\": [0, 0.5, \"x\"]",
                        "components[1].intercept[2]: expected a number");
    load_fails_replaced("[1.5, -1, 0]", "[1.5, \"-1\", 0]",
                        "components[1].coef[2][1]: expected a number");
    load_fails_replaced("[1.5, -1, 0]", "{}",
                        "components[1].coef[2]: expected an array of 3 numbers");
}

static void model_wrong_lengths(void **state)
{
    (void)state;
    load_fails_replaced("\"mean\": [20, 150, 0.5]", "\"mean\": [20, 150, 0.5, 1]",
                        "mean: expected 3 numbers, found 4");
    load_fails_replaced("\"scale\": [5, 10, 0.25]", "\"scale\": [5, 10]",
                        "scale: expected 3 numbers, found 2");
    load_fails_replaced("\"features\": [\"TS1_mean\", \"PS1_mean\", \"VS1_max\"]",
                        "\"features\": []", "features: empty");
    load_fails_replaced("[0.3, 0.3, 0.3]", "[0.3, 0.3]",
                        "components[1].coef[1]: expected 3 numbers, found 2");
    load_fails_replaced("[[0.5, -1.2, 2.0], [-0.3, 0.8, 0.1], [1.1, 0.05, -0.7]]",
                        "[[0.5, -1.2, 2.0], [-0.3, 0.8, 0.1]]",
                        "components[0].coef: expected 3 rows (one per class), found 2");
    load_fails_replaced("\"intercept\": [0.2, -0.1, 0.4]", "\"intercept\": [0.2, -0.1, 0.4, 0]",
                        "components[0].intercept: expected 3 numbers, found 4");
    load_fails_replaced("\"classes\": [0, 1, 2]", "\"classes\": [0]",
                        "components[1].classes: expected 2 to 16 classes, found 1");
    load_fails_replaced(" \"components\": [\n", " \"components\": [], \"x\": [\n",
                        "components: expected 1 to 8 components, found 0");
}

static void model_too_many(void **state)
{
    (void)state;
    /* 17 classes (the rows' lengths are never reached). */
    load_fails_replaced("\"classes\": [3, 20, 100]",
                        "\"classes\": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]",
                        "components[0].classes: expected 2 to 16 classes, found 17");

    /* Nine components, each valid on its own. */
    char comps[4096] = "";
    for (int i = 0; i < 9; i++) {
        char one[256];
        snprintf(one, sizeof(one),
                 "%s{\"name\": \"c%d\", \"unit\": \"\", \"classes\": [0, 1],"
                 " \"intercept\": [0, 0], \"coef\": [[0, 0, 0], [0, 0, 0]]}",
                 i ? ", " : "", i);
        strcat(comps, one);
    }
    char text[8192];
    snprintf(text, sizeof(text),
             "{\"format\": \"sensorbridge-condition-model\", \"version\": 1,"
             " \"features\": [\"TS1_mean\", \"PS1_mean\", \"VS1_max\"],"
             " \"mean\": [0, 0, 0], \"scale\": [1, 1, 1], \"components\": [%s]}",
             comps);
    load_fails(text, -EINVAL, "components: expected 1 to 8 components, found 9");
    /* ... and eight are fine. */
    *strstr(text, ", {\"name\": \"c8\"") = '\0';
    strcat(text, "]}");
    struct sb_model *m = load_ok(text);
    assert_int_equal(sb_model_components(m), 8);
    sb_model_free(m);
}

static void model_bad_values(void **state)
{
    (void)state;
    /* JSON has no NaN or infinity; jansson refuses a literal that
     * overflows, with the line and column. */
    char *s = replaced("\"mean\": [20, 150, 0.5]", "\"mean\": [20, 1e999, 0.5]");
    char want[160];
    load_fails(s, -EINVAL, ":5:");
    load_fails(s, -EINVAL, "real number overflow");
    free(s);
    load_fails_replaced("\"scale\": [5, 10, 0.25]", "\"scale\": [5, \"NaN\", 0.25]",
                        "scale[1]: expected a number");
    load_fails_replaced("\"scale\": [5, 10, 0.25]", "\"scale\": [5, 10, 0]",
                        "scale[2]: must be > 0, found 0");
    load_fails_replaced("\"scale\": [5, 10, 0.25]", "\"scale\": [-5, 10, 0.25]",
                        "scale[0]: must be > 0, found -5");
    load_fails_replaced("\"PS1_mean\", \"VS1_max\"", "\"PS1_mean\", \"XX_mean\"",
                        "features[2]: unknown feature \"XX_mean\"");
    load_fails_replaced("\"PS1_mean\", \"VS1_max\"", "\"PS1_mean\", \"TS1_mean\"",
                        "features[2]: \"TS1_mean\" is listed twice (also features[0])");
    load_fails_replaced("\"classes\": [3, 20, 100]", "\"classes\": [3, 20, 3.0]",
                        "components[0].classes[2]: 3 repeats classes[0]");
    load_fails_replaced("\"name\": \"tie\"", "\"name\": \"cooler\"",
                        "components[2].name: \"cooler\" repeats components[0].name");
    load_fails_replaced("\"name\": \"tie\"", "\"name\": \"t ie\"",
                        "components[2].name: \"t ie\" is not 1 to 63 letters");
    load_fails_replaced("\"name\": \"tie\"", "\"name\": \"\"", "components[2].name: \"\" is not");
    load_fails_replaced("\"profile_column\": 3", "\"profile_column\": 1",
                        "components[2].profile_column: column 1 is also components[0]'s");
    load_fails_replaced("\"profile_column\": 3", "\"profile_column\": 5",
                        "components[2].profile_column: expected an integer from 1 to 4");
    load_fails_replaced("\"profile_column\": 3", "\"profile_column\": 0",
                        "components[2].profile_column: expected an integer from 1 to 4");
    load_fails_replaced("\"version\": 1,", "\"version\": 1, \"version\": 1,",
                        "duplicate object key");
    snprintf(want, sizeof(want), "%s:1:", path);
    load_fails("{\"format\": ", -EINVAL, want);
}

static void model_unreadable(void **state)
{
    (void)state;
    struct sb_model *m = (struct sb_model *)&m;
    char err[512], want[256];

    /* Larger than the limit: refused from its size, before any parse. */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)SB_MODEL_MAX_BYTES + 1), 0);
    assert_int_equal(close(fd), 0);
    assert_int_equal(sb_model_load(&m, path, err, sizeof(err)), -EFBIG);
    assert_null(m);
    snprintf(want, sizeof(want), "%s: %d bytes, larger than the limit of %d", path,
             SB_MODEL_MAX_BYTES + 1, SB_MODEL_MAX_BYTES);
    assert_string_equal(err, want);

    /* Exactly at the limit it is parsed (and then refused as JSON: the
     * file is NUL bytes). */
    assert_int_equal(truncate(path, SB_MODEL_MAX_BYTES), 0);
    assert_int_equal(sb_model_load(&m, path, err, sizeof(err)), -EINVAL);
    assert_null(m);
    assert_int_equal(strncmp(err, path, strlen(path)), 0);

    char missing[128];
    snprintf(missing, sizeof(missing), "%s/absent.json", dir);
    m = (struct sb_model *)&m;
    assert_int_equal(sb_model_load(&m, missing, err, sizeof(err)), -ENOENT);
    assert_null(m);
    snprintf(want, sizeof(want), "%s: %s", missing, strerror(ENOENT));
    assert_string_equal(err, want);

    m = (struct sb_model *)&m;
    assert_int_equal(sb_model_load(&m, dir, err, sizeof(err)), -EINVAL);
    assert_null(m);
    snprintf(want, sizeof(want), "%s: not a regular file", dir);
    assert_string_equal(err, want);

    /* Without read permission (root reads it anyway). */
    if (geteuid() != 0) {
        write_file(model_json, sizeof(model_json) - 1);
        assert_int_equal(chmod(path, 0), 0);
        assert_int_equal(sb_model_load(&m, path, err, sizeof(err)), -EACCES);
        assert_null(m);
        snprintf(want, sizeof(want), "%s: %s", path, strerror(EACCES));
        assert_string_equal(err, want);
    }
    /* An error buffer of size 0 is never written. */
    assert_int_equal(sb_model_load(&m, missing, NULL, 0), -ENOENT);
    assert_null(m);
}

/* Every strict prefix of a valid file is refused, with the file named. */
static void model_truncated_everywhere(void **state)
{
    (void)state;
    const char *const texts[] = {model_json, quad_json};
    for (size_t t = 0; t < 2; t++) {
        size_t n = strlen(texts[t]);
        for (size_t len = 0; len < n; len++) {
            struct sb_model *m = (struct sb_model *)&m;
            char err[512] = "";
            write_file(texts[t], len);
            int rc = sb_model_load(&m, path, err, sizeof(err));
            if (rc != -EINVAL || m != NULL || strncmp(err, path, strlen(path)) != 0)
                fail_msg("prefix of %zu bytes of model %zu: rc %d, err \"%s\"", len, t, rc, err);
        }
        sb_model_free(load_ok(texts[t]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_accessors),
        cmocka_unit_test(model_predict_matches_numpy),
        cmocka_unit_test(model_quadratic_matches_numpy),
        cmocka_unit_test(model_quadratic_checked),
        cmocka_unit_test(model_missing_members),
        cmocka_unit_test(model_wrong_types),
        cmocka_unit_test(model_wrong_lengths),
        cmocka_unit_test(model_too_many),
        cmocka_unit_test(model_bad_values),
        cmocka_unit_test(model_unreadable),
        cmocka_unit_test(model_truncated_everywhere),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
