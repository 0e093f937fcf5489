/*
 * codec.c - the JSON message of one sample.
 *
 * Encoding runs once per produced sample (millions per second at
 * speed=max), so it is a hand-written bounded writer: no malloc, no
 * jansson, no snprintf for integers, timestamps or 3-decimal values. Decoding runs once per
 * consumed message, as often, and is a hand-written single-pass parser
 * that allocates nothing and validates every field we use; it replaced
 * jansson's json_loadb() and keeps its behaviour exactly (see below).
 */
#include "sensorbridge/codec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

/* ------------------------------------------------------------------ */
/* Encoding                                                           */
/* ------------------------------------------------------------------ */

/* A writer with snprintf semantics: `len` counts every byte the message
 * needs, but bytes are stored only while they fit below `room` (the
 * caller's capacity minus one byte kept for the NUL). */
struct writer {
    char *buf;
    size_t room;
    size_t len;
};

/* Cold half of put(): the message no longer fits, keep what does. */
static void put_partial(struct writer *w, const char *s, size_t n)
{
    if (w->len < w->room) {
        size_t left = w->room - w->len;
        memcpy(w->buf + w->len, s, n < left ? n : left);
    }
}

/* inline so that a literal's constant n turns memcpy into a few moves;
 * out-of-line libc calls for every key were half the cost of a message. */
static inline void put(struct writer *w, const char *s, size_t n)
{
    if (w->len + n <= w->room)
        memcpy(w->buf + w->len, s, n);
    else
        put_partial(w, s, n);
    w->len += n;
}

/* Appends a string literal without a strlen at run time. */
#define PUT_LIT(w, lit) put((w), (lit), sizeof(lit) - 1)

static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

/* Writes v in decimal, right-aligned, ending just before `end`; at least
 * `min_digits` digits (zero-padded). Returns the first digit. Two digits
 * per division: this is the hot path's only integer formatting. */
static char *fmt_u64(char *end, uint64_t v, int min_digits)
{
    char *p = end;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        memcpy(p, digit_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    while (end - p < min_digits)
        *--p = '0';
    return p;
}

static void put_u64(struct writer *w, uint64_t v)
{
    char tmp[24];
    char *end = tmp + sizeof(tmp);
    char *p = fmt_u64(end, v, 1);
    put(w, p, (size_t)(end - p));
}

/* Writes s as the inside of a JSON string: '"' and '\\' backslashed,
 * control characters as \u00XX, valid UTF-8 copied, and each byte that
 * is not valid UTF-8 replaced by \ufffd. Runs of plain bytes are copied
 * in one put so "PS1" costs one memcpy. */
static void put_escaped(struct writer *w, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s);
    size_t run = 0; /* start of the pending run of plain bytes */
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t sl = sb_utf8_seq_len(s + i, n - i);
            if (sl > 0) {
                i += sl;
                continue;
            }
        }
        put(w, (const char *)s + run, i - run);
        if (c == '"') {
            PUT_LIT(w, "\\\"");
        } else if (c == '\\') {
            PUT_LIT(w, "\\\\");
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(w, esc, sizeof(esc));
        } else {
            PUT_LIT(w, "\\ufffd");
        }
        i++;
        run = i;
    }
    put(w, (const char *)s + run, n - run);
}

/* True if s[0..n) matches the JSON number grammar
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 * The dataset reader accepts strtod spellings such as "35.", ".5", "+1"
 * or "007" that a JSON parser refuses, so they must not reach the wire. */
static int is_json_number(const char *s, size_t n)
{
    size_t i = 0;
#define IS_DIGIT(k) ((k) < n && s[k] >= '0' && s[k] <= '9')
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        while (IS_DIGIT(i))
            i++;
    } else {
        return 0;
    }
    if (i < n && s[i] == '.') {
        i++;
        if (!IS_DIGIT(i))
            return 0;
        while (IS_DIGIT(i))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (!IS_DIGIT(i))
            return 0;
        while (IS_DIGIT(i))
            i++;
    }
#undef IS_DIGIT
    return i == n;
}

static void put_value(struct writer *w, const struct sb_sample *s)
{
    /* JSON has no NaN or Infinity. null is what other encoders (JavaScript's
     * JSON.stringify) write for them, and our decoder reports a null value
     * as non_finite, so the sample is counted instead of silently lost.
     * This check comes first so a text such as "1e400" that strtod turned
     * into Inf is not emitted either. */
    if (!isfinite(s->value)) {
        PUT_LIT(w, "null");
        return;
    }
    if (s->value_text != NULL && is_json_number(s->value_text, s->value_len)) {
        put(w, s->value_text, s->value_len);
        return;
    }
    /* "%g" prints -0.0 as "-0", which jansson reads as the integer 0; the
     * explicit fraction keeps the sign bit across a round trip. */
    if (s->value == 0 && signbit(s->value)) {
        PUT_LIT(w, "-0.0");
        return;
    }
    /* Stand-ins and synthetic values are rounded to 3 decimals: their
     * thousandths print as integers, the same text sb_fmt_double's
     * snprintf and strtod would find at many times the cost. */
    char tmp[40];
    size_t n = sb_fmt_milli(tmp, s->value);
    if (n == 0)
        n = sb_fmt_double(tmp, sizeof(tmp), s->value);
    put(w, tmp, n < sizeof(tmp) ? n : sizeof(tmp) - 1);
}

