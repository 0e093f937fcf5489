/*
 * model.c - the condition model: loading and checking the JSON file, and
 * inference. The file is read once (jansson, duplicate keys refused) and
 * every member the inference needs is copied into flat arrays, the model's
 * feature names already resolved to indexes into sb_features_compute's
 * vector, so sb_model_predict is a few plain loops with no allocation and
 * no lookups. Members the loader does not read ("training_cycles", each
 * component's "evaluation", anything else) are ignored.
 */
#include "sensorbridge/model.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "sensorbridge/features.h"
#include "sensorbridge/util.h"

#define MODEL_FORMAT "sensorbridge-condition-model"
#define MODEL_VERSION 2 /* the newest this build reads; 1 has no quadratic stage */
/* Component names become metric labels and the alert rules'
 * "condition_<name>" pseudo-sensors: short, [A-Za-z0-9_]. */
#define NAME_MAX_LEN 64
/* A member's path in the file, "components[7].coef[15][1023]" at most. */
#define WHERE_MAX 96

struct component {
    char *name;
    char *unit;
    int column; /* profile.txt column 1..4, 0 if absent */
    size_t ncls;
    double value[SB_MODEL_MAX_CLASSES];
    double intercept[SB_MODEL_MAX_CLASSES];
    double *coef; /* ncls rows of nfeat, row after row */
    /* The quadratic stage, NULL if the component has none: per class its
     * mean (ncls values) and precision (ncls x ncls) of the linear scores,
     * and its constant. */
    double *qmean; /* ncls x ncls */
    double *qprec; /* ncls x ncls x ncls */
    double qconst[SB_MODEL_MAX_CLASSES];
};

struct sb_model {
    int version;
    char *description;
    size_t nfeat;
    size_t *index; /* feature j of the model is features[index[j]] */
    double *mean;
    double *scale;
    size_t ncomp;
    struct component comp[SB_MODEL_MAX_COMPONENTS];
};

/* Writes a member's path into w; paths within the limits are far shorter
 * than WHERE_MAX. */
__attribute__((format(printf, 2, 3))) static void where_at(char w[WHERE_MAX], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w, WHERE_MAX, fmt, ap);
    va_end(ap);
}

struct ctx {
    const char *path;
    char *err;
    size_t errlen;
};

/* "PATH: WHERE: why" (WHERE may be empty, for the file as a whole). */
__attribute__((format(printf, 3, 4))) static int fail(struct ctx *x, const char *where,
                                                      const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (x->errlen > 0)
        snprintf(x->err, x->errlen, "%s: %s%s%s", x->path, where, *where ? ": " : "", why);
    return -EINVAL;
}

static const char *type_name(json_type type)
{
    switch (type) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    default:
        return "a number";
    }
}

static bool has_type(const json_t *v, json_type type)
{
    return type == JSON_REAL ? json_is_number(v) : json_typeof(v) == type;
}

/* obj's member key, of the given type (JSON_REAL: any number); NULL, with
 * the error set, if it is missing or of another type. */
static json_t *member(struct ctx *x, const json_t *obj, const char *where, const char *key,
                      json_type type, int *rc)
{
    char w[WHERE_MAX];
    where_at(w, "%s%s%s", where, *where ? "." : "", key);
    json_t *v = json_object_get(obj, key);
    if (!v)
        *rc = fail(x, w, "missing");
    else if (!has_type(v, type))
        *rc = fail(x, w, "expected %s", type_name(type));
    else
        return v;
    return NULL;
}

/* The array at where must hold exactly n finite numbers; copies them. */
static int numbers(struct ctx *x, const json_t *a, const char *where, size_t n, double *out)
{
    if (!json_is_array(a))
        return fail(x, where, "expected an array of %zu numbers", n);
    if (json_array_size(a) != n)
        return fail(x, where, "expected %zu numbers, found %zu", n, json_array_size(a));
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(a, i);
        char w[WHERE_MAX];
        where_at(w, "%s[%zu]", where, i);
        if (!json_is_number(v))
            return fail(x, w, "expected a number");
        out[i] = json_number_value(v);
        /* jansson refuses overflowing literals; the contract holds anyway. */
        if (!isfinite(out[i]))
            return fail(x, w, "not a finite number");
    }
    return 0;
}

