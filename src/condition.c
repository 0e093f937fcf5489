/*
 * condition.c - the condition monitor (condition.h).
 */
#include "sensorbridge/condition.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sensorbridge/dataset.h"
#include "sensorbridge/features.h"
#include "sensorbridge/sensors.h"

#define NS SB_UCI_NSENSORS
#define SECS SB_UCI_CYCLE_SECONDS
#define CYCLE_US (SECS * INT64_C(1000000))

enum not_diagnosed { ND_MISSING, ND_OVERFLOW, ND_STOPPED, ND__COUNT };
static const char *const ND_NAMES[ND__COUNT] = {"missing_samples", "overflow", "stopped"};
enum ignored { IG_DUPLICATE, IG_LATE, IG_NOT_REPLAY, IG__COUNT };
static const char *const IG_NAMES[IG__COUNT] = {"duplicate", "late", "not_replay"};

struct cycle {
    int64_t start_us;
    int64_t number;
    uint32_t got; /* samples taken, in order, of every sensor */
    uint16_t next[NS];
    int64_t sum[NS][SECS];
};

struct component_metrics {
    struct sb_metric *state, *prob, *truth, *accuracy, *correct, *wrong;
    struct sb_metric *class_prob[SB_MODEL_MAX_CLASSES];
    uint64_t right, judged;
};

/* Inference (features and model) takes tens of microseconds per cycle
 * (docs/condition.md); the buckets reach well past the 1-ms bound. */
static const double inference_buckets[] = {1e-5, 2.5e-5, 5e-5,   1e-4, 2.5e-4,
                                           5e-4, 1e-3,   2.5e-3, 5e-3, 1e-2};

struct sb_condition {
    struct sb_model *model;
    int *labels;
    size_t rows;
    sb_condition_cb cb;
    void *ud;
    struct sb_registry *reg;
    unsigned rate[NS];
    uint32_t per_cycle; /* samples of all sensors in one cycle */

    struct cycle *open; /* max_open slots; the first nopen, by start */
    size_t nopen, max_open;
    bool closed_any;
    int64_t last_closed_us;
    int64_t latest_us[NS]; /* newest cycle start per sensor, INT64_MIN: none yet */
    bool forgotten[NS];    /* not held here (revoked, expired) since its last sample */
    /* Sensors that moved on from at or before the oldest open cycle (or
     * from not seen yet): the progress sb_condition_ahead waits for. */
    uint64_t behind_moves, hold_moves;
    uint64_t hold_since_ns; /* when it last saw behind_moves change */

    struct sb_family *f_state, *f_prob, *f_class_prob, *f_truth, *f_accuracy, *f_predictions;
    struct component_metrics comp[SB_MODEL_MAX_COMPONENTS];
    struct sb_metric *m_cycle, *m_diagnosed, *m_inference, *m_nd[ND__COUNT], *m_ig[IG__COUNT];
    uint64_t diagnosed, nd[ND__COUNT], ig[IG__COUNT];

    char **recent; /* ring of JSON texts, newest at (head - 1) */
    size_t recent_cap, recent_len, recent_head;
};

void sb_condition_topic(const struct sb_config *cfg, char *out, size_t len)
{
    if (cfg->diagnosis_topic && cfg->diagnosis_topic[0])
        snprintf(out, len, "%s", cfg->diagnosis_topic);
    else
        snprintf(out, len, "%s-diagnosis", cfg->topic_prefix);
}

void sb_condition_labels_path(const struct sb_config *cfg, char *out, size_t len)
{
    struct stat st;
    if (cfg->condition_labels && cfg->condition_labels[0])
        snprintf(out, len, "%s", cfg->condition_labels);
    else if (cfg->dataset && (snprintf(out, len, "%s/profile.txt", cfg->dataset), 1) &&
             stat(out, &st) == 0 && S_ISREG(st.st_mode))
        return;
    else
        out[0] = '\0';
}

int sb_condition_load_labels(const char *path, int **out, size_t *rows, char *err, size_t errlen)
{
    *out = NULL;
    *rows = 0;
    if (!path || !*path)
        return 0;
    return sb_profile_load(path, out, rows, err, errlen);
}

