/* webconfig.c - exporter-toolkit's web configuration file: libyaml's
 * event parser over a fixed schema, bcrypt through libcrypt. */
#include "sensorbridge/webconfig.h"

#include <crypt.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "sensorbridge/util.h"

/* A bcrypt hash of a password nobody has, checked for an unknown user so
 * that the answer takes as long as for a known one (cost 10, as the
 * usual hashes). */
#define DUMMY_HASH "$2y$10$rkJ9e4kBoR3tDR6akRAZ4.i3pVbTQjQ4nTlUhjfrBLejrBi8hjAeO"

/* exporter-toolkit keys that sensorbridge does not implement: named in the
 * refusal, so that nobody believes a client CA or a TLS version is in
 * force when it is not. */
static const char *const unsupported_tls[] = {
    "client_auth_type", "client_ca_file", "client_allowed_sans", "min_version",
    "max_version",      "cipher_suites",  "curve_preferences",   "prefer_server_cipher_suites",
};

struct reader {
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have_ev;
    const char *path;
    const char *dir; /* of path, for relative file names */
    char *err;
    size_t errlen;
};

static int fail_at(struct reader *r, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(struct reader *r, size_t line, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(r->err, r->errlen, "%s:%zu: %s", r->path, line, why);
    return -EINVAL;
}

/* The next event, in r->ev (the previous one is released). */
static int next(struct reader *r)
{
    if (r->have_ev)
        yaml_event_delete(&r->ev);
    r->have_ev = false;
    if (!yaml_parser_parse(&r->parser, &r->ev))
        return fail_at(r, r->parser.problem_mark.line + 1, "not valid YAML: %s",
                       r->parser.problem ? r->parser.problem : "parse error");
    r->have_ev = true;
    if (r->ev.type == YAML_ALIAS_EVENT)
        return fail_at(r, r->ev.start_mark.line + 1, "YAML aliases are not supported here");
    return 0;
}

static size_t line_of(const struct reader *r)
{
    return r->ev.start_mark.line + 1;
}

static const char *scalar(const struct reader *r)
{
    return (const char *)r->ev.data.scalar.value;
}

/* Reads a whole file (at most SB_WEBCONFIG_MAX_FILE) as a string. */
static int read_file(const char *path, char **out, char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
        return -errno;
    }
    struct sb_buf b;
    sb_buf_init(&b);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > SB_WEBCONFIG_MAX_FILE) {
            snprintf(why, whylen, "%s is larger than %d bytes", path, SB_WEBCONFIG_MAX_FILE);
            fclose(f);
            sb_buf_free(&b);
            return -EFBIG;
        }
        sb_buf_append(&b, chunk, n);
    }
    int rc = ferror(f) ? -EIO : 0;
    fclose(f);
    if (rc) {
        snprintf(why, whylen, "cannot read %s", path);
        sb_buf_free(&b);
        return rc;
    }
    *out = b.data ? b.data : sb_xstrdup("");
    return 0;
}

/* A file named in the web config: relative to the web config's directory,
 * as exporter-toolkit resolves it. */
static int read_named_file(struct reader *r, size_t line, const char *key, const char *name,
                           char **out)
{
    if (!*name)
        return fail_at(r, line, "tls_server_config.%s is empty", key);
    struct sb_buf p;
    sb_buf_init(&p);
    if (name[0] == '/')
        sb_buf_puts(&p, name);
    else
        sb_buf_printf(&p, "%s/%s", r->dir, name);
    char why[600];
    int rc = read_file(p.data, out, why, sizeof(why));
    sb_buf_free(&p);
    if (rc)
        fail_at(r, line, "tls_server_config.%s: %s", key, why);
    return rc;
}

static bool is_bcrypt(const char *h)
{
    /* "$2y$" cost "$" 53 characters of salt and hash. */
    return strlen(h) == 60 && h[0] == '$' && h[1] == '2' &&
           (h[2] == 'a' || h[2] == 'b' || h[2] == 'y') && h[3] == '$' && h[4] >= '0' &&
           h[4] <= '3' && h[5] >= '0' && h[5] <= '9' && h[6] == '$';
}

