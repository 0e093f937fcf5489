/*
 * kafka_util.h - configuration helpers shared by the producer and the
 * consumer (private to src/).
 */
#ifndef SB_KAFKA_UTIL_H
#define SB_KAFKA_UTIL_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#include "sensorbridge/config.h"

/* Builds a librdkafka configuration: sensorbridge's defaults (pairs of
 * key, value, NULL-terminated), then the embedded-broker defaults when
 * embedded is true, then bootstrap.servers, then the user's kafka.*
 * properties, which win. Routes librdkafka's log to sb_log. Returns NULL
 * with a message naming the offending property. */
rd_kafka_conf_t *sb_kafka_conf(const char *const *defaults, const char *const *embedded_defaults,
                               bool embedded, const char *bootstraps, const struct sb_kvlist *props,
                               const char *what, char *err, size_t errlen);

/* After an error_cb with RD_KAFKA_RESP_ERR__FATAL (librdkafka raises it
 * once per client): "ERROR_NAME: reason" of the original error. */
void sb_kafka_fatal_describe(rd_kafka_t *rk, char *out, size_t len);

/* The log callback sb_kafka_conf installs: librdkafka's line to sb_log.
 * Called from librdkafka's threads. */
void sb_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

#endif
