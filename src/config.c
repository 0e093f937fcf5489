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
 *
 * Sections named [alert.<SENSOR>] and [synthetic.<NAME>] come in any
 * number: each is one struct sb_alert_rule_cfg or struct sb_synth_cfg, and
 * their keys are rows of the same table whose offsets point into that
 * struct (struct opt's scope). The reader creates the struct when it sees
 * the header, so a section without keys exists too, and it keeps the
 * section name itself: libinih cuts section names at 49 characters. What
 * spans sections (kind defaults, threshold order, the sensor an alert
 * names, zscore_window among [windows] sizes, topic clashes) is checked
 * once the whole file is read, in check_final().
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
#define CONFIG_MAX_BYTES (16 * 1024 * 1024)
#define KAFKA_PREFIX "kafka."
#define KAFKA_PREFIX_LEN (sizeof(KAFKA_PREFIX) - 1)
#define TOPIC_CONFIG_PREFIX "topic."
#define TOPIC_CONFIG_PREFIX_LEN (sizeof(TOPIC_CONFIG_PREFIX) - 1)
/* librdkafka has about 200 properties; more lines than that are a mistake. */
#define KAFKA_MAX_PROPS 256
/* Kafka has about 40 topic configs. */
#define TOPIC_CONFIG_MAX 64
#define TOPIC_PREFIX_MAX 200
#define SPEED_MAX 1e6
/* Slower than this, the schedule's nanosecond arithmetic would overflow
 * within a long replay. */
#define SPEED_MIN 0.001
#define CYCLE_MAX 100000
#define WHY_MAX 512
/* Kafka's limit on a topic name. */
#define TOPIC_MAX 249
#define ALERT_PREFIX "alert."
#define ALERT_PREFIX_LEN (sizeof(ALERT_PREFIX) - 1)
#define SYNTH_PREFIX "synthetic."
#define SYNTH_PREFIX_LEN (sizeof(SYNTH_PREFIX) - 1)
/* How the per-sensor sections appear in the table and in messages. */
#define ALERT_SECTION "alert.<SENSOR>"
#define SYNTH_SECTION "synthetic.<NAME>"
/* The longest section name: "synthetic." and a 63-character name. */
#define SECTION_MAX (SYNTH_PREFIX_LEN + SB_CONFIG_SENSOR_NAME_MAX + 1)
#define DAY_S 86400
#define HOUR_S 3600

/* The row's name is a prefix: "kafka.<property>". */
#define OPT_PREFIX 2u
/* parse_number: the minimum itself is not allowed (zscore > 0). */
#define OPT_GT_MIN 4u

/* The apply steps of a key that a reload cannot change: it is refused. */
#define RESTART 0u

/* How sb_config_changes compares a row's field. */
enum opt_field {
    FIELD_INT,
    FIELD_BOOL,
    FIELD_STR, /* NULL and "" are the same */
    FIELD_KV,
    FIELD_I64,
    FIELD_U64,
    FIELD_DOUBLE, /* NAN equals NAN: an unset threshold */
    FIELD_NAMES,  /* struct sb_namelist */
    FIELD_SIZES,  /* window_sizes_us[] and nwindow_sizes */
    FIELD_CYCLES, /* cycle_first and cycle_last */
    FIELD_WEB,    /* web_config_file and what it says (web) */
};

/* The struct a row's offset points into. */
enum opt_scope {
    SCOPE_CONFIG, /* struct sb_config */
    SCOPE_ALERT,  /* struct sb_alert_rule_cfg of the current [alert.<SENSOR>] */
    SCOPE_SYNTH,  /* struct sb_synth_cfg of the current [synthetic.<NAME>] */
};

struct parse_ctx {
    const char *key; /* the key as written in the file */
    const char *dir; /* absolute directory of the config file; NULL for defaults */
    void *obj;       /* the struct the row's offset points into (see enum opt_scope) */
    char why[WHY_MAX];
};

struct opt {
    const char *section; /* "kafka", or ALERT_SECTION / SYNTH_SECTION */
    const char *name;
    const char *id; /* "section.name", what sb_config_restart_key returns */
    const char *defval;
    unsigned flags;
    unsigned apply; /* SB_APPLY_* steps a change needs; RESTART: none can */
    enum opt_field field;
    size_t off;      /* offset of the field in the scope's struct */
    int min, max;    /* parse_int; byte lengths for parse_text */
    double dlo, dhi; /* parse_number; seconds for parse_duration; +-HUGE_VAL = unbounded */
    enum opt_scope scope;
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

static void *field_ptr(const struct opt *o, struct parse_ctx *p)
{
    return (char *)p->obj + o->off;
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
    (void)c;
    int n;
    if (parse_decimal(v, strlen(v), &n) < 0 || n < o->min || n > o->max)
        return why(p, "expected an integer from %d to %d, got \"%s\"", o->min, o->max, v);
    *(int *)field_ptr(o, p) = n;
    return 0;
}

static int parse_bool(struct sb_config *c, const struct opt *o, const char *v, struct parse_ctx *p)
{
    (void)c;
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < SB_ARRAY_SIZE(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *(bool *)field_ptr(o, p) = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *(bool *)field_ptr(o, p) = false;
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

static bool is_topic_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '.' || ch == '_' || ch == '-';
}

/* Checks what Kafka accepts as (part of) a topic name: 1..max characters
 * of A-Z a-z 0-9 . _ -. */
static int check_topic(const char *v, size_t max, struct parse_ctx *p)
{
    size_t n = strlen(v);
    if (n < 1 || n > max)
        return why(p, "expected 1 to %zu characters, got %zu", max, n);
    for (size_t i = 0; i < n; i++)
        if (!is_topic_char(v[i]))
            return why(p, "'%c' is not allowed in a Kafka topic name; use A-Z a-z 0-9 . _ -", v[i]);
    return 0;
}

static int parse_topic_prefix(struct sb_config *c, const struct opt *o, const char *v,
                              struct parse_ctx *p)
{
    (void)o;
    if (check_topic(v, TOPIC_PREFIX_MAX, p) < 0)
        return -1;
    set_str(&c->topic_prefix, sb_xstrdup(v));
    return 0;
}

/* [windows] topic, [alerts] topic: "" means "<topic_prefix>-<suffix>",
 * derived by the daemon, so a topic_prefix change carries over. */
static int parse_topic(struct sb_config *c, const struct opt *o, const char *v, struct parse_ctx *p)
{
    (void)c;
    if (*v && check_topic(v, TOPIC_MAX, p) < 0)
        return -1;
    if (strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
        return why(p, "\"%s\" is not a valid Kafka topic name", v);
    set_str(field_ptr(o, p), sb_xstrdup(v));
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

/* A path relative to the config file's directory, not to the working
 * one: the same file then means the same data from a shell and under
 * systemd. allow_empty: "" is a value of its own (off, or derived). */
static int parse_path_in(const struct opt *o, const char *v, struct parse_ctx *p, bool allow_empty)
{
    char **field = field_ptr(o, p);
    if (!*v && !allow_empty)
        return why(p, "expected a path, got \"\"");
    if (!*v || v[0] == '/' || !p->dir) {
        set_str(field, sb_xstrdup(v));
        return 0;
    }
    struct sb_buf b;
    sb_buf_init(&b);
    sb_buf_printf(&b, "%s/%s", p->dir, v);
    set_str(field, b.data);
    return 0;
}

static int parse_dataset(struct sb_config *c, const struct opt *o, const char *v,
                         struct parse_ctx *p)
{
    (void)c;
    return parse_path_in(o, v, p, false);
}

static int parse_optional_path(struct sb_config *c, const struct opt *o, const char *v,
                               struct parse_ctx *p)
{
    (void)c;
    return parse_path_in(o, v, p, true);
}

/* [http] web_config_file: read and checked here, so that --check-config
 * and a reload see its errors (with its own file and line). */
static int parse_web_config(struct sb_config *c, const struct opt *o, const char *v,
                            struct parse_ctx *p)
{
    (void)o;
    sb_webconfig_free(&c->web);
    if (!*v) {
        set_str(&c->web_config_file, sb_xstrdup(""));
        return 0;
    }
    struct sb_buf b;
    sb_buf_init(&b);
    if (v[0] == '/' || !p->dir)
        sb_buf_puts(&b, v);
    else
        sb_buf_printf(&b, "%s/%s", p->dir, v);
    char err[WHY_MAX];
    if (sb_webconfig_load(&c->web, b.data, err, sizeof(err)) < 0) {
        sb_buf_free(&b);
        return why(p, "%s", err);
    }
    set_str(&c->web_config_file, b.data);
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

void sb_namelist_free(struct sb_namelist *l)
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
        sb_namelist_free(&c->sensors);
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
            sb_namelist_free(&l);
            return -1;
        }
        /* Distinct catalogue names: at most SB_UCI_NSENSORS of them. */
        l.names = sb_xrealloc(l.names, (l.n + 1) * sizeof(*l.names));
        l.names[l.n++] = sb_xstrdup(name);
        s += n;
        s += strspn(s, sep);
    }
    sb_namelist_free(&c->sensors);
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

/* Appends a copy of key = value; the caller checks the bound. */
static void kvlist_add(struct sb_kvlist *l, const char *key, const char *value)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = sb_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n].key = sb_xstrdup(key);
    l->items[l->n].value = sb_xstrdup(value);
    l->n++;
}

static int parse_kafka(struct sb_config *c, const struct opt *o, const char *v, struct parse_ctx *p)
{
    (void)c;
    const char *prop = p->key + KAFKA_PREFIX_LEN;
    struct sb_kvlist *l = field_ptr(o, p);
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
    kvlist_add(l, prop, v);
    return 0;
}

/* Topic configs sensorbridge gives the topics it creates unless the file
 * names them (an empty value leaves one to the broker): in
 * sb_config_defaults, replaced by a topic.<config> line of that name. A message's Kafka
 * timestamp is its event time, and Kafka 3.6 and later refuse one more
 * than message.timestamp.after.max.ms (an hour since Kafka 4.0) ahead of
 * the broker's clock, which a replay faster than real time from now
 * reaches within seconds. */
static const char *const topic_config_defaults[] = {
    "message.timestamp.after.max.ms",
    "9223372036854775807",
    NULL,
};

/* [kafka] topic.<config>: a topic config (retention.ms, cleanup.policy, ...)
 * given to every topic sensorbridge creates. The broker validates names
 * and values when it creates a topic; a bad one is reported then. */
static int parse_topic_config(struct sb_config *c, const struct opt *o, const char *v,
                              struct parse_ctx *p)
{
    const char *name = p->key + TOPIC_CONFIG_PREFIX_LEN;
    struct sb_kvlist *l = field_ptr(o, p);
    (void)c;
    if (!*name)
        return why(p, "expected topic.<topic config>, such as topic.retention.ms");
    for (const char *q = name; *q; q++)
        if (!islower((unsigned char)*q) && !isdigit((unsigned char)*q) && *q != '.')
            return why(p, "'%c' is not in a Kafka topic config name (a-z 0-9 .)", *q);
    for (size_t k = 0; k < l->n; k++) {
        if (strcmp(l->items[k].key, name) == 0) {
            free(l->items[k].value);
            l->items[k].value = sb_xstrdup(v);
            return 0;
        }
    }
    if (l->n >= TOPIC_CONFIG_MAX)
        return why(p, "more than %d topic.* configs", TOPIC_CONFIG_MAX);
    kvlist_add(l, name, v);
    return 0;
}

static int parse_layout(struct sb_config *c, const struct opt *o, const char *v,
                        struct parse_ctx *p)
{
    (void)o;
    if (strcmp(v, "per_sensor") == 0)
        c->layout = SB_LAYOUT_PER_SENSOR;
    else if (strcmp(v, "shared") == 0)
        c->layout = SB_LAYOUT_SHARED;
    else
        return why(p, "expected per_sensor or shared, got \"%s\"", v);
    return 0;
}

/* "default" (-1) leaves it to the cluster's default.replication.factor. */
static int parse_replication(struct sb_config *c, const struct opt *o, const char *v,
                             struct parse_ctx *p)
{
    if (strcmp(v, "default") == 0) {
        c->replication_factor = -1;
        return 0;
    }
    int n;
    if (parse_decimal(v, strlen(v), &n) < 0 || n < o->min || n > o->max)
        return why(p, "expected \"default\" or an integer from %d to %d, got \"%s\"", o->min,
                   o->max, v);
    c->replication_factor = n;
    return 0;
}

/* "0s", "90s", "5m", "1h", "1d": the largest unit that divides s. */
static void fmt_duration(char *out, size_t len, int64_t s)
{
    if (s != 0 && s % DAY_S == 0)
        snprintf(out, len, "%lldd", (long long)(s / DAY_S));
    else if (s != 0 && s % HOUR_S == 0)
        snprintf(out, len, "%lldh", (long long)(s / HOUR_S));
    else if (s != 0 && s % 60 == 0)
        snprintf(out, len, "%lldm", (long long)(s / 60));
    else
        snprintf(out, len, "%llds", (long long)s);
}

/* Parses "<digits><unit>", unit s, m, h or d, or a bare "0", into
 * seconds. Whole seconds only: windows are aligned to whole seconds and
 * nobody means "1.5m" precisely. At most 9 digits, so no overflow. */
static int duration_seconds(const char *s, size_t n, int64_t *out)
{
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 0;
    }
    if (n < 2)
        return -1;
    int64_t unit;
    switch (s[n - 1]) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = HOUR_S;
        break;
    case 'd':
        unit = DAY_S;
        break;
    default:
        return -1;
    }
    int v;
    if (parse_decimal(s, n - 1, &v) < 0)
        return -1;
    *out = (int64_t)v * unit;
    return 0;
}

