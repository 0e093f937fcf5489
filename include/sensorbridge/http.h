/*
 * http.h - the embedded HTTP server: libmicrohttpd driven from the libuv
 * loop with no thread of its own (MHD_USE_EPOLL; its epoll fd watched by a
 * uv_poll_t, MHD_run() on readiness, a uv_timer_t re-armed from
 * MHD_get_timeout()). Routes are exact paths, matched after the query
 * string is split off and %XX decoded ("/metrics%3F" and "/metrics%00"
 * are not /metrics); GET and HEAD only. The server, not the handlers,
 * gzips bodies, bounds connections and their idle time, and does TLS and
 * basic auth (sb_http_set_limits, sb_http_set_web_config).
 *
 * Lifecycle (libuv style): sb_http_new -> sb_http_route... -> sb_http_start
 * -> sb_http_close(cb); memory is released just before cb runs.
 */
#ifndef SB_HTTP_H
#define SB_HTTP_H

#include <stdbool.h>
#include <uv.h>

#include "sensorbridge/util.h"

#define SB_HTTP_MAX_ROUTES 32
/* The defaults of [http] max_connections and timeout (sb_http_set_limits). */
#define SB_HTTP_DEFAULT_MAX_CONNECTIONS 64
#define SB_HTTP_DEFAULT_TIMEOUT_S 30
/* Each connection's buffer for the request line, headers and MHD's own
 * response headers (libmicrohttpd's default, named here as our bound): a
 * request whose headers do not fit gets 431 (a request line, 414). Response bodies are the
 * handlers' buffers, outside it. */
#define SB_HTTP_CONNECTION_MEMORY (32 * 1024)

struct sb_http;

/* The request a handler answers: opaque, valid only during the handler call. */
struct sb_http_request;

/* True for HEAD: the server sends the headers the handler sets and no body,
 * so a handler may skip building one (a body it builds anyway is dropped,
 * and Content-Length then still gives its size). */
bool sb_http_request_is_head(const struct sb_http_request *req);
/* The value of request header name (case-insensitive), or NULL. */
const char *sb_http_request_header(const struct sb_http_request *req, const char *name);
/* The %XX-decoded value of query argument name ("?since=10"), "" for an
 * argument without a value ("?x"), or NULL when absent. */
const char *sb_http_request_query(const struct sb_http_request *req, const char *name);

#define SB_HTTP_MAX_HEADERS 8

/* What a handler fills in. body starts empty and is owned by the server;
 * status defaults to 200 and content_type to "text/plain; charset=utf-8".
 * compressible starts true: the server then gzips the body for a client
 * whose Accept-Encoding takes gzip (Content-Encoding: gzip) and sends
 * "Vary: Accept-Encoding" either way; a handler clears it for a body that
 * is compressed already (images, fonts). On HEAD the server sends only the
 * headers; if the handler built no body, without Content-Length (it does
 * not know it) and closing the connection after them.
 * content_type, and the names and values given to sb_http_response_header,
 * must point to storage that outlives the request (literals). */
struct sb_http_response {
    unsigned status;
    const char *content_type;
    struct sb_buf body;
    const char *headers[SB_HTTP_MAX_HEADERS][2]; /* name, value */
    size_t nheaders;
    bool compressible;
};

/* Adds a response header; at most SB_HTTP_MAX_HEADERS (asserted: a
 * programming error, not input). */
void sb_http_response_header(struct sb_http_response *resp, const char *name, const char *value);

/* Called on the loop thread for a GET or HEAD of the route's path (the query
 * string is stripped before matching). */
typedef void (*sb_http_handler)(void *ud, const struct sb_http_request *req,
                                struct sb_http_response *resp);

/* listen is "host:port" ("0.0.0.0:9550", "127.0.0.1:0", "[::1]:9550");
 * port 0 picks a free port (see sb_http_port). A host name is resolved
 * here (first getaddrinfo result). An IPv6 address listens on IPv6 only
 * ("[::]" does not accept IPv4). Returns 0 or -errno with a message in err
 * (*out is then NULL). Nothing is bound until sb_http_start. */
int sb_http_new(struct sb_http **out, uv_loop_t *loop, const char *listen, char *err,
                size_t errlen);

/* Bounds, before sb_http_start: at most max_connections at once (one
 * more is accepted and closed at once, without an answer), and a
 * connection that sends nothing for timeout_s seconds, mid-request or idle
 * between keep-alive requests, is closed. Both at least 1. */
void sb_http_set_limits(struct sb_http *h, unsigned max_connections, unsigned timeout_s);

struct sb_webconfig;

/* TLS and basic auth from a web config (webconfig.h), copied, before
 * sb_http_start: with a certificate the server speaks only HTTPS (a plain
 * HTTP request gets no answer); with basic_auth_users every request,
 * whatever its path or method, needs one user's credentials, else 401
 * with WWW-Authenticate: Basic realm="sensorbridge". */
void sb_http_set_web_config(struct sb_http *h, const struct sb_webconfig *wc);

/* Whether the server speaks HTTPS. */
bool sb_http_tls(const struct sb_http *h);

/* Whether an Accept-Encoding header value takes gzip: "gzip" (or
 * "x-gzip") with q > 0, or "*" with q > 0 and gzip not named. NULL (no
 * header) is identity only. */
bool sb_http_accepts_gzip(const char *accept_encoding);

/* A media type a handler can produce: type "text/plain", version "0.0.4". */
struct sb_http_media {
    const char *type;
    const char *version;
};

/* Picks one of offers for an Accept header value the way Prometheus's
 * client_golang does (expfmt.Negotiate): the header's media ranges in
 * order of q (highest first, ties in header order), skipping q=0; the
 * first that names an offer's type (case-insensitive) with no version
 * parameter or that offer's version wins. A wildcard range (any type, or
 * any subtype of text) names no offer.
 * Returns the offer's index, or -1 when nothing matched (also for NULL):
 * the caller then answers its default, as client_golang does (no 406). */
int sb_http_negotiate(const char *accept, const struct sb_http_media *offers, size_t noffers);

/* Registers a handler for an exact path such as "/metrics" (copied);
 * registering a path again replaces its handler. Other paths get 404;
 * other methods on a route get 405 with "Allow: GET, HEAD", answered
 * before any request body is read (the connection is then closed). */
void sb_http_route(struct sb_http *h, const char *path, sb_http_handler cb, void *ud);

/* Binds, listens and joins the loop. Returns 0 or -errno with a message
 * ("cannot listen on 127.0.0.1:9550: Address already in use"); on failure
 * h stays valid and must still be closed with sb_http_close. */
int sb_http_start(struct sb_http *h, char *err, size_t errlen);

/* The bound TCP port (after a successful start). */
unsigned sb_http_port(const struct sb_http *h);

/* Stops accepting, closes every connection and the loop handles; cb(ud)
 * runs once everything is released. Safe to call before start. */
void sb_http_close(struct sb_http *h, void (*cb)(void *ud), void *ud);

#endif
