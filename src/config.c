/*
 * config.c - the INI configuration. One table row per key (section, name,
 * default, flags, validator), in the manner of Redis' config.c: defaults are
 * produced by running each row's validator on its default text, so the
 * documented defaults and the accepted syntax cannot drift apart.
 *
 * libinih does the INI syntax. Its handler is not given a line number in
 * Debian's build (INI_HANDLER_LINENO is 0), so the file is read into memory
 * and handed to ini_parse_stream() one line per reader call: the reader
 * counts lines, and the line being parsed when the handler runs is the
 * reader's count. The reader also rejects what libinih would silently
 * misread: lines longer than its buffer (it would split them into two
 * lines), indented lines (it would append them to the previous value) and
 * unknown sections (it never reports a section without keys).
 */
#include "sensorbridge/config.h"

#include "sensorbridge/log.h"
#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SB_DEFAULT_DATASET
#define SB_DEFAULT_DATASET "/usr/share/sensorbridge/datasets/uci-hydraulic"
#endif

/* A configuration file is a page of text; anything bigger is a mistake
 * (a dataset passed as --config, say), and the cap bounds the parse. */
#define CONFIG_MAX_BYTES (256 * 1024)
#define KAFKA_PREFIX "kafka."
#define KAFKA_PREFIX_LEN (sizeof(KAFKA_PREFIX) - 1)
/* librdkafka has about 200 properties; more lines than that are a mistake. */
#define KAFKA_MAX_PROPS 256
#define TOPIC_PREFIX_MAX 200
#define SPEED_MAX 1e6
/* Slower than this, the schedule's nanosecond arithmetic would overflow
 * within a long replay. */
#define SPEED_MIN 0.001
#define CYCLE_MAX 100000
#define WHY_MAX 512

/* A key that is compared by sb_config_restart_key: a reload that changes
 * it is refused. */
#define OPT_RESTART 1u
/* The row's name is a prefix: "kafka.<property>". */
#define OPT_PREFIX 2u

/* How sb_config_restart_key compares a row's field. */
enum opt_field {
    FIELD_NONE,
    FIELD_INT,
    FIELD_BOOL,
    FIELD_STR,
    FIELD_KV,
};

struct parse_ctx {
    const char *key; /* the key as written in the file */
    const char *dir; /* absolute directory of the config file; NULL for defaults */
    char why[WHY_MAX];
};

struct opt {
    const char *section;
    const char *name;
    const char *id; /* "section.name", what sb_config_restart_key returns */
    const char *defval;
    unsigned flags;
    enum opt_field field;
    size_t off; /* offset of the field in struct sb_config (FIELD_* != NONE) */
    int min, max;
    int (*parse)(struct sb_config *c, const struct opt *o, const char *v, struct parse_ctx *p);
};

static int why(struct parse_ctx *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int why(struct parse_ctx *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof(p->why), fmt, ap);
    va_end(ap);
    return -1;
}

static void *field_ptr(struct sb_config *c, const struct opt *o)
{
    return (char *)c + o->off;
}

static const void *cfield_ptr(const struct sb_config *c, const struct opt *o)
{
    return (const char *)c + o->off;
}

static void set_str(char **dst, char *s)
{
    free(*dst);
    *dst = s;
}

/* Parses a plain decimal (no sign, no spaces, at most 9 digits so it
 * cannot overflow an int). */
static int parse_decimal(const char *s, size_t n, int *out)
{
    if (n == 0 || n > 9)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int parse_int(struct sb_config *c, const struct opt *o, const char *v, struct parse_ctx *p)
{
    int n;
    if (parse_decimal(v, strlen(v), &n) < 0 || n < o->min || n > o->max)
        return why(p, "expected an integer from %d to %d, got \"%s\"", o->min, o->max, v);
    *(int *)field_ptr(c, o) = n;
    return 0;
}

static int parse_bool(struct sb_config *c, const struct opt *o, const char *v, struct parse_ctx *p)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < SB_ARRAY_SIZE(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *(bool *)field_ptr(c, o) = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *(bool *)field_ptr(c, o) = false;
            return 0;
        }
    }
    return why(p, "expected true/false, yes/no, on/off or 1/0, got \"%s\"", v);
}

