/* test_dataset.c - the streaming row reader and the upsampling helper. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sensorbridge/dataset.h"
#include "sensorbridge/util.h"

/* Temporary files hold the malformed inputs, so test/fixtures keeps only
 * real data. Each test writes its own and removes it. */
static char *tmp_write(const char *data, size_t len)
{
    const char *dir = getenv("TMPDIR");
    char *path = sb_xmalloc(4096);
    int fd;

    snprintf(path, 4096, "%s/sb_test_dataset_XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static char *tmp_writes(const char *s)
{
    return tmp_write(s, strlen(s));
}

static void tmp_remove(char *path)
{
    unlink(path);
    free(path);
}

static char *fixture(const char *name)
{
    const char *dir = getenv("SB_FIXTURES");
    char *path = sb_xmalloc(4096);

    snprintf(path, 4096, "%s/%s", dir && *dir ? dir : "test/fixtures", name);
    return path;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *data;
    long n;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    data = sb_xmalloc((size_t)n + 1);
    assert_int_equal(fread(data, 1, (size_t)n, fp), (size_t)n);
    data[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return data;
}

static void assert_text(const struct sb_row *row, size_t i, const char *want)
{
    assert_int_equal(row->textlen[i], strlen(want));
    assert_memory_equal(row->text[i], want, strlen(want));
}

/* Opens `path`, expects exactly one error and a good row after it. */
static void expect_bad_row(const char *content, size_t ncols, const char *want_err)
{
    char *path = tmp_writes(content);
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256] = "";
    char want[512];

    assert_int_equal(sb_dsfile_open(&f, path, ncols, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s:%s", path, want_err);
    assert_string_equal(err, want);
    /* The reader has moved past the bad row. */
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 1);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
    sb_dsfile_close(f);
    tmp_remove(path);
}

static void dataset_real_ps2_excerpt(void **state)
{
    char *path = fixture("PS2_cycles_0001-0002.txt");
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];
    double sum = 0;
    size_t n = 0;
    unsigned rows = 0;

    (void)state;
    assert_int_equal(sb_dsfile_count_rows(path, &rows), 0);
    assert_int_equal(rows, 2);
    assert_int_equal(sb_dsfile_open(&f, path, 6000, err, sizeof(err)), 0);

    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 0);
    assert_int_equal(row.nvalues, 6000);
    assert_text(&row, 0, "125.5");
    assert_text(&row, 5999, "125.1");
    assert_true(row.values[0] == 125.5);
    for (size_t i = 0; i < row.nvalues; i++, n++)
        sum += row.values[i];

    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 1);
    assert_text(&row, 0, "125.06");
    assert_text(&row, 5999, "125.04");
    for (size_t i = 0; i < row.nvalues; i++, n++)
        sum += row.values[i];

    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
    assert_int_equal(n, 12000);
    /* README table: mean over both rows 109.4109. */
    assert_float_equal(sum / (double)n, 109.4109, 1e-4);
    sb_dsfile_close(f);
    free(path);
}

static void dataset_real_fs1_excerpt_without_final_newline(void **state)
{
    char *path = fixture("FS1_cycles_0001-0002.txt");
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];
    double sum = 0;
    size_t n = 0;
    unsigned rows = 0;
    size_t len;
    char *data = slurp(path, &len);

    (void)state;
    assert_true(len > 0 && data[len - 1] != '\n'); /* the point of this fixture */
    assert_int_equal(sb_dsfile_count_rows(path, &rows), 0);
    assert_int_equal(rows, 2);
    assert_int_equal(sb_dsfile_open(&f, path, 600, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_text(&row, 0, "8.99");
    assert_text(&row, 599, "8.036");
    for (size_t i = 0; i < row.nvalues; i++, n++)
        sum += row.values[i];
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 1);
    assert_int_equal(row.nvalues, 600);
    assert_text(&row, 0, "8.919");
    assert_text(&row, 599, "7.89");
    for (size_t i = 0; i < row.nvalues; i++, n++)
        sum += row.values[i];
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
    assert_float_equal(sum / (double)n, 6.7126, 1e-4);
    sb_dsfile_close(f);
    free(data);
    free(path);
}

