/* test_http.c - the HTTP server on a real loop, with a raw libuv TCP client
 * on the same loop so the whole exchange runs on one thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <uv.h>
#include <zlib.h>

#include "sensorbridge/http.h"
#include "sensorbridge/log.h"
#include "sensorbridge/util.h"

#define MAX_REQUESTS 4
#define LARGE_BODY_LEN (1024u * 1024u)
#define GUARD_MS 10000

/* ---- handlers ---------------------------------------------------------- */

static void metrics_handler(void *ud, const struct sb_http_request *req,
                            struct sb_http_response *resp)
{
    (void)req;
    int *calls = ud;
    if (calls)
        (*calls)++;
    resp->content_type = "text/plain; version=0.0.4";
    sb_buf_puts(&resp->body, "up 1\n");
}

static void large_handler(void *ud, const struct sb_http_request *req,
                          struct sb_http_response *resp)
{
    (void)req;
    (void)ud;
    /* A pattern that changes every byte so a lost or repeated chunk shows. */
    sb_buf_reserve(&resp->body, LARGE_BODY_LEN);
    for (size_t i = 0; i < LARGE_BODY_LEN; i++)
        resp->body.data[i] = (char)('a' + (i * 7 + i / 251) % 26);
    resp->body.len = LARGE_BODY_LEN;
    resp->body.data[LARGE_BODY_LEN] = '\0';
}

static void unavailable_handler(void *ud, const struct sb_http_request *req,
                                struct sb_http_response *resp)
{
    (void)req;
    (void)ud;
    resp->status = 503;
}

/* Answers with what it was asked: the method, a header and two query
 * arguments, each "-" when absent; and a header of its own. */
static void echo_handler(void *ud, const struct sb_http_request *req, struct sb_http_response *resp)
{
    (void)ud;
    const char *accept = sb_http_request_header(req, "accept");
    const char *since = sb_http_request_query(req, "since");
    const char *flag = sb_http_request_query(req, "flag");
    sb_buf_printf(&resp->body, "%s accept=%s since=%s flag=%s\n",
                  sb_http_request_is_head(req) ? "HEAD" : "GET", accept ? accept : "-",
                  since ? since : "-", flag ? flag : "-");
    sb_http_response_header(resp, "Cache-Control", "no-store");
    sb_http_response_header(resp, "X-Echo", "1");
}

/* Builds its body only for GET, as /metrics does. */
static void lazy_handler(void *ud, const struct sb_http_request *req, struct sb_http_response *resp)
{
    int *calls = ud;
    if (sb_http_request_is_head(req))
        return;
    (*calls)++;
    sb_buf_puts(&resp->body, "built\n");
}

/* A body that is compressed already. */
static void incompressible_handler(void *ud, const struct sb_http_request *req,
                                   struct sb_http_response *resp)
{
    (void)ud;
    (void)req;
    resp->content_type = "image/png";
    resp->compressible = false;
    sb_buf_puts(&resp->body, "not really a png\n");
}

/* ---- a raw HTTP/1.1 client on the loop --------------------------------- */

struct response {
    int status;
    char *headers; /* the header block, NUL-terminated */
    char *body;
    size_t body_len;
};

struct client {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    const char *requests[MAX_REQUESTS];
    size_t nrequests;
    size_t sent; /* requests written so far */
    struct response resp[MAX_REQUESTS];
    size_t nresp;
    struct sb_buf rx;        /* bytes not yet parsed into a response */
    size_t extra_after_last; /* bytes that followed the last response */

    bool keep_open; /* stay connected after the last response */
    bool saw_eof;
    int error;
    bool closed;
    void (*on_done)(struct client *); /* all responses in (or failure) */
    void (*on_closed)(struct client *);
    void *data;
};

static void client_close(struct client *c);

static void client_closed_cb(uv_handle_t *h)
{
    struct client *c = h->data;
    c->closed = true;
    if (c->on_closed)
        c->on_closed(c);
}

static void client_close(struct client *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, client_closed_cb);
}

static void client_send_next(struct client *c);

static void client_write_cb(uv_write_t *req, int status)
{
    struct client *c = req->data;
    if (status < 0) {
        c->error = status;
        client_close(c);
    }
}

static void client_send_next(struct client *c)
{
    const char *req = c->requests[c->sent++];
    uv_buf_t buf = uv_buf_init((char *)req, (unsigned)strlen(req));
    c->write_req.data = c;
    int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, client_write_cb);
    if (rc < 0) {
        c->error = rc;
        client_close(c);
    }
}

