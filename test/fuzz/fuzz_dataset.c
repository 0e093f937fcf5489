/*
 * fuzz_dataset.c - the dataset row reader (sb_dsfile_open, _next, _seek,
 * _count_rows) on the bytes of a dataset file: what the replay reads from
 * [replay] dataset, a directory anyone may fill.
 *
 * The reader opens a path, so each input goes into a memfd opened through
 * /proc/self/fd (no disk, and seekable like a file). The number of
 * columns expected is the number of fields of the input's first line, as
 * for a real file whose rows all agree, so later rows exercise the
 * mismatches. Each input is checked twice: as it is, and shifted
 * behind lines of filler so that the end of the reader's first buffer
 * (BOUNDARY) falls inside it, at a byte the input's first byte chooses:
 * its rows then cross a read and the buffer moves under them
 * (dataset.c), which a short input alone never makes it do. Each file is
 * read row by row to the end, and:
 *   - every call returns 1, 0 or -EINVAL (the reader moves past a
 *     malformed row), row.index counts up from 0 over good and bad rows
 *     alike, and the loop ends within one row per line;
 *   - a good row has ncols values, each finite, from 1..31 bytes of
 *     decimal text that strtod turns into exactly the same double (the
 *     reader's fast path claims strtod's result);
 *   - a malformed row's error names the file and a line ("PATH:LINE: ");
 *   - sb_dsfile_count_rows counts as many rows as the reader numbered;
 *   - sb_dsfile_seek to a row (forward from the start, then back) is
 *     followed by the same outcome as the sequential read had for that
 *     row, and seeking past the last row returns 1 and then EOF.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "sensorbridge/dataset.h"

/* The end of the reader's first buffer, two of its 64 KiB reads: the
 * third read moves the unread rest to the front (dataset.c). */
#define BOUNDARY (2 * 64 * 1024)
/* Lines of filler before the shifted input: malformed rows, cheap to skip. */
#define FILLER_LINE (16 * 1024)
/* Longer inputs (only from a replayed corpus: -max_len is 16 KiB) are
 * checked only as they are. */
#define MAX_SHIFTED (32 * 1024)

/* Outcomes of the sequential read kept for the seek checks: per row,
 * 1 (good, with a hash of its values) or -EINVAL. Rows past this many
 * are read and checked but not sought. */
#define MAX_TRACKED_ROWS 4096

struct outcome {
    int rc;
    uint64_t hash;
};

static struct outcome rows[MAX_TRACKED_ROWS];
static char path[64];
static int memfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    memfd = memfd_create("sb-fuzz-dataset", MFD_CLOEXEC);
    SB_FUZZ_CHECK(memfd >= 0, "memfd_create: %s", strerror(errno));
    snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
    return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
    SB_FUZZ_CHECK(ftruncate(memfd, 0) == 0, "ftruncate: %s", strerror(errno));
    for (size_t off = 0; off < size;) {
        ssize_t n = pwrite(memfd, data + off, size - off, (off_t)off);
        SB_FUZZ_CHECK(n > 0, "pwrite: %s", strerror(errno));
        off += (size_t)n;
    }
}

static bool decimal_char(char c)
{
    return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
}

/* FNV-1a over the values' bits. */
static uint64_t hash_row(const struct sb_row *row)
{
    uint64_t h = 14695981039346656037u;
    for (size_t i = 0; i < row->nvalues; i++) {
        const unsigned char *b = (const unsigned char *)&row->values[i];
        for (size_t k = 0; k < sizeof(double); k++)
            h = (h ^ b[k]) * 1099511628211u;
    }
    return h;
}

static void check_row(const struct sb_row *row, size_t ncols)
{
    SB_FUZZ_CHECK(row->nvalues == ncols, "row %u: %zu values, expected %zu", row->index,
                  row->nvalues, ncols);
    for (size_t i = 0; i < row->nvalues; i++) {
        size_t n = row->textlen[i];
        SB_FUZZ_CHECK(n >= 1 && n <= SB_DSFILE_MAX_VALUE_CHARS, "row %u column %zu: %zu bytes",
                      row->index, i + 1, n);
        char text[SB_DSFILE_MAX_VALUE_CHARS + 1];
        memcpy(text, row->text[i], n);
        text[n] = '\0';
        for (size_t k = 0; k < n; k++)
            SB_FUZZ_CHECK(decimal_char(text[k]), "row %u column %zu: \"%s\"", row->index, i + 1,
                          text);
        double v = row->values[i];
        SB_FUZZ_CHECK(isfinite(v), "row %u column %zu: \"%s\" is %g", row->index, i + 1, text, v);
        char *end;
        double want = strtod(text, &end);
        SB_FUZZ_CHECK(*end == '\0' && memcmp(&want, &v, sizeof(v)) == 0,
                      "row %u column %zu: \"%s\" read as %.17g, strtod gives %.17g", row->index,
                      i + 1, text, v, want);
    }
}

static void check_error(const char *err)
{
    size_t plen = strlen(path);
    SB_FUZZ_CHECK(strncmp(err, path, plen) == 0 && err[plen] == ':', "error \"%s\" names no file",
                  err);
    char *end;
    unsigned long line = strtoul(err + plen + 1, &end, 10);
    SB_FUZZ_CHECK(line >= 1 && *end == ':', "error \"%s\" names no line", err);
}