/* Joining the text pointers with the file's separators gives back the
 * file byte for byte: the daemon can forward the original digits. */
static void check_roundtrip(const char *name, size_t ncols)
{
    char *path = fixture(name);
    size_t len;
    char *data = slurp(path, &len);
    struct sb_buf b;
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];
    int r;

    sb_buf_init(&b);
    assert_int_equal(sb_dsfile_open(&f, path, ncols, err, sizeof(err)), 0);
    while ((r = sb_dsfile_next(f, &row, err, sizeof(err))) == 1) {
        if (b.len)
            sb_buf_putc(&b, '\n');
        for (size_t i = 0; i < row.nvalues; i++) {
            char tmp[40];
            if (i)
                sb_buf_putc(&b, '\t');
            sb_buf_append(&b, row.text[i], row.textlen[i]);
            /* The fast parser agrees with strtod bit for bit. */
            memcpy(tmp, row.text[i], row.textlen[i]);
            tmp[row.textlen[i]] = '\0';
            assert_true(row.values[i] == strtod(tmp, NULL));
        }
    }
    assert_int_equal(r, 0);
    if (len && data[len - 1] == '\n')
        sb_buf_putc(&b, '\n');
    assert_int_equal(b.len, len);
    assert_memory_equal(b.data, data, len);
    sb_dsfile_close(f);
    sb_buf_free(&b);
    free(data);
    free(path);
}

static void dataset_text_is_original_digits(void **state)
{
    (void)state;
    check_roundtrip("PS2_cycles_0001-0002.txt", 6000);
    check_roundtrip("FS1_cycles_0001-0002.txt", 600);
}

static void dataset_short_row(void **state)
{
    (void)state;
    expect_bad_row("1\t2\n4\t5\t6\n", 3, "1: column 3: expected 3 values, found 2");
    expect_bad_row("7\n4\t5\t6\n", 3, "1: column 2: expected 3 values, found 1");
}

