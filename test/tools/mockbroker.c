/*
 * mockbroker.c - a standalone Kafka broker for tests and benchmarks:
 * librdkafka's mock cluster in its own process, so the daemon can be
 * tested with brokers = host:port, a second instance can join the same
 * group, and kcat can be measured against the same kind of broker.
 *
 *   mockbroker [-b BROKERS] [-p PARTITIONS] [-f BOOTSTRAP_FILE] [-i ERR] [TOPIC...]
 *
 * Creates each TOPIC with PARTITIONS partitions, writes the bootstrap list
 * to BOOTSTRAP_FILE (atomically, via rename) or stdout, and runs until
 * SIGINT or SIGTERM. Ports are random: 2.0.2 cannot choose them.
 * -i ERR: the first InitProducerId request fails with the Kafka error code
 * ERR (e.g. 31, CLUSTER_AUTHORIZATION_FAILED: an idempotent producer
 * without the IdempotentWrite ACL), which is fatal to an idempotent producer.
 * An outage on demand: SIGUSR1 takes every broker down (connections are
 * closed, new ones refused), SIGUSR2 brings them back; each is logged on
 * stderr once done.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop, down, up;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        down = 1;
    else if (sig == SIGUSR2)
        up = 1;
    else
        stop = 1;
}

int main(int argc, char **argv)
{
    int brokers = 3, partitions = 4, init_pid_err = 0, c;
    const char *file = NULL;
    while ((c = getopt(argc, argv, "b:p:f:i:")) != -1) {
        switch (c) {
        case 'b':
            brokers = atoi(optarg);
            break;
        case 'p':
            partitions = atoi(optarg);
            break;
        case 'f':
            file = optarg;
            break;
        case 'i':
            init_pid_err = atoi(optarg);
            break;
        default:
            fprintf(
                stderr,
                "usage: mockbroker [-b BROKERS] [-p PARTITIONS] [-f FILE] [-i ERR] [TOPIC...]\n");
            return 2;
        }
    }
    /* Blocked from here on, except inside sigsuspend: a signal between the
     * test of `stop` and the wait cannot be missed, and the mock cluster's
     * thread, which inherits this mask, never sees one (its poll() would
     * fail with EINTR and shut the cluster down, see src/broker.c). */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, &old);
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "mockbroker: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "mockbroker: cannot create a cluster of %d brokers\n", brokers);
        return 1;
    }
    for (int i = optind; i < argc; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, argv[i], partitions, 1);
        if (e) {
            fprintf(stderr, "mockbroker: topic %s: %s\n", argv[i], rd_kafka_err2str(e));
            return 1;
        }
        /* As in src/broker.c: without a pause the next creation often
         * loses the mock thread's wake-up and waits a second. */
        usleep(2000);
    }
    /* 22 is InitProducerId's API key (the constant is not public). */
    if (init_pid_err)
        rd_kafka_mock_push_request_errors(mc, 22, 1, (rd_kafka_resp_err_t)init_pid_err);
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    if (file) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%s\n", bootstraps) < 0 || fclose(f) || rename(tmp, file)) {
            perror("mockbroker: bootstrap file");
            return 1;
        }
    } else {
        printf("%s\n", bootstraps);
        fflush(stdout);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGUSR1, on_signal);
    signal(SIGUSR2, on_signal);
    while (!stop) {
        sigsuspend(&old);
        if (down) {
            down = 0;
            rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_down(mc, -1);
            fprintf(stderr, "mockbroker: brokers down: %s\n", rd_kafka_err2str(e));
        }
        if (up) {
            up = 0;
            rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_up(mc, -1);
            fprintf(stderr, "mockbroker: brokers up: %s\n", rd_kafka_err2str(e));
        }
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
