/*
 * config.h - the INI configuration (read with libinih), one table row per
 * key. Pure: no libuv, no librdkafka.
 *
 * Ownership: sb_config_load fills a caller-owned struct sb_config; every
 * string in it is owned by the struct and released by sb_config_free.
 */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sensorbridge/webconfig.h"

#define SB_DEFAULT_CONFIG_PATH "/etc/sensorbridge/sensorbridge.conf"

/* An ordered list of librdkafka properties passed through untouched
 * (keys written as "kafka.<property>" in [producer] or [consumer]). */
struct sb_kv {
    char *key;
    char *value;
};

struct sb_kvlist {
    struct sb_kv *items;
    size_t n;
    size_t cap;
};

/* Where samples go: a topic per sensor ("<prefix>-<SENSOR>", the layout
 * of the Python producers this replaces), or one shared topic keyed by
 * sensor, whose partitions a consumer group spreads over its members. */
enum sb_topic_layout {
    SB_LAYOUT_PER_SENSOR,
    SB_LAYOUT_SHARED,
};

/* A set of sensor names; n == 0 means "all". Also a list of topics. */
struct sb_namelist {
    char **names;
    size_t n;
};

/* Frees the names and empties the list. */
void sb_namelist_free(struct sb_namelist *l);

#define SB_MAX_WINDOW_SIZES 8
#define SB_MAX_ALERT_RULES 256 /* [alert.<SENSOR>] sections */
#define SB_MAX_SYNTHETIC 50000 /* [synthetic.<NAME>] sections */
/* Longest <SENSOR> of [alert.<SENSOR>] and <NAME> of [synthetic.<NAME>]:
 * a sensor name on the wire (SB_SENSOR_NAME_MAX - 1). */
#define SB_CONFIG_SENSOR_NAME_MAX 63
/* Longest factory_section, machine or zone of a synthetic sensor, in bytes. */
#define SB_CONFIG_LOCATION_MAX 63

/* What the statistical (z-score) rule looks at. */
enum sb_zscore_on {
    SB_ZSCORE_MEAN,  /* each closed window's mean against the baseline */
    SB_ZSCORE_VALUE, /* each sample against the baseline */
};

/* One [alert.<SENSOR>] section. Thresholds that are not set are NAN. */
struct sb_alert_rule_cfg {
    char *sensor;
    double low_critical;
    double low_warning;
    double high_warning;
    double high_critical;
    double hysteresis;        /* >= 0, in the sensor's unit; default 0 */
    int64_t min_duration_us;  /* event time a condition must hold before escalating; default 0 */
    double zscore;            /* k standard deviations; NAN = no statistical rule */
    int zscore_baseline;      /* N closed windows in the rolling baseline, 2..1000; default 10 */
    int64_t zscore_window_us; /* window size the rule uses; one of [windows] sizes; default the
                                 smallest (set even when zscore is NAN) */
    enum sb_zscore_on zscore_on;
};

/* Kinds of synthetic factory sensor; each has a default unit. */
enum sb_synth_kind {
    SB_SYNTH_TEMPERATURE, /* "°C" */
    SB_SYNTH_VIBRATION,   /* "mm/s" */
    SB_SYNTH_ENERGY,      /* "kW" */
    SB_SYNTH_HUMIDITY,    /* "%" */
    SB_SYNTH_PRESSURE,    /* "bar" */
};

/* One [synthetic.<NAME>] section: a simulated factory sensor. After
 * sb_config_load every string is set (unit from the kind unless given;
 * factory_section, machine and zone "" unless given) and valid UTF-8. */
struct sb_synth_cfg {
    char *name; /* the section's <NAME>: sensor name and topic suffix */
    enum sb_synth_kind kind;
    char *unit;                 /* default from kind */
    double rate_hz;             /* 0.001..1000; default 1 */
    double base;                /* level around which the value moves */
    double noise;               /* standard deviation of Gaussian noise, >= 0 */
    double drift_per_hour;      /* slow linear trend, unit per hour of event time */
    double daily_amplitude;     /* amplitude of a 24-h sine (peak at 14:00 UTC) */
    double anomaly_probability; /* chance per sample that an anomaly starts, 0..1 */
    double anomaly_magnitude;   /* offset added during an anomaly (sign kept) */
    int64_t anomaly_duration_us;
    uint64_t seed;
    uint64_t max_samples;  /* stop after this many samples; 0 = never */
    char *factory_section; /* location fields carried in every message */
    char *machine;
    char *zone;
};