static void dataset_short_row_in_the_middle(void **state)
{
    char *path = tmp_writes("1\t2\t3\n1\t2\n4\t5\t6\n");
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];
    char want[512];

    (void)state;
    assert_int_equal(sb_dsfile_open(&f, path, 3, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s:2: column 3: expected 3 values, found 2", path);
    assert_string_equal(err, want);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    /* A bad row keeps its index, so row n is still cycle n. */
    assert_int_equal(row.index, 2);
    assert_true(row.values[2] == 6.0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
    sb_dsfile_close(f);
    tmp_remove(path);
}

static void dataset_long_row(void **state)
{
    (void)state;
    expect_bad_row("1\t2\t3\t4\n4\t5\t6\n", 3, "1: column 4: expected 3 values, found 4");
    expect_bad_row("1\t2\t3\t4\tx\t\n4\t5\t6\n", 3, "1: column 4: expected 3 values, found 6");
    expect_bad_row("1\t2\t3\t\n4\t5\t6\n", 3, "1: column 4: TAB after the last of 3 values");
}

static void dataset_crlf(void **state)
{
    char *path = tmp_writes("1.5\t2\r\n3\t4.25\r\n");
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];
    unsigned rows;

    (void)state;
    assert_int_equal(sb_dsfile_open(&f, path, 2, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_text(&row, 1, "2");
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_text(&row, 1, "4.25");
    assert_true(row.values[1] == 4.25);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
    sb_dsfile_close(f);
    assert_int_equal(sb_dsfile_count_rows(path, &rows), 0);
    assert_int_equal(rows, 2);
    tmp_remove(path);
}

static void dataset_crlf_errors_name_the_line(void **state)
{
    (void)state;
    expect_bad_row("1\t2\t\r\n4\t5\r\n", 2, "1: column 3: TAB after the last of 2 values");
    expect_bad_row("1\r\r\n4\t5\r\n", 2, "1: column 1: not a decimal number: \"1?\"");
}

static void dataset_garbage_fields(void **state)
{
    static const char *bad[] = {
        "abc",  "1.2.3", "1x", "nan", "NaN", "inf", "-inf", "infinity", "0x10", "0x1p3",
        "1e",   "1e+",   "+",  "-",   ".",   " 1",  "1 ",   "1,5",      "--1",  "1e5x",
        "\x01", "1\v",   "e5", ".e1", "+.",  "1_0", "١",    "1.5f",
    };
    (void)state;
    for (size_t i = 0; i < SB_ARRAY_SIZE(bad); i++) {
        char content[128];
        char want[128];
        char shown[64];
        size_t k = 0;
        for (const char *p = bad[i]; *p; p++)
            shown[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
        shown[k] = '\0';
        snprintf(content, sizeof(content), "7\t%s\n8\t9\n", bad[i]);
        snprintf(want, sizeof(want), "1: column 2: not a decimal number: \"%s\"", shown);
        expect_bad_row(content, 2, want);
    }
}

static void dataset_rejects_out_of_range(void **state)
{
    (void)state;
    expect_bad_row("1e999\t1\n8\t9\n", 2, "1: column 1: value out of range: \"1e999\"");
    expect_bad_row("1\t-1e400\n8\t9\n", 2, "1: column 2: value out of range: \"-1e400\"");
}

static void dataset_accepts_decimal_forms(void **state)
{
    static const char *good[] = {
        "0",
        "-0",
        "+2",
        ".5",
        "5.",
        "1e3",
        "1.5E-2",
        "-1.25",
        "0.001",
        "0.000",
        "007",
        "1e-400",
        "12345678901234567890123",
        "0.1234567890123456789012",
        "8e-05",
        "9007199254740993",
    };
    struct sb_buf b;
    char *path;
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];

    (void)state;
    sb_buf_init(&b);
    for (size_t i = 0; i < SB_ARRAY_SIZE(good); i++) {
        if (i)
            sb_buf_putc(&b, '\t');
        sb_buf_puts(&b, good[i]);
    }
    path = tmp_write(b.data, b.len);
    assert_int_equal(sb_dsfile_open(&f, path, SB_ARRAY_SIZE(good), err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    for (size_t i = 0; i < SB_ARRAY_SIZE(good); i++) {
        double want = strtod(good[i], NULL);
        assert_memory_equal(&row.values[i], &want, sizeof(want));
        assert_text(&row, i, good[i]);
    }
    assert_true(signbit(row.values[1]));
    sb_dsfile_close(f);
    sb_buf_free(&b);
    tmp_remove(path);
}

/* The fast path must give strtod's double for every plausible spelling. */
static void dataset_parse_matches_strtod(void **state)
{
    enum { N = 20000 };
    struct sb_buf b;
    char *path;
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];
    uint64_t x = 0x9e3779b97f4a7c15u;

    (void)state;
    sb_buf_init(&b);
    for (int i = 0; i < N; i++) {
        char tmp[48];
        int ip, fd;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* Random digits, up to 25 significant ones and an exponent, at
         * most SB_DSFILE_MAX_VALUE_CHARS in all. */
        ip = (int)(x % 15);
        fd = (int)((x >> 8) % 12);
        {
            size_t k = 0;
            uint64_t y = x;
            if ((x >> 40) & 1)
                tmp[k++] = '-';
            for (int d = 0; d < ip; d++) {
                y = y * 6364136223846793005u + 1442695040888963407u;
                tmp[k++] = (char)('0' + (y >> 60) % 10);
            }
            if (fd || !ip) {
                tmp[k++] = '.';
                for (int d = 0; d < (fd ? fd : 1); d++) {
                    y = y * 6364136223846793005u + 1442695040888963407u;
                    tmp[k++] = (char)('0' + (y >> 60) % 10);
                }
            }
            if (((x >> 48) & 7) == 0)
                k += (size_t)snprintf(tmp + k, sizeof(tmp) - k, "e%d", (int)((x >> 52) % 61) - 30);
            tmp[k] = '\0';
        }
        if (i)
            sb_buf_putc(&b, '\t');
        sb_buf_puts(&b, tmp);
    }
    sb_buf_putc(&b, '\n');
    path = tmp_write(b.data, b.len);
    assert_int_equal(sb_dsfile_open(&f, path, N, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    for (size_t i = 0; i < row.nvalues; i++) {
        char tmp[40];
        double want;
        memcpy(tmp, row.text[i], row.textlen[i]);
        tmp[row.textlen[i]] = '\0';
        want = strtod(tmp, NULL);
        if (memcmp(&row.values[i], &want, sizeof(want)) != 0)
            fail_msg("\"%s\": got %.17g, strtod %.17g", tmp, row.values[i], want);
    }
    sb_dsfile_close(f);
    sb_buf_free(&b);
    tmp_remove(path);
}

static void dataset_empty_field(void **state)
{
    (void)state;
    expect_bad_row("1\t\t3\n4\t5\t6\n", 3, "1: column 2: empty field");
    expect_bad_row("\t2\t3\n4\t5\t6\n", 3, "1: column 1: empty field");
}

static void dataset_value_length_limit(void **state)
{
    char content[256];
    char digits[SB_DSFILE_MAX_VALUE_CHARS + 2];
    char want[256];

    (void)state;
    memset(digits, '1', sizeof(digits) - 1);
    digits[sizeof(digits) - 1] = '\0';
    /* 32 characters: refused. */
    snprintf(content, sizeof(content), "%s\t1\n2\t3\n", digits);
    snprintf(want, sizeof(want), "1: column 1: value longer than %d characters: \"%s\"",
             SB_DSFILE_MAX_VALUE_CHARS, digits);
    expect_bad_row(content, 2, want);
    /* 31 characters: accepted. */
    digits[SB_DSFILE_MAX_VALUE_CHARS] = '\0';
    snprintf(content, sizeof(content), "%s\t1\n", digits);
    {
        char *path = tmp_writes(content);
        struct sb_dsfile *f;
        struct sb_row row;
        char err[256];

        assert_int_equal(sb_dsfile_open(&f, path, 2, err, sizeof(err)), 0);
        assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
        assert_text(&row, 0, digits);
        assert_true(row.values[0] == strtod(digits, NULL));
        sb_dsfile_close(f);
        tmp_remove(path);
    }
}

/* Builds a row of exactly `bytes` bytes: "10" then "\t1" repeated. */
static void put_row_of(struct sb_buf *b, size_t bytes, size_t *ncols)
{
    size_t n = 1;
    sb_buf_puts(b, bytes % 2 ? "1" : "10");
    for (size_t len = bytes % 2 ? 1 : 2; len < bytes; len += 2, n++)
        sb_buf_append(b, "\t1", 2);
    *ncols = n;
}

static void dataset_huge_row_over_limit(void **state)
{
    struct sb_buf b;
    size_t ncols, ncols2;
    char *path;
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];
    char want[512];
    unsigned rows;

    (void)state;
    sb_buf_init(&b);
    put_row_of(&b, SB_DSFILE_MAX_ROW_BYTES + 2, &ncols);
    sb_buf_puts(&b, "\r\n");
    put_row_of(&b, SB_DSFILE_MAX_ROW_BYTES, &ncols2);
    assert_int_equal(ncols, ncols2 + 1);
    sb_buf_puts(&b, "\r\n"); /* exactly at the limit, CR not counted */
    put_row_of(&b, SB_DSFILE_MAX_ROW_BYTES + 1, &ncols);
    sb_buf_puts(&b, "\n");
    put_row_of(&b, 3 * SB_DSFILE_MAX_ROW_BYTES, &ncols);
    sb_buf_puts(&b, "\n");
    put_row_of(&b, SB_DSFILE_MAX_ROW_BYTES, &ncols);
    /* No final newline on a row at the limit. */
    path = tmp_write(b.data, b.len);
    assert_int_equal(sb_dsfile_count_rows(path, &rows), 0);
    assert_int_equal(rows, 5);

    assert_int_equal(sb_dsfile_open(&f, path, ncols2, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s:1: column 1: row longer than %d bytes", path,
             SB_DSFILE_MAX_ROW_BYTES);
    assert_string_equal(err, want);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 1);
    assert_int_equal(row.nvalues, ncols2);
    assert_text(&row, 0, "10");
    assert_text(&row, ncols2 - 1, "1");
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s:3: column 1: row longer than %d bytes", path,
             SB_DSFILE_MAX_ROW_BYTES);
    assert_string_equal(err, want);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s:4: column 1: row longer than %d bytes", path,
             SB_DSFILE_MAX_ROW_BYTES);
    assert_string_equal(err, want);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 4);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);

    /* Seeking skips rows of any length. */
    assert_int_equal(sb_dsfile_seek(f, 4), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 4);
    sb_dsfile_close(f);
    sb_buf_free(&b);
    tmp_remove(path);
}

static void dataset_no_final_newline(void **state)
{
    char *path = tmp_writes("1\t2\n3\t4");
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];
    unsigned rows;

    (void)state;
    assert_int_equal(sb_dsfile_count_rows(path, &rows), 0);
    assert_int_equal(rows, 2);
    assert_int_equal(sb_dsfile_open(&f, path, 2, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 1);
    assert_text(&row, 1, "4");
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
    sb_dsfile_close(f);
    tmp_remove(path);
}

static void dataset_trailing_blank_lines_are_not_rows(void **state)
{
    static const char *files[] = {"1\t2\n\n", "1\t2\n\r\n", "1\t2\n\n\r\n\n\r", "1\t2\r\n\r"};
    (void)state;
    for (size_t i = 0; i < SB_ARRAY_SIZE(files); i++) {
        char *path = tmp_writes(files[i]);
        struct sb_dsfile *f;
        struct sb_row row;
        char err[256];
        unsigned rows = 99;

        assert_int_equal(sb_dsfile_count_rows(path, &rows), 0);
        assert_int_equal(rows, 1);
        assert_int_equal(sb_dsfile_open(&f, path, 2, err, sizeof(err)), 0);
        assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
        assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
        assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
        assert_int_equal(sb_dsfile_seek(f, 1), 1);
        assert_int_equal(sb_dsfile_seek(f, 0), 0);
        sb_dsfile_close(f);
        tmp_remove(path);
    }
}

static void dataset_blank_line_inside_is_a_bad_row(void **state)
{
    char *path = tmp_writes("1\t2\n\n\r\n3\t4\n");
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];
    char want[512];
    unsigned rows;

    (void)state;
    assert_int_equal(sb_dsfile_count_rows(path, &rows), 0);
    assert_int_equal(rows, 4);
    assert_int_equal(sb_dsfile_open(&f, path, 2, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s:2: column 1: empty line, expected 2 values", path);
    assert_string_equal(err, want);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s:3: column 1: empty line, expected 2 values", path);
    assert_string_equal(err, want);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 3);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
    sb_dsfile_close(f);
    tmp_remove(path);
}

static void dataset_empty_file(void **state)
{
    char *path = tmp_writes("");
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];
    unsigned rows = 99;

    (void)state;
    assert_int_equal(sb_dsfile_count_rows(path, &rows), 0);
    assert_int_equal(rows, 0);
    assert_int_equal(sb_dsfile_open(&f, path, 60, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_seek(f, 0), 1);
    sb_dsfile_close(f);
    tmp_remove(path);
}

static void fmt_val(char *out, size_t cap, unsigned i, unsigned c)
{
    if (i % 4 == 0)
        snprintf(out, cap, "%u", i * 7 + c);
    else
        snprintf(out, cap, "%u.%0*u", i * 7 + c, (int)(i % 4), c % 10);
}

/* Many rows of varying length, so rows straddle every 64 KiB read. */
static void dataset_rows_across_read_chunks(void **state)
{
    enum { ROWS = 700, COLS = 600 };
    struct sb_buf b;
    char *path;
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];
    unsigned got = 0;
    int r;

    (void)state;
    sb_buf_init(&b);
    for (unsigned i = 0; i < ROWS; i++) {
        for (unsigned c = 0; c < COLS; c++) {
            char v[32];
            fmt_val(v, sizeof(v), i, c);
            sb_buf_printf(&b, "%s%s", c ? "\t" : "", v);
        }
        sb_buf_puts(&b, i % 3 ? "\n" : "\r\n");
    }
    path = tmp_write(b.data, b.len);
    assert_int_equal(sb_dsfile_open(&f, path, COLS, err, sizeof(err)), 0);
    while ((r = sb_dsfile_next(f, &row, err, sizeof(err))) == 1) {
        unsigned i = row.index;
        assert_int_equal(i, got);
        for (unsigned c = 0; c < COLS; c += 97) {
            char want[32];
            fmt_val(want, sizeof(want), i, c);
            assert_int_equal(row.textlen[c], strlen(want));
            assert_memory_equal(row.text[c], want, strlen(want));
            assert_true(row.values[c] == strtod(want, NULL));
        }
        got++;
    }
    assert_int_equal(r, 0);
    assert_int_equal(got, ROWS);
    sb_dsfile_close(f);
    sb_buf_free(&b);
    tmp_remove(path);
}

