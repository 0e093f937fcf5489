/*
 * fuzz_config.c - the configuration parser, sb_config_load, on the bytes
 * of a configuration file: what `--check-config` and every SIGHUP reload
 * read.
 *
 * sb_config_load reads a path, so each input is written to conf/fuzz.conf
 * in a directory made once under TMPDIR, beside an empty
 * datasets/uci-hydraulic: the shipped file's "dataset =
 * ../datasets/uci-hydraulic" then resolves, and a valid file gets through
 * the last check to success. Each input is loaded over the defaults, as
 * the daemon does at start and on reload, and:
 *   - the result is 0, -EINVAL, or -EFBIG for a file over the size cap;
 *   - a refusal names the file and, where it gives one, a line of the file
 *     ("PATH:LINE: ..."), as config.h promises;
 *   - a success leaves every documented bound of config.h kept (counts,
 *     ranges, ascending distinct window sizes, ordered thresholds, valid
 *     UTF-8 in the synthetic sensors' strings), finds each rule and
 *     synthetic sensor by name, and loading the same file again gives a
 *     configuration in which sb_config_changes sees no change at all (a
 *     reload of an unchanged file needs no restart and applies nothing);
 *   - either way sb_config_free releases everything (LeakSanitizer under
 *     libFuzzer, valgrind in the replay).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "sensorbridge/config.h"
#include "sensorbridge/log.h"

static char dir[4096];
static char path[4096 + 32];

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void remove_dir(void)
{
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The harness checks the parser's results; its log lines are noise. */
    sb_log_level = SB_LOG_ERR - 1;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/sb-fuzz-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    SB_FUZZ_CHECK(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir, strerror(errno));
    atexit(remove_dir);
    char sub[sizeof(path)];
    snprintf(sub, sizeof(sub), "%s/conf", dir);
    SB_FUZZ_CHECK(mkdir(sub, 0700) == 0, "mkdir %s: %s", sub, strerror(errno));
    snprintf(sub, sizeof(sub), "%s/datasets", dir);
    SB_FUZZ_CHECK(mkdir(sub, 0700) == 0, "mkdir %s: %s", sub, strerror(errno));
    snprintf(sub, sizeof(sub), "%s/datasets/uci-hydraulic", dir);
    SB_FUZZ_CHECK(mkdir(sub, 0700) == 0, "mkdir %s: %s", sub, strerror(errno));
    snprintf(path, sizeof(path), "%s/conf/fuzz.conf", dir);
    return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    SB_FUZZ_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, data + off, size - off);
        SB_FUZZ_CHECK(n > 0, "write %s: %s", path, strerror(errno));
        off += (size_t)n;
    }
    SB_FUZZ_CHECK(close(fd) == 0, "close %s: %s", path, strerror(errno));
}

/* The error names the file, then optionally a line 1..nlines. */
static void check_error(const char *err, size_t nlines)
{
    size_t plen = strlen(path);
    SB_FUZZ_CHECK(strncmp(err, path, plen) == 0 && err[plen] == ':', "error \"%s\" names no file",
                  err);
    const char *p = err + plen + 1;
    if (*p >= '0' && *p <= '9') {
        char *end;
        unsigned long line = strtoul(p, &end, 10);
        SB_FUZZ_CHECK(*end == ':' && line >= 1 && line <= nlines,
                      "error \"%s\": line %lu of a file of %zu lines", err, line, nlines);
    }
    SB_FUZZ_CHECK(strlen(err) > plen + 2, "error \"%s\" says nothing", err);
}

static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : 4;
        if (*p >= 0xf8 || (*p >= 0x80 && *p < 0xc2))
            return false;
        for (size_t i = 1; i < n; i++)
            if ((p[i] & 0xc0) != 0x80)
                return false;
        p += n;
    }
    return true;
}

static bool in(double v, double lo, double hi)
{
    return v >= lo && v <= hi;
}