#define DURATION_SYNTAX "a duration such as 30s, 5m, 1h or 1d (whole seconds; units s, m, h, d)"

/* Checks a duration in seconds against the row's bounds (dlo..dhi, in
 * seconds). */
static int check_duration_range(const struct opt *o, int64_t sec, const char *text,
                                struct parse_ctx *p)
{
    if (sec < (int64_t)o->dlo || sec > (int64_t)o->dhi) {
        char lo[32], hi[32];
        fmt_duration(lo, sizeof(lo), (int64_t)o->dlo);
        fmt_duration(hi, sizeof(hi), (int64_t)o->dhi);
        return why(p, "expected a duration from %s to %s, got \"%s\"", lo, hi, text);
    }
    return 0;
}

/* A duration into an int64_t field, in microseconds. */
static int parse_duration(struct sb_config *c, const struct opt *o, const char *v,
                          struct parse_ctx *p)
{
    (void)c;
    int64_t sec;
    if (duration_seconds(v, strlen(v), &sec) < 0)
        return why(p, "expected " DURATION_SYNTAX ", got \"%s\"", v);
    if (check_duration_range(o, sec, v, p) < 0)
        return -1;
    *(int64_t *)field_ptr(o, p) = sec * 1000000;
    return 0;
}

/* [windows] sizes: durations separated by commas or spaces, distinct,
 * stored ascending (so the first is the smallest, zscore_window's
 * default). */
static int parse_sizes(struct sb_config *c, const struct opt *o, const char *v, struct parse_ctx *p)
{
    static const char sep[] = ", \t";
    int64_t sizes[SB_MAX_WINDOW_SIZES];
    char texts[SB_MAX_WINDOW_SIZES][16];
    size_t n = 0;
    const char *s = v + strspn(v, sep);
    if (!*s)
        return why(p, "expected a list of durations such as \"1m, 5m, 1h\", got \"%s\"", v);
    while (*s) {
        size_t len = strcspn(s, sep);
        int64_t sec;
        if (duration_seconds(s, len, &sec) < 0)
            return why(p, "\"%.*s\" is not %s", (int)len, s, DURATION_SYNTAX);
        char text[16];
        snprintf(text, sizeof(text), "%.*s", (int)(len < 15 ? len : 15), s);
        if (check_duration_range(o, sec, text, p) < 0)
            return -1;
        if (n == SB_MAX_WINDOW_SIZES)
            return why(p, "more than %d window sizes", SB_MAX_WINDOW_SIZES);
        /* Insertion sort: keep the list ascending as it is read. */
        size_t i = n;
        for (size_t j = 0; j < n; j++) {
            if (sizes[j] == sec * 1000000)
                return why(p, "\"%s\" and \"%s\" are the same size; list each size once", texts[j],
                           text);
        }
        while (i > 0 && sizes[i - 1] > sec * 1000000) {
            sizes[i] = sizes[i - 1];
            memcpy(texts[i], texts[i - 1], sizeof(texts[i]));
            i--;
        }
        sizes[i] = sec * 1000000;
        memcpy(texts[i], text, sizeof(texts[i]));
        n++;
        s += len;
        s += strspn(s, sep);
    }
    memcpy(c->window_sizes_us, sizes, n * sizeof(sizes[0]));
    c->nwindow_sizes = n;
    return 0;
}

/* A finite decimal number (sign and exponent allowed) into a double
 * field, within dlo..dhi (dlo excluded with OPT_GT_MIN). strtod alone
 * would also take "inf", "nan", hex and leading spaces. */
