/* util.c - allocation, byte buffers, number and time formatting. */
#include "sensorbridge/util.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(size_t n)
{
    /* Memory exhaustion is not an error this daemon can recover from: say
     * so plainly and let systemd restart us. */
    fprintf(stderr, "<2>msg=\"out of memory\" bytes=%zu\n", n);
    abort();
}

void *sb_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *sb_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        oom(nmemb * size);
    return p;
}

void *sb_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *sb_xstrdup(const char *s)
{
    return sb_xstrndup(s, strlen(s));
}

char *sb_xstrndup(const char *s, size_t n)
{
    char *p = sb_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void sb_buf_init(struct sb_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void sb_buf_free(struct sb_buf *b)
{
    free(b->data);
    sb_buf_init(b);
}

void sb_buf_reset(struct sb_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void sb_buf_reserve(struct sb_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->data = sb_xrealloc(b->data, cap);
    b->cap = cap;
}

void sb_buf_append(struct sb_buf *b, const void *p, size_t n)
{
    sb_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sb_buf_puts(struct sb_buf *b, const char *s)
{
    sb_buf_append(b, s, strlen(s));
}

void sb_buf_putc(struct sb_buf *b, char c)
{
    sb_buf_append(b, &c, 1);
}

void sb_buf_vprintf(struct sb_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    sb_buf_reserve(b, 64);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    if (n >= 0 && (size_t)n >= b->cap - b->len) {
        sb_buf_reserve(b, (size_t)n);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    if (n > 0)
        b->len += (size_t)n;
}

void sb_buf_printf(struct sb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sb_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

size_t sb_fmt_double(char *out, size_t cap, double v)
{
    if (isnan(v))
        return (size_t)snprintf(out, cap, "NaN");
    if (isinf(v))
        return (size_t)snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    /* The shortest of %.15g..%.17g that round-trips: 20.1 stays "20.1". */
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    return n < 0 ? 0 : (size_t)n;
}

/* Right-aligned digits of v ending just before `end`; returns the first. */
static char *digits_back(char *end, uint64_t v)
{
    char *p = end;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

size_t sb_fmt_i64(char *out, int64_t v)
{
    char tmp[SB_FMT_I64_MAX];
    char *end = tmp + sizeof(tmp);
    /* The magnitude as unsigned, so INT64_MIN does not overflow. */
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = digits_back(end, mag);
    if (v < 0)
        *--p = '-';
    size_t n = (size_t)(end - p);
    memcpy(out, p, n);
    return n;
}

size_t sb_fmt_milli(char *out, double v)
{
    /* 1e12 * 1000 < 2^53: m and m / 1000.0 below are exact operands, and
     * the division is correctly rounded, so the test holds exactly when v
     * is the double nearest to m / 1000. -0.0 fails the signbit test:
     * "0" would read back as +0.0. NaN fails the range test. */
    if (!(v > -1e12 && v < 1e12) || (v == 0 && signbit(v)))
        return 0;
    double scaled = v * 1000.0;
    int64_t m = (int64_t)(scaled < 0 ? scaled - 0.5 : scaled + 0.5);
    if ((double)m / 1000.0 != v)
        return 0;
    uint64_t mag = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
    unsigned frac = (unsigned)(mag % 1000);
    char tmp[SB_FMT_MILLI_MAX];
    char *end = tmp + sizeof(tmp);
    char *p = end;
    if (frac) {
        int nd = 3;
        while (frac % 10 == 0) {
            frac /= 10;
            nd--;
        }
        while (nd-- > 0) {
            *--p = (char)('0' + frac % 10);
            frac /= 10;
        }
        *--p = '.';
    }
    p = digits_back(p, mag / 1000);
    if (m < 0)
        *--p = '-';
    size_t n = (size_t)(end - p);
    memcpy(out, p, n);
    return n;
}

int64_t sb_now_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

uint64_t sb_now_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

size_t sb_fmt_rfc3339_us(char *out, size_t cap, int64_t us)
{
    int64_t sec = us / 1000000;
    int64_t frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        sec -= 1;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    int n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    return n < 0 ? 0 : (size_t)n;
}

static int digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * algorithm), so parsing needs neither timegm nor the TZ environment. */
static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int sb_parse_rfc3339_us(const char *s, size_t len, int64_t *us)
{
    int Y, M, D, h, m, sec;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return -EINVAL;
    if (digits(s, 4, &Y) || digits(s + 5, 2, &M) || digits(s + 8, 2, &D) || digits(s + 11, 2, &h) ||
        digits(s + 14, 2, &m) || digits(s + 17, 2, &sec))
        return -EINVAL;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    /* Second 60 is RFC 3339's leap second; it folds into the next minute. */
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) || h > 23 ||
        m > 59 || sec > 60)
        return -EINVAL;
    size_t i = 19;
    int64_t frac_us = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t start = i;
        int64_t scale = 100000;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - start >= 9)
                return -EINVAL;
            frac_us += (s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start)
            return -EINVAL;
    }
    int64_t offset_s = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return -EINVAL;
        offset_s = (s[i] == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
        i += 6;
    } else {
        return -EINVAL;
    }
    if (i != len)
        return -EINVAL;
    int64_t t = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - offset_s;
    *us = t * 1000000 + frac_us;
    return 0;
}

int sb_parse_decimal_i64(const char *s, size_t len, int64_t *v)
{
    if (len == 0)
        return -EINVAL;
    int64_t x = 0;
    bool range = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        int d = s[i] - '0';
        if (range || x > (INT64_MAX - d) / 10)
            range = true;
        else
            x = x * 10 + d;
    }
    if (range)
        return -ERANGE;
    *v = x;
    return 0;
}

size_t sb_utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

bool sb_probe_keeps(size_t hole, size_t j, size_t home)
{
    return hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
}

uint64_t sb_hash_fnv1a(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}
