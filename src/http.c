/* http.c - libmicrohttpd on the libuv loop, with no thread of its own. */
#include "sensorbridge/http.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "sensorbridge/gzip.h"
#include "sensorbridge/log.h"
#include "sensorbridge/webconfig.h"

/* MHD may repeat an error per connection (e.g. accept() failing with
 * EMFILE); one line per second is enough to see it. */
#define SB_HTTP_LOG_INTERVAL_NS 1000000000ull

#define SB_HTTP_DEFAULT_CONTENT_TYPE "text/plain; charset=utf-8"
#define SB_HTTP_ALLOW "GET, HEAD"

struct sb_http_route_entry {
    char *path;
    size_t path_len;
    sb_http_handler cb;
    void *ud;
};

struct sb_http {
    uv_loop_t *loop;
    char *listen;                 /* as configured, for messages */
    struct sockaddr_storage addr; /* resolved in sb_http_new */
    socklen_t addr_len;

    struct MHD_Daemon *daemon;
    unsigned port;

    /* The timer is initialised in sb_http_new so that sb_http_close always
     * has a handle to close and its callback is never called re-entrantly;
     * the poll handle only exists once the daemon (and its epoll fd) does. */
    uv_timer_t timer;
    uv_poll_t poll;
    bool poll_inited;
    bool closing;
    int pending_closes;
    void (*close_cb)(void *ud);
    void *close_ud;

    /* While MHD_start_daemon runs, MHD's messages are kept so a start
     * failure can be explained even when errno is not reliable. */
    bool starting;
    char start_msg[512];
    struct sb_ratelimit log_rl;

    struct sb_http_route_entry routes[SB_HTTP_MAX_ROUTES];
    size_t nroutes;

    unsigned max_connections;
    unsigned timeout_s;
    unsigned connections; /* open now, counted by connection_cb */

    struct sb_webconfig web; /* TLS and basic auth; empty: neither */
};

struct sb_http_request {
    struct MHD_Connection *conn;
    bool head;
};

bool sb_http_request_is_head(const struct sb_http_request *req)
{
    return req->head;
}

const char *sb_http_request_header(const struct sb_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *sb_http_request_query(const struct sb_http_request *req, const char *name)
{
    const char *value = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      &len) != MHD_YES)
        return NULL;
    return value ? value : "";
}

void sb_http_response_header(struct sb_http_response *resp, const char *name, const char *value)
{
    assert(resp->nheaders < SB_HTTP_MAX_HEADERS);
    resp->headers[resp->nheaders][0] = name;
    resp->headers[resp->nheaders][1] = value;
    resp->nheaders++;
}

/* The address of this marks a connection whose first access-handler call
 * has been seen (see access_cb). */
static int sb_http_seen_marker;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Parses a decimal port 0..65535 with nothing else around it. */
static int parse_port(const char *s, unsigned *port)
{
    if (*s == '\0' || strlen(s) > 5)
        return -EINVAL;
    unsigned v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > 65535)
        return -EINVAL;
    *port = v;
    return 0;
}

/* Splits "host:port" / "[v6]:port" and resolves host (numeric first, then
 * getaddrinfo, first result). */
