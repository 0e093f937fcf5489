/*
 * test_config.c - the INI configuration: defaults, the shipped file, every
 * kind of error (each must name file, line and key), kafka.* pass-through,
 * path resolution and the restart-only keys.
 *
 * Usage: test_config [SOURCE_ROOT]; SOURCE_ROOT (default $SB_SOURCE_ROOT,
 * then ".") is where conf/sensorbridge.conf is found. Test files are
 * written into a mkdtemp() directory that is removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sensorbridge/config.h"
#include "sensorbridge/log.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *source_root = ".";
static char tmpdir[PATH_MAX];
/* A directory the tests use as a dataset, so [replay] validates. */
static char datadir[PATH_MAX];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Writes `text` to <tmpdir>/t.conf and loads it over the defaults. */
static int load_raw(struct sb_config *c, const char *text, char *err, size_t errlen)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/t.conf", tmpdir);
    write_file(path, text);
    sb_config_defaults(c);
    return sb_config_load(c, path, err, errlen);
}

/* Loads `text` and expects success. Unless the text sets its own dataset,
 * a "[replay] dataset" pointing at an existing directory is appended:
 * after the text, so line numbers in it are unchanged. */
static void load_ok(struct sb_config *c, const char *text)
{
    char *full = NULL;
    size_t n = strlen(text) + strlen(datadir) + 64;
    full = malloc(n);
    assert_non_null(full);
    if (strstr(text, "dataset"))
        snprintf(full, n, "%s", text);
    else
        snprintf(full, n, "%s\n[replay]\ndataset = %s\n", text, datadir);
    char err[1024];
    int rc = load_raw(c, full, err, sizeof(err));
    free(full);
    if (rc != 0)
        print_error("unexpected error: %s\n", err);
    assert_int_equal(rc, 0);
}

/* Loads `text`, expects -EINVAL and an error containing each of the
 * NULL-terminated substrings. */
static void load_fails(const char *text, ...)
{
    struct sb_config c;
    char err[1024];
    int rc = load_raw(&c, text, err, sizeof(err));
    if (rc != -EINVAL)
        print_error("for:\n%s\nrc=%d err=\"%s\"\n", text, rc, err);
    assert_int_equal(rc, -EINVAL);
    va_list ap;
    va_start(ap, text);
    const char *want;
    while ((want = va_arg(ap, const char *))) {
        if (!strstr(err, want))
            print_error("for:\n%s\nerror \"%s\" lacks \"%s\"\n", text, err, want);
        assert_non_null(strstr(err, want));
    }
    va_end(ap);
    /* Every error names the file first. */
    assert_int_equal(strncmp(err, tmpdir, strlen(tmpdir)), 0);
    sb_config_free(&c);
}

static void config_defaults(void **state)
{
    (void)state;
    struct sb_config c;
    sb_config_defaults(&c);
    assert_null(c.path);
    assert_int_equal(c.log_level, SB_LOG_INFO);
    assert_string_equal(c.brokers, "embedded");
    assert_true(sb_config_embedded(&c));
    assert_int_equal(c.embedded_brokers, 3);
    assert_int_equal(c.partitions, 4);
    assert_string_equal(c.topic_prefix, "hydraulic");
    assert_true(c.producer_enabled);
    assert_int_equal(c.flush_timeout_ms, 10000);
    assert_int_equal(c.coalesce_ms, 100);
    assert_int_equal(c.producer_props.n, 0);
    assert_true(c.consumer_enabled);
    assert_string_equal(c.group_id, "sensorbridge");
    assert_true(c.strict_sensors);
    assert_int_equal(c.consumer_props.n, 0);
    assert_true(c.replay_enabled);
#ifdef SB_DEFAULT_DATASET
    /* The build sets the installed dataset path from its prefix. */
    assert_string_equal(c.dataset, SB_DEFAULT_DATASET);
#else
    assert_string_equal(c.dataset, "/usr/share/sensorbridge/datasets/uci-hydraulic");
#endif
    assert_true(c.speed == 1.0);
    assert_int_equal(c.cycle_first, 0);
    assert_int_equal(c.cycle_last, -1);
    assert_true(c.loop);
    assert_int_equal(c.sensors.n, 0);
    assert_int_equal(c.event_epoch_us, -1);
    assert_string_equal(c.listen, "127.0.0.1:9550");
    sb_config_free(&c);
    /* Freeing twice is harmless: free leaves a zeroed struct. */
    sb_config_free(&c);
}

static void config_shipped_file_loads(void **state)
{
    (void)state;
    char path[PATH_MAX + 32], data[PATH_MAX + 32], err[1024];
    snprintf(path, sizeof(path), "%s/conf/sensorbridge.conf", source_root);
    snprintf(data, sizeof(data), "%s/datasets/uci-hydraulic", source_root);
    struct stat st;
    bool have_data = stat(data, &st) == 0 && S_ISDIR(st.st_mode);
    struct sb_config c, d;
    sb_config_defaults(&c);
    sb_config_defaults(&d);
    int rc = sb_config_load(&c, path, err, sizeof(err));
    if (!have_data) {
        /* The dataset is not in this tree: everything else must still be
         * valid, so the only acceptable error is the dataset check. */
        print_message("note: %s is absent; checking all but [replay] dataset\n", data);
        assert_int_equal(rc, -EINVAL);
        assert_non_null(strstr(err, "] dataset: "));
        assert_non_null(strstr(err, "uci-hydraulic"));
    } else {
        if (rc != 0)
            print_error("%s\n", err);
        assert_int_equal(rc, 0);
        char real[PATH_MAX];
        assert_non_null(realpath(data, real));
        assert_string_equal(c.dataset, real);
    }
    assert_string_equal(c.path, path);
    /* The README's main job: embedded Kafka, real time, the usual port. */
    assert_true(sb_config_embedded(&c));
    assert_string_equal(c.listen, "127.0.0.1:9550");
    assert_true(c.speed == 1.0);
    /* The shipped file spells out the defaults, but for the shared layout
     * with one partition (conf/sensorbridge.conf says why): with those two
     * taken as given it changes nothing. */
    assert_int_equal(c.layout, SB_LAYOUT_SHARED);
    assert_int_equal(c.partitions, 1);
    assert_int_equal(d.layout, SB_LAYOUT_PER_SENSOR);
    assert_int_equal(d.partitions, 4);
    d.layout = SB_LAYOUT_SHARED;
    d.partitions = 1;
    if (have_data) {
        assert_null(sb_config_restart_key(&c, &d));
        assert_int_equal(c.log_level, d.log_level);
        assert_int_equal(c.cycle_last, d.cycle_last);
        assert_int_equal(c.sensors.n, 0);
        assert_int_equal(c.event_epoch_us, -1);
    }
    /* The dataset is checked last, so the rest is loaded either way. The
     * [windows] and [alerts] keys spell out the defaults (above: no restart
     * key differs); every UCI sensor has a rule; one synthetic sensor of
     * each kind runs, with distinct seeds and a location. */
    assert_true(c.windows_enabled);
    assert_true(c.alerts_enabled);
    size_t ncat;
    const struct sb_sensor_info *cat = sb_sensors_uci(&ncat);
    for (size_t i = 0; i < ncat; i++) {
        const struct sb_alert_rule_cfg *r = sb_config_find_alert_rule(&c, cat[i].name);
        if (!r)
            print_error("no [alert.%s] in the shipped file\n", cat[i].name);
        assert_non_null(r);
        assert_true(sb_alert_rule_has_threshold(r));
        /* The high-rate sensors' stand-ins are 1-s means: a level must
         * hold for a second. */
        assert_int_equal(r->min_duration_us, cat[i].rate_hz > 1 ? 1000000 : 0);
    }
    const struct sb_alert_rule_cfg *ts1 = sb_config_find_alert_rule(&c, "TS1");
    assert_true(ts1->zscore == 5);
    assert_int_equal(ts1->zscore_window_us, INT64_C(60000000));
    assert_true(sb_alert_rule_has_zscore(sb_config_find_alert_rule(&c, "VS1")));
    assert_true(sb_alert_rule_has_zscore(sb_config_find_alert_rule(&c, "CE")));
    assert_true(isnan(sb_config_find_alert_rule(&c, "PS2")->low_warning));
    assert_true(isnan(sb_config_find_alert_rule(&c, "SE")->low_critical));
    assert_int_equal(c.nsynthetic, 5);
    unsigned kinds = 0;
    for (size_t i = 0; i < c.nsynthetic; i++) {
        const struct sb_synth_cfg *s = &c.synthetic[i];
        kinds |= 1u << s->kind;
        assert_true(s->rate_hz == 1);
        assert_true(s->anomaly_probability > 0 && s->anomaly_probability <= 0.01);
        assert_true(s->anomaly_magnitude != 0);
        assert_true(*s->factory_section && *s->machine && *s->zone);
        for (size_t k = 0; k < i; k++)
            assert_true(c.synthetic[k].seed != s->seed);
    }
    assert_int_equal(kinds, 0x1f);
    assert_non_null(sb_config_find_synthetic(&c, "line1-oven-temp"));
    /* A rule per UCI sensor, 3 on synthetic sensors, 4 on the condition
     * monitor's components; the model next to the file. */
    assert_int_equal(c.nalert_rules, ncat + 3 + 4);
    assert_non_null(strstr(c.condition_model, "/conf/condition-model.json"));
    sb_config_free(&c);
    sb_config_free(&d);
}

