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

#include <errno.h>
#include <ftw.h>
#include <limits.h>
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
    /* The shipped file spells out the defaults: it changes nothing. */
    if (have_data) {
        assert_null(sb_config_restart_key(&c, &d));
        assert_int_equal(c.log_level, d.log_level);
        assert_int_equal(c.cycle_last, d.cycle_last);
        assert_int_equal(c.sensors.n, 0);
        assert_int_equal(c.event_epoch_us, -1);
    }
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
    for (int i = 0; i < 300 * 1024 / 64; i++)
        fprintf(f, "; %61s\n", "padding");
    assert_int_equal(fclose(f), 0);
    sb_config_defaults(&c);
    assert_int_equal(sb_config_load(&c, path, err, sizeof(err)), -EFBIG);
    assert_non_null(strstr(err, "huge.conf: larger than"));
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
    load_fails("[kafka]\npartitions = 257\n", ":2: [kafka] partitions: ", "from 1 to 256", NULL);
    load_fails("[kafka]\npartitions = -1\n", ":2: [kafka] partitions: ", NULL);
    load_fails("[kafka]\npartitions = 4x\n", ":2: [kafka] partitions: ", "\"4x\"", NULL);
    load_fails("[kafka]\ntopic_prefix = a/b\n", ":2: [kafka] topic_prefix: ", "'/'", NULL);
    load_fails("[kafka]\ntopic_prefix =\n", ":2: [kafka] topic_prefix: ", NULL);
    load_fails("[producer]\nenabled = maybe\n",
               ":2: [producer] enabled: ", "true/false, yes/no, on/off or 1/0", NULL);
    load_fails("[producer]\nflush_timeout_ms = 600001\n",
               ":2: [producer] flush_timeout_ms: ", "from 0 to 600000", NULL);
    load_fails("[consumer]\ngroup_id =\n", ":2: [consumer] group_id: must not be empty", NULL);
    load_fails("[consumer]\nstrict_sensors = 2\n", ":2: [consumer] strict_sensors: ", NULL);
    load_fails("[replay]\n; speed up\nspeed = fast\n",
               ":3: [replay] speed: ", "expected a number >= 0.001", "or \"max\", got \"fast\"", NULL);
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
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
