/*
 * webconfig.h - TLS and basic auth for the HTTP server from a web
 * configuration file in the format of Prometheus's exporter-toolkit
 * (YAML), so that operators reuse the file they have:
 *
 *   tls_server_config:
 *     cert_file: server.crt      # PEM; relative paths are relative to the file
 *     key_file: server.key
 *   basic_auth_users:
 *     prometheus: $2y$10$...     # bcrypt, as `htpasswd -nBC 10 USER` makes it
 *
 * Of exporter-toolkit's keys sensorbridge supports these: a key it does
 * not support (client_auth_type, client_ca_file, min_version, cipher_suites,
 * http_server_config, ...) is refused by name, like an unknown one, so a
 * file never means less than it says. Pure (libyaml, libcrypt).
 *
 * Ownership: sb_webconfig_load fills a struct the caller owns and frees
 * with sb_webconfig_free; the strings are its own.
 */
#ifndef SB_WEBCONFIG_H
#define SB_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define SB_WEBCONFIG_MAX_USERS 64
/* A cap on each file read (the YAML, the certificate, the key). */
#define SB_WEBCONFIG_MAX_FILE (1024 * 1024)

struct sb_webconfig_user {
    char *name;
    char *hash;      /* "$2y$10$..." (or $2a$, $2b$) */
    char *last_good; /* the last password that matched, so a scraper that sends
                        the same one again costs no bcrypt round (NULL: none) */
};

struct sb_webconfig {
    char *path;     /* the file, as given */
    char *cert_pem; /* NULL: no TLS */
    char *key_pem;
    struct sb_webconfig_user users[SB_WEBCONFIG_MAX_USERS];
    size_t nusers; /* 0: no basic auth */
};

/* Reads and checks the file (and reads the certificate and key it names).
 * Returns 0, or -EINVAL / -errno with "PATH:LINE: why" (or "PATH: why")
 * in err, and *wc empty. An empty file is valid and asks for nothing. */
int sb_webconfig_load(struct sb_webconfig *wc, const char *path, char *err, size_t errlen);

void sb_webconfig_free(struct sb_webconfig *wc);

/* A deep copy, without the remembered passwords. */
void sb_webconfig_copy(struct sb_webconfig *dst, const struct sb_webconfig *src);

/* Whether two say the same: certificate, key, users and hashes (in order). */
bool sb_webconfig_equal(const struct sb_webconfig *a, const struct sb_webconfig *b);

/* Whether user and password match a basic_auth_users entry. An unknown
 * user costs a bcrypt round too, so the time taken does not tell which
 * users exist. */
bool sb_webconfig_check(struct sb_webconfig *wc, const char *user, const char *password);

#endif