static void config_missing_file_fails(void **state)
{
    (void)state;
    struct sb_config c;
    char path[PATH_MAX + 32], err[512];
    snprintf(path, sizeof(path), "%s/no-such.conf", tmpdir);
    sb_config_defaults(&c);
    assert_int_equal(sb_config_load(&c, path, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file"));
    sb_config_free(&c);

    /* A file past the size cap is refused before parsing. */
    snprintf(path, sizeof(path), "%s/huge.conf", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* 16 MiB + 64 bytes: one line past the cap. */
    for (int i = 0; i < 16 * 1024 * 1024 / 64 + 1; i++)
        fprintf(f, "; %61s\n", "padding");
    assert_int_equal(fclose(f), 0);
    sb_config_defaults(&c);
    assert_int_equal(sb_config_load(&c, path, err, sizeof(err)), -EFBIG);
    assert_non_null(strstr(err, "huge.conf: larger than 16777216 bytes"));
    sb_config_free(&c);

    /* A directory is not a configuration file. */
    sb_config_defaults(&c);
    assert_true(sb_config_load(&c, tmpdir, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, tmpdir));
    sb_config_free(&c);
}

static void config_bad_values_name_file_line_key(void **state)
{
    (void)state;
    load_fails("[general]\nlog_level = loud\n",
               "t.conf:2: [general] log_level: ", "err, warning, notice, info or debug", "\"loud\"",
               NULL);
    load_fails("[kafka]\n\nembedded_brokers = 17\n",
               ":3: [kafka] embedded_brokers: ", "from 1 to 16", NULL);
    load_fails("[kafka]\nembedded_brokers = 0\n", ":2: [kafka] embedded_brokers:", NULL);
    load_fails("[kafka]\npartitions = 10001\n", ":2: [kafka] partitions: ", "from 1 to 10000",
               NULL);
    load_fails("[kafka]\npartitions = -1\n", ":2: [kafka] partitions: ", NULL);
    load_fails("[kafka]\npartitions = 4x\n", ":2: [kafka] partitions: ", "\"4x\"", NULL);
    load_fails("[kafka]\ntopic_prefix = a/b\n", ":2: [kafka] topic_prefix: ", "'/'", NULL);
    load_fails("[kafka]\ntopic_prefix =\n", ":2: [kafka] topic_prefix: ", NULL);
    load_fails("[producer]\nenabled = maybe\n",
               ":2: [producer] enabled: ", "true/false, yes/no, on/off or 1/0", NULL);
    load_fails("[producer]\nflush_timeout_ms = 600001\n",
               ":2: [producer] flush_timeout_ms: ", "from 0 to 600000", NULL);
    load_fails("[producer]\ncoalesce_ms = 1001\n", ":2: [producer] coalesce_ms: ", "from 0 to 1000",
               NULL);
    load_fails("[producer]\ncoalesce_ms = -1\n", ":2: [producer] coalesce_ms: ", NULL);
    load_fails("[consumer]\ngroup_id =\n", ":2: [consumer] group_id: must not be empty", NULL);
    load_fails("[consumer]\nstrict_sensors = 2\n", ":2: [consumer] strict_sensors: ", NULL);
    load_fails("[replay]\n; speed up\nspeed = fast\n",
               ":3: [replay] speed: ", "expected a number >= 0.001", "or \"max\", got \"fast\"",
               NULL);
    load_fails("[replay]\nloop = sometimes\n", ":2: [replay] loop: ", NULL);
    load_fails("[replay]\nevent_epoch = yesterday\n", ":2: [replay] event_epoch: ", "RFC 3339",
               NULL);
    load_fails("[replay]\ndataset =\n", ":2: [replay] dataset: ", NULL);
    load_fails("[http]\nlisten = 127.0.0.1\n", ":2: [http] listen: ", "no port", NULL);
    /* The first error wins; later lines are not looked at. */
    load_fails("[kafka]\npartitions = 0\nbrokers = x\n", ":2: [kafka] partitions", NULL);
}

static void config_unknown_section(void **state)
{
    (void)state;
    load_fails("[general]\nlog_level = info\n[kafak]\nbrokers = embedded\n",
               ":3: [kafak]: unknown section", "[kafka]", "[replay]", NULL);
    /* Even with no keys under it: libinih alone would never report it. */
    load_fails("[general]\n[bogus]\n", ":2: [bogus]: unknown section", NULL);
    load_fails("[kafka] extra\n", ":1: [kafka]: unexpected text after ']'", NULL);
}

static void config_unknown_key(void **state)
{
    (void)state;
    load_fails("[replay]\nsped = 2\n", ":2: [replay] sped: unknown key", "speed", "cycles", NULL);
    load_fails("[consumer]\nlinger.ms = 5\n", ":2: [consumer] linger.ms: unknown key",
               "kafka.<property>", NULL);
}

static void config_key_outside_section(void **state)
{
    (void)state;
    load_fails("speed = 2\n", ":1: speed: key before any section", "belongs in [replay]", NULL);
    load_fails("; comment\nwhatever = 2\n", ":2: whatever: key before any section", NULL);
    load_fails("[kafka]\n= 3\n", ":2: [kafka]: missing key name", NULL);
}

static void config_duplicate_key(void **state)
{
    (void)state;
    load_fails("[replay]\nspeed = 2\nloop = true\nspeed = 3\n",
               ":4: [replay] speed: duplicate key (first set on line 2)", NULL);
    /* Across two blocks of the same section. */
    load_fails("[kafka]\npartitions = 2\n[http]\nlisten = 127.0.0.1:1\n[kafka]\npartitions = 2\n",
               ":6: [kafka] partitions: duplicate key (first set on line 2)", NULL);
    load_fails("[producer]\nkafka.linger.ms = 5\nkafka.acks = all\nkafka.linger.ms = 6\n",
               ":4: [producer] kafka.linger.ms: duplicate key (first set on line 2)", NULL);

    /* The same property in [producer] and [consumer] is two keys. */
    struct sb_config c;
    load_ok(&c, "[producer]\nkafka.client.id = a\n[consumer]\nkafka.client.id = b\n");
    assert_string_equal(c.producer_props.items[0].value, "a");
    assert_string_equal(c.consumer_props.items[0].value, "b");
    sb_config_free(&c);
}

static void config_kafka_passthrough_keeps_order(void **state)
{
    (void)state;
    struct sb_config c;
    load_ok(&c, "[producer]\n"
                "kafka.linger.ms = 50\n"
                "kafka.compression.codec = zstd\n"
                "enabled = true\n"
                "kafka.acks = all\n"
                "[consumer]\n"
                "kafka.session.timeout.ms = 10000\n"
                "kafka.client.id = my consumer ; inline comment\n"
                "kafka.debug = consumer,cgrp\n");
    assert_int_equal(c.producer_props.n, 3);
    assert_string_equal(c.producer_props.items[0].key, "linger.ms");
    assert_string_equal(c.producer_props.items[0].value, "50");
    assert_string_equal(c.producer_props.items[1].key, "compression.codec");
    assert_string_equal(c.producer_props.items[1].value, "zstd");
    assert_string_equal(c.producer_props.items[2].key, "acks");
    assert_string_equal(c.producer_props.items[2].value, "all");
    assert_int_equal(c.consumer_props.n, 3);
    assert_string_equal(c.consumer_props.items[0].key, "session.timeout.ms");
    assert_string_equal(c.consumer_props.items[1].key, "client.id");
    assert_string_equal(c.consumer_props.items[1].value, "my consumer");
    assert_string_equal(c.consumer_props.items[2].key, "debug");
    assert_string_equal(c.consumer_props.items[2].value, "consumer,cgrp");
    sb_config_free(&c);
}

static void config_kafka_forbidden_and_empty(void **state)
{
    (void)state;
    load_fails("[producer]\nkafka.bootstrap.servers = h:9092\n",
               ":2: [producer] kafka.bootstrap.servers: use [kafka] brokers", NULL);
    load_fails("[consumer]\nkafka.bootstrap.servers = h:9092\n",
               ":2: [consumer] kafka.bootstrap.servers: use [kafka] brokers", NULL);
    load_fails("[consumer]\nkafka.metadata.broker.list = h:9092\n",
               ":2: [consumer] kafka.metadata.broker.list: use [kafka] brokers", NULL);
    load_fails("[consumer]\nkafka.group.id = g\n",
               ":2: [consumer] kafka.group.id: use [consumer] group_id", NULL);
    load_fails("[producer]\nkafka. = 1\n", ":2: [producer] kafka.: expected kafka.<", NULL);
    load_fails("[producer]\nkafka.acks =\n", ":2: [producer] kafka.acks: empty value", NULL);
}

static void config_speed(void **state)
{
    (void)state;
    struct sb_config c;
    load_ok(&c, "[replay]\nspeed = max\n");
    assert_true(c.speed == 0.0);
    sb_config_free(&c);
    load_ok(&c, "[replay]\nspeed = 0.5\n");
    assert_true(c.speed == 0.5);
    sb_config_free(&c);
    load_ok(&c, "[replay]\nspeed = 1e6\n");
    assert_true(c.speed == 1e6);
    sb_config_free(&c);

    static const char *const bad[] = {"0", "-1", "1000001", "inf", "nan", "0x10", "", "MAX", "1,5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "[replay]\nspeed = %s\n", bad[i]);
        load_fails(text, ":2: [replay] speed: expected a number >= 0.001", NULL);
    }
    /* An inline '#' is not a comment: the message says so. */
    load_fails("[replay]\nspeed = 2 # twice\n", ":2: [replay] speed: ", "starts a comment only",
               NULL);
}

static void config_cycles(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int first, last;
    } good[] = {
        {"all", 0, -1},
        {"0", 0, 0},
        {"7", 7, 7},
        {"3-9", 3, 9},
        {"4-4", 4, 4},
        {"0-100000", 0, 100000},
        {"100000", 100000, 100000},
        {"10 - 20", 10, 20},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct sb_config c;
        char text[128];
        snprintf(text, sizeof(text), "[replay]\ncycles = %s\n", good[i].text);
        load_ok(&c, text);
        assert_int_equal(c.cycle_first, good[i].first);
        assert_int_equal(c.cycle_last, good[i].last);
        sb_config_free(&c);
    }
    load_fails("[replay]\ncycles = 9-3\n", ":2: [replay] cycles: ", "backwards", NULL);
    load_fails("[replay]\ncycles = 0-100001\n", ":2: [replay] cycles: ", "limit of 100000", NULL);
    static const char *const bad[] = {"",      "-3",  "3-", "-",   "a",
                                      "1-2-3", "1.5", "+1", "ALL", "9999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "[replay]\ncycles = %s\n", bad[i]);
        load_fails(text, ":2: [replay] cycles: ", NULL);
    }
}

static void config_booleans(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool v;
    } forms[] = {
        {"true", true},   {"yes", true}, {"on", true},   {"1", true},  {"TRUE", true},
        {"false", false}, {"no", false}, {"off", false}, {"0", false}, {"Off", false},
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct sb_config c;
        char text[128];
        snprintf(text, sizeof(text), "[replay]\nloop = %s\n", forms[i].text);
        load_ok(&c, text);
        assert_int_equal(c.loop, forms[i].v);
        sb_config_free(&c);
    }
    load_fails("[replay]\nloop = y\n", ":2: [replay] loop: ", NULL);
    load_fails("[replay]\nloop =\n", ":2: [replay] loop: ", NULL);
}

static void config_sensors(void **state)
{
    (void)state;
    struct sb_config c;
    load_ok(&c, "[replay]\nsensors = PS1, TS4 CE,\tVS1\n");
    assert_int_equal(c.sensors.n, 4);
    assert_string_equal(c.sensors.names[0], "PS1");
    assert_string_equal(c.sensors.names[1], "TS4");
    assert_string_equal(c.sensors.names[2], "CE");
    assert_string_equal(c.sensors.names[3], "VS1");
    sb_config_free(&c);
    load_ok(&c, "[replay]\nsensors = all\n");
    assert_int_equal(c.sensors.n, 0);
    sb_config_free(&c);

    load_fails("[replay]\nsensors = PS1, PS7\n", ":2: [replay] sensors: unknown sensor \"PS7\"",
               "EPS1", NULL);
    load_fails("[replay]\nsensors = ps1\n", ":2: [replay] sensors: unknown sensor \"ps1\"", NULL);
    load_fails("[replay]\nsensors = PS1, FS1, PS1\n",
               ":2: [replay] sensors: sensor \"PS1\" is listed twice", NULL);
    load_fails("[replay]\nsensors = all, PS1\n", ":2: [replay] sensors: \"all\" cannot", NULL);
    load_fails("[replay]\nsensors = ,\n", ":2: [replay] sensors: expected \"all\"", NULL);
    load_fails("[replay]\nsensors =\n", ":2: [replay] sensors: ", NULL);
}

static void config_brokers_and_listen(void **state)
{
    (void)state;
    struct sb_config c;
    load_ok(&c, "[kafka]\nbrokers = k1.example:9092, 10.0.0.2:9093 ,[fd00::1]:9094\n"
                "[http]\nlisten = [::]:0\n");
    assert_false(sb_config_embedded(&c));
    assert_string_equal(c.brokers, "k1.example:9092,10.0.0.2:9093,[fd00::1]:9094");
    assert_string_equal(c.listen, "[::]:0");
    sb_config_free(&c);
    load_ok(&c, "[http]\nlisten = localhost:65535\n");
    assert_string_equal(c.listen, "localhost:65535");
    sb_config_free(&c);

    load_fails("[kafka]\nbrokers = k1:9092,k2\n", ":2: [kafka] brokers: ", "no port", NULL);
    load_fails("[kafka]\nbrokers = k1:0\n", ":2: [kafka] brokers: ", "from 1 to 65535", NULL);
    load_fails("[kafka]\nbrokers = k1:65536\n", ":2: [kafka] brokers: ", NULL);
    load_fails("[kafka]\nbrokers = :9092\n", ":2: [kafka] brokers: ", "no host", NULL);
    load_fails("[kafka]\nbrokers = k1:9092,,k2:9092\n", ":2: [kafka] brokers: empty entry", NULL);
    load_fails("[kafka]\nbrokers =\n", ":2: [kafka] brokers: ", "\"embedded\"", NULL);
    load_fails("[kafka]\nbrokers = Embedded\n", ":2: [kafka] brokers: ", NULL);
    load_fails("[http]\nlisten = ::1:9550\n", ":2: [http] listen: ", "brackets", NULL);
    load_fails("[http]\nlisten = [::g]:9550\n", ":2: [http] listen: ", "not an IPv6", NULL);
    load_fails("[http]\nlisten = 127.1:9550\n", ":2: [http] listen: ", "not an IPv4", NULL);
    load_fails("[http]\nlisten = 300.0.0.1:9550\n", ":2: [http] listen: ", NULL);
    load_fails("[http]\nlisten = host:port\n", ":2: [http] listen: ", "from 0 to 65535", NULL);
    load_fails("[http]\nlisten = a b:1\n", ":2: [http] listen: ", "bad character", NULL);
}

static void config_event_epoch(void **state)
{
    (void)state;
    struct sb_config c;
    load_ok(&c, "[replay]\nevent_epoch = 2025-01-01T00:00:00Z\n");
    assert_int_equal(c.event_epoch_us, INT64_C(1735689600000000));
    sb_config_free(&c);
    load_ok(&c, "[replay]\nevent_epoch = 2025-01-01T01:00:00.5+01:00\n");
    assert_int_equal(c.event_epoch_us, INT64_C(1735689600500000));
    sb_config_free(&c);
    load_ok(&c, "[replay]\nevent_epoch = now\n");
    assert_int_equal(c.event_epoch_us, -1);
    sb_config_free(&c);
    load_fails("[replay]\nevent_epoch = 1969-12-31T23:59:59Z\n",
               ":2: [replay] event_epoch: ", "before 1970", NULL);
    load_fails("[replay]\nevent_epoch = 2025-13-01T00:00:00Z\n",
               ":2: [replay] event_epoch: ", NULL);
}

static void config_log_level(void **state)
{
    (void)state;
    struct sb_config c;
    load_ok(&c, "[general]\nlog_level = debug\n");
    assert_int_equal(c.log_level, SB_LOG_DEBUG);
    sb_config_free(&c);
    load_ok(&c, "[general]\nlog_level = err\n");
    assert_int_equal(c.log_level, SB_LOG_ERR);
    sb_config_free(&c);
}

static void config_dataset_relative_resolved(void **state)
{
    (void)state;
    /* <tmp>/etc/sb.conf says "../data": that is <tmp>/data, wherever the
     * daemon runs from. */
    char dir[PATH_MAX + 16], conf[PATH_MAX + 32], rel[PATH_MAX + 64], err[1024];
    snprintf(dir, sizeof(dir), "%s/etc", tmpdir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(conf, sizeof(conf), "%s/sb.conf", dir);
    write_file(conf, "[replay]\ndataset = ../data\n");

    struct sb_config c;
    sb_config_defaults(&c);
    int rc = sb_config_load(&c, conf, err, sizeof(err));
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(c.dataset, datadir);
    sb_config_free(&c);

    /* The same file named by a relative path from another directory. */
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(tmpdir), 0);
    sb_config_defaults(&c);
    rc = sb_config_load(&c, "etc/sb.conf", err, sizeof(err));
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, 0);
    assert_string_equal(c.dataset, datadir);
    sb_config_free(&c);

    /* Disabled replay: the path is resolved but not checked. */
    write_file(conf, "[replay]\nenabled = false\ndataset = ../missing\n");
    sb_config_defaults(&c);
    assert_int_equal(sb_config_load(&c, conf, err, sizeof(err)), 0);
    snprintf(rel, sizeof(rel), "%s/../missing", dir);
    assert_string_equal(c.dataset, rel);
    sb_config_free(&c);

    remove(conf);
    rmdir(dir);
}