static int read_tls(struct reader *r, struct sb_webconfig *wc, size_t section_line)
{
    int rc;
    size_t cert_line = 0, key_line = 0;
    char *cert = NULL, *key = NULL;
    for (;;) {
        if ((rc = next(r)))
            goto out;
        if (r->ev.type == YAML_MAPPING_END_EVENT)
            break;
        size_t line = line_of(r);
        if (r->ev.type != YAML_SCALAR_EVENT) {
            rc = fail_at(r, line, "tls_server_config: expected a key");
            goto out;
        }
        char name[64];
        snprintf(name, sizeof(name), "%s", scalar(r));
        bool is_cert = strcmp(name, "cert_file") == 0, is_key = strcmp(name, "key_file") == 0;
        if (!is_cert && !is_key) {
            for (size_t i = 0; i < SB_ARRAY_SIZE(unsupported_tls); i++)
                if (strcmp(name, unsupported_tls[i]) == 0) {
                    rc = fail_at(r, line,
                                 "tls_server_config.%s is not supported by sensorbridge "
                                 "(supported: cert_file, key_file)",
                                 name);
                    goto out;
                }
            rc = fail_at(r, line,
                         "unknown key \"%s\" in tls_server_config (known: cert_file, "
                         "key_file)",
                         name);
            goto out;
        }
        if ((is_cert && cert_line) || (is_key && key_line)) {
            rc = fail_at(r, line, "tls_server_config.%s given twice", name);
            goto out;
        }
        if ((rc = next(r)))
            goto out;
        if (r->ev.type != YAML_SCALAR_EVENT) {
            rc = fail_at(r, line_of(r), "tls_server_config.%s: expected a file name", name);
            goto out;
        }
        if ((rc = read_named_file(r, line_of(r), name, scalar(r), is_cert ? &cert : &key)))
            goto out;
        *(is_cert ? &cert_line : &key_line) = line;
    }
    if (!cert_line || !key_line) {
        rc = fail_at(r, section_line, "tls_server_config needs both cert_file and key_file");
        goto out;
    }
    wc->cert_pem = cert;
    wc->key_pem = key;
    return 0;
out:
    free(cert);
    free(key);
    return rc;
}

static int read_users(struct reader *r, struct sb_webconfig *wc)
{
    int rc;
    for (;;) {
        if ((rc = next(r)))
            return rc;
        if (r->ev.type == YAML_MAPPING_END_EVENT)
            return 0;
        size_t line = line_of(r);
        if (r->ev.type != YAML_SCALAR_EVENT || !*scalar(r))
            return fail_at(r, line, "basic_auth_users: expected a user name");
        char *name = sb_xstrdup(scalar(r));
        for (size_t i = 0; i < wc->nusers; i++)
            if (strcmp(wc->users[i].name, name) == 0) {
                rc = fail_at(r, line, "basic_auth_users: user \"%s\" given twice", name);
                free(name);
                return rc;
            }
        if (strchr(name, ':')) {
            rc = fail_at(r, line,
                         "basic_auth_users: user \"%s\" has a ':', which basic auth "
                         "cannot carry",
                         name);
            free(name);
            return rc;
        }
        if (wc->nusers == SB_WEBCONFIG_MAX_USERS) {
            free(name);
            return fail_at(r, line, "basic_auth_users: more than %d users", SB_WEBCONFIG_MAX_USERS);
        }
        if ((rc = next(r))) {
            free(name);
            return rc;
        }
        if (r->ev.type != YAML_SCALAR_EVENT || !is_bcrypt(scalar(r))) {
            rc = fail_at(r, line_of(r),
                         "basic_auth_users.%s: expected a bcrypt hash ($2y$, $2b$ or $2a$, "
                         "60 characters, e.g. from htpasswd -nBC 10 %s)",
                         name, name);
            free(name);
            return rc;
        }
        wc->users[wc->nusers].name = name;
        wc->users[wc->nusers].hash = sb_xstrdup(scalar(r));
        wc->users[wc->nusers].last_good = NULL;
        wc->nusers++;
    }
}

/* The document: a mapping of the two sections, or empty. */
static int read_document(struct reader *r, struct sb_webconfig *wc)
{
    int rc;
    /* STREAM_START, then DOCUMENT_START or, for an empty file, STREAM_END. */
    if ((rc = next(r)) || (rc = next(r)))
        return rc;
    if (r->ev.type == YAML_STREAM_END_EVENT)
        return 0;
    if ((rc = next(r)))
        return rc;
    /* An empty document (or "~") asks for nothing. */
    if (r->ev.type == YAML_SCALAR_EVENT &&
        (!*scalar(r) || strcmp(scalar(r), "~") == 0 || strcmp(scalar(r), "null") == 0))
        return 0;
    if (r->ev.type != YAML_MAPPING_START_EVENT)
        return fail_at(r, line_of(r),
                       "expected tls_server_config and basic_auth_users at the "
                       "top level");
    bool seen_tls = false, seen_users = false;
    for (;;) {
        if ((rc = next(r)))
            return rc;
        if (r->ev.type == YAML_MAPPING_END_EVENT)
            break;
        size_t line = line_of(r);
        char name[64];
        snprintf(name, sizeof(name), "%s", r->ev.type == YAML_SCALAR_EVENT ? scalar(r) : "");
        bool tls = strcmp(name, "tls_server_config") == 0;
        bool users = strcmp(name, "basic_auth_users") == 0;
        if (!tls && !users) {
            if (strcmp(name, "http_server_config") == 0)
                return fail_at(r, line,
                               "http_server_config is not supported by sensorbridge "
                               "(supported: tls_server_config, basic_auth_users)");
            return fail_at(r, line,
                           "unknown key \"%s\" (known: tls_server_config, basic_auth_users)", name);
        }
        if ((tls && seen_tls) || (users && seen_users))
            return fail_at(r, line, "%s given twice", name);
        if ((rc = next(r)))
            return rc;
        if (r->ev.type != YAML_MAPPING_START_EVENT)
            return fail_at(r, line_of(r), "%s: expected a mapping of keys", name);
        rc = tls ? read_tls(r, wc, line) : read_users(r, wc);
        if (rc)
            return rc;
        seen_tls = seen_tls || tls;
        seen_users = seen_users || users;
    }
    if ((rc = next(r)))
        return rc;
    /* DOCUMENT_END; a second document is not a web config. */
    if ((rc = next(r)))
        return rc;
    if (r->ev.type != YAML_STREAM_END_EVENT)
        return fail_at(r, line_of(r), "more than one YAML document");
    return 0;
}