static bool is_head(const char *req)
{
    return strncmp(req, "HEAD ", 5) == 0;
}

/* Finds a header's value in a header block (case-insensitive name). */
static const char *header_value(const char *headers, const char *name, size_t *len)
{
    size_t nlen = strlen(name);
    const char *line = strstr(headers, "\r\n");
    while (line) {
        line += 2;
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            const char *end = strstr(v, "\r\n");
            *len = end ? (size_t)(end - v) : strlen(v);
            return v;
        }
        line = strstr(line, "\r\n");
    }
    return NULL;
}

static bool header_is(const struct response *r, const char *name, const char *want)
{
    size_t len;
    const char *v = header_value(r->headers, name, &len);
    return v && len == strlen(want) && strncmp(v, want, len) == 0;
}

/* Moves complete responses out of c->rx; returns false on a parse error. */
static bool client_parse(struct client *c)
{
    while (c->nresp < c->sent) {
        char *end = strstr(c->rx.data ? c->rx.data : "", "\r\n\r\n");
        if (!end)
            return true;
        size_t hlen = (size_t)(end - c->rx.data) + 4;
        char *headers = sb_xstrndup(c->rx.data, hlen);
        int status = 0;
        if (sscanf(headers, "HTTP/1.1 %d", &status) != 1) {
            free(headers);
            return false;
        }
        size_t body_len = 0, vlen;
        const char *cl = header_value(headers, "Content-Length", &vlen);
        if (cl && !is_head(c->requests[c->nresp]))
            body_len = strtoul(cl, NULL, 10);
        if (c->rx.len < hlen + body_len) {
            free(headers);
            return true;
        }
        struct response *r = &c->resp[c->nresp++];
        r->status = status;
        r->headers = headers;
        r->body = sb_xstrndup(c->rx.data + hlen, body_len);
        r->body_len = body_len;
        size_t rest = c->rx.len - hlen - body_len;
        memmove(c->rx.data, c->rx.data + hlen + body_len, rest);
        c->rx.len = rest;
        c->rx.data[rest] = '\0';
        if (c->sent < c->nrequests)
            client_send_next(c);
    }
    return true;
}

static void client_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct client *c = h->data;
    sb_buf_reserve(&c->rx, suggested);
    *buf = uv_buf_init(c->rx.data + c->rx.len, (unsigned)suggested);
}

static void client_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct client *c = s->data;
    (void)buf;
    if (nread < 0) {
        if (nread == UV_EOF)
            c->saw_eof = true;
        else
            c->error = (int)nread;
        bool all_in = c->nresp == c->nrequests;
        client_close(c);
        if (!all_in && c->on_done)
            c->on_done(c);
        return;
    }
    c->rx.len += (size_t)nread;
    c->rx.data[c->rx.len] = '\0';
    bool was_done = c->nresp == c->nrequests;
    if (!client_parse(c)) {
        c->error = UV_EPROTO;
        client_close(c);
        if (c->on_done)
            c->on_done(c);
        return;
    }
    if (was_done) {
        c->extra_after_last += c->rx.len;
        return;
    }
    if (c->nresp == c->nrequests) {
        if (!c->keep_open)
            client_close(c);
        if (c->on_done)
            c->on_done(c);
    }
}

