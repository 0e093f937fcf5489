/*
 * dataset.h - streaming reader for UCI hydraulic files: one row per 60-s
 * cycle, values separated by one TAB, rows ending in LF or CRLF. Rows are
 * read one at a time into a bounded buffer, so a 90 MB file of 45 KB rows
 * costs one row of memory. Pure: plain stdio, no loop.
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
 * CRLF line ends and a missing newline on the last row are accepted. */
int sb_dsfile_next(struct sb_dsfile *f, struct sb_row *row, char *err, size_t errlen);

/* Moves to row `index` (0-based) from the start of the file, skipping rows
 * without parsing them. Returns 0, 1 if the file has fewer rows (then at
 * EOF), or -errno. */
int sb_dsfile_seek(struct sb_dsfile *f, unsigned index);

/* Counts the rows (lines with content) in a file without parsing them. */
int sb_dsfile_count_rows(const char *path, unsigned *rows);

#endif