static int parse_number(struct sb_config *c, const struct opt *o, const char *v,
                        struct parse_ctx *p)
{
    (void)c;
    size_t n = strlen(v);
    char *end = NULL;
    double d = n ? strtod(v, &end) : 0;
    bool ok = n > 0 && strspn(v, "0123456789.eE+-") == n && end == v + n && isfinite(d);
    bool lo_ok = isinf(o->dlo) || (o->flags & OPT_GT_MIN ? d > o->dlo : d >= o->dlo);
    bool hi_ok = isinf(o->dhi) || d <= o->dhi;
    if (ok && lo_ok && hi_ok) {
        *(double *)field_ptr(o, p) = d;
        return 0;
    }
    if (!isinf(o->dlo) && !isinf(o->dhi))
        return why(p, "expected a number from %g to %g, got \"%s\"", o->dlo, o->dhi, v);
    if (!isinf(o->dlo))
        return why(p, "expected a number %s %g, got \"%s\"",
                   o->flags & OPT_GT_MIN ? ">" : ">=", o->dlo, v);
    return why(p, "expected a finite decimal number such as 42, -1.5 or 2e3, got \"%s\"", v);
}

/* 0 .. 2^64-1 in decimal into a uint64_t field. */
static int parse_u64(struct sb_config *c, const struct opt *o, const char *v, struct parse_ctx *p)
{
    (void)c;
    size_t n = strlen(v);
    uint64_t x = 0;
    bool ok = n > 0 && n <= 20;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned dgt = (unsigned)(v[i] - '0');
        if (v[i] < '0' || v[i] > '9' || x > (UINT64_MAX - dgt) / 10)
            ok = false;
        else
            x = x * 10 + dgt;
    }
    if (!ok)
        return why(p, "expected an integer from 0 to 18446744073709551615, got \"%s\"", v);
    *(uint64_t *)field_ptr(o, p) = x;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes) that is not a
 * control character (C0, DEL or C1); 0 if there is none. The text ends
 * up in JSON messages and labels, which must be valid UTF-8. */
static size_t utf8_printable(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return s[0] >= 0x20 && s[0] != 0x7f ? 1 : 0;
    size_t len;
    uint32_t cp, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, cp = s[0] & 0x1fu, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, cp = s[0] & 0x0fu, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, cp = s[0] & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp <= 0x9f)
        return 0;
    return len;
}

/* Free text of min..max bytes into a char * field: printable UTF-8. */
static int parse_text(struct sb_config *c, const struct opt *o, const char *v, struct parse_ctx *p)
{
    (void)c;
    size_t n = strlen(v);
    if (n < (size_t)o->min || n > (size_t)o->max)
        return o->min ? why(p, "expected %d to %d bytes of text, got %zu", o->min, o->max, n)
                      : why(p, "expected at most %d bytes of text, got %zu", o->max, n);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_printable((const unsigned char *)v + i, n - i);
        if (k == 0)
            return why(p, "byte %zu is a control character or not valid UTF-8", i + 1);
        i += k;
    }
    set_str(field_ptr(o, p), sb_xstrdup(v));
    return 0;
}

static int parse_zscore_on(struct sb_config *c, const struct opt *o, const char *v,
                           struct parse_ctx *p)
{
    (void)c;
    enum sb_zscore_on *on = field_ptr(o, p);
    if (strcmp(v, "mean") == 0)
        *on = SB_ZSCORE_MEAN;
    else if (strcmp(v, "value") == 0)
        *on = SB_ZSCORE_VALUE;
    else
        return why(p, "expected mean (each window's mean) or value (each sample), got \"%s\"", v);
    return 0;
}

/* What a synthetic kind implies for the keys it gives defaults to; the
 * defaults are text, run through the rows' parsers like every default.
 * config.c keeps its own copy so the configuration stays independent of
 * the synthetic source (synth.h's sb_synth_kind_* must agree). */
static const struct synth_kind {
    const char *name;
    const char *unit;
    const char *base;
    const char *noise;
} synth_kinds[] = {
    [SB_SYNTH_TEMPERATURE] = {"temperature", "°C", "22", "0.3"},
    [SB_SYNTH_VIBRATION] = {"vibration", "mm/s", "2.5", "0.2"},
    [SB_SYNTH_ENERGY] = {"energy", "kW", "15", "0.8"},
    [SB_SYNTH_HUMIDITY] = {"humidity", "%", "45", "1.5"},
    [SB_SYNTH_PRESSURE] = {"pressure", "bar", "6", "0.05"},
};

static int parse_synth_kind(struct sb_config *c, const struct opt *o, const char *v,
                            struct parse_ctx *p)
{
    (void)c;
    for (size_t i = 0; i < SB_ARRAY_SIZE(synth_kinds); i++) {
        if (strcmp(v, synth_kinds[i].name) == 0) {
            *(enum sb_synth_kind *)field_ptr(o, p) = (enum sb_synth_kind)i;
            return 0;
        }
    }
    return why(p, "expected temperature, vibration, energy, humidity or pressure, got \"%s\"", v);
}

#define OPT(sec, nm, def, ap, fk, member, lo, hi, fn)                                              \
    {                                                                                              \
        .section = sec, .name = nm, .id = sec "." nm, .defval = def, .apply = ap, .field = fk,     \
        .off = offsetof(struct sb_config, member), .min = lo, .max = hi, .parse = fn               \
    }
/* Keys whose parser writes its fields itself (member is what a reload
 * compares). */
#define OPT_FN(sec, nm, def, ap, fk, member, fn)                                                   \
    {                                                                                              \
        .section = sec, .name = nm, .id = sec "." nm, .defval = def, .apply = ap, .field = fk,     \
        .off = offsetof(struct sb_config, member), .parse = fn                                     \
    }
#define OPT_KAFKA(sec, member)                                                                     \
    {                                                                                              \
        .section = sec, .name = KAFKA_PREFIX, .id = sec ".kafka.*", .flags = OPT_PREFIX,           \
        .apply = RESTART, .field = FIELD_KV, .off = offsetof(struct sb_config, member),            \
        .parse = parse_kafka                                                                       \
    }
#define OPT_TOPIC_CONFIG(sec, member)                                                              \
    {                                                                                              \
        .section = sec, .name = TOPIC_CONFIG_PREFIX, .id = sec ".topic.*", .flags = OPT_PREFIX,    \
        .apply = RESTART, .field = FIELD_KV, .off = offsetof(struct sb_config, member),            \
        .parse = parse_topic_config                                                                \
    }
/* A key of durations (bounds in seconds). */
#define OPT_DUR(sec, nm, def, ap, fk, member, lo_s, hi_s, fn)                                      \
    {                                                                                              \
        .section = sec, .name = nm, .id = sec "." nm, .defval = def, .apply = ap, .field = fk,     \
        .off = offsetof(struct sb_config, member), .dlo = lo_s, .dhi = hi_s, .parse = fn           \
    }
/* A key of [alert.<SENSOR>] (scope SCOPE_ALERT) or [synthetic.<NAME>]
 * (SCOPE_SYNTH); lo/hi are int bounds or text lengths, dlo/dhi number or
 * duration bounds. All are reloadable: a change rebuilds the rule engine
 * or the synthetic source. */
#define OPT_SUB(sc, ap, type, sec, nm, def, fl, fk, member, lo, hi, dl, dh, fn)                    \
    {                                                                                              \
        .section = sec, .name = nm, .id = sec "." nm, .defval = def, .flags = fl, .apply = ap,     \
        .field = fk, .off = offsetof(type, member), .min = lo, .max = hi, .dlo = dl, .dhi = dh,    \
        .scope = sc, .parse = fn                                                                   \
    }
#define OPT_ALERT(nm, def, fl, fk, member, lo, hi, dl, dh, fn)                                     \
    OPT_SUB(SCOPE_ALERT, SB_APPLY_ALERTS, struct sb_alert_rule_cfg, ALERT_SECTION, nm, def, fl,    \
            fk, member, lo, hi, dl, dh, fn)
#define OPT_SYNTH(nm, def, fl, fk, member, lo, hi, dl, dh, fn)                                     \
    OPT_SUB(SCOPE_SYNTH, SB_APPLY_SYNTH, struct sb_synth_cfg, SYNTH_SECTION, nm, def, fl, fk,      \
            member, lo, hi, dl, dh, fn)

/* The configuration, one row per key, grouped by section in file order.
 * Everything but log_level, strict_sensors, [replay], [alert.<SENSOR>] and
 * [synthetic.<NAME>] is read once at start: the Kafka clients, the
 * embedded cluster, the listening socket and the window and alert state
 * are built from it and are not rebuilt on SIGHUP (open windows and the
 * recent-alert list would be lost). The alert rules and the synthetic
 * sensors are rebuilt on a reload. */