static void client_connect_cb(uv_connect_t *req, int status)
{
    struct client *c = req->data;
    if (status < 0) {
        c->error = status;
        client_close(c);
        if (c->on_done)
            c->on_done(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, client_alloc_cb, client_read_cb);
    client_send_next(c);
}

static void client_start(struct client *c, uv_loop_t *loop, const struct sockaddr *addr)
{
    c->loop = loop;
    sb_buf_init(&c->rx);
    sb_buf_reserve(&c->rx, 0);
    c->rx.data[0] = '\0';
    assert_int_equal(uv_tcp_init(loop, &c->tcp), 0);
    c->tcp.data = c;
    c->connect_req.data = c;
    assert_int_equal(uv_tcp_connect(&c->connect_req, &c->tcp, addr, client_connect_cb), 0);
}

static void client_free(struct client *c)
{
    for (size_t i = 0; i < c->nresp; i++) {
        free(c->resp[i].headers);
        free(c->resp[i].body);
    }
    sb_buf_free(&c->rx);
}

/* ---- a fixture: loop + server + client + guard timer ------------------- */

/* Open descriptors of this process, to show that closing releases MHD's
 * listen socket, epoll fd and connections. */
static int count_fds(void)
{
    uv_fs_t req;
    int n = uv_fs_scandir(NULL, &req, "/proc/self/fd", 0, NULL);
    uv_fs_req_cleanup(&req);
    assert_true(n > 0);
    return n;
}

struct fixture {
    uv_loop_t loop;
    struct sb_http *http;
    char listen[64];
    struct client client;
    uv_timer_t guard;
    bool http_closed;
    bool timed_out;
    int metrics_calls;
    int lazy_calls;
    int fds_before;

    /* http_idle_does_not_spin */
    uv_prepare_t prepare;
    uv_timer_t quiet;
    unsigned iterations;
    bool counting;
};

static void http_closed_cb(void *ud)
{
    struct fixture *f = ud;
    f->http_closed = true;
}

static void close_http(struct fixture *f)
{
    if (f->http) {
        sb_http_close(f->http, http_closed_cb, f);
        f->http = NULL;
    }
    if (!uv_is_closing((uv_handle_t *)&f->guard))
        uv_close((uv_handle_t *)&f->guard, NULL);
}

static void guard_cb(uv_timer_t *t)
{
    struct fixture *f = t->data;
    f->timed_out = true;
    client_close(&f->client);
    close_http(f);
}

/* Once the client has its answers (it closes itself unless keep_open), shut
 * the server down the way the daemon does. */
static void done_close_all(struct client *c)
{
    close_http(c->data);
}

/* Closes the server from inside its own handler, i.e. inside MHD_run. */
static void shutdown_handler(void *ud, const struct sb_http_request *req,
                             struct sb_http_response *resp)
{
    (void)req;
    struct fixture *f = ud;
    sb_buf_puts(&resp->body, "bye\n");
    close_http(f);
}

static struct fixture *fixture_new(const char *listen)
{
    struct fixture *f = sb_xcalloc(1, sizeof(*f));
    f->fds_before = count_fds();
    assert_int_equal(uv_loop_init(&f->loop), 0);
    snprintf(f->listen, sizeof(f->listen), "%s", listen);
    char err[256] = "";
    int rc = sb_http_new(&f->http, &f->loop, listen, err, sizeof(err));
    if (rc != 0)
        fail_msg("sb_http_new: %s", err);
    sb_http_route(f->http, "/metrics", metrics_handler, &f->metrics_calls);
    sb_http_route(f->http, "/large", large_handler, NULL);
    sb_http_route(f->http, "/unavailable", unavailable_handler, NULL);
    sb_http_route(f->http, "/shutdown", shutdown_handler, f);
    sb_http_route(f->http, "/echo", echo_handler, NULL);
    sb_http_route(f->http, "/lazy", lazy_handler, &f->lazy_calls);
    sb_http_route(f->http, "/png", incompressible_handler, NULL);
    rc = sb_http_start(f->http, err, sizeof(err));
    if (rc != 0)
        fail_msg("sb_http_start: %s", err);
    assert_true(sb_http_port(f->http) > 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->guard), 0);
    f->guard.data = f;
    assert_int_equal(uv_timer_start(&f->guard, guard_cb, GUARD_MS, 0), 0);
    f->client.data = f;
    f->client.on_done = done_close_all;
    return f;
}

static int setup(void **state)
{
    *state = fixture_new("127.0.0.1:0");
    return 0;
}

static int setup_v6(void **state)
{
    *state = fixture_new("[::1]:0");
    return 0;
}

static int setup_localhost(void **state)
{
    *state = fixture_new("localhost:0");
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    client_free(&f->client);
    free(f);
    return 0;
}

/* The address the server bound, as the client must reach it: the listen
 * host resolved the same way (first getaddrinfo result), with the port. */