/* Proleptic Gregorian date of a day count since 1970-01-01 (Howard
 * Hinnant's civil_from_days): no gmtime_r, no TZ, valid for every int64
 * microsecond timestamp. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Same output as sb_fmt_rfc3339_us ("2025-11-08T14:30:45.123456Z") at a
 * fraction of the cost. Years outside 0000..9999 cannot be RFC 3339; they
 * are written with a sign or more digits so the message stays well-formed
 * JSON and the decoder reports bad_timestamp. */
static void put2(char *p, unsigned v)
{
    memcpy(p, digit_pairs + 2 * v, 2);
}

/* Same output as sb_fmt_rfc3339_us ("2025-11-08T14:30:45.123456Z") at a
 * fraction of the cost. Years outside 0000..9999 cannot be RFC 3339; they
 * are written with a sign or more digits so the message stays well-formed
 * JSON and the decoder reports bad_timestamp. */
static void put_timestamp(struct writer *w, int64_t us)
{
    int64_t sec = us / 1000000;
    int64_t frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        sec -= 1;
    }
    int64_t days = sec / 86400;
    int64_t sod = sec % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    int64_t y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);

    /* Fixed layout for every real timestamp: "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
    char ts[27];
    unsigned f = (unsigned)frac;
    put2(ts + 5, mo);
    ts[4] = ts[7] = '-';
    put2(ts + 8, d);
    ts[10] = 'T';
    put2(ts + 11, (unsigned)(sod / 3600));
    ts[13] = ts[16] = ':';
    put2(ts + 14, (unsigned)(sod / 60 % 60));
    put2(ts + 17, (unsigned)(sod % 60));
    ts[19] = '.';
    put2(ts + 20, f / 10000);
    put2(ts + 22, f / 100 % 100);
    put2(ts + 24, f % 100);
    ts[26] = 'Z';
    if (y >= 0 && y <= 9999) {
        put2(ts, (unsigned)y / 100);
        put2(ts + 2, (unsigned)y % 100);
        put(w, ts, sizeof(ts));
        return;
    }
    char year[24];
    char *end = year + sizeof(year);
    char *p = fmt_u64(end, (uint64_t)(y < 0 ? -y : y), 4);
    if (y < 0)
        *--p = '-';
    put(w, p, (size_t)(end - p));
    put(w, ts + 4, sizeof(ts) - 4);
}

/* Rates are whole numbers for every UCI sensor; synthetic ones may be
 * fractional. A rate JSON cannot carry (negative, non-finite) prints 0. */
static void put_rate(struct writer *w, double rate)
{
    if (!(rate >= 0) || rate > 1e15) {
        PUT_LIT(w, "0");
    } else if (rate == (double)(uint64_t)rate) {
        put_u64(w, (uint64_t)rate);
    } else {
        char b[32];
        size_t n = sb_fmt_milli(b, rate);
        if (n == 0)
            n = sb_fmt_double(b, sizeof(b), rate);
        put(w, b, n);
    }
}

