/* registry.c - metric families, children found through a hash table, and
 * their exposition: the Prometheus text format 0.0.4 and OpenMetrics 1.0.0. */
#include "sensorbridge/registry.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sensorbridge/log.h"

/* Keys up to this size are built on the stack: lookups are rare, but a
 * malloc per lookup would still be the dominant cost. */
#define KEY_STACK 512

struct sb_metric {
    /* The hot fields first: updates touch only these. */
    double value; /* counter or gauge value; histogram sum */
    struct sb_family *fam;
    struct sb_metric *hnext; /* hash chain */
    uint64_t hash;
    size_t idx; /* position in fam->children, so removal needs no search */
    /* Label values, each NUL-terminated, concatenated: NUL cannot occur in a
     * value, so comparing keys byte-wise compares the value tuples. */
    const char *key;
    size_t keylen;
    /* The escaped label pairs, `a="x",b="y"`, rendered once at creation so
     * exposition is a few memcpys per sample. */
    const char *labels;
    size_t labelslen;
    int64_t created_us; /* wall clock at creation: OpenMetrics' _created */
    uint64_t buckets[]; /* histograms: nbuckets + 1 counts, not cumulative */
};

struct sb_family {
    enum sb_metric_type type;
    char *name;
    size_t namelen;
    char *help;
    char *help_esc;
    char *help_esc_om; /* OpenMetrics escapes '"' in HELP too */
    size_t nlabels;
    char *labelnames[SB_METRIC_MAX_LABELS];
    size_t nbuckets;
    double bounds[SB_METRIC_MAX_BUCKETS];
    char *le[SB_METRIC_MAX_BUCKETS + 1];    /* `le="0.5"`, the last one "+Inf" */
    char *le_om[SB_METRIC_MAX_BUCKETS + 1]; /* `le="1.0"`: OpenMetrics' canonical form */
    size_t lelen[SB_METRIC_MAX_BUCKETS + 1];
    size_t le_omlen[SB_METRIC_MAX_BUCKETS + 1];
    bool negative_bounds;          /* OpenMetrics then forbids _sum */
    size_t om_namelen;             /* the OpenMetrics family name: a counter's without _total */
    const struct sb_registry *reg; /* its clock, for created_us */
    struct sb_metric **children;
    size_t nchildren;
    size_t capchildren;
    struct sb_metric **table; /* power-of-two buckets */
    size_t tablesize;
    bool sorted;          /* children[] is in exposition order */
    bool overflow_logged; /* the SB_METRIC_MAX_CHILDREN warning was given */
};

struct sb_collector {
    sb_collect_cb cb;
    void *ud;
};

struct sb_registry {
    struct sb_family **families; /* sorted by name */
    size_t nfamilies;
    size_t capfamilies;
    struct sb_collector *collectors;
    size_t ncollectors;
    size_t capcollectors;
    bool collecting; /* sb_registry_expose is running the collectors */
    int64_t (*now_us)(void);
};

static const char *const type_names[] = {
    [SB_COUNTER] = "counter",
    [SB_GAUGE] = "gauge",
    [SB_HISTOGRAM] = "histogram",
};

/* Every name a family of each type uses in either format, as suffixes of
 * its OpenMetrics family name (the registered name without a counter's
 * _total): the family name itself, then its samples (the sets of
 * client_python's OpenMetrics parser, which refuses a clash). */
static const char *const counter_names[] = {"", "_total", "_created"};
static const char *const gauge_names[] = {""};
static const char *const histogram_names[] = {"", "_bucket", "_sum", "_count", "_created"};

/* A registration that contradicts an earlier one, or breaks the naming
 * rules, is a bug in the caller that no configuration can cause (names
 * from configuration are checked with sb_*_name_valid first). */
__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sb_err("msg=\"metrics registry misuse\" detail=\"%s\"", msg);
    abort();
}

static bool is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool sb_metric_name_valid(const char *name)
{
    if (!name || !(is_alpha_(name[0]) || name[0] == ':'))
        return false;
    for (const char *p = name + 1; *p; p++)
        if (!is_alpha_(*p) && !is_digit(*p) && *p != ':')
            return false;
    return true;
}

bool sb_label_name_valid(const char *name)
{
    if (!name || !is_alpha_(name[0]) || (name[0] == '_' && name[1] == '_'))
        return false;
    for (const char *p = name + 1; *p; p++)
        if (!is_alpha_(*p) && !is_digit(*p))
            return false;
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = sb_utf8_seq_len(p + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

/* Appends s with every invalid byte replaced by U+FFFD. */
static void utf8_sanitize(struct sb_buf *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = sb_utf8_seq_len(p + i, n - i);
        if (k) {
            sb_buf_append(out, p + i, k);
            i += k;
        } else {
            sb_buf_append(out, "\xEF\xBF\xBD", 3);
            i++;
        }
    }
}

/* HELP escapes backslash and newline; label values also double quotes. */
static void put_escaped(struct sb_buf *out, const char *s, size_t n, bool quote)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        if (s[i] == '\\')
            rep = "\\\\";
        else if (s[i] == '\n')
            rep = "\\n";
        else if (s[i] == '"' && quote)
            rep = "\\\"";
        if (rep) {
            sb_buf_append(out, s + start, i - start);
            sb_buf_append(out, rep, 2);
            start = i + 1;
        }
    }
    sb_buf_append(out, s + start, n - start);
}