static void server_addr(struct fixture *f, struct sockaddr_storage *ss)
{
    char host[64];
    snprintf(host, sizeof(host), "%s", f->listen);
    *strrchr(host, ':') = '\0';
    const char *name = host;
    if (host[0] == '[') {
        host[strlen(host) - 1] = '\0';
        name = host + 1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    assert_int_equal(getaddrinfo(name, NULL, &hints, &res), 0);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    uint16_t port = htons((uint16_t)sb_http_port(f->http));
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = port;
    else
        ((struct sockaddr_in *)ss)->sin_port = port;
}

/* Sends the requests one after another on one connection and runs the loop
 * until everything is closed; checks the libuv-style shutdown contract: the
 * close callback ran, no handle is left and no descriptor leaked. */
static void exchange_run(struct fixture *f, const char *const *requests, size_t n)
{
    assert_true(n <= MAX_REQUESTS);
    for (size_t i = 0; i < n; i++)
        f->client.requests[i] = requests[i];
    f->client.nrequests = n;
    struct sockaddr_storage ss;
    server_addr(f, &ss);
    client_start(&f->client, &f->loop, (struct sockaddr *)&ss);
    assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
    assert_false(f->timed_out);
    assert_true(f->http_closed);
    assert_true(f->client.closed);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    assert_int_equal(count_fds(), f->fds_before);
}

/* As exchange_run, and every request was answered. */
static void exchange(struct fixture *f, const char *const *requests, size_t n)
{
    exchange_run(f, requests, n);
    assert_int_equal(f->client.error, 0);
    assert_int_equal(f->client.nresp, n);
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: localhost\r\n\r\n"

/* ---- tests on a running server ----------------------------------------- */

static void http_get_returns_body_and_content_type(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {GET("/metrics")};
    exchange(f, reqs, 1);
    struct response *r = &f->client.resp[0];
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "up 1\n");
    assert_true(header_is(r, "Content-Type", "text/plain; version=0.0.4"));
    assert_true(header_is(r, "Content-Length", "5"));
    assert_int_equal(f->metrics_calls, 1);
}

static void http_head_has_headers_without_body(void **state)
{
    struct fixture *f = *state;
    /* A GET follows on the same connection: a stray body after the HEAD
     * response would break the parse of the next status line. */
    const char *reqs[] = {"HEAD /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n", GET("/metrics")};
    exchange(f, reqs, 2);
    struct response *r = &f->client.resp[0];
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 0);
    assert_true(header_is(r, "Content-Type", "text/plain; version=0.0.4"));
    assert_true(header_is(r, "Content-Length", "5"));
    assert_int_equal(f->client.resp[1].status, 200);
    assert_string_equal(f->client.resp[1].body, "up 1\n");
    assert_int_equal(f->client.rx.len, 0);
    assert_int_equal(f->client.extra_after_last, 0);
}

static void http_unknown_path_is_404(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {GET("/nope"), GET("/metrics/extra"), GET("/")};
    exchange(f, reqs, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(f->client.resp[i].status, 404);
    assert_int_equal(f->metrics_calls, 0);
}

static void http_post_is_405_with_allow(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {"POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n"
                          "Content-Type: text/plain\r\n\r\nabc"};
    exchange(f, reqs, 1);
    struct response *r = &f->client.resp[0];
    assert_int_equal(r->status, 405);
    assert_true(header_is(r, "Allow", "GET, HEAD"));
    assert_int_equal(f->metrics_calls, 0);
}

static void http_post_unknown_path_is_404(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {"POST /nope HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc"};
    exchange(f, reqs, 1);
    assert_int_equal(f->client.resp[0].status, 404);
}

static void http_delete_is_405_and_closes(void **state)
{
    struct fixture *f = *state;
    /* Refused methods are answered before any body is read, so the server
     * ends the connection instead of draining an unwanted upload. */
    const char *reqs[] = {"DELETE /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"};
    exchange(f, reqs, 1);
    struct response *r = &f->client.resp[0];
    assert_int_equal(r->status, 405);
    assert_true(header_is(r, "Allow", "GET, HEAD"));
    assert_true(header_is(r, "Connection", "close"));
    assert_int_equal(f->metrics_calls, 0);
}

static void http_get_with_body_is_answered(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\nbody",
        GET("/metrics")};
    exchange(f, reqs, 2);
    assert_int_equal(f->client.resp[0].status, 200);
    assert_string_equal(f->client.resp[0].body, "up 1\n");
    assert_int_equal(f->client.resp[1].status, 200);
    assert_int_equal(f->metrics_calls, 2);
}

static void http_query_string_ignored(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {GET("/metrics?x=1"), GET("/metrics?"), GET("/nope?/metrics")};
    exchange(f, reqs, 3);
    assert_int_equal(f->client.resp[0].status, 200);
    assert_string_equal(f->client.resp[0].body, "up 1\n");
    assert_int_equal(f->client.resp[1].status, 200);
    assert_int_equal(f->client.resp[2].status, 404);
    assert_int_equal(f->metrics_calls, 2);
}