static int resolve_listen(struct sb_http *h, const char *listen, char *err, size_t errlen)
{
    char host[256];
    const char *port_str;
    bool bracketed = false;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':') {
            set_err(err, errlen,
                    "listen address \"%s\": expected \"[v6-address]:port\", e.g. \"[::1]:9550\"",
                    listen);
            return -EINVAL;
        }
        size_t n = (size_t)(close - listen - 1);
        if (n == 0 || n >= sizeof(host)) {
            set_err(err, errlen, "listen address \"%s\": bad IPv6 address", listen);
            return -EINVAL;
        }
        memcpy(host, listen + 1, n);
        host[n] = '\0';
        port_str = close + 2;
        bracketed = true;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon) {
            set_err(err, errlen,
                    "listen address \"%s\": expected \"host:port\", e.g. \"127.0.0.1:9550\"",
                    listen);
            return -EINVAL;
        }
        if (memchr(listen, ':', (size_t)(colon - listen))) {
            set_err(err, errlen,
                    "listen address \"%s\": put an IPv6 address in brackets, e.g. \"[::1]:9550\"",
                    listen);
            return -EINVAL;
        }
        size_t n = (size_t)(colon - listen);
        if (n == 0) {
            set_err(err, errlen,
                    "listen address \"%s\": missing host (use \"0.0.0.0%s\" for all interfaces)",
                    listen, colon);
            return -EINVAL;
        }
        if (n >= sizeof(host)) {
            set_err(err, errlen, "listen address \"%s\": host name too long", listen);
            return -EINVAL;
        }
        memcpy(host, listen, n);
        host[n] = '\0';
        port_str = colon + 1;
    }

    unsigned port;
    if (parse_port(port_str, &port) < 0) {
        set_err(err, errlen, "listen address \"%s\": port must be a number from 0 to 65535",
                listen);
        return -EINVAL;
    }

    memset(&h->addr, 0, sizeof(h->addr));
    struct sockaddr_in *sin = (struct sockaddr_in *)&h->addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&h->addr;
    if (!bracketed && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        h->addr_len = sizeof(*sin);
        return 0;
    }
    if (bracketed) {
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
            set_err(err, errlen, "listen address \"%s\": \"%s\" is not an IPv6 address", listen,
                    host);
            return -EINVAL;
        }
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        h->addr_len = sizeof(*sin6);
        return 0;
    }

    /* A name: resolve it once, here, so a typo is reported with the rest
     * of the configuration rather than when the server starts. */
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, port_str, &hints, &res);
    if (rc != 0 || !res) {
        set_err(err, errlen, "listen address \"%s\": cannot resolve \"%s\": %s", listen, host,
                rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        if (res)
            freeaddrinfo(res);
        return -ENOENT;
    }
    if ((res->ai_family != AF_INET && res->ai_family != AF_INET6) ||
        res->ai_addrlen > sizeof(h->addr)) {
        set_err(err, errlen, "listen address \"%s\": \"%s\" has no IPv4 or IPv6 address", listen,
                host);
        freeaddrinfo(res);
        return -EAFNOSUPPORT;
    }
    memcpy(&h->addr, res->ai_addr, res->ai_addrlen);
    h->addr_len = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int sb_http_new(struct sb_http **out, uv_loop_t *loop, const char *listen, char *err, size_t errlen)
{
    *out = NULL;
    struct sb_http *h = sb_xcalloc(1, sizeof(*h));
    int rc = resolve_listen(h, listen, err, errlen);
    if (rc < 0) {
        /* Nothing touched the loop yet, so a plain free is the whole cleanup. */
        free(h);
        return rc;
    }
    h->loop = loop;
    h->listen = sb_xstrdup(listen);
    h->log_rl.interval_ns = SB_HTTP_LOG_INTERVAL_NS;
    h->max_connections = SB_HTTP_DEFAULT_MAX_CONNECTIONS;
    h->timeout_s = SB_HTTP_DEFAULT_TIMEOUT_S;
    rc = uv_timer_init(loop, &h->timer);
    assert(rc == 0); /* cannot fail on Linux */
    (void)rc;
    h->timer.data = h;
    *out = h;
    return 0;
}

void sb_http_set_limits(struct sb_http *h, unsigned max_connections, unsigned timeout_s)
{
    assert(!h->daemon);
    assert(max_connections >= 1 && timeout_s >= 1);
    h->max_connections = max_connections;
    h->timeout_s = timeout_s;
}

void sb_http_set_web_config(struct sb_http *h, const struct sb_webconfig *wc)
{
    assert(!h->daemon);
    sb_webconfig_free(&h->web);
    sb_webconfig_copy(&h->web, wc);
}

bool sb_http_tls(const struct sb_http *h)
{
    return h->web.cert_pem != NULL;
}

void sb_http_route(struct sb_http *h, const char *path, sb_http_handler cb, void *ud)
{
    size_t len = strlen(path);
    for (size_t i = 0; i < h->nroutes; i++) {
        struct sb_http_route_entry *r = &h->routes[i];
        if (r->path_len == len && memcmp(r->path, path, len) == 0) {
            r->cb = cb;
            r->ud = ud;
            return;
        }
    }
    if (h->nroutes == SB_HTTP_MAX_ROUTES) {
        /* A fixed table sized for the daemon's own routes: overflowing it is a
         * programming error, not a runtime condition. */
        sb_err("msg=\"too many http routes\" max=%d path=%s", SB_HTTP_MAX_ROUTES, path);
        abort();
    }
    struct sb_http_route_entry *r = &h->routes[h->nroutes++];
    r->path = sb_xstrndup(path, len);
    r->path_len = len;
    r->cb = cb;
    r->ud = ud;
}

static void mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
    struct sb_http *h = cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == '.'))
        msg[--n] = '\0';
    sb_log_quote(msg);
    if (h->starting) {
        snprintf(h->start_msg, sizeof(h->start_msg), "%s", msg);
        sb_warn("msg=\"libmicrohttpd\" listen=%s detail=\"%s\"", h->listen, msg);
        return;
    }
    uint64_t suppressed = 0;
    if (!sb_ratelimit_ok(&h->log_rl, sb_now_mono_ns(), &suppressed))
        return;
    if (suppressed)
        sb_warn("msg=\"libmicrohttpd\" listen=%s detail=\"%s\" suppressed=%llu", h->listen, msg,
                (unsigned long long)suppressed);
    else
        sb_warn("msg=\"libmicrohttpd\" listen=%s detail=\"%s\"", h->listen, msg);
}