static int parse_log_level(struct sb_config *c, const struct opt *o, const char *v,
                           struct parse_ctx *p)
{
    (void)o;
    int level = sb_log_level_parse(v);
    if (level < 0)
        return why(p, "expected err, warning, notice, info or debug, got \"%s\"", v);
    c->log_level = level;
    return 0;
}

static bool is_host_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '.' || ch == '-' || ch == '_';
}

/* Checks "host:port" where host is an IPv4 literal, a bracketed IPv6
 * literal or a name. Only syntax: names are resolved by whoever connects
 * or binds, so a missing DNS entry is reported there. */
static int check_hostport(const char *s, size_t n, int min_port, struct parse_ctx *p)
{
    char host[256];
    const char *port;
    size_t hostlen;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return why(p, "missing ']' after the IPv6 address in \"%.*s\"", (int)n, s);
        hostlen = (size_t)(close - s - 1);
        if (hostlen == 0 || hostlen >= sizeof(host))
            return why(p, "bad IPv6 address in \"%.*s\"", (int)n, s);
        memcpy(host, s + 1, hostlen);
        host[hostlen] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return why(p, "\"%s\" is not an IPv6 address", host);
        if (close + 1 == s + n || close[1] != ':')
            return why(p, "expected [IPv6]:port, got \"%.*s\"", (int)n, s);
        port = close + 2;
    } else {
        const char *colon = NULL;
        for (size_t i = 0; i < n; i++)
            if (s[i] == ':')
                colon = s + i;
        if (!colon)
            return why(p, "expected host:port, got \"%.*s\" (no port)", (int)n, s);
        hostlen = (size_t)(colon - s);
        if (memchr(s, ':', hostlen))
            return why(p, "an IPv6 address needs brackets, as in [::1]:9550, got \"%.*s\"", (int)n,
                       s);
        if (hostlen == 0)
            return why(p,
                       "expected host:port, got \"%.*s\" (no host; use 0.0.0.0 or [::] for "
                       "every address)",
                       (int)n, s);
        if (hostlen >= sizeof(host))
            return why(p, "host name longer than %zu characters", sizeof(host) - 1);
        memcpy(host, s, hostlen);
        host[hostlen] = '\0';
        bool numeric = true;
        for (size_t i = 0; i < hostlen; i++) {
            if (!is_host_char(host[i]))
                return why(p, "bad character '%c' in host \"%s\"", host[i], host);
            if (!isdigit((unsigned char)host[i]) && host[i] != '.')
                numeric = false;
        }
        struct in_addr a4;
        /* Reject what only inet_aton's legacy forms would accept, like
         * "127.1": a resolver would take it and surprise everyone. */
        if (numeric && inet_pton(AF_INET, host, &a4) != 1)
            return why(p, "\"%s\" is not an IPv4 address", host);
        port = colon + 1;
    }
    int portnum;
    if (parse_decimal(port, (size_t)(s + n - port), &portnum) < 0 || portnum < min_port ||
        portnum > 65535)
        return why(p, "port must be a number from %d to 65535, got \"%.*s\"", min_port,
                   (int)(s + n - port), port);
    return 0;
}

static int parse_brokers(struct sb_config *c, const struct opt *o, const char *v,
                         struct parse_ctx *p)
{
    (void)o;
    if (strcmp(v, "embedded") == 0) {
        set_str(&c->brokers, sb_xstrdup(v));
        return 0;
    }
    if (!*v)
        return why(p, "expected \"embedded\" or host:port[,host:port...], got \"\"");
    /* Spaces around commas are accepted and dropped, so what reaches
     * bootstrap.servers is the canonical list. */
    struct sb_buf out;
    sb_buf_init(&out);
    const char *s = v;
    for (;;) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        while (n > 0 && isspace((unsigned char)*s)) {
            s++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)s[n - 1]))
            n--;
        if (n == 0) {
            sb_buf_free(&out);
            return why(p,
                       "empty entry in \"%s\"; expected \"embedded\" or "
                       "host:port[,host:port...]",
                       v);
        }
        if (check_hostport(s, n, 1, p) < 0) {
            sb_buf_free(&out);
            return -1;
        }
        if (out.len)
            sb_buf_putc(&out, ',');
        sb_buf_append(&out, s, n);
        if (!end)
            break;
        s = end + 1;
    }
    set_str(&c->brokers, out.data);
    return 0;
}