static void dataset_seek(void **state)
{
    struct sb_buf b;
    char *path;
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];

    (void)state;
    sb_buf_init(&b);
    for (unsigned i = 0; i < 10; i++)
        sb_buf_printf(&b, "%u\t%u\n", i, i * 10);
    path = tmp_write(b.data, b.len - 1); /* no final newline either */
    assert_int_equal(sb_dsfile_open(&f, path, 2, err, sizeof(err)), 0);

    assert_int_equal(sb_dsfile_seek(f, 5), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 5);
    assert_true(row.values[1] == 50);
    /* Forward from where we are. */
    assert_int_equal(sb_dsfile_seek(f, 8), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 8);
    /* Backward rewinds. */
    assert_int_equal(sb_dsfile_seek(f, 2), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 2);
    assert_true(row.values[0] == 2);
    /* The last row. */
    assert_int_equal(sb_dsfile_seek(f, 9), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 9);
    assert_text(&row, 1, "90");
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
    /* Past the end: 1, and the reader is at EOF. */
    assert_int_equal(sb_dsfile_seek(f, 10), 1);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_seek(f, 1000000), 1);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
    /* And back to the start after EOF, as a looping replay does. */
    assert_int_equal(sb_dsfile_seek(f, 0), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 0);
    sb_dsfile_close(f);
    sb_buf_free(&b);
    tmp_remove(path);
}

