/* test_producer.c - the producer's life cycle against the registry it
 * reports into, and the messages it writes, on a real loop and the
 * embedded broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <uv.h>

#include "sensorbridge/broker.h"
#include "sensorbridge/config.h"
#include "sensorbridge/producer.h"
#include "sensorbridge/registry.h"
#include "sensorbridge/util.h"

/* One producer on a real loop, reporting into a registry that outlives
 * it (the daemon frees the registry last), against a one-node embedded
 * broker. */
struct fixture {
    struct sb_broker *b;
    uv_loop_t loop;
    struct sb_config cfg;
    struct sb_registry *reg;
    struct sb_producer *p;
};

static int setup(void **state)
{
    char err[512];
    struct fixture *f = sb_xcalloc(1, sizeof(*f));
    assert_int_equal(sb_broker_new(&f->b, 1, err, sizeof(err)), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    sb_config_defaults(&f->cfg);
    f->reg = sb_registry_new();
    assert_int_equal(sb_producer_new(&f->p, &f->loop, &f->cfg, sb_broker_bootstraps(f->b), f->reg,
                                     err, sizeof(err)),
                     0);
    *state = f;
    return 0;
}

static void closed(void *ud)
{
    *(bool *)ud = true;
}

/* Closes the producer and runs the loop until its close callback. */
static void close_producer(struct fixture *f)
{
    bool done = false;
    sb_producer_close(f->p, closed, &done);
    f->p = NULL;
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_true(done);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->p)
        close_producer(f);
    sb_registry_free(f->reg);
    sb_config_free(&f->cfg);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    sb_broker_free(f->b);
    free(f);
    return 0;
}

/* A scrape after the producer is gone must not run the producer's
 * collector on the freed client. */
static void producer_close_removes_its_collector(void **state)
{
    struct fixture *f = *state;
    struct sb_buf out;
    sb_buf_init(&out);
    sb_registry_expose(f->reg, &out);
    assert_non_null(strstr(out.data, "\nsensorbridge_producer_queue_messages 0\n"));

    close_producer(f);
    /* The families stay (their counters are the run's record); the queue
     * gauge keeps its last value. */
    sb_buf_reset(&out);
    sb_registry_expose(f->reg, &out);
    assert_non_null(strstr(out.data, "\nsensorbridge_producer_queue_messages 0\n"));
    sb_buf_free(&out);
}

/* A plain librdkafka consumer assigned partition 0 of `topic` from its
 * start, reporting the partition's end as an event. */
