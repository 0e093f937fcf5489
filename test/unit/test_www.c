/* test_www.c - the status page's files as compiled in by src/www/embed.py:
 * each URL path, its Content-Type, its bytes against the repository's file
 * ($SB_SOURCE_ROOT/src/www/...), and an ETag of the documented form that
 * differs between files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sensorbridge/util.h"
#include "sensorbridge/www.h"

static const struct {
    const char *path, *file, *type;
} want[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/static/status.css", "status.css", "text/css; charset=utf-8"},
    {"/static/status.js", "status.js", "text/javascript; charset=utf-8"},
    {"/static/uPlot.iife.min.js", "vendor/uplot/uPlot.iife.min.js",
     "text/javascript; charset=utf-8"},
    {"/static/uPlot.min.css", "vendor/uplot/uPlot.min.css", "text/css; charset=utf-8"},
};

static struct sb_buf read_file(const char *rel)
{
    const char *root = getenv("SB_SOURCE_ROOT");
    assert_non_null(root);
    char path[4096];
    snprintf(path, sizeof(path), "%s/src/www/%s", root, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    struct sb_buf b;
    sb_buf_init(&b);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sb_buf_append(&b, chunk, n);
    fclose(f);
    return b;
}

static void www_serves_each_file_as_it_is(void **state)
{
    (void)state;
    size_t n;
    const struct sb_www_asset *a = sb_www_assets(&n);
    assert_int_equal(n, SB_ARRAY_SIZE(want));
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(a[i].path, want[i].path);
        assert_string_equal(a[i].content_type, want[i].type);
        struct sb_buf b = read_file(want[i].file);
        assert_int_equal(a[i].len, b.len);
        assert_memory_equal(a[i].data, b.data, b.len);
        sb_buf_free(&b);
    }
}

/* Weak (W/"..."): the same ETag names the gzip and the identity body. */
static void www_etags_are_weak_quoted_hex_and_distinct(void **state)
{
    (void)state;
    size_t n;
    const struct sb_www_asset *a = sb_www_assets(&n);
    for (size_t i = 0; i < n; i++) {
        const char *e = a[i].etag;
        assert_int_equal(strlen(e), 20);
        assert_memory_equal(e, "W/\"", 3);
        assert_int_equal(e[19], '"');
        assert_int_equal(strspn(e + 3, "0123456789abcdef"), 16);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(e, a[j].etag);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(www_serves_each_file_as_it_is),
        cmocka_unit_test(www_etags_are_weak_quoted_hex_and_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