int sb_webconfig_load(struct sb_webconfig *wc, const char *path, char *err, size_t errlen)
{
    memset(wc, 0, sizeof(*wc));
    char *text = NULL;
    char why[600];
    int rc = read_file(path, &text, why, sizeof(why));
    if (rc) {
        snprintf(err, errlen, "%s", why);
        return rc;
    }
    struct reader r = {.path = path, .err = err, .errlen = errlen};
    char *dir = sb_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        strcpy(dir, ".");
    r.dir = dir;
    yaml_parser_initialize(&r.parser);
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, strlen(text));
    rc = read_document(&r, wc);
    if (r.have_ev)
        yaml_event_delete(&r.ev);
    yaml_parser_delete(&r.parser);
    free(dir);
    free(text);
    if (rc) {
        sb_webconfig_free(wc);
        return rc;
    }
    wc->path = sb_xstrdup(path);
    return 0;
}

void sb_webconfig_free(struct sb_webconfig *wc)
{
    free(wc->path);
    free(wc->cert_pem);
    free(wc->key_pem);
    for (size_t i = 0; i < wc->nusers; i++) {
        free(wc->users[i].name);
        free(wc->users[i].hash);
        free(wc->users[i].last_good);
    }
    memset(wc, 0, sizeof(*wc));
}

static char *dup_or_null(const char *s)
{
    return s ? sb_xstrdup(s) : NULL;
}

void sb_webconfig_copy(struct sb_webconfig *dst, const struct sb_webconfig *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->path = dup_or_null(src->path);
    dst->cert_pem = dup_or_null(src->cert_pem);
    dst->key_pem = dup_or_null(src->key_pem);
    for (size_t i = 0; i < src->nusers; i++) {
        dst->users[i].name = sb_xstrdup(src->users[i].name);
        dst->users[i].hash = sb_xstrdup(src->users[i].hash);
    }
    dst->nusers = src->nusers;
}

static bool same_or_both_null(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool sb_webconfig_equal(const struct sb_webconfig *a, const struct sb_webconfig *b)
{
    if (!same_or_both_null(a->cert_pem, b->cert_pem) ||
        !same_or_both_null(a->key_pem, b->key_pem) || a->nusers != b->nusers)
        return false;
    for (size_t i = 0; i < a->nusers; i++)
        if (strcmp(a->users[i].name, b->users[i].name) ||
            strcmp(a->users[i].hash, b->users[i].hash))
            return false;
    return true;
}

/* Compares without stopping at the first difference. */
static bool same_secret(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    unsigned char d = n != m;
    for (size_t i = 0; i < n && i < m; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* crypt_rn rather than crypt_r: the same libxcrypt function that returns
 * NULL instead of a "*0" string on failure, and one the sanitizers do not
 * intercept (their crypt_r interceptor makes the linker drop libcrypt
 * under --as-needed, and the call then jumps to address 0). */
static bool bcrypt_matches(const char *password, const char *hash)
{
    struct crypt_data *cd = sb_xcalloc(1, sizeof(*cd));
    const char *out = crypt_rn(password, hash, cd, (int)sizeof(*cd));
    bool ok = out && same_secret(out, hash);
    free(cd);
    return ok;
}

bool sb_webconfig_check(struct sb_webconfig *wc, const char *user, const char *password)
{
    struct sb_webconfig_user *u = NULL;
    for (size_t i = 0; i < wc->nusers; i++)
        if (strcmp(wc->users[i].name, user) == 0)
            u = &wc->users[i];
    if (!u) {
        bcrypt_matches(password, DUMMY_HASH);
        return false;
    }
    if (u->last_good && same_secret(u->last_good, password))
        return true;
    if (!bcrypt_matches(password, u->hash))
        return false;
    free(u->last_good);
    u->last_good = sb_xstrdup(password);
    return true;
}