static const struct sb_http_route_entry *find_route(const struct sb_http *h, const char *url)
{
    /* MHD has split off the query string at the first '?' before decoding
     * the path, so a '?' still in url was written %3F and is part of the
     * path: "/metrics%3F" is no route. */
    size_t len = strlen(url);
    for (size_t i = 0; i < h->nroutes; i++) {
        const struct sb_http_route_entry *r = &h->routes[i];
        if (r->path_len == len && memcmp(r->path, url, len) == 0)
            return r;
    }
    return NULL;
}

/* MHD decodes %XX in the path in place and hands it over as a C string,
 * so "%00" would end it early: "/metrics%00x" would be served as
 * /metrics. A path holding %00 is left undecoded, so it matches no route.
 * (The same callback decodes the query's arguments, which no route
 * reads.) */
static size_t unescape_cb(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    if (strstr(s, "%00"))
        return strlen(s);
    return MHD_http_unescape(s);
}

/* ---- content negotiation (RFC 9110 12.5) ---- */

#define SB_HTTP_MAX_ACCEPT_ITEMS 32

/* One element of a comma-separated Accept or Accept-Encoding list. */
struct accept_item {
    const char *name; /* "text/plain", "gzip", "*" ... not NUL-terminated */
    size_t name_len;
    const char *version; /* the media type's version parameter, or NULL */
    size_t version_len;
    unsigned q; /* thousandths: "q=0.5" is 500 */
    size_t pos; /* order in the header, for a stable sort */
};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The first c in [s, end), or NULL. */
static const char *find_in(const char *s, const char *end, char c)
{
    for (; s < end; s++)
        if (*s == c)
            return s;
    return NULL;
}

/* "1", "1.000", "0", "0.5", "0.125" (RFC 9110 12.4.2); anything else is no qvalue. */
static bool parse_qvalue(const char *s, size_t n, unsigned *q)
{
    if (n == 0 || (s[0] != '0' && s[0] != '1') || (n > 1 && s[1] != '.') || n > 5)
        return false;
    unsigned v = (unsigned)(s[0] - '0') * 1000, scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v += (unsigned)(s[i] - '0') * scale;
    }
    if (v > 1000)
        return false;
    *q = v;
    return true;
}

/* Splits a header into at most SB_HTTP_MAX_ACCEPT_ITEMS items (the rest
 * is ignored); an item with a malformed q is dropped, as RFC 9110 lets a
 * recipient do. Returns the number of items. */