static void check_bounds(const struct sb_config *c)
{
    SB_FUZZ_CHECK(in(c->embedded_brokers, 1, 16), "embedded_brokers %d", c->embedded_brokers);
    SB_FUZZ_CHECK(in(c->partitions, 1, 10000), "partitions %d", c->partitions);
    SB_FUZZ_CHECK(c->replication_factor == -1 || in(c->replication_factor, 1, 32),
                  "replication_factor %d", c->replication_factor);
    SB_FUZZ_CHECK(in(c->flush_timeout_ms, 0, 600000), "flush_timeout_ms %d", c->flush_timeout_ms);
    SB_FUZZ_CHECK(c->speed >= 0 && isfinite(c->speed), "speed %g", c->speed);
    SB_FUZZ_CHECK(c->cycle_first >= 0 && (c->cycle_last == -1 || c->cycle_last >= c->cycle_first),
                  "cycles %d..%d", c->cycle_first, c->cycle_last);
    SB_FUZZ_CHECK(c->sensor_expiry_us >= 0, "sensor_expiry_us %lld",
                  (long long)c->sensor_expiry_us);
    SB_FUZZ_CHECK(c->nwindow_sizes >= 1 && c->nwindow_sizes <= SB_MAX_WINDOW_SIZES,
                  "%zu window sizes", c->nwindow_sizes);
    for (size_t i = 0; i < c->nwindow_sizes; i++) {
        int64_t w = c->window_sizes_us[i];
        SB_FUZZ_CHECK(in((double)w, 1e6, 86400e6), "window size %lld us", (long long)w);
        SB_FUZZ_CHECK(i == 0 || w > c->window_sizes_us[i - 1], "window sizes not ascending");
    }
    SB_FUZZ_CHECK(in((double)c->watermark_us, 0, 3600e6), "watermark_us %lld",
                  (long long)c->watermark_us);
    SB_FUZZ_CHECK(in(c->max_open_windows, 1, 1000), "max_open_windows %d", c->max_open_windows);
    SB_FUZZ_CHECK(in((double)c->max_ahead_us, 1e6, 30 * 86400e6), "max_ahead_us %lld",
                  (long long)c->max_ahead_us);
    SB_FUZZ_CHECK(in(c->recent_alerts, 1, 100000), "recent_alerts %d", c->recent_alerts);
    SB_FUZZ_CHECK(c->nalert_rules <= SB_MAX_ALERT_RULES, "%zu alert rules", c->nalert_rules);
    SB_FUZZ_CHECK(c->nsynthetic <= SB_MAX_SYNTHETIC, "%zu synthetic sensors", c->nsynthetic);

    for (size_t i = 0; i < c->nalert_rules; i++) {
        const struct sb_alert_rule_cfg *r = &c->alert_rules[i];
        size_t a, b;
        bool same_side;
        SB_FUZZ_CHECK(strlen(r->sensor) >= 1 && strlen(r->sensor) <= SB_CONFIG_SENSOR_NAME_MAX,
                      "alert sensor \"%s\"", r->sensor);
        SB_FUZZ_CHECK(sb_config_find_alert_rule(c, r->sensor) == r, "[alert.%s] not found",
                      r->sensor);
        SB_FUZZ_CHECK(sb_config_sensor_known(c, r->sensor), "[alert.%s]: unknown sensor",
                      r->sensor);
        SB_FUZZ_CHECK(sb_alert_rule_has_threshold(r) || sb_alert_rule_has_zscore(r),
                      "[alert.%s] has no rule", r->sensor);
        SB_FUZZ_CHECK(sb_alert_rule_ordered(r, &a, &b, &same_side),
                      "[alert.%s]: thresholds out of order", r->sensor);
        SB_FUZZ_CHECK(r->hysteresis >= 0, "[alert.%s] hysteresis %g", r->sensor, r->hysteresis);
        SB_FUZZ_CHECK(r->min_duration_us >= 0, "[alert.%s] min_duration", r->sensor);
        SB_FUZZ_CHECK(in(r->zscore_baseline, 2, 1000), "[alert.%s] zscore_baseline %d", r->sensor,
                      r->zscore_baseline);
        bool found = false;
        for (size_t k = 0; k < c->nwindow_sizes; k++)
            found = found || c->window_sizes_us[k] == r->zscore_window_us;
        SB_FUZZ_CHECK(found, "[alert.%s] zscore_window is no window size", r->sensor);
    }
    for (size_t i = 0; i < c->nsynthetic; i++) {
        const struct sb_synth_cfg *s = &c->synthetic[i];
        SB_FUZZ_CHECK(strlen(s->name) >= 1 && strlen(s->name) <= SB_CONFIG_SENSOR_NAME_MAX,
                      "synthetic name \"%s\"", s->name);
        SB_FUZZ_CHECK(sb_config_find_synthetic(c, s->name) == s, "[synthetic.%s] not found",
                      s->name);
        SB_FUZZ_CHECK(sb_config_sensor_known(c, s->name), "[synthetic.%s] unknown", s->name);
        const char *strs[] = {s->unit, s->factory_section, s->machine, s->zone};
        for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
            SB_FUZZ_CHECK(strs[k] && valid_utf8(strs[k]), "[synthetic.%s]: string %zu", s->name, k);
        for (size_t k = 1; k < 4; k++)
            SB_FUZZ_CHECK(strlen(strs[k]) <= SB_CONFIG_LOCATION_MAX, "[synthetic.%s]: string %zu",
                          s->name, k);
        SB_FUZZ_CHECK(in(s->rate_hz, 0.001, 1000), "[synthetic.%s] rate %g", s->name, s->rate_hz);
        SB_FUZZ_CHECK(s->noise >= 0, "[synthetic.%s] noise %g", s->name, s->noise);
        SB_FUZZ_CHECK(in(s->anomaly_probability, 0, 1), "[synthetic.%s] anomaly_probability %g",
                      s->name, s->anomaly_probability);
        char topic[512];
        sb_config_sample_topic(c, s->name, topic, sizeof(topic));
        SB_FUZZ_CHECK(topic[0] != '\0', "[synthetic.%s]: no topic", s->name);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    write_input(data, size);
    size_t nlines = 1;
    for (size_t i = 0; i < size; i++)
        nlines += data[i] == '\n';

    struct sb_config c;
    char err[1024];
    sb_config_defaults(&c);
    int rc = sb_config_load(&c, path, err, sizeof(err));
    SB_FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EFBIG, "sb_config_load returned %d", rc);
    if (rc != 0) {
        check_error(err, nlines);
        sb_config_free(&c);
        return 0;
    }
    SB_FUZZ_CHECK(err[0] == '\0', "success with an error \"%s\"", err);
    check_bounds(&c);

    struct sb_config again;
    sb_config_defaults(&again);
    rc = sb_config_load(&again, path, err, sizeof(err));
    SB_FUZZ_CHECK(rc == 0, "second load of the same file: %s", err);
    const char *key;
    unsigned apply = sb_config_changes(&c, &again, &key);
    SB_FUZZ_CHECK(key == NULL, "reloading the same file changes %s", key);
    SB_FUZZ_CHECK(apply == 0, "reloading the same file applies steps 0x%x", apply);
    sb_config_free(&again);

    /* A reload from the defaults to this file, as after a start with an
     * empty file: only that it returns. */
    struct sb_config defaults;
    sb_config_defaults(&defaults);
    (void)sb_config_changes(&defaults, &c, &key);
    sb_config_free(&defaults);
    sb_config_free(&c);
    return 0;
}