struct sb_config {
    char *path; /* the file this was read from */

    /* [general] */
    int log_level; /* enum sb_log_level */

    /* [kafka] */
    char *brokers;        /* "embedded" or "host:port[,host:port...]" */
    int embedded_brokers; /* brokers in the embedded mock cluster, 1..16 */
    int partitions;       /* partitions of each topic sensorbridge creates, 1..10000 */
    char *topic_prefix;   /* topics are "<prefix>-<SENSOR>" */
    enum sb_topic_layout layout;
    char *samples_topic;            /* shared layout; "" = "<topic_prefix>-samples" */
    bool create_topics;             /* create missing topics through the Admin API */
    int replication_factor;         /* of created topics, 1..32; -1 = the cluster's default */
    struct sb_kvlist topic_configs; /* [kafka] topic.<config>: configs of created topics */

    /* [producer] */
    bool producer_enabled;
    int flush_timeout_ms; /* bound on the shutdown flush, 0..600000 */
    int max_consumer_lag; /* per partition, see flow.h; 0 = no flow control */
    int coalesce_ms;      /* sources hand samples over at most every this many ms, 0..1000 */
    struct sb_kvlist producer_props;

    /* [consumer] */
    bool consumer_enabled;
    char *group_id;
    bool strict_sensors;      /* unknown sensor names are invalid messages */
    int64_t sensor_expiry_us; /* series of a sensor silent this long are removed; 0 = never */
    int max_sensors;          /* sensors held at once (the ingest's sensortab bound) */
    struct sb_kvlist consumer_props;

    /* [replay] */
    bool replay_enabled;
    char *dataset;   /* directory, resolved against the config file's directory */
    double speed;    /* > 0; 0 means "max" */
    int cycle_first; /* 0-based, inclusive */
    int cycle_last;  /* 0-based, inclusive; -1 = to the end of the files */
    bool loop;
    struct sb_namelist sensors;
    int64_t event_epoch_us; /* event time of the first sample; -1 = now, floored to the minute */

    /* [http] */
    char *listen;             /* "host:port", port 0 = ephemeral */
    int http_max_connections; /* 1..10000 */
    int64_t http_timeout_us;  /* whole seconds, 1 s..1 h */
    char *web_config_file;    /* "" = none; absolute, or relative to the config file */
    struct sb_webconfig web;  /* read from it at load (empty without one) */

    /* [windows] */
    bool windows_enabled;
    int64_t window_sizes_us[SB_MAX_WINDOW_SIZES]; /* ascending, distinct, 1 s..1 day */
    size_t nwindow_sizes;
    int64_t watermark_us;   /* allowed lateness, 0..1 h; default 10 s */
    int max_open_windows;   /* open windows per sensor and size, 1..1000 */
    int64_t max_ahead_us;   /* how far event time may jump ahead, 1 s..30 d; default 1 h */
    char *aggregates_topic; /* "" = "<topic_prefix>-aggregates" */

    /* [alerts] */
    bool alerts_enabled;
    char *alerts_topic; /* "" = "<topic_prefix>-alerts" */
    int recent_alerts;  /* alerts kept for /api/v1/alerts, 1..100000 */
    struct sb_alert_rule_cfg *alert_rules;
    size_t nalert_rules;

    /* [condition] */
    bool condition_enabled; /* default true: on whenever a model is set */
    char *condition_model;  /* model file, "" = no condition monitoring; resolved like dataset */
    char *condition_labels; /* profile.txt with the true states, "" = the dataset's if present */
    int condition_max_open; /* cycles assembled at once, 1..1000 */
    char *diagnosis_topic;  /* "" = "<topic_prefix>-diagnosis" */

    /* [synthetic.<NAME>] */
    struct sb_synth_cfg *synthetic;
    size_t nsynthetic;
};

/* Sets every field to its documented default (strings are allocated). */
void sb_config_defaults(struct sb_config *c);

/* Reads `path` over the defaults already in `c` (call sb_config_defaults
 * first). On error returns -EINVAL (or -errno if the file cannot be read)
 * and writes "FILE:LINE: [section] key: why" into err. Unknown sections,
 * unknown keys and bad values are errors. */
