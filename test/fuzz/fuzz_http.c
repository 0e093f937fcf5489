/*
 * fuzz_http.c - the HTTP server (src/http.c on libmicrohttpd) on the bytes
 * a client sends: what anyone who can reach [http] listen can send.
 *
 * Where the input meets our code: sb_http's handlers see no request at
 * all (a route is an exact path; the handler only fills a response), so
 * the request is parsed by libmicrohttpd and judged by http.c's access
 * callback (method, path, query string, a body on a GET, the first and
 * second call per request). Calling that callback directly would need a
 * struct MHD_Connection only libmicrohttpd can make, and would skip the
 * parser whose output it trusts. So the harness runs the real server, as
 * the daemon does: sb_http on its own libuv loop, listening on
 * 127.0.0.1:0, with the daemon's routes, and each input is one client
 * connection: the bytes are written raw, the loop runs until the server
 * is idle (it has taken what it wants and waits for more), the client
 * half-closes (so the server knows no more is coming), and the loop runs
 * until the server closes the connection. The client watches its socket
 * on the same loop, so the whole exchange is on one thread, as in
 * test_http.c.
 *
 * Why wait for idle before the half-close: libmicrohttpd 0.9.75 in epoll
 * mode (edge-triggered) reads a request that arrived together with the
 * client's FIN, answers it and then misses the FIN. http.c closes such a
 * connection once it has sent a complete answer (completed_cb), but an
 * incomplete request that arrives with its FIN still stays open until the
 * idle timeout ([http] timeout, 30 s by default). That is a bound the
 * server keeps, not a hang, and not in our code; a FIN that arrives after
 * the server read the request is seen at once.
 *
 * Properties of every exchange:
 *   - the server closes the connection within GUARD_MS of the client's
 *     first byte (it answers and closes once it has everything it will
 *     ever get), and never crashes;
 *   - what it sends, if anything, starts with an HTTP/1.x status line;
 *   - a plain GET or HEAD is answered by a handler (200 or 503) if its
 *     path, percent-decoded as libmicrohttpd does, is exactly a route,
 *     and never with a handler's status otherwise (http.h: routes are
 *     exact paths, the query aside);
 *   - when the first request's method is a plain word of capitals other
 *     than GET and HEAD, no handler runs and no 200 or 503 (the statuses
 *     our handlers give) is sent; if it reaches http.c it gets exactly
 *     one response, 404 or 405 with "Allow: GET, HEAD", before its body
 *     is read, and then the close, so nothing pipelined behind it is
 *     answered (http.h).
 * The client closes with an RST (SO_LINGER 0), so no connection is left
 * in TIME_WAIT and the harness does not run out of ports.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "fuzz.h"
#include "sensorbridge/http.h"
#include "sensorbridge/log.h"
#include "sensorbridge/util.h"

/* The server has the whole request and the client's FIN: it answers and
 * closes at once, so 5 s is generous even under sanitizers. */
#define GUARD_MS 5000
/* The loop is idle when nothing is ready and no timer is due within this:
 * the server's timer is then its connection timeout, not more work. */
#define IDLE_TIMER_MS 1000
/* What the client keeps of the responses; the rest is counted only. */
#define KEEP_BYTES 65536

static uv_loop_t loop;
static struct sb_http *http;
static struct sockaddr_in server_addr;
static unsigned handler_calls;

static void root_handler(void *ud, const struct sb_http_request *req, struct sb_http_response *resp)
{
    (void)req;
    (void)ud;
    handler_calls++;
    resp->content_type = "text/html; charset=utf-8";
    sb_buf_puts(&resp->body, "<!doctype html><title>sensorbridge</title><a href=/metrics>m</a>\n");
}

static void metrics_handler(void *ud, const struct sb_http_request *req,
                            struct sb_http_response *resp)
{
    (void)req;
    (void)ud;
    handler_calls++;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    for (int i = 0; i < 200; i++)
        sb_buf_printf(&resp->body, "sensorbridge_sensor_value{sensor=\"S%d\"} %d.5\n", i, i);
}