static size_t parse_accept(const char *h, struct accept_item *items)
{
    size_t n = 0, pos = 0;
    const char *p = h;
    while (*p && n < SB_HTTP_MAX_ACCEPT_ITEMS) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *a = p;
        while (a < end && is_ows(*a))
            a++;
        const char *semi = find_in(a, end, ';');
        const char *name_end = semi ? semi : end;
        while (name_end > a && is_ows(name_end[-1]))
            name_end--;
        struct accept_item it = {.name = a, .name_len = (size_t)(name_end - a), .q = 1000};
        bool ok = it.name_len > 0;
        for (const char *param = semi; ok && param && param < end;) {
            param++;
            const char *next = find_in(param, end, ';');
            const char *pend = next ? next : end;
            while (param < pend && is_ows(*param))
                param++;
            const char *eq = find_in(param, pend, '=');
            const char *vend = pend;
            while (vend > param && is_ows(vend[-1]))
                vend--;
            if (eq) {
                size_t klen = (size_t)(eq - param);
                while (klen > 0 && is_ows(param[klen - 1]))
                    klen--;
                const char *v = eq + 1;
                while (v < vend && is_ows(*v))
                    v++;
                if (vend - v >= 2 && *v == '"' && vend[-1] == '"') {
                    v++;
                    vend--;
                }
                if (klen == 1 && (param[0] == 'q' || param[0] == 'Q'))
                    ok = parse_qvalue(v, (size_t)(vend - v), &it.q);
                else if (klen == 7 && strncasecmp(param, "version", 7) == 0) {
                    it.version = v;
                    it.version_len = (size_t)(vend - v);
                }
            }
            param = next;
        }
        if (ok) {
            it.pos = pos;
            items[n++] = it;
        }
        pos++;
        p = *end ? end + 1 : end;
    }
    return n;
}

static bool name_is(const struct accept_item *it, const char *name)
{
    return strlen(name) == it->name_len && strncasecmp(it->name, name, it->name_len) == 0;
}

bool sb_http_accepts_gzip(const char *accept_encoding)
{
    if (!accept_encoding)
        return false;
    struct accept_item items[SB_HTTP_MAX_ACCEPT_ITEMS];
    size_t n = parse_accept(accept_encoding, items);
    /* A coding named explicitly wins over "*" (RFC 9110 12.5.3), so
     * "gzip;q=0, *" refuses gzip and "*" alone accepts it. */
    int star = -1;
    for (size_t i = 0; i < n; i++) {
        if (name_is(&items[i], "gzip") || name_is(&items[i], "x-gzip"))
            return items[i].q > 0;
        if (name_is(&items[i], "*"))
            star = items[i].q > 0;
    }
    return star == 1;
}

static int item_cmp(const void *pa, const void *pb)
{
    const struct accept_item *a = pa, *b = pb;
    if (a->q != b->q)
        return a->q > b->q ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

int sb_http_negotiate(const char *accept, const struct sb_http_media *offers, size_t noffers)
{
    if (!accept)
        return -1;
    struct accept_item items[SB_HTTP_MAX_ACCEPT_ITEMS];
    size_t n = parse_accept(accept, items);
    qsort(items, n, sizeof(items[0]), item_cmp);
    for (size_t i = 0; i < n && items[i].q > 0; i++) {
        for (size_t k = 0; k < noffers; k++) {
            if (!name_is(&items[i], offers[k].type))
                continue;
            if (!items[i].version ||
                (strlen(offers[k].version) == items[i].version_len &&
                 memcmp(offers[k].version, items[i].version, items[i].version_len) == 0))
                return (int)k;
        }
    }
    return -1;
}

/* A HEAD whose handler built no body gets no Content-Length rather than a
 * false 0 (RFC 9110 8.6): a response of unknown size, which MHD never
 * reads for HEAD. It is sent HTTP/1.0-style, closing the connection
 * after it: otherwise MHD 0.9.75 makes it chunked and sends the last chunk
 * ("0\r\n\r\n") even for HEAD, where a kept-alive client reads it as the
 * start of its next response. */
static ssize_t no_body_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    (void)buf;
    (void)max;
    return MHD_CONTENT_READER_END_OF_STREAM;
}

/* A response of a literal text body, in the default Content-Type; NULL if
 * MHD cannot make one. */
static struct MHD_Response *text_response(const char *body)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (resp && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                        SB_HTTP_DEFAULT_CONTENT_TYPE) != MHD_YES) {
        MHD_destroy_response(resp);
        resp = NULL;
    }
    return resp;
}

