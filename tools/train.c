/*
 * sensorbridge-train - the condition model's offline tool: the features of
 * dataset cycles, training (linear discriminant analysis, one per
 * component), block-wise evaluation and prediction with a model file.
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

#include "sensorbridge/dataset.h"
#include "sensorbridge/features.h"
#include "sensorbridge/model.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

#define NCOMP 4
#define MAXCLS 4
#define BLOCK 100              /* cycles per block of the block-wise splits */
#define KFOLD 5                /* block b is in fold b mod KFOLD */
#define DEFAULT_SHRINKAGE 1e-5 /* see docs/condition.md: chosen by the k-fold */
#define PROFILE_COLUMNS 5

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

/* The dataset's cycles: features x[i * p ..] and profile rows. */
struct data {
    size_t n, p;
    unsigned first; /* cycle of row 0 */
    double *x;
    double *profile; /* n * PROFILE_COLUMNS, NULL if no profile.txt */
};

/* A trained model: standardisation and per component the discriminants. */
struct lda {
    size_t p;
    double *mean, *scale;
    double *coef[NCOMP]; /* ncls * p */
    double icp[NCOMP][MAXCLS];
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

/* Trains on the rows with use[i] != 0. */
static void train(struct lda *m, const struct data *d, const unsigned char *use, double lambda)
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
    for (size_t c = 0; c < NCOMP; c++) {
        size_t nk[MAXCLS] = {0};
        double *mu = sb_xcalloc(MAXCLS * p, sizeof(double));
        for (size_t i = 0; i < d->n; i++) {
            int k = use[i] ? label(d, i, c) : -1;
            if (k < 0)
                continue;
            nk[k]++;
            for (size_t j = 0; j < p; j++)
                mu[k * p + j] += z[i * p + j];
        }
        for (size_t k = 0; k < comps[c].ncls; k++)
            for (size_t j = 0; j < p; j++)
                mu[k * p + j] = nk[k] ? mu[k * p + j] / (double)nk[k] : 0.0;
        /* Pooled within-class covariance (lower triangle), divided by the
         * number of labelled training cycles. */
        memset(w, 0, p * p * sizeof(double));
        size_t nl = 0;
        for (size_t i = 0; i < d->n; i++) {
            int k = use[i] ? label(d, i, c) : -1;
            if (k < 0)
                continue;
            nl++;
            for (size_t j = 0; j < p; j++)
                dz[j] = z[i * p + j] - mu[(size_t)k * p + j];
            for (size_t a = 0; a < p; a++)
                for (size_t b = 0; b <= a; b++)
                    w[a * p + b] += dz[a] * dz[b];
        }
        for (size_t a = 0; a < p; a++)
            for (size_t b = 0; b <= a; b++)
                w[a * p + b] = (1.0 - lambda) * w[a * p + b] / (double)nl + (a == b ? lambda : 0.0);
        if (cholesky(w, p) < 0)
            die("the shrunk covariance is not positive definite");
        m->coef[c] = sb_xcalloc(comps[c].ncls * p, sizeof(double));
        for (size_t k = 0; k < comps[c].ncls; k++) {
            double *ck = m->coef[c] + k * p;
            if (nk[k] == 0) {
                /* A class absent from the training cycles is never
                 * predicted: a score far below any other. */
                m->icp[c][k] = -1e300;
                continue;
            }
            memcpy(ck, mu + k * p, p * sizeof(double));
            chol_solve(w, p, ck);
            double q = 0.0;
            for (size_t j = 0; j < p; j++)
                q += mu[k * p + j] * ck[j];
            m->icp[c][k] = -0.5 * q + log((double)nk[k] / (double)nl);
        }
        free(mu);
    }
    free(dz);
    free(w);
    free(z);
}

static void lda_free(struct lda *m)
{
    free(m->mean);
    free(m->scale);
    for (size_t c = 0; c < NCOMP; c++)
        free(m->coef[c]);
}