static void dataset_seek_real_excerpt(void **state)
{
    char *path = fixture("PS2_cycles_0001-0002.txt");
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];

    (void)state;
    assert_int_equal(sb_dsfile_open(&f, path, 6000, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_seek(f, 1), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 1);
    assert_int_equal(row.index, 1);
    assert_text(&row, 0, "125.06");
    assert_int_equal(sb_dsfile_seek(f, 2), 1);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), 0);
    sb_dsfile_close(f);
    free(path);
}

static void dataset_open_errors(void **state)
{
    struct sb_dsfile *f = (void *)1;
    char err[256];
    char *path = tmp_writes("1\n");
    unsigned rows;

    (void)state;
    assert_int_equal(sb_dsfile_open(&f, "/nonexistent/PS1.txt", 6000, err, sizeof(err)), -ENOENT);
    assert_null(f);
    assert_non_null(strstr(err, "/nonexistent/PS1.txt"));
    assert_int_equal(sb_dsfile_count_rows("/nonexistent/PS1.txt", &rows), -ENOENT);
    assert_int_equal(sb_dsfile_open(&f, path, 0, err, sizeof(err)), -EINVAL);
    assert_int_equal(sb_dsfile_open(&f, path, SB_DSFILE_MAX_ROW_BYTES, err, sizeof(err)), -EINVAL);
    /* A NULL or tiny err buffer is fine. */
    assert_int_equal(sb_dsfile_open(&f, path, 0, NULL, 0), -EINVAL);
    assert_int_equal(sb_dsfile_open(&f, path, 0, err, 1), -EINVAL);
    assert_string_equal(err, "");
    sb_dsfile_close(NULL);
    tmp_remove(path);
}