static void make_component_metrics(struct sb_condition *c)
{
    memset(c->comp, 0, sizeof(c->comp));
    for (size_t k = 0; k < sb_model_components(c->model); k++) {
        const char *lv[] = {sb_model_component_name(c->model, k), NULL};
        struct component_metrics *m = &c->comp[k];
        m->state = sb_family_child(c->f_state, lv);
        m->prob = sb_family_child(c->f_prob, lv);
        for (size_t j = 0; j < sb_model_classes(c->model, k); j++) {
            char state[32];
            snprintf(state, sizeof(state), "%g", sb_model_class_value(c->model, k, j));
            const char *cv[] = {lv[0], state};
            m->class_prob[j] = sb_family_child(c->f_class_prob, cv);
        }
        m->accuracy = NULL;
        m->truth = NULL;
        const char *ok[] = {lv[0], "correct"}, *bad[] = {lv[0], "wrong"};
        m->correct = sb_family_child(c->f_predictions, ok);
        m->wrong = sb_family_child(c->f_predictions, bad);
    }
}

struct sb_condition *sb_condition_new(struct sb_model *model, int *labels, size_t rows,
                                      size_t max_open, size_t recent, struct sb_registry *reg,
                                      sb_condition_cb cb, void *ud)
{
    struct sb_condition *c = sb_xcalloc(1, sizeof(*c));
    c->model = model;
    c->labels = labels;
    c->rows = rows;
    c->cb = cb;
    c->ud = ud;
    c->reg = reg;
    size_t n;
    const struct sb_sensor_info *cat = sb_sensors_uci(&n);
    for (size_t s = 0; s < NS; s++) {
        c->rate[s] = cat[s].rate_hz;
        c->per_cycle += (uint32_t)(cat[s].rate_hz * SECS);
        c->latest_us[s] = INT64_MIN;
    }
    c->max_open = max_open ? max_open : 1;
    c->open = sb_xcalloc(c->max_open, sizeof(*c->open));
    c->recent_cap = recent ? recent : 1;
    c->recent = sb_xcalloc(c->recent_cap, sizeof(*c->recent));

    static const char *const comp[] = {"component"};
    static const char *const comp_outcome[] = {"component", "outcome"};
    static const char *const comp_state[] = {"component", "state"};
    static const char *const reason[] = {"reason"};
    c->f_state = sb_registry_family(
        reg, SB_GAUGE, "sensorbridge_condition_state",
        "Predicted state of the component in the last diagnosed cycle, in the unit of its "
        "classes (cooler and valve percent, pump leakage 0-2, accumulator bar).",
        1, comp, NULL, 0);
    c->f_prob =
        sb_registry_family(reg, SB_GAUGE, "sensorbridge_condition_probability",
                           "The model's probability of the predicted state.", 1, comp, NULL, 0);
    c->f_class_prob = sb_registry_family(
        reg, SB_GAUGE, "sensorbridge_condition_class_probability",
        "The model's probability of each state of the component in the last diagnosed cycle.", 2,
        comp_state, NULL, 0);
    c->f_truth = sb_registry_family(
        reg, SB_GAUGE, "sensorbridge_condition_true_state",
        "The component's true state in the last diagnosed cycle, from the labels file.", 1, comp,
        NULL, 0);
    c->f_accuracy = sb_registry_family(
        reg, SB_GAUGE, "sensorbridge_condition_accuracy_ratio",
        "Share of the diagnosed cycles with a known true state whose prediction was right.", 1,
        comp, NULL, 0);
    c->f_predictions =
        sb_registry_family(reg, SB_COUNTER, "sensorbridge_condition_predictions_total",
                           "Predictions compared with the labels file, by whether they were right.",
                           2, comp_outcome, NULL, 0);
    c->m_cycle = sb_family_child(
        sb_registry_family(reg, SB_GAUGE, "sensorbridge_condition_cycle",
                           "Dataset cycle (0-based row) of the last diagnosis.", 0, NULL, NULL, 0),
        NULL);
    c->m_diagnosed = sb_family_child(
        sb_registry_family(reg, SB_COUNTER, "sensorbridge_condition_cycles_diagnosed_total",
                           "Load cycles diagnosed.", 0, NULL, NULL, 0),
        NULL);
    c->m_inference = sb_family_child(
        sb_registry_family(reg, SB_HISTOGRAM, "sensorbridge_condition_inference_seconds",
                           "Time to compute one cycle's features and diagnose it with the model.",
                           0, NULL, inference_buckets, SB_ARRAY_SIZE(inference_buckets)),
        NULL);
    struct sb_family *fnd = sb_registry_family(
        reg, SB_COUNTER, "sensorbridge_condition_cycles_not_diagnosed_total",
        "Load cycles closed without a diagnosis, by reason.", 1, reason, NULL, 0);
    for (int i = 0; i < ND__COUNT; i++) {
        const char *lv[] = {ND_NAMES[i]};
        c->m_nd[i] = sb_family_child(fnd, lv);
    }
    struct sb_family *fig = sb_registry_family(
        reg, SB_COUNTER, "sensorbridge_condition_samples_ignored_total",
        "UCI samples the condition monitor did not use, by reason.", 1, reason, NULL, 0);
    for (int i = 0; i < IG__COUNT; i++) {
        const char *lv[] = {IG_NAMES[i]};
        c->m_ig[i] = sb_family_child(fig, lv);
    }
    make_component_metrics(c);
    return c;
}

