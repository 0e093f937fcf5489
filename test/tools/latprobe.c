/*
 * latprobe.c - how long a sample takes from a Kafka producer to the
 * daemon's /metrics, seen from outside (test/bench/bench.sh latency).
 *
 *   latprobe -b BROKERS -t TOPIC -p HTTP_PORT [-s SENSOR] [-n PROBES]
 *            [-d SECONDS] [-w POLL_PAUSE_US] [-T TIMEOUT_S]
 *
 * Sends PROBES samples (default 300), one after the other on an absolute
 * schedule spread over SECONDS (default 60), each as the daemon's own JSON
 * message (src/codec.c: sensor, sample_idx, value, timestamp,
 * sampling_rate_hz, unit, source) with the sb-produced-us header, keyed by
 * SENSOR (default "probe"), to TOPIC, an existing topic the daemon
 * consumes. The producer does not batch (linger.ms = 0) and disables
 * Nagle, so that the probe adds no delay of its own. After each send it
 * GETs http://127.0.0.1:HTTP_PORT/metrics on one keep-alive connection,
 * pausing POLL_PAUSE_US (default 1000) between requests, until the line
 * sensorbridge_sensor_value{sensor="SENSOR"} shows the probe's value
 * (values increase by one from above what the gauge showed at the start,
 * so no old value can match). One unreported probe goes first (the
 * connection and metadata set-up) and is not counted.
 *
 * Prints one line per probe on stdout: sequence, latency_us (from just
 * before the produce call to the end of the response that first shows
 * the value: an upper bound), uncertainty_us (the sample became visible
 * after the previous, not-showing request was sent: the true latency is
 * at most this much lower) and the number of requests. Exits 1 if a probe
 * is not visible within TIMEOUT_S seconds (default 10), a delivery fails
 * or /metrics cannot be read; 2 on usage errors.
 */
#include <librdkafka/rdkafka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (64u << 20) /* a larger /metrics is refused */

static int64_t clock_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ------------------------------------------------------------------ */
/* HTTP: GET /metrics on a keep-alive connection                      */
/* ------------------------------------------------------------------ */

struct http {
    int port;
    int fd;
    char *buf;
    size_t cap;
};

static int http_connect(struct http *h)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->fd < 0)
        return -1;
    int one = 1;
    setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(h->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(h->fd);
        h->fd = -1;
        return -1;
    }
    return 0;
}