static int parse_listen(struct sb_config *c, const struct opt *o, const char *v,
                        struct parse_ctx *p)
{
    (void)o;
    if (check_hostport(v, strlen(v), 0, p) < 0)
        return -1;
    set_str(&c->listen, sb_xstrdup(v));
    return 0;
}

static int parse_topic_prefix(struct sb_config *c, const struct opt *o, const char *v,
                              struct parse_ctx *p)
{
    (void)o;
    size_t n = strlen(v);
    if (n < 1 || n > TOPIC_PREFIX_MAX)
        return why(p, "expected 1 to %d characters, got %zu", TOPIC_PREFIX_MAX, n);
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && v[i] != '.' && v[i] != '_' && v[i] != '-')
            return why(p, "'%c' is not allowed in a Kafka topic name; use A-Z a-z 0-9 . _ -", v[i]);
    set_str(&c->topic_prefix, sb_xstrdup(v));
    return 0;
}

static int parse_group_id(struct sb_config *c, const struct opt *o, const char *v,
                          struct parse_ctx *p)
{
    (void)o;
    if (!*v)
        return why(p, "must not be empty");
    set_str(&c->group_id, sb_xstrdup(v));
    return 0;
}

static int parse_dataset(struct sb_config *c, const struct opt *o, const char *v,
                         struct parse_ctx *p)
{
    (void)o;
    if (!*v)
        return why(p, "expected a directory, got \"\"");
    if (v[0] == '/' || !p->dir) {
        set_str(&c->dataset, sb_xstrdup(v));
        return 0;
    }
    /* Relative to the file, not to the working directory: the same file
     * then means the same data from a shell and under systemd. */
    struct sb_buf b;
    sb_buf_init(&b);
    sb_buf_printf(&b, "%s/%s", p->dir, v);
    set_str(&c->dataset, b.data);
    return 0;
}

static int parse_speed(struct sb_config *c, const struct opt *o, const char *v, struct parse_ctx *p)
{
    (void)o;
    if (strcmp(v, "max") == 0) {
        c->speed = 0;
        return 0;
    }
    /* Plain decimals only: strtod would also take "inf", "nan", hex and
     * leading spaces. */
    size_t n = strlen(v);
    char *end;
    double d = n ? strtod(v, &end) : 0;
    if (n == 0 || strspn(v, "0123456789.eE+-") != n || end != v + n || !isfinite(d) ||
        d < SPEED_MIN || d > SPEED_MAX)
        return why(p, "expected a number >= 0.001 and <= 1000000, or \"max\", got \"%s\"", v);
    c->speed = d;
    return 0;
}

static int parse_cycles(struct sb_config *c, const struct opt *o, const char *v,
                        struct parse_ctx *p)
{
    (void)o;
    if (strcmp(v, "all") == 0) {
        c->cycle_first = 0;
        c->cycle_last = -1;
        return 0;
    }
    const char *dash = strchr(v, '-');
    size_t alen = dash ? (size_t)(dash - v) : strlen(v);
    const char *b = dash ? dash + 1 : v;
    size_t blen = strlen(b);
    /* Spaces around the dash are harmless; drop them. */
    while (alen > 0 && v[alen - 1] == ' ')
        alen--;
    while (blen > 0 && *b == ' ') {
        b++;
        blen--;
    }
    int first, last;
    if (parse_decimal(v, alen, &first) < 0 || parse_decimal(b, blen, &last) < 0)
        return why(p, "expected \"all\", a cycle N or a range A-B (0-based, inclusive), got \"%s\"",
                   v);
    if (first > last)
        return why(p, "range \"%s\" is backwards: the first cycle must not exceed the last", v);
    if (last > CYCLE_MAX)
        return why(p, "cycle %d is beyond the limit of %d", last, CYCLE_MAX);
    c->cycle_first = first;
    c->cycle_last = last;
    return 0;
}

static void namelist_free(struct sb_namelist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    l->names = NULL;
    l->n = 0;
}