static enum MHD_Result queue_static(struct MHD_Connection *conn, unsigned status, const char *body,
                                    const char *allow)
{
    struct MHD_Response *resp = text_response(body);
    if (!resp)
        return MHD_NO;
    enum MHD_Result ok = MHD_YES;
    if (allow)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (ok == MHD_YES)
        ok = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result queue_handler(struct sb_http *h, struct MHD_Connection *conn,
                                     const struct sb_http_route_entry *r, const char *url,
                                     bool head)
{
    struct sb_http_request req = {.conn = conn, .head = head};
    struct sb_http_response out = {
        .status = 200, .content_type = SB_HTTP_DEFAULT_CONTENT_TYPE, .compressible = true};
    sb_buf_init(&out.body);
    r->cb(r->ud, &req, &out);

    bool gzip = out.compressible && sb_http_accepts_gzip(MHD_lookup_connection_value(
                                        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING));
    /* An empty body is no gzip stream: it goes as it is. A HEAD that built
     * nothing says what its GET would get. */
    if (gzip && !head && out.body.len == 0)
        gzip = false;
    if (gzip && out.body.len > 0 && !sb_gzip(&out.body)) {
        sb_err("msg=\"cannot gzip an http response, sending it uncompressed\" listen=%s url=%s "
               "bytes=%zu",
               h->listen, url, out.body.len);
        gzip = false;
    }

    unsigned status = out.status;
    if (status < 100 || status > 599) {
        sb_err("msg=\"http handler returned an invalid status\" listen=%s path=%s status=%u",
               h->listen, r->path, status);
        status = 500;
    }
    const char *ctype = out.content_type ? out.content_type : SB_HTTP_DEFAULT_CONTENT_TYPE;

    /* Hand the body over instead of copying it: a scrape can be several MB.
     * The buffer comes from sb_x*alloc, i.e. malloc, so free() releases it. */
    struct MHD_Response *resp;
    bool unknown_size = !out.body.data && head;
    if (out.body.data)
        resp =
            MHD_create_response_from_buffer_with_free_callback(out.body.len, out.body.data, free);
    else if (unknown_size)
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, no_body_cb, NULL, NULL);
    else
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        sb_err("msg=\"cannot create http response\" listen=%s url=%s bytes=%zu", h->listen, url,
               out.body.len);
        sb_buf_free(&out.body);
        return MHD_NO;
    }
    enum MHD_Result ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    /* Caches must key a compressible response on Accept-Encoding, whichever
     * encoding this one got. */
    if (ok == MHD_YES && out.compressible)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    if (ok == MHD_YES && unknown_size)
        ok = MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
    if (ok == MHD_YES && gzip)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    for (size_t i = 0; ok == MHD_YES && i < out.nheaders; i++)
        ok = MHD_add_response_header(resp, out.headers[i][0], out.headers[i][1]);
    if (ok == MHD_YES)
        ok = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ok;
}

#define SB_HTTP_REALM "sensorbridge"

/* Whether the request may go on: always without basic_auth_users, else
 * with the credentials of one of them. */
static bool authorized(struct sb_http *h, struct MHD_Connection *conn)
{
    if (h->web.nusers == 0)
        return true;
    char *password = NULL;
    char *user = MHD_basic_auth_get_username_password(conn, &password);
    bool ok = user && password && sb_webconfig_check(&h->web, user, password);
    if (user && !ok) {
        uint64_t suppressed = 0;
        if (sb_ratelimit_ok(&h->log_rl, sb_now_mono_ns(), &suppressed))
            sb_warn("msg=\"http request refused: wrong user or password\" listen=%s "
                    "suppressed=%llu",
                    h->listen, (unsigned long long)suppressed);
    }
    if (user)
        MHD_free(user);
    if (password)
        MHD_free(password);
    return ok;
}

