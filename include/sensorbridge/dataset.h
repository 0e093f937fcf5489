/*
 * dataset.h - streaming reader for UCI hydraulic files: one row per 60-s
 * cycle, values separated by one TAB, rows ending in LF or CRLF. Rows are
 * read one at a time into a bounded buffer, so a 90 MB file of 45 KB rows
 * costs one row of memory (the buffer grows to about one row plus 64 KiB,
 * at most SB_DSFILE_MAX_ROW_BYTES + 64 KiB). Pure: plain POSIX read(2), no
 * loop. Reads block, which is fine for local files.
 *
 * Line numbering: every LF ends a line, and every line is a row (blank
 * lines in the middle of a file are malformed rows), except that blank
 * lines (empty or CR only) at the end of the file are not rows.
 *
 * Ownership: sb_dsfile_open returns a reader the caller frees with
 * sb_dsfile_close. A struct sb_row is filled by sb_dsfile_next; its
 * pointers stay valid until the next call on the same reader.
 */
#ifndef SB_DATASET_H
#define SB_DATASET_H

#include <stddef.h>
#include <stdint.h>

#define SB_DSFILE_MAX_ROW_BYTES (1024 * 1024) /* a longer row is invalid */
#define SB_DSFILE_MAX_VALUE_CHARS 31          /* a longer field is invalid */

struct sb_dsfile;

struct sb_row {
    unsigned index; /* 0-based row number in the file = cycle */
    size_t nvalues;
    const double *values;
    /* values[i] came from text[i] (not NUL-terminated), textlen[i] bytes:
     * the file's own digits, to be sent unchanged. */
    const char *const *text;
    const uint8_t *textlen;
};

/* Opens `path` and expects `ncols` values per row. Returns 0 or -errno,
 * with a message in err. */
int sb_dsfile_open(struct sb_dsfile **out, const char *path, size_t ncols, char *err,
                   size_t errlen);
void sb_dsfile_close(struct sb_dsfile *f);

/* Reads the next row. Returns:
 *   1  a valid row is in *row;
 *   0  end of file;
 *  -EINVAL  the row is malformed (short, long, empty field, not a finite
 *           decimal, over SB_DSFILE_MAX_ROW_BYTES): err names the file, row
 *           (1-based line) and column; the reader has moved past that row,
 *           so the caller may skip it and call again;
 *  -errno   a read error.
 * CRLF line ends and a missing newline on the last row are accepted.
 * A field is a decimal: [+-]digits[.digits][(e|E)[+-]digits], at most
 * SB_DSFILE_MAX_VALUE_CHARS characters, finite; no spaces, hex, inf or nan.
 * Error messages look like "PATH:LINE: column C: why", e.g.
 * "data/PS1.txt:17: column 6000: expected 6000 values, found 5999".
 * A malformed row still uses up its index, so row.index stays the cycle. */
int sb_dsfile_next(struct sb_dsfile *f, struct sb_row *row, char *err, size_t errlen);

/* Moves to row `index` (0-based), skipping rows with memchr and without
 * parsing them (a forward seek continues from the current row; a backward
 * one rewinds, so the file must be seekable). Returns 0 if row `index`
 * exists (the next sb_dsfile_next returns it, or its error), 1 if the file
 * has `index` rows or fewer (the reader is then at EOF), or -errno. */
int sb_dsfile_seek(struct sb_dsfile *f, unsigned index);

/* Counts the rows of a file as sb_dsfile_next numbers them (trailing blank
 * lines excluded) without parsing them. Returns 0 or -errno. */
int sb_dsfile_count_rows(const char *path, unsigned *rows);

/*
 * profile.txt: the condition labels, SB_PROFILE_COLUMNS integers per cycle
 * (cooler %, valve %, pump leakage, accumulator bar, stable flag).
 */
#define SB_PROFILE_COLUMNS 5
#define SB_PROFILE_MAX_ROWS 1000000u /* a longer file is refused */

/* Reads a profile.txt into *out, rows * SB_PROFILE_COLUMNS ints (freed
 * with free(); NULL when the file has no rows), and its row count into
 * *rows. Returns 0, or -errno / -EINVAL with the message of
 * sb_dsfile_next ("PATH:LINE: column C: why") in err; nothing is
 * allocated on failure. */
int sb_profile_load(const char *path, int **out, size_t *rows, char *err, size_t errlen);

/*
 * Upsampling for stand-in files that hold only 1-second means.
 *
 * Returns sample k (0 <= k < n * factor) of a signal sampled `factor`
 * times per second whose 1-second means are v[0..n-1]. Sample k is taken
 * at k / factor seconds; v[j] is placed at the middle sample of second j,
 * j * factor + factor / 2 (integer division: j + 0.5 s for the even
 * factors 100 and 10), and samples in between are interpolated linearly
 * from the two nearest centres. Before the first centre and after the
 * last, v[0] and v[n-1] are held; factor 1 returns v[k]. The result is
 * rounded to 3 decimals, the precision of the original files, so it
 * prints back as short text (sb_fmt_double).
 *
 * This is not the raw signal: peaks, troughs and everything above 0.5 Hz
 * are gone, and the 1-second means of the result are only close to v
 * (interpolation blends each second with its neighbours). Pure and O(1);
 * returns NAN if v is NULL, n or factor is 0, or k is out of range.
 */
double sb_upsample_linear(const double *v, size_t n, unsigned factor, size_t k);

#endif
