/* dataset.c - streaming reader for the UCI hydraulic matrix files. */
#include "sensorbridge/dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "sensorbridge/util.h"

/* One read(2) asks for at most this much. */
#define SB_DS_CHUNK (64 * 1024)
/* Room for the longest row we accept, its CR LF, and one more chunk, so a
 * row at the limit can always be completed by another read. */
#define SB_DS_MAX_BUF (SB_DSFILE_MAX_ROW_BYTES + 2 + SB_DS_CHUNK)

/* read_line: the line was over SB_DSFILE_MAX_ROW_BYTES and has been skipped. */
#define SB_DS_TOO_LONG 2

struct sb_dsfile {
    int fd;
    char *path;
    size_t ncols;

    /* Unread input is buf[pos, end). Rows handed out point into buf, which
     * is why it may only move (compact, grow) inside the next call. */
    char *buf;
    size_t cap;
    size_t pos;
    size_t end;
    bool eof;

    unsigned index;     /* row index of the next line = cycle number */
    unsigned long line; /* 1-based number of the last line consumed */

    double *values;
    const char **text;
    uint8_t *textlen;
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/*
 * Reads one more chunk after the buffered bytes. The unread bytes move to
 * the front only when the tail has less than a chunk free, so a 45 KB row
 * costs at most one memmove per 64 KiB read. The buffer grows (up to
 * SB_DS_MAX_BUF) only when a single line does not fit. Returns the number
 * of bytes read, 0 at EOF, -ENOBUFS if the buffer is full, or -errno.
 */
static ssize_t fill(struct sb_dsfile *f)
{
    size_t room;

    if (f->eof)
        return 0;
    if (f->cap - f->end < SB_DS_CHUNK && f->pos > 0) {
        memmove(f->buf, f->buf + f->pos, f->end - f->pos);
        f->end -= f->pos;
        f->pos = 0;
    }
    if (f->cap - f->end < SB_DS_CHUNK && f->cap < SB_DS_MAX_BUF) {
        size_t ncap = f->cap * 2;
        if (ncap > SB_DS_MAX_BUF)
            ncap = SB_DS_MAX_BUF;
        f->buf = sb_xrealloc(f->buf, ncap);
        f->cap = ncap;
    }
    room = f->cap - f->end;
    if (room > SB_DS_CHUNK)
        room = SB_DS_CHUNK;
    if (room == 0)
        return -ENOBUFS;
    for (;;) {
        ssize_t n = read(f->fd, f->buf + f->end, room);
        if (n > 0) {
            f->end += (size_t)n;
            return n;
        }
        if (n == 0) {
            f->eof = true;
            return 0;
        }
        if (errno != EINTR)
            return errno > 0 ? -errno : -EIO;
    }
}

/* Discards input up to and including the next LF (or to EOF). */
static int skip_rest(struct sb_dsfile *f)
{
    for (;;) {
        char *p = f->buf + f->pos;
        char *nl = memchr(p, '\n', f->end - f->pos);
        ssize_t n;

        if (nl) {
            f->pos += (size_t)(nl - p) + 1;
            return 0;
        }
        f->pos = f->end;
        n = fill(f);
        if (n <= 0)
            return (int)n;
    }
}

/*
 * Finds the next line and consumes it. Returns 1 with *start and *len (LF
 * excluded, CR kept) pointing into buf, valid until the next fill; 0 at
 * EOF; SB_DS_TOO_LONG after skipping a line that cannot be buffered; or
 * -errno. A last line without LF is returned as a line.
 */
static int read_line(struct sb_dsfile *f, char **start, size_t *len)
{
    size_t scanned = 0; /* bytes after pos already known to hold no LF */

    for (;;) {
        char *p = f->buf + f->pos;
        size_t avail = f->end - f->pos;
        char *nl = memchr(p + scanned, '\n', avail - scanned);
        ssize_t n;

        if (nl) {
            *start = p;
            *len = (size_t)(nl - p);
            f->pos += *len + 1;
            f->line++;
            return 1;
        }
        scanned = avail;
        /* Content plus a CR may reach MAX + 1 bytes; more than that can
         * never become a valid row, so stop buffering it. */
        if (avail > SB_DSFILE_MAX_ROW_BYTES + 1) {
            int r;
            f->line++;
            f->pos = f->end;
            r = skip_rest(f);
            return r < 0 ? r : SB_DS_TOO_LONG;
        }
        n = fill(f);
        if (n < 0)
            return (int)n;
        if (n == 0) {
            if (f->end == f->pos)
                return 0;
            *start = f->buf + f->pos;
            *len = f->end - f->pos;
            f->pos = f->end;
            f->line++;
            return 1;
        }
    }
}

/*
 * Skips one line without keeping it, however long. Returns 1 and sets
 * *blank (the line held nothing but CRs), 0 at EOF with nothing left, or
 * -errno. This is the fast path of seek: memchr over buffered chunks.
 */
static int skip_line(struct sb_dsfile *f, bool *blank)
{
    bool any = false;
    bool content = false;

    for (;;) {
        char *p = f->buf + f->pos;
        size_t avail = f->end - f->pos;
        char *nl = memchr(p, '\n', avail);
        size_t n = nl ? (size_t)(nl - p) : avail;
        ssize_t r;

        /* Stops at the first byte of an ordinary row, so this costs nothing. */
        for (size_t i = 0; !content && i < n; i++) {
            if (p[i] != '\r')
                content = true;
        }
        if (n > 0)
            any = true;
        if (nl) {
            f->pos += n + 1;
            f->line++;
            *blank = !content;
            return 1;
        }
        f->pos = f->end;
        r = fill(f);
        if (r < 0)
            return (int)r;
        if (r == 0) {
            if (!any)
                return 0;
            f->line++;
            *blank = !content;
            return 1;
        }
    }
}

/*
 * Looks ahead without consuming: 1 if only CR and LF remain before EOF
 * (trailing blank lines, which are not rows), 0 if anything else follows,
 * or -errno. A blank run too long to buffer (over a MiB of CR/LF) counts
 * as "something else", so memory stays bounded; its first lines are then
 * reported as empty rows, which sb_dsfile_count_rows would not count.
 */
static int rest_is_blank(struct sb_dsfile *f)
{
    size_t checked = 0;

    for (;;) {
        const char *p = f->buf + f->pos;
        size_t avail = f->end - f->pos;
        ssize_t r;

        for (; checked < avail; checked++) {
            if (p[checked] != '\r' && p[checked] != '\n')
                return 0;
        }
        r = fill(f);
        if (r == -ENOBUFS)
            return 0;
        if (r < 0)
            return (int)r;
        if (r == 0)
            return 1;
    }
}

/* Powers of ten that a double holds exactly (5^22 < 2^53). */
static const double exact_pow10[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* parse_decimal results besides 0. */
#define SB_DS_SYNTAX (-1)
#define SB_DS_RANGE (-2)

/*
 * Parses a decimal number at s (before e): [+-] digits [. digits] [e [+-]
 * digits], at least one mantissa digit. Hex, inf and nan are not in the
 * grammar, which is the point of not handing the text to strtod directly.
 * *endp is set past the number; the caller checks that a TAB or the end
 * of the row follows.
 *
 * Dataset values ("35.57") have a few digits and no exponent. With at most
 * 19 digits the mantissa is an exact integer; if it is below 2^53 and the
 * power of ten is at most 22, mant / 10^k with both operands exact is one
 * IEEE operation, hence correctly rounded and equal to strtod's result
 * (Clinger's fast path) at a fraction of the cost. Anything else goes to
 * strtod on a NUL-terminated copy. The fast path needs doubles evaluated
 * in double precision (FLT_EVAL_METHOD 0, not x87 extended).
 */
static int parse_decimal(const char *s, const char *e, double *out, const char **endp)
{
    const char *p = s;
    const char *d0;
    bool neg = false;
    uint64_t mant = 0;
    size_t ndig;
    long exp10 = 0;

    if (p < e && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
    }
    /* mant may wrap past 19 digits; such values take the slow path. */
    d0 = p;
    for (; p < e && (unsigned)(*p - '0') < 10; p++)
        mant = mant * 10 + (unsigned)(*p - '0');
    ndig = (size_t)(p - d0);
    if (p < e && *p == '.') {
        const char *f0 = ++p;
        for (; p < e && (unsigned)(*p - '0') < 10; p++)
            mant = mant * 10 + (unsigned)(*p - '0');
        exp10 = -(long)(p - f0);
        ndig += (size_t)(p - f0);
    }
    if (ndig == 0) {
        *endp = p;
        return SB_DS_SYNTAX;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        bool eneg = false;
        long ev = 0;
        p++;
        if (p < e && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p >= e || (unsigned)(*p - '0') >= 10) {
            *endp = p;
            return SB_DS_SYNTAX;
        }
        for (; p < e && (unsigned)(*p - '0') < 10; p++) {
            if (ev < 100000)
                ev = ev * 10 + (*p - '0');
        }
        exp10 += eneg ? -ev : ev;
    }
    *endp = p;

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
    if (ndig <= 19 && mant <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)mant;
        v = exp10 < 0 ? v / exact_pow10[-exp10] : v * exact_pow10[exp10];
        *out = neg ? -v : v;
        return 0;
    }
#else
    (void)exact_pow10;
#endif
    {
        char tmp[SB_DSFILE_MAX_VALUE_CHARS + 1];
        size_t n = (size_t)(p - s);
        char *end;
        double v;

        /* The caller rejects longer fields anyway; just never overflow tmp. */
        if (n > SB_DSFILE_MAX_VALUE_CHARS)
            return SB_DS_SYNTAX;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        v = strtod(tmp, &end);
        if (end != tmp + n)
            return SB_DS_SYNTAX;
        /* Underflow to a tiny or zero value is still a finite reading. */
        if (!isfinite(v))
            return SB_DS_RANGE;
        *out = v;
        return 0;
    }
}

/* Copies a field for an error message: at most 32 bytes, unprintable ones as '?'. */
static void show_field(char *out, size_t cap, const char *s, size_t n)
{
    size_t i, k = 0;

    for (i = 0; i < n && k + 4 < cap && i < 32; i++)
        out[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (i < n && k + 4 < cap) {
        out[k++] = '.';
        out[k++] = '.';
        out[k++] = '.';
    }
    out[k] = '\0';
}

static size_t count_byte(const char *s, const char *e, char c)
{
    size_t n = 0;

    while (s < e && (s = memchr(s, c, (size_t)(e - s))) != NULL) {
        n++;
        s++;
    }
    return n;
}

/* Splits and parses one row (CR already removed) into f's arrays. */
static int parse_row(struct sb_dsfile *f, const char *line, size_t len, unsigned long lineno,
                     char *err, size_t errlen)
{
    const char *p = line;
    const char *e = line + len;
    size_t col = 0;

    for (;;) {
        const char *s = p;
        const char *q;
        const char *fe;
        size_t flen;
        double v = 0;
        int rc;
        char shown[48];

        if (col == f->ncols) {
            size_t found = col + 1 + count_byte(s, e, '\t');
            if (found == col + 1 && s == e)
                errf(err, errlen, "%s:%lu: column %zu: TAB after the last of %zu values", f->path,
                     lineno, col + 1, f->ncols);
            else
                errf(err, errlen, "%s:%lu: column %zu: expected %zu values, found %zu", f->path,
                     lineno, col + 1, f->ncols, found);
            return -EINVAL;
        }
        rc = parse_decimal(s, e, &v, &q);
        if (rc == 0 && (q == e || *q == '\t')) {
            fe = q;
        } else {
            fe = memchr(s, '\t', (size_t)(e - s));
            if (!fe)
                fe = e;
        }
        flen = (size_t)(fe - s);
        if (flen == 0) {
            errf(err, errlen, "%s:%lu: column %zu: empty field", f->path, lineno, col + 1);
            return -EINVAL;
        }
        if (flen > SB_DSFILE_MAX_VALUE_CHARS) {
            show_field(shown, sizeof(shown), s, flen);
            errf(err, errlen, "%s:%lu: column %zu: value longer than %d characters: \"%s\"",
                 f->path, lineno, col + 1, SB_DSFILE_MAX_VALUE_CHARS, shown);
            return -EINVAL;
        }
        if (rc != 0 || q != fe) {
            show_field(shown, sizeof(shown), s, flen);
            errf(err, errlen, "%s:%lu: column %zu: %s: \"%s\"", f->path, lineno, col + 1,
                 rc == SB_DS_RANGE ? "value out of range" : "not a decimal number", shown);
            return -EINVAL;
        }
        f->values[col] = v;
        f->text[col] = s;
        f->textlen[col] = (uint8_t)flen;
        col++;
        if (fe == e)
            break;
        p = fe + 1;
    }
    if (col < f->ncols) {
        errf(err, errlen, "%s:%lu: column %zu: expected %zu values, found %zu", f->path, lineno,
             col + 1, f->ncols, col);
        return -EINVAL;
    }
    return 0;
}

int sb_dsfile_open(struct sb_dsfile **out, const char *path, size_t ncols, char *err, size_t errlen)
{
    struct sb_dsfile *f;
    int fd;

    *out = NULL;
    /* n values need at least 2n - 1 bytes, so more columns than this can
     * never fit a valid row; the cap also bounds the arrays below. */
    if (ncols == 0 || ncols > SB_DSFILE_MAX_ROW_BYTES / 2 + 1) {
        errf(err, errlen, "%s: invalid column count %zu", path, ncols);
        return -EINVAL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e <= 0)
            e = EIO;
        errf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
#ifdef POSIX_FADV_SEQUENTIAL
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    f = sb_xcalloc(1, sizeof(*f));
    f->fd = fd;
    f->path = sb_xstrdup(path);
    f->ncols = ncols;
    f->cap = 2 * SB_DS_CHUNK;
    f->buf = sb_xmalloc(f->cap);
    f->values = sb_xcalloc(ncols, sizeof(*f->values));
    f->text = sb_xcalloc(ncols, sizeof(*f->text));
    f->textlen = sb_xcalloc(ncols, sizeof(*f->textlen));
    *out = f;
    return 0;
}

void sb_dsfile_close(struct sb_dsfile *f)
{
    if (!f)
        return;
    close(f->fd);
    free(f->path);
    free(f->buf);
    free(f->values);
    free(f->text);
    free(f->textlen);
    free(f);
}

static bool only_cr(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\r')
            return false;
    }
    return true;
}

int sb_dsfile_next(struct sb_dsfile *f, struct sb_row *row, char *err, size_t errlen)
{
    char *line = NULL;
    size_t len = 0;
    unsigned index;
    int r;

    r = read_line(f, &line, &len);
    if (r == 0)
        return 0;
    if (r < 0) {
        errf(err, errlen, "%s:%lu: %s", f->path, f->line + 1, strerror(-r));
        return r;
    }
    index = f->index;
    if (r == SB_DS_TOO_LONG) {
        f->index++;
        errf(err, errlen, "%s:%lu: column 1: row longer than %d bytes", f->path, f->line,
             SB_DSFILE_MAX_ROW_BYTES);
        return -EINVAL;
    }
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len > SB_DSFILE_MAX_ROW_BYTES) {
        f->index++;
        errf(err, errlen, "%s:%lu: column 1: row longer than %d bytes", f->path, f->line,
             SB_DSFILE_MAX_ROW_BYTES);
        return -EINVAL;
    }
    if (only_cr(line, len)) {
        unsigned long lineno = f->line;
        /* The line is consumed, so the look-ahead may move the buffer. */
        r = rest_is_blank(f);
        if (r < 0) {
            errf(err, errlen, "%s:%lu: %s", f->path, f->line + 1, strerror(-r));
            return r;
        }
        if (r == 1) {
            f->pos = f->end;
            return 0;
        }
        f->index++;
        errf(err, errlen, "%s:%lu: column 1: empty line, expected %zu values", f->path, lineno,
             f->ncols);
        return -EINVAL;
    }
    f->index++;
    r = parse_row(f, line, len, f->line, err, errlen);
    if (r < 0)
        return r;
    row->index = index;
    row->nvalues = f->ncols;
    row->values = f->values;
    row->text = f->text;
    row->textlen = f->textlen;
    return 1;
}