size_t sb_codec_encode(const struct sb_sample *s, char *buf, size_t cap)
{
    struct writer w = {buf, cap > 0 ? cap - 1 : 0, 0};

    PUT_LIT(&w, "{\"sensor\":\"");
    put_escaped(&w, s->sensor);
    PUT_LIT(&w, "\"");
    if (s->cycle >= 0) {
        PUT_LIT(&w, ",\"cycle\":");
        put_u64(&w, (uint64_t)s->cycle);
    }
    PUT_LIT(&w, ",\"sample_idx\":");
    put_u64(&w, s->sample_idx);
    PUT_LIT(&w, ",\"value\":");
    put_value(&w, s);
    PUT_LIT(&w, ",\"timestamp\":\"");
    put_timestamp(&w, s->ts_us);
    PUT_LIT(&w, "\",\"sampling_rate_hz\":");
    put_rate(&w, s->rate_hz);
    if (s->unit != NULL) {
        PUT_LIT(&w, ",\"unit\":\"");
        put_escaped(&w, s->unit);
        PUT_LIT(&w, "\"");
    }
    if (s->source != NULL) {
        PUT_LIT(&w, ",\"source\":\"");
        put_escaped(&w, s->source);
        PUT_LIT(&w, "\"");
    }
    if (s->extra != NULL)
        put(&w, s->extra, strlen(s->extra));
    PUT_LIT(&w, "}");

    if (cap > 0)
        buf[w.len < w.room ? w.len : w.room] = '\0';
    return w.len;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                           */
/* ------------------------------------------------------------------ */

static const char *const reason_names[SB_INVALID__COUNT] = {
    [SB_INVALID_NOT_JSON] = "not_json",
    [SB_INVALID_NOT_OBJECT] = "not_object",
    [SB_INVALID_MISSING_FIELD] = "missing_field",
    [SB_INVALID_WRONG_TYPE] = "wrong_type",
    [SB_INVALID_NON_FINITE] = "non_finite",
    [SB_INVALID_BAD_TIMESTAMP] = "bad_timestamp",
    [SB_INVALID_UNKNOWN_SENSOR] = "unknown_sensor",
};

const char *sb_invalid_reason_name(enum sb_invalid_reason r)
{
    /* Never NULL: the result goes straight into a metric label. */
    if ((unsigned)r >= SB_INVALID__COUNT)
        return "unknown";
    return reason_names[r];
}

/*
 * The decoder is a single-pass parser that allocates nothing. It accepts
 * and refuses exactly the messages that jansson 2.14's json_loadb() did
 * with JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, which it
 * replaced (building the DOM, its allocations and strtod were most of the
 * consumer's CPU at speed = max), and gives each refused message the same
 * reason: test_codec_diff holds it to a copy of the jansson decoder. To
 * get there it follows jansson's lexer and recursive parser closely: the
 * same one-byte look-ahead, the same order of checks, and the byte
 * position of jansson's first error, from which classify_parse_error tells
 * a non-finite value from other bad JSON.
 */

/* jansson's JSON_PARSER_MAX_DEPTH. Within SB_CODEC_MAX_MESSAGE bytes only
 * an invalid message can nest this deep, but the depth error comes first
 * and so decides between not_json and non_finite. The parser recurses once
 * per level, in frames of about 210 bytes (gcc 12, -O2): under 0.5 MB of
 * the loop thread's stack at the limit. */
#define MAX_DEPTH 2048

/* Keys of the open objects, remembered to find duplicates. Each owns at
 * least three bytes of the message, its two quotes and the '{' or ','
 * before it, so no more than this fit. */
#define MAX_OPEN_KEYS (SB_CODEC_MAX_MESSAGE / 3 + 1)

_Static_assert(SB_CODEC_MAX_MESSAGE <= UINT16_MAX, "key offsets are 16-bit");

/* The first error, as far as the reason depends on it: a syntax error or a
 * numeric overflow may be a non-finite value (classify_parse_error); every
 * other error (invalid UTF-8, premature end, duplicate key, NUL in a key,
 * nesting, bytes after the value) is not_json. */
enum parse_error { PERR_SYNTAX, PERR_OVERFLOW, PERR_OTHER };

enum token {
    TOK_EOF,
    TOK_INVALID,
    TOK_STRING,
    TOK_INTEGER,
    TOK_REAL,
    TOK_TRUE,
    TOK_FALSE,
    TOK_NULL,
    TOK_OBJECT_START,
    TOK_OBJECT_END,
    TOK_ARRAY_START,
    TOK_ARRAY_END,
    TOK_COLON,
    TOK_COMMA,
};

/* A string token: where its raw bytes are and what unescaping makes of
 * them. */
struct span {
    size_t off;  /* first byte after the opening quote */
    size_t len;  /* raw bytes before the closing quote */
    size_t dlen; /* bytes once unescaped */
    int escaped; /* has a backslash */
    int nul;     /* unescapes to a NUL byte somewhere */
};

/* The members of the top-level object that decode_fields checks. */
enum field_id { F_SENSOR, F_VALUE, F_TIMESTAMP, F_CYCLE, F_SAMPLE_IDX, F_RATE, F__COUNT };

static const struct {
    const char *name;
    size_t len;
} field_names[F__COUNT] = {
    [F_SENSOR] = {"sensor", 6},          [F_VALUE] = {"value", 5},
    [F_TIMESTAMP] = {"timestamp", 9},    [F_CYCLE] = {"cycle", 5},
    [F_SAMPLE_IDX] = {"sample_idx", 10}, [F_RATE] = {"sampling_rate_hz", 16},
};

struct field {
    enum token type; /* TOK_EOF: absent; a container: its opening token */
    int64_t integer;
    double real;
    struct span str;
};

struct key {
    uint32_t hash; /* of the unescaped bytes */
    uint16_t off, len;
};

struct parser {
    const unsigned char *p;
    size_t len;
    size_t i;     /* next byte */
    size_t lost;  /* NUL bytes jansson's lexer dropped (drop_lookahead_nul) */
    size_t depth; /* of the value being parsed; the top level is 1 */

    enum token tok; /* the current token, and its value */
    int tok_nul;    /* tok is TOK_INVALID for a NUL byte */
    struct span str;
    int64_t integer;
    double real;

    enum parse_error err;
    size_t err_pos; /* where jansson reported it */

    size_t nkeys;
    struct key keys[MAX_OPEN_KEYS];
    struct field fields[F__COUNT];
};

/* Records the first error and returns -1, for `return fail(...)`. jansson's
 * position counts the bytes its lexer consumed, which misses every NUL it
 * dropped. */
static int fail(struct parser *ps, enum parse_error err, size_t at)
{
    ps->err = err;
    ps->err_pos = at - ps->lost;
    return -1;
}

/* A syntax error at the current token. jansson calls it a premature end of
 * input when the token's saved text is an empty C string: at the end, or
 * a NUL byte. */
static int fail_syntax(struct parser *ps)
{
    return fail(ps, ps->tok == TOK_EOF || ps->tok_nul ? PERR_OTHER : PERR_SYNTAX, ps->i);
}

static int is_json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* jansson's stream checks a whole UTF-8 sequence when it reads the first
 * byte, even a look-ahead byte it then puts back: the first error is then
 * invalid UTF-8, whatever the token would have been. */
static int bad_utf8_at(const struct parser *ps, size_t i)
{
    return i < ps->len && ps->p[i] >= 0x80 && sb_utf8_seq_len(ps->p + i, ps->len - i) == 0;
}

/* jansson puts a look-ahead byte back into its one-byte buffer, where a
 * NUL reads as "empty": after a number or a literal a NUL is skipped as if
 * it were not there, and positions from then on count one byte less. */
static void drop_lookahead_nul(struct parser *ps)
{
    if (ps->i < ps->len && ps->p[ps->i] == '\0') {
        ps->i++;
        ps->lost++;
    }
}

static int hex_value(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t utf8_len(uint32_t cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* At the opening quote. jansson checks a string in two passes: the raw
 * bytes first (control characters, escapes, UTF-8), then \u surrogates
 * while unescaping. A surrogate error is therefore reported only when the
 * rest of the string is valid, at the position after its closing quote. */
static int scan_string(struct parser *ps)
{
    const unsigned char *p = ps->p;
    const size_t len = ps->len, start = ps->i + 1;
    size_t i = start;
    size_t saved = 0; /* raw bytes minus unescaped bytes */
    int escaped = 0, nul = 0, bad_surrogate = 0;
    int low_next = 0; /* the escape before was a high surrogate */

    for (;;) {
        if (i >= len)
            return fail(ps, PERR_OTHER, i);
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(ps, PERR_SYNTAX, i);
        if (c >= 0x80) {
            size_t n = sb_utf8_seq_len(p + i, len - i);
            if (n == 0)
                return fail(ps, PERR_OTHER, i);
            i += n;
            continue;
        }
        /* A backslash. A bad escape is reported after the byte that makes
         * it bad. */
        escaped = 1;
        i++;
        if (bad_utf8_at(ps, i))
            return fail(ps, PERR_OTHER, i);
        if (i >= len)
            return fail(ps, PERR_SYNTAX, i);
        c = p[i++];
        if (c != 'u') {
            if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n' && c != 'r' &&
                c != 't')
                return fail(ps, PERR_SYNTAX, i);
            saved += 1;
            continue;
        }
        uint32_t cp = 0;
        for (int k = 0; k < 4; k++) {
            if (bad_utf8_at(ps, i))
                return fail(ps, PERR_OTHER, i);
            if (i >= len)
                return fail(ps, PERR_SYNTAX, i);
            int h = hex_value(p[i++]);
            if (h < 0)
                return fail(ps, PERR_SYNTAX, i);
            cp = cp << 4 | (uint32_t)h;
        }
        if (low_next) {
            /* Two escapes, 12 bytes, make one 4-byte character. */
            low_next = 0;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                saved += 8;
            else
                bad_surrogate = 1;
        } else if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (i + 1 < len && p[i] == '\\' && p[i + 1] == 'u')
                low_next = 1;
            else
                bad_surrogate = 1;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            bad_surrogate = 1;
        } else {
            saved += 6 - utf8_len(cp);
            nul |= cp == 0;
        }
    }
    ps->i = i + 1;
    if (bad_surrogate)
        return fail(ps, PERR_SYNTAX, ps->i);
    ps->tok = TOK_STRING;
    ps->str.off = start;
    ps->str.len = i - start;
    ps->str.dlen = i - start - saved;
    ps->str.escaped = escaped;
    ps->str.nul = nul;
    return 0;
}

/* An integer as strtoll() reads it; -1 beyond int64, which jansson
 * refused. */
static int parse_integer(const unsigned char *s, size_t n, int64_t *out)
{
    int neg = s[0] == '-';
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (size_t i = (size_t)neg; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = neg ? (v == limit ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return 0;
}

/* strtod() needs a terminated copy, and a number may be as long as the
 * message. Not inlined: the buffer must stay out of the recursion's
 * frames. jansson called strtod() too, in the C locale that the daemon
 * never leaves. */
__attribute__((noinline)) static int parse_real_strtod(const unsigned char *s, size_t n,
                                                       double *out)
{
    char tmp[SB_CODEC_MAX_MESSAGE + 1];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    double v = strtod(tmp, NULL);
    if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

/* A real, bit for bit as strtod() rounds it; -1 on overflow, which jansson
 * refused (underflow is fine). When the significant digits form an integer
 * m <= 2^53 and the power of ten is one a double holds exactly (10^0 ..
 * 10^22), one correctly rounded multiplication or division is the
 * correctly rounded result (Clinger's fast path): that covers sensor
 * values such as 151.19. Anything else goes to strtod(). */
static int parse_real(const unsigned char *s, size_t n, double *out)
{
    static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                         1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                         1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    int neg = s[0] == '-';
    size_t i = (size_t)neg;
    uint64_t m = 0;
    int digits = 0; /* significant ones in m */
    long exp10 = 0; /* value = m * 10^exp10 */
    int frac = 0;
    for (; i < n && (is_digit(s[i]) || (s[i] == '.' && !frac)); i++) {
        if (s[i] == '.') {
            frac = 1;
            continue;
        }
        exp10 -= frac;
        if (m == 0 && s[i] == '0')
            continue;
        if (++digits > 19)
            return parse_real_strtod(s, n, out);
        m = m * 10 + (uint64_t)(s[i] - '0');
    }
    if (i < n) { /* 'e' or 'E', then the exponent, saturated far beyond any double */
        i++;
        int eneg = s[i] == '-';
        if (s[i] == '-' || s[i] == '+')
            i++;
        long e = 0;
        for (; i < n; i++)
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
        exp10 += eneg ? -e : e;
    }
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return 0;
    }
    if (m > UINT64_C(1) << 53 || exp10 < -22 || exp10 > 22)
        return parse_real_strtod(s, n, out);
    double v = (double)m;
    v = exp10 < 0 ? v / exact_pow10[-exp10] : v * exact_pow10[exp10];
    *out = neg ? -v : v;
    return 0;
}

/* At '-' or a digit. Like jansson it reads one byte past the longest prefix
 * that fits the grammar; a prefix that is no number is an invalid token,
 * reported by the parser at that point. */
static int scan_number(struct parser *ps)
{
    const unsigned char *p = ps->p;
    const size_t len = ps->len, start = ps->i;
    size_t i = start;
    int ok = 0, real = 0;

    if (p[i] == '-')
        i++;
    if (i < len && p[i] == '0') {
        i++;
        ok = !(i < len && is_digit(p[i])); /* no leading zeros */
    } else if (i < len && is_digit(p[i])) {
        while (i < len && is_digit(p[i]))
            i++;
        ok = 1;
    }
    if (ok && i < len && p[i] == '.') {
        real = 1;
        i++;
        ok = i < len && is_digit(p[i]);
        while (i < len && is_digit(p[i]))
            i++;
    }
    if (ok && i < len && (p[i] == 'e' || p[i] == 'E')) {
        real = 1;
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            i++;
        ok = i < len && is_digit(p[i]);
        while (i < len && is_digit(p[i]))
            i++;
    }
    ps->i = i;
    if (bad_utf8_at(ps, i))
        return fail(ps, PERR_OTHER, i);
    if (!ok) {
        ps->tok = TOK_INVALID;
        return 0;
    }
    if (real ? parse_real(p + start, i - start, &ps->real)
             : parse_integer(p + start, i - start, &ps->integer))
        return fail(ps, PERR_OVERFLOW, i);
    ps->tok = real ? TOK_REAL : TOK_INTEGER;
    drop_lookahead_nul(ps);
    return 0;
}

/* At a letter: jansson reads the whole run of letters, so "nan" or
 * "Infinity" is one invalid token. */
static int scan_literal(struct parser *ps)
{
    const unsigned char *w = ps->p + ps->i;
    size_t n = 0;
    while (ps->i + n < ps->len && is_alpha(w[n]))
        n++;
    ps->i += n;
    if (bad_utf8_at(ps, ps->i))
        return fail(ps, PERR_OTHER, ps->i);
    if (n == 4 && memcmp(w, "true", 4) == 0)
        ps->tok = TOK_TRUE;
    else if (n == 5 && memcmp(w, "false", 5) == 0)
        ps->tok = TOK_FALSE;
    else if (n == 4 && memcmp(w, "null", 4) == 0)
        ps->tok = TOK_NULL;
    else
        ps->tok = TOK_INVALID;
    if (ps->tok != TOK_INVALID)
        drop_lookahead_nul(ps);
    return 0;
}

/* Reads the next token into ps->tok (and its value). Returns -1 after a
 * lexical error that jansson reports itself; an invalid token is left for
 * the parser to report. */
static int scan(struct parser *ps)
{
    const unsigned char *p = ps->p;
    size_t i = ps->i;
    while (i < ps->len && is_json_ws((char)p[i]))
        i++;
    ps->i = i;
    ps->tok_nul = 0;
    if (i == ps->len) {
        ps->tok = TOK_EOF;
        return 0;
    }
    switch (p[i]) {
    case '{':
        ps->tok = TOK_OBJECT_START;
        break;
    case '}':
        ps->tok = TOK_OBJECT_END;
        break;
    case '[':
        ps->tok = TOK_ARRAY_START;
        break;
    case ']':
        ps->tok = TOK_ARRAY_END;
        break;
    case ':':
        ps->tok = TOK_COLON;
        break;
    case ',':
        ps->tok = TOK_COMMA;
        break;
    case '"':
        return scan_string(ps);
    case '-':
        return scan_number(ps);
    default:
        if (is_digit(p[i]))
            return scan_number(ps);
        if (is_alpha(p[i]))
            return scan_literal(ps);
        /* Any other byte is an invalid token one UTF-8 character long. */
        size_t n = 1;
        if (p[i] >= 0x80 && (n = sb_utf8_seq_len(p + i, ps->len - i)) == 0)
            return fail(ps, PERR_OTHER, i);
        ps->tok = TOK_INVALID;
        ps->tok_nul = p[i] == '\0';
        ps->i = i + n;
        return 0;
    }
    ps->i = i + 1;
    return 0;
}

static size_t utf8_encode(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t hex4(const unsigned char *s)
{
    uint32_t v = 0;
    for (int k = 0; k < 4; k++)
        v = v << 4 | (uint32_t)hex_value(s[k]);
    return v;
}

/* Unescapes the character at p[*i] of a string scan_string accepted into
 * out[0..4) and returns its length in bytes. */
static size_t next_char(const unsigned char *p, size_t *i, unsigned char *out)
{
    unsigned char c = p[*i];
    if (c != '\\') {
        size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        memcpy(out, p + *i, n);
        *i += n;
        return n;
    }
    c = p[*i + 1];
    if (c != 'u') {
        *i += 2;
        switch (c) {
        case 'b':
            out[0] = '\b';
            break;
        case 'f':
            out[0] = '\f';
            break;
        case 'n':
            out[0] = '\n';
            break;
        case 'r':
            out[0] = '\r';
            break;
        case 't':
            out[0] = '\t';
            break;
        default: /* '"', '\\', '/' */
            out[0] = c;
            break;
        }
        return 1;
    }
    uint32_t cp = hex4(p + *i + 2);
    *i += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(p + *i + 2) - 0xDC00);
        *i += 6;
    }
    return utf8_encode(cp, out);
}

/* Writes the s->dlen unescaped bytes of s to out. */
static void unescape(const unsigned char *p, const struct span *s, unsigned char *out)
{
    if (!s->escaped) {
        memcpy(out, p + s->off, s->len);
        return;
    }
    for (size_t i = s->off, end = s->off + s->len; i < end;)
        out += next_char(p, &i, out);
}

/* FNV-1a of the unescaped bytes, so that "a" and "\u0061" collide. */
static uint32_t key_hash(const unsigned char *p, const struct span *s)
{
    uint32_t h = 2166136261u;
    for (size_t i = s->off, end = s->off + s->len; i < end;) {
        unsigned char c[4];
        size_t n = 1;
        if (s->escaped)
            n = next_char(p, &i, c);
        else
            c[0] = p[i++];
        for (size_t k = 0; k < n; k++)
            h = (h ^ c[k]) * 16777619u;
    }
    return h;
}

static int same_key(const unsigned char *p, const struct key *k, const struct span *s)
{
    size_t a = k->off, a_end = a + k->len, b = s->off, b_end = b + s->len;
    if (!s->escaped && memchr(p + a, '\\', k->len) == NULL)
        return k->len == s->len && memcmp(p + a, p + b, s->len) == 0;
    while (a < a_end && b < b_end) {
        unsigned char ca[4], cb[4];
        size_t na = next_char(p, &a, ca), nb = next_char(p, &b, cb);
        if (na != nb || memcmp(ca, cb, na) != 0)
            return 0;
    }
    return a == a_end && b == b_end;
}

/* Remembers the key just scanned as one of the object whose keys start at
 * keys[first]; -1 if that object already has it. */
static int add_key(struct parser *ps, size_t first)
{
    const struct span *s = &ps->str;
    uint32_t h = key_hash(ps->p, s);
    for (size_t k = first; k < ps->nkeys; k++)
        if (ps->keys[k].hash == h && same_key(ps->p, &ps->keys[k], s))
            return -1;
    ps->keys[ps->nkeys++] = (struct key){h, (uint16_t)s->off, (uint16_t)s->len};
    return 0;
}

/* The field that a top-level key names, if any. */
static struct field *root_field(struct parser *ps, const struct span *s)
{
    unsigned char buf[16];
    const unsigned char *name = ps->p + s->off;
    if (s->dlen > sizeof(buf))
        return NULL;
    if (s->escaped) {
        unescape(ps->p, s, buf);
        name = buf;
    }
    for (int f = 0; f < F__COUNT; f++)
        if (field_names[f].len == s->dlen && memcmp(field_names[f].name, name, s->dlen) == 0)
            return &ps->fields[f];
    return NULL;
}

static int parse_value(struct parser *ps, struct field *f);

/* After '{'; the order of the checks is jansson's parse_object(). */
static int parse_object(struct parser *ps)
{
    const int top = ps->depth == 1;
    const size_t first_key = ps->nkeys;
    if (scan(ps) != 0)
        return -1;
    if (ps->tok == TOK_OBJECT_END)
        return 0;
    for (;;) {
        if (ps->tok != TOK_STRING)
            return fail_syntax(ps);
        if (ps->str.nul || add_key(ps, first_key) != 0)
            return fail(ps, PERR_OTHER, ps->i);
        struct field *f = top ? root_field(ps, &ps->str) : NULL;
        if (scan(ps) != 0)
            return -1;
        if (ps->tok != TOK_COLON)
            return fail_syntax(ps);
        if (scan(ps) != 0 || parse_value(ps, f) != 0 || scan(ps) != 0)
            return -1;
        if (ps->tok != TOK_COMMA)
            break;
        if (scan(ps) != 0)
            return -1;
    }
    if (ps->tok != TOK_OBJECT_END)
        return fail_syntax(ps);
    ps->nkeys = first_key;
    return 0;
}

/* After '['; jansson's parse_array(). */
static int parse_array(struct parser *ps)
{
    if (scan(ps) != 0)
        return -1;
    if (ps->tok == TOK_ARRAY_END)
        return 0;
    while (ps->tok != TOK_EOF) {
        if (parse_value(ps, NULL) != 0 || scan(ps) != 0)
            return -1;
        if (ps->tok != TOK_COMMA)
            break;
        if (scan(ps) != 0)
            return -1;
    }
    if (ps->tok != TOK_ARRAY_END)
        return fail_syntax(ps);
    return 0;
}

/* The value that starts with the current token; a member of the top-level
 * object we decode is stored in *f. */
static int parse_value(struct parser *ps, struct field *f)
{
    const enum token t = ps->tok;
    if (++ps->depth > MAX_DEPTH)
        return fail(ps, PERR_OTHER, ps->i);
    switch (t) {
    case TOK_STRING:
        if (f != NULL)
            f->str = ps->str;
        break;
    case TOK_INTEGER:
        if (f != NULL)
            f->integer = ps->integer;
        break;
    case TOK_REAL:
        if (f != NULL)
            f->real = ps->real;
        break;
    case TOK_TRUE:
    case TOK_FALSE:
    case TOK_NULL:
        break;
    case TOK_OBJECT_START:
        if (parse_object(ps) != 0)
            return -1;
        break;
    case TOK_ARRAY_START:
        if (parse_array(ps) != 0)
            return -1;
        break;
    default:
        return fail_syntax(ps);
    }
    if (f != NULL)
        f->type = t;
    ps->depth--;
    return 0;
}

/* The whole message: one value and nothing after it but whitespace. */
static int parse(struct parser *ps, enum token *root)
{
    if (scan(ps) != 0)
        return -1;
    *root = ps->tok;
    if (parse_value(ps, NULL) != 0 || scan(ps) != 0)
        return -1;
    if (ps->tok != TOK_EOF)
        return fail(ps, PERR_OTHER, ps->i);
    return 0;
}

static int is_token_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
           c == '+' || c == '-';
}

static int token_ieq(const char *t, size_t n, const char *word)
{
    size_t wn = strlen(word);
    if (n != wn)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != word[i])
            return 0;
    }
    return 1;
}