static int parse_sensors(struct sb_config *c, const struct opt *o, const char *v,
                         struct parse_ctx *p)
{
    (void)o;
    static const char sep[] = ", \t";
    if (strcmp(v, "all") == 0) {
        namelist_free(&c->sensors);
        return 0;
    }
    /* Build the new list aside and swap it in only when it is whole. */
    struct sb_namelist l = {NULL, 0};
    const char *s = v + strspn(v, sep);
    if (!*s)
        return why(p, "expected \"all\" or a list of sensor names, got \"%s\"", v);
    while (*s) {
        size_t n = strcspn(s, sep);
        char name[SB_SENSOR_NAME_MAX];
        int rc = 0;
        if (n >= sizeof(name)) {
            rc = why(p, "sensor name \"%.*s...\" is too long", 16, s);
        } else {
            memcpy(name, s, n);
            name[n] = '\0';
            if (strcmp(name, "all") == 0) {
                rc = why(p, "\"all\" cannot be combined with sensor names");
            } else if (!sb_sensors_find(name)) {
                size_t ncat;
                const struct sb_sensor_info *cat = sb_sensors_uci(&ncat);
                struct sb_buf known;
                sb_buf_init(&known);
                for (size_t i = 0; i < ncat; i++)
                    sb_buf_printf(&known, "%s%s", i ? " " : "", cat[i].name);
                rc = why(p, "unknown sensor \"%s\"; known: %s", name, known.data ? known.data : "");
                sb_buf_free(&known);
            } else {
                for (size_t i = 0; i < l.n; i++)
                    if (strcmp(l.names[i], name) == 0)
                        rc = why(p, "sensor \"%s\" is listed twice", name);
            }
        }
        if (rc < 0) {
            namelist_free(&l);
            return -1;
        }
        /* Distinct catalogue names: at most SB_UCI_NSENSORS of them. */
        l.names = sb_xrealloc(l.names, (l.n + 1) * sizeof(*l.names));
        l.names[l.n++] = sb_xstrdup(name);
        s += n;
        s += strspn(s, sep);
    }
    namelist_free(&c->sensors);
    c->sensors = l;
    return 0;
}

static int parse_epoch(struct sb_config *c, const struct opt *o, const char *v, struct parse_ctx *p)
{
    (void)o;
    if (strcmp(v, "now") == 0) {
        c->event_epoch_us = -1;
        return 0;
    }
    int64_t us;
    if (sb_parse_rfc3339_us(v, strlen(v), &us) < 0)
        return why(
            p, "expected \"now\" or an RFC 3339 time such as 2025-01-01T00:00:00Z, got \"%s\"", v);
    if (us < 0)
        return why(p, "\"%s\" is before 1970-01-01T00:00:00Z", v);
    c->event_epoch_us = us;
    return 0;
}

static int parse_kafka(struct sb_config *c, const struct opt *o, const char *v, struct parse_ctx *p)
{
    const char *prop = p->key + KAFKA_PREFIX_LEN;
    struct sb_kvlist *l = field_ptr(c, o);
    if (!*prop)
        return why(p, "expected kafka.<librdkafka property>, such as kafka.linger.ms");
    /* sensorbridge sets these itself from its own keys; two sources for one
     * setting would leave the reader guessing which wins. */
    if (strcmp(prop, "bootstrap.servers") == 0 || strcmp(prop, "metadata.broker.list") == 0)
        return why(p, "use [kafka] brokers");
    if (strcmp(o->section, "consumer") == 0 && strcmp(prop, "group.id") == 0)
        return why(p, "use [consumer] group_id");
    if (!*v)
        return why(p, "empty value; remove the line to keep the default");
    if (l->n >= KAFKA_MAX_PROPS)
        return why(p, "more than %d kafka.* properties in [%s]", KAFKA_MAX_PROPS, o->section);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = sb_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n].key = sb_xstrdup(prop);
    l->items[l->n].value = sb_xstrdup(v);
    l->n++;
    return 0;
}

#define OPT(sec, nm, def, fl, fk, member, lo, hi, fn)                                              \
    {                                                                                              \
        sec, nm, sec "." nm, def, fl, fk, offsetof(struct sb_config, member), lo, hi, fn           \
    }
/* Keys whose parser writes its fields itself and that a reload may change. */
#define OPT_FN(sec, nm, def, fn)                                                                   \
    {                                                                                              \
        sec, nm, sec "." nm, def, 0, FIELD_NONE, 0, 0, 0, fn                                       \
    }
