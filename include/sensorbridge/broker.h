/*
 * broker.h - the embedded broker: librdkafka's mock cluster, which speaks
 * the real Kafka protocol on 127.0.0.1 ports, inside this process. It is
 * in-memory and non-durable (and keeps at most 5 MiB per partition): for
 * development and tests, never production.
 *
 * Ownership: one owner rd_kafka_t holds the cluster. Destroy it only
 * after every client that talks to it has been destroyed.
 */
#ifndef SB_BROKER_H
#define SB_BROKER_H

#include <stddef.h>

struct sb_broker;

/* Starts a cluster of nbrokers. Returns 0 or -errno with a message. */
int sb_broker_new(struct sb_broker **out, int nbrokers, char *err, size_t errlen);

/* "127.0.0.1:port,..." - valid until sb_broker_free. */
const char *sb_broker_bootstraps(const struct sb_broker *b);

/* Creates a topic (the mock cannot serve CreateTopics requests, and
 * pattern subscriptions only see topics that exist). */
int sb_broker_create_topic(struct sb_broker *b, const char *topic, int partitions, char *err,
                           size_t errlen);

void sb_broker_free(struct sb_broker *b);

#endif