static void clear_component_series(struct sb_condition *c)
{
    sb_family_clear(c->f_state);
    sb_family_clear(c->f_prob);
    sb_family_clear(c->f_class_prob);
    sb_family_clear(c->f_truth);
    sb_family_clear(c->f_accuracy);
    sb_family_clear(c->f_predictions);
}

void sb_condition_free(struct sb_condition *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->recent_cap; i++)
        free(c->recent[i]);
    free(c->recent);
    free(c->open);
    free(c->labels);
    sb_model_free(c->model);
    free(c);
}

void sb_condition_set_model(struct sb_condition *c, struct sb_model *model, int *labels,
                            size_t rows)
{
    bool same = sb_model_components(model) == sb_model_components(c->model);
    for (size_t k = 0; same && k < sb_model_components(model); k++) {
        same =
            strcmp(sb_model_component_name(model, k), sb_model_component_name(c->model, k)) == 0 &&
            sb_model_classes(model, k) == sb_model_classes(c->model, k);
        for (size_t j = 0; same && j < sb_model_classes(model, k); j++)
            same = sb_model_class_value(model, k, j) == sb_model_class_value(c->model, k, j);
    }
    sb_model_free(c->model);
    free(c->labels);
    c->model = model;
    c->labels = labels;
    c->rows = rows;
    /* The same components (names and classes) keep their series and
     * running accuracy (a reload of another key reads the model again);
     * others start anew. */
    if (same)
        return;
    clear_component_series(c);
    make_component_metrics(c);
}

static void ignore(struct sb_condition *c, enum ignored why)
{
    c->ig[why]++;
    sb_counter_add(c->m_ig[why], 1);
}

static void drop_oldest(struct sb_condition *c)
{
    c->closed_any = true;
    c->last_closed_us = c->open[0].start_us;
    c->nopen--;
    memmove(&c->open[0], &c->open[1], c->nopen * sizeof(*c->open));
}

static void not_diagnosed(struct sb_condition *c, enum not_diagnosed why)
{
    c->nd[why]++;
    sb_counter_add(c->m_nd[why], 1);
    drop_oldest(c);
}

static void remember(struct sb_condition *c, char *json)
{
    free(c->recent[c->recent_head]);
    c->recent[c->recent_head] = json;
    c->recent_head = (c->recent_head + 1) % c->recent_cap;
    if (c->recent_len < c->recent_cap)
        c->recent_len++;
}

