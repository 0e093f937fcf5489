/*
 * util.h - allocation that aborts on out-of-memory, a growable byte buffer,
 * and small helpers shared by every module. Pure: no libuv, no librdkafka.
 */
#ifndef SB_UTIL_H
#define SB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The sb_x* family never returns NULL: on out-of-memory they log and abort(). */
void *sb_xmalloc(size_t n);
void *sb_xcalloc(size_t nmemb, size_t size);
void *sb_xrealloc(void *p, size_t n);
char *sb_xstrdup(const char *s);
char *sb_xstrndup(const char *s, size_t n);

/* A growable byte buffer, always NUL-terminated after `len` bytes. The
 * caller owns the struct; sb_buf_free releases `data`. */
struct sb_buf {
    char *data;
    size_t len;
    size_t cap;
};

void sb_buf_init(struct sb_buf *b);
void sb_buf_free(struct sb_buf *b);
void sb_buf_reset(struct sb_buf *b);
void sb_buf_reserve(struct sb_buf *b, size_t extra);
void sb_buf_append(struct sb_buf *b, const void *p, size_t n);
void sb_buf_puts(struct sb_buf *b, const char *s);
void sb_buf_putc(struct sb_buf *b, char c);
void sb_buf_printf(struct sb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_buf_vprintf(struct sb_buf *b, const char *fmt, va_list ap);

/* Open addressing with linear probing, deletion by backward shift (Knuth's
 * algorithm R): after slot `hole` is emptied, an entry at slot j (later in
 * the same probe run) whose home slot is `home` is still reachable, and
 * stays, if its home lies cyclically in (hole, j]; otherwise it must move
 * into the hole. */
bool sb_probe_keeps(size_t hole, size_t j, size_t home);

/* Formats `v` as the shortest decimal that parses back to the same double
 * (tries %.15g, then %.16g, %.17g). "NaN", "+Inf" and "-Inf" for
 * non-finite values (Prometheus spelling). Returns the length written;
 * `cap` must be at least 32. */
size_t sb_fmt_double(char *out, size_t cap, double v);

/* The same text as sb_fmt_double, without snprintf or strtod, for the
 * values the sources make: when v is the double nearest to a multiple of
 * 0.001 (m / 1000 for an integer m) with |v| < 1e12, writes that decimal
 * (up to 3 fraction digits, trailing zeros and a bare '.' dropped, "-" for
 * negatives, no exponent) and returns its length; such a decimal has at
 * most 15 significant digits, so it is what %.15g prints and strtod reads
 * it back as v. Returns 0 and writes nothing for any other v (-0.0, NaN,
 * Inf, finer fractions, larger magnitudes): the caller falls back to
 * sb_fmt_double. `out` needs SB_FMT_MILLI_MAX bytes; no NUL is written. */
#define SB_FMT_MILLI_MAX 17
size_t sb_fmt_milli(char *out, double v);

/* Writes v in decimal ("-" for negatives), no NUL; returns the length.
 * `out` needs SB_FMT_I64_MAX bytes. The same text as "%" PRId64. */
#define SB_FMT_I64_MAX 20
size_t sb_fmt_i64(char *out, int64_t v);

/* Wall clock in microseconds since the Unix epoch, and a monotonic clock in
 * nanoseconds. Modules that must be testable take times as arguments
 * instead of calling these. */
int64_t sb_now_wall_us(void);
uint64_t sb_now_mono_ns(void);

/* FNV-1a, 64 bits, over len bytes: the hash of every table keyed by short
 * strings (sensor names, topic names, configuration keys). */
uint64_t sb_hash_fnv1a(const void *data, size_t len);

/* Formats microseconds since the epoch as RFC 3339 UTC with six fractional
 * digits, e.g. "2025-11-08T14:30:45.123456Z" (27 chars + NUL; cap >= 32). */
size_t sb_fmt_rfc3339_us(char *out, size_t cap, int64_t us);

/* Parses RFC 3339 ("YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)", 't' and ' '
 * accepted as separator, up to 9 fractional digits). Returns 0 and sets
 * *us, or -EINVAL. */
int sb_parse_rfc3339_us(const char *s, size_t len, int64_t *us);

/* Parses s[0..len) (no NUL needed) as a decimal integer from 0 to
 * INT64_MAX: one or more ASCII digits and nothing else (no sign, no space;
 * leading zeros allowed). Returns 0 and sets *v; -EINVAL if a byte is not a
 * digit or there is none, else -ERANGE if the value exceeds INT64_MAX
 * (found without overflowing). *v is left alone on error. */
int sb_parse_decimal_i64(const char *s, size_t len, int64_t *v);

/* Returns the length (1..4) of the valid UTF-8 sequence at s[0..n), n >= 1,
 * or 0 if it is invalid (overlong, surrogate, above U+10FFFF, truncated),
 * as Go's utf8.ValidString decides: Prometheus applies it to label values,
 * and jansson refuses a whole message for one bad byte. */
size_t sb_utf8_seq_len(const unsigned char *s, size_t n);

#endif