/* Is the bare token t[0..n) a non-finite value as the writers we know spell
 * it? Python's json.dumps writes NaN, Infinity and -Infinity; a real out
 * of double range ("1e400") is one too. An integer beyond int64
 * ("99999999999999999999") is finite, so it stays not_json. */
static int token_is_non_finite(const char *t, size_t n, enum parse_error err)
{
    if (err == PERR_OVERFLOW) {
        for (size_t i = 0; i < n; i++)
            if (t[i] == '.' || t[i] == 'e' || t[i] == 'E')
                return 1;
        return 0;
    }
    if (n > 0 && (t[0] == '-' || t[0] == '+')) {
        t++;
        n--;
    }
    return token_ieq(t, n, "nan") || token_ieq(t, n, "inf") || token_ieq(t, n, "infinity");
}

/* JSON has no NaN or Infinity, and a real beyond double range cannot be
 * held: the message is refused as bad JSON. When the error sits on the
 * token after a "value" key, the message is well-formed apart from a
 * non-finite value, and non_finite tells the operator far more than
 * not_json. pos is where jansson would report the error: just past the
 * bytes it read, inside the token or one past its end. Only runs on the
 * error path. */
static enum sb_invalid_reason classify_parse_error(const char *p, size_t len, enum parse_error err,
                                                   size_t pos)
{
    if (err == PERR_OTHER)
        return SB_INVALID_NOT_JSON;
    static const char key[] = "\"value\"";
    const size_t klen = sizeof(key) - 1;
    for (size_t at = 0; at + klen <= len; at++) {
        if (p[at] != '"' || memcmp(p + at, key, klen) != 0)
            continue;
        size_t i = at + klen;
        while (i < len && is_json_ws(p[i]))
            i++;
        if (i >= len || p[i] != ':')
            continue;
        i++;
        while (i < len && is_json_ws(p[i]))
            i++;
        size_t start = i;
        while (i < len && is_token_char(p[i]))
            i++;
        if (pos > start && pos <= i + 1 && token_is_non_finite(p + start, i - start, err))
            return SB_INVALID_NON_FINITE;
    }
    return SB_INVALID_NOT_JSON;
}