static void diagnose(struct sb_condition *c)
{
    const struct cycle *cy = &c->open[0];
    uint64_t t0 = sb_now_mono_ns();
    double means[NS][SECS];
    for (size_t s = 0; s < NS; s++)
        for (size_t k = 0; k < SECS; k++)
            means[s][k] = sb_features_second_mean(cy->sum[s][k], c->rate[s]);
    double feat[SB_FEATURES_MAX];
    sb_features_compute((const double(*)[SECS])means, feat);
    struct sb_model_result res[SB_MODEL_MAX_COMPONENTS];
    sb_model_predict(c->model, feat, res);
    sb_histogram_observe(c->m_inference, (double)(sb_now_mono_ns() - t0) / 1e9);

    size_t nc = sb_model_components(c->model);
    double truth[SB_MODEL_MAX_COMPONENTS];
    char ts[40];
    json_t *comps = json_object();
    for (size_t k = 0; k < nc; k++) {
        int col = sb_model_component_column(c->model, k);
        truth[k] = NAN;
        if (col > 0 && cy->number >= 0 && (size_t)cy->number < c->rows)
            truth[k] = c->labels[(size_t)cy->number * SB_PROFILE_COLUMNS + (size_t)(col - 1)];
        struct component_metrics *m = &c->comp[k];
        sb_gauge_set(m->state, res[k].value);
        sb_gauge_set(m->prob, res[k].prob[res[k].cls]);
        json_t *probs = json_object();
        for (size_t j = 0; j < sb_model_classes(c->model, k); j++) {
            sb_gauge_set(m->class_prob[j], res[k].prob[j]);
            char name[32];
            snprintf(name, sizeof(name), "%g", sb_model_class_value(c->model, k, j));
            json_object_set_new(probs, name, json_real(res[k].prob[j]));
        }
        json_t *o = json_pack("{s:f, s:f, s:o}", "state", res[k].value, "probability",
                              res[k].prob[res[k].cls], "probabilities", probs);
        if (!isnan(truth[k])) {
            const char *lv[] = {sb_model_component_name(c->model, k)};
            if (!m->truth)
                m->truth = sb_family_child(c->f_truth, lv);
            if (!m->accuracy)
                m->accuracy = sb_family_child(c->f_accuracy, lv);
            sb_gauge_set(m->truth, truth[k]);
            bool right = truth[k] == res[k].value;
            m->judged++;
            m->right += right;
            sb_counter_add(right ? m->correct : m->wrong, 1);
            sb_gauge_set(m->accuracy, (double)m->right / (double)m->judged);
            json_object_set_new(o, "true_state", json_real(truth[k]));
        }
        json_object_set_new(comps, sb_model_component_name(c->model, k), o);
    }
    json_t *msg = json_object();
    json_object_set_new(msg, "cycle", json_integer(cy->number));
    sb_fmt_rfc3339_us(ts, sizeof(ts), cy->start_us);
    json_object_set_new(msg, "start", json_string(ts));
    sb_fmt_rfc3339_us(ts, sizeof(ts), cy->start_us + SECS * 1000000LL);
    json_object_set_new(msg, "end", json_string(ts));
    json_object_set_new(msg, "model", json_string(sb_model_description(c->model)));
    json_object_set_new(msg, "components", comps);
    char *text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(msg);
    if (!text)
        abort();

    c->diagnosed++;
    sb_counter_add(c->m_diagnosed, 1);
    sb_gauge_set(c->m_cycle, (double)cy->number);
    struct sb_condition_diagnosis dg = {
        .cycle = cy->number,
        .start_us = cy->start_us,
        .end_us = cy->start_us + SECS * 1000000LL,
        .model = c->model,
        .res = res,
        .truth = truth,
        .json = text,
        .len = strlen(text),
    };
    drop_oldest(c);
    if (c->cb)
        c->cb(c->ud, &dg);
    remember(c, text);
}

/* Closes, in order, the oldest cycles that are complete or passed. */
static void close_ready(struct sb_condition *c)
{
    while (c->nopen) {
        const struct cycle *cy = &c->open[0];
        if (cy->got == c->per_cycle) {
            diagnose(c);
            continue;
        }
        /* Every sensor held, seen yet or not, must have moved past it. */
        for (size_t s = 0; s < NS; s++)
            if (!c->forgotten[s] && c->latest_us[s] <= cy->start_us)
                return;
        not_diagnosed(c, ND_MISSING);
    }
}

static struct cycle *open_cycle(struct sb_condition *c, int64_t start_us, int64_t number)
{
    size_t i = 0;
    while (i < c->nopen && c->open[i].start_us < start_us)
        i++;
    if (i < c->nopen && c->open[i].start_us == start_us)
        return &c->open[i];
    if (c->nopen == c->max_open) {
        if (i == 0) {
            /* Older than every open cycle and no room: it cannot be
             * completed before the open ones go, so it is the overflow. */
            c->nd[ND_OVERFLOW]++;
            sb_counter_add(c->m_nd[ND_OVERFLOW], 1);
            c->closed_any = true;
            c->last_closed_us = start_us;
            return NULL;
        }
        not_diagnosed(c, ND_OVERFLOW);
        i--;
    }
    memmove(&c->open[i + 1], &c->open[i], (c->nopen - i) * sizeof(*c->open));
    c->nopen++;
    struct cycle *cy = &c->open[i];
    memset(cy, 0, sizeof(*cy));
    cy->start_us = start_us;
    cy->number = number;
    return cy;
}