static void healthz_handler(void *ud, const struct sb_http_request *req,
                            struct sb_http_response *resp)
{
    (void)req;
    (void)ud;
    handler_calls++;
    sb_buf_puts(&resp->body, "ok\n");
}

static void readyz_handler(void *ud, const struct sb_http_request *req,
                           struct sb_http_response *resp)
{
    (void)req;
    (void)ud;
    handler_calls++;
    resp->status = 503;
    sb_buf_puts(&resp->body, "not ready: the brokers do not answer\n");
}

static void json_handler(void *ud, const struct sb_http_request *req, struct sb_http_response *resp)
{
    (void)req;
    (void)ud;
    handler_calls++;
    resp->content_type = "application/json";
    sb_buf_puts(&resp->body, "{\"ready\":false,\"alerts\":[],\"windows\":[]}\n");
}

static void fail_guard_cb(uv_timer_t *t)
{
    (void)t;
    SB_FUZZ_CHECK(false, "the server neither answered nor closed within %d ms", GUARD_MS);
}

/* At exit, as the daemon stops: the server closes and the loop is left
 * with nothing open. */
static void close_server(void)
{
    sb_http_close(http, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    SB_FUZZ_CHECK(uv_loop_close(&loop) == 0, "handles left open on the loop");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The properties are checked here; the server's log lines are noise. */
    sb_log_level = SB_LOG_ERR - 1;
    SB_FUZZ_CHECK(uv_loop_init(&loop) == 0, "uv_loop_init");
    char err[256];
    SB_FUZZ_CHECK(sb_http_new(&http, &loop, "127.0.0.1:0", err, sizeof(err)) == 0, "%s", err);
    /* The daemon's routes (daemon.c). */
    sb_http_route(http, "/", root_handler, NULL);
    sb_http_route(http, "/metrics", metrics_handler, NULL);
    sb_http_route(http, "/healthz", healthz_handler, NULL);
    sb_http_route(http, "/readyz", readyz_handler, NULL);
    sb_http_route(http, "/api/v1/status", json_handler, NULL);
    sb_http_route(http, "/api/v1/alerts", json_handler, NULL);
    sb_http_route(http, "/api/v1/windows", json_handler, NULL);
    SB_FUZZ_CHECK(sb_http_start(http, err, sizeof(err)) == 0, "%s", err);
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons((uint16_t)sb_http_port(http));
    server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    atexit(close_server);
    return 0;
}

struct client {
    int fd;
    uv_poll_t poll;
    bool eof;
    char kept[KEEP_BYTES];
    size_t nkept;
    size_t nreceived;
};

static void client_read(struct client *c)
{
    char buf[16384];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
        if (n > 0) {
            size_t take = (size_t)n;
            if (take > KEEP_BYTES - c->nkept)
                take = KEEP_BYTES - c->nkept;
            memcpy(c->kept + c->nkept, buf, take);
            c->nkept += take;
            c->nreceived += (size_t)n;
            continue;
        }
        if (n == 0 || errno == ECONNRESET || errno == EPIPE) {
            c->eof = true;
            uv_poll_stop(&c->poll);
            return;
        }
        SB_FUZZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR, "recv: %s",
                      strerror(errno));
        return;
    }
}

static void client_poll_cb(uv_poll_t *p, int status, int events)
{
    (void)events;
    SB_FUZZ_CHECK(status == 0, "client poll: %s", uv_strerror(status));
    client_read(p->data);
}

/* Writes the input, reading whatever the server sends meanwhile (it may
 * answer and close before the last byte is written). */
static void client_send(struct client *c, const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size && !c->eof) {
        ssize_t n = send(c->fd, data + off, size - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (errno == EPIPE || errno == ECONNRESET)
            return;
        SB_FUZZ_CHECK(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR, "send: %s",
                      strerror(errno));
        uv_run(&loop, UV_RUN_ONCE);
    }
}

/* The first request line, after the empty lines a server ignores, where
 * it is a plain one: a method of capital letters, one space, a target,
 * " HTTP/1." and a digit, then LF or CR LF. Otherwise (a NUL, a control
 * character, a lower-case or over-long word, odd spacing, a bare CR)
 * what libmicrohttpd makes of it is its own business, and method (and
 * path) are empty. */