static rd_kafka_t *partition_reader(const char *bootstraps, const char *topic)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    /* assign() wants a group even with nothing to commit. */
    assert_int_equal(rd_kafka_conf_set(conf, "group.id", "test-producer", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
    return rk;
}

/* The sb-produced-us header of each of the first n messages of partition
 * 0 of `topic`, read with a plain librdkafka consumer: its decimal value,
 * or -1 for a message without headers. */
static void read_stamps(const char *bootstraps, const char *topic, int n, long long *stamps)
{
    rd_kafka_t *rk = partition_reader(bootstraps, topic);
    int got = 0;
    for (int polls = 0; got < n && polls < 200; polls++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (!m)
            continue;
        if (!m->err) {
            assert_int_equal(m->offset, got);
            rd_kafka_headers_t *hdrs = NULL;
            const void *val;
            size_t len;
            stamps[got] = -1;
            if (!rd_kafka_message_headers(m, &hdrs)) {
                assert_int_equal(rd_kafka_header_cnt(hdrs), 1);
                assert_int_equal(rd_kafka_header_get_last(hdrs, "sb-produced-us", &val, &len), 0);
                char text[32];
                assert_true(len > 0 && len < sizeof(text));
                memcpy(text, val, len);
                text[len] = '\0';
                char *end;
                stamps[got] = strtoll(text, &end, 10);
                assert_true(*end == '\0');
            }
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(got, n);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* A sensor's first message in each millisecond of the loop's clock
 * carries sb-produced-us, the wall time of the hand-off in microseconds;
 * the sensor's other messages of that millisecond carry no header. */
static void send_stamps_first_message_per_loop_ms(void **state)
{
    struct fixture *f = *state;
    char err[512];
    assert_int_equal(sb_broker_create_topic(f->b, "stamp-TS1", 1, err, sizeof(err)), 0);
    assert_int_equal(sb_broker_create_topic(f->b, "stamp-PS1", 1, err, sizeof(err)), 0);
    struct sb_producer *p = f->p;
    struct sb_producer_topic *ts1 = sb_producer_topic(p, "TS1", "stamp-TS1");
    struct sb_producer_topic *ps1 = sb_producer_topic(p, "PS1", "stamp-PS1");
    struct sb_sample s = {.cycle = 0, .value = 35.5, .ts_us = 1762612200000000, .rate_hz = 1};

    long long w0 = sb_now_wall_us();
    uv_update_time(&f->loop);
    s.sensor = "TS1";
    for (s.sample_idx = 0; s.sample_idx < 3; s.sample_idx++)
        assert_int_equal(sb_producer_send(p, ts1, &s), 0);
    s.sensor = "PS1";
    s.sample_idx = 0;
    assert_int_equal(sb_producer_send(p, ps1, &s), 0);
    long long w1 = sb_now_wall_us();
    uint64_t ms = uv_now(&f->loop);
    while (uv_now(&f->loop) == ms) {
        usleep(100);
        uv_update_time(&f->loop);
    }
    long long w2 = sb_now_wall_us();
    s.sensor = "TS1";
    for (s.sample_idx = 3; s.sample_idx < 5; s.sample_idx++)
        assert_int_equal(sb_producer_send(p, ts1, &s), 0);
    long long w3 = sb_now_wall_us();
    assert_int_equal(sb_producer_flush(p, 10000), 0);

    long long st[5];
    read_stamps(sb_broker_bootstraps(f->b), "stamp-TS1", 5, st);
    assert_true(st[0] >= w0 && st[0] <= w1);
    assert_int_equal(st[1], -1);
    assert_int_equal(st[2], -1);
    assert_true(st[3] >= w2 && st[3] <= w3);
    assert_int_equal(st[4], -1);
    read_stamps(sb_broker_bootstraps(f->b), "stamp-PS1", 1, st);
    assert_true(st[0] >= w0 && st[0] <= w1);
}

/* The messages of partition 0 of `topic` in offset order, read with a plain
 * librdkafka consumer until the end of the partition: their values, as
 * sample indexes (the codec's "sample_idx" field). Returns the count. */
static int read_sample_indexes(const char *bootstraps, const char *topic, int max, int *idx)
{
    rd_kafka_t *rk = partition_reader(bootstraps, topic);
    int got = 0;
    bool eof = false;
    for (int polls = 0; !eof && polls < 200; polls++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof = true;
        } else if (!m->err) {
            assert_true(got < max);
            char text[512];
            assert_true(m->len < sizeof(text));
            memcpy(text, m->payload, m->len);
            text[m->len] = '\0';
            const char *v = strstr(text, "\"sample_idx\":");
            assert_non_null(v);
            idx[got++] = atoi(v + strlen("\"sample_idx\":"));
        }
        rd_kafka_message_destroy(m);
    }
    assert_true(eof);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return got;
}

/* A partition's first produce request refused with a retriable error while
 * a second one is in flight: the refused messages are sent again, and the
 * log holds every message once, in order. librdkafka's idempotent producer
 * takes a later batch's success as proof that the partition's earlier
 * batches were written ("implicitly acked by subsequent batch success"),
 * and a broker takes any first sequence number from a producer id it holds
 * no state for (the embedded broker checks none). With two requests in
 * flight the refused batch was reported delivered and never written:
 * against Apache Kafka 4.4, a topic whose partitions the broker had not yet
 * made refused a sensor's first batch, and its 3 samples were lost. */
static void refused_first_request_is_sent_again(void **state)
{
    struct fixture *f = *state;
    char err[512];
    close_producer(f);
    /* A cluster of our own, whose first produce answer is a refusal held
     * for 300 ms; a real broker, as far as the producer can tell (5 ms
     * linger, not the embedded broker's 500). */
    rd_kafka_conf_t *oc = rd_kafka_conf_new();
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, oc, err, sizeof(err));
    assert_non_null(owner);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(owner, 1);
    assert_non_null(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "refused-TS1", 1, 1), 0);
    assert_int_equal(
        rd_kafka_mock_broker_push_request_error_rtts(
            mc, 1, 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 300),
        0);
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    free(f->cfg.brokers);
    f->cfg.brokers = sb_xstrdup(bootstraps);
    assert_int_equal(
        sb_producer_new(&f->p, &f->loop, &f->cfg, bootstraps, f->reg, err, sizeof(err)), 0);
    struct sb_producer_topic *t = sb_producer_topic(f->p, "TS1", "refused-TS1");
    struct sb_sample s = {
        .sensor = "TS1", .cycle = 0, .value = 35.5, .ts_us = 1762612200000000, .rate_hz = 1};
    /* The first batch goes out after the linger; once the cluster has
     * taken it (the refusal is off its stack, the answer held back), the
     * second batch is handed over while the first waits for its answer. */
    for (s.sample_idx = 0; s.sample_idx < 3; s.sample_idx++)
        assert_int_equal(sb_producer_send(f->p, t, &s), 0);
    size_t pending = 1;
    uint64_t until = sb_now_mono_ns() + 10000 * 1000000ull;
    while (pending && sb_now_mono_ns() < until) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
        assert_int_equal(rd_kafka_mock_broker_error_stack_cnt(mc, 1, 0, &pending), 0);
    }
    assert_int_equal(pending, 0);
    for (; s.sample_idx < 6; s.sample_idx++)
        assert_int_equal(sb_producer_send(f->p, t, &s), 0);
    assert_int_equal(sb_producer_flush(f->p, 10000), 0);
    close_producer(f);

    int idx[16];
    int n = read_sample_indexes(bootstraps, "refused-TS1", 16, idx);
    assert_int_equal(n, 6);
    for (int i = 0; i < n; i++)
        assert_int_equal(idx[i], i);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(owner);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(producer_close_removes_its_collector, setup, teardown),
        cmocka_unit_test_setup_teardown(send_stamps_first_message_per_loop_ms, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_first_request_is_sent_again, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