static int is_name_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '.' || c == ':' || c == '-';
}

static double number_value(const struct field *f)
{
    return f->type == TOK_INTEGER ? (double)f->integer : f->real;
}

/* A present-but-null optional field counts as absent: producers built on
 * Optional[...] models write null rather than leaving the key out. */
static int get_optional_count(const struct field *f, int64_t *out)
{
    if (f->type == TOK_EOF || f->type == TOK_NULL) {
        *out = -1;
        return 0;
    }
    /* A real such as 3.0 is refused: counters are integers on the wire, and
     * accepting 3.5 would need a rounding rule nobody asked for. */
    if (f->type != TOK_INTEGER || f->integer < 0)
        return -1;
    *out = f->integer;
    return 0;
}

/* An escaped timestamp is rare enough for a copy. Not inlined, to keep the
 * buffer off the common path's stack. */
__attribute__((noinline)) static int parse_escaped_timestamp(const unsigned char *p,
                                                             const struct span *s, int64_t *us)
{
    unsigned char tmp[SB_CODEC_MAX_MESSAGE];
    unescape(p, s, tmp);
    return sb_parse_rfc3339_us((const char *)tmp, s->dlen, us);
}

/* The checks of the top-level object's members, in the order that decides
 * the reason when a message has several problems. */