int sb_dsfile_seek(struct sb_dsfile *f, unsigned index)
{
    int r;

    /* Going forward needs no rewind: the rows before us are already skipped. */
    if (index < f->index || f->line == 0) {
        if (lseek(f->fd, 0, SEEK_SET) < 0)
            return -errno;
        f->pos = 0;
        f->end = 0;
        f->eof = false;
        f->index = 0;
        f->line = 0;
    }
    while (f->index < index) {
        bool blank;
        r = skip_line(f, &blank);
        if (r < 0)
            return r;
        if (r == 0)
            return 1;
        f->index++;
    }
    r = rest_is_blank(f);
    if (r < 0)
        return r;
    if (r == 1) {
        f->pos = f->end;
        return 1;
    }
    return 0;
}

int sb_dsfile_count_rows(const char *path, unsigned *rows)
{
    struct sb_dsfile *f;
    unsigned long n = 0;
    unsigned long last = 0;
    bool blank;
    int r;

    r = sb_dsfile_open(&f, path, 1, NULL, 0);
    if (r < 0)
        return r;
    if (!f) /* never; tells clang's analyzer that -errno is not 0 */
        return -EIO;
    while ((r = skip_line(f, &blank)) == 1) {
        n++;
        /* Blank lines count as (bad) rows unless only blank lines follow. */
        if (!blank)
            last = n;
    }
    sb_dsfile_close(f);
    if (r < 0)
        return r;
    if (last > UINT32_MAX)
        return -EOVERFLOW;
    *rows = (unsigned)last;
    return 0;
}