static void dataset_read_error_on_directory(void **state)
{
    struct sb_dsfile *f;
    struct sb_row row;
    char err[256];
    const char *dir = getenv("TMPDIR");

    (void)state;
    if (!dir || !*dir)
        dir = "/tmp";
    assert_int_equal(sb_dsfile_open(&f, dir, 2, err, sizeof(err)), 0);
    assert_int_equal(sb_dsfile_next(f, &row, err, sizeof(err)), -EISDIR);
    assert_non_null(strstr(err, dir));
    sb_dsfile_close(f);
}

/* --- upsampling --- */

static const double means[] = {10.0, 20.0, 15.5, 35.57, 8.0};

static void upsample_centres_are_exact(void **state)
{
    (void)state;
    for (size_t j = 0; j < SB_ARRAY_SIZE(means); j++) {
        assert_true(sb_upsample_linear(means, SB_ARRAY_SIZE(means), 100, j * 100 + 50) == means[j]);
        assert_true(sb_upsample_linear(means, SB_ARRAY_SIZE(means), 10, j * 10 + 5) == means[j]);
    }
}

static void upsample_holds_at_ends(void **state)
{
    size_t n = SB_ARRAY_SIZE(means);
    (void)state;
    for (size_t k = 0; k <= 50; k++)
        assert_true(sb_upsample_linear(means, n, 100, k) == 10.0);
    for (size_t k = (n - 1) * 100 + 50; k < n * 100; k++)
        assert_true(sb_upsample_linear(means, n, 100, k) == 8.0);
    assert_true(sb_upsample_linear(means, n, 100, 51) != 10.0);
    assert_true(sb_upsample_linear(means, n, 100, (n - 1) * 100 + 49) != 8.0);
}