static void config_dataset_checked_when_enabled(void **state)
{
    (void)state;
    load_fails("[replay]\nspeed = 2\ndataset = missing\n", ":3: [replay] dataset: ", "No such file",
               "enabled = false", NULL);
    /* Not set in the file: the default is named, without a line. */
    load_fails("[replay]\nspeed = 2\n", "t.conf: [replay] dataset: ", "(the default)", NULL);
    load_fails("[replay]\ndataset = t.conf\n", ":2: [replay] dataset: ", "not a directory", NULL);
    struct sb_config c;
    load_ok(&c, "[replay]\nenabled = off\ndataset = /nonexistent\n");
    assert_false(c.replay_enabled);
    sb_config_free(&c);
}

static void config_syntax_error_line(void **state)
{
    (void)state;
    load_fails("[kafka]\npartitions = 2\nthis line has no equals sign\n", ":3: syntax error", NULL);
    load_fails("[kafka\npartitions = 2\n", ":1: syntax error", NULL);
    /* A syntax error before a bad value: the earlier line is reported. */
    load_fails("[kafka]\noops\npartitions = 0\n", ":2: syntax error", NULL);
}

static void config_indented_line_rejected(void **state)
{
    (void)state;
    /* libinih would read "  partitions = 2" as more of brokers' value. */
    load_fails("[kafka]\nbrokers = embedded\n  partitions = 2\n", ":3: indented line", NULL);
    /* Indented comments and blank lines with spaces are fine. */
    struct sb_config c;
    load_ok(&c, "[kafka]\n  ; a comment\n\t# another\n   \npartitions = 2\n");
    assert_int_equal(c.partitions, 2);
    sb_config_free(&c);
}

static void config_long_line_rejected(void **state)
{
    (void)state;
    char text[1024];
    int n = snprintf(text, sizeof(text), "[consumer]\n; ");
    memset(text + n, 'x', 600);
    snprintf(text + n + 600, sizeof(text) - (size_t)n - 600, "\ngroup_id = g\n");
    load_fails(text, ":2: line is longer than", NULL);
}

static void config_crlf_bom_and_comments(void **state)
{
    (void)state;
    struct sb_config c;
    load_ok(&c, "\xEF\xBB\xBF; saved by an editor that likes BOMs\r\n"
                "[kafka]\r\n"
                "partitions = 8 ; inline comment\r\n"
                "# hash comment\r\n"
                "[consumer] ; comment after a section\r\n"
                "group_id = g\r\n");
    assert_int_equal(c.partitions, 8);
    assert_string_equal(c.group_id, "g");
    sb_config_free(&c);
}