static int decode_fields(const struct parser *ps, int strict, struct sb_decoded *d,
                         enum sb_invalid_reason *reason)
{
    const struct field *sensor = &ps->fields[F_SENSOR];
    const struct field *value = &ps->fields[F_VALUE];
    const struct field *ts = &ps->fields[F_TIMESTAMP];
    if (sensor->type == TOK_EOF || value->type == TOK_EOF || ts->type == TOK_EOF) {
        *reason = SB_INVALID_MISSING_FIELD;
        return -1;
    }

    if (sensor->type != TOK_STRING) {
        *reason = SB_INVALID_WRONG_TYPE;
        return -1;
    }
    /* The unescaped length, not strlen: \u0000 is allowed, and a name such
     * as "PS1\u0000x" must not pass as "PS1". */
    size_t name_len = sensor->str.dlen;
    if (name_len == 0 || name_len >= SB_SENSOR_NAME_MAX) {
        *reason = SB_INVALID_UNKNOWN_SENSOR;
        return -1;
    }
    unescape(ps->p, &sensor->str, (unsigned char *)d->sensor);
    d->sensor[name_len] = '\0';
    for (size_t i = 0; i < name_len; i++) {
        if (!is_name_char(d->sensor[i])) {
            *reason = SB_INVALID_UNKNOWN_SENSOR;
            return -1;
        }
    }
    if (strict && sb_sensors_find(d->sensor) == NULL) {
        *reason = SB_INVALID_UNKNOWN_SENSOR;
        return -1;
    }

