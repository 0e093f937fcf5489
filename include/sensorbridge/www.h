/*
 * www.h - the status page's files (src/www), compiled into the binary at
 * build time by src/www/embed.py: nothing is read from disk or fetched at
 * run time. Pure; the data is static and read-only.
 */
#ifndef SB_WWW_H
#define SB_WWW_H

#include <stddef.h>

struct sb_www_asset {
    const char *path;         /* URL path: "/" for index.html, else "/static/<name>" */
    const char *content_type; /* from the file's extension */
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted strong validator from the content: "\"1a2b...\"" */
};

/* Every asset, in the order meson.build lists them. */
const struct sb_www_asset *sb_www_assets(size_t *n);

#endif
