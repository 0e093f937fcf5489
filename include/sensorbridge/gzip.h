/*
 * gzip.h - compresses a body into one gzip stream (RFC 1952), as the HTTP
 * server sends it to clients that accept gzip. Pure, and fast rather than
 * small: it runs on the loop for every scrape (ISA-L's igzip, level 1).
 */
#ifndef SB_GZIP_H
#define SB_GZIP_H

#include <stdbool.h>

#include "sensorbridge/util.h"

/* Replaces body by its gzip stream (an empty body gives an empty stream's
 * header and trailer). Returns false, body unchanged, if the compressor
 * fails, which only a lack of memory or a body of 2 GiB or more can make
 * it do. */
bool sb_gzip(struct sb_buf *body);

#endif