    /* Our encoder writes null for NaN/Inf (JSON has neither). A real beyond
     * double range never gets here: it is a parse error. */
    if (value->type == TOK_NULL) {
        *reason = SB_INVALID_NON_FINITE;
        return -1;
    }
    if (value->type != TOK_INTEGER && value->type != TOK_REAL) {
        *reason = SB_INVALID_WRONG_TYPE;
        return -1;
    }
    d->value = number_value(value);

    if (ts->type != TOK_STRING) {
        *reason = SB_INVALID_WRONG_TYPE;
        return -1;
    }
    const struct span *t = &ts->str;
    if ((t->escaped ? parse_escaped_timestamp(ps->p, t, &d->ts_us)
                    : sb_parse_rfc3339_us((const char *)ps->p + t->off, t->len, &d->ts_us)) != 0) {
        *reason = SB_INVALID_BAD_TIMESTAMP;
        return -1;
    }

    if (get_optional_count(&ps->fields[F_CYCLE], &d->cycle) != 0 ||
        get_optional_count(&ps->fields[F_SAMPLE_IDX], &d->sample_idx) != 0) {
        *reason = SB_INVALID_WRONG_TYPE;
        return -1;
    }

    const struct field *rate = &ps->fields[F_RATE];
    if (rate->type == TOK_EOF || rate->type == TOK_NULL) {
        d->rate_hz = -1;
    } else if ((rate->type == TOK_INTEGER || rate->type == TOK_REAL) && number_value(rate) >= 0) {
        d->rate_hz = number_value(rate);
    } else {
        *reason = SB_INVALID_WRONG_TYPE;
        return -1;
    }
    return 0;
}