double sb_upsample_linear(const double *v, size_t n, unsigned factor, size_t k)
{
    size_t centre0, x, j, rem;
    double y;

    if (!v || n == 0 || factor == 0 || k / factor >= n)
        return NAN;
    /* Centres are whole samples (j * factor + factor / 2), so each v[j]
     * is reproduced exactly and factor 1 is the identity. */
    centre0 = factor / 2;
    if (k <= centre0) {
        y = v[0];
    } else {
        x = k - centre0; /* samples past the first centre */
        j = x / factor;
        rem = x % factor;
        if (j >= n - 1)
            y = v[n - 1];
        else if (rem == 0)
            y = v[j];
        else
            y = v[j] + (v[j + 1] - v[j]) * ((double)rem / (double)factor);
    }
    /* The result is the double nearest a 3-decimal number, like a value
     * parsed from the original files, so it prints back as short text. */
    return round(y * 1000.0) / 1000.0;
}

int sb_profile_load(const char *path, int **out, size_t *rows, char *err, size_t errlen)
{
    *out = NULL;
    *rows = 0;
    struct sb_dsfile *f;
    int rc = sb_dsfile_open(&f, path, SB_PROFILE_COLUMNS, err, errlen);
    if (rc)
        return rc;
    struct sb_row row;
    size_t n = 0, cap = 0;
    int *v = NULL;
    while ((rc = sb_dsfile_next(f, &row, err, errlen)) == 1) {
        if (n == SB_PROFILE_MAX_ROWS) {
            snprintf(err, errlen, "%s: more than %u rows", path, SB_PROFILE_MAX_ROWS);
            rc = -EINVAL;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            v = sb_xrealloc(v, cap * SB_PROFILE_COLUMNS * sizeof(int));
        }
        for (int i = 0; i < SB_PROFILE_COLUMNS; i++)
            v[n * SB_PROFILE_COLUMNS + i] = (int)row.values[i];
        n++;
    }
    sb_dsfile_close(f);
    if (rc < 0) {
        free(v);
        return rc;
    }
    *out = v;
    *rows = n;
    return 0;
}