struct request_line {
    char method[16];
    /* The target's path: up to its first '?', %XX decoded as
     * libmicrohttpd does; path_len counts a decoded NUL too. */
    char path[1024];
    size_t path_len;
};

static int hex_digit(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

static void first_line(const uint8_t *data, size_t size, struct request_line *rl)
{
    memset(rl, 0, sizeof(*rl));
    size_t i = 0;
    while (i < size && (data[i] == '\r' || data[i] == '\n'))
        i++;
    size_t k = 0;
    while (i < size && data[i] >= 'A' && data[i] <= 'Z' && k + 1 < sizeof(rl->method))
        rl->method[k++] = (char)data[i++];
    if (k == 0 || i >= size || data[i] != ' ') {
        rl->method[0] = '\0';
        return;
    }
    size_t t = ++i;
    while (i < size && data[i] > ' ' && data[i] != 0x7f)
        i++;
    bool eol = size - i > 9 && (data[i + 9] == '\n' ||
                                (size - i > 10 && data[i + 9] == '\r' && data[i + 10] == '\n'));
    if (i == t || !eol || memcmp(data + i, " HTTP/1.", 8) != 0 || data[i + 8] < '0' ||
        data[i + 8] > '9') {
        rl->method[0] = '\0';
        return;
    }
    size_t n = 0;
    for (size_t j = t; j < i && data[j] != '?'; j++) {
        int hi = j + 2 < i ? hex_digit(data[j + 1]) : -1;
        int lo = j + 2 < i ? hex_digit(data[j + 2]) : -1;
        if (n + 1 >= sizeof(rl->path)) {
            rl->method[0] = '\0';
            return;
        }
        if (data[j] == '%' && hi >= 0 && lo >= 0) {
            rl->path[n++] = (char)(hi * 16 + lo);
            j += 2;
        } else {
            rl->path[n++] = (char)data[j];
        }
    }
    rl->path_len = n;
}

static bool is_route(const char *path, size_t len)
{
    static const char *const routes[] = {
        "/",
        "/metrics",
        "/healthz",
        "/readyz",
        "/api/v1/status",
        "/api/v1/alerts",
        "/api/v1/windows",
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strlen(routes[i]) == len && memcmp(routes[i], path, len) == 0)
            return true;
    return false;
}

/* Status of the response starting at p (n bytes), or 0 if it does not
 * start with a status line. */
static unsigned status_of(const char *p, size_t n)
{
    if (n < 13 || (memcmp(p, "HTTP/1.1 ", 9) != 0 && memcmp(p, "HTTP/1.0 ", 9) != 0))
        return 0;
    unsigned s = 0;
    for (size_t i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        s = s * 10 + (unsigned)(p[i] - '0');
    }
    return s;
}

/* Runs the loop until the exchange is over or the loop is idle: nothing
 * is ready and no timer is due within IDLE_TIMER_MS (only the guard and
 * the server's idle timeout remain), so the server waits for the client.
 * uv_run(UV_RUN_ONCE) cannot tell: after running a due timer it blocks in
 * its poll, here until the guard fires. */
static void run_until_idle(const struct client *c)
{
    while (!c->eof) {
        int t = uv_backend_timeout(&loop);
        bool soon = t >= 0 && t < IDLE_TIMER_MS;
        struct pollfd p = {.fd = uv_backend_fd(&loop), .events = POLLIN};
        if (poll(&p, 1, soon ? t : 0) == 0 && !soon)
            return;
        uv_run(&loop, UV_RUN_NOWAIT);
    }
}

static void close_cb(uv_handle_t *h)
{
    (void)h;
}

static void check_exchange(const struct client *c, const uint8_t *data, size_t size)
{
    if (c->nreceived == 0) {
        SB_FUZZ_CHECK(handler_calls == 0, "a handler ran and nothing was sent");
        return;
    }
    unsigned status = status_of(c->kept, c->nkept);
    SB_FUZZ_CHECK(status >= 100 && status <= 599, "the response starts with \"%.*s\"",
                  (int)(c->nkept < 40 ? c->nkept : 40), c->kept);
    struct request_line rl;
    first_line(data, size, &rl);
    const char *method = rl.method;
    if (!method[0])
        return;
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
        /* Routes are exact paths: a %3F or %00 in the path is part of it. */
        bool route = is_route(rl.path, rl.path_len);
        SB_FUZZ_CHECK(route || (status != 200 && status != 503),
                      "%s of \"%.*s\" (%zu bytes decoded) got %u, but it is no route", method,
                      (int)rl.path_len, rl.path, rl.path_len, status);
        SB_FUZZ_CHECK(!route || status != 404, "%s of the route %.*s got 404", method,
                      (int)rl.path_len, rl.path);
        return;
    }
    SB_FUZZ_CHECK(handler_calls == 0, "a handler ran for a %s request", method);
    SB_FUZZ_CHECK(status != 200 && status != 503, "a %s request got %u", method, status);
    if (status != 404 && status != 405)
        return; /* refused by libmicrohttpd itself, e.g. 400 */
    /* Refused by http.c: exactly that one response, then the close. */
    const char *end = memmem(c->kept, c->nkept, "\r\n\r\n", 4);
    SB_FUZZ_CHECK(end != NULL, "a %u without the end of its header", status);
    size_t hlen = (size_t)(end - c->kept) + 2; /* through the last header's CRLF */
    const char *body = status == 405 ? "method not allowed\n" : "not found\n";
    SB_FUZZ_CHECK(status != 405 || memmem(c->kept, hlen, "\r\nAllow: GET, HEAD\r\n", 20),
                  "405 without \"Allow: GET, HEAD\"");
    SB_FUZZ_CHECK(c->nreceived == hlen + 2 + strlen(body) &&
                      memcmp(c->kept + hlen + 2, body, strlen(body)) == 0,
                  "after the %u to a %s request: %zu bytes, expected %zu", status, method,
                  c->nreceived, hlen + 2 + strlen(body));
}