static void config_restart_key(void **state)
{
    (void)state;
    struct sb_config a, b;
    load_ok(&a, "[general]\nlog_level = info\n[producer]\nkafka.linger.ms = 5\n");

    /* Reloadable keys change freely. */
    load_ok(&b, "[general]\nlog_level = debug\n[consumer]\nstrict_sensors = false\n"
                "[producer]\nkafka.linger.ms = 5\n"
                "[replay]\nspeed = max\ncycles = 1-2\nloop = no\nsensors = PS1\n"
                "event_epoch = 2025-01-01T00:00:00Z\nenabled = false\ndataset = /x\n");
    assert_null(sb_config_restart_key(&a, &b));
    sb_config_free(&b);

    static const struct {
        const char *text;
        const char *key;
    } cases[] = {
        {"[kafka]\nbrokers = h:9092\n", "kafka.brokers"},
        {"[kafka]\nembedded_brokers = 1\n", "kafka.embedded_brokers"},
        {"[kafka]\npartitions = 2\n", "kafka.partitions"},
        {"[kafka]\ntopic_prefix = other\n", "kafka.topic_prefix"},
        {"[producer]\nenabled = false\n", "producer.enabled"},
        {"[producer]\nflush_timeout_ms = 1\n", "producer.flush_timeout_ms"},
        {"[producer]\nkafka.linger.ms = 6\n", "producer.kafka.*"},
        {"[producer]\nkafka.linger.ms = 5\nkafka.acks = 1\n", "producer.kafka.*"},
        {"[consumer]\nenabled = false\n", "consumer.enabled"},
        {"[consumer]\ngroup_id = other\n", "consumer.group_id"},
        {"[consumer]\nkafka.fetch.wait.max.ms = 10\n", "consumer.kafka.*"},
        {"[http]\nlisten = 127.0.0.1:9551\n", "http.listen"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        /* Keep a's producer property unless the case is about it. */
        snprintf(text, sizeof(text), "%s%s", cases[i].text,
                 strstr(cases[i].text, "[producer]\nkafka.") ? ""
                                                             : "[producer]\nkafka.linger.ms = 5\n");
        load_ok(&b, text);
        const char *key = sb_config_restart_key(&a, &b);
        if (!key || strcmp(key, cases[i].key) != 0)
            print_error("for:\n%s\nexpected %s, got %s\n", text, cases[i].key, key ? key : "NULL");
        assert_non_null(key);
        assert_string_equal(key, cases[i].key);
        sb_config_free(&b);
    }
    sb_config_free(&a);
}

/* Every reloadable key names the steps a change to it needs: the daemon's
 * reload does exactly those (sb_config_changes). */
static void config_changes_name_apply_steps(void **state)
{
    (void)state;
    /* The sections a case changes are appended to this one, so a key set
     * here must not be set again: cases repeat a section header instead. */
    static const char base[] =
        "[alert.TS1]\nhigh_warning = 60\n[synthetic.oven]\nkind = temperature\n"
        "[alert.oven]\nhigh_warning = 300\n";
    static const struct {
        const char *text;
        unsigned apply;
    } cases[] = {
        {"", 0},
        {"[general]\nlog_level = debug\n", SB_APPLY_LOG_LEVEL},
        {"[consumer]\nstrict_sensors = false\n", SB_APPLY_CONSUMER},
        {"[consumer]\nsensor_expiry = 2h\n", SB_APPLY_CONSUMER},
        {"[producer]\nmax_consumer_lag = 5\n", SB_APPLY_FLOW},
        {"[producer]\ncoalesce_ms = 0\n", SB_APPLY_COALESCE},
        {"[producer]\ncoalesce_ms = 100\n", 0},
        {"[replay]\nenabled = false\n", SB_APPLY_REPLAY},
        {"[replay]\nspeed = max\n", SB_APPLY_SPEED},
        {"[replay]\nspeed = 1\n", 0},
        {"[replay]\ncycles = 1-2\n", SB_APPLY_REPLAY},
        {"[replay]\ncycles = all\n", 0},
        {"[replay]\nloop = no\n", SB_APPLY_REPLAY},
        {"[replay]\nsensors = PS1\n", SB_APPLY_REPLAY},
        {"[replay]\nevent_epoch = 2025-01-01T00:00:00Z\n", SB_APPLY_REPLAY | SB_APPLY_SYNTH},
        {"[general]\nlog_level = err\n[replay]\nspeed = 2\n", SB_APPLY_LOG_LEVEL | SB_APPLY_SPEED},
        {"[alert.TS1]\nlow_critical = 1\n", SB_APPLY_ALERTS},
        {"[alert.TS1]\nlow_warning = 2\n", SB_APPLY_ALERTS},
        {"[alert.TS1]\nhigh_critical = 70\n", SB_APPLY_ALERTS},
        {"[alert.TS1]\nhysteresis = 1\n", SB_APPLY_ALERTS},
        {"[alert.TS1]\nmin_duration = 1s\n", SB_APPLY_ALERTS},
        {"[alert.TS1]\nzscore = 3\n", SB_APPLY_ALERTS},
        {"[alert.TS1]\nzscore_baseline = 11\n", SB_APPLY_ALERTS},
        {"[alert.TS1]\nzscore_on = value\n", SB_APPLY_ALERTS},
        {"[alert.TS1]\nzscore_window = 1m\n", 0},
        {"[alert.PS1]\nhigh_warning = 1\n", SB_APPLY_ALERTS},
        {"[synthetic.oven]\nunit = K\n", SB_APPLY_SYNTH},
        {"[synthetic.oven]\nrate_hz = 2\n", SB_APPLY_SYNTH},
        {"[synthetic.oven]\nbase = 1\n", SB_APPLY_SYNTH},
        {"[synthetic.oven]\nnoise = 0.5\n", SB_APPLY_SYNTH},
        {"[synthetic.oven]\ndrift_per_hour = 1\n", SB_APPLY_SYNTH},
        {"[synthetic.oven]\ndaily_amplitude = 1\n", SB_APPLY_SYNTH},
        {"[synthetic.oven]\nanomaly_probability = 0.1\n", SB_APPLY_SYNTH},
        {"[synthetic.oven]\nanomaly_magnitude = 3\n", SB_APPLY_SYNTH},
        {"[synthetic.oven]\nanomaly_duration = 1m\n", SB_APPLY_SYNTH},
        {"[synthetic.oven]\nseed = 7\n", SB_APPLY_SYNTH},
        {"[synthetic.oven]\nsamples = 7\n", SB_APPLY_SYNTH},
        {"[synthetic.oven]\nfactory_section = A\n", SB_APPLY_SYNTH},
        {"[synthetic.oven]\nmachine = M\n", SB_APPLY_SYNTH},
        {"[synthetic.oven]\nzone = Z\n", SB_APPLY_SYNTH},
        {"[synthetic.fan]\nkind = vibration\n", SB_APPLY_SYNTH | SB_APPLY_CONSUMER},
    };
    struct sb_config a, b;
    load_ok(&a, base);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "%s%s", base, cases[i].text);
        load_ok(&b, text);
        const char *key = "unset";
        unsigned apply = sb_config_changes(&a, &b, &key);
        if (apply != cases[i].apply || key)
            print_error("for:\n%s\nexpected 0x%x, got 0x%x (restart key %s)\n", cases[i].text,
                        cases[i].apply, apply, key ? key : "NULL");
        assert_null(key);
        assert_int_equal(apply, cases[i].apply);
        sb_config_free(&b);
    }

    /* A section that goes is a change too; the rule engine and the
     * synthetic source are rebuilt, and the consumer forgets the name. */
    load_ok(&b, "[alert.TS1]\nhigh_warning = 60\n");
    const char *key = "unset";
    assert_int_equal(sb_config_changes(&a, &b, &key),
                     SB_APPLY_ALERTS | SB_APPLY_SYNTH | SB_APPLY_CONSUMER);
    assert_null(key);
    sb_config_free(&b);

    /* One restart-only key refuses the whole reload: nothing is applied. */
    load_ok(&b, "[general]\nlog_level = debug\n[kafka]\npartitions = 2\n");
    assert_int_equal(sb_config_changes(&a, &b, &key), 0);
    assert_string_equal(key, "kafka.partitions");
    sb_config_free(&b);
    sb_config_free(&a);
}

/* ---- [windows], [alerts], [alert.<SENSOR>], [synthetic.<NAME>] ---- */

/* Loads `text` (which must not mention a dataset) and expects success;
 * returns nothing, the caller frees. A shorthand for the many small
 * cases below. */
static void load_ok_fmt(struct sb_config *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void load_ok_fmt(struct sb_config *c, const char *fmt, ...)
{
    struct sb_buf b;
    sb_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    sb_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    load_ok(c, b.data);
    sb_buf_free(&b);
}

static void config_new_defaults(void **state)
{
    (void)state;
    struct sb_config c;
    sb_config_defaults(&c);
    assert_true(c.windows_enabled);
    assert_int_equal(c.nwindow_sizes, 1);
    assert_int_equal(c.window_sizes_us[0], INT64_C(60000000));
    assert_int_equal(c.watermark_us, INT64_C(10000000));
    assert_int_equal(c.max_open_windows, 16);
    assert_string_equal(c.aggregates_topic, "");
    assert_true(c.alerts_enabled);
    assert_string_equal(c.alerts_topic, "");
    assert_int_equal(c.recent_alerts, 256);
    assert_int_equal(c.nalert_rules, 0);
    assert_null(c.alert_rules);
    assert_int_equal(c.nsynthetic, 0);
    assert_null(c.synthetic);
    sb_config_free(&c);
}

/* [condition]: on only with enabled and a model; a disabled monitor's
 * files are not checked; an enabled one's must exist. */
static void config_condition_keys(void **state)
{
    (void)state;
    struct sb_config c;
    sb_config_defaults(&c);
    assert_true(c.condition_enabled);
    assert_string_equal(c.condition_model, "");
    assert_int_equal(c.condition_max_open, 64);
    assert_false(sb_config_condition_on(&c));
    sb_config_free(&c);

    char model[PATH_MAX + 16], text[2 * PATH_MAX];
    snprintf(model, sizeof(model), "%s/m.json", tmpdir);
    write_file(model, "{}");
    snprintf(text, sizeof(text), "[condition]\nmodel = %s\nmax_open_cycles = 3\n", model);
    load_ok(&c, text);
    assert_true(sb_config_condition_on(&c));
    assert_int_equal(c.condition_max_open, 3);
    sb_config_free(&c);

    load_ok(&c, "[condition]\nenabled = false\nmodel = /no/such/model.json\n");
    assert_false(sb_config_condition_on(&c));
    sb_config_free(&c);

    load_fails("[replay]\nenabled = false\n[condition]\nmodel = /no/such/model.json\n",
               "[condition] model", "/no/such/model.json", "No such file", NULL);
    load_fails("[condition]\nmax_open_cycles = 0\n", "max_open_cycles", NULL);
}

static void config_windows_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t n;
        int64_t s[SB_MAX_WINDOW_SIZES];
    } good[] = {
        {"1m", 1, {60}},
        {"60s", 1, {60}},
        {"1s", 1, {1}},
        {"1d", 1, {86400}},
        {"86400s", 1, {86400}},
        {"1h, 5m 1m", 3, {60, 300, 3600}},
        {"5m,1m,,  1h ,", 3, {60, 300, 3600}},
        {"8s 7s 6s 5s 4s 3s 2s 1s", 8, {1, 2, 3, 4, 5, 6, 7, 8}},
        {"24h 59m 61s", 3, {61, 3540, 86400}},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct sb_config c;
        load_ok_fmt(&c, "[windows]\nsizes = %s\n", good[i].text);
        assert_int_equal(c.nwindow_sizes, good[i].n);
        for (size_t k = 0; k < good[i].n; k++)
            assert_int_equal(c.window_sizes_us[k], good[i].s[k] * 1000000);
        sb_config_free(&c);
    }
    load_fails("[windows]\nsizes = 1m, 60s\n",
               ":2: [windows] sizes: \"1m\" and \"60s\" are the same size", NULL);
    load_fails("[windows]\nsizes = 1h 5m 3600s\n",
               ":2: [windows] sizes: \"1h\" and \"3600s\" are the same size", NULL);
    load_fails("[windows]\nsizes = 1s 2s 3s 4s 5s 6s 7s 8s 9s\n",
               ":2: [windows] sizes: more than 8 window sizes", NULL);
    load_fails("[windows]\nsizes = 0s\n", ":2: [windows] sizes: ", "from 1s to 1d", "\"0s\"", NULL);
    load_fails("[windows]\nsizes = 0\n", ":2: [windows] sizes: ", "from 1s to 1d", NULL);
    load_fails("[windows]\nsizes = 1m 25h\n", ":2: [windows] sizes: ", "from 1s to 1d", "\"25h\"",
               NULL);
    static const char *const bad[] = {"",    ",",   "1.5m", "10", "1M",  "-1m",   "+1m",
                                      "1 m", "1ms", "m",    "1w", "1m5", "0x10s", "1234567890s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "[windows]\nsizes = %s\n", bad[i]);
        load_fails(text, ":2: [windows] sizes: ", NULL);
    }
    load_fails("[windows]\nsizes = 1m 1.5m\n", ":2: [windows] sizes: \"1.5m\" is not a duration",
               "units s, m, h, d", NULL);
}

static void config_windows_keys(void **state)
{
    (void)state;
    struct sb_config c;
    load_ok(&c, "[windows]\nenabled = false\nwatermark = 0\nmax_open = 1\ntopic = my.aggs_1-x\n");
    assert_false(c.windows_enabled);
    assert_int_equal(c.watermark_us, 0);
    assert_int_equal(c.max_open_windows, 1);
    assert_string_equal(c.aggregates_topic, "my.aggs_1-x");
    sb_config_free(&c);
    load_ok(&c, "[windows]\nwatermark = 1h\nmax_open = 1000\ntopic =\n");
    assert_int_equal(c.watermark_us, INT64_C(3600000000));
    assert_int_equal(c.max_open_windows, 1000);
    assert_string_equal(c.aggregates_topic, "");
    sb_config_free(&c);
    load_ok(&c, "[windows]\nwatermark = 90s\n");
    assert_int_equal(c.watermark_us, INT64_C(90000000));
    sb_config_free(&c);
    load_ok(&c, "[windows]\nwatermark = 0s\n");
    assert_int_equal(c.watermark_us, 0);
    sb_config_free(&c);
    load_ok(&c, "[windows]\nwatermark = 60m\n");
    assert_int_equal(c.watermark_us, INT64_C(3600000000));
    sb_config_free(&c);

    load_fails("[windows]\nenabled = maybe\n", ":2: [windows] enabled: ", "true/false", NULL);
    load_fails("[windows]\nwatermark = 61m\n",
               ":2: [windows] watermark: ", "expected a duration from 0s to 1h, got \"61m\"", NULL);
    load_fails("[windows]\nwatermark = 1d\n", ":2: [windows] watermark: ", "from 0s to 1h", NULL);
    load_fails("[windows]\nwatermark = 10\n", ":2: [windows] watermark: ", "expected a duration",
               "\"10\"", NULL);
    load_fails("[windows]\nwatermark = -1s\n", ":2: [windows] watermark: ", NULL);
    load_fails("[windows]\nwatermark = 1.5s\n", ":2: [windows] watermark: ", NULL);
    load_fails("[windows]\nwatermark =\n", ":2: [windows] watermark: ", NULL);
    load_fails("[windows]\nmax_open = 0\n", ":2: [windows] max_open: ", "from 1 to 1000", NULL);
    load_fails("[windows]\nmax_open = 1001\n", ":2: [windows] max_open: ", "from 1 to 1000", NULL);
    load_fails("[windows]\ntopic = a/b\n", ":2: [windows] topic: ", "'/'", NULL);
    load_fails("[windows]\ntopic = ..\n", ":2: [windows] topic: ", "not a valid Kafka topic", NULL);
    /* Kafka's 249 characters cannot be reached: a line holds at most 197
     * (libinih), so "topic = " and 189 characters is the longest. */
    char text[512];
    int n = snprintf(text, sizeof(text), "[windows]\ntopic = ");
    memset(text + n, 'a', 189);
    snprintf(text + n + 189, sizeof(text) - (size_t)n - 189, "\n");
    load_ok(&c, text);
    assert_int_equal(strlen(c.aggregates_topic), 189);
    sb_config_free(&c);
}