static int load_features(struct ctx *x, const json_t *root, struct sb_model *m)
{
    int rc = 0;
    const json_t *names = member(x, root, "", "features", JSON_ARRAY, &rc);
    if (!names)
        return rc;
    size_t all = sb_features_count();
    size_t n = json_array_size(names);
    if (n == 0)
        return fail(x, "features", "empty: a model needs at least one feature");
    if (n > all)
        return fail(x, "features", "%zu listed, but there are only %zu features", n, all);
    m->nfeat = n;
    m->index = sb_xcalloc(n, sizeof(*m->index));
    m->mean = sb_xcalloc(n, sizeof(*m->mean));
    m->scale = sb_xcalloc(n, sizeof(*m->scale));
    /* listed[f]: 1 + the position feature f was listed at, 0 if not yet. */
    size_t *listed = sb_xcalloc(all, sizeof(*listed));
    for (size_t j = 0; j < n && rc == 0; j++) {
        const json_t *v = json_array_get(names, j);
        char w[WHERE_MAX];
        where_at(w, "features[%zu]", j);
        if (!json_is_string(v)) {
            rc = fail(x, w, "expected a string");
            break;
        }
        const char *s = json_string_value(v);
        size_t f = 0;
        while (f < all && strcmp(sb_features_name(f), s) != 0)
            f++;
        if (f == all)
            rc = fail(x, w, "unknown feature \"%.64s\"", s);
        else if (listed[f])
            rc = fail(x, w, "\"%s\" is listed twice (also features[%zu])", s, listed[f] - 1);
        else {
            listed[f] = j + 1;
            m->index[j] = f;
        }
    }
    free(listed);
    if (rc < 0)
        return rc;
    const json_t *mean = member(x, root, "", "mean", JSON_ARRAY, &rc);
    if (!mean || (rc = numbers(x, mean, "mean", n, m->mean)) < 0)
        return rc;
    const json_t *scale = member(x, root, "", "scale", JSON_ARRAY, &rc);
    if (!scale || (rc = numbers(x, scale, "scale", n, m->scale)) < 0)
        return rc;
    for (size_t j = 0; j < n; j++) {
        if (!(m->scale[j] > 0)) {
            char w[WHERE_MAX];
            where_at(w, "scale[%zu]", j);
            return fail(x, w, "must be > 0, found %g", m->scale[j]);
        }
    }
    return 0;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < NAME_MAX_LEN &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

static int load_component(struct ctx *x, const json_t *o, const char *where, struct sb_model *m,
                          struct component *c)
{
    int rc = 0;
    char w[WHERE_MAX];
    const json_t *name = member(x, o, where, "name", JSON_STRING, &rc);
    if (!name)
        return rc;
    where_at(w, "%s.name", where);
    if (!valid_name(json_string_value(name)))
        return fail(x, w, "\"%.64s\" is not 1 to %d letters, digits and '_'",
                    json_string_value(name), NAME_MAX_LEN - 1);
    for (size_t i = 0; i < m->ncomp; i++)
        if (strcmp(m->comp[i].name, json_string_value(name)) == 0)
            return fail(x, w, "\"%s\" repeats components[%zu].name", m->comp[i].name, i);
    const json_t *unit = member(x, o, where, "unit", JSON_STRING, &rc);
    if (!unit)
        return rc;

    const json_t *col = json_object_get(o, "profile_column");
    if (col) {
        where_at(w, "%s.profile_column", where);
        if (!json_is_integer(col) || json_integer_value(col) < 1 || json_integer_value(col) > 4)
            return fail(x, w, "expected an integer from 1 to 4 (a column of profile.txt)");
        for (size_t i = 0; i < m->ncomp; i++)
            if (m->comp[i].column == json_integer_value(col))
                return fail(x, w, "column %d is also components[%zu]'s", m->comp[i].column, i);
        c->column = (int)json_integer_value(col);
    }

    const json_t *classes = member(x, o, where, "classes", JSON_ARRAY, &rc);
    if (!classes)
        return rc;
    size_t k = json_array_size(classes);
    where_at(w, "%s.classes", where);
    if (k < 2 || k > SB_MODEL_MAX_CLASSES)
        return fail(x, w, "expected 2 to %d classes, found %zu", SB_MODEL_MAX_CLASSES, k);
    if ((rc = numbers(x, classes, w, k, c->value)) < 0)
        return rc;
    for (size_t i = 1; i < k; i++) {
        for (size_t j = 0; j < i; j++) {
            if (c->value[i] == c->value[j]) {
                where_at(w, "%s.classes[%zu]", where, i);
                return fail(x, w, "%g repeats classes[%zu]", c->value[i], j);
            }
        }
    }

    const json_t *icpt = member(x, o, where, "intercept", JSON_ARRAY, &rc);
    if (!icpt)
        return rc;
    where_at(w, "%s.intercept", where);
    if ((rc = numbers(x, icpt, w, k, c->intercept)) < 0)
        return rc;

    const json_t *coef = member(x, o, where, "coef", JSON_ARRAY, &rc);
    if (!coef)
        return rc;
    if (json_array_size(coef) != k) {
        where_at(w, "%s.coef", where);
        return fail(x, w, "expected %zu rows (one per class), found %zu", k, json_array_size(coef));
    }
    c->coef = sb_xcalloc(k * m->nfeat, sizeof(*c->coef));
    for (size_t i = 0; i < k; i++) {
        where_at(w, "%s.coef[%zu]", where, i);
        if ((rc = numbers(x, json_array_get(coef, i), w, m->nfeat, c->coef + i * m->nfeat)) < 0)
            return rc;
    }
    c->ncls = k;

    const json_t *quad = json_object_get(o, "quadratic");
    if (!quad)
        return 0;
    where_at(w, "%s.quadratic", where);
    if (m->version < 2)
        return fail(x, w, "needs version 2");
    if (!json_is_object(quad))
        return fail(x, w, "expected an object");
    char wq[WHERE_MAX];
    snprintf(wq, sizeof(wq), "%s", w);
    const json_t *qm = member(x, quad, wq, "mean", JSON_ARRAY, &rc);
    const json_t *qp = qm ? member(x, quad, wq, "precision", JSON_ARRAY, &rc) : NULL;
    const json_t *qc = qp ? member(x, quad, wq, "constant", JSON_ARRAY, &rc) : NULL;
    if (!qc)
        return rc;
    where_at(w, "%s.constant", wq);
    if ((rc = numbers(x, qc, w, k, c->qconst)) < 0)
        return rc;
    if (json_array_size(qm) != k || json_array_size(qp) != k) {
        where_at(w, "%s.%s", wq, json_array_size(qm) != k ? "mean" : "precision");
        return fail(x, w, "expected %zu rows (one per class), found %zu", k,
                    json_array_size(json_array_size(qm) != k ? qm : qp));
    }
    c->qmean = sb_xcalloc(k * k, sizeof(*c->qmean));
    c->qprec = sb_xcalloc(k * k * k, sizeof(*c->qprec));
    for (size_t i = 0; i < k; i++) {
        where_at(w, "%s.mean[%zu]", wq, i);
        if ((rc = numbers(x, json_array_get(qm, i), w, k, c->qmean + i * k)) < 0)
            return rc;
        const json_t *pi = json_array_get(qp, i);
        where_at(w, "%s.precision[%zu]", wq, i);
        if (!json_is_array(pi) || json_array_size(pi) != k)
            return fail(x, w, "expected %zu rows of %zu numbers", k, k);
        for (size_t r = 0; r < k; r++) {
            where_at(w, "%s.precision[%zu][%zu]", wq, i, r);
            if ((rc = numbers(x, json_array_get(pi, r), w, k, c->qprec + (i * k + r) * k)) < 0)
                return rc;
        }
    }
    return 0;
}

static int load_model(struct ctx *x, const json_t *root, struct sb_model *m)
{
    int rc = 0;
    if (!json_is_object(root))
        return fail(x, "", "expected a JSON object at the top level");
    const json_t *format = member(x, root, "", "format", JSON_STRING, &rc);
    if (!format)
        return rc;
    if (strcmp(json_string_value(format), MODEL_FORMAT) != 0)
        return fail(x, "format", "expected \"" MODEL_FORMAT "\", found \"%.64s\"",
                    json_string_value(format));
    const json_t *version = member(x, root, "", "version", JSON_INTEGER, &rc);
    if (!version)
        return rc;
    if (json_integer_value(version) < 1 || json_integer_value(version) > MODEL_VERSION)
        return fail(x, "version",
                    "%" JSON_INTEGER_FORMAT " is not supported (this build reads versions 1 to %d)",
                    json_integer_value(version), MODEL_VERSION);
    m->version = (int)json_integer_value(version);
    const json_t *trained = json_object_get(root, "trained");
    if (trained && !json_is_string(trained))
        return fail(x, "trained", "expected a string");
    m->description = sb_xstrdup(trained ? json_string_value(trained) : "");

    if ((rc = load_features(x, root, m)) < 0)
        return rc;

    const json_t *comps = member(x, root, "", "components", JSON_ARRAY, &rc);
    if (!comps)
        return rc;
    size_t n = json_array_size(comps);
    if (n < 1 || n > SB_MODEL_MAX_COMPONENTS)
        return fail(x, "components", "expected 1 to %d components, found %zu",
                    SB_MODEL_MAX_COMPONENTS, n);
    for (size_t i = 0; i < n; i++) {
        char w[WHERE_MAX];
        where_at(w, "components[%zu]", i);
        const json_t *o = json_array_get(comps, i);
        if (!json_is_object(o))
            return fail(x, w, "expected an object");
        struct component *c = &m->comp[i];
        rc = load_component(x, o, w, m, c);
        /* Counted even when it failed half-way, so that sb_model_free
         * releases what it holds. */
        m->ncomp++;
        if (rc < 0)
            return rc;
        c->name = sb_xstrdup(json_string_value(json_object_get(o, "name")));
        c->unit = sb_xstrdup(json_string_value(json_object_get(o, "unit")));
    }
    return 0;
}

int sb_model_load(struct sb_model **out, const char *path, char *err, size_t errlen)
{
    struct ctx x = {path, err, errlen};
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        if (errlen > 0)
            snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0) {
        int e = errno;
        fclose(f);
        if (errlen > 0)
            snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        return fail(&x, "", "not a regular file");
    }
    if (st.st_size > SB_MODEL_MAX_BYTES) {
        fclose(f);
        if (errlen > 0)
            snprintf(err, errlen, "%s: %lld bytes, larger than the limit of %d", path,
                     (long long)st.st_size, SB_MODEL_MAX_BYTES);
        return -EFBIG;
    }
    json_error_t jerr;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (!root) {
        if (errlen > 0)
            snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return -EINVAL;
    }
    struct sb_model *m = sb_xcalloc(1, sizeof(*m));
    int rc = load_model(&x, root, m);
    json_decref(root);
    if (rc < 0) {
        sb_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void sb_model_free(struct sb_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->ncomp; i++) {
        free(m->comp[i].name);
        free(m->comp[i].unit);
        free(m->comp[i].coef);
        free(m->comp[i].qmean);
        free(m->comp[i].qprec);
    }
    free(m->description);
    free(m->index);
    free(m->mean);
    free(m->scale);
    free(m);
}

size_t sb_model_components(const struct sb_model *m)
{
    return m->ncomp;
}

const char *sb_model_component_name(const struct sb_model *m, size_t c)
{
    return m->comp[c].name;
}

const char *sb_model_component_unit(const struct sb_model *m, size_t c)
{
    return m->comp[c].unit;
}

int sb_model_component_column(const struct sb_model *m, size_t c)
{
    return m->comp[c].column;
}

size_t sb_model_classes(const struct sb_model *m, size_t c)
{
    return m->comp[c].ncls;
}

double sb_model_class_value(const struct sb_model *m, size_t c, size_t k)
{
    return m->comp[c].value[k];
}

const char *sb_model_description(const struct sb_model *m)
{
    return m->description;
}

size_t sb_model_features(const struct sb_model *m)
{
    return m->nfeat;
}

size_t sb_model_feature(const struct sb_model *m, size_t j)
{
    return m->index[j];
}

void sb_model_predict(const struct sb_model *m, const double *features, struct sb_model_result *res)
{
    /* The load refuses repeated and unknown features, so nfeat <=
     * sb_features_count() <= SB_FEATURES_MAX. */
    double z[SB_FEATURES_MAX];
    for (size_t j = 0; j < m->nfeat; j++)
        z[j] = (features[m->index[j]] - m->mean[j]) / m->scale[j];
    for (size_t i = 0; i < m->ncomp; i++) {
        const struct component *c = &m->comp[i];
        struct sb_model_result *r = &res[i];
        const size_t n = c->ncls;
        double score[SB_MODEL_MAX_CLASSES];
        for (size_t k = 0; k < n; k++) {
            const double *w = c->coef + k * m->nfeat;
            double s = c->intercept[k];
            for (size_t j = 0; j < m->nfeat; j++)
                s += w[j] * z[j];
            score[k] = s;
        }
        if (c->qmean) {
            double u[SB_MODEL_MAX_CLASSES], d[SB_MODEL_MAX_CLASSES];
            memcpy(u, score, n * sizeof(*u));
            for (size_t k = 0; k < n; k++) {
                const double *mk = c->qmean + k * n, *pk = c->qprec + k * n * n;
                for (size_t a = 0; a < n; a++)
                    d[a] = u[a] - mk[a];
                double q = 0;
                for (size_t a = 0; a < n; a++) {
                    double t = 0;
                    for (size_t b = 0; b < n; b++)
                        t += pk[a * n + b] * d[b];
                    q += d[a] * t;
                }
                score[k] = c->qconst[k] - 0.5 * q;
            }
        }
        size_t best = 0;
        for (size_t k = 1; k < n; k++)
            if (score[k] > score[best])
                best = k;
        /* Softmax with the maximum subtracted: every exponent is <= 0, so
         * nothing overflows and the best class's term is exactly 1. */
        double sum = 0;
        for (size_t k = 0; k < c->ncls; k++) {
            r->prob[k] = exp(score[k] - score[best]);
            sum += r->prob[k];
        }
        for (size_t k = 0; k < SB_MODEL_MAX_CLASSES; k++)
            r->prob[k] = k < c->ncls ? r->prob[k] / sum : 0;
        r->cls = best;
        r->value = c->value[best];
    }
}
