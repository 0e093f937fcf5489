/* gzip.c - a response body into its gzip stream, with ISA-L's igzip. */
#include "sensorbridge/gzip.h"

#include <isa-l/igzip_lib.h>
#include <stdint.h>
#include <stdlib.h>

/* ISA-L's igzip at level 1: the body is compressed on the loop thread for
 * every scrape, so speed decides. On a 100,000-series exposition (7.4 MB) it
 * takes about a third of zlib level 1's time for a slightly better ratio
 * (docs/performance.md): an exposition shrinks about eightfold. */
#define GZIP_LEVEL 1
#define GZIP_LEVEL_BUF ISAL_DEF_LVL1_DEFAULT

bool sb_gzip(struct sb_buf *body)
{
    if (body->len >= UINT32_MAX / 2)
        return false;
    struct isal_zstream z;
    isal_deflate_init(&z);
    z.level = GZIP_LEVEL;
    z.level_buf = sb_xmalloc(GZIP_LEVEL_BUF);
    z.level_buf_size = GZIP_LEVEL_BUF;
    z.gzip_flag = IGZIP_GZIP;
    z.end_of_stream = 1;
    z.flush = NO_FLUSH;
    z.next_in = (uint8_t *)(body->data ? body->data : "");
    z.avail_in = (uint32_t)body->len;
    /* Stored blocks at worst: 5 bytes per 64 KiB block, plus the header
     * and the trailer. The loop grows the buffer should that not do. */
    struct sb_buf out;
    sb_buf_init(&out);
    size_t cap = body->len + body->len / 1024 + ISAL_DEF_MAX_HDR_SIZE + 64;
    int rc = COMP_OK;
    for (;;) {
        sb_buf_reserve(&out, cap - out.len);
        z.next_out = (uint8_t *)out.data + out.len;
        z.avail_out = (uint32_t)(cap - out.len);
        rc = isal_deflate(&z);
        out.len = cap - z.avail_out;
        if (rc != COMP_OK || z.internal_state.state == ZSTATE_END)
            break;
        cap *= 2;
    }
    free(z.level_buf);
    if (rc != COMP_OK) {
        sb_buf_free(&out);
        return false;
    }
    sb_buf_free(body);
    *body = out;
    return true;
}