static void config_alerts_keys(void **state)
{
    (void)state;
    struct sb_config c;
    load_ok(&c, "[alerts]\nenabled = no\ntopic = plant-alerts\nrecent = 1\n");
    assert_false(c.alerts_enabled);
    assert_string_equal(c.alerts_topic, "plant-alerts");
    assert_int_equal(c.recent_alerts, 1);
    sb_config_free(&c);
    load_ok(&c, "[alerts]\nrecent = 100000\n");
    assert_int_equal(c.recent_alerts, 100000);
    sb_config_free(&c);
    load_fails("[alerts]\nrecent = 0\n", ":2: [alerts] recent: ", "from 1 to 100000", NULL);
    load_fails("[alerts]\nrecent = 100001\n", ":2: [alerts] recent: ", NULL);
    load_fails("[alerts]\ntopic = a b\n", ":2: [alerts] topic: ", "' '", NULL);
    load_fails("[alerts]\nenabled = 2\n", ":2: [alerts] enabled: ", NULL);
    load_fails("[alerts]\nwindow = 1m\n", ":2: [alerts] window: unknown key",
               "enabled, topic, recent", NULL);
}

static void config_topics_must_not_clash(void **state)
{
    (void)state;
    load_fails("[windows]\ntopic = hydraulic-PS1\n",
               ":2: [windows] topic: \"hydraulic-PS1\" is the topic of sensor PS1", NULL);
    load_fails("[kafka]\ntopic_prefix = p\n[alerts]\ntopic = p-oven\n"
               "[synthetic.oven]\nkind = temperature\n",
               ":4: [alerts] topic: \"p-oven\" is the topic of sensor oven", NULL);
    load_fails("[windows]\ntopic = x\n[alerts]\ntopic = x\n",
               ":4: [alerts] topic: \"x\" is also the [windows] aggregates topic", NULL);
    load_fails("[alerts]\ntopic = hydraulic-aggregates\n",
               ":2: [alerts] topic: ", "also the [windows] aggregates topic", NULL);
    /* A synthetic sensor named like a derived topic. */
    load_fails("[synthetic.aggregates]\nkind = energy\n",
               ":1: [synthetic.aggregates]: its topic \"hydraulic-aggregates\" is the aggregates "
               "topic",
               "set [windows] topic", NULL);
    load_fails("[synthetic.alerts]\nkind = energy\n",
               ":1: [synthetic.alerts]: its topic \"hydraulic-alerts\" is the alerts topic", NULL);
    /* Disabled features produce nothing: no clash. */
    struct sb_config c;
    load_ok(&c, "[windows]\nenabled = false\ntopic = hydraulic-PS1\n"
                "[alerts]\nenabled = false\n[synthetic.alerts]\nkind = energy\n");
    sb_config_free(&c);
    load_ok(&c, "[windows]\ntopic = aggs\n[synthetic.aggregates]\nkind = energy\n");
    sb_config_free(&c);
}

/* [kafka] layout, samples_topic, create_topics, replication_factor,
 * topic.<config>; [consumer] sensor_expiry. */
static void config_topic_keys(void **state)
{
    (void)state;
    struct sb_config c;
    char t[300];
    load_ok(&c, "");
    assert_int_equal(c.layout, SB_LAYOUT_PER_SENSOR);
    assert_true(c.create_topics);
    assert_int_equal(c.replication_factor, -1);
    /* One default: created topics accept any future event time. */
    assert_int_equal(c.topic_configs.n, 1);
    assert_string_equal(c.topic_configs.items[0].key, "message.timestamp.after.max.ms");
    assert_string_equal(c.topic_configs.items[0].value, "9223372036854775807");
    assert_true(c.sensor_expiry_us == 3600 * 1000000ll);
    sb_config_sample_topic(&c, "PS1", t, sizeof(t));
    assert_string_equal(t, "hydraulic-PS1");
    sb_config_free(&c);

    load_ok(&c, "[kafka]\ntopic_prefix = lab\nlayout = shared\ncreate_topics = no\n"
                "replication_factor = 3\ntopic.retention.ms = 604800000\n"
                "topic.min.insync.replicas = 2\n[consumer]\nsensor_expiry = 0\n");
    assert_int_equal(c.layout, SB_LAYOUT_SHARED);
    assert_false(c.create_topics);
    assert_int_equal(c.replication_factor, 3);
    assert_int_equal(c.topic_configs.n, 3);
    assert_string_equal(c.topic_configs.items[1].key, "retention.ms");
    assert_string_equal(c.topic_configs.items[1].value, "604800000");
    assert_string_equal(c.topic_configs.items[2].key, "min.insync.replicas");
    assert_true(c.sensor_expiry_us == 0);
    /* Every sensor shares the derived samples topic. */
    sb_config_sample_topic(&c, "PS1", t, sizeof(t));
    assert_string_equal(t, "lab-samples");
    sb_config_sample_topic(&c, "TS4", t, sizeof(t));
    assert_string_equal(t, "lab-samples");
    sb_config_free(&c);

    load_ok(&c, "[kafka]\nlayout = shared\nsamples_topic = plant.samples\n");
    sb_config_sample_topic(&c, "SE", t, sizeof(t));
    assert_string_equal(t, "plant.samples");
    sb_config_free(&c);

    load_fails("[kafka]\nlayout = single\n",
               ":2: [kafka] layout: expected per_sensor or shared, got \"single\"", NULL);
    load_fails("[kafka]\nreplication_factor = 0\n",
               ":2: [kafka] replication_factor: expected \"default\" or an integer from 1 to 32",
               NULL);
    load_fails("[kafka]\nreplication_factor = 33\n", ":2: [kafka] replication_factor: ", NULL);
    load_fails("[kafka]\npartitions = 10001\n",
               ":2: [kafka] partitions: expected an integer from 1 to 10000", NULL);
    load_fails("[kafka]\ntopic. = 1\n", ":2: [kafka] topic.: expected topic.<topic config>", NULL);
    load_fails("[kafka]\ntopic.Retention = 1\n",
               ":2: [kafka] topic.Retention: 'R' is not in a Kafka topic config name", NULL);
    /* A line replaces the default of its name; empty leaves it to the broker. */
    load_ok(&c, "[kafka]\ntopic.message.timestamp.after.max.ms = 3600000\n");
    assert_int_equal(c.topic_configs.n, 1);
    assert_string_equal(c.topic_configs.items[0].value, "3600000");
    sb_config_free(&c);
    load_ok(&c, "[kafka]\ntopic.message.timestamp.after.max.ms =\ntopic.retention.ms =\n");
    assert_int_equal(c.topic_configs.n, 2);
    assert_string_equal(c.topic_configs.items[0].value, "");
    assert_string_equal(c.topic_configs.items[1].key, "retention.ms");
    assert_string_equal(c.topic_configs.items[1].value, "");
    sb_config_free(&c);
    load_fails("[kafka]\ntopic.retention.ms = 1\ntopic.retention.ms = 2\n",
               ":3: [kafka] topic.retention.ms: duplicate key", NULL);
    load_fails("[kafka]\nsamples_topic = a b\n", ":2: [kafka] samples_topic: ' ' is not allowed",
               NULL);
    load_fails("[consumer]\nsensor_expiry = 31d\n", ":2: [consumer] sensor_expiry: ", NULL);
    /* The shared topic must not be an output topic. */
    load_fails("[kafka]\nlayout = shared\nsamples_topic = hydraulic-alerts\n",
               ":3: [kafka] samples_topic: \"hydraulic-alerts\" is also the alerts topic", NULL);
    load_fails("[kafka]\nlayout = shared\n[windows]\ntopic = hydraulic-samples\n",
               ":4: [windows] topic: \"hydraulic-samples\" is also the samples topic", NULL);
    /* Unused in the per-sensor layout: no clash. */
    load_ok(&c, "[kafka]\nsamples_topic = hydraulic-alerts\n");
    sb_config_free(&c);
    /* Topic settings need a restart; the expiry does not. */
    struct sb_config a, b;
    load_ok(&a, "");
    load_ok(&b, "[kafka]\ntopic.retention.ms = 1\n");
    assert_string_equal(sb_config_restart_key(&a, &b), "kafka.topic.*");
    sb_config_free(&b);
    load_ok(&b, "[kafka]\nlayout = shared\n");
    assert_string_equal(sb_config_restart_key(&a, &b), "kafka.layout");
    sb_config_free(&b);
    load_ok(&b, "[consumer]\nsensor_expiry = 5m\n");
    assert_null(sb_config_restart_key(&a, &b));
    sb_config_free(&b);
    sb_config_free(&a);
}

static void config_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t s;
    } good[] = {
        {"0", 0},    {"0s", 0},    {"1s", 1},       {"59s", 59},   {"1m", 60},
        {"90s", 90}, {"1h", 3600}, {"3600s", 3600}, {"60m", 3600}, {"007s", 7},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct sb_config c;
        load_ok_fmt(&c, "[alert.TS1]\nhigh_warning = 1\nmin_duration = %s\n", good[i].text);
        assert_int_equal(c.alert_rules[0].min_duration_us, good[i].s * 1000000);
        sb_config_free(&c);
    }
    static const struct {
        const char *text;
        int64_t s;
    } good2[] = {{"1s", 1}, {"1d", 86400}, {"24h", 86400}, {"1440m", 86400}, {"2m", 120}};
    for (size_t i = 0; i < sizeof(good2) / sizeof(good2[0]); i++) {
        struct sb_config c;
        load_ok_fmt(&c, "[synthetic.s]\nkind = energy\nanomaly_duration = %s\n", good2[i].text);
        assert_int_equal(c.synthetic[0].anomaly_duration_us, good2[i].s * 1000000);
        sb_config_free(&c);
    }
    load_fails("[alert.TS1]\nhigh_warning = 1\nmin_duration = 2h\n",
               ":3: [alert.TS1] min_duration: expected a duration from 0s to 1h, got \"2h\"", NULL);
    load_fails("[alert.TS1]\nhigh_warning = 1\nmin_duration = 5\n",
               ":3: [alert.TS1] min_duration: expected a duration such as 30s", NULL);
    load_fails("[synthetic.s]\nkind = energy\nanomaly_duration = 0\n",
               ":3: [synthetic.s] anomaly_duration: expected a duration from 1s to 1d", NULL);
    load_fails("[synthetic.s]\nkind = energy\nanomaly_duration = 1441m\n",
               ":3: [synthetic.s] anomaly_duration: ", "from 1s to 1d", NULL);
}