void sb_condition_sample(struct sb_condition *c, int uci, const struct sb_decoded *d)
{
    if (uci < 0 || uci >= NS)
        return;
    unsigned rate = c->rate[uci];
    if (d->cycle < 0 || d->sample_idx < 0 || d->rate_hz != (double)rate ||
        d->sample_idx >= (int64_t)rate * SECS || !isfinite(d->value) || fabs(d->value) >= 9e12) {
        ignore(c, IG_NOT_REPLAY);
        return;
    }
    int64_t k = d->sample_idx;
    int64_t start = d->ts_us - ((k / rate) * 1000000 + (k % rate) * 1000000 / rate);
    /* A late sample still says where its sensor is: behind. */
    c->forgotten[uci] = false;
    bool moved = start > c->latest_us[uci];
    if (moved) {
        if (c->nopen == 0 || c->latest_us[uci] <= c->open[0].start_us)
            c->behind_moves++;
        c->latest_us[uci] = start;
    }
    if (c->closed_any && start <= c->last_closed_us) {
        ignore(c, IG_LATE);
        return;
    }
    struct cycle *cy = open_cycle(c, start, d->cycle);
    if (!cy) {
        ignore(c, IG_LATE);
        return;
    }
    if (k < cy->next[uci]) {
        ignore(c, IG_DUPLICATE);
        return;
    }
    if (k == cy->next[uci])
        cy->got++;
    cy->next[uci] = (uint16_t)(k + 1);
    cy->sum[uci][k / rate] += sb_features_milli(d->value);
    if (cy->got == c->per_cycle || moved)
        close_ready(c);
}

void sb_condition_forget(struct sb_condition *c, int uci)
{
    if (uci < 0 || uci >= NS)
        return;
    c->latest_us[uci] = INT64_MIN;
    c->forgotten[uci] = true;
    close_ready(c);
}

bool sb_condition_ahead(struct sb_condition *c, int uci, uint64_t now_ns)
{
    if (uci < 0 || uci >= NS || c->nopen == 0 || c->latest_us[uci] == INT64_MIN)
        return false;
    if (c->behind_moves != c->hold_moves || c->hold_since_ns == 0) {
        c->hold_moves = c->behind_moves;
        c->hold_since_ns = now_ns;
    }
    /* No sensor behind has moved for that long (it stopped, or is another
     * instance's): holding the others back would stall them for nothing. */
    if (now_ns - c->hold_since_ns > SB_CONDITION_HOLD_MAX_NS)
        return false;
    size_t lead = c->max_open / 2 ? c->max_open / 2 : 1;
    return c->latest_us[uci] - c->open[0].start_us >= (int64_t)lead * CYCLE_US;
}

void sb_condition_stop(struct sb_condition *c)
{
    while (c->nopen)
        not_diagnosed(c, ND_STOPPED);
}

void sb_condition_json(const struct sb_condition *c, struct sb_buf *out)
{
    json_t *nd = json_object(), *ig = json_object();
    for (int i = 0; i < ND__COUNT; i++)
        json_object_set_new(nd, ND_NAMES[i], json_integer((json_int_t)c->nd[i]));
    for (int i = 0; i < IG__COUNT; i++)
        json_object_set_new(ig, IG_NAMES[i], json_integer((json_int_t)c->ig[i]));
    json_t *doc = json_pack("{s:s, s:I, s:I, s:o, s:o}", "model", sb_model_description(c->model),
                            "diagnosed", (json_int_t)c->diagnosed, "open_cycles",
                            (json_int_t)c->nopen, "not_diagnosed", nd, "ignored", ig);
    char *head = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!head)
        abort();
    /* The recent diagnoses are JSON already: spliced in, oldest first. */
    sb_buf_append(out, head, strlen(head) - 1);
    free(head);
    sb_buf_puts(out, ",\"recent\":[");
    for (size_t i = 0; i < c->recent_len; i++) {
        size_t at = (c->recent_head + c->recent_cap - c->recent_len + i) % c->recent_cap;
        if (i)
            sb_buf_putc(out, ',');
        sb_buf_puts(out, c->recent[at]);
    }
    sb_buf_puts(out, "]}");
}