/* A blocking connect completes in the kernel's backlog, before the
 * server's loop accepts. libFuzzer's timers (SIGALRM) may interrupt it;
 * the connection then completes on its own, and POLLOUT says when. */
static void client_connect(int fd)
{
    if (connect(fd, (struct sockaddr *)&server_addr, sizeof(server_addr)) == 0)
        return;
    SB_FUZZ_CHECK(errno == EINTR, "connect: %s", strerror(errno));
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r;
    while ((r = poll(&p, 1, GUARD_MS)) < 0)
        SB_FUZZ_CHECK(errno == EINTR, "poll: %s", strerror(errno));
    SB_FUZZ_CHECK(r == 1, "connect: not done within %d ms", GUARD_MS);
    int e = 0;
    socklen_t len = sizeof(e);
    SB_FUZZ_CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && e == 0, "connect: %s",
                  strerror(e));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct client c;
    memset(&c, 0, sizeof(c));
    handler_calls = 0;

    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    SB_FUZZ_CHECK(c.fd >= 0, "socket: %s", strerror(errno));
    client_connect(c.fd);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    SB_FUZZ_CHECK(setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0, "SO_LINGER: %s",
                  strerror(errno));
    SB_FUZZ_CHECK(uv_poll_init_socket(&loop, &c.poll, c.fd) == 0, "uv_poll_init_socket");
    c.poll.data = &c;
    SB_FUZZ_CHECK(uv_poll_start(&c.poll, UV_READABLE | UV_DISCONNECT, client_poll_cb) == 0,
                  "uv_poll_start");

    uv_timer_t guard;
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, fail_guard_cb, GUARD_MS, 0);

    client_send(&c, data, size);
    run_until_idle(&c);
    if (!c.eof)
        shutdown(c.fd, SHUT_WR);
    while (!c.eof)
        uv_run(&loop, UV_RUN_ONCE);

    uv_timer_stop(&guard);
    uv_close((uv_handle_t *)&guard, close_cb);
    uv_close((uv_handle_t *)&c.poll, close_cb);
    uv_run(&loop, UV_RUN_NOWAIT);
    close(c.fd);

    check_exchange(&c, data, size);
    return 0;
}