static void config_alert_rule_keys(void **state)
{
    (void)state;
    struct sb_config c;
    load_ok(&c, "[windows]\nsizes = 5m 1m\n"
                "[alert.PS1]\n"
                "low_critical = -5\n"
                "low_warning = 1e1\n"
                "high_warning = 180.5\n"
                "high_critical = +190\n"
                "hysteresis = 2\n"
                "min_duration = 3s\n"
                "zscore = 3.5\n"
                "zscore_baseline = 20\n"
                "zscore_window = 300s\n"
                "zscore_on = value\n"
                "[alert.VS1]\n"
                "high_warning = 1\n");
    assert_int_equal(c.nalert_rules, 2);
    const struct sb_alert_rule_cfg *r = &c.alert_rules[0];
    assert_string_equal(r->sensor, "PS1");
    assert_true(r->low_critical == -5);
    assert_true(r->low_warning == 10);
    assert_true(r->high_warning == 180.5);
    assert_true(r->high_critical == 190);
    assert_true(r->hysteresis == 2);
    assert_int_equal(r->min_duration_us, 3000000);
    assert_true(r->zscore == 3.5);
    assert_int_equal(r->zscore_baseline, 20);
    assert_int_equal(r->zscore_window_us, INT64_C(300000000));
    assert_int_equal(r->zscore_on, SB_ZSCORE_VALUE);
    assert_true(sb_alert_rule_has_threshold(r));
    assert_true(sb_alert_rule_has_zscore(r));
    /* Defaults of a rule: unset thresholds and zscore are NAN, the
     * window is the smallest size. */
    r = &c.alert_rules[1];
    assert_string_equal(r->sensor, "VS1");
    assert_true(isnan(r->low_critical) && isnan(r->low_warning) && isnan(r->high_critical));
    assert_true(r->high_warning == 1);
    assert_true(r->hysteresis == 0);
    assert_int_equal(r->min_duration_us, 0);
    assert_true(isnan(r->zscore));
    assert_false(sb_alert_rule_has_zscore(r));
    assert_int_equal(r->zscore_baseline, 10);
    assert_int_equal(r->zscore_window_us, INT64_C(60000000));
    assert_int_equal(r->zscore_on, SB_ZSCORE_MEAN);
    assert_ptr_equal(sb_config_find_alert_rule(&c, "VS1"), r);
    assert_null(sb_config_find_alert_rule(&c, "TS1"));
    sb_config_free(&c);

    /* A rule with only the statistical part. */
    load_ok(&c, "[alert.CE]\nzscore = 4\n");
    assert_false(sb_alert_rule_has_threshold(&c.alert_rules[0]));
    assert_true(sb_alert_rule_has_zscore(&c.alert_rules[0]));
    sb_config_free(&c);

    static const struct {
        const char *line;
        const char *want;
    } bad[] = {
        {"low_critical = x", "[alert.TS1] low_critical: expected a finite decimal number"},
        {"low_warning = inf", "[alert.TS1] low_warning: expected a finite"},
        {"high_warning = nan", "[alert.TS1] high_warning: expected a finite"},
        {"high_critical = 1e999", "[alert.TS1] high_critical: expected a finite"},
        {"high_critical = 0x10", "[alert.TS1] high_critical: "},
        {"high_critical =", "[alert.TS1] high_critical: "},
        {"hysteresis = -0.1", "[alert.TS1] hysteresis: expected a number >= 0, got \"-0.1\""},
        {"min_duration = 1.5s", "[alert.TS1] min_duration: expected a duration"},
        {"zscore = 0", "[alert.TS1] zscore: expected a number > 0, got \"0\""},
        {"zscore = -2", "[alert.TS1] zscore: expected a number > 0"},
        {"zscore_baseline = 1", "[alert.TS1] zscore_baseline: expected an integer from 2 to 1000"},
        {"zscore_baseline = 1001", "[alert.TS1] zscore_baseline: "},
        {"zscore_window = 0s", "[alert.TS1] zscore_window: expected a duration from 1s to 1d"},
        {"zscore_on = median", "[alert.TS1] zscore_on: expected mean"},
        {"zscore_on = Mean", "[alert.TS1] zscore_on: "},
        {"threshold = 3", "[alert.TS1] threshold: unknown key; [alert.TS1] has low_critical"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256];
        /* The bad line comes first: it is the first error. */
        snprintf(text, sizeof(text), "[alert.TS1]\n%s\nhigh_warning = 60\n", bad[i].line);
        load_fails(text, ":2: ", bad[i].want, NULL);
    }
    /* Key before any section: the hint names the per-sensor section. */
    load_fails("zscore_on = mean\n", ":1: zscore_on: key before any section",
               "belongs in [alert.<SENSOR>]", NULL);
}

static void config_alert_threshold_order(void **state)
{
    (void)state;
    /* Allowed: equal within one side, any subset. */
    static const char *const good[] = {
        "low_critical = 1\nlow_warning = 1\nhigh_warning = 2\nhigh_critical = 2\n",
        "low_critical = -10\nhigh_critical = 10\n",
        "low_warning = 5\n",
        "high_critical = 5\n",
        "low_critical = 1\nhigh_warning = 1.001\n",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct sb_config c;
        load_ok_fmt(&c, "[alert.TS1]\n%s", good[i]);
        sb_config_free(&c);
    }
    /* The error names the section's header line and both keys' lines. */
    load_fails("[general]\n[alert.TS1]\nlow_warning = 40\nhigh_warning = 30\n",
               ":2: [alert.TS1]: low_warning = 40 (line 3) must be below high_warning = 30 "
               "(line 4)",
               "low_critical <= low_warning < high_warning <= high_critical", NULL);
    load_fails("[alert.TS1]\nlow_warning = 30\nhigh_warning = 30\n",
               ":1: [alert.TS1]: low_warning = 30 (line 2) must be below high_warning = 30", NULL);
    load_fails("[alert.TS1]\nlow_critical = 31\nlow_warning = 30\n",
               ":1: [alert.TS1]: low_critical = 31 (line 2) must be at most low_warning = 30",
               NULL);
    load_fails("[alert.TS1]\nhigh_critical = 60\nhigh_warning = 60.5\n",
               ":1: [alert.TS1]: high_warning = 60.5 (line 3) must be at most high_critical = 60 "
               "(line 2)",
               NULL);
    load_fails("[alert.TS1]\nlow_critical = 10\nhigh_critical = 10\n",
               ":1: [alert.TS1]: low_critical = 10 (line 2) must be below high_critical = 10",
               NULL);
    load_fails("[alert.TS1]\nlow_warning = 10\nhigh_critical = 9\n",
               "[alert.TS1]: low_warning = 10 (line 2) must be below high_critical = 9", NULL);
    /* Keys from two blocks of the same section are checked together. */
    load_fails("[alert.TS1]\nlow_warning = 50\n[general]\nlog_level = info\n[alert.TS1]\n"
               "high_warning = 40\n",
               ":1: [alert.TS1]: low_warning = 50 (line 2) must be below high_warning = 40 "
               "(line 6)",
               NULL);
}

static void config_alert_needs_a_rule(void **state)
{
    (void)state;
    load_fails("[general]\n[alert.TS1]\nhysteresis = 1\nmin_duration = 5s\n",
               ":2: [alert.TS1]: no rule; set at least one of low_critical", "or zscore", NULL);
    /* A section without any key still exists and is checked. */
    load_fails("[alert.TS1]\n[general]\nlog_level = info\n", ":1: [alert.TS1]: no rule", NULL);
}

static void config_alert_unknown_sensor(void **state)
{
    (void)state;
    load_fails("[general]\nlog_level = info\n[alert.PS7]\nhigh_warning = 1\n",
               ":3: [alert.PS7]: unknown sensor \"PS7\"", "PS1 PS2", "[synthetic.<NAME>]", NULL);
    load_fails("[alert.ts1]\nhigh_warning = 1\n", ":1: [alert.ts1]: unknown sensor \"ts1\"", NULL);
    load_fails("[alert.oven]\nhigh_warning = 1\n[synthetic.oven2]\nkind = temperature\n",
               ":1: [alert.oven]: unknown sensor \"oven\"", NULL);
    load_fails("[alert.]\nhigh_warning = 1\n", ":1: [alert.]: unknown section", "[alert.<SENSOR>]",
               "[synthetic.<NAME>]", NULL);
    load_fails("[alert]\nhigh_warning = 1\n", ":1: [alert]: unknown section", NULL);
    load_fails("[synthetic]\nkind = energy\n", ":1: [synthetic]: unknown section", NULL);
    load_fails("[alert.a/b]\n", ":1: [alert.a/b]: '/' is not allowed in a sensor name", NULL);
    load_fails("[alert.a b]\n", ":1: [alert.a b]: ' ' is not allowed", NULL);
    char text[256], name[80];
    memset(name, 'x', 64);
    name[64] = '\0';
    snprintf(text, sizeof(text), "[alert.%s]\nhigh_warning = 1\n", name);
    load_fails(text, ":1: [alert.", "sensor name longer than 63 characters", NULL);
    /* A synthetic sensor may be defined after its rule; ':' is fine in a
     * sensor name but no synthetic sensor can have one. */
    struct sb_config c;
    load_ok(&c, "[alert.line1-oven]\nhigh_warning = 200\n"
                "[synthetic.line1-oven]\nkind = temperature\n");
    assert_int_equal(c.nalert_rules, 1);
    assert_string_equal(c.alert_rules[0].sensor, "line1-oven");
    assert_true(sb_config_sensor_known(&c, "line1-oven"));
    assert_true(sb_config_sensor_known(&c, "PS1"));
    assert_false(sb_config_sensor_known(&c, "line1-ove"));
    sb_config_free(&c);
    load_fails("[alert.plant:1]\nhigh_warning = 1\n", ":1: [alert.plant:1]: unknown sensor", NULL);
}

static void config_alert_zscore_window(void **state)
{
    (void)state;
    struct sb_config c;
    load_ok(&c, "[windows]\nsizes = 1h, 5m\n[alert.TS1]\nzscore = 4\n[alert.TS2]\nzscore = 4\n"
                "zscore_window = 1h\n");
    assert_int_equal(c.alert_rules[0].zscore_window_us, INT64_C(300000000));
    assert_int_equal(c.alert_rules[1].zscore_window_us, INT64_C(3600000000));
    sb_config_free(&c);
    /* The sizes may come after the rule. */
    load_ok(&c, "[alert.TS1]\nzscore = 4\nzscore_window = 60m\n[windows]\nsizes = 1h\n");
    assert_int_equal(c.alert_rules[0].zscore_window_us, INT64_C(3600000000));
    sb_config_free(&c);

    load_fails("[windows]\nsizes = 1m 5m\n[alert.TS1]\nzscore = 4\nzscore_window = 2m\n",
               ":5: [alert.TS1] zscore_window: 2m is not one of [windows] sizes (1m, 5m)", NULL);
    load_fails("[alert.TS1]\nzscore = 4\nzscore_window = 5m\n",
               ":3: [alert.TS1] zscore_window: 5m is not one of [windows] sizes (1m)", NULL);
    /* The statistical rule needs windows... */
    load_fails("[windows]\nenabled = false\n[alert.TS1]\nhigh_warning = 60\nzscore = 4\n",
               ":5: [alert.TS1] zscore: ", "[windows] enabled = false", NULL);
    /* ...the threshold rule does not. */
    load_ok(&c, "[windows]\nenabled = false\n[alert.TS1]\nhigh_warning = 60\n");
    sb_config_free(&c);
}