static const struct opt opts[] = {
    OPT_FN("general", "log_level", "info", SB_APPLY_LOG_LEVEL, FIELD_INT, log_level,
           parse_log_level),

    OPT("kafka", "brokers", "embedded", RESTART, FIELD_STR, brokers, 0, 0, parse_brokers),
    OPT("kafka", "embedded_brokers", "3", RESTART, FIELD_INT, embedded_brokers, 1, 16, parse_int),
    OPT("kafka", "partitions", "4", RESTART, FIELD_INT, partitions, 1, 10000, parse_int),
    OPT("kafka", "topic_prefix", "hydraulic", RESTART, FIELD_STR, topic_prefix, 0, 0,
        parse_topic_prefix),
    OPT("kafka", "layout", "per_sensor", RESTART, FIELD_INT, layout, 0, 0, parse_layout),
    OPT("kafka", "samples_topic", "", RESTART, FIELD_STR, samples_topic, 0, 0, parse_topic),
    OPT("kafka", "create_topics", "true", RESTART, FIELD_BOOL, create_topics, 0, 0, parse_bool),
    OPT("kafka", "replication_factor", "default", RESTART, FIELD_INT, replication_factor, 1, 32,
        parse_replication),
    OPT_TOPIC_CONFIG("kafka", topic_configs),

    OPT("producer", "enabled", "true", RESTART, FIELD_BOOL, producer_enabled, 0, 0, parse_bool),
    OPT("producer", "flush_timeout_ms", "10000", RESTART, FIELD_INT, flush_timeout_ms, 0, 600000,
        parse_int),
    OPT("producer", "max_consumer_lag", "50000", SB_APPLY_FLOW, FIELD_INT, max_consumer_lag, 0,
        100000000, parse_int),
    OPT("producer", "coalesce_ms", "100", SB_APPLY_COALESCE, FIELD_INT, coalesce_ms, 0, 1000,
        parse_int),
    OPT_KAFKA("producer", producer_props),

    OPT("consumer", "enabled", "true", RESTART, FIELD_BOOL, consumer_enabled, 0, 0, parse_bool),
    OPT("consumer", "group_id", "sensorbridge", RESTART, FIELD_STR, group_id, 0, 0, parse_group_id),
    OPT("consumer", "strict_sensors", "true", SB_APPLY_CONSUMER, FIELD_BOOL, strict_sensors, 0, 0,
        parse_bool),
    OPT_DUR("consumer", "sensor_expiry", "1h", SB_APPLY_CONSUMER, FIELD_I64, sensor_expiry_us, 0,
            30 * DAY_S, parse_duration),
    /* At most the registry's series per family (SB_METRIC_MAX_CHILDREN),
     * so every sensor held has its series. */
    OPT("consumer", "max_sensors", "50000", RESTART, FIELD_INT, max_sensors, 1, 65536, parse_int),
    OPT_KAFKA("consumer", consumer_props),

    OPT("replay", "enabled", "true", SB_APPLY_REPLAY, FIELD_BOOL, replay_enabled, 0, 0, parse_bool),
    OPT_FN("replay", "dataset", SB_DEFAULT_DATASET, SB_APPLY_REPLAY, FIELD_STR, dataset,
           parse_dataset),
    OPT_FN("replay", "speed", "1", SB_APPLY_SPEED, FIELD_DOUBLE, speed, parse_speed),
    OPT_FN("replay", "cycles", "all", SB_APPLY_REPLAY, FIELD_CYCLES, cycle_first, parse_cycles),
    OPT("replay", "loop", "true", SB_APPLY_REPLAY, FIELD_BOOL, loop, 0, 0, parse_bool),
    OPT_FN("replay", "sensors", "all", SB_APPLY_REPLAY, FIELD_NAMES, sensors, parse_sensors),
    /* The synthetic sensors start at the same event time. */
    OPT_FN("replay", "event_epoch", "now", SB_APPLY_REPLAY | SB_APPLY_SYNTH, FIELD_I64,
           event_epoch_us, parse_epoch),

    OPT("http", "listen", "127.0.0.1:9550", RESTART, FIELD_STR, listen, 0, 0, parse_listen),
    OPT("http", "max_connections", "64", RESTART, FIELD_INT, http_max_connections, 1, 10000,
        parse_int),
    OPT_DUR("http", "timeout", "30s", RESTART, FIELD_I64, http_timeout_us, 1, HOUR_S,
            parse_duration),
    OPT("http", "web_config_file", "", RESTART, FIELD_WEB, web_config_file, 0, 0, parse_web_config),

    OPT("windows", "enabled", "true", RESTART, FIELD_BOOL, windows_enabled, 0, 0, parse_bool),
    OPT_DUR("windows", "sizes", "1m", RESTART, FIELD_SIZES, window_sizes_us, 1, DAY_S, parse_sizes),
    OPT_DUR("windows", "watermark", "10s", RESTART, FIELD_I64, watermark_us, 0, HOUR_S,
            parse_duration),
    OPT("windows", "max_open", "16", RESTART, FIELD_INT, max_open_windows, 1, 1000, parse_int),
    OPT_DUR("windows", "max_ahead", "1h", RESTART, FIELD_I64, max_ahead_us, 1, 30 * DAY_S,
            parse_duration),
    OPT("windows", "topic", "", RESTART, FIELD_STR, aggregates_topic, 0, 0, parse_topic),

    OPT("alerts", "enabled", "true", RESTART, FIELD_BOOL, alerts_enabled, 0, 0, parse_bool),
    OPT("alerts", "topic", "", RESTART, FIELD_STR, alerts_topic, 0, 0, parse_topic),
    OPT("alerts", "recent", "256", RESTART, FIELD_INT, recent_alerts, 1, 100000, parse_int),

    OPT("condition", "enabled", "true", RESTART, FIELD_BOOL, condition_enabled, 0, 0, parse_bool),
    OPT_FN("condition", "model", "", SB_APPLY_CONDITION, FIELD_STR, condition_model,
           parse_optional_path),
    OPT_FN("condition", "labels", "", SB_APPLY_CONDITION, FIELD_STR, condition_labels,
           parse_optional_path),
    OPT("condition", "max_open_cycles", "64", RESTART, FIELD_INT, condition_max_open, 1, 1000,
        parse_int),
    OPT("condition", "topic", "", RESTART, FIELD_STR, diagnosis_topic, 0, 0, parse_topic),

    /* Thresholds and zscore have no default: unset is NAN (no rule). */
    OPT_ALERT("low_critical", NULL, 0, FIELD_DOUBLE, low_critical, 0, 0, -HUGE_VAL, HUGE_VAL,
              parse_number),
    OPT_ALERT("low_warning", NULL, 0, FIELD_DOUBLE, low_warning, 0, 0, -HUGE_VAL, HUGE_VAL,
              parse_number),
    OPT_ALERT("high_warning", NULL, 0, FIELD_DOUBLE, high_warning, 0, 0, -HUGE_VAL, HUGE_VAL,
              parse_number),
    OPT_ALERT("high_critical", NULL, 0, FIELD_DOUBLE, high_critical, 0, 0, -HUGE_VAL, HUGE_VAL,
              parse_number),
    OPT_ALERT("hysteresis", "0", 0, FIELD_DOUBLE, hysteresis, 0, 0, 0, HUGE_VAL, parse_number),
    OPT_ALERT("min_duration", "0s", 0, FIELD_I64, min_duration_us, 0, 0, 0, HOUR_S, parse_duration),
    OPT_ALERT("zscore", NULL, OPT_GT_MIN, FIELD_DOUBLE, zscore, 0, 0, 0, HUGE_VAL, parse_number),
    OPT_ALERT("zscore_baseline", "10", 0, FIELD_INT, zscore_baseline, 2, 1000, 0, 0, parse_int),
    /* Default: the smallest [windows] size, set in check_final. */
    OPT_ALERT("zscore_window", NULL, 0, FIELD_I64, zscore_window_us, 0, 0, 1, DAY_S,
              parse_duration),
    OPT_ALERT("zscore_on", "mean", 0, FIELD_INT, zscore_on, 0, 0, 0, 0, parse_zscore_on),

    /* kind is required; unit, base and noise default from it (check_final). */
    OPT_SYNTH("kind", NULL, 0, FIELD_INT, kind, 0, 0, 0, 0, parse_synth_kind),
    OPT_SYNTH("unit", NULL, 0, FIELD_STR, unit, 1, 31, 0, 0, parse_text),
    OPT_SYNTH("rate_hz", "1", 0, FIELD_DOUBLE, rate_hz, 0, 0, 0.001, 1000, parse_number),
    OPT_SYNTH("base", NULL, 0, FIELD_DOUBLE, base, 0, 0, -HUGE_VAL, HUGE_VAL, parse_number),
    OPT_SYNTH("noise", NULL, 0, FIELD_DOUBLE, noise, 0, 0, 0, HUGE_VAL, parse_number),
    OPT_SYNTH("drift_per_hour", "0", 0, FIELD_DOUBLE, drift_per_hour, 0, 0, -HUGE_VAL, HUGE_VAL,
              parse_number),
    OPT_SYNTH("daily_amplitude", "0", 0, FIELD_DOUBLE, daily_amplitude, 0, 0, 0, HUGE_VAL,
              parse_number),
    OPT_SYNTH("anomaly_probability", "0", 0, FIELD_DOUBLE, anomaly_probability, 0, 0, 0, 1,
              parse_number),
    OPT_SYNTH("anomaly_magnitude", "0", 0, FIELD_DOUBLE, anomaly_magnitude, 0, 0, -HUGE_VAL,
              HUGE_VAL, parse_number),
    OPT_SYNTH("anomaly_duration", "30s", 0, FIELD_I64, anomaly_duration_us, 0, 0, 1, DAY_S,
              parse_duration),
    OPT_SYNTH("seed", "1", 0, FIELD_U64, seed, 0, 0, 0, 0, parse_u64),
    OPT_SYNTH("samples", "0", 0, FIELD_U64, max_samples, 0, 0, 0, 0, parse_u64),
    OPT_SYNTH("factory_section", "", 0, FIELD_STR, factory_section, 0, SB_CONFIG_LOCATION_MAX, 0, 0,
              parse_text),
    OPT_SYNTH("machine", "", 0, FIELD_STR, machine, 0, SB_CONFIG_LOCATION_MAX, 0, 0, parse_text),
    OPT_SYNTH("zone", "", 0, FIELD_STR, zone, 0, SB_CONFIG_LOCATION_MAX, 0, 0, parse_text),
};