static size_t fmt_u64(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* 10^0 .. 10^19 and 5^0 .. 5^20, exact. */
static const uint64_t pow10_u64[20] = {1u,
                                       10u,
                                       100u,
                                       1000u,
                                       10000u,
                                       100000u,
                                       1000000u,
                                       10000000u,
                                       100000000u,
                                       1000000000u,
                                       10000000000u,
                                       100000000000u,
                                       1000000000000u,
                                       10000000000000u,
                                       100000000000000u,
                                       1000000000000000u,
                                       10000000000000000u,
                                       100000000000000000u,
                                       1000000000000000000u,
                                       10000000000000000000u};

static const uint64_t pow5_u64[21] = {1u,
                                      5u,
                                      25u,
                                      125u,
                                      625u,
                                      3125u,
                                      15625u,
                                      78125u,
                                      390625u,
                                      1953125u,
                                      9765625u,
                                      48828125u,
                                      244140625u,
                                      1220703125u,
                                      6103515625u,
                                      30517578125u,
                                      152587890625u,
                                      762939453125u,
                                      3814697265625u,
                                      19073486328125u,
                                      95367431640625u};

/* gcc and clang on 64-bit targets; __extension__ keeps -Wpedantic quiet. */
__extension__ typedef unsigned __int128 u128;

/* Whether the decimal c * 10^-k (c < 10^17, at most 16 significant
 * digits) reads back as the double m * 2^e, given n = m * 5^k and
 * p = -(e + k), i.e. v * 10^k = n / 2^p: the decimal must lie within half
 * a unit in the last place of v, a quarter below a power of two (where
 * the next double down is closer). In units of 2^-(p+2) * 10^-k, half an
 * ulp of v is 2 * 5^k. The decimal is never exactly halfway, so strtod's
 * ties-to-even never decides: halfway is (2m + 1) * 5^(1-e) * 10^(e-1),
 * an odd multiple of 5 of at least 17 digits. */
static bool reads_back(uint64_t c, u128 n, int p, uint64_t m, uint64_t pow5k)
{
    u128 cs = (u128)c << (p + 2), vs = n << 2;
    if (cs >= vs)
        return cs - vs < (u128)pow5k << 1;
    return vs - cs < (m == (UINT64_C(1) << 52) ? (u128)pow5k : (u128)pow5k << 1);
}

/* n / (2^p * div) rounded half to even, q and r being the quotient and
 * remainder of n / 2^p: the remainder of the whole division in units of
 * 2^-p is (q mod div) * 2^p + r. */
static inline uint64_t round_digits(uint64_t q, u128 r, int p, uint64_t div)
{
    uint64_t c = q / div;
    u128 rem = ((u128)(q % div) << p) + r;
    u128 half = (u128)div << (p - 1);
    return c + (rem > half || (rem == half && (c & 1)));
}

/* The shortest-of-%.15g/%.16g/%.17g spelling that sb_fmt_double gives,
 * computed exactly with integers for 1e-4 <= |v| < 1e15 (where %g writes
 * no exponent): the 17 significant digits of v are n / 2^p rounded half
 * to even, as glibc's printf rounds the exact binary value; 16 and 15
 * digits round the same exact value; the first that reads back is printed
 * with %g's fixed notation (trailing zeros and a bare point dropped).
 * Returns 0, writing nothing, outside that range or when rounding carries
 * into another decade (then sb_fmt_double decides). */
static size_t fmt_fixed_shortest(char *out, double v)
{
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    uint64_t m = (bits & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52);
    int e = (int)((bits >> 52) & 0x7ff) - 1075; /* v = m * 2^e, normal here */

    /* x = floor(log10(a)), estimated from the binary exponent (78913 / 2^18
     * is log10(2) to six digits; the shift floors) and then found exactly:
     * a * 10^(16 - x) = n / 2^p lies in [10^16, 10^17). */
    int x = ((e + 52) * 78913) >> 18;
    u128 n;
    int k, p;
    uint64_t pow5k;
    for (;;) {
        k = 16 - x;
        if (k < 0 || k > 20)
            return 0;
        pow5k = pow5_u64[k];
        n = (u128)m * pow5k;
        p = -(e + k);
        if (p < 1 || p > 60)
            return 0;
        if (n < ((u128)pow10_u64[16] << p))
            x--;
        else if (n >= ((u128)pow10_u64[17] << p))
            x++;
        else
            break;
    }

    uint64_t q = (uint64_t)(n >> p);
    u128 r = n & (((u128)1 << p) - 1);
    /* The shortest of 15, 16 and 17 digits that reads back; 17 always do. */
    uint64_t digits = round_digits(q, r, p, 100);
    int nd = 15;
    if (!reads_back(digits * 100, n, p, m, pow5k)) {
        digits = round_digits(q, r, p, 10);
        nd = 16;
        if (!reads_back(digits * 10, n, p, m, pow5k)) {
            digits = round_digits(q, r, p, 1);
            nd = 17;
        }
    }
    if (digits >= pow10_u64[nd])
        return 0; /* 9.99...: a carry into the next decade */
    while (digits % 10 == 0) {
        digits /= 10;
        nd--;
    }

    char dig[20];
    for (int i = nd - 1; i >= 0; i--) {
        dig[i] = (char)('0' + digits % 10);
        digits /= 10;
    }
    size_t len = 0;
    if (v < 0)
        out[len++] = '-';
    if (x >= 0) {
        for (int i = 0; i <= x; i++)
            out[len++] = i < nd ? dig[i] : '0';
        if (nd > x + 1) {
            out[len++] = '.';
            memcpy(out + len, dig + x + 1, (size_t)(nd - x - 1));
            len += (size_t)(nd - x - 1);
        }
    } else {
        out[len++] = '0';
        out[len++] = '.';
        for (int i = 0; i < -x - 1; i++)
            out[len++] = '0';
        memcpy(out + len, dig, (size_t)nd);
        len += (size_t)nd;
    }
    out[len] = '\0';
    return len;
}

size_t sb_metric_format_value(char *out, double v)
{
    if (fabs(v) <= 9007199254740992.0 && (double)(int64_t)v == v) {
        int64_t i = (int64_t)v;
        size_t n;
        if (i < 0) {
            out[0] = '-';
            n = 1 + fmt_u64(out + 1, (uint64_t)-i);
        } else {
            n = fmt_u64(out, (uint64_t)i);
        }
        out[n] = '\0';
        return n;
    }
    size_t n = fmt_fixed_shortest(out, v);
    return n ? n : sb_fmt_double(out, SB_METRIC_VALUE_CHARS, v);
}

/* Formats v like Go's strconv.FormatFloat(v, 'g', -1, 64), which
 * client_golang uses for "le": the shortest round-tripping digits, in
 * exponent form when the decimal exponent is < -4 or >= 6 (Go's fixed
 * threshold for the shortest form: "100000" but "1e+06"). "le" is a label,
 * compared as a string, so matching the Go spelling keeps our buckets in
 * the same series as those of Go exporters. */
static size_t fmt_go_float(char *out, size_t cap, double v)
{
    if (!isfinite(v))
        return sb_fmt_double(out, cap, v);
    if (v == 0)
        return (size_t)snprintf(out, cap, "0");
    char e[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    /* e is "[-]d.ddde[+-]xx": collect the digits and the exponent. */
    const char *p = e;
    bool neg = *p == '-';
    if (neg)
        p++;
    char digits[20];
    size_t nd = 0;
    for (; *p && *p != 'e'; p++)
        if (is_digit(*p))
            digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int exp = atoi(p + 1);

    char buf[40];
    size_t n = 0;
    if (neg)
        buf[n++] = '-';
    if (exp < -4 || exp >= 6) {
        buf[n++] = digits[0];
        if (nd > 1) {
            buf[n++] = '.';
            memcpy(buf + n, digits + 1, nd - 1);
            n += nd - 1;
        }
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
    } else if (exp >= 0) {
        for (int i = 0; i <= exp; i++)
            buf[n++] = (size_t)i < nd ? digits[i] : '0';
        if (nd > (size_t)exp + 1) {
            buf[n++] = '.';
            memcpy(buf + n, digits + exp + 1, nd - (size_t)exp - 1);
            n += nd - (size_t)exp - 1;
        }
    } else {
        buf[n++] = '0';
        buf[n++] = '.';
        for (int i = 0; i < -exp - 1; i++)
            buf[n++] = '0';
        memcpy(buf + n, digits, nd);
        n += nd;
    }
    buf[n] = '\0';
    return (size_t)snprintf(out, cap, "%s", buf);
}

/* FNV-1a with a final avalanche, so the low bits used for the table index
 * depend on every byte. */
static uint64_t hash_key(const char *key, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3u;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    return h;
}

static int key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return (alen > blen) - (alen < blen);
}

static int child_cmp(const void *pa, const void *pb)
{
    const struct sb_metric *a = *(const struct sb_metric *const *)pa;
    const struct sb_metric *b = *(const struct sb_metric *const *)pb;
    return key_cmp(a->key, a->keylen, b->key, b->keylen);
}

struct sb_registry *sb_registry_new(void)
{
    struct sb_registry *r = sb_xcalloc(1, sizeof(struct sb_registry));
    r->now_us = sb_now_wall_us;
    return r;
}

void sb_registry_set_clock(struct sb_registry *r, int64_t (*now_us)(void))
{
    r->now_us = now_us;
}

static void free_children(struct sb_family *f)
{
    for (size_t i = 0; i < f->nchildren; i++)
        free(f->children[i]);
    f->nchildren = 0;
    if (f->table)
        memset(f->table, 0, f->tablesize * sizeof(f->table[0]));
}

static void family_free(struct sb_family *f)
{
    free_children(f);
    free(f->children);
    free(f->table);
    free(f->name);
    free(f->help);
    free(f->help_esc);
    free(f->help_esc_om);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labelnames[i]);
    for (size_t i = 0; f->type == SB_HISTOGRAM && i <= f->nbuckets; i++) {
        free(f->le[i]);
        free(f->le_om[i]);
    }
    free(f);
}