static void config_alert_sections_merge(void **state)
{
    (void)state;
    struct sb_config c;
    load_ok(&c, "[alert.TS1]\nhigh_warning = 60\n[alert.TS2]\nhigh_warning = 61\n"
                "[alert.TS1]\nhigh_critical = 65\n");
    assert_int_equal(c.nalert_rules, 2);
    assert_string_equal(c.alert_rules[0].sensor, "TS1");
    assert_true(c.alert_rules[0].high_warning == 60);
    assert_true(c.alert_rules[0].high_critical == 65);
    sb_config_free(&c);
    load_fails("[alert.TS1]\nhigh_warning = 60\n[alert.TS2]\nhigh_warning = 61\n"
               "[alert.TS1]\nhigh_warning = 62\n",
               ":6: [alert.TS1] high_warning: duplicate key (first set on line 2)", NULL);
    load_fails("[alert.TS1]\nhigh_warning = 60\nhigh_warning = 60\n",
               ":3: [alert.TS1] high_warning: duplicate key (first set on line 2)", NULL);
    /* The same key in two sensors' sections is two keys. */
    load_ok(&c, "[alert.TS1]\nhigh_warning = 60\n[alert.TS2]\nhigh_warning = 60\n");
    sb_config_free(&c);
}

/* Builds a file of n synthetic sensors s0..s{n-1}, each with an alert
 * rule, so both limits are reached with valid sensors. */
static void limit_text(struct sb_buf *b, int nsynth, int nalert)
{
    sb_buf_init(b);
    for (int i = 0; i < nsynth; i++)
        sb_buf_printf(b, "[synthetic.s%d]\nkind = energy\nseed = %d\n", i, i);
    for (int i = 0; i < nalert; i++)
        sb_buf_printf(b, "[alert.s%d]\nhigh_warning = %d\n", i, i);
}

static void config_limits(void **state)
{
    (void)state;
    struct sb_config c;
    struct sb_buf b;
    limit_text(&b, SB_MAX_SYNTHETIC, SB_MAX_ALERT_RULES);
    load_ok(&c, b.data);
    assert_int_equal(c.nsynthetic, SB_MAX_SYNTHETIC);
    assert_int_equal(c.nalert_rules, SB_MAX_ALERT_RULES);
    assert_int_equal(c.synthetic[255].seed, 255);
    assert_int_equal(c.synthetic[49999].seed, 49999);
    assert_string_equal(c.synthetic[49999].name, "s49999");
    assert_true(c.alert_rules[255].high_warning == 255);
    sb_config_free(&c);
    sb_buf_free(&b);

    limit_text(&b, SB_MAX_SYNTHETIC, 0);
    sb_buf_puts(&b, "[synthetic.one-more]\nkind = energy\n");
    /* Three lines per sensor: the next header is on line 3 x 50000 + 1. */
    load_fails(b.data, ":150001: [synthetic.one-more]: more than 50000 [synthetic.<NAME>] sections",
               NULL);
    sb_buf_free(&b);

    /* 256 rules on 17 UCI and 240 synthetic sensors, one too many. */
    limit_text(&b, 240, 240);
    size_t ncat;
    const struct sb_sensor_info *cat = sb_sensors_uci(&ncat);
    for (size_t i = 0; i < ncat; i++)
        sb_buf_printf(&b, "[alert.%s]\nhigh_warning = 1e9\n", cat[i].name);
    load_fails(b.data, ":1233: [alert.SE]: more than 256 [alert.<SENSOR>] sections", NULL);
    sb_buf_free(&b);
}

static void config_synthetic_keys(void **state)
{
    (void)state;
    struct sb_config c;
    load_ok(&c, "[synthetic.line1-oven-temp]\n"
                "kind = temperature\n"
                "unit = K\n"
                "rate_hz = 0.5\n"
                "base = 453.15\n"
                "noise = 0\n"
                "drift_per_hour = -0.25\n"
                "daily_amplitude = 2\n"
                "anomaly_probability = 1\n"
                "anomaly_magnitude = -12.5\n"
                "anomaly_duration = 2m\n"
                "seed = 18446744073709551615\n"
                "samples = 1000\n"
                "factory_section = Line 1\n"
                "machine = Oven \"A\" ; comment\n"
                "zone = Halle Süd\n");
    assert_int_equal(c.nsynthetic, 1);
    const struct sb_synth_cfg *s = &c.synthetic[0];
    assert_ptr_equal(sb_config_find_synthetic(&c, "line1-oven-temp"), s);
    assert_null(sb_config_find_synthetic(&c, "PS1"));
    assert_string_equal(s->name, "line1-oven-temp");
    assert_int_equal(s->kind, SB_SYNTH_TEMPERATURE);
    assert_string_equal(s->unit, "K");
    assert_true(s->rate_hz == 0.5);
    assert_true(s->base == 453.15);
    assert_true(s->noise == 0);
    assert_true(s->drift_per_hour == -0.25);
    assert_true(s->daily_amplitude == 2);
    assert_true(s->anomaly_probability == 1);
    assert_true(s->anomaly_magnitude == -12.5);
    assert_int_equal(s->anomaly_duration_us, INT64_C(120000000));
    assert_true(s->seed == UINT64_MAX);
    assert_true(s->max_samples == 1000);
    assert_string_equal(s->factory_section, "Line 1");
    assert_string_equal(s->machine, "Oven \"A\"");
    assert_string_equal(s->zone, "Halle Süd");
    sb_config_free(&c);

    /* Defaults of the keys that do not depend on the kind. */
    load_ok(&c, "[synthetic.h]\nkind = humidity\n");
    s = &c.synthetic[0];
    assert_true(s->rate_hz == 1);
    assert_true(s->drift_per_hour == 0);
    assert_true(s->daily_amplitude == 0);
    assert_true(s->anomaly_probability == 0);
    assert_true(s->anomaly_magnitude == 0);
    assert_int_equal(s->anomaly_duration_us, INT64_C(30000000));
    assert_true(s->seed == 1);
    assert_true(s->max_samples == 0);
    assert_string_equal(s->factory_section, "");
    assert_string_equal(s->machine, "");
    assert_string_equal(s->zone, "");
    sb_config_free(&c);

    load_ok(&c, "[synthetic.h]\nkind = humidity\nrate_hz = 1000\nseed = 0\n");
    assert_true(c.synthetic[0].rate_hz == 1000);
    assert_true(c.synthetic[0].seed == 0);
    sb_config_free(&c);

    static const struct {
        const char *line;
        const char *want;
    } bad[] = {
        {"kind = Temperature", "[synthetic.s] kind: expected temperature, vibration, energy"},
        {"kind = light", "[synthetic.s] kind: "},
        {"unit =", "[synthetic.s] unit: expected 1 to 31 bytes of text, got 0"},
        {"unit = abcdefghijklmnopqrstuvwxyz012345", "[synthetic.s] unit: expected 1 to 31"},
        {"rate_hz = 0", "[synthetic.s] rate_hz: expected a number from 0.001 to 1000, got \"0\""},
        {"rate_hz = 0.0009", "[synthetic.s] rate_hz: "},
        {"rate_hz = 1000.5", "[synthetic.s] rate_hz: "},
        {"base = warm", "[synthetic.s] base: expected a finite decimal number"},
        {"noise = -1", "[synthetic.s] noise: expected a number >= 0"},
        {"drift_per_hour = inf", "[synthetic.s] drift_per_hour: "},
        {"daily_amplitude = -1", "[synthetic.s] daily_amplitude: expected a number >= 0"},
        {"anomaly_probability = 1.01", "[synthetic.s] anomaly_probability: expected a number "
                                       "from 0 to 1"},
        {"anomaly_magnitude = 1e400", "[synthetic.s] anomaly_magnitude: "},
        {"anomaly_duration = 30", "[synthetic.s] anomaly_duration: expected a duration"},
        {"seed = 18446744073709551616", "[synthetic.s] seed: expected an integer from 0 to "
                                        "18446744073709551615"},
        {"seed = -1", "[synthetic.s] seed: "},
        {"seed = 1e3", "[synthetic.s] seed: "},
        {"samples = 99999999999999999999", "[synthetic.s] samples: "},
        {"samples = ten", "[synthetic.s] samples: "},
        {"machine = 0123456789012345678901234567890123456789012345678901234567890123",
         "[synthetic.s] machine: expected at most 63 bytes of text, got 64"},
        {"zone = a\tb", "[synthetic.s] zone: byte 2 is a control character"},
        {"zone = \xff", "[synthetic.s] zone: byte 1 is a control character or not valid UTF-8"},
        {"zone = \xc3(", "[synthetic.s] zone: byte 1 "},
        {"zone = \xc0\xaf", "[synthetic.s] zone: byte 1 "},     /* overlong '/' */
        {"zone = \xed\xa0\x80", "[synthetic.s] zone: byte 1 "}, /* surrogate */
        {"zone = a\xc2\x85", "[synthetic.s] zone: byte 2 "},    /* C1 control NEL */
        {"factory_section = \x7f", "[synthetic.s] factory_section: byte 1 "},
        {"enabled = true", "[synthetic.s] enabled: unknown key; [synthetic.s] has kind, unit"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "[synthetic.s]\nkind = energy\n%s\n", bad[i].line);
        /* The kind line itself is the case when it is about kind. */
        if (strncmp(bad[i].line, "kind", 4) == 0) {
            snprintf(text, sizeof(text), "[synthetic.s]\nseed = 2\n%s\n", bad[i].line);
        }
        load_fails(text, ":3: ", bad[i].want, NULL);
    }
    load_fails("[synthetic.s]\nkind = energy\nkind = energy\n",
               ":3: [synthetic.s] kind: duplicate key (first set on line 2)", NULL);
}