static void http_handler_sees_request_and_sets_headers(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {
        "GET /echo?since=12%2C5&flag HTTP/1.1\r\nHost: localhost\r\nAccept: text/x\r\n\r\n",
        GET("/echo"), "HEAD /echo?since=3 HTTP/1.1\r\nHost: localhost\r\n\r\n"};
    exchange(f, reqs, 3);
    struct response *r = &f->client.resp[0];
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "GET accept=text/x since=12,5 flag=\n");
    assert_true(header_is(r, "Cache-Control", "no-store"));
    assert_true(header_is(r, "X-Echo", "1"));
    assert_string_equal(f->client.resp[1].body, "GET accept=- since=- flag=-\n");
    r = &f->client.resp[2];
    assert_int_equal(r->body_len, 0);
    /* "HEAD accept=- since=3 flag=-\n" is 29 bytes: the length of the body
     * the handler built, not sent. */
    assert_true(header_is(r, "Content-Length", "29"));
    assert_true(header_is(r, "X-Echo", "1"));
}

/* gunzip with zlib's inflate, independent of the server's deflate call. */
static char *gunzip(const char *data, size_t len, size_t *outlen)
{
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    size_t cap = 4 * LARGE_BODY_LEN;
    char *out = sb_xmalloc(cap + 1);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.avail_in, 0);
    *outlen = cap - z.avail_out;
    out[*outlen] = '\0';
    inflateEnd(&z);
    return out;
}

#define GET_ENC(path, enc)                                                                         \
    "GET " path " HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: " enc "\r\n\r\n"

static void http_gzip_when_accepted(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {GET_ENC("/large", "deflate, gzip;q=0.5"), GET_ENC("/large", "gzip;q=0"),
                          GET("/large"), GET_ENC("/png", "gzip")};
    exchange(f, reqs, 4);
    struct response *r = &f->client.resp[0];
    assert_int_equal(r->status, 200);
    assert_true(header_is(r, "Content-Encoding", "gzip"));
    assert_true(header_is(r, "Vary", "Accept-Encoding"));
    assert_true(r->body_len < LARGE_BODY_LEN / 10);
    size_t n;
    char *plain = gunzip(r->body, r->body_len, &n);
    assert_int_equal(n, LARGE_BODY_LEN);
    for (size_t i = 0; i < LARGE_BODY_LEN; i++)
        if (plain[i] != (char)('a' + (i * 7 + i / 251) % 26))
            fail_msg("byte %zu of the gunzipped body differs", i);
    free(plain);
    /* q=0 refuses gzip, and no header means identity: the same bytes as
     * they are, still with Vary. */
    for (size_t k = 1; k <= 2; k++) {
        r = &f->client.resp[k];
        size_t len;
        assert_null(header_value(r->headers, "Content-Encoding", &len));
        assert_true(header_is(r, "Vary", "Accept-Encoding"));
        assert_int_equal(r->body_len, LARGE_BODY_LEN);
    }
    assert_memory_equal(f->client.resp[1].body, f->client.resp[2].body, LARGE_BODY_LEN);
    /* A handler that says its body is compressed already gets neither. */
    r = &f->client.resp[3];
    size_t len;
    assert_null(header_value(r->headers, "Content-Encoding", &len));
    assert_null(header_value(r->headers, "Vary", &len));
    assert_string_equal(r->body, "not really a png\n");
}

static void http_gzip_leaves_an_empty_body_alone(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {GET_ENC("/unavailable", "gzip")};
    exchange(f, reqs, 1);
    struct response *r = &f->client.resp[0];
    size_t len;
    assert_int_equal(r->status, 503);
    /* Zero bytes are no gzip stream. */
    assert_null(header_value(r->headers, "Content-Encoding", &len));
    assert_true(header_is(r, "Content-Length", "0"));
    assert_true(header_is(r, "Vary", "Accept-Encoding"));
}

static void closed_close_all(struct client *c)
{
    close_http(c->data);
}

static void http_head_without_body_has_no_content_length(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {
        "HEAD /lazy HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\n\r\n"};
    /* The server is shut down only once the client saw it close the
     * connection (else the guard timer fails the test). */
    f->client.keep_open = true;
    f->client.on_done = NULL;
    f->client.on_closed = closed_close_all;
    exchange(f, reqs, 1);
    struct response *r = &f->client.resp[0];
    size_t len;
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, 0);
    /* Not "Content-Length: 0": a GET would send 6 bytes (RFC 9110 8.6).
     * Nor chunked: the server closes after the headers, and nothing
     * follows them. */
    assert_null(header_value(r->headers, "Content-Length", &len));
    assert_null(header_value(r->headers, "Transfer-Encoding", &len));
    assert_true(header_is(r, "Connection", "close"));
    assert_true(header_is(r, "Content-Encoding", "gzip"));
    assert_true(f->client.saw_eof);
    assert_int_equal(f->client.extra_after_last, 0);
    assert_int_equal(f->client.rx.len, 0);
    assert_int_equal(f->lazy_calls, 0);
}