/* The table section of a section as written: [alert.PS1] has the keys of
 * ALERT_SECTION. */
static const char *table_section(const char *section)
{
    if (strncmp(section, ALERT_PREFIX, ALERT_PREFIX_LEN) == 0)
        return ALERT_SECTION;
    if (strncmp(section, SYNTH_PREFIX, SYNTH_PREFIX_LEN) == 0)
        return SYNTH_SECTION;
    return section;
}

static const struct opt *find_opt(const char *section, const char *name)
{
    section = table_section(section);
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

/* A fixed section, such as [kafka]. */
static bool known_section(const char *s, size_t n)
{
    for (size_t i = 0; i < SB_ARRAY_SIZE(opts); i++)
        if (opts[i].scope == SCOPE_CONFIG && strlen(opts[i].section) == n &&
            memcmp(opts[i].section, s, n) == 0)
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
    section = table_section(section);
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
        if (!o->defval || o->scope != SCOPE_CONFIG)
            continue;
        struct parse_ctx p = {.key = o->name, .dir = NULL, .obj = c};
        if (o->parse(c, o, o->defval, &p) < 0) {
            /* A default that its own validator rejects is a bug here. */
            sb_err("msg=\"bad built-in default\" key=%s why=\"%s\"", o->id, p.why);
            abort();
        }
    }
    for (size_t i = 0; topic_config_defaults[i]; i += 2)
        kvlist_add(&c->topic_configs, topic_config_defaults[i], topic_config_defaults[i + 1]);
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
    free(c->samples_topic);
    kvlist_free(&c->topic_configs);
    kvlist_free(&c->producer_props);
    free(c->group_id);
    kvlist_free(&c->consumer_props);
    free(c->dataset);
    sb_namelist_free(&c->sensors);
    free(c->listen);
    free(c->web_config_file);
    sb_webconfig_free(&c->web);
    free(c->aggregates_topic);
    free(c->alerts_topic);
    free(c->condition_model);
    free(c->condition_labels);
    free(c->diagnosis_topic);
    for (size_t i = 0; i < c->nalert_rules; i++)
        free(c->alert_rules[i].sensor);
    free(c->alert_rules);
    for (size_t i = 0; i < c->nsynthetic; i++) {
        struct sb_synth_cfg *s = &c->synthetic[i];
        free(s->name);
        free(s->unit);
        free(s->factory_section);
        free(s->machine);
        free(s->zone);
    }
    free(c->synthetic);
    memset(c, 0, sizeof(*c));
}

const struct sb_synth_cfg *sb_config_find_synthetic(const struct sb_config *c, const char *name)
{
    for (size_t i = 0; name && i < c->nsynthetic; i++)
        if (strcmp(c->synthetic[i].name, name) == 0)
            return &c->synthetic[i];
    return NULL;
}

const struct sb_alert_rule_cfg *sb_config_find_alert_rule(const struct sb_config *c,
                                                          const char *sensor)
{
    for (size_t i = 0; sensor && i < c->nalert_rules; i++)
        if (strcmp(c->alert_rules[i].sensor, sensor) == 0)
            return &c->alert_rules[i];
    return NULL;
}

bool sb_config_sensor_known(const struct sb_config *c, const char *name)
{
    return sb_sensors_find(name) != NULL || sb_config_find_synthetic(c, name) != NULL;
}

bool sb_alert_rule_has_threshold(const struct sb_alert_rule_cfg *r)
{
    return !isnan(r->low_critical) || !isnan(r->low_warning) || !isnan(r->high_warning) ||
           !isnan(r->high_critical);
}

bool sb_alert_rule_has_zscore(const struct sb_alert_rule_cfg *r)
{
    return !isnan(r->zscore);
}

const char *const sb_alert_threshold_names[4] = {"low_critical", "low_warning", "high_warning",
                                                 "high_critical"};

void sb_alert_rule_thresholds(const struct sb_alert_rule_cfg *r, double t[4])
{
    t[0] = r->low_critical;
    t[1] = r->low_warning;
    t[2] = r->high_warning;
    t[3] = r->high_critical;
}

bool sb_alert_rule_ordered(const struct sb_alert_rule_cfg *r, size_t *i, size_t *j, bool *same_side)
{
    double t[4];
    sb_alert_rule_thresholds(r, t);
    for (*i = 0; *i < 4; (*i)++) {
        for (*j = *i + 1; *j < 4; (*j)++) {
            if (isnan(t[*i]) || isnan(t[*j]))
                continue;
            *same_side = (*i == 0 && *j == 1) || (*i == 2 && *j == 3);
            if (!(*same_side ? t[*i] <= t[*j] : t[*i] < t[*j]))
                return false;
        }
    }
    return true;
}

bool sb_config_embedded(const struct sb_config *c)
{
    return c->brokers && strcmp(c->brokers, "embedded") == 0;
}

bool sb_config_condition_on(const struct sb_config *c)
{
    return c->condition_enabled && c->condition_model && c->condition_model[0];
}

void sb_config_sample_topic(const struct sb_config *c, const char *sensor, char *out, size_t len)
{
    if (c->layout == SB_LAYOUT_PER_SENSOR)
        snprintf(out, len, "%s-%s", c->topic_prefix, sensor);
    else if (c->samples_topic && *c->samples_topic)
        snprintf(out, len, "%s", c->samples_topic);
    else
        snprintf(out, len, "%s-samples", c->topic_prefix);
}

static bool str_equal(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
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

static bool names_equal(const struct sb_namelist *a, const struct sb_namelist *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->names[i], b->names[i]) != 0)
            return false;
    return true;
}

/* The enums a row compares as FIELD_INT. */
_Static_assert(sizeof(enum sb_zscore_on) == sizeof(int), "zscore_on compared as int");
_Static_assert(sizeof(enum sb_synth_kind) == sizeof(int), "kind compared as int");
_Static_assert(sizeof(enum sb_topic_layout) == sizeof(int), "layout compared as int");

/* Whether row o has the same value in the structs at a and b (of its
 * scope). */
static bool field_equal(const struct opt *o, const void *a, const void *b)
{
    const void *fa = (const char *)a + o->off;
    const void *fb = (const char *)b + o->off;
    switch (o->field) {
    case FIELD_INT:
        return *(const int *)fa == *(const int *)fb;
    case FIELD_BOOL:
        return *(const bool *)fa == *(const bool *)fb;
    case FIELD_STR:
        return str_equal(*(char *const *)fa, *(char *const *)fb);
    case FIELD_KV:
        return kvlist_equal(fa, fb);
    case FIELD_I64:
        return *(const int64_t *)fa == *(const int64_t *)fb;
    case FIELD_U64:
        return *(const uint64_t *)fa == *(const uint64_t *)fb;
    case FIELD_DOUBLE: {
        double x = *(const double *)fa, y = *(const double *)fb;
        return x == y || (isnan(x) && isnan(y));
    }
    case FIELD_NAMES:
        return names_equal(fa, fb);
    case FIELD_SIZES: {
        const struct sb_config *ca = a, *cb = b;
        return ca->nwindow_sizes == cb->nwindow_sizes &&
               memcmp(ca->window_sizes_us, cb->window_sizes_us,
                      ca->nwindow_sizes * sizeof(ca->window_sizes_us[0])) == 0;
    }
    case FIELD_CYCLES: {
        const struct sb_config *ca = a, *cb = b;
        return ca->cycle_first == cb->cycle_first && ca->cycle_last == cb->cycle_last;
    }
    case FIELD_WEB: {
        /* What the file says, too: a reload reads it again, and a new
         * certificate or password would otherwise be silently ignored
         * until the next restart. */
        const struct sb_config *ca = a, *cb = b;
        return str_equal(*(char *const *)fa, *(char *const *)fb) &&
               sb_webconfig_equal(&ca->web, &cb->web);
    }
    }
    return false;
}

