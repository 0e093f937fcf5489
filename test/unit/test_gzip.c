/* test_gzip.c - sb_gzip's streams, read back with zlib's inflate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "sensorbridge/gzip.h"
#include "sensorbridge/util.h"

/* gunzips in (one gzip member, nothing after it) into out with zlib. */
static void gunzip(const struct sb_buf *in, struct sb_buf *out)
{
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    sb_buf_init(out);
    z.next_in = (Bytef *)in->data;
    z.avail_in = (uInt)in->len;
    int rc;
    do {
        sb_buf_reserve(out, 65536);
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = 65536;
        rc = inflate(&z, Z_NO_FLUSH);
        assert_true(rc == Z_OK || rc == Z_STREAM_END);
        out->len += 65536 - z.avail_out;
    } while (rc != Z_STREAM_END);
    assert_int_equal(z.avail_in, 0);
    inflateEnd(&z);
}

static void round_trip(const char *data, size_t len)
{
    struct sb_buf b, back;
    sb_buf_init(&b);
    sb_buf_append(&b, data, len);
    assert_true(sb_gzip(&b));
    /* The gzip magic and deflate, then the body back exactly. */
    assert_true(b.len >= 18);
    assert_int_equal((unsigned char)b.data[0], 0x1f);
    assert_int_equal((unsigned char)b.data[1], 0x8b);
    assert_int_equal(b.data[2], 8);
    gunzip(&b, &back);
    assert_int_equal(back.len, len);
    if (len)
        assert_memory_equal(back.data, data, len);
    sb_buf_free(&b);
    sb_buf_free(&back);
}

static void gzip_round_trips(void **state)
{
    (void)state;
    round_trip("", 0);
    round_trip("x", 1);
    const char *line = "sensorbridge_sensor_value{sensor=\"PS1\"} 151.47\n";
    struct sb_buf text;
    sb_buf_init(&text);
    for (int i = 0; i < 100000; i++)
        sb_buf_append(&text, line, strlen(line));
    round_trip(text.data, text.len);
    sb_buf_free(&text);
}

/* Random bytes do not compress: the output outgrows the input, and the
 * buffer must grow rather than cut the stream. */
static void gzip_incompressible_input(void **state)
{
    (void)state;
    size_t n = 3 * 1024 * 1024 + 17;
    char *r = malloc(n);
    assert_non_null(r);
    uint64_t x = 88172645463325252u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r[i] = (char)(x >> 24);
    }
    round_trip(r, n);
    free(r);
}

static void gzip_compresses_an_exposition(void **state)
{
    (void)state;
    struct sb_buf b;
    sb_buf_init(&b);
    for (int i = 0; i < 20000; i++)
        sb_buf_printf(&b, "sensorbridge_sensor_samples_consumed_total{sensor=\"s%05d\"} %d\n", i,
                      i * 7);
    size_t before = b.len;
    assert_true(sb_gzip(&b));
    /* Far smaller: at least fourfold on such text. */
    assert_true(b.len * 4 < before);
    sb_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gzip_round_trips),
        cmocka_unit_test(gzip_incompressible_input),
        cmocka_unit_test(gzip_compresses_an_exposition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