#define OPT_KAFKA(sec, member)                                                                     \
    {                                                                                              \
        sec, KAFKA_PREFIX, sec ".kafka.*", NULL, OPT_RESTART | OPT_PREFIX, FIELD_KV,               \
            offsetof(struct sb_config, member), 0, 0, parse_kafka                                  \
    }

/* The configuration, one row per key, grouped by section in file order.
 * Everything but log_level, strict_sensors and [replay] is read once at
 * start: the Kafka clients, the embedded cluster and the listening socket
 * are built from it and are not rebuilt on SIGHUP. */
static const struct opt opts[] = {
    OPT_FN("general", "log_level", "info", parse_log_level),

    OPT("kafka", "brokers", "embedded", OPT_RESTART, FIELD_STR, brokers, 0, 0, parse_brokers),
    OPT("kafka", "embedded_brokers", "3", OPT_RESTART, FIELD_INT, embedded_brokers, 1, 16,
        parse_int),
    OPT("kafka", "partitions", "4", OPT_RESTART, FIELD_INT, partitions, 1, 256, parse_int),
    OPT("kafka", "topic_prefix", "hydraulic", OPT_RESTART, FIELD_STR, topic_prefix, 0, 0,
        parse_topic_prefix),

    OPT("producer", "enabled", "true", OPT_RESTART, FIELD_BOOL, producer_enabled, 0, 0, parse_bool),
    OPT("producer", "flush_timeout_ms", "10000", OPT_RESTART, FIELD_INT, flush_timeout_ms, 0,
        600000, parse_int),
    OPT_KAFKA("producer", producer_props),

    OPT("consumer", "enabled", "true", OPT_RESTART, FIELD_BOOL, consumer_enabled, 0, 0, parse_bool),
    OPT("consumer", "group_id", "sensorbridge", OPT_RESTART, FIELD_STR, group_id, 0, 0,
        parse_group_id),
    OPT("consumer", "strict_sensors", "true", 0, FIELD_BOOL, strict_sensors, 0, 0, parse_bool),
    OPT_KAFKA("consumer", consumer_props),

    OPT("replay", "enabled", "true", 0, FIELD_BOOL, replay_enabled, 0, 0, parse_bool),
    OPT_FN("replay", "dataset", SB_DEFAULT_DATASET, parse_dataset),
    OPT_FN("replay", "speed", "1", parse_speed),
    OPT_FN("replay", "cycles", "all", parse_cycles),
    OPT("replay", "loop", "true", 0, FIELD_BOOL, loop, 0, 0, parse_bool),
    OPT_FN("replay", "sensors", "all", parse_sensors),
    OPT_FN("replay", "event_epoch", "now", parse_epoch),

    OPT("http", "listen", "127.0.0.1:9550", OPT_RESTART, FIELD_STR, listen, 0, 0, parse_listen),
};

static const struct opt *find_opt(const char *section, const char *name)
{
    for (size_t i = 0; i < SB_ARRAY_SIZE(opts); i++) {
        const struct opt *o = &opts[i];
        if (strcmp(o->section, section) != 0)
            continue;
        if (o->flags & OPT_PREFIX ? strncmp(name, o->name, strlen(o->name)) == 0
                                  : strcmp(name, o->name) == 0)
            return o;
    }
    return NULL;
}

static bool known_section(const char *s, size_t n)
{
    for (size_t i = 0; i < SB_ARRAY_SIZE(opts); i++)
        if (strlen(opts[i].section) == n && memcmp(opts[i].section, s, n) == 0)
            return true;
    return false;
}

/* "[general], [kafka], ..." for error messages; the table is grouped by
 * section, so a change of section marks a new one. */
static void list_sections(struct sb_buf *b)
{
    for (size_t i = 0; i < SB_ARRAY_SIZE(opts); i++)
        if (i == 0 || strcmp(opts[i].section, opts[i - 1].section) != 0)
            sb_buf_printf(b, "%s[%s]", i ? ", " : "", opts[i].section);
}

static void list_keys(struct sb_buf *b, const char *section)
{
    bool first = true;
    for (size_t i = 0; i < SB_ARRAY_SIZE(opts); i++) {
        if (strcmp(opts[i].section, section) != 0)
            continue;
        sb_buf_printf(b, "%s%s%s", first ? "" : ", ", opts[i].name,
                      opts[i].flags & OPT_PREFIX ? "<property>" : "");
        first = false;
    }
}

