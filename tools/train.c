/*
 * sensorbridge-train - the condition model's offline tool: the features of
 * dataset cycles, training (per component a linear discriminant analysis
 * on its features, for the accumulator followed by a quadratic one on the
 * linear scores), block-wise evaluation and prediction with a model file.
 * Evaluation and the model file's accuracies predict through model.c, as
 * the daemon does.
 * Usage and the method are in docs/condition.md.
 *
 * The dataset is read as the replay reads it (<SENSOR>.txt, else the
 * stand-in standin/<SENSOR>_1hz.txt through sb_upsample_linear at the
 * native rate), and the one-second means are formed with
 * sb_features_milli / sb_features_second_mean, as the stream forms them.
 * Everything is deterministic: fixed loop orders, no clock, no randomness.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sensorbridge/dataset.h"
#include "sensorbridge/features.h"
#include "sensorbridge/model.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

#define NCOMP 4
#define MAXCLS 4
#define BLOCK 100 /* cycles per block of the block-wise splits */
#define KFOLD 5   /* block b is in fold b mod KFOLD */
#define PROFILE_COLUMNS 5
#define ABSENT (-1e300) /* the score of a class absent from the training cycles */

struct comp {
    const char *name;
    const char *unit;
    unsigned column; /* 1-based profile column */
    size_t ncls;
    double cls[MAXCLS];
};

static const struct comp comps[NCOMP] = {
    {"cooler", "percent", 1, 3, {3, 20, 100}},
    {"valve", "percent", 2, 4, {73, 80, 90, 100}},
    {"pump_leakage", "", 3, 3, {0, 1, 2}},
    {"accumulator", "bar", 4, 4, {90, 100, 115, 130}},
};

/* How a component is trained; the choices are explained, with the
 * accuracies they were chosen by, in docs/condition.md. */
struct recipe {
    const char *sensors[3]; /* the sensors whose features it uses, NULL-ended; none: all */
    int per_k;              /* the per-kelvin copies too */
    double lambda;          /* the covariance's shrinkage towards the identity */
    double quadratic;       /* the quadratic stage's regularisation, 0: no such stage */
};

static struct recipe recipes[NCOMP] = {
    {{"CE", "CP", NULL}, 0, 0.1, 0},
    {{NULL}, 1, 1e-5, 0},
    {{NULL}, 1, 1e-5, 0},
    {{NULL}, 1, 1e-5, 0.3},
};

/* The dataset's cycles: features x[i * p ..] and profile rows. */
struct data {
    size_t n, p;
    unsigned first; /* cycle of row 0 */
    double *x;
    double *profile; /* n * PROFILE_COLUMNS, NULL if no profile.txt */
};

/* A trained model: standardisation and per component the discriminants:
 * linear, and for a recipe with a quadratic stage per class the mean and
 * precision of the linear scores and the constant (model.h). */
struct lda {
    size_t p;
    double *mean, *scale;
    double *coef[NCOMP]; /* ncls * p */
    double icp[NCOMP][MAXCLS];
    double *qmean[NCOMP]; /* ncls * ncls, NULL: no quadratic stage */
    double *qprec[NCOMP]; /* ncls * ncls * ncls */
    double qconst[NCOMP][MAXCLS];
};