static void http_accept_encoding_parsing(void **state)
{
    (void)state;
    static const struct {
        const char *header;
        bool gzip;
    } cases[] = {
        {NULL, false},
        {"", false},
        {"gzip", true},
        {"GZIP", true},
        {"x-gzip", true},
        {"gzip, deflate, br", true},
        {"deflate, br", false},
        {"identity", false},
        {"gzip;q=0", false},
        {"gzip; q=0.000", false},
        {"gzip;q=0.001", true},
        {"gzip ; Q=1", true},
        {"gzip;q=1.000", true},
        {"*", true},
        {"*;q=0", false},
        {"gzip;q=0, *", false},
        {"*, gzip;q=0", false},
        {"*;q=0, gzip", true},
        {"br;q=1.0, gzip;q=0.8, *;q=0.1", true},
        /* A malformed q drops the item: no gzip left. */
        {"gzip;q=2", false},
        {"gzip;q=0.5x", false},
        {"gzip;q=", false},
        {" , gzip", true},
    };
    for (size_t i = 0; i < SB_ARRAY_SIZE(cases); i++)
        if (sb_http_accepts_gzip(cases[i].header) != cases[i].gzip)
            fail_msg("Accept-Encoding \"%s\": expected %s",
                     cases[i].header ? cases[i].header : "(none)",
                     cases[i].gzip ? "gzip" : "identity");
}

static void http_accept_negotiation(void **state)
{
    (void)state;
    static const struct sb_http_media offers[] = {
        {"text/plain", "0.0.4"},
        {"application/openmetrics-text", "1.0.0"},
    };
    static const struct {
        const char *header;
        int want;
    } cases[] = {
        /* What Prometheus 2.42 sends (captured from its scrape). */
        {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
         "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
         1},
        {NULL, -1},
        {"", -1},
        {"*/*", -1},
        {"text/*", -1},
        {"text/plain", 0},
        {"text/plain;version=0.0.4", 0},
        {"text/plain; version=\"0.0.4\"; charset=utf-8", 0},
        {"text/plain;version=0.0.3", -1},
        {"application/openmetrics-text", 1},
        {"Application/OpenMetrics-Text; Version=1.0.0", 1},
        /* We write only 1.0.0: an OpenMetrics 0.0.1 client gets the default. */
        {"application/openmetrics-text;version=0.0.1", -1},
        {"application/openmetrics-text;version=0.0.1,text/plain;q=0.5", 0},
        /* By q, whatever the order. */
        {"text/plain;q=0.5, application/openmetrics-text", 1},
        {"application/openmetrics-text;q=0.9, text/plain", 0},
        /* Equal q: the first named. */
        {"application/openmetrics-text;q=0.5, text/plain;q=0.5", 1},
        {"text/plain;q=0.5, application/openmetrics-text;q=0.5", 0},
        /* q=0 refuses. */
        {"application/openmetrics-text;q=0, text/plain;q=0.1", 0},
        {"application/openmetrics-text;q=0", -1},
        /* A malformed q drops its item. */
        {"application/openmetrics-text;q=1.5, text/plain;q=0.1", 0},
        {"application/json, text/html", -1},
    };
    for (size_t i = 0; i < SB_ARRAY_SIZE(cases); i++) {
        int got = sb_http_negotiate(cases[i].header, offers, SB_ARRAY_SIZE(offers));
        if (got != cases[i].want)
            fail_msg("Accept \"%s\": got %d, expected %d",
                     cases[i].header ? cases[i].header : "(none)", got, cases[i].want);
    }
}

static void http_keep_alive_two_requests(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {GET("/metrics"), GET("/metrics")};
    exchange(f, reqs, 2);
    for (size_t i = 0; i < 2; i++) {
        struct response *r = &f->client.resp[i];
        assert_int_equal(r->status, 200);
        assert_string_equal(r->body, "up 1\n");
        assert_int_equal(strncmp(r->headers, "HTTP/1.1 200", 12), 0);
        size_t len;
        const char *conn = header_value(r->headers, "Connection", &len);
        assert_false(conn && strncasecmp(conn, "close", 5) == 0);
    }
    /* The server never hung up: the client closed first. */
    assert_false(f->client.saw_eof);
    assert_int_equal(f->metrics_calls, 2);
}

