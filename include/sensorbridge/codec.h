/*
 * codec.h - the JSON message of one sample, compatible with the existing
 * Python producers:
 *   {"sensor":"PS1","cycle":0,"sample_idx":100,"value":151.19,
 *    "timestamp":"2025-11-08T14:30:45.123456Z","sampling_rate_hz":100,
 *    "unit":"bar","source":"uci-hydraulic"}
 * Encoding is hand-written (the value keeps the file's digits); so is
 * decoding, a single-pass parser without allocation that validates the
 * whole message and every field, accepting and refusing exactly what the
 * jansson-based decoder it replaced did. Pure.
 */
#ifndef SB_CODEC_H
#define SB_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "sensorbridge/sensors.h"

#define SB_CODEC_MAX_MESSAGE 4096 /* larger messages are invalid */

struct sb_sample {
    const char *sensor; /* borrowed */
    int64_t cycle;      /* < 0: field omitted (sources without cycles) */
    uint64_t sample_idx;
    double value;
    const char *value_text; /* the file's digits, or NULL to format value */
    size_t value_len;
    int64_t ts_us;      /* event time, microseconds since the epoch */
    double rate_hz;     /* integral rates print as integers: 100, 0.5 */
    const char *unit;   /* borrowed, may be NULL (field omitted) */
    const char *source; /* borrowed, may be NULL (field omitted) */
    /* Further members, already JSON-encoded and starting with a comma
     * (e.g. ",\"machine\":\"M3\""), appended verbatim; NULL for none. */
    const char *extra;
};

/* Writes the JSON of s into buf like snprintf: returns the length the full
 * message needs (excluding NUL); the output is complete only when the
 * return value is < cap. buf is NUL-terminated whenever cap > 0 and may be
 * NULL when cap == 0. The sensor, unit and source strings are
 * JSON-escaped; bytes that are not valid UTF-8 become \ufffd. value_text
 * is copied only if it is JSON number syntax ("35." or "007" are not), else
 * value is formatted. A non-finite value is written as null (JSON has no
 * NaN), which the decoder reports as non_finite. No allocation. */
size_t sb_codec_encode(const struct sb_sample *s, char *buf, size_t cap);

/* Why a consumed message was rejected; also the `reason` label. */
enum sb_invalid_reason {
    SB_INVALID_NOT_JSON,       /* "not_json": empty, too large or unparseable */
    SB_INVALID_NOT_OBJECT,     /* "not_object" */
    SB_INVALID_MISSING_FIELD,  /* "missing_field": sensor, value or timestamp absent */
    SB_INVALID_WRONG_TYPE,     /* "wrong_type": e.g. value is a string, cycle negative */
    SB_INVALID_NON_FINITE,     /* "non_finite": value is NaN/Inf or out of double range */
    SB_INVALID_BAD_TIMESTAMP,  /* "bad_timestamp": not RFC 3339 */
    SB_INVALID_UNKNOWN_SENSOR, /* "unknown_sensor": name not in the catalogue (strict mode) or too
                                  long */
    SB_INVALID__COUNT
};

/* The snake_case label above; "unknown" for a value outside the enum. */
const char *sb_invalid_reason_name(enum sb_invalid_reason r);

/* A decoded message. The sensor name is copied into the struct. Fields
 * that are optional on the wire (cycle, sample_idx, sampling_rate_hz)
 * are -1 when absent. */
struct sb_decoded {
    char sensor[SB_SENSOR_NAME_MAX];
    int64_t cycle;
    int64_t sample_idx;
    double value;
    int64_t ts_us;
    double rate_hz;
};

/* Decodes and validates one message. Returns 0 and fills *out, or -1 with
 * *reason set (reason may be NULL) and *out untouched.
 * With strict != 0 the sensor must be in the UCI catalogue; otherwise any
 * name of 1..63 bytes of [A-Za-z0-9_.:-] is accepted. value and
 * sampling_rate_hz may be integers or reals; cycle and sample_idx must be
 * non-negative integers; an optional field that is null counts as absent;
 * other members are ignored. Duplicate keys are not_json. A value of null,
 * NaN, Infinity or a real beyond double range (1e400) is non_finite; an
 * integer beyond int64 anywhere is not_json (jansson could not hold it,
 * and the decoder keeps jansson's behaviour). */
int sb_codec_decode(const void *buf, size_t len, int strict, struct sb_decoded *out,
                    enum sb_invalid_reason *reason);

#endif
