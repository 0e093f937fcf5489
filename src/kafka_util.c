/* kafka_util.c - librdkafka configuration shared by producer and consumer. */
#include "kafka_util.h"

#include <stdio.h>

#include "sensorbridge/log.h"

void sb_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    /* librdkafka uses syslog levels too; it calls this from its own
     * threads, which sb_log tolerates (one write per line). */
    sb_log(level, "msg=\"librdkafka: %s\" client=%s facility=%s", buf, rd_kafka_name(rk), fac);
}

void sb_kafka_fatal_describe(rd_kafka_t *rk, char *out, size_t len)
{
    char why[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
    snprintf(out, len, "%s: %s", rd_kafka_err2name(orig), why);
}

static int set(rd_kafka_conf_t *conf, const char *key, const char *value, const char *what,
               char *err, size_t errlen)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "%s: kafka.%s = %s: %s", what, key, value, errstr);
        return -1;
    }
    return 0;
}

rd_kafka_conf_t *sb_kafka_conf(const char *const *defaults, const char *const *embedded_defaults,
                               bool embedded, const char *bootstraps, const struct sb_kvlist *props,
                               const char *what, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; defaults[i]; i += 2)
        if (set(conf, defaults[i], defaults[i + 1], what, err, errlen))
            goto fail;
    for (size_t i = 0; embedded && embedded_defaults && embedded_defaults[i]; i += 2)
        if (set(conf, embedded_defaults[i], embedded_defaults[i + 1], what, err, errlen))
            goto fail;
    if (set(conf, "bootstrap.servers", bootstraps, what, err, errlen))
        goto fail;
    for (size_t i = 0; i < props->n; i++)
        if (set(conf, props->items[i].key, props->items[i].value, what, err, errlen))
            goto fail;
    rd_kafka_conf_set_log_cb(conf, sb_kafka_log);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}
