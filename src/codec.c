/*
 * codec.c - the JSON message of one sample.
 *
 * Encoding runs once per produced sample (millions per second at
 * speed=max), so it is a hand-written bounded writer: no malloc, no
 * jansson, no snprintf for integers or timestamps. Decoding runs once per
 * consumed message and uses jansson, then validates every field we use.
 */
#include "sensorbridge/codec.h"

#include <jansson.h>
#include <math.h>
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
    char tmp[40];
    size_t n = sb_fmt_double(tmp, sizeof(tmp), s->value);
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
        size_t n = sb_fmt_double(b, sizeof(b), rate);
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

static int is_json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
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
 * it? Python's json.dumps writes NaN, Infinity and -Infinity; a real that
 * jansson found out of range ("1e400") is one too. An integer beyond
 * int64 ("99999999999999999999") is finite, so it stays not_json. */
static int token_is_non_finite(const char *t, size_t n, enum json_error_code code)
{
    if (code == json_error_numeric_overflow) {
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

/* jansson refuses NaN, Infinity and out-of-range reals with a parse error.
 * When that error sits on the token after a "value" key, the message is
 * well-formed apart from a non-finite value, and non_finite tells the
 * operator far more than not_json. Only runs on the error path. */
static enum sb_invalid_reason classify_parse_error(const char *p, size_t len,
                                                   const json_error_t *err)
{
    enum json_error_code code = json_error_code(err);
    if ((code != json_error_invalid_syntax && code != json_error_numeric_overflow) ||
        err->position < 0)
        return SB_INVALID_NOT_JSON;
    size_t pos = (size_t)err->position;
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
        /* jansson reports the offset just past the bytes it read, which is
         * inside the token or one past its end. */
        if (pos > start && pos <= i + 1 && token_is_non_finite(p + start, i - start, code))
            return SB_INVALID_NON_FINITE;
    }
    return SB_INVALID_NOT_JSON;
}

static int is_name_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c == '.' || c == ':' || c == '-';
}

/* A present-but-null optional field counts as absent: producers built on
 * Optional[...] models write null rather than leaving the key out. */
static int get_optional_count(json_t *root, const char *key, int64_t *out)
{
    json_t *v = json_object_get(root, key);
    if (v == NULL || json_is_null(v)) {
        *out = -1;
        return 0;
    }
    /* A real such as 3.0 is refused: counters are integers on the wire, and
     * accepting 3.5 would need a rounding rule nobody asked for. */
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int decode_root(json_t *root, int strict, struct sb_decoded *d,
                       enum sb_invalid_reason *reason)
{
    if (!json_is_object(root)) {
        *reason = SB_INVALID_NOT_OBJECT;
        return -1;
    }
    json_t *jsensor = json_object_get(root, "sensor");
    json_t *jvalue = json_object_get(root, "value");
    json_t *jts = json_object_get(root, "timestamp");
    if (jsensor == NULL || jvalue == NULL || jts == NULL) {
        *reason = SB_INVALID_MISSING_FIELD;
        return -1;
    }

    if (!json_is_string(jsensor)) {
        *reason = SB_INVALID_WRONG_TYPE;
        return -1;
    }
    /* The length comes from jansson, not strlen: with JSON_ALLOW_NUL a name
     * such as "PS1\u0000x" must not pass as "PS1". */
    const char *name = json_string_value(jsensor);
    size_t name_len = json_string_length(jsensor);
    if (name_len == 0 || name_len >= SB_SENSOR_NAME_MAX) {
        *reason = SB_INVALID_UNKNOWN_SENSOR;
        return -1;
    }
    for (size_t i = 0; i < name_len; i++) {
        if (!is_name_char(name[i])) {
            *reason = SB_INVALID_UNKNOWN_SENSOR;
            return -1;
        }
    }
    if (strict && sb_sensors_find(name) == NULL) {
        *reason = SB_INVALID_UNKNOWN_SENSOR;
        return -1;
    }
    memcpy(d->sensor, name, name_len + 1);

    /* Our encoder writes null for NaN/Inf (JSON has neither). */
    if (json_is_null(jvalue)) {
        *reason = SB_INVALID_NON_FINITE;
        return -1;
    }
    if (!json_is_number(jvalue)) {
        *reason = SB_INVALID_WRONG_TYPE;
        return -1;
    }
    d->value = json_number_value(jvalue);
    if (!isfinite(d->value)) {
        *reason = SB_INVALID_NON_FINITE;
        return -1;
    }

    if (!json_is_string(jts)) {
        *reason = SB_INVALID_WRONG_TYPE;
        return -1;
    }
    if (sb_parse_rfc3339_us(json_string_value(jts), json_string_length(jts), &d->ts_us) != 0) {
        *reason = SB_INVALID_BAD_TIMESTAMP;
        return -1;
    }

    if (get_optional_count(root, "cycle", &d->cycle) != 0 ||
        get_optional_count(root, "sample_idx", &d->sample_idx) != 0) {
        *reason = SB_INVALID_WRONG_TYPE;
        return -1;
    }

    json_t *jrate = json_object_get(root, "sampling_rate_hz");
    if (jrate == NULL || json_is_null(jrate)) {
        d->rate_hz = -1;
    } else if (json_is_number(jrate) && json_number_value(jrate) >= 0) {
        d->rate_hz = json_number_value(jrate);
    } else {
        *reason = SB_INVALID_WRONG_TYPE;
        return -1;
    }
    return 0;
}

int sb_codec_decode(const void *buf, size_t len, int strict, struct sb_decoded *out,
                    enum sb_invalid_reason *reason)
{
    enum sb_invalid_reason r = SB_INVALID_NOT_JSON;
    struct sb_decoded d;

    /* The size cap comes before jansson so an oversized message costs
     * nothing to refuse. */
    if (buf == NULL || len == 0 || len > SB_CODEC_MAX_MESSAGE)
        goto fail;

    /* JSON_DECODE_ANY lets a top-level "str" or 42 parse so it is reported
     * as not_object, not not_json. JSON_REJECT_DUPLICATES: two "value"
     * keys mean the producer is broken, and jansson would otherwise keep
     * the last one silently. JSON_ALLOW_NUL: a \u0000 in an extra field we
     * ignore should not cost the sample; the sensor check catches one in
     * the name. */
    json_error_t err;
    json_t *root =
        json_loadb(buf, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (root == NULL) {
        r = classify_parse_error(buf, len, &err);
        goto fail;
    }
    int rc = decode_root(root, strict, &d, &r);
    json_decref(root);
    if (rc != 0)
        goto fail;
    *out = d;
    return 0;

fail:
    if (reason != NULL)
        *reason = r;
    return -1;
}
