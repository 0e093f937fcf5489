/*
 * model.h - the condition model: a JSON file (format in docs/condition.md)
 * that lists the features it uses (by sb_features_name), their
 * standardisation, and for each component (cooler, valve, pump leakage,
 * accumulator) its class labels and one linear discriminant per class.
 * Inference: z = (x - mean) / scale over the model's features, score_k =
 * intercept_k + coef_k . z (linear discriminant analysis). A component of a
 * version 2 file may add a quadratic stage on those K scores u: score_k =
 * constant_k - 1/2 (u - mean_k)' precision_k (u - mean_k) (quadratic
 * discriminant analysis in the linear discriminants' space). The predicted
 * class is the highest score and the probabilities are the softmax of the
 * scores. Pure.
 *
 * Ownership: sb_model_load returns a model the caller frees with
 * sb_model_free; strings it returns belong to the model.
 */
#ifndef SB_MODEL_H
#define SB_MODEL_H

#include <stddef.h>

#define SB_MODEL_MAX_COMPONENTS 8
#define SB_MODEL_MAX_CLASSES 16
#define SB_MODEL_MAX_BYTES (16 * 1024 * 1024) /* a larger file is refused */

struct sb_model;

/* One component's result. */
struct sb_model_result {
    size_t cls;                        /* index of the predicted class */
    double value;                      /* its label, e.g. 20 (percent) */
    double prob[SB_MODEL_MAX_CLASSES]; /* per class, summing to 1 */
};

/* Loads and checks a model file: every listed feature must be one of
 * sb_features_name, listed once, every number finite, every scale > 0, the
 * arrays of matching lengths, each component's classes distinct (2 to
 * SB_MODEL_MAX_CLASSES of them), its name [A-Za-z0-9_] and unique, a
 * quadratic stage only in version 2 and with K x K means and K x K x K
 * precisions. Returns 0,
 * or -errno (the file cannot be read), -EFBIG (larger than
 * SB_MODEL_MAX_BYTES) or -EINVAL, with "PATH: why" in err ("PATH:LINE:COL:
 * why" for invalid JSON, "PATH: components[2].coef[1]: expected 187
 * numbers, found 186" for a member); *out is NULL and nothing is allocated
 * on failure. */
int sb_model_load(struct sb_model **out, const char *path, char *err, size_t errlen);
void sb_model_free(struct sb_model *m);

size_t sb_model_components(const struct sb_model *m);
const char *sb_model_component_name(const struct sb_model *m, size_t c); /* "cooler" */
const char *sb_model_component_unit(const struct sb_model *m, size_t c); /* "percent", "" */
/* The component's "profile_column": which of profile.txt's columns (1..4)
 * holds its true label, 0 if the model does not say. */
int sb_model_component_column(const struct sb_model *m, size_t c);
size_t sb_model_classes(const struct sb_model *m, size_t c);
double sb_model_class_value(const struct sb_model *m, size_t c, size_t k);
/* The model's "trained" member (free text: date, cycles), "" if absent. */
const char *sb_model_description(const struct sb_model *m);
/* The number of features the model lists, and the index of its j-th into
 * the sb_features_compute vector (its name: sb_features_name of that). */
size_t sb_model_features(const struct sb_model *m);
size_t sb_model_feature(const struct sb_model *m, size_t j);

/* features: sb_features_count() values from sb_features_compute. Fills
 * res[0 .. sb_model_components(m) - 1]. No allocation. */
void sb_model_predict(const struct sb_model *m, const double *features,
                      struct sb_model_result *res);

#endif