/* The apply steps of the rows of `scope` that differ between two lists of
 * sections (alert rules or synthetic sensors, each element `size` bytes,
 * named by the char * at offset name_off); `added` when the sections
 * themselves differ. */
static unsigned sub_changes(enum opt_scope scope, const void *a, size_t na, const void *b,
                            size_t nb, size_t size, size_t name_off, unsigned added)
{
    if (na != nb)
        return added;
    unsigned apply = 0;
    for (size_t i = 0; i < na; i++) {
        const char *x = (const char *)a + i * size, *y = (const char *)b + i * size;
        if (!str_equal(*(char *const *)(x + name_off), *(char *const *)(y + name_off)))
            return added;
        for (size_t k = 0; k < SB_ARRAY_SIZE(opts); k++)
            if (opts[k].scope == scope && !field_equal(&opts[k], x, y))
                apply |= opts[k].apply;
    }
    return apply;
}

unsigned sb_config_changes(const struct sb_config *a, const struct sb_config *b,
                           const char **restart_key)
{
    unsigned apply = 0;
    *restart_key = NULL;
    for (size_t i = 0; i < SB_ARRAY_SIZE(opts); i++) {
        const struct opt *o = &opts[i];
        if (o->scope != SCOPE_CONFIG || field_equal(o, a, b))
            continue;
        if (o->apply == RESTART) {
            *restart_key = o->id;
            return 0;
        }
        apply |= o->apply;
    }
    apply |= sub_changes(SCOPE_ALERT, a->alert_rules, a->nalert_rules, b->alert_rules,
                         b->nalert_rules, sizeof(*a->alert_rules),
                         offsetof(struct sb_alert_rule_cfg, sensor), SB_APPLY_ALERTS);
    /* The consumer knows the synthetic sensors by name. */
    apply |= sub_changes(SCOPE_SYNTH, a->synthetic, a->nsynthetic, b->synthetic, b->nsynthetic,
                         sizeof(*a->synthetic), offsetof(struct sb_synth_cfg, name),
                         SB_APPLY_SYNTH | SB_APPLY_CONSUMER);
    return apply;
}

const char *sb_config_restart_key(const struct sb_config *a, const struct sb_config *b)
{
    const char *key;
    sb_config_changes(a, b, &key);
    return key;
}

/* A key already set in this file, for duplicate detection and for the
 * checks after the file (was it given, on which line), found through the
 * loader's seen_index. */
struct seen_key {
    char *section; /* as written: "kafka", "alert.PS1" */
    char *name;
    int line;
};

/* The loader's growing arrays (keys seen, synthetic sensors) by name: open
 * addressing over entry numbers, at most half full, so that a file of tens
 * of thousands of sections and keys loads in linear time. */
struct name_slot {
    uint64_t hash;
    uint32_t entry; /* entry number + 1; 0: empty */
};

struct name_index {
    struct name_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t n;
};

/* The entry whose hash is h and for which same(ud, entry) holds, or -1. */
static long index_find(const struct name_index *x, uint64_t h,
                       bool (*same)(const void *ud, size_t entry), const void *ud)
{
    if (!x->cap)
        return -1;
    for (size_t i = h & (x->cap - 1); x->slots[i].entry; i = (i + 1) & (x->cap - 1))
        if (x->slots[i].hash == h && same(ud, x->slots[i].entry - 1))
            return (long)x->slots[i].entry - 1;
    return -1;
}

static void index_put(struct name_slot *slots, size_t cap, uint64_t h, uint32_t entry1)
{
    size_t i = h & (cap - 1);
    while (slots[i].entry)
        i = (i + 1) & (cap - 1);
    slots[i] = (struct name_slot){h, entry1};
}

static void index_add(struct name_index *x, uint64_t h, size_t entry)
{
    if (2 * (x->n + 1) > x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 64;
        struct name_slot *slots = sb_xcalloc(cap, sizeof(*slots));
        for (size_t i = 0; i < x->cap; i++)
            if (x->slots[i].entry)
                index_put(slots, cap, x->slots[i].hash, x->slots[i].entry);
        free(x->slots);
        x->slots = slots;
        x->cap = cap;
    }
    index_put(x->slots, x->cap, h, (uint32_t)entry + 1);
    x->n++;
}

static uint64_t key_hash(const char *section, const char *name)
{
    return sb_hash_fnv1a(section, strlen(section)) * 31 ^ sb_hash_fnv1a(name, strlen(name));
}

/* Where an [alert.<SENSOR>] or [synthetic.<NAME>] section first appears. */
struct sub_section {
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
    struct name_index seen_index;
    struct name_index synth_index; /* c->synthetic by name */
    size_t capsynth;
    /* The section being read, as written; libinih's copy is cut at 49
     * characters. Empty before the first header. */
    char section[SECTION_MAX + 1];
    int *alert_lines; /* header line of c->alert_rules[i] */
    int *synth_lines; /* header line of c->synthetic[i] */
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

/* Checks <NAME> of [<prefix><NAME>]: 1..63 characters of `chars` plus
 * letters and digits. */
static bool check_sub_name(struct loader *ld, const char *name, size_t namelen, size_t prefixlen,
                           const char *chars, const char *what)
{
    const char *sub = name + prefixlen;
    size_t n = namelen - prefixlen;
    if (n > SB_CONFIG_SENSOR_NAME_MAX) {
        fail(ld, ld->line, "[%.*s]: %s name longer than %d characters", (int)namelen, name, what,
             SB_CONFIG_SENSOR_NAME_MAX);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)sub[i]) && !strchr(chars, sub[i])) {
            fail(ld, ld->line, "[%.*s]: '%c' is not allowed in a %s name; use A-Z a-z 0-9 %s",
                 (int)namelen, name, sub[i], what, chars);
            return false;
        }
    }
    memcpy(ld->section, name, namelen);
    ld->section[namelen] = '\0';
    return true;
}

/* Runs the defaults of the rows of `scope` on a new struct. */
static void sub_defaults(struct sb_config *c, enum opt_scope scope, void *obj)
{
    for (size_t i = 0; i < SB_ARRAY_SIZE(opts); i++) {
        const struct opt *o = &opts[i];
        if (o->scope != scope || !o->defval)
            continue;
        struct parse_ctx p = {.key = o->name, .obj = obj};
        if (o->parse(c, o, o->defval, &p) < 0) {
            sb_err("msg=\"bad built-in default\" key=%s why=\"%s\"", o->id, p.why);
            abort();
        }
    }
}

/* [alert.<SENSOR>]: a new rule, or more keys for the rule of a sensor whose
 * section appeared before (a section may appear more than once; its keys
 * may not). Whether the sensor exists is known only at the end of the file,
 * since it may be a [synthetic.<NAME>] further down. */
static bool open_alert(struct loader *ld, const char *name, size_t namelen)
{
    struct sb_config *c = ld->c;
    if (!check_sub_name(ld, name, namelen, ALERT_PREFIX_LEN, "_.:-", "sensor"))
        return false;
    const char *sensor = ld->section + ALERT_PREFIX_LEN;
    if (sb_config_find_alert_rule(c, sensor))
        return true;
    if (c->nalert_rules == SB_MAX_ALERT_RULES) {
        fail(ld, ld->line, "[%s]: more than %d [" ALERT_SECTION "] sections", ld->section,
             SB_MAX_ALERT_RULES);
        return false;
    }
    c->alert_rules = sb_xrealloc(c->alert_rules, (c->nalert_rules + 1) * sizeof(*c->alert_rules));
    ld->alert_lines = sb_xrealloc(ld->alert_lines, (c->nalert_rules + 1) * sizeof(int));
    struct sb_alert_rule_cfg *r = &c->alert_rules[c->nalert_rules];
    memset(r, 0, sizeof(*r));
    r->sensor = sb_xstrdup(sensor);
    r->low_critical = r->low_warning = r->high_warning = r->high_critical = NAN;
    r->zscore = NAN;
    sub_defaults(c, SCOPE_ALERT, r);
    ld->alert_lines[c->nalert_rules++] = ld->line;
    return true;
}