void sb_registry_free(struct sb_registry *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nfamilies; i++)
        family_free(r->families[i]);
    free(r->families);
    free(r->collectors);
    free(r);
}

/* Index of the family called name, or where it would be inserted. */
static size_t family_pos(const struct sb_registry *r, const char *name, bool *found)
{
    size_t lo = 0, hi = r->nfamilies;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->families[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static bool family_matches(const struct sb_family *f, enum sb_metric_type type, size_t nlabels,
                           const char *const *labelnames, const double *buckets, size_t nbuckets)
{
    if (f->type != type || f->nlabels != nlabels)
        return false;
    for (size_t i = 0; i < nlabels; i++)
        if (strcmp(f->labelnames[i], labelnames[i]) != 0)
            return false;
    if (type == SB_HISTOGRAM) {
        if (f->nbuckets != nbuckets)
            return false;
        for (size_t i = 0; i < nbuckets; i++)
            if (f->bounds[i] != buckets[i])
                return false;
    }
    return true;
}

/* The OpenMetrics family name's length: a counter's name without _total. */
static size_t om_namelen(enum sb_metric_type type, const char *name)
{
    size_t n = strlen(name);
    return type == SB_COUNTER ? n - strlen("_total") : n;
}

static const char *const *names_of(enum sb_metric_type type, size_t *n)
{
    if (type == SB_COUNTER) {
        *n = SB_ARRAY_SIZE(counter_names);
        return counter_names;
    }
    if (type == SB_GAUGE) {
        *n = SB_ARRAY_SIZE(gauge_names);
        return gauge_names;
    }
    *n = SB_ARRAY_SIZE(histogram_names);
    return histogram_names;
}

/* Whether a family of this type and name uses `used` as a family or
 * sample name in either format. */
static bool family_uses(enum sb_metric_type type, const char *name, const char *used)
{
    size_t stem = om_namelen(type, name);
    if (strncmp(name, used, stem) != 0)
        return false;
    size_t n;
    const char *const *suffixes = names_of(type, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(used + stem, suffixes[i]) == 0)
            return true;
    return false;
}

/* Two families writing the same sample name would merge in the scraper
 * (expfmt folds "x_count" into a histogram "x"), and in OpenMetrics a
 * counter "x_total" is the family "x" with a sample "x_created", so a
 * gauge "x" or "x_created" beside it would make the scrape invalid: refuse
 * every overlap of the names two families use in either format. */
static void check_collisions(const struct sb_registry *r, enum sb_metric_type type,
                             const char *name)
{
    struct sb_buf s;
    sb_buf_init(&s);
    size_t stem = om_namelen(type, name), n;
    const char *const *suffixes = names_of(type, &n);
    for (size_t k = 0; k < n; k++) {
        sb_buf_reset(&s);
        sb_buf_append(&s, name, stem);
        sb_buf_puts(&s, suffixes[k]);
        for (size_t i = 0; i < r->nfamilies; i++) {
            const struct sb_family *f = r->families[i];
            if (family_uses(f->type, f->name, s.data))
                die("family %s would use the name %s, as family %s does", name, s.data, f->name);
        }
    }
    sb_buf_free(&s);
}

static void validate(enum sb_metric_type type, const char *name, const char *help, size_t nlabels,
                     const char *const *labelnames, const double *buckets, size_t nbuckets)
{
    if ((unsigned)type >= SB_ARRAY_SIZE(type_names))
        die("unknown metric type %d", (int)type);
    if (!sb_metric_name_valid(name))
        die("invalid metric name \"%s\"", name ? name : "(null)");
    if (!help)
        die("family %s has no help text", name);
    if (type == SB_COUNTER && (!ends_with(name, "_total") || strlen(name) == strlen("_total")))
        die("counter %s must end in _total, after a name", name);
    if (nlabels > SB_METRIC_MAX_LABELS)
        die("family %s has %zu labels, at most %d allowed", name, nlabels, SB_METRIC_MAX_LABELS);
    if (nlabels && !labelnames)
        die("family %s: label names missing", name);
    for (size_t i = 0; i < nlabels; i++) {
        if (!sb_label_name_valid(labelnames[i]))
            die("family %s: invalid label name \"%s\"", name,
                labelnames[i] ? labelnames[i] : "(null)");
        if (type == SB_HISTOGRAM && strcmp(labelnames[i], "le") == 0)
            die("histogram %s may not use the label name le", name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(labelnames[i], labelnames[j]) == 0)
                die("family %s: label name %s given twice", name, labelnames[i]);
    }
    if (type != SB_HISTOGRAM) {
        if (nbuckets)
            die("family %s: buckets given for a %s", name, type_names[type]);
        return;
    }
    if (nbuckets > SB_METRIC_MAX_BUCKETS)
        die("histogram %s has %zu buckets, at most %d allowed", name, nbuckets,
            SB_METRIC_MAX_BUCKETS);
    if (nbuckets && !buckets)
        die("histogram %s: bucket bounds missing", name);
    for (size_t i = 0; i < nbuckets; i++) {
        if (!isfinite(buckets[i]))
            die("histogram %s: bucket bound %zu is not finite (+Inf is implicit)", name, i);
        if (i > 0 && !(buckets[i] > buckets[i - 1]))
            die("histogram %s: bucket bounds are not strictly increasing", name);
    }
}

/* OpenMetrics spells an integral "le" with ".0" ("1.0", "+Inf", "1e+06"),
 * as client_golang's OpenMetrics encoder does. */
static char *le_openmetrics(double bound)
{
    char num[48];
    size_t n = fmt_go_float(num, sizeof(num) - 2, bound);
    if (isfinite(bound) && !strpbrk(num, ".e"))
        memcpy(num + n, ".0", 3);
    struct sb_buf le;
    sb_buf_init(&le);
    sb_buf_printf(&le, "le=\"%s\"", num);
    return le.data;
}

static char *escape_dup(const char *s, bool quote)
{
    struct sb_buf tmp, out;
    sb_buf_init(&tmp);
    sb_buf_init(&out);
    utf8_sanitize(&tmp, s, strlen(s));
    put_escaped(&out, tmp.data ? tmp.data : "", tmp.len, quote);
    sb_buf_free(&tmp);
    if (!out.data)
        return sb_xstrdup("");
    return out.data;
}

struct sb_family *sb_registry_family(struct sb_registry *r, enum sb_metric_type type,
                                     const char *name, const char *help, size_t nlabels,
                                     const char *const *labelnames, const double *buckets,
                                     size_t nbuckets)
{
    validate(type, name, help, nlabels, labelnames, buckets, nbuckets);
    bool found;
    size_t pos = family_pos(r, name, &found);
    if (found) {
        struct sb_family *f = r->families[pos];
        if (!family_matches(f, type, nlabels, labelnames, buckets, nbuckets))
            die("family %s registered again with a different type, labels or buckets", name);
        return f;
    }
    check_collisions(r, type, name);

    struct sb_family *f = sb_xcalloc(1, sizeof(*f));
    f->type = type;
    f->name = sb_xstrdup(name);
    f->namelen = strlen(name);
    f->help = sb_xstrdup(help);
    f->help_esc = escape_dup(help, false);
    f->help_esc_om = escape_dup(help, true);
    f->om_namelen = om_namelen(type, name);
    f->reg = r;
    f->nlabels = nlabels;
    for (size_t i = 0; i < nlabels; i++)
        f->labelnames[i] = sb_xstrdup(labelnames[i]);
    if (type == SB_HISTOGRAM) {
        f->nbuckets = nbuckets;
        for (size_t i = 0; i <= nbuckets; i++) {
            char num[40];
            fmt_go_float(num, sizeof(num), i < nbuckets ? buckets[i] : INFINITY);
            struct sb_buf le;
            sb_buf_init(&le);
            sb_buf_printf(&le, "le=\"%s\"", num);
            f->le[i] = le.data;
            f->lelen[i] = le.len;
            f->le_om[i] = le_openmetrics(i < nbuckets ? buckets[i] : INFINITY);
            f->le_omlen[i] = strlen(f->le_om[i]);
            if (i < nbuckets)
                f->bounds[i] = buckets[i];
        }
        f->negative_bounds = nbuckets > 0 && buckets[0] < 0;
    }
    f->sorted = true;

    if (r->nfamilies == r->capfamilies) {
        r->capfamilies = r->capfamilies ? 2 * r->capfamilies : 16;
        r->families = sb_xrealloc(r->families, r->capfamilies * sizeof(r->families[0]));
    }
    memmove(r->families + pos + 1, r->families + pos,
            (r->nfamilies - pos) * sizeof(r->families[0]));
    r->families[pos] = f;
    r->nfamilies++;
    return f;
}

static void table_grow(struct sb_family *f)
{
    size_t size = f->tablesize ? 2 * f->tablesize : 8;
    struct sb_metric **t = sb_xcalloc(size, sizeof(t[0]));
    for (size_t i = 0; i < f->nchildren; i++) {
        struct sb_metric *m = f->children[i];
        size_t b = m->hash & (size - 1);
        m->hnext = t[b];
        t[b] = m;
    }
    free(f->table);
    f->table = t;
    f->tablesize = size;
}

static struct sb_metric *child_new(struct sb_family *f, const char *key, size_t keylen,
                                   uint64_t hash)
{
    struct sb_buf labels;
    sb_buf_init(&labels);
    const char *v = key;
    for (size_t i = 0; i < f->nlabels; i++) {
        size_t vlen = strlen(v);
        if (i)
            sb_buf_putc(&labels, ',');
        sb_buf_puts(&labels, f->labelnames[i]);
        sb_buf_append(&labels, "=\"", 2);
        put_escaped(&labels, v, vlen, true);
        sb_buf_putc(&labels, '"');
        v += vlen + 1;
    }

    /* One allocation: the struct, its bucket counts, the key, the labels. */
    size_t nb = f->type == SB_HISTOGRAM ? f->nbuckets + 1 : 0;
    size_t head = sizeof(struct sb_metric) + nb * sizeof(uint64_t);
    struct sb_metric *m = sb_xcalloc(1, head + keylen + labels.len + 1);
    char *kp = (char *)m + head;
    char *lp = kp + keylen;
    memcpy(kp, key, keylen);
    if (labels.len)
        memcpy(lp, labels.data, labels.len);
    lp[labels.len] = '\0';
    m->fam = f;
    m->hash = hash;
    m->key = kp;
    m->keylen = keylen;
    m->labels = lp;
    m->labelslen = labels.len;
    m->created_us = f->reg->now_us();
    sb_buf_free(&labels);
    return m;
}

/* The child with these label values; if there is none, a new one when
 * create is set (and the family is not full), else NULL. */
static struct sb_metric *child_get(struct sb_family *f, const char *const *labelvalues, bool create)
{
    if (f->nlabels && !labelvalues)
        die("family %s: label values missing", f->name);
    size_t lens[SB_METRIC_MAX_LABELS];
    size_t keylen = 0;
    bool valid = true;
    for (size_t i = 0; i < f->nlabels; i++) {
        if (!labelvalues[i])
            die("family %s: label value %zu is NULL", f->name, i);
        lens[i] = strlen(labelvalues[i]);
        keylen += lens[i] + 1;
        valid = valid && utf8_valid(labelvalues[i], lens[i]);
    }

    char stackkey[KEY_STACK];
    struct sb_buf heapkey;
    sb_buf_init(&heapkey);
    char *key = stackkey;
    if (!valid || keylen > sizeof(stackkey)) {
        for (size_t i = 0; i < f->nlabels; i++) {
            utf8_sanitize(&heapkey, labelvalues[i], lens[i]);
            sb_buf_append(&heapkey, "", 1);
        }
        key = heapkey.data;
        keylen = heapkey.len;
    } else {
        char *p = stackkey;
        for (size_t i = 0; i < f->nlabels; i++) {
            memcpy(p, labelvalues[i], lens[i] + 1);
            p += lens[i] + 1;
        }
    }

    uint64_t h = hash_key(key, keylen);
    struct sb_metric *m = NULL;
    if (f->tablesize) {
        for (m = f->table[h & (f->tablesize - 1)]; m; m = m->hnext)
            if (m->hash == h && key_cmp(m->key, m->keylen, key, keylen) == 0)
                break;
    }
    if (m || !create || f->nchildren >= SB_METRIC_MAX_CHILDREN) {
        if (!m && create && !f->overflow_logged) {
            sb_warn("msg=\"metric family full, new series dropped\" family=%s max=%d", f->name,
                    SB_METRIC_MAX_CHILDREN);
            f->overflow_logged = true;
        }
        sb_buf_free(&heapkey);
        return m;
    }

    m = child_new(f, key, keylen, h);
    sb_buf_free(&heapkey);
    if (f->nchildren == f->capchildren) {
        f->capchildren = f->capchildren ? 2 * f->capchildren : 4;
        f->children = sb_xrealloc(f->children, f->capchildren * sizeof(f->children[0]));
    }
    m->idx = f->nchildren;
    f->children[f->nchildren++] = m;
    if (f->nchildren > 1 && child_cmp(&f->children[f->nchildren - 2], &m) > 0)
        f->sorted = false;
    /* Load factor at most 1: chains stay a pointer or two long. */
    if (f->nchildren > f->tablesize) {
        table_grow(f);
    } else {
        size_t b = h & (f->tablesize - 1);
        m->hnext = f->table[b];
        f->table[b] = m;
    }
    return m;
}

struct sb_metric *sb_family_child(struct sb_family *f, const char *const *labelvalues)
{
    return child_get(f, labelvalues, true);
}

void sb_metric_remove(struct sb_metric *m)
{
    if (!m)
        return;
    struct sb_family *f = m->fam;
    struct sb_metric **p = &f->table[m->hash & (f->tablesize - 1)];
    while (*p != m)
        p = &(*p)->hnext;
    *p = m->hnext;
    /* The last child takes the removed one's place: O(1) however many
     * children a revocation removes. That breaks the order only if the
     * removed child was not the last; exposition then sorts once. */
    size_t last = f->nchildren - 1;
    if (m->idx != last) {
        f->children[m->idx] = f->children[last];
        f->children[m->idx]->idx = m->idx;
        f->sorted = false;
    }
    f->nchildren--;
    free(m);
}

bool sb_family_remove(struct sb_family *f, const char *const *labelvalues)
{
    struct sb_metric *m = child_get(f, labelvalues, false);
    sb_metric_remove(m);
    return m != NULL;
}

void sb_family_clear(struct sb_family *f)
{
    free_children(f);
    f->sorted = true;
    f->overflow_logged = false;
}

void sb_counter_add(struct sb_metric *m, double v)
{
    assert(m->fam->type == SB_COUNTER);
    if (v >= 0)
        m->value += v;
}

void sb_counter_set(struct sb_metric *m, double v)
{
    assert(m->fam->type == SB_COUNTER);
    m->value = v;
}

void sb_gauge_set(struct sb_metric *m, double v)
{
    assert(m->fam->type == SB_GAUGE);
    m->value = v;
}

void sb_gauge_add(struct sb_metric *m, double v)
{
    assert(m->fam->type == SB_GAUGE);
    m->value += v;
}

void sb_histogram_observe(struct sb_metric *m, double v)
{
    const struct sb_family *f = m->fam;
    assert(f->type == SB_HISTOGRAM);
    /* First bound >= v ("le" is inclusive); NaN lands in +Inf, as in
     * client_golang. */
    size_t lo = 0, hi = f->nbuckets;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v <= f->bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    m->buckets[lo]++;
    m->value += v;
}

double sb_metric_value(const struct sb_metric *m)
{
    if (m->fam->type != SB_HISTOGRAM)
        return m->value;
    uint64_t n = 0;
    for (size_t i = 0; i <= m->fam->nbuckets; i++)
        n += m->buckets[i];
    return (double)n;
}

void sb_registry_add_collector(struct sb_registry *r, sb_collect_cb cb, void *ud)
{
    /* Growing the array would move it under the loop that runs them. */
    if (r->collecting)
        die("a collector added a collector");
    if (r->ncollectors == r->capcollectors) {
        r->capcollectors = r->capcollectors ? 2 * r->capcollectors : 4;
        r->collectors = sb_xrealloc(r->collectors, r->capcollectors * sizeof(r->collectors[0]));
    }
    r->collectors[r->ncollectors++] = (struct sb_collector){cb, ud};
}

bool sb_registry_remove_collector(struct sb_registry *r, sb_collect_cb cb, void *ud)
{
    if (r->collecting)
        die("a collector removed a collector");
    for (size_t i = 0; i < r->ncollectors; i++) {
        if (r->collectors[i].cb != cb || r->collectors[i].ud != ud)
            continue;
        memmove(r->collectors + i, r->collectors + i + 1,
                (r->ncollectors - i - 1) * sizeof(r->collectors[0]));
        r->ncollectors--;
        return true;
    }
    return false;
}

/* A sample line's pieces besides its labels: the name (a prefix of the
 * family's), its suffix, and an extra label pair such as le="0.5". */
struct sample_name {
    const char *name;
    size_t namelen;
    const char *suffix;
    size_t suffixlen;
};

#define SUFFIX(s) s, sizeof(s) - 1

/* Writes `name[suffix]{labels[,extra]} ` straight into out, with room
 * reserved for the value and the newline, and returns where the value
 * goes: one reservation and a few memcpys per sample line. */
static char *sample_begin(struct sb_buf *out, const struct sample_name *sn,
                          const struct sb_metric *m, const char *extra, size_t extralen)
{
    sb_buf_reserve(out, sn->namelen + sn->suffixlen + m->labelslen + extralen + 4 +
                            SB_METRIC_VALUE_CHARS + 1);
    char *p = out->data + out->len;
    memcpy(p, sn->name, sn->namelen);
    p += sn->namelen;
    memcpy(p, sn->suffix, sn->suffixlen);
    p += sn->suffixlen;
    if (m->labelslen || extralen) {
        *p++ = '{';
        memcpy(p, m->labels, m->labelslen);
        p += m->labelslen;
        if (extralen) {
            if (m->labelslen)
                *p++ = ',';
            memcpy(p, extra, extralen);
            p += extralen;
        }
        *p++ = '}';
    }
    *p++ = ' ';
    return p;
}

/* Ends the line whose value (n bytes) was written at p. */
static void sample_end(struct sb_buf *out, char *p, size_t n)
{
    p += n;
    *p++ = '\n';
    *p = '\0';
    out->len = (size_t)(p - out->data);
}

static void put_value(struct sb_buf *out, const struct sample_name *sn, const struct sb_metric *m,
                      const char *extra, size_t extralen, double v)
{
    char *p = sample_begin(out, sn, m, extra, extralen);
    sample_end(out, p, sb_metric_format_value(p, v));
}

static void put_u64(struct sb_buf *out, const struct sample_name *sn, const struct sb_metric *m,
                    const char *extra, size_t extralen, uint64_t v)
{
    char *p = sample_begin(out, sn, m, extra, extralen);
    sample_end(out, p, fmt_u64(p, v));
}

static void sort_children(struct sb_family *f)
{
    if (f->sorted)
        return;
    /* Children arrive in creation order; sort once and keep the order until
     * a child is added out of place or another moved into a removed one's
     * place. */
    qsort(f->children, f->nchildren, sizeof(f->children[0]), child_cmp);
    for (size_t i = 0; i < f->nchildren; i++)
        f->children[i]->idx = i;
    f->sorted = true;
}

static void expose_family(struct sb_family *f, struct sb_buf *out)
{
    sb_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help_esc, f->name,
                  type_names[f->type]);
    sort_children(f);
    const struct sample_name plain = {f->name, f->namelen, SUFFIX("")};
    const struct sample_name bucket = {f->name, f->namelen, SUFFIX("_bucket")};
    const struct sample_name sum = {f->name, f->namelen, SUFFIX("_sum")};
    const struct sample_name count = {f->name, f->namelen, SUFFIX("_count")};
    for (size_t i = 0; i < f->nchildren; i++) {
        const struct sb_metric *m = f->children[i];
        if (f->type != SB_HISTOGRAM) {
            put_value(out, &plain, m, NULL, 0, m->value);
            continue;
        }
        uint64_t cum = 0;
        for (size_t b = 0; b <= f->nbuckets; b++) {
            cum += m->buckets[b];
            put_u64(out, &bucket, m, f->le[b], f->lelen[b], cum);
        }
        put_value(out, &sum, m, NULL, 0, m->value);
        put_u64(out, &count, m, NULL, 0, cum);
    }
}

/* Seconds since the epoch with the microseconds, exactly: "1700000000.250000". */
static size_t fmt_created(char *out, int64_t us)
{
    if (us < 0)
        us = 0;
    size_t n = fmt_u64(out, (uint64_t)(us / 1000000));
    out[n++] = '.';
    uint64_t frac = (uint64_t)(us % 1000000);
    for (int i = 5; i >= 0; i--) {
        out[n + (size_t)i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    return n + 6;
}

/* One family in OpenMetrics 1.0.0: a counter's family is named without
 * _total and its samples with it; counters and histograms carry _created;
 * a histogram's samples are its buckets, _count, _sum (none with a negative
 * bound, which the format forbids) and _created, in client_python's order. */
static void expose_family_om(struct sb_family *f, struct sb_buf *out)
{
    sb_buf_puts(out, "# HELP ");
    sb_buf_append(out, f->name, f->om_namelen);
    sb_buf_putc(out, ' ');
    sb_buf_puts(out, f->help_esc_om);
    sb_buf_puts(out, "\n# TYPE ");
    sb_buf_append(out, f->name, f->om_namelen);
    sb_buf_printf(out, " %s\n", type_names[f->type]);
    sort_children(f);
    const struct sample_name plain = {f->name, f->namelen, SUFFIX("")};
    const struct sample_name bucket = {f->name, f->namelen, SUFFIX("_bucket")};
    const struct sample_name sum = {f->name, f->namelen, SUFFIX("_sum")};
    const struct sample_name count = {f->name, f->namelen, SUFFIX("_count")};
    const struct sample_name created = {f->name, f->om_namelen, SUFFIX("_created")};
    for (size_t i = 0; i < f->nchildren; i++) {
        const struct sb_metric *m = f->children[i];
        if (f->type != SB_HISTOGRAM) {
            put_value(out, &plain, m, NULL, 0, m->value);
        } else {
            uint64_t cum = 0;
            for (size_t b = 0; b <= f->nbuckets; b++) {
                cum += m->buckets[b];
                put_u64(out, &bucket, m, f->le_om[b], f->le_omlen[b], cum);
            }
            put_u64(out, &count, m, NULL, 0, cum);
            if (!f->negative_bounds)
                put_value(out, &sum, m, NULL, 0, m->value);
        }
        if (f->type != SB_GAUGE) {
            char *p = sample_begin(out, &created, m, NULL, 0);
            sample_end(out, p, fmt_created(p, m->created_us));
        }
    }
}

void sb_registry_each_child(struct sb_registry *r, const char *name, sb_child_cb cb, void *ud)
{
    bool found;
    size_t pos = family_pos(r, name, &found);
    if (!found)
        return;
    struct sb_family *f = r->families[pos];
    sort_children(f);
    const char *values[SB_METRIC_MAX_LABELS];
    for (size_t i = 0; i < f->nchildren; i++) {
        const struct sb_metric *m = f->children[i];
        const char *v = m->key;
        for (size_t l = 0; l < f->nlabels; l++) {
            values[l] = v;
            v += strlen(v) + 1;
        }
        cb(ud, f->nlabels, (const char *const *)f->labelnames, values, sb_metric_value(m));
    }
}

void sb_registry_collect(struct sb_registry *r)
{
    r->collecting = true;
    for (size_t i = 0; i < r->ncollectors; i++)
        r->collectors[i].cb(r->collectors[i].ud);
    r->collecting = false;
}

double sb_registry_histogram_sum(struct sb_registry *r, const char *name)
{
    bool found;
    size_t pos = family_pos(r, name, &found);
    if (!found || r->families[pos]->type != SB_HISTOGRAM)
        return 0;
    const struct sb_family *f = r->families[pos];
    double sum = 0;
    for (size_t i = 0; i < f->nchildren; i++)
        sum += f->children[i]->value;
    return sum;
}

void sb_registry_expose(struct sb_registry *r, struct sb_buf *out)
{
    sb_registry_collect(r);
    for (size_t i = 0; i < r->nfamilies; i++)
        expose_family(r->families[i], out);
}

void sb_registry_expose_openmetrics(struct sb_registry *r, struct sb_buf *out)
{
    sb_registry_collect(r);
    for (size_t i = 0; i < r->nfamilies; i++)
        expose_family_om(r->families[i], out);
    sb_buf_puts(out, "# EOF\n");
}