static void upsample_linear_between_centres(void **state)
{
    size_t n = SB_ARRAY_SIZE(means);
    (void)state;
    /* Between the centres of seconds 0 (k = 50) and 1 (k = 150). */
    assert_true(sb_upsample_linear(means, n, 100, 100) == 15.0);
    assert_true(sb_upsample_linear(means, n, 100, 75) == 12.5);
    assert_true(sb_upsample_linear(means, n, 100, 51) == 10.1);
    assert_true(sb_upsample_linear(means, n, 100, 149) == 19.9);
    /* 15.5 -> 35.57 from k = 250 to 350: rounded to 3 decimals. */
    for (size_t k = 250; k <= 350; k++) {
        double t = (double)(k - 250) / 100.0;
        double want = round((15.5 + (35.57 - 15.5) * t) * 1000.0) / 1000.0;
        assert_float_equal(sb_upsample_linear(means, n, 100, k), want, 1e-12);
    }
    assert_true(sb_upsample_linear(means, n, 100, 333) == 32.158); /* 15.5 + 20.07*0.83 */
    /* Monotone between two centres. */
    for (size_t k = 350; k < 450; k++)
        assert_true(sb_upsample_linear(means, n, 100, k + 1) <=
                    sb_upsample_linear(means, n, 100, k));
}

static void upsample_rounds_to_3_decimals(void **state)
{
    static const double v[] = {0.0, 1.0};
    (void)state;
    /* Factor 3: the centres are samples 1 and 4. */
    assert_true(sb_upsample_linear(v, 2, 3, 0) == 0.0);
    assert_true(sb_upsample_linear(v, 2, 3, 1) == 0.0);
    assert_true(sb_upsample_linear(v, 2, 3, 2) == 0.333);
    assert_true(sb_upsample_linear(v, 2, 3, 3) == 0.667);
    assert_true(sb_upsample_linear(v, 2, 3, 4) == 1.0);
    assert_true(sb_upsample_linear(v, 2, 3, 5) == 1.0);
    for (size_t k = 0; k < 6; k++) {
        double y = sb_upsample_linear(v, 2, 3, k);
        char buf[32];
        sb_fmt_double(buf, sizeof(buf), y);
        assert_true(strlen(buf) <= 5); /* "0.333", "0.667", "1", "0" */
    }
}

/* Every stand-in file of the bundled dataset, every row, one sample in 7
 * at its native rate (7 is prime to 10 and 100, so every interpolation
 * phase occurs): the value is a 3-decimal double, sb_fmt_milli writes the
 * digits printf's "%.3f" finds (trailing zeros dropped), strtod reads them
 * back as the same double, and the text is what sb_fmt_double wrote
 * before, so the messages are unchanged. */