static void http_large_body_arrives_whole(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {GET("/large"), GET("/metrics")};
    exchange(f, reqs, 2);
    struct response *r = &f->client.resp[0];
    assert_int_equal(r->status, 200);
    assert_int_equal(r->body_len, LARGE_BODY_LEN);
    for (size_t i = 0; i < LARGE_BODY_LEN; i++)
        if (r->body[i] != (char)('a' + (i * 7 + i / 251) % 26))
            fail_msg("large body differs at byte %zu", i);
    assert_string_equal(f->client.resp[1].body, "up 1\n");
}

static void http_handler_status_and_default_content_type(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {GET("/unavailable")};
    exchange(f, reqs, 1);
    struct response *r = &f->client.resp[0];
    assert_int_equal(r->status, 503);
    assert_int_equal(r->body_len, 0);
    assert_true(header_is(r, "Content-Type", "text/plain; charset=utf-8"));
}

static void http_close_drops_open_connections(void **state)
{
    struct fixture *f = *state;
    /* The client stays connected; closing the server must hang up on it,
     * run the close callback and leave no handle behind. */
    f->client.keep_open = true;
    const char *reqs[] = {GET("/metrics")};
    exchange(f, reqs, 1);
    assert_true(f->client.saw_eof);
    assert_int_equal(f->client.resp[0].status, 200);
}

static void http_close_from_handler(void **state)
{
    struct fixture *f = *state;
    /* The response may or may not make it out before the connection is
     * dropped; what matters is a clean, complete shutdown. */
    const char *reqs[] = {GET("/shutdown")};
    exchange_run(f, reqs, 1);
    assert_true(f->client.nresp == 1 || f->client.saw_eof);
}

static void count_cb(uv_prepare_t *p)
{
    struct fixture *f = p->data;
    if (f->counting)
        f->iterations++;
}

static void quiet_over_cb(uv_timer_t *t)
{
    struct fixture *f = t->data;
    f->counting = false;
    uv_close((uv_handle_t *)&f->prepare, NULL);
    uv_close((uv_handle_t *)&f->quiet, NULL);
    client_close(&f->client);
    close_http(f);
}

static void begin_quiet(struct client *c)
{
    struct fixture *f = c->data;
    f->counting = true;
    assert_int_equal(uv_timer_start(&f->quiet, quiet_over_cb, 300, 0), 0);
}

static void http_idle_does_not_spin(void **state)
{
    struct fixture *f = *state;
    /* With a keep-alive connection open (so MHD has a timeout pending), the
     * loop must sleep: count its iterations over a quiet 300 ms. */
    assert_int_equal(uv_prepare_init(&f->loop, &f->prepare), 0);
    f->prepare.data = f;
    assert_int_equal(uv_prepare_start(&f->prepare, count_cb), 0);
    assert_int_equal(uv_timer_init(&f->loop, &f->quiet), 0);
    f->quiet.data = f;
    f->client.keep_open = true;
    f->client.on_done = begin_quiet;
    const char *reqs[] = {GET("/metrics")};
    exchange(f, reqs, 1);
    assert_false(f->client.saw_eof);
    print_message("idle loop iterations in 300 ms: %u\n", f->iterations);
    assert_true(f->iterations < 10);
}

static void http_ipv6_loopback(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {GET("/metrics")};
    exchange(f, reqs, 1);
    assert_int_equal(f->client.resp[0].status, 200);
}

static void http_localhost_resolves(void **state)
{
    struct fixture *f = *state;
    const char *reqs[] = {GET("/metrics")};
    exchange(f, reqs, 1);
    assert_int_equal(f->client.resp[0].status, 200);
}

/* ---- tests without a running server ------------------------------------ */

static void flag_cb(void *ud)
{
    *(bool *)ud = true;
}