int sb_config_load(struct sb_config *c, const char *path, char *err, size_t errlen);

void sb_config_free(struct sb_config *c);

/* True if brokers == "embedded". */
bool sb_config_embedded(const struct sb_config *c);

/* True if the condition monitor runs: [condition] enabled and a model set. */
bool sb_config_condition_on(const struct sb_config *c);

/* The topic a sensor's samples go to: "<prefix>-<sensor>" in the
 * per-sensor layout, the samples topic in the shared one. */
void sb_config_sample_topic(const struct sb_config *c, const char *sensor, char *out, size_t len);

/* What a reload must redo for the keys it changes. Every row of the option
 * table is either restart-only or names the steps that apply it, so a key
 * added later cannot be ignored by a reload without a test seeing it. */
enum sb_config_apply {
    SB_APPLY_LOG_LEVEL = 1u << 0, /* [general] log_level */
    SB_APPLY_CONSUMER = 1u << 1,  /* [consumer] strict_sensors, sensor_expiry; the synthetic
                                     sensors' names (sensors the consumer knows) */
    SB_APPLY_FLOW = 1u << 2,      /* [producer] max_consumer_lag */
    SB_APPLY_REPLAY = 1u << 3,    /* [replay] but speed: a new replay source */
    SB_APPLY_SPEED = 1u << 4,     /* [replay] speed: the running sources' pace */
    SB_APPLY_SYNTH = 1u << 5,     /* [synthetic.<NAME>]: a new synthetic source */
    SB_APPLY_ALERTS = 1u << 6,    /* [alert.<SENSOR>]: a new rule engine */
    SB_APPLY_CONDITION = 1u << 7, /* [condition] model, labels: read again (every reload does) */
    SB_APPLY_COALESCE = 1u << 8,  /* [producer] coalesce_ms: the running sources' wake-ups */
};

/* Compares a (running) with b (just loaded). If a key that cannot change
 * without a restart differs (brokers, listen, group_id, topic_prefix,
 * producer/consumer enabled and their kafka.* properties, embedded_*,
 * partitions, flush_timeout_ms, every [windows] and [alerts] key), returns 0
 * and sets *restart_key to it as "section.key" ("windows.sizes"). Else sets
 * *restart_key to NULL and returns the SB_APPLY_* steps the differences
 * need (0: nothing changed). A section of [alert.<SENSOR>] or
 * [synthetic.<NAME>] added or removed counts as a change of its kind. */
unsigned sb_config_changes(const struct sb_config *a, const struct sb_config *b,
                           const char **restart_key);

/* The restart key of sb_config_changes, or NULL. */
const char *sb_config_restart_key(const struct sb_config *a, const struct sb_config *b);

/* The [synthetic.<NAME>] section named `name`; NULL if there is none. */
const struct sb_synth_cfg *sb_config_find_synthetic(const struct sb_config *c, const char *name);

/* The [alert.<SENSOR>] rule of `sensor`; NULL if there is none. */
const struct sb_alert_rule_cfg *sb_config_find_alert_rule(const struct sb_config *c,
                                                          const char *sensor);

/* True if `name` is a UCI sensor or one of c's synthetic sensors: what a
 * strict consumer should accept. */
bool sb_config_sensor_known(const struct sb_config *c, const char *name);

/* True if the rule has at least one threshold set (not NAN). */
bool sb_alert_rule_has_threshold(const struct sb_alert_rule_cfg *r);

/* True if the rule has a statistical (z-score) part (zscore not NAN). */
bool sb_alert_rule_has_zscore(const struct sb_alert_rule_cfg *r);

/* The thresholds in their required order, indexes for the function below. */
extern const char *const sb_alert_threshold_names[4]; /* "low_critical" ... "high_critical" */
void sb_alert_rule_thresholds(const struct sb_alert_rule_cfg *r, double t[4]);

/* False if two set thresholds break low_critical <= low_warning <
 * high_warning <= high_critical (equal only within one side: warning =
 * critical means straight to critical); then t[*i] must be at most
 * (*same_side) or below (!*same_side) t[*j], and is not. */
bool sb_alert_rule_ordered(const struct sb_alert_rule_cfg *r, size_t *i, size_t *j,
                           bool *same_side);

#endif