/* The next row's outcome, checked against the sequential read's. */
static void expect_row(struct sb_dsfile *f, unsigned index, const char *how)
{
    struct sb_row row;
    char err[512];
    int rc = sb_dsfile_next(f, &row, err, sizeof(err));
    SB_FUZZ_CHECK(rc == rows[index].rc, "%s row %u: %d, sequentially %d", how, index, rc,
                  rows[index].rc);
    if (rc == 1) {
        SB_FUZZ_CHECK(row.index == index, "%s row %u: index %u", how, index, row.index);
        SB_FUZZ_CHECK(hash_row(&row) == rows[index].hash, "%s row %u: other values", how, index);
    }
}

/* Reads the file holding data[0, size) with ncols columns expected. */
static void check_file(const uint8_t *data, size_t size, size_t ncols)
{
    write_input(data, size);
    struct sb_dsfile *f;
    char err[512];
    int rc = sb_dsfile_open(&f, path, ncols, err, sizeof(err));
    if (rc == -EINVAL) {
        /* More columns than a row of SB_DSFILE_MAX_ROW_BYTES can hold. */
        SB_FUZZ_CHECK(ncols > SB_DSFILE_MAX_ROW_BYTES / 2 + 1, "open: %s", err);
        return;
    }
    SB_FUZZ_CHECK(rc == 0, "open: %s", err);

    /* memchr, not a loop over every byte: the harness is instrumented too. */
    size_t nlines = 1;
    for (const uint8_t *p = data, *e = data + size; (p = memchr(p, '\n', (size_t)(e - p))); p++)
        nlines++;
    unsigned nrows = 0;
    for (;;) {
        struct sb_row row;
        err[0] = '\0';
        rc = sb_dsfile_next(f, &row, err, sizeof(err));
        if (rc == 0)
            break;
        SB_FUZZ_CHECK(rc == 1 || rc == -EINVAL, "row %u: %d (%s)", nrows, rc, err);
        SB_FUZZ_CHECK(nrows < nlines, "row %u of a file of %zu lines", nrows, nlines);
        uint64_t h = 0;
        if (rc == 1) {
            SB_FUZZ_CHECK(row.index == nrows, "row %u has index %u", nrows, row.index);
            check_row(&row, ncols);
            h = hash_row(&row);
        } else {
            check_error(err);
        }
        if (nrows < MAX_TRACKED_ROWS)
            rows[nrows] = (struct outcome){rc, h};
        nrows++;
    }
    struct sb_row row;
    SB_FUZZ_CHECK(sb_dsfile_next(f, &row, err, sizeof(err)) == 0, "a read after EOF");

    /* Only a run of blank lines too long to buffer (over a MiB) makes the
     * count differ, as dataset.h documents; inputs here are shorter. */
    unsigned counted = 0;
    SB_FUZZ_CHECK(sb_dsfile_count_rows(path, &counted) == 0, "count_rows failed");
    SB_FUZZ_CHECK(size > SB_DSFILE_MAX_ROW_BYTES || counted == nrows,
                  "count_rows %u, the reader numbered %u", counted, nrows);

    /* Seek back (rewinding) to a row chosen by the input, then forward. */
    unsigned tracked = nrows < MAX_TRACKED_ROWS ? nrows : MAX_TRACKED_ROWS;
    if (tracked > 0) {
        unsigned k = (unsigned)(size * 2654435761u % tracked);
        SB_FUZZ_CHECK(sb_dsfile_seek(f, k) == 0, "seek to row %u of %u", k, nrows);
        expect_row(f, k, "after a backward seek,");
        unsigned j = k + 1 + (unsigned)(size % 7);
        if (j < tracked) {
            SB_FUZZ_CHECK(sb_dsfile_seek(f, j) == 0, "forward seek to row %u of %u", j, nrows);
            expect_row(f, j, "after a forward seek,");
        }
    }
    SB_FUZZ_CHECK(sb_dsfile_seek(f, nrows) == 1, "seek past the last of %u rows", nrows);
    SB_FUZZ_CHECK(sb_dsfile_next(f, &row, err, sizeof(err)) == 0, "a read after seeking past EOF");
    sb_dsfile_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t shifted[BOUNDARY + MAX_SHIFTED];
    const uint8_t *nl = memchr(data, '\n', size);
    size_t first = nl ? (size_t)(nl - data) : size;
    size_t ncols = 1;
    for (size_t i = 0; i < first; i++)
        ncols += data[i] == '\t';

    check_file(data, size, ncols);
    if (size == 0 || size > MAX_SHIFTED)
        return 0;
    /* The input's byte k lands on the boundary; k is up to the input. */
    size_t k = (size_t)data[0] * size / 256;
    size_t lead = BOUNDARY - k;
    for (size_t i = 0; i < lead; i += FILLER_LINE) {
        size_t n = lead - i < FILLER_LINE ? lead - i : FILLER_LINE;
        memset(shifted + i, 'x', n - 1);
        shifted[i + n - 1] = '\n';
    }
    memcpy(shifted + lead, data, size);
    check_file(shifted, lead + size, ncols);
    return 0;
}