void sb_config_defaults(struct sb_config *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < SB_ARRAY_SIZE(opts); i++) {
        const struct opt *o = &opts[i];
        if (!o->defval)
            continue;
        struct parse_ctx p = {.key = o->name, .dir = NULL};
        if (o->parse(c, o, o->defval, &p) < 0) {
            /* A default that its own validator rejects is a bug here. */
            sb_err("msg=\"bad built-in default\" key=%s why=\"%s\"", o->id, p.why);
            abort();
        }
    }
}

static void kvlist_free(struct sb_kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
    l->cap = 0;
}

void sb_config_free(struct sb_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->brokers);
    free(c->topic_prefix);
    kvlist_free(&c->producer_props);
    free(c->group_id);
    kvlist_free(&c->consumer_props);
    free(c->dataset);
    namelist_free(&c->sensors);
    free(c->listen);
    memset(c, 0, sizeof(*c));
}

bool sb_config_embedded(const struct sb_config *c)
{
    return c->brokers && strcmp(c->brokers, "embedded") == 0;
}

static bool str_equal(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool kvlist_equal(const struct sb_kvlist *a, const struct sb_kvlist *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i].key, b->items[i].key) != 0 ||
            strcmp(a->items[i].value, b->items[i].value) != 0)
            return false;
    return true;
}

const char *sb_config_restart_key(const struct sb_config *a, const struct sb_config *b)
{
    for (size_t i = 0; i < SB_ARRAY_SIZE(opts); i++) {
        const struct opt *o = &opts[i];
        if (!(o->flags & OPT_RESTART))
            continue;
        const void *fa = cfield_ptr(a, o);
        const void *fb = cfield_ptr(b, o);
        bool same = true;
        switch (o->field) {
        case FIELD_INT:
            same = *(const int *)fa == *(const int *)fb;
            break;
        case FIELD_BOOL:
            same = *(const bool *)fa == *(const bool *)fb;
            break;
        case FIELD_STR:
            same = str_equal(*(char *const *)fa, *(char *const *)fb);
            break;
        case FIELD_KV:
            same = kvlist_equal(fa, fb);
            break;
        case FIELD_NONE:
            break;
        }
        if (!same)
            return o->id;
    }
    return NULL;
}

/* A key already set in this file, for duplicate detection. At most the
 * fixed keys plus KAFKA_MAX_PROPS per section, so a linear search will do. */
struct seen_key {
    const struct opt *opt;
    char *name;
    int line;
};

struct loader {
    struct sb_config *c;
    const char *path;
    char *dir; /* absolute directory of the file */
    const char *text;
    size_t len;
    size_t pos;
    int line; /* lines handed to libinih: the one it is parsing */
    bool failed;
    int err_line; /* line of the first error; 0 if it has none */
    char *err;
    size_t errlen;
    struct seen_key *seen;
    size_t nseen;
    size_t capseen;
};