/* The predicted class index of feature vector x for component c. */
static size_t lda_predict(const struct lda *m, const double *x, size_t c)
{
    size_t best = 0;
    double bs = -INFINITY;
    for (size_t k = 0; k < comps[c].ncls; k++) {
        double s = m->icp[c][k];
        for (size_t j = 0; j < m->p; j++)
            s += m->coef[c][k * m->p + j] * ((x[j] - m->mean[j]) / m->scale[j]);
        if (s > bs) {
            bs = s;
            best = k;
        }
    }
    return best;
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
 * evaluation member holds its accuracy on the training cycles and on the
 * labelled cycles left out of training. */
static void write_model(FILE *o, const struct lda *m, const struct data *d,
                        const unsigned char *use, const char *date, const char *how, double lambda)
{
    fprintf(o, "{\n  \"format\": \"sensorbridge-condition-model\",\n  \"version\": 1,\n");
    fprintf(o,
            "  \"trained\": \"sensorbridge-train train --train-blocks %s --shrinkage %g, %s, "
            "cycles in training_cycles\",\n",
            how, lambda, date);
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
        size_t ok[2] = {0}, n[2] = {0}; /* [0] training cycles, [1] the others */
        for (size_t i = 0; i < d->n; i++) {
            int k = label(d, i, c);
            if (k < 0)
                continue;
            n[!use[i]]++;
            ok[!use[i]] += lda_predict(m, d->x + i * d->p, c) == (size_t)k;
        }
        fprintf(o, "    {\"name\": \"%s\", \"unit\": \"%s\", \"profile_column\": %u,\n",
                comps[c].name, comps[c].unit, comps[c].column);
        fprintf(o, "     \"classes\": ");
        put_numbers(o, comps[c].cls, comps[c].ncls);
        fprintf(o, ",\n     \"intercept\": ");
        put_numbers(o, m->icp[c], comps[c].ncls);
        fprintf(o, ",\n     \"coef\": [");
        for (size_t k = 0; k < comps[c].ncls; k++) {
            fprintf(o, "%s\n       ", k ? "," : "");
            put_numbers(o, m->coef[c] + k * m->p, m->p);
        }
        fprintf(o, "],\n     \"evaluation\": {\"training_accuracy\": %.17g, ",
                n[0] ? (double)ok[0] / (double)n[0] : 0.0);
        if (n[1])
            fprintf(o, "\"held_out_cycles\": %zu, \"held_out_accuracy\": %.17g, ", n[1],
                    (double)ok[1] / (double)n[1]);
        fprintf(o, "\"report\": \"docs/condition.md\"}}%s\n", c + 1 < NCOMP ? "," : "");
    }
    fprintf(o, "  ]\n}\n");
}

/* One split's confusion matrices, accumulated over its folds. */
struct confusion {
    size_t cm[NCOMP][MAXCLS][MAXCLS]; /* [true][predicted] */
};

static void run_split(const struct data *d, struct confusion *cf, unsigned char *use,
                      const unsigned char *test, double lambda)
{
    struct lda m = {0};
    train(&m, d, use, lambda);
    for (size_t i = 0; i < d->n; i++) {
        if (!test[i])
            continue;
        for (size_t c = 0; c < NCOMP; c++) {
            int k = label(d, i, c);
            if (k >= 0)
                cf->cm[c][k][lda_predict(&m, d->x + i * d->p, c)]++;
        }
    }
    lda_free(&m);
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

static void evaluate(FILE *o, const struct data *d, double lambda)
{
    unsigned char *use = sb_xcalloc(d->n, 1), *test = sb_xcalloc(d->n, 1);
    struct confusion *cf = sb_xcalloc(1, sizeof(*cf));
    size_t last = d->first + d->n - 1;

    fprintf(o,
            "## Block-wise evaluation\n\nsensorbridge-train evaluate, cycles %u-%zu, blocks of "
            "%d cycles (block b = cycles 100 b .. 100 b + 99), shrinkage %g.\n\n",
            d->first, last, BLOCK, lambda);
    for (size_t i = 0; i < d->n; i++) {
        unsigned b = (d->first + (unsigned)i) / BLOCK;
        use[i] = b % 2 == 0;
        test[i] = !use[i];
    }
    run_split(d, cf, use, test, lambda);
    report(o, "(a) Alternate blocks: train on even blocks, test on odd blocks", cf);

    memset(cf, 0, sizeof(*cf));
    for (unsigned f = 0; f < KFOLD; f++) {
        for (size_t i = 0; i < d->n; i++) {
            unsigned b = (d->first + (unsigned)i) / BLOCK;
            test[i] = b % KFOLD == f;
            use[i] = !test[i];
        }
        run_split(d, cf, use, test, lambda);
    }
    report(o, "(b) 5-fold over blocks (block b in fold b mod 5), pooled over the folds", cf);

    memset(cf, 0, sizeof(*cf));
    for (size_t i = 0; i < d->n; i++) {
        use[i] = d->first + i < 1470;
        test[i] = !use[i];
    }
    run_split(d, cf, use, test, lambda);
    report(o, "(c) Earlier -> later: train on cycles 0-1469, test on 1470-2204", cf);
    free(cf);
    free(test);
    free(use);
}

static void usage(void)
{
    fputs("usage: sensorbridge-train features [--cycles A-B]\n"
          "       sensorbridge-train train --out FILE [--date YYYY-MM-DD]\n"
          "                          [--train-blocks even|all|first:N] [--shrinkage L]\n"
          "       sensorbridge-train evaluate [--report FILE] [--shrinkage L]\n"
          "       sensorbridge-train predict --model FILE [--cycles A-B]\n"
          "every subcommand takes --dataset DIR (default datasets/uci-hydraulic)\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dataset = "datasets/uci-hydraulic", *out = NULL, *date = "unspecified date";
    const char *how = "even", *reportf = NULL, *modelf = NULL;
    unsigned first = 0, last = 1000000;
    double lambda = DEFAULT_SHRINKAGE;

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
        else if (strcmp(a, "--shrinkage") == 0) {
            char *end;
            lambda = strtod(v, &end);
            if (*end || !(lambda > 0.0 && lambda <= 1.0))
                die("--shrinkage: expected a number in (0, 1]");
        } else
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
            train(&m, &d, use, lambda);
            write_model(o, &m, &d, use, date, how, lambda);
            lda_free(&m);
            free(use);
        } else {
            evaluate(o, &d, lambda);
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