static void config_synthetic_kind_defaults(void **state)
{
    (void)state;
    static const struct {
        const char *kind;
        enum sb_synth_kind k;
        const char *unit;
        double base, noise;
    } kinds[] = {
        {"temperature", SB_SYNTH_TEMPERATURE, "°C", 22, 0.3},
        {"vibration", SB_SYNTH_VIBRATION, "mm/s", 2.5, 0.2},
        {"energy", SB_SYNTH_ENERGY, "kW", 15, 0.8},
        {"humidity", SB_SYNTH_HUMIDITY, "%", 45, 1.5},
        {"pressure", SB_SYNTH_PRESSURE, "bar", 6, 0.05},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        struct sb_config c;
        load_ok_fmt(&c, "[synthetic.x]\nseed = 3\nkind = %s\n", kinds[i].kind);
        const struct sb_synth_cfg *s = &c.synthetic[0];
        assert_int_equal(s->kind, kinds[i].k);
        assert_string_equal(s->unit, kinds[i].unit);
        assert_true(s->base == kinds[i].base);
        assert_true(s->noise == kinds[i].noise);
        sb_config_free(&c);
    }
    /* Given keys win whether they come before or after kind, and in a
     * later block of the same section. */
    struct sb_config c;
    load_ok(&c, "[synthetic.a]\nbase = 100\nunit = degF\nkind = temperature\n"
                "[synthetic.b]\nkind = pressure\nnoise = 0\n"
                "[synthetic.c]\nkind = vibration\n[general]\nlog_level = info\n"
                "[synthetic.c]\nbase = 7\n");
    assert_int_equal(c.nsynthetic, 3);
    assert_string_equal(c.synthetic[0].unit, "degF");
    assert_true(c.synthetic[0].base == 100);
    assert_true(c.synthetic[0].noise == 0.3);
    assert_string_equal(c.synthetic[1].unit, "bar");
    assert_true(c.synthetic[1].base == 6);
    assert_true(c.synthetic[1].noise == 0);
    assert_true(c.synthetic[2].base == 7);
    assert_true(c.synthetic[2].noise == 0.2);
    assert_string_equal(c.synthetic[2].unit, "mm/s");
    sb_config_free(&c);

    load_fails("[general]\n[synthetic.x]\nbase = 1\n",
               ":2: [synthetic.x]: kind is required: temperature, vibration, energy, humidity or "
               "pressure",
               NULL);
    load_fails("[synthetic.x]\n", ":1: [synthetic.x]: kind is required", NULL);
}

static void config_synthetic_names(void **state)
{
    (void)state;
    load_fails("[general]\n[synthetic.PS1]\nkind = pressure\n",
               ":2: [synthetic.PS1]: \"PS1\" is a UCI sensor; choose another name", NULL);
    load_fails("[synthetic.SE]\n", ":1: [synthetic.SE]: \"SE\" is a UCI sensor", NULL);
    load_fails("[synthetic.plant:1]\nkind = energy\n",
               ":1: [synthetic.plant:1]: ':' is not allowed in a synthetic sensor name", NULL);
    load_fails("[synthetic.]\n", ":1: [synthetic.]: unknown section", NULL);

    /* Names up to 63 characters, longer than libinih's 49-character
     * section buffer: two that share their first 60 characters stay two. */
    char name1[64], name2[64], text[512];
    memset(name1, 'n', 63);
    name1[63] = '\0';
    memcpy(name2, name1, sizeof(name2));
    name2[62] = 'm';
    snprintf(text, sizeof(text),
             "[synthetic.%s]\nkind = energy\n[synthetic.%s]\nkind = humidity\n"
             "[alert.%s]\nhigh_warning = 1\n",
             name1, name2, name2);
    struct sb_config c;
    load_ok(&c, text);
    assert_int_equal(c.nsynthetic, 2);
    assert_string_equal(c.synthetic[0].name, name1);
    assert_string_equal(c.synthetic[1].name, name2);
    assert_int_equal(c.synthetic[1].kind, SB_SYNTH_HUMIDITY);
    assert_string_equal(c.alert_rules[0].sensor, name2);
    sb_config_free(&c);
    snprintf(text, sizeof(text), "[synthetic.%sx]\nkind = energy\n", name1);
    load_fails(text, ":1: [synthetic.", "synthetic sensor name longer than 63 characters", NULL);

    /* The longest topic_prefix a line can hold with the longest name
     * still fits Kafka's 249 characters (the check is a guard). */
    char prefix[200];
    memset(prefix, 'p', 184);
    prefix[184] = '\0';
    snprintf(text, sizeof(text), "[kafka]\ntopic_prefix=%s\n[synthetic.%s]\nkind = energy\n",
             prefix, name1);
    load_ok(&c, text);
    assert_int_equal(strlen(c.topic_prefix) + 1 + strlen(c.synthetic[0].name), 248);
    sb_config_free(&c);
}

static void config_restart_key_new_sections(void **state)
{
    (void)state;
    static const char base[] = "[windows]\nsizes = 1m 5m\n"
                               "[alert.TS1]\nhigh_warning = 60\nzscore = 4\n"
                               "[synthetic.oven]\nkind = temperature\nseed = 1\n";
    struct sb_config a, b;
    load_ok(&a, base);

    /* Alert rules and synthetic sensors may change, appear or go. */
    static const char *const reloadable[] = {
        "[windows]\nsizes = 5m 1m\n"
        "[alert.TS1]\nhigh_warning = 61\nhysteresis = 1\nzscore = 3\nzscore_window = 5m\n"
        "[synthetic.oven]\nkind = temperature\nseed = 2\nbase = 190\nmachine = Oven 2\n",
        "[windows]\nsizes = 1m 5m\n",
        "[windows]\nsizes = 1m 5m\n[alert.TS2]\nlow_warning = 40\n[synthetic.oven]\n"
        "kind = energy\n[synthetic.fan]\nkind = vibration\n[alert.fan]\nhigh_warning = 5\n",
    };
    for (size_t i = 0; i < sizeof(reloadable) / sizeof(reloadable[0]); i++) {
        load_ok(&b, reloadable[i]);
        const char *key = sb_config_restart_key(&a, &b);
        if (key)
            print_error("for:\n%s\nunexpected restart key %s\n", reloadable[i], key);
        assert_null(key);
        sb_config_free(&b);
    }

    static const struct {
        const char *text;
        const char *key;
    } cases[] = {
        {"[windows]\nsizes = 1m 5m\nenabled = false\n", "windows.enabled"},
        {"[windows]\nsizes = 1m\n", "windows.sizes"},
        {"[windows]\nsizes = 1m 10m\n", "windows.sizes"},
        {"[windows]\nsizes = 1m 5m 1h\n", "windows.sizes"},
        {"[windows]\nsizes = 1m 5m\nwatermark = 11s\n", "windows.watermark"},
        {"[windows]\nsizes = 1m 5m\nmax_open = 17\n", "windows.max_open"},
        {"[windows]\nsizes = 1m 5m\ntopic = aggs\n", "windows.topic"},
        {"[windows]\nsizes = 1m 5m\n[alerts]\nenabled = false\n", "alerts.enabled"},
        {"[windows]\nsizes = 1m 5m\n[alerts]\ntopic = al\n", "alerts.topic"},
        {"[windows]\nsizes = 1m 5m\n[alerts]\nrecent = 10\n", "alerts.recent"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        load_ok(&b, cases[i].text);
        const char *key = sb_config_restart_key(&a, &b);
        if (!key || strcmp(key, cases[i].key) != 0)
            print_error("for:\n%s\nexpected %s, got %s\n", cases[i].text, cases[i].key,
                        key ? key : "NULL");
        assert_non_null(key);
        assert_string_equal(key, cases[i].key);
        sb_config_free(&b);
    }
    sb_config_free(&a);
}

static void config_errors_free_everything(void **state)
{
    (void)state;
    /* Errors after rules and sensors were built: valgrind checks that
     * sb_config_free releases what the failed load allocated. */
    load_fails("[synthetic.a]\nkind = energy\nunit = x\nmachine = m\n[alert.a]\nhigh_warning = 1\n"
               "[alert.TS1]\nhigh_warning = 1\n[alert.TS2]\nbogus = 1\n",
               ":10: [alert.TS2] bogus: unknown key", NULL);
    load_fails("[synthetic.a]\nkind = energy\nzone = z\n[alert.a]\nlow_warning = 2\n"
               "high_warning = 1\n",
               ":4: [alert.a]: low_warning", NULL);
    load_fails("[windows]\ntopic = t\n[alerts]\ntopic = u\n[synthetic.a]\nkind = energy\n"
               "[alert.a]\nhigh_warning = 1\n[replay]\ndataset = /nonexistent\n",
               ":10: [replay] dataset: ", NULL);
    /* Loading twice over a struct whose load failed, after freeing it. */
    struct sb_config c;
    char err[512];
    load_raw(&c, "[synthetic.a]\nkind = x\n", err, sizeof(err));
    sb_config_free(&c);
    load_ok(&c, "[synthetic.a]\nkind = energy\n");
    sb_config_free(&c);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_config.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    /* Compare against canonical paths: /tmp may be a symlink. */
    char real[PATH_MAX];
    if (!realpath(tmpdir, real))
        return -1;
    snprintf(tmpdir, sizeof(tmpdir), "%s", real);
    snprintf(datadir, sizeof(datadir), "%.*s/data", PATH_MAX - 8, tmpdir);
    return mkdir(datadir, 0700);
}

static int group_teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
    const char *env = getenv("SB_SOURCE_ROOT");
    if (argc > 1)
        source_root = argv[1];
    else if (env && *env)
        source_root = env;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_defaults),
        cmocka_unit_test(config_shipped_file_loads),
        cmocka_unit_test(config_missing_file_fails),
        cmocka_unit_test(config_bad_values_name_file_line_key),
        cmocka_unit_test(config_unknown_section),
        cmocka_unit_test(config_unknown_key),
        cmocka_unit_test(config_key_outside_section),
        cmocka_unit_test(config_duplicate_key),
        cmocka_unit_test(config_kafka_passthrough_keeps_order),
        cmocka_unit_test(config_kafka_forbidden_and_empty),
        cmocka_unit_test(config_speed),
        cmocka_unit_test(config_cycles),
        cmocka_unit_test(config_booleans),
        cmocka_unit_test(config_sensors),
        cmocka_unit_test(config_brokers_and_listen),
        cmocka_unit_test(config_event_epoch),
        cmocka_unit_test(config_log_level),
        cmocka_unit_test(config_dataset_relative_resolved),
        cmocka_unit_test(config_dataset_checked_when_enabled),
        cmocka_unit_test(config_syntax_error_line),
        cmocka_unit_test(config_indented_line_rejected),
        cmocka_unit_test(config_long_line_rejected),
        cmocka_unit_test(config_crlf_bom_and_comments),
        cmocka_unit_test(config_restart_key),
        cmocka_unit_test(config_changes_name_apply_steps),
        cmocka_unit_test(config_new_defaults),
        cmocka_unit_test(config_condition_keys),
        cmocka_unit_test(config_windows_sizes),
        cmocka_unit_test(config_windows_keys),
        cmocka_unit_test(config_alerts_keys),
        cmocka_unit_test(config_topics_must_not_clash),
        cmocka_unit_test(config_topic_keys),
        cmocka_unit_test(config_durations),
        cmocka_unit_test(config_alert_rule_keys),
        cmocka_unit_test(config_alert_threshold_order),
        cmocka_unit_test(config_alert_needs_a_rule),
        cmocka_unit_test(config_alert_unknown_sensor),
        cmocka_unit_test(config_alert_zscore_window),
        cmocka_unit_test(config_alert_sections_merge),
        cmocka_unit_test(config_limits),
        cmocka_unit_test(config_synthetic_keys),
        cmocka_unit_test(config_synthetic_kind_defaults),
        cmocka_unit_test(config_synthetic_names),
        cmocka_unit_test(config_restart_key_new_sections),
        cmocka_unit_test(config_errors_free_everything),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
