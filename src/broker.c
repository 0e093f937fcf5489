/* broker.c - librdkafka's mock cluster as an embedded development broker. */
#include "sensorbridge/broker.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "sensorbridge/log.h"
#include "sensorbridge/util.h"

struct sb_broker {
    rd_kafka_t *owner;
    rd_kafka_mock_cluster_t *cluster;
    char *bootstraps;
};

int sb_broker_new(struct sb_broker **out, int nbrokers, char *err, size_t errlen)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The owner handle never talks to a broker; level 4 hides its notice
     * that no bootstrap.servers are configured. */
    if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "embedded broker: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return -EINVAL;
    }
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!owner) {
        snprintf(err, errlen, "embedded broker: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return -EINVAL;
    }
    /* The mock's thread inherits our signal mask (unlike the threads of
     * rd_kafka_new, which block every signal). If it took a SIGHUP, its
     * poll() would fail with EINTR and librdkafka 2.0.2 would shut the
     * whole cluster down ("Mock cluster failed to poll"); so it is created
     * with every signal blocked, and only the loop thread handles them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rd_kafka_mock_cluster_t *cluster = rd_kafka_mock_cluster_new(owner, nbrokers);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!cluster) {
        snprintf(err, errlen, "embedded broker: cannot start a mock cluster of %d brokers",
                 nbrokers);
        rd_kafka_destroy(owner);
        return -EIO;
    }
    struct sb_broker *b = sb_xcalloc(1, sizeof(*b));
    b->owner = owner;
    b->cluster = cluster;
    b->bootstraps = sb_xstrdup(rd_kafka_mock_cluster_bootstraps(cluster));
    sb_notice("msg=\"embedded broker started: in-memory, NOT durable, for development only; set "
              "[kafka] brokers for a real cluster\" brokers=%d bootstraps=%s",
              nbrokers, b->bootstraps);
    *out = b;
    return 0;
}

const char *sb_broker_bootstraps(const struct sb_broker *b)
{
    return b->bootstraps;
}

int sb_broker_create_topic(struct sb_broker *b, const char *topic, int partitions, char *err,
                           size_t errlen)
{
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(b->cluster, topic, partitions, 1);
    /* librdkafka 2.0.2's mock thread serves its op queue and only then
     * drains the queue's wake-up fd: an op queued in between loses its
     * wake-up and waits for the thread's 1-s poll timeout. Back-to-back
     * creations hit that window often (0-9 s for the embedded topics);
     * a pause lets the thread finish its turn first. */
    uv_sleep(2);
    if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        snprintf(err, errlen, "embedded broker: cannot create topic %s: %s", topic,
                 rd_kafka_err2str(e));
        return -EIO;
    }
    return 0;
}

void sb_broker_free(struct sb_broker *b)
{
    if (!b)
        return;
    rd_kafka_mock_cluster_destroy(b->cluster);
    rd_kafka_destroy(b->owner);
    free(b->bootstraps);
    free(b);
}