static void upsample_standin_values_format_exactly(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        unsigned rate;
    } files[] = {{"PS1", 100}, {"PS2", 100},  {"PS3", 100}, {"PS4", 100}, {"PS5", 100},
                 {"PS6", 100}, {"EPS1", 100}, {"FS1", 10},  {"FS2", 10}};
    const char *root = getenv("SB_SOURCE_ROOT");
    assert_non_null(root);
    size_t checked = 0;
    for (size_t f = 0; f < SB_ARRAY_SIZE(files); f++) {
        char path[4096], err[256];
        snprintf(path, sizeof(path), "%s/datasets/uci-hydraulic/standin/%s_1hz.txt", root,
                 files[f].name);
        struct sb_dsfile *ds;
        assert_int_equal(sb_dsfile_open(&ds, path, 60, err, sizeof(err)), 0);
        struct sb_row row;
        unsigned rows = 0;
        while (sb_dsfile_next(ds, &row, err, sizeof(err)) == 1) {
            for (size_t k = rows % 7; k < 60 * files[f].rate; k += 7) {
                double v = sb_upsample_linear(row.values, row.nvalues, files[f].rate, k);
                char got[SB_FMT_MILLI_MAX + 1], want[64], old[40];
                size_t n = sb_fmt_milli(got, v);
                assert_true(n > 0);
                got[n] = '\0';
                snprintf(want, sizeof(want), "%.3f", v);
                char *end = want + strlen(want);
                while (end[-1] == '0')
                    *--end = '\0';
                if (end[-1] == '.')
                    end[-1] = '\0';
                assert_string_equal(got, want);
                assert_true(strtod(got, NULL) == v);
                sb_fmt_double(old, sizeof(old), v);
                assert_string_equal(got, old);
                checked++;
            }
            rows++;
        }
        sb_dsfile_close(ds);
        assert_int_equal(rows, 2205);
    }
    assert_true(checked > 1000000);
}

static void upsample_factor_one_and_single_value(void **state)
{
    static const double one[] = {4.25};
    (void)state;
    for (size_t k = 0; k < SB_ARRAY_SIZE(means); k++)
        assert_true(sb_upsample_linear(means, SB_ARRAY_SIZE(means), 1, k) == means[k]);
    for (size_t k = 0; k < 100; k++)
        assert_true(sb_upsample_linear(one, 1, 100, k) == 4.25);
}

static void upsample_bad_arguments(void **state)
{
    (void)state;
    assert_true(isnan(sb_upsample_linear(NULL, 5, 100, 0)));
    assert_true(isnan(sb_upsample_linear(means, 0, 100, 0)));
    assert_true(isnan(sb_upsample_linear(means, 5, 0, 0)));
    assert_true(isnan(sb_upsample_linear(means, 5, 100, 500)));
    assert_false(isnan(sb_upsample_linear(means, 5, 100, 499)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dataset_real_ps2_excerpt),
        cmocka_unit_test(dataset_real_fs1_excerpt_without_final_newline),
        cmocka_unit_test(dataset_text_is_original_digits),
        cmocka_unit_test(dataset_short_row),
        cmocka_unit_test(dataset_short_row_in_the_middle),
        cmocka_unit_test(dataset_long_row),
        cmocka_unit_test(dataset_crlf),
        cmocka_unit_test(dataset_crlf_errors_name_the_line),
        cmocka_unit_test(dataset_garbage_fields),
        cmocka_unit_test(dataset_rejects_out_of_range),
        cmocka_unit_test(dataset_accepts_decimal_forms),
        cmocka_unit_test(dataset_parse_matches_strtod),
        cmocka_unit_test(dataset_empty_field),
        cmocka_unit_test(dataset_value_length_limit),
        cmocka_unit_test(dataset_huge_row_over_limit),
        cmocka_unit_test(dataset_no_final_newline),
        cmocka_unit_test(dataset_trailing_blank_lines_are_not_rows),
        cmocka_unit_test(dataset_blank_line_inside_is_a_bad_row),
        cmocka_unit_test(dataset_empty_file),
        cmocka_unit_test(dataset_rows_across_read_chunks),
        cmocka_unit_test(dataset_seek),
        cmocka_unit_test(dataset_seek_real_excerpt),
        cmocka_unit_test(dataset_open_errors),
        cmocka_unit_test(dataset_read_error_on_directory),
        cmocka_unit_test(upsample_centres_are_exact),
        cmocka_unit_test(upsample_holds_at_ends),
        cmocka_unit_test(upsample_linear_between_centres),
        cmocka_unit_test(upsample_rounds_to_3_decimals),
        cmocka_unit_test(upsample_standin_values_format_exactly),
        cmocka_unit_test(upsample_factor_one_and_single_value),
        cmocka_unit_test(upsample_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