static bool same_synthetic(const void *ud, size_t entry)
{
    const void *const *a = ud; /* {loader, name} */
    const struct loader *ld = a[0];
    return strcmp(ld->c->synthetic[entry].name, a[1]) == 0;
}

/* The synthetic sensor of this name read so far, or NULL. */
static struct sb_synth_cfg *loader_synthetic(struct loader *ld, const char *name)
{
    const void *ud[] = {ld, name};
    long k = index_find(&ld->synth_index, sb_hash_fnv1a(name, strlen(name)), same_synthetic, ud);
    return k < 0 ? NULL : &ld->c->synthetic[k];
}

/* [synthetic.<NAME>]: a new synthetic sensor, or more keys for one seen
 * before. <NAME> becomes the topic "<topic_prefix>-<NAME>", so ':' (fine
 * in a sensor name on the wire) is refused here. */
static bool open_synth(struct loader *ld, const char *name, size_t namelen)
{
    struct sb_config *c = ld->c;
    if (!check_sub_name(ld, name, namelen, SYNTH_PREFIX_LEN, "_.-", "synthetic sensor"))
        return false;
    const char *sname = ld->section + SYNTH_PREFIX_LEN;
    if (sb_sensors_find(sname)) {
        fail(ld, ld->line, "[%s]: \"%s\" is a UCI sensor; choose another name", ld->section, sname);
        return false;
    }
    if (loader_synthetic(ld, sname))
        return true;
    if (c->nsynthetic == SB_MAX_SYNTHETIC) {
        fail(ld, ld->line, "[%s]: more than %d [" SYNTH_SECTION "] sections", ld->section,
             SB_MAX_SYNTHETIC);
        return false;
    }
    if (c->nsynthetic == ld->capsynth) {
        ld->capsynth = ld->capsynth ? 2 * ld->capsynth : 16;
        c->synthetic = sb_xrealloc(c->synthetic, ld->capsynth * sizeof(*c->synthetic));
        ld->synth_lines = sb_xrealloc(ld->synth_lines, ld->capsynth * sizeof(int));
    }
    index_add(&ld->synth_index, sb_hash_fnv1a(sname, strlen(sname)), c->nsynthetic);
    struct sb_synth_cfg *s = &c->synthetic[c->nsynthetic];
    memset(s, 0, sizeof(*s));
    s->name = sb_xstrdup(sname);
    sub_defaults(c, SCOPE_SYNTH, s);
    ld->synth_lines[c->nsynthetic++] = ld->line;
    return true;
}

/* Checks one raw line before libinih sees it, and follows the current
 * section. Returns false after recording an error. */
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
    if (namelen > ALERT_PREFIX_LEN && memcmp(name, ALERT_PREFIX, ALERT_PREFIX_LEN) == 0)
        return open_alert(ld, name, namelen);
    if (namelen > SYNTH_PREFIX_LEN && memcmp(name, SYNTH_PREFIX, SYNTH_PREFIX_LEN) == 0)
        return open_synth(ld, name, namelen);
    if (!known_section(name, namelen)) {
        struct sb_buf b;
        sb_buf_init(&b);
        list_sections(&b);
        fail(ld, ld->line, "[%.*s]: unknown section; sections are %s", (int)namelen, name, b.data);
        sb_buf_free(&b);
        return false;
    }
    memcpy(ld->section, name, namelen);
    ld->section[namelen] = '\0';
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

/* The line on which `name` was set in `section` (as written); 0 if it
 * was not. */
static bool same_key(const void *ud, size_t entry)
{
    const void *const *a = ud; /* {loader, section, name} */
    const struct seen_key *k = &((const struct loader *)a[0])->seen[entry];
    return strcmp(k->section, a[1]) == 0 && strcmp(k->name, a[2]) == 0;
}

static int seen_line(const struct loader *ld, const char *section, const char *name)
{
    const void *ud[] = {ld, section, name};
    long k = index_find(&ld->seen_index, key_hash(section, name), same_key, ud);
    return k < 0 ? 0 : ld->seen[k].line;
}

