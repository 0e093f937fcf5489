/*
 * codec_ref.c - the jansson-based message decoder of src/codec.c as of
 * commit 07c592a, copied verbatim apart from its name: the reference that
 * test_codec_diff holds the hand-written decoder to, and the baseline of
 * the codec micro-benchmark. Tests only.
 */
#include "codec_ref.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#include "sensorbridge/sensors.h"
#include "sensorbridge/util.h"

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

int sb_codec_decode_ref(const void *buf, size_t len, int strict, struct sb_decoded *out,
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