/* 401 with WWW-Authenticate: Basic realm="sensorbridge". */
static enum MHD_Result queue_unauthorized(struct MHD_Connection *conn)
{
    struct MHD_Response *resp = text_response("unauthorized\n");
    if (!resp)
        return MHD_NO;
    enum MHD_Result ok = MHD_queue_basic_auth_fail_response(conn, SB_HTTP_REALM, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    struct sb_http *h = cls;
    (void)version;
    (void)upload_data;

    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;

    if (*con_cls != &sb_http_seen_marker) {
        if (!get && !head) {
            /* Refuse before any body is read: 0.9.75 cannot queue a
             * response while an upload is in progress, and answering now
             * makes it close the connection instead of reading an upload
             * nobody wants. Without credentials, not even which paths
             * exist. */
            if (!authorized(h, conn))
                return queue_unauthorized(conn);
            if (!find_route(h, url))
                return queue_static(conn, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
            return queue_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
                                SB_HTTP_ALLOW);
        }
        /* MHD 0.9.75 answers "Connection: close" to a response queued on
         * the first call (headers only), so the first call just marks the
         * request and the response is queued on the next one. */
        *con_cls = &sb_http_seen_marker;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        /* A GET with a body: discard it and answer once it has been read. */
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (!authorized(h, conn))
        return queue_unauthorized(conn);
    const struct sb_http_route_entry *r = find_route(h, url);
    if (!r)
        return queue_static(conn, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
    return queue_handler(h, conn, r, url, head);
}

/* libmicrohttpd 0.9.75 in epoll mode (edge-triggered) reads a request that
 * arrived together with the client's FIN and answers it, but misses the
 * FIN: the connection would wait for the idle timeout, and a client
 * waiting for the close with it. Once a response is sent, a peek that
 * finds the end of the stream (and no further request) means the client
 * is gone: shutting the socket down wakes MHD's epoll, it reads the end
 * and closes the connection. The response is wholly in the kernel's send
 * buffer by then, and goes out before the FIN. */
static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)con_cls;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        return;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info)
        return;
    char c;
    if (recv(info->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
        shutdown(info->connect_fd, SHUT_RDWR);
}

/* Counts the open connections for accept_cb. */
static void connection_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct sb_http *h = cls;
    (void)conn;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        h->connections++;
    else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && h->connections > 0)
        h->connections--;
}

/* The connection limit. MHD's own MHD_OPTION_CONNECTION_LIMIT stops
 * accepting when it is reached, so one more client would wait unanswered
 * in the listen backlog until a slot frees or it gives up (a scrape until
 * its timeout); refusing it here closes it at once, so it knows. MHD's
 * limit is set above ours and is never reached. */
static enum MHD_Result accept_cb(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct sb_http *h = cls;
    (void)addr;
    (void)addrlen;
    if (h->connections < h->max_connections)
        return MHD_YES;
    uint64_t suppressed = 0;
    if (sb_ratelimit_ok(&h->log_rl, sb_now_mono_ns(), &suppressed))
        sb_warn("msg=\"http connection refused: max_connections reached\" listen=%s "
                "max_connections=%u suppressed=%llu",
                h->listen, h->max_connections, (unsigned long long)suppressed);
    return MHD_NO;
}

static void rearm_timer(struct sb_http *h, bool from_timer);

static void run_daemon(struct sb_http *h, bool from_timer)
{
    if (MHD_run(h->daemon) != MHD_YES)
        sb_err("msg=\"MHD_run failed\" listen=%s", h->listen);
    /* A handler may have called sb_http_close from inside MHD_run. */
    if (!h->closing)
        rearm_timer(h, from_timer);
}

static void timer_cb(uv_timer_t *t)
{
    run_daemon(t->data, true);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
    struct sb_http *h = p->data;
    (void)events;
    if (status < 0) {
        uint64_t suppressed = 0;
        if (sb_ratelimit_ok(&h->log_rl, sb_now_mono_ns(), &suppressed))
            sb_err("msg=\"polling the http epoll fd failed\" listen=%s error=\"%s\"", h->listen,
                   uv_strerror(status));
    }
    run_daemon(h, false);
}

static void rearm_timer(struct sb_http *h, bool from_timer)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout(h->daemon, &ms) != MHD_YES) {
        uv_timer_stop(&h->timer);
        return;
    }
    /* libuv 1.44 runs a timer re-armed with 0 from its own callback again in
     * the same pass, without polling for I/O in between; while MHD keeps
     * asking for 0 that would starve the loop. */
    if (ms == 0 && from_timer)
        ms = 1;
    uv_timer_start(&h->timer, timer_cb, (uint64_t)ms, 0);
}

/* The bound port, read from the listen socket so port 0 reports the port
 * the kernel picked. */