/* Reads until the buffer holds at least `want` bytes; -1 on error or EOF. */
static int read_to(struct http *h, size_t *have, size_t want)
{
    while (*have < want) {
        if (want > h->cap) {
            h->cap = want * 2;
            h->buf = realloc(h->buf, h->cap + 1);
            if (!h->buf) {
                perror("latprobe");
                exit(1);
            }
        }
        ssize_t n = read(h->fd, h->buf + *have, h->cap - *have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        *have += (size_t)n;
    }
    return 0;
}

/* The Content-Length of the header block [buf, end), or -1. */
static long content_length(const char *buf, const char *end)
{
    static const char name[] = "\r\ncontent-length:";
    for (const char *p = buf; p + sizeof(name) - 1 < end; p++) {
        if (strncasecmp(p, name, sizeof(name) - 1) == 0) {
            char *e;
            long n = strtol(p + sizeof(name) - 1, &e, 10);
            return e > p + sizeof(name) - 1 && n >= 0 ? n : -1;
        }
    }
    return -1;
}

/* One GET /metrics; on success the body is NUL-terminated at *body and 0
 * is returned. Reconnects once if the server closed the idle connection. */
static int http_get(struct http *h, char **body)
{
    static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Accept-Encoding: identity\r\n\r\n";
    for (int attempt = 0; attempt < 2; attempt++) {
        if (h->fd < 0 && http_connect(h) != 0)
            return -1;
        size_t have = 0;
        char *hend = NULL;
        if (write(h->fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
            while (read_to(h, &have, have + 1) == 0) {
                h->buf[have] = '\0';
                if ((hend = strstr(h->buf, "\r\n\r\n")) != NULL)
                    break;
            }
        }
        if (!hend) {
            close(h->fd);
            h->fd = -1;
            if (have == 0)
                continue; /* closed while idle: once more on a new connection */
            return -1;
        }
        if (strncmp(h->buf, "HTTP/1.1 200", 12) != 0) {
            fprintf(stderr, "latprobe: /metrics answered %.*s\n", (int)strcspn(h->buf, "\r"),
                    h->buf);
            return -1;
        }
        long len = content_length(h->buf, hend + 2);
        if (len < 0 || (unsigned long)len > MAX_BODY) {
            fprintf(stderr, "latprobe: /metrics without a usable Content-Length\n");
            return -1;
        }
        size_t start = (size_t)(hend + 4 - h->buf);
        if (read_to(h, &have, start + (size_t)len) != 0)
            return -1;
        /* Nothing but this response may have arrived: one request at a time. */
        h->buf[start + (size_t)len] = '\0';
        *body = h->buf + start;
        return 0;
    }
    return -1;
}

/* The value of the gauge line `key` (e.g. sensorbridge_sensor_value{...})
 * in an exposition, in *v; 0 if the line is there. */
static int gauge(const char *body, const char *key, double *v)
{
    size_t klen = strlen(key);
    for (const char *p = body; (p = strstr(p, key)) != NULL; p += klen) {
        if ((p == body || p[-1] == '\n') && p[klen] == ' ') {
            *v = strtod(p + klen + 1, NULL);
            return 0;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Kafka                                                              */
/* ------------------------------------------------------------------ */

static int delivery_failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        fprintf(stderr, "latprobe: delivery failed: %s\n", rd_kafka_err2str(m->err));
        delivery_failed = 1;
    }
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[512];
    if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "latprobe: %s: %s\n", k, err);
        exit(2);
    }
}

/* The daemon's message (codec.h), event time = wall time of the send. */
static int encode(char *buf, size_t cap, const char *sensor, long seq, int64_t wall_us)
{
    time_t s = (time_t)(wall_us / 1000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    return snprintf(buf, cap,
                    "{\"sensor\":\"%s\",\"sample_idx\":%ld,\"value\":%ld,"
                    "\"timestamp\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ\","
                    "\"sampling_rate_hz\":1,\"unit\":\"1\",\"source\":\"latprobe\"}",
                    sensor, seq, seq, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                    tm.tm_min, tm.tm_sec, (int)(wall_us % 1000000));
}

struct run {
    const char *topic, *sensor;
    long probes, pause_us;
    double seconds, timeout_s;
};

/* The probes of the header comment, one line each on stdout; 0, or 1 with
 * a message on stderr. */
static int probe_all(rd_kafka_t *rk, struct http *hp, const struct run *r)
{
    char key[128], *body;
    snprintf(key, sizeof(key), "sensorbridge_sensor_value{sensor=\"%s\"}", r->sensor);
    if (http_get(hp, &body) != 0) {
        fprintf(stderr, "latprobe: cannot GET /metrics on port %d\n", hp->port);
        return 1;
    }
    double v0;
    long base = gauge(body, key, &v0) == 0 && v0 >= 0 && v0 < 1e15 ? (long)v0 + 1 : 1;

    printf("# seq latency_us uncertainty_us requests\n");
    int64_t t_sched = clock_us(CLOCK_MONOTONIC);
    int64_t step_us = (int64_t)(r->seconds * 1e6 / (double)r->probes);
    for (long i = 0; i <= r->probes; i++) {
        long seq = base + i;
        char msg[512], hdr[32];
        int64_t wall = clock_us(CLOCK_REALTIME);
        int n = encode(msg, sizeof(msg), r->sensor, seq, wall);
        snprintf(hdr, sizeof(hdr), "%" PRId64, wall);
        int64_t t0 = clock_us(CLOCK_MONOTONIC);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(r->topic), RD_KAFKA_V_KEY(r->sensor, strlen(r->sensor)),
            RD_KAFKA_V_VALUE(msg, (size_t)n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADER("sb-produced-us", hdr, (ssize_t)strlen(hdr)), RD_KAFKA_V_END);
        if (e) {
            fprintf(stderr, "latprobe: produce: %s\n", rd_kafka_err2str(e));
            return 1;
        }
        int64_t sent_prev = t0, t_seen = -1;
        long requests = 0;
        for (;;) {
            rd_kafka_poll(rk, 0);
            int64_t sent = clock_us(CLOCK_MONOTONIC);
            if (http_get(hp, &body) != 0) {
                fprintf(stderr, "latprobe: GET /metrics failed\n");
                return 1;
            }
            requests++;
            int64_t got = clock_us(CLOCK_MONOTONIC);
            double v;
            if (gauge(body, key, &v) == 0 && v == (double)seq) {
                t_seen = got;
                break;
            }
            sent_prev = sent;
            if (delivery_failed)
                return 1;
            if (got - t0 > (int64_t)(r->timeout_s * 1e6)) {
                fprintf(stderr, "latprobe: probe %ld (value %ld) not on /metrics after %.1f s\n", i,
                        seq, r->timeout_s);
                return 1;
            }
            sleep_us(r->pause_us);
        }
        if (i > 0)
            printf("%ld %" PRId64 " %" PRId64 " %ld\n", i, t_seen - t0, t_seen - sent_prev,
                   requests);
        if (i == 0) /* the schedule starts after the unreported first probe */
            t_sched = clock_us(CLOCK_MONOTONIC);
        else
            t_sched += step_us;
        sleep_us(t_sched - clock_us(CLOCK_MONOTONIC));
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: latprobe -b BROKERS -t TOPIC -p HTTP_PORT [-s SENSOR] [-n PROBES] "
                    "[-d SECONDS] [-w POLL_PAUSE_US] [-T TIMEOUT_S]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *brokers = NULL, *topic = NULL, *sensor = "probe";
    long probes = 300, pause_us = 1000;
    double seconds = 60, timeout_s = 10;
    struct http h = {.fd = -1, .cap = 1u << 20};
    int opt;
    while ((opt = getopt(argc, argv, "b:t:p:s:n:d:w:T:")) != -1) {
        switch (opt) {
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'p':
            h.port = atoi(optarg);
            break;
        case 's':
            sensor = optarg;
            break;
        case 'n':
            probes = atol(optarg);
            break;
        case 'd':
            seconds = atof(optarg);
            break;
        case 'w':
            pause_us = atol(optarg);
            break;
        case 'T':
            timeout_s = atof(optarg);
            break;
        default:
            usage();
        }
    }
    if (!brokers || !topic || h.port <= 0 || h.port > 65535 || probes < 1 || seconds < 0 ||
        pause_us < 0 || timeout_s <= 0 || strlen(sensor) > 63 || strpbrk(sensor, "\"\\"))
        usage();

    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", brokers);
    set(conf, "linger.ms", "0");
    set(conf, "socket.nagle.disable", "true");
    set(conf, "log_level", "4");
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "latprobe: %s\n", err);
        return 1;
    }
    h.buf = malloc(h.cap + 1);
    if (!h.buf) {
        perror("latprobe");
        return 1;
    }

    const struct run r = {.topic = topic,
                          .sensor = sensor,
                          .probes = probes,
                          .pause_us = pause_us,
                          .seconds = seconds,
                          .timeout_s = timeout_s};
    int rc = probe_all(rk, &h, &r);
    fflush(stdout);
    rd_kafka_flush(rk, rc ? 0 : 10000);
    rd_kafka_poll(rk, 0);
    int left = rd_kafka_outq_len(rk);
    rd_kafka_destroy(rk);
    if (h.fd >= 0)
        close(h.fd);
    free(h.buf);
    if (rc == 0 && (left || delivery_failed)) {
        fprintf(stderr, "latprobe: %d messages undelivered\n", left);
        rc = 1;
    }
    return rc;
}