static void handle(struct loader *ld, const char *name, const char *value)
{
    int line = ld->line;
    const char *section = ld->section;
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
    int prev = seen_line(ld, section, name);
    if (prev) {
        fail(ld, line, "[%s] %s: duplicate key (first set on line %d); keep one", section, name,
             prev);
        return;
    }
    struct parse_ctx p = {.key = name, .dir = ld->dir, .obj = ld->c};
    if (o->scope == SCOPE_ALERT)
        p.obj = (void *)sb_config_find_alert_rule(ld->c, section + ALERT_PREFIX_LEN);
    else if (o->scope == SCOPE_SYNTH)
        p.obj = loader_synthetic(ld, section + SYNTH_PREFIX_LEN);
    /* The reader created it when it saw the header. */
    if (!p.obj)
        abort();
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
    ld->seen[ld->nseen].section = sb_xstrdup(section);
    ld->seen[ld->nseen].name = sb_xstrdup(name);
    ld->seen[ld->nseen].line = line;
    index_add(&ld->seen_index, key_hash(section, name), ld->nseen);
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
    (void)section; /* ld->section: libinih's copy may be cut short */
    if (!ld->failed)
        handle(ld, name, value);
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

/* Sets unit, base and noise of a synthetic sensor from its kind where the
 * file did not, whatever the order of the keys; checks that kind is given
 * and that the topic fits. */
static void check_synthetic(struct loader *ld)
{
    struct sb_config *c = ld->c;
    for (size_t i = 0; i < c->nsynthetic && !ld->failed; i++) {
        struct sb_synth_cfg *s = &c->synthetic[i];
        char sec[SECTION_MAX + 1];
        snprintf(sec, sizeof(sec), SYNTH_PREFIX "%s", s->name);
        int line = ld->synth_lines[i];
        if (!seen_line(ld, sec, "kind")) {
            fail(ld, line,
                 "[%s]: kind is required: temperature, vibration, energy, humidity or pressure",
                 sec);
            return;
        }
        const struct synth_kind *k = &synth_kinds[s->kind];
        const char *const keys[] = {"unit", "base", "noise"};
        const char *const vals[] = {k->unit, k->base, k->noise};
        for (size_t j = 0; j < SB_ARRAY_SIZE(keys); j++) {
            if (seen_line(ld, sec, keys[j]))
                continue;
            const struct opt *o = find_opt(sec, keys[j]);
            struct parse_ctx p = {.key = keys[j], .obj = s};
            if (!o || o->parse(c, o, vals[j], &p) < 0) {
                sb_err("msg=\"bad built-in default\" kind=%s key=%s", k->name, keys[j]);
                abort();
            }
        }
        size_t topic_len = strlen(c->topic_prefix) + 1 + strlen(s->name);
        if (topic_len > TOPIC_MAX)
            fail(ld, line,
                 "[%s]: its topic \"%s-%s\" would have %zu characters, more than Kafka's %d; "
                 "shorten the name or [kafka] topic_prefix",
                 sec, c->topic_prefix, s->name, topic_len, TOPIC_MAX);
    }
}

/* "1m, 5m, 1h": the [windows] sizes, for messages. */
static void list_sizes(const struct sb_config *c, struct sb_buf *b)
{
    for (size_t i = 0; i < c->nwindow_sizes; i++) {
        char d[32];
        fmt_duration(d, sizeof(d), c->window_sizes_us[i] / 1000000);
        sb_buf_printf(b, "%s%s", i ? ", " : "", d);
    }
}

/* low_critical <= low_warning < high_warning <= high_critical, among the
 * thresholds that are set: a warning band inside the critical one, and a
 * normal band between low and high. */
static void check_threshold_order(struct loader *ld, const struct sb_alert_rule_cfg *r,
                                  const char *sec, int line)
{
    size_t i, j;
    bool same_side;
    if (sb_alert_rule_ordered(r, &i, &j, &same_side))
        return;
    const char *const *names = sb_alert_threshold_names;
    double t[4];
    sb_alert_rule_thresholds(r, t);
    char a[32], b[32];
    sb_fmt_double(a, sizeof(a), t[i]);
    sb_fmt_double(b, sizeof(b), t[j]);
    fail(ld, line,
         "[%s]: %s = %s (line %d) must be %s %s = %s (line %d); thresholds must satisfy "
         "low_critical <= low_warning < high_warning <= high_critical",
         sec, names[i], a, seen_line(ld, sec, names[i]), same_side ? "at most" : "below", names[j],
         b, seen_line(ld, sec, names[j]));
}

/* Each [alert.<SENSOR>] names a known sensor, has a rule, orders its
 * thresholds, and its z-score rule uses one of the window sizes. */
static void check_alerts(struct loader *ld)
{
    struct sb_config *c = ld->c;
    for (size_t i = 0; i < c->nalert_rules && !ld->failed; i++) {
        struct sb_alert_rule_cfg *r = &c->alert_rules[i];
        char sec[SECTION_MAX + 1];
        snprintf(sec, sizeof(sec), ALERT_PREFIX "%s", r->sensor);
        int line = ld->alert_lines[i];
        bool condition = strncmp(r->sensor, "condition_", 10) == 0 && r->sensor[10];
        if (condition && !c->condition_model[0]) {
            fail(ld, line, "[%s]: a rule on the condition monitor needs [condition] model", sec);
            return;
        }
        if (condition && sb_alert_rule_has_zscore(r)) {
            fail(ld, line,
                 "[%s]: the condition monitor's states take threshold rules only, not zscore", sec);
            return;
        }
        if (!condition && !sb_config_sensor_known(c, r->sensor)) {
            size_t ncat;
            const struct sb_sensor_info *cat = sb_sensors_uci(&ncat);
            struct sb_buf known;
            sb_buf_init(&known);
            for (size_t k = 0; k < ncat; k++)
                sb_buf_printf(&known, "%s%s", k ? " " : "", cat[k].name);
            fail(ld, line,
                 "[%s]: unknown sensor \"%s\"; expected a UCI sensor (%s), the <NAME> of a "
                 "[" SYNTH_SECTION "] section in this file or condition_<COMPONENT>",
                 sec, r->sensor, known.data);
            sb_buf_free(&known);
            return;
        }
        if (!sb_alert_rule_has_threshold(r) && !sb_alert_rule_has_zscore(r)) {
            fail(ld, line,
                 "[%s]: no rule; set at least one of low_critical, low_warning, high_warning, "
                 "high_critical or zscore",
                 sec);
            return;
        }
        check_threshold_order(ld, r, sec, line);
        if (ld->failed)
            return;
        int wline = seen_line(ld, sec, "zscore_window");
        if (!wline) {
            r->zscore_window_us = c->window_sizes_us[0];
        } else {
            bool found = false;
            for (size_t k = 0; k < c->nwindow_sizes; k++)
                found = found || c->window_sizes_us[k] == r->zscore_window_us;
            if (!found) {
                char d[32];
                fmt_duration(d, sizeof(d), r->zscore_window_us / 1000000);
                struct sb_buf b;
                sb_buf_init(&b);
                list_sizes(c, &b);
                fail(ld, wline,
                     "[%s] zscore_window: %s is not one of [windows] sizes (%s); add it there or "
                     "use one of them",
                     sec, d, b.data);
                sb_buf_free(&b);
                return;
            }
        }
        if (sb_alert_rule_has_zscore(r) && !c->windows_enabled) {
            fail(ld, seen_line(ld, sec, "zscore"),
                 "[%s] zscore: the statistical rule works on window means, but [windows] "
                 "enabled = false; enable windows or remove zscore",
                 sec);
            return;
        }
    }
}

/* True if `topic` is "<prefix>-<name>". */
static bool is_sensor_topic(const char *topic, const char *prefix, const char *name)
{
    size_t n = strlen(prefix);
    return strncmp(topic, prefix, n) == 0 && topic[n] == '-' && strcmp(topic + n + 1, name) == 0;
}

/* The aggregates and alerts topics must be topics of their own: a sensor
 * topic or each other would mix message schemas. */
static void check_topics(struct loader *ld)
{
    struct sb_config *c = ld->c;
    struct {
        const char *section;
        const char *what;
        const char *set; /* the key's value; "" = derived */
        const char *suffix;
        bool enabled;
        char name[TOPIC_MAX + 1]; /* also holds "<topic_prefix>-aggregates" */
    } t[] = {
        {"windows", "aggregates", c->aggregates_topic, "aggregates", c->windows_enabled, ""},
        {"alerts", "alerts", c->alerts_topic, "alerts", c->alerts_enabled, ""},
    };
    for (size_t i = 0; i < SB_ARRAY_SIZE(t); i++) {
        if (t[i].set && *t[i].set)
            snprintf(t[i].name, sizeof(t[i].name), "%s", t[i].set);
        else
            snprintf(t[i].name, sizeof(t[i].name), "%s-%s", c->topic_prefix, t[i].suffix);
    }
    if (t[0].enabled && t[1].enabled && strcmp(t[0].name, t[1].name) == 0) {
        int line = seen_line(ld, "alerts", "topic");
        fail(ld, line ? line : seen_line(ld, "windows", "topic"),
             "[alerts] topic: \"%s\" is also the [windows] aggregates topic; give each its own",
             t[1].name);
        return;
    }
    if (c->layout == SB_LAYOUT_SHARED) {
        char samples[TOPIC_MAX + 32];
        sb_config_sample_topic(c, "", samples, sizeof(samples));
        for (size_t i = 0; i < SB_ARRAY_SIZE(t); i++) {
            if (!t[i].enabled || strcmp(t[i].name, samples) != 0)
                continue;
            int line = seen_line(ld, t[i].section, "topic");
            if (line)
                fail(ld, line, "[%s] topic: \"%s\" is also the samples topic; give each its own",
                     t[i].section, samples);
            else
                fail(ld, seen_line(ld, "kafka", "samples_topic"),
                     "[kafka] samples_topic: \"%s\" is also the %s topic; give each its own",
                     samples, t[i].what);
            return;
        }
    }
    size_t ncat;
    const struct sb_sensor_info *cat = sb_sensors_uci(&ncat);
    for (size_t i = 0; i < SB_ARRAY_SIZE(t); i++) {
        if (!t[i].enabled)
            continue;
        int line = seen_line(ld, t[i].section, "topic");
        for (size_t k = 0; k < ncat + c->nsynthetic; k++) {
            const char *sensor = k < ncat ? cat[k].name : c->synthetic[k - ncat].name;
            if (!is_sensor_topic(t[i].name, c->topic_prefix, sensor))
                continue;
            if (line)
                fail(ld, line, "[%s] topic: \"%s\" is the topic of sensor %s; choose another",
                     t[i].section, t[i].name, sensor);
            else
                fail(ld, ld->synth_lines[k - ncat],
                     "[" SYNTH_PREFIX "%s]: its topic \"%s\" is the %s topic; rename the sensor "
                     "or set [%s] topic",
                     sensor, t[i].name, t[i].what, t[i].section);
            return;
        }
    }
}

/* The dataset must exist when the replay is on. */
static void check_dataset(struct loader *ld)
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

/* With the monitor enabled, the model file and the labels must be files
 * that exist: their contents are read (and checked, naming the member)
 * when the daemon starts or reloads, by model.c and condition.c. */
static void check_condition_files(struct loader *ld)
{
    struct sb_config *c = ld->c;
    const char *keys[] = {"model", "labels"};
    const char *paths[] = {c->condition_model, c->condition_labels};
    for (size_t i = 0; i < SB_ARRAY_SIZE(keys) && !ld->failed && c->condition_enabled; i++) {
        struct stat st;
        if (!paths[i][0])
            continue;
        if (stat(paths[i], &st) < 0)
            fail(ld, seen_line(ld, "condition", keys[i]), "[condition] %s: \"%s\": %s", keys[i],
                 paths[i], strerror(errno));
        else if (!S_ISREG(st.st_mode))
            fail(ld, seen_line(ld, "condition", keys[i]), "[condition] %s: \"%s\" is not a file",
                 keys[i], paths[i]);
    }
}

/* Checks that span keys or sections or need the file system, after the
 * whole file: those about the file's own text first, then the file system. */

static void check_final(struct loader *ld)
{
    check_synthetic(ld);
    if (!ld->failed)
        check_alerts(ld);
    if (!ld->failed)
        check_topics(ld);
    if (!ld->failed)
        check_dataset(ld);
    check_condition_files(ld);
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
    /* One header line per rule and synthetic sensor; 0 (no line) for any
     * already in c, though c should hold only defaults. */
    ld.alert_lines = sb_xcalloc(c->nalert_rules + 1, sizeof(int));
    ld.synth_lines = sb_xcalloc(c->nsynthetic + 1, sizeof(int));
    ld.capsynth = c->nsynthetic;
    for (size_t i = 0; i < c->nsynthetic; i++)
        index_add(&ld.synth_index,
                  sb_hash_fnv1a(c->synthetic[i].name, strlen(c->synthetic[i].name)), i);
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
    for (size_t i = 0; i < ld.nseen; i++) {
        free(ld.seen[i].section);
        free(ld.seen[i].name);
    }
    free(ld.seen);
    free(ld.seen_index.slots);
    free(ld.synth_index.slots);
    free(ld.alert_lines);
    free(ld.synth_lines);
    free(ld.dir);
    free(text);
    return ld.failed ? -EINVAL : 0;
}