static unsigned bound_port(struct MHD_Daemon *d)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (info && info->port != 0)
        return info->port;
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
    if (!info)
        return 0;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(info->listen_fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int sb_http_start(struct sb_http *h, char *err, size_t errlen)
{
    if (h->closing) {
        set_err(err, errlen, "http server on %s is closing", h->listen);
        return -EINVAL;
    }
    if (h->daemon) {
        set_err(err, errlen, "http server on %s already started", h->listen);
        return -EALREADY;
    }

    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    /* The key and certificate as PEM in memory (read by the web config),
     * or nothing. */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, h->web.key_pem},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, h->web.cert_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    if (sb_http_tls(h)) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            set_err(err, errlen, "cannot serve TLS on %s (%s): this libmicrohttpd has no TLS",
                    h->listen, h->web.path);
            return -ENOTSUP;
        }
        flags |= MHD_USE_TLS;
    }
    if (h->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = h->addr.ss_family == AF_INET6
                        ? ntohs(((struct sockaddr_in6 *)&h->addr)->sin6_port)
                        : ntohs(((struct sockaddr_in *)&h->addr)->sin_port);

    h->starting = true;
    h->start_msg[0] = '\0';
    errno = 0;
    /* The logger goes first so MHD's own start-up messages reach it. */
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, port, accept_cb, h, access_cb, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&h->addr, MHD_OPTION_CONNECTION_LIMIT,
        2 * h->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, h->timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SB_HTTP_CONNECTION_MEMORY,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape_cb, NULL, MHD_OPTION_NOTIFY_COMPLETED, completed_cb,
        NULL, MHD_OPTION_NOTIFY_CONNECTION, connection_cb, h, MHD_OPTION_ARRAY,
        sb_http_tls(h) ? tls : tls + 2, MHD_OPTION_END);
    int saved = errno;
    h->starting = false;
    if (!d) {
        /* MHD closes the socket before returning, which normally leaves the
         * bind/listen errno in place; fall back to MHD's own words. */
        int rc = saved > 0 ? -saved : -EIO;
        if (saved > 0)
            set_err(err, errlen, "cannot listen on %s: %s", h->listen, strerror(saved));
        else
            set_err(err, errlen, "cannot listen on %s: %s", h->listen,
                    h->start_msg[0] ? h->start_msg : "libmicrohttpd failed to start");
        return rc;
    }

    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
    int rc = info ? uv_poll_init(h->loop, &h->poll, info->epoll_fd) : UV_EINVAL;
    if (rc < 0) {
        set_err(err, errlen, "cannot listen on %s: cannot watch the libmicrohttpd epoll fd: %s",
                h->listen, uv_strerror(rc));
        MHD_stop_daemon(d);
        return rc;
    }
    h->poll_inited = true;
    h->poll.data = h;
    h->daemon = d;
    h->port = bound_port(d);

    /* Readable only: the epoll fd turns readable whenever any of MHD's
     * sockets is ready in either direction. */
    rc = uv_poll_start(&h->poll, UV_READABLE, poll_cb);
    if (rc < 0) {
        set_err(err, errlen, "cannot listen on %s: cannot watch the libmicrohttpd epoll fd: %s",
                h->listen, uv_strerror(rc));
        /* The daemon is stopped by sb_http_close, after the poll handle. */
        return rc;
    }
    rearm_timer(h, false);
    sb_debug("msg=\"http started\" listen=%s port=%u", h->listen, h->port);
    return 0;
}

unsigned sb_http_port(const struct sb_http *h)
{
    return h->port;
}

static void close_one_cb(uv_handle_t *handle)
{
    struct sb_http *h = handle->data;
    if (--h->pending_closes > 0)
        return;
    /* Both handles are closed, so the epoll fd is no longer watched and
     * MHD can close it together with every connection. This also never
     * runs inside MHD_run, even when a handler started the close. */
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    for (size_t i = 0; i < h->nroutes; i++)
        free(h->routes[i].path);
    sb_webconfig_free(&h->web);
    void (*cb)(void *) = h->close_cb;
    void *ud = h->close_ud;
    free(h->listen);
    free(h);
    if (cb)
        cb(ud);
}

void sb_http_close(struct sb_http *h, void (*cb)(void *ud), void *ud)
{
    assert(!h->closing);
    h->closing = true;
    h->close_cb = cb;
    h->close_ud = ud;
    h->pending_closes = 1;
    uv_close((uv_handle_t *)&h->timer, close_one_cb);
    if (h->poll_inited) {
        h->pending_closes++;
        uv_close((uv_handle_t *)&h->poll, close_one_cb);
    }
}