static int decode(const unsigned char *buf, size_t len, int strict, struct sb_decoded *out,
                  enum sb_invalid_reason *reason)
{
    /* Only the fields are initialised: keys[] is written before it is read. */
    struct parser ps;
    ps.p = buf;
    ps.len = len;
    ps.i = 0;
    ps.lost = 0;
    ps.depth = 0;
    ps.nkeys = 0;
    for (int f = 0; f < F__COUNT; f++)
        ps.fields[f].type = TOK_EOF;

    enum token root;
    if (parse(&ps, &root) != 0) {
        *reason = classify_parse_error((const char *)buf, len, ps.err, ps.err_pos);
        return -1;
    }
    /* Any JSON value parses, so that a top-level "str" or 42 is reported as
     * not_object rather than not_json. */
    if (root != TOK_OBJECT_START) {
        *reason = SB_INVALID_NOT_OBJECT;
        return -1;
    }
    struct sb_decoded d;
    if (decode_fields(&ps, strict, &d, reason) != 0)
        return -1;
    *out = d;
    return 0;
}

int sb_codec_decode(const void *buf, size_t len, int strict, struct sb_decoded *out,
                    enum sb_invalid_reason *reason)
{
    enum sb_invalid_reason r = SB_INVALID_NOT_JSON;

    /* The size cap comes first so an oversized message costs nothing to
     * refuse. */
    if (buf != NULL && len > 0 && len <= SB_CODEC_MAX_MESSAGE &&
        decode(buf, len, strict, out, &r) == 0)
        return 0;
    if (reason != NULL)
        *reason = r;
    return -1;
}
