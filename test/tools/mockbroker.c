/*
 * mockbroker.c - a standalone Kafka broker for tests and benchmarks:
 * librdkafka's mock cluster in its own process, so the daemon can be
 * tested with brokers = host:port, a second instance can join the same
 * group, and kcat can be measured against the same kind of broker.
 *
 *   mockbroker [-b BROKERS] [-p PARTITIONS] [-f BOOTSTRAP_FILE] [-i ERR] [-c CMD_FILE]
 *              [TOPIC...]
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
 * More faults on demand: SIGHUP runs the commands in CMD_FILE (-c), one a
 * line, each logged on stderr as "mockbroker: <command>: <result>"; BROKER
 * is a broker id (1..BROKERS) or -1 for every broker:
 *   errors BROKER APIKEY ERR[,ERR...]
 *       the next requests of that API key (0 Produce, 1 Fetch, 8
 *       OffsetCommit, 12 Heartbeat ...) that BROKER handles fail with these
 *       Kafka error codes, one request each, in order (with -1, each
 *       broker gets the whole list); a failed Produce appends nothing
 *   pending BROKER APIKEY
 *       logs how many of those errors are still to come ("...: N")
 *   rtt BROKER MS
 *       every response of BROKER is sent MS milliseconds late (0: on
 *       time); the request itself is handled at once
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop, down, up, hup;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        down = 1;
    else if (sig == SIGUSR2)
        up = 1;
    else if (sig == SIGHUP)
        hup = 1;
    else
        stop = 1;
}

/* One line of the command file; 0 when it was understood. Broker -1
 * stands for every broker (ids 1..nbrokers). */
static int run_command(rd_kafka_mock_cluster_t *mc, int nbrokers, const char *line)
{
    char list[8192];
    int b, k, ms, first, last;
    if (sscanf(line, "errors %d %d %8191s", &b, &k, list) == 3) {
        first = b < 0 ? 1 : b;
        last = b < 0 ? nbrokers : b;
        size_t n = 0;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
        for (char *tok = strtok(list, ","); tok && !e; tok = strtok(NULL, ","), n++)
            for (int i = first; i <= last && !e; i++)
                e = rd_kafka_mock_broker_push_request_error_rtts(mc, i, (int16_t)k, 1,
                                                                 (rd_kafka_resp_err_t)atoi(tok), 0);
        fprintf(stderr, "mockbroker: errors %d %d x%zu: %s\n", b, k, n, rd_kafka_err2str(e));
        return 0;
    }
    if (sscanf(line, "pending %d %d", &b, &k) == 2) {
        first = b < 0 ? 1 : b;
        last = b < 0 ? nbrokers : b;
        size_t total = 0, cnt = 0;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int i = first; i <= last && !e; i++) {
            e = rd_kafka_mock_broker_error_stack_cnt(mc, i, (int16_t)k, &cnt);
            total += cnt;
        }
        if (e)
            fprintf(stderr, "mockbroker: pending %d %d: %s\n", b, k, rd_kafka_err2str(e));
        else
            fprintf(stderr, "mockbroker: pending %d %d: %zu\n", b, k, total);
        return 0;
    }
    if (sscanf(line, "rtt %d %d", &b, &ms) == 2) {
        rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_rtt(mc, b, ms);
        fprintf(stderr, "mockbroker: rtt %d %d: %s\n", b, ms, rd_kafka_err2str(e));
        return 0;
    }
    return -1;
}

static void run_commands(rd_kafka_mock_cluster_t *mc, int nbrokers, const char *path)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) {
        fprintf(stderr, "mockbroker: SIGHUP: no command file to run\n");
        return;
    }
    char line[8300];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] && run_command(mc, nbrokers, line))
            fprintf(stderr, "mockbroker: %s: not understood\n", line);
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    int brokers = 3, partitions = 4, init_pid_err = 0, c;
    const char *file = NULL, *cmdfile = NULL;
    while ((c = getopt(argc, argv, "b:p:f:i:c:")) != -1) {
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
        case 'c':
            cmdfile = optarg;
            break;
        default:
            fprintf(stderr, "usage: mockbroker [-b BROKERS] [-p PARTITIONS] [-f FILE] [-i ERR] "
                            "[-c CMD_FILE] [TOPIC...]\n");
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
    sigaddset(&block, SIGHUP);
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
    signal(SIGHUP, on_signal);
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
        if (hup) {
            hup = 0;
            run_commands(mc, brokers, cmdfile);
        }
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