static void http_close_before_start(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct sb_http *h;
    char err[256];
    assert_int_equal(sb_http_new(&h, &loop, "127.0.0.1:0", err, sizeof(err)), 0);
    sb_http_route(h, "/metrics", metrics_handler, NULL);
    bool closed = false;
    sb_http_close(h, flag_cb, &closed);
    /* As with uv_close, the callback never runs from inside the call. */
    assert_false(closed);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_true(closed);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void http_listen_in_use_fails(void **state)
{
    (void)state;
    int fds_before = count_fds();
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    struct sb_http *a, *b;
    char err[256] = "", listen[64], want[128];
    assert_int_equal(sb_http_new(&a, &loop, "127.0.0.1:0", err, sizeof(err)), 0);
    assert_int_equal(sb_http_start(a, err, sizeof(err)), 0);
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", sb_http_port(a));
    assert_int_equal(sb_http_new(&b, &loop, listen, err, sizeof(err)), 0);
    assert_int_equal(sb_http_start(b, err, sizeof(err)), -EADDRINUSE);
    snprintf(want, sizeof(want), "cannot listen on %s: Address already in use", listen);
    assert_string_equal(err, want);
    bool a_closed = false, b_closed = false;
    sb_http_close(a, flag_cb, &a_closed);
    sb_http_close(b, flag_cb, &b_closed);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_true(a_closed && b_closed);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(count_fds(), fds_before);
}

static void http_listen_parse_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "127.0.0.1", "127.0.0.1:",  "127.0.0.1:65536", "127.0.0.1:9x",
        ":9550",     "::1:9550",    "[::1]9550",       "[::1",
        "[]:9550",   "[1.2.3.4]:1", "127.0.0.1:-1",    "no-such-host.invalid:9550",
    };
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    for (size_t i = 0; i < SB_ARRAY_SIZE(bad); i++) {
        struct sb_http *h = (struct sb_http *)&loop; /* must be reset to NULL */
        char err[256] = "";
        int rc = sb_http_new(&h, &loop, bad[i], err, sizeof(err));
        if (rc >= 0)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_null(h);
        assert_non_null(strstr(err, bad[i]));
    }
    /* Nothing was left on the loop. */
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void count_close(void *ud)
{
    (*(int *)ud)++;
}

static void http_listen_accepts_forms(void **state)
{
    (void)state;
    static const char *const good[] = {"0.0.0.0:9550", "127.0.0.1:0", "[::1]:9550", "[::]:0",
                                       "localhost:65535"};
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    int closed = 0;
    for (size_t i = 0; i < SB_ARRAY_SIZE(good); i++) {
        struct sb_http *h;
        char err[256] = "";
        int rc = sb_http_new(&h, &loop, good[i], err, sizeof(err));
        if (rc != 0)
            fail_msg("\"%s\" rejected: %s", good[i], err);
        sb_http_close(h, count_close, &closed);
    }
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(closed, (int)SB_ARRAY_SIZE(good));
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    /* MHD's start-up warnings are expected in the failure tests. */
    sb_log_level = getenv("SB_TEST_DEBUG") ? SB_LOG_DEBUG : SB_LOG_ERR;
    /* The first loop in a process opens libuv's global signal-lock pipe for
     * good; open it now so the descriptor counts in the tests compare like
     * with like. */
    uv_loop_t warm;
    if (uv_loop_init(&warm) != 0 || uv_loop_close(&warm) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(http_get_returns_body_and_content_type, setup, teardown),
        cmocka_unit_test_setup_teardown(http_head_has_headers_without_body, setup, teardown),
        cmocka_unit_test_setup_teardown(http_handler_sees_request_and_sets_headers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(http_unknown_path_is_404, setup, teardown),
        cmocka_unit_test_setup_teardown(http_post_is_405_with_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(http_post_unknown_path_is_404, setup, teardown),
        cmocka_unit_test_setup_teardown(http_delete_is_405_and_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(http_get_with_body_is_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(http_query_string_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(http_keep_alive_two_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(http_gzip_when_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(http_gzip_leaves_an_empty_body_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(http_head_without_body_has_no_content_length, setup,
                                        teardown),
        cmocka_unit_test(http_accept_encoding_parsing),
        cmocka_unit_test(http_accept_negotiation),
        cmocka_unit_test_setup_teardown(http_large_body_arrives_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(http_handler_status_and_default_content_type, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(http_close_drops_open_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(http_close_from_handler, setup, teardown),
        cmocka_unit_test_setup_teardown(http_idle_does_not_spin, setup, teardown),
        cmocka_unit_test_setup_teardown(http_ipv6_loopback, setup_v6, teardown),
        cmocka_unit_test_setup_teardown(http_localhost_resolves, setup_localhost, teardown),
        cmocka_unit_test(http_close_before_start),
        cmocka_unit_test(http_listen_in_use_fails),
        cmocka_unit_test(http_listen_parse_errors),
        cmocka_unit_test(http_listen_accepts_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