static void fail(struct loader *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error only: later ones are often consequences. */
static void fail(struct loader *ld, int line, const char *fmt, ...)
{
    if (ld->failed)
        return;
    ld->failed = true;
    ld->err_line = line;
    if (!ld->err || ld->errlen == 0)
        return;
    int n = line > 0 ? snprintf(ld->err, ld->errlen, "%s:%d: ", ld->path, line)
                     : snprintf(ld->err, ld->errlen, "%s: ", ld->path);
    if (n < 0 || (size_t)n >= ld->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Checks one raw line before libinih sees it. Returns false after
 * recording an error. */
static bool check_line(struct loader *ld, const char *s, size_t n)
{
    if (ld->line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        s += 3;
        n -= 3;
    }
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (i == n || s[i] == ';' || s[i] == '#')
        return true;
    if (i > 0) {
        fail(ld, ld->line,
             "indented line: the INI parser would append it to the previous key's value; "
             "remove the leading whitespace");
        return false;
    }
    if (s[0] != '[')
        return true;
    const char *close = memchr(s, ']', n);
    if (!close)
        return true; /* libinih reports it as a syntax error */
    const char *name = s + 1;
    size_t namelen = (size_t)(close - name);
    for (const char *t = close + 1; t < s + n; t++) {
        if (*t == ';' || *t == '#')
            break;
        if (!isspace((unsigned char)*t)) {
            fail(ld, ld->line, "[%.*s]: unexpected text after ']'", (int)namelen, name);
            return false;
        }
    }
    if (!known_section(name, namelen)) {
        struct sb_buf b;
        sb_buf_init(&b);
        list_sections(&b);
        fail(ld, ld->line, "[%.*s]: unknown section; sections are %s", (int)namelen, name, b.data);
        sb_buf_free(&b);
        return false;
    }
    return true;
}

/* An fgets() over the in-memory file that counts lines. */
static char *reader(char *str, int num, void *stream)
{
    struct loader *ld = stream;
    if (ld->failed || ld->pos >= ld->len || num < 3)
        return NULL;
    const char *s = ld->text + ld->pos;
    size_t rest = ld->len - ld->pos;
    const char *nl = memchr(s, '\n', rest);
    size_t n = nl ? (size_t)(nl - s) : rest;
    size_t take = nl ? n + 1 : n;
    ld->line++;
    /* libinih would cut a longer line in two and parse the tail as a line
     * of its own; the limit is its fixed buffer (INI_MAX_LINE). */
    if (n > (size_t)num - 3) {
        fail(ld, ld->line, "line is longer than %d characters, the INI parser's limit", num - 3);
        return NULL;
    }
    if (memchr(s, '\0', n)) {
        fail(ld, ld->line, "NUL byte in line; is this a text file?");
        return NULL;
    }
    if (!check_line(ld, s, n))
        return NULL;
    memcpy(str, s, take);
    str[take] = '\0';
    ld->pos += take;
    return str;
}

static struct seen_key *find_seen(struct loader *ld, const struct opt *o, const char *name)
{
    for (size_t i = 0; i < ld->nseen; i++)
        if (ld->seen[i].opt == o && strcmp(ld->seen[i].name, name) == 0)
            return &ld->seen[i];
    return NULL;
}

static void handle(struct loader *ld, const char *section, const char *name, const char *value)
{
    int line = ld->line;
    if (!*section) {
        const struct opt *home = NULL;
        for (size_t i = 0; i < SB_ARRAY_SIZE(opts) && !home; i++)
            home = find_opt(opts[i].section, name);
        if (home)
            fail(ld, line, "%s: key before any section; it belongs in [%s]", name, home->section);
        else
            fail(ld, line, "%s: key before any section", name);
        return;
    }
    if (!*name) {
        fail(ld, line, "[%s]: missing key name before '='", section);
        return;
    }
    const struct opt *o = find_opt(section, name);
    if (!o) {
        struct sb_buf b;
        sb_buf_init(&b);
        list_keys(&b, section);
        fail(ld, line, "[%s] %s: unknown key; [%s] has %s", section, name, section,
             b.data ? b.data : "no keys");
        sb_buf_free(&b);
        return;
    }
    struct seen_key *prev = find_seen(ld, o, name);
    if (prev) {
        fail(ld, line, "[%s] %s: duplicate key (first set on line %d); keep one", section, name,
             prev->line);
        return;
    }
    struct parse_ctx p = {.key = name, .dir = ld->dir};
    if (o->parse(ld->c, o, value, &p) < 0) {
        /* '#' starts a comment only at the start of a line, so a value
         * like "1 # fast" reaches us whole; say so. */
        const char *hint = strstr(value, " #") ? " ('#' starts a comment only at the start "
                                                 "of a line; use ' ;' after a value)"
                                               : "";
        fail(ld, line, "[%s] %s: %s%s", section, name, p.why, hint);
        return;
    }
    if (ld->nseen == ld->capseen) {
        ld->capseen = ld->capseen ? ld->capseen * 2 : 32;
        ld->seen = sb_xrealloc(ld->seen, ld->capseen * sizeof(*ld->seen));
    }
    ld->seen[ld->nseen].opt = o;
    ld->seen[ld->nseen].name = sb_xstrdup(name);
    ld->seen[ld->nseen].line = line;
    ld->nseen++;
}

#if INI_HANDLER_LINENO
static int ini_cb(void *user, const char *section, const char *name, const char *value, int lineno)
{
    (void)lineno; /* the reader's count is used either way */
#else
static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
#endif
    struct loader *ld = user;
    if (!ld->failed)
        handle(ld, section, name, value);
    return ld->failed ? 0 : 1;
}

/* Reads the whole file (at most CONFIG_MAX_BYTES) into a NUL-terminated
 * buffer the caller frees. */
static int slurp(struct loader *ld, char **out, size_t *outlen)
{
    FILE *f = fopen(ld->path, "rb");
    if (!f) {
        int e = errno;
        fail(ld, 0, "cannot open: %s", strerror(e));
        return -e;
    }
    struct sb_buf b;
    sb_buf_init(&b);
    int rc = 0;
    for (;;) {
        sb_buf_reserve(&b, 4096);
        size_t n = fread(b.data + b.len, 1, 4096, f);
        b.len += n;
        b.data[b.len] = '\0';
        if (b.len > CONFIG_MAX_BYTES) {
            rc = -EFBIG;
            fail(ld, 0, "larger than %d bytes; is this the configuration file?", CONFIG_MAX_BYTES);
            break;
        }
        if (n < 4096) {
            if (ferror(f)) {
                rc = errno ? -errno : -EIO;
                fail(ld, 0, "cannot read: %s", strerror(-rc));
            }
            break;
        }
    }
    fclose(f);
    if (rc < 0) {
        sb_buf_free(&b);
        return rc;
    }
    *out = b.data;
    *outlen = b.len;
    return 0;
}

/* The absolute directory holding `path`, so a relative dataset stays
 * right if the daemon later changes directory. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    struct sb_buf b;
    sb_buf_init(&b);
    if (path[0] != '/') {
        char cwd[PATH_MAX];
        sb_buf_puts(&b, getcwd(cwd, sizeof(cwd)) ? cwd : ".");
        if (slash)
            sb_buf_putc(&b, '/');
    }
    if (slash)
        sb_buf_append(&b, path, slash == path ? 1 : (size_t)(slash - path));
    else if (!b.data)
        sb_buf_puts(&b, ".");
    return b.data;
}

static int seen_line(const struct loader *ld, const char *section, const char *name)
{
    for (size_t i = 0; i < ld->nseen; i++)
        if (strcmp(ld->seen[i].opt->section, section) == 0 && strcmp(ld->seen[i].name, name) == 0)
            return ld->seen[i].line;
    return 0;
}

/* Checks that span keys or need the file system, after the whole file. */
static void check_final(struct loader *ld)
{
    struct sb_config *c = ld->c;
    if (!c->replay_enabled)
        return;
    int line = seen_line(ld, "replay", "dataset");
    const char *dflt = line ? "" : " (the default)";
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(c->dataset, real) || stat(real, &st) < 0) {
        fail(ld, line, "[replay] dataset: \"%s\"%s: %s; set dataset = DIR or enabled = false",
             c->dataset, dflt, strerror(errno));
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        fail(ld, line, "[replay] dataset: \"%s\"%s is not a directory", c->dataset, dflt);
        return;
    }
    set_str(&c->dataset, sb_xstrdup(real));
}

int sb_config_load(struct sb_config *c, const char *path, char *err, size_t errlen)
{
    struct loader ld = {.c = c, .path = path, .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    set_str(&c->path, sb_xstrdup(path));
    char *text = NULL;
    int rc = slurp(&ld, &text, &ld.len);
    if (rc < 0)
        return rc;
    ld.text = text;
    ld.dir = dir_of(path);
    int r = ini_parse_stream(reader, &ld, ini_cb, &ld);
    /* libinih returns the first line it could not parse; our own error,
     * if any, stopped the reading, so an earlier line means libinih's. */
    if (r > 0 && (!ld.failed || r < ld.err_line)) {
        ld.failed = false;
        fail(&ld, r,
             "syntax error: expected \"[section]\", \"key = value\" or a comment starting "
             "with ';' or '#'");
    } else if (r < 0 && !ld.failed) {
        fail(&ld, 0, "the INI parser failed (%d)", r);
    }
    if (!ld.failed)
        check_final(&ld);
    for (size_t i = 0; i < ld.nseen; i++)
        free(ld.seen[i].name);
    free(ld.seen);
    free(ld.dir);
    free(text);
    return ld.failed ? -EINVAL : 0;
}