static void die(const char *msg)
{
    fprintf(stderr, "sensorbridge-train: %s\n", msg);
    exit(1);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Reads cycles first..last (inclusive; last clamped to the files' end). */
static void load(struct data *d, const char *dir, unsigned first, unsigned last)
{
    size_t ns;
    const struct sb_sensor_info *si = sb_sensors_uci(&ns);
    struct sb_dsfile *f[SB_UCI_NSENSORS];
    int standin[SB_UCI_NSENSORS];
    char path[4096], err[512];
    unsigned rows = 0;

    for (size_t s = 0; s < ns; s++) {
        snprintf(path, sizeof(path), "%s/%s.txt", dir, si[s].name);
        standin[s] = 0;
        if (!is_file(path)) {
            snprintf(path, sizeof(path), "%s/standin/%s_1hz.txt", dir, si[s].name);
            standin[s] = si[s].rate_hz > 1;
        }
        size_t ncols = standin[s] ? SB_UCI_CYCLE_SECONDS : sb_sensors_ncols(&si[s]);
        if (sb_dsfile_open(&f[s], path, ncols, err, sizeof(err)) < 0)
            die(err);
        if (s == 0 && sb_dsfile_count_rows(path, &rows) < 0)
            die("cannot count the rows");
    }
    if (rows == 0 || first >= rows)
        die("no cycles in the range");
    if (last >= rows)
        last = rows - 1;
    d->first = first;
    d->n = last - first + 1;
    d->p = sb_features_count();
    d->x = sb_xcalloc(d->n * d->p, sizeof(double));
    for (size_t s = 0; s < ns; s++)
        if (sb_dsfile_seek(f[s], first) != 0)
            die("cannot seek to the first cycle");
    double means[SB_UCI_NSENSORS][SB_UCI_CYCLE_SECONDS];
    for (size_t i = 0; i < d->n; i++) {
        for (size_t s = 0; s < ns; s++) {
            struct sb_row row;
            if (sb_dsfile_next(f[s], &row, err, sizeof(err)) != 1)
                die(err[0] ? err : "a sensor file ends early");
            unsigned r = si[s].rate_hz;
            for (unsigned k = 0; k < SB_UCI_CYCLE_SECONDS; k++) {
                int64_t sum = 0;
                for (unsigned j = k * r; j < (k + 1) * r; j++) {
                    double v = standin[s] ? sb_upsample_linear(row.values, row.nvalues, r, j)
                                          : row.values[j];
                    sum += sb_features_milli(v);
                }
                means[s][k] = sb_features_second_mean(sum, r);
            }
        }
        sb_features_compute((const double(*)[SB_UCI_CYCLE_SECONDS])means, d->x + i * d->p);
    }
    for (size_t s = 0; s < ns; s++)
        sb_dsfile_close(f[s]);

    snprintf(path, sizeof(path), "%s/profile.txt", dir);
    d->profile = NULL;
    if (!is_file(path))
        return;
    struct sb_dsfile *pf;
    if (sb_dsfile_open(&pf, path, PROFILE_COLUMNS, err, sizeof(err)) < 0)
        die(err);
    if (sb_dsfile_seek(pf, first) != 0)
        die("profile.txt has too few rows");
    d->profile = sb_xcalloc(d->n * PROFILE_COLUMNS, sizeof(double));
    for (size_t i = 0; i < d->n; i++) {
        struct sb_row row;
        if (sb_dsfile_next(pf, &row, err, sizeof(err)) != 1)
            die("profile.txt has too few rows");
        memcpy(d->profile + i * PROFILE_COLUMNS, row.values, PROFILE_COLUMNS * sizeof(double));
    }
    sb_dsfile_close(pf);
}

/* The class index of row i for component c, or -1 if not a known label. */
static int label(const struct data *d, size_t i, size_t c)
{
    double v = d->profile[i * PROFILE_COLUMNS + comps[c].column - 1];
    for (size_t k = 0; k < comps[c].ncls; k++)
        if (v == comps[c].cls[k])
            return (int)k;
    return -1;
}

/* In-place Cholesky factor (lower) of the p x p matrix a; 0 or -1. */
static int cholesky(double *a, size_t p)
{
    for (size_t j = 0; j < p; j++) {
        double s = a[j * p + j];
        for (size_t k = 0; k < j; k++)
            s -= a[j * p + k] * a[j * p + k];
        if (!(s > 0.0))
            return -1;
        a[j * p + j] = sqrt(s);
        for (size_t i = j + 1; i < p; i++) {
            double t = a[i * p + j];
            for (size_t k = 0; k < j; k++)
                t -= a[i * p + k] * a[j * p + k];
            a[i * p + j] = t / a[j * p + j];
        }
    }
    return 0;
}

/* Solves L L' x = b in place. */
static void chol_solve(const double *l, size_t p, double *b)
{
    for (size_t i = 0; i < p; i++) {
        double t = b[i];
        for (size_t k = 0; k < i; k++)
            t -= l[i * p + k] * b[k];
        b[i] = t / l[i * p + i];
    }
    for (size_t i = p; i-- > 0;) {
        double t = b[i];
        for (size_t k = i + 1; k < p; k++)
            t -= l[k * p + i] * b[k];
        b[i] = t / l[i * p + i];
    }
}

/* Whether component c's recipe uses feature j. */
static int uses(size_t c, size_t j)
{
    size_t ns, base = sb_features_count() / 2;
    const struct sb_sensor_info *si = sb_sensors_uci(&ns);
    const struct recipe *r = &recipes[c];
    if (j >= base && !r->per_k)
        return 0;
    if (!r->sensors[0])
        return 1;
    const char *name = si[(j % base) / (base / ns)].name;
    for (size_t i = 0; r->sensors[i]; i++)
        if (strcmp(r->sensors[i], name) == 0)
            return 1;
    return 0;
}

/* The quadratic stage of component c from the linear scores u (n rows of
 * ncls) of the labelled training rows with classes k[]: per class the
 * mean and the population covariance of u, plus quadratic * trace / ncls
 * on the diagonal, inverted through Cholesky; the constant is -1/2 log det
 * + log prior. */
static void train_quadratic(struct lda *m, size_t c, const double *u, const int *k, size_t n)
{
    const size_t q = comps[c].ncls;
    m->qmean[c] = sb_xcalloc(q * q, sizeof(double));
    m->qprec[c] = sb_xcalloc(q * q * q, sizeof(double));
    double cov[MAXCLS * MAXCLS], e[MAXCLS];
    for (size_t cl = 0; cl < q; cl++) {
        double *mk = m->qmean[c] + cl * q, *pk = m->qprec[c] + cl * q * q;
        size_t nk = 0;
        for (size_t i = 0; i < n; i++)
            if (k[i] == (int)cl) {
                nk++;
                for (size_t a = 0; a < q; a++)
                    mk[a] += u[i * q + a];
            }
        if (nk == 0) {
            for (size_t a = 0; a < q; a++)
                pk[a * q + a] = 1.0;
            m->qconst[c][cl] = ABSENT;
            continue;
        }
        for (size_t a = 0; a < q; a++)
            mk[a] /= (double)nk;
        memset(cov, 0, sizeof(cov));
        for (size_t i = 0; i < n; i++)
            if (k[i] == (int)cl)
                for (size_t a = 0; a < q; a++)
                    for (size_t b = 0; b < q; b++)
                        cov[a * q + b] += (u[i * q + a] - mk[a]) * (u[i * q + b] - mk[b]);
        double trace = 0.0;
        for (size_t a = 0; a < q * q; a++)
            cov[a] /= (double)nk;
        for (size_t a = 0; a < q; a++)
            trace += cov[a * q + a];
        for (size_t a = 0; a < q; a++)
            cov[a * q + a] += recipes[c].quadratic * trace / (double)q;
        if (cholesky(cov, q) < 0)
            die("a class's covariance of the linear scores is not positive definite");
        double logdet = 0.0;
        for (size_t a = 0; a < q; a++)
            logdet += 2.0 * log(cov[a * q + a]);
        for (size_t b = 0; b < q; b++) {
            for (size_t a = 0; a < q; a++)
                e[a] = a == b ? 1.0 : 0.0;
            chol_solve(cov, q, e);
            for (size_t a = 0; a < q; a++)
                pk[a * q + b] = e[a];
        }
        m->qconst[c][cl] = -0.5 * logdet + log((double)nk / (double)n);
    }
}

/* Trains on the rows with use[i] != 0: the standardisation over every
 * feature, then each component on the features of its recipe (the others'
 * coefficients are 0). */
static void train(struct lda *m, const struct data *d, const unsigned char *use)
{
    size_t p = d->p, n = 0;
    m->p = p;
    m->mean = sb_xcalloc(p, sizeof(double));
    m->scale = sb_xcalloc(p, sizeof(double));
    for (size_t i = 0; i < d->n; i++)
        if (use[i]) {
            n++;
            for (size_t j = 0; j < p; j++)
                m->mean[j] += d->x[i * p + j];
        }
    if (n == 0)
        die("no training cycles");
    for (size_t j = 0; j < p; j++)
        m->mean[j] /= (double)n;
    for (size_t i = 0; i < d->n; i++)
        if (use[i])
            for (size_t j = 0; j < p; j++) {
                double t = d->x[i * p + j] - m->mean[j];
                m->scale[j] += t * t;
            }
    for (size_t j = 0; j < p; j++) {
        m->scale[j] = sqrt(m->scale[j] / (double)n);
        if (!(m->scale[j] > 0.0))
            m->scale[j] = 1.0;
    }
    double *z = sb_xcalloc(d->n * p, sizeof(double));
    for (size_t i = 0; i < d->n; i++)
        for (size_t j = 0; j < p; j++)
            z[i * p + j] = (d->x[i * p + j] - m->mean[j]) / m->scale[j];
    double *w = sb_xcalloc(p * p, sizeof(double));
    double *dz = sb_xcalloc(p, sizeof(double));
    double *ck = sb_xcalloc(p, sizeof(double));
    size_t *sel = sb_xcalloc(p, sizeof(size_t));
    double *u = sb_xcalloc(d->n * MAXCLS, sizeof(double));
    int *lab = sb_xcalloc(d->n, sizeof(int));
    for (size_t c = 0; c < NCOMP; c++) {
        const double lambda = recipes[c].lambda;
        const size_t ncls = comps[c].ncls;
        size_t q = 0, nk[MAXCLS] = {0};
        for (size_t j = 0; j < p; j++)
            if (uses(c, j))
                sel[q++] = j;
        double *mu = sb_xcalloc(MAXCLS * q, sizeof(double));
        for (size_t i = 0; i < d->n; i++) {
            int k = use[i] ? label(d, i, c) : -1;
            if (k < 0)
                continue;
            nk[k]++;
            for (size_t j = 0; j < q; j++)
                mu[k * q + j] += z[i * p + sel[j]];
        }
        for (size_t k = 0; k < ncls; k++)
            for (size_t j = 0; j < q; j++)
                mu[k * q + j] = nk[k] ? mu[k * q + j] / (double)nk[k] : 0.0;
        /* Pooled within-class covariance of the selected features (lower
         * triangle, q x q), divided by the number of labelled training
         * cycles. */
        memset(w, 0, q * q * sizeof(double));
        size_t nl = 0;
        for (size_t i = 0; i < d->n; i++) {
            int k = use[i] ? label(d, i, c) : -1;
            if (k < 0)
                continue;
            nl++;
            for (size_t j = 0; j < q; j++)
                dz[j] = z[i * p + sel[j]] - mu[(size_t)k * q + j];
            for (size_t a = 0; a < q; a++)
                for (size_t b = 0; b <= a; b++)
                    w[a * q + b] += dz[a] * dz[b];
        }
        for (size_t a = 0; a < q; a++)
            for (size_t b = 0; b <= a; b++)
                w[a * q + b] = (1.0 - lambda) * w[a * q + b] / (double)nl + (a == b ? lambda : 0.0);
        if (cholesky(w, q) < 0)
            die("the shrunk covariance is not positive definite");
        m->coef[c] = sb_xcalloc(ncls * p, sizeof(double));
        for (size_t k = 0; k < ncls; k++) {
            if (nk[k] == 0) {
                /* A class absent from the training cycles is never
                 * predicted: a score far below any other (with a quadratic
                 * stage, there). */
                m->icp[c][k] = recipes[c].quadratic > 0 ? 0.0 : ABSENT;
                continue;
            }
            memcpy(ck, mu + k * q, q * sizeof(double));
            chol_solve(w, q, ck);
            double t = 0.0;
            for (size_t j = 0; j < q; j++) {
                t += mu[k * q + j] * ck[j];
                m->coef[c][k * p + sel[j]] = ck[j];
            }
            /* With a quadratic stage the linear scores are its input, and
             * its class means take up any constant. */
            m->icp[c][k] =
                recipes[c].quadratic > 0 ? 0.0 : -0.5 * t + log((double)nk[k] / (double)nl);
        }
        free(mu);
        if (recipes[c].quadratic > 0) {
            size_t r = 0;
            for (size_t i = 0; i < d->n; i++) {
                int k = use[i] ? label(d, i, c) : -1;
                if (k < 0)
                    continue;
                lab[r] = k;
                for (size_t cl = 0; cl < ncls; cl++) {
                    double t = 0.0;
                    for (size_t j = 0; j < q; j++)
                        t += m->coef[c][cl * p + sel[j]] * z[i * p + sel[j]];
                    u[r * ncls + cl] = t;
                }
                r++;
            }
            train_quadratic(m, c, u, lab, r);
        }
    }
    free(lab);
    free(u);
    free(sel);
    free(ck);
    free(dz);
    free(w);
    free(z);
}

static void lda_free(struct lda *m)
{
    free(m->mean);
    free(m->scale);
    for (size_t c = 0; c < NCOMP; c++) {
        free(m->coef[c]);
        free(m->qmean[c]);
        free(m->qprec[c]);
    }
}

static int parse_range(const char *s, unsigned *a, unsigned *b)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(s, &end, 10);
    if (errno || end == s || *end != '-')
        return -1;
    const char *t = end + 1;
    unsigned long y = strtoul(t, &end, 10);
    if (errno || end == t || *end || y < x || y > 1000000)
        return -1;
    *a = (unsigned)x;
    *b = (unsigned)y;
    return 0;
}

/* Which cycles a --train-blocks value selects; 0 or -1. */
static int select_train(const struct data *d, const char *how, unsigned char *use)
{
    unsigned long firstn = 0;
    if (strncmp(how, "first:", 6) == 0) {
        char *end;
        firstn = strtoul(how + 6, &end, 10);
        if (end == how + 6 || *end || firstn == 0)
            return -1;
    } else if (strcmp(how, "even") != 0 && strcmp(how, "all") != 0) {
        return -1;
    }
    for (size_t i = 0; i < d->n; i++) {
        unsigned cyc = d->first + (unsigned)i;
        use[i] = how[0] == 'a' || (how[0] == 'e' && (cyc / BLOCK) % 2 == 0) ||
                 (how[0] == 'f' && cyc < firstn);
    }
    return 0;
}

/* The training cycles as inclusive ranges, "[[a, b], ...]". */
static void put_ranges(FILE *o, const struct data *d, const unsigned char *use)
{
    const char *sep = "";
    fputc('[', o);
    for (size_t i = 0; i < d->n;) {
        if (!use[i]) {
            i++;
            continue;
        }
        size_t j = i;
        while (j + 1 < d->n && use[j + 1])
            j++;
        fprintf(o, "%s[%u, %u]", sep, d->first + (unsigned)i, d->first + (unsigned)j);
        sep = ", ";
        i = j + 1;
    }
    fputc(']', o);
}

static void put_numbers(FILE *o, const double *v, size_t n)
{
    fputc('[', o);
    for (size_t i = 0; i < n; i++)
        fprintf(o, "%s%.17g", i ? ", " : "", v[i]);
    fputc(']', o);
}

/* The model JSON, member order fixed, numbers %.17g. Each component's
 * "training" member says how it was trained and, with ev (the same model
 * as loaded by model.c), its "evaluation" member holds its accuracy on the
 * training cycles and on the labelled cycles left out of training. */
static void write_model(FILE *o, const struct lda *m, const struct data *d,
                        const unsigned char *use, const char *date, const char *how,
                        const struct sb_model *ev)
{
    fprintf(o, "{\n  \"format\": \"sensorbridge-condition-model\",\n  \"version\": 2,\n");
    fprintf(o,
            "  \"trained\": \"sensorbridge-train train --train-blocks %s, %s, "
            "cycles in training_cycles\",\n",
            how, date);
    fprintf(o, "  \"training_cycles\": ");
    put_ranges(o, d, use);
    fprintf(o, ",\n  \"features\": [");
    for (size_t j = 0; j < m->p; j++)
        fprintf(o, "%s\"%s\"", j ? ", " : "", sb_features_name(j));
    fprintf(o, "],\n  \"mean\": ");
    put_numbers(o, m->mean, m->p);
    fprintf(o, ",\n  \"scale\": ");
    put_numbers(o, m->scale, m->p);
    fprintf(o, ",\n  \"components\": [\n");
    for (size_t c = 0; c < NCOMP; c++) {
        const struct recipe *r = &recipes[c];
        size_t ok[2] = {0}, n[2] = {0}; /* [0] training cycles, [1] the others */
        for (size_t i = 0; ev && i < d->n; i++) {
            int k = label(d, i, c);
            if (k < 0)
                continue;
            struct sb_model_result res[NCOMP];
            sb_model_predict(ev, d->x + i * d->p, res);
            n[!use[i]]++;
            ok[!use[i]] += res[c].cls == (size_t)k;
        }
        fprintf(o, "    {\"name\": \"%s\", \"unit\": \"%s\", \"profile_column\": %u,\n",
                comps[c].name, comps[c].unit, comps[c].column);
        fprintf(o, "     \"training\": {\"sensors\": \"");
        for (size_t i = 0; r->sensors[i]; i++)
            fprintf(o, "%s%s", i ? " " : "", r->sensors[i]);
        fprintf(o, "%s\", \"per_kelvin\": %s, \"shrinkage\": %g, \"quadratic\": %g},\n",
                r->sensors[0] ? "" : "all", r->per_k ? "true" : "false", r->lambda, r->quadratic);
        fprintf(o, "     \"classes\": ");
        put_numbers(o, comps[c].cls, comps[c].ncls);
        fprintf(o, ",\n     \"intercept\": ");
        put_numbers(o, m->icp[c], comps[c].ncls);
        fprintf(o, ",\n     \"coef\": [");
        for (size_t k = 0; k < comps[c].ncls; k++) {
            fprintf(o, "%s\n       ", k ? "," : "");
            put_numbers(o, m->coef[c] + k * m->p, m->p);
        }
        fputc(']', o);
        if (m->qmean[c]) {
            const size_t q = comps[c].ncls;
            fprintf(o, ",\n     \"quadratic\": {\"mean\": [");
            for (size_t k = 0; k < q; k++) {
                fputs(k ? ", " : "", o);
                put_numbers(o, m->qmean[c] + k * q, q);
            }
            fprintf(o, "],\n       \"precision\": [");
            for (size_t k = 0; k < q; k++) {
                fputs(k ? ",\n         [" : "[", o);
                for (size_t a = 0; a < q; a++) {
                    fputs(a ? ", " : "", o);
                    put_numbers(o, m->qprec[c] + (k * q + a) * q, q);
                }
                fputc(']', o);
            }
            fprintf(o, "],\n       \"constant\": ");
            put_numbers(o, m->qconst[c], q);
            fputc('}', o);
        }
        if (ev) {
            fprintf(o, ",\n     \"evaluation\": {\"training_accuracy\": %.17g, ",
                    n[0] ? (double)ok[0] / (double)n[0] : 0.0);
            if (n[1])
                fprintf(o, "\"held_out_cycles\": %zu, \"held_out_accuracy\": %.17g, ", n[1],
                        (double)ok[1] / (double)n[1]);
            fprintf(o, "\"report\": \"docs/condition.md\"}");
        }
        fprintf(o, "}%s\n", c + 1 < NCOMP ? "," : "");
    }
    fprintf(o, "  ]\n}\n");
}

/* The trained model as model.c loads it, through a temporary file. */
static struct sb_model *as_loaded(const struct lda *m, const struct data *d,
                                  const unsigned char *use)
{
    char path[] = "/tmp/sensorbridge-train-XXXXXX", err[512];
    int fd = mkstemp(path);
    FILE *o = fd < 0 ? NULL : fdopen(fd, "w");
    if (!o)
        die("cannot create a temporary file");
    write_model(o, m, d, use, "", "", NULL);
    struct sb_model *sm = NULL;
    int rc = fclose(o) != 0 ? -1 : sb_model_load(&sm, path, err, sizeof(err));
    unlink(path);
    if (rc < 0)
        die(rc == -1 ? "cannot write a temporary file" : err);
    return sm;
}

/* One split's confusion matrices, accumulated over its folds. */
struct confusion {
    size_t cm[NCOMP][MAXCLS][MAXCLS]; /* [true][predicted] */
};

static void run_split(const struct data *d, struct confusion *cf, unsigned char *use,
                      const unsigned char *test)
{
    struct lda m = {0};
    train(&m, d, use);
    struct sb_model *sm = as_loaded(&m, d, use);
    lda_free(&m);
    for (size_t i = 0; i < d->n; i++) {
        if (!test[i])
            continue;
        struct sb_model_result res[NCOMP];
        sb_model_predict(sm, d->x + i * d->p, res);
        for (size_t c = 0; c < NCOMP; c++) {
            int k = label(d, i, c);
            if (k >= 0)
                cf->cm[c][k][res[c].cls]++;
        }
    }
    sb_model_free(sm);
}

static void report(FILE *o, const char *title, const struct confusion *cf)
{
    fprintf(o,
            "### %s\n\n| component | held-out cycles | correct | accuracy |\n|---|---|---|---|\n",
            title);
    for (size_t c = 0; c < NCOMP; c++) {
        size_t n = 0, ok = 0;
        for (size_t a = 0; a < comps[c].ncls; a++)
            for (size_t b = 0; b < comps[c].ncls; b++) {
                n += cf->cm[c][a][b];
                ok += a == b ? cf->cm[c][a][b] : 0;
            }
        fprintf(o, "| %s | %zu | %zu | %.2f %% |\n", comps[c].name, n, ok,
                n ? 100.0 * (double)ok / (double)n : 0.0);
    }
    for (size_t c = 0; c < NCOMP; c++) {
        fprintf(o, "\n%s (rows: true, columns: predicted)\n\n| true \\ predicted |", comps[c].name);
        for (size_t b = 0; b < comps[c].ncls; b++)
            fprintf(o, " %g |", comps[c].cls[b]);
        fprintf(o, "\n|---|");
        for (size_t b = 0; b < comps[c].ncls; b++)
            fprintf(o, "---|");
        fputc('\n', o);
        for (size_t a = 0; a < comps[c].ncls; a++) {
            fprintf(o, "| %g |", comps[c].cls[a]);
            for (size_t b = 0; b < comps[c].ncls; b++)
                fprintf(o, " %zu |", cf->cm[c][a][b]);
            fputc('\n', o);
        }
    }
    fputc('\n', o);
}

static void evaluate(FILE *o, const struct data *d)
{
    unsigned char *use = sb_xcalloc(d->n, 1), *test = sb_xcalloc(d->n, 1);
    struct confusion *cf = sb_xcalloc(1, sizeof(*cf));
    size_t last = d->first + d->n - 1;

    fprintf(o,
            "## Block-wise evaluation\n\nsensorbridge-train evaluate, cycles %u-%zu, blocks of "
            "%d cycles (block b = cycles 100 b .. 100 b + 99). Per component: sensors, "
            "per-kelvin copies, shrinkage, quadratic stage:",
            d->first, last, BLOCK);
    for (size_t c = 0; c < NCOMP; c++) {
        const struct recipe *r = &recipes[c];
        fprintf(o, "%s %s ", c ? ";" : "", comps[c].name);
        for (size_t i = 0; r->sensors[i]; i++)
            fprintf(o, "%s%s", i ? "+" : "", r->sensors[i]);
        fprintf(o, "%s, %s, %g, %g", r->sensors[0] ? "" : "all", r->per_k ? "yes" : "no", r->lambda,
                r->quadratic);
    }
    fputs(".\n\n", o);
    for (size_t i = 0; i < d->n; i++) {
        unsigned b = (d->first + (unsigned)i) / BLOCK;
        use[i] = b % 2 == 0;
        test[i] = !use[i];
    }
    run_split(d, cf, use, test);
    report(o, "(a) Alternate blocks: train on even blocks, test on odd blocks", cf);

    memset(cf, 0, sizeof(*cf));
    for (unsigned f = 0; f < KFOLD; f++) {
        for (size_t i = 0; i < d->n; i++) {
            unsigned b = (d->first + (unsigned)i) / BLOCK;
            test[i] = b % KFOLD == f;
            use[i] = !test[i];
        }
        run_split(d, cf, use, test);
    }
    report(o, "(b) 5-fold over blocks (block b in fold b mod 5), pooled over the folds", cf);

    memset(cf, 0, sizeof(*cf));
    for (size_t i = 0; i < d->n; i++) {
        use[i] = d->first + i < 1470;
        test[i] = !use[i];
    }
    run_split(d, cf, use, test);
    report(o, "(c) Earlier -> later: train on cycles 0-1469, test on 1470-2204", cf);
    free(cf);
    free(test);
    free(use);
}

/* --shrinkage COMPONENT=L or --quadratic COMPONENT=R. */
static void set_recipe(const char *opt, const char *v)
{
    const char *eq = strchr(v, '=');
    size_t c = 0;
    while (eq && c < NCOMP &&
           (strlen(comps[c].name) != (size_t)(eq - v) ||
            strncmp(comps[c].name, v, (size_t)(eq - v)) != 0))
        c++;
    if (!eq || c == NCOMP)
        die("--shrinkage, --quadratic: expected COMPONENT=NUMBER, COMPONENT one of cooler, "
            "valve, pump_leakage, accumulator");
    char *end;
    double x = strtod(eq + 1, &end);
    if (strcmp(opt, "--shrinkage") == 0) {
        if (end == eq + 1 || *end || !(x > 0.0 && x <= 1.0))
            die("--shrinkage: expected a number in (0, 1]");
        recipes[c].lambda = x;
    } else {
        if (end == eq + 1 || *end || !(x >= 0.0 && x <= 1e6))
            die("--quadratic: expected a number from 0 to 1e6");
        recipes[c].quadratic = x;
    }
}

static void usage(void)
{
    fputs("usage: sensorbridge-train features [--cycles A-B]\n"
          "       sensorbridge-train train --out FILE [--date YYYY-MM-DD]\n"
          "                          [--train-blocks even|all|first:N]\n"
          "       sensorbridge-train evaluate [--report FILE]\n"
          "       sensorbridge-train predict --model FILE [--cycles A-B]\n"
          "every subcommand takes --dataset DIR (default datasets/uci-hydraulic);\n"
          "train and evaluate take --shrinkage COMPONENT=L (0 < L <= 1) and\n"
          "--quadratic COMPONENT=R (R >= 0, 0: no quadratic stage), each repeatable\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dataset = "datasets/uci-hydraulic", *out = NULL, *date = "unspecified date";
    const char *how = "even", *reportf = NULL, *modelf = NULL;
    unsigned first = 0, last = 1000000;

    if (argc < 2)
        usage();
    const char *cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        i++;
        if (strcmp(a, "--dataset") == 0)
            dataset = v;
        else if (strcmp(a, "--cycles") == 0) {
            if (parse_range(v, &first, &last) < 0)
                die("--cycles: expected A-B, A <= B");
        } else if (strcmp(a, "--out") == 0)
            out = v;
        else if (strcmp(a, "--date") == 0)
            date = v;
        else if (strcmp(a, "--train-blocks") == 0)
            how = v;
        else if (strcmp(a, "--report") == 0)
            reportf = v;
        else if (strcmp(a, "--model") == 0)
            modelf = v;
        else if (strcmp(a, "--shrinkage") == 0 || strcmp(a, "--quadratic") == 0)
            set_recipe(a, v);
        else
            usage();
    }

    struct data d;
    if (strcmp(cmd, "features") == 0) {
        load(&d, dataset, first, last);
        fputs("cycle", stdout);
        for (size_t j = 0; j < d.p; j++)
            printf("\t%s", sb_features_name(j));
        putchar('\n');
        for (size_t i = 0; i < d.n; i++) {
            printf("%u", d.first + (unsigned)i);
            for (size_t j = 0; j < d.p; j++)
                printf("\t%.17g", d.x[i * d.p + j]);
            putchar('\n');
        }
    } else if (strcmp(cmd, "train") == 0 || strcmp(cmd, "evaluate") == 0) {
        if (cmd[0] == 't' && !out)
            usage();
        load(&d, dataset, 0, 1000000);
        if (!d.profile)
            die("profile.txt is needed for training");
        FILE *o = stdout;
        const char *opath = cmd[0] == 't' ? out : reportf;
        if (opath && !(o = fopen(opath, "w")))
            die("cannot open the output file");
        if (cmd[0] == 't') {
            unsigned char *use = sb_xcalloc(d.n, 1);
            if (select_train(&d, how, use) < 0)
                die("--train-blocks: expected even, all or first:N");
            struct lda m = {0};
            train(&m, &d, use);
            struct sb_model *ev = as_loaded(&m, &d, use);
            write_model(o, &m, &d, use, date, how, ev);
            sb_model_free(ev);
            lda_free(&m);
            free(use);
        } else {
            evaluate(o, &d);
        }
        if (o != stdout && fclose(o) != 0)
            die("cannot write the output file");
    } else if (strcmp(cmd, "predict") == 0) {
        struct sb_model *m;
        char err[512];
        if (!modelf)
            usage();
        if (sb_model_load(&m, modelf, err, sizeof(err)) < 0)
            die(err);
        load(&d, dataset, first, last);
        size_t nc = sb_model_components(m);
        fputs("cycle", stdout);
        for (size_t c = 0; c < nc; c++)
            printf("\t%s\t%s_prob", sb_model_component_name(m, c), sb_model_component_name(m, c));
        putchar('\n');
        struct sb_model_result res[SB_MODEL_MAX_COMPONENTS];
        for (size_t i = 0; i < d.n; i++) {
            sb_model_predict(m, d.x + i * d.p, res);
            printf("%u", d.first + (unsigned)i);
            for (size_t c = 0; c < nc; c++)
                printf("\t%.17g\t%.17g", res[c].value, res[c].prob[res[c].cls]);
            putchar('\n');
        }
        sb_model_free(m);
    } else {
        usage();
    }
    free(d.x);
    free(d.profile);
    return 0;
}
