/* test_webconfig.c - the exporter-toolkit web configuration file: what it
 * accepts, how it refuses (file, line, key), bcrypt passwords, and its
 * place in [http] web_config_file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sensorbridge/config.h"
#include "sensorbridge/util.h"
#include "sensorbridge/webconfig.h"

/* Made by htpasswd -nbBC 10 prometheus s3cret (Apache's bcrypt, not
 * libcrypt's). */
#define HASH_S3CRET "$2y$10$1sAaEryc2rKx09x4Yfq9ueZ3/oNAUS58Y2YE1HQOHge/hoFOhLW22"

static char dir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *path_of(const char *name)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sb-webconfig.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    write_file("server.crt", "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n");
    write_file("server.key", "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void webconfig_loads_tls_and_users(void **state)
{
    (void)state;
    write_file("web.yml", "# exporter-toolkit's format\n"
                          "tls_server_config:\n"
                          "  cert_file: server.crt\n"
                          "  key_file: \"server.key\"\n"
                          "basic_auth_users:\n"
                          "  prometheus: " HASH_S3CRET "\n"
                          "  grafana: '$2b$10$1sAaEryc2rKx09x4Yfq9ueZ3/oNAUS58Y2YE1HQOHge/"
                          "hoFOhLW22'\n");
    struct sb_webconfig wc;
    char err[512] = "";
    assert_int_equal(sb_webconfig_load(&wc, path_of("web.yml"), err, sizeof(err)), 0);
    assert_string_equal(wc.cert_pem,
                        "-----BEGIN CERTIFICATE-----\nCERT\n-----END CERTIFICATE-----\n");
    assert_string_equal(wc.key_pem,
                        "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n");
    assert_int_equal(wc.nusers, 2);
    assert_string_equal(wc.users[0].name, "prometheus");
    assert_string_equal(wc.users[0].hash, HASH_S3CRET);
    assert_string_equal(wc.users[1].name, "grafana");

    struct sb_webconfig copy;
    sb_webconfig_copy(&copy, &wc);
    assert_true(sb_webconfig_equal(&wc, &copy));
    free(copy.users[1].hash);
    copy.users[1].hash = sb_xstrdup(HASH_S3CRET);
    assert_false(sb_webconfig_equal(&wc, &copy));
    sb_webconfig_free(&copy);
    sb_webconfig_free(&wc);
}

static void webconfig_empty_asks_for_nothing(void **state)
{
    (void)state;
    static const char *const texts[] = {"", "# nothing yet\n", "~\n", "---\n"};
    for (size_t i = 0; i < SB_ARRAY_SIZE(texts); i++) {
        write_file("empty.yml", texts[i]);
        struct sb_webconfig wc;
        char err[512] = "";
        if (sb_webconfig_load(&wc, path_of("empty.yml"), err, sizeof(err)) != 0)
            fail_msg("\"%s\": %s", texts[i], err);
        assert_null(wc.cert_pem);
        assert_int_equal(wc.nusers, 0);
        sb_webconfig_free(&wc);
    }
}

static void webconfig_refusals_name_file_line_key(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        const char *error; /* after "PATH:" */
    } cases[] = {
        {"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
         "  client_ca_file: ca.crt\n",
         "4: tls_server_config.client_ca_file is not supported by sensorbridge (supported: "
         "cert_file, key_file)"},
        {"tls_server_config:\n  cert_file: server.crt\n  min_version: TLS13\n",
         "3: tls_server_config.min_version is not supported by sensorbridge (supported: "
         "cert_file, key_file)"},
        {"tls_server_config:\n  foo: bar\n",
         "2: unknown key \"foo\" in tls_server_config (known: cert_file, key_file)"},
        {"\ntls_config:\n  cert_file: server.crt\n",
         "2: unknown key \"tls_config\" (known: tls_server_config, basic_auth_users)"},
        {"http_server_config:\n  http2: false\n",
         "1: http_server_config is not supported by sensorbridge (supported: tls_server_config, "
         "basic_auth_users)"},
        {"tls_server_config:\n  cert_file: server.crt\n",
         "1: tls_server_config needs both cert_file and key_file"},
        {"basic_auth_users:\n  alice: secret\n",
         "2: basic_auth_users.alice: expected a bcrypt hash ($2y$, $2b$ or $2a$, 60 characters, "
         "e.g. from htpasswd -nBC 10 alice)"},
        {"basic_auth_users:\n  alice: " HASH_S3CRET "\n  alice: " HASH_S3CRET "\n",
         "3: basic_auth_users: user \"alice\" given twice"},
        {"basic_auth_users:\n  a:b: " HASH_S3CRET "\n",
         "2: basic_auth_users: user \"a:b\" has a ':', which basic auth cannot carry"},
        {"basic_auth_users:\n  - alice\n", "2: basic_auth_users: expected a mapping of keys"},
        {"- tls_server_config\n",
         "1: expected tls_server_config and basic_auth_users at the top level"},
        {"tls_server_config:\n\tcert_file: server.crt\n", "2: not valid YAML: "},
        {"tls_server_config: &t\n  cert_file: server.crt\n  key_file: server.key\n"
         "basic_auth_users: *t\n",
         "4: YAML aliases are not supported here"},
        {"basic_auth_users: {}\n---\nbasic_auth_users: {}\n", "2: more than one YAML document"},
    };
    for (size_t i = 0; i < SB_ARRAY_SIZE(cases); i++) {
        write_file("bad.yml", cases[i].yaml);
        struct sb_webconfig wc;
        char err[512] = "";
        assert_int_equal(sb_webconfig_load(&wc, path_of("bad.yml"), err, sizeof(err)), -EINVAL);
        char want[600];
        snprintf(want, sizeof(want), "%s:%s", path_of("bad.yml"), cases[i].error);
        if (strncmp(err, want, strlen(want)) != 0)
            fail_msg("case %zu:\n got  %s\n want %s", i, err, want);
        assert_null(wc.path);
        assert_int_equal(wc.nusers, 0);
    }
}

static void webconfig_missing_files(void **state)
{
    (void)state;
    struct sb_webconfig wc;
    char err[512] = "";
    assert_int_equal(sb_webconfig_load(&wc, path_of("nowhere.yml"), err, sizeof(err)), -ENOENT);
    char want[600];
    snprintf(want, sizeof(want), "cannot open %s: No such file or directory",
             path_of("nowhere.yml"));
    assert_string_equal(err, want);
    /* A named file relative to the web config's directory. */
    write_file("web.yml", "tls_server_config:\n  cert_file: other.crt\n  key_file: server.key\n");
    assert_int_equal(sb_webconfig_load(&wc, path_of("web.yml"), err, sizeof(err)), -ENOENT);
    snprintf(
        want, sizeof(want),
        "%s:2: tls_server_config.cert_file: cannot open %s/other.crt: No such file or directory",
        path_of("web.yml"), dir);
    assert_string_equal(err, want);
}

static void webconfig_checks_bcrypt_passwords(void **state)
{
    (void)state;
    write_file("users.yml",
               "basic_auth_users:\n  prometheus: " HASH_S3CRET "\n"
               "  other: $2b$10$1sAaEryc2rKx09x4Yfq9ueZ3/oNAUS58Y2YE1HQOHge/hoFOhLW22\n");
    struct sb_webconfig wc;
    char err[512] = "";
    assert_int_equal(sb_webconfig_load(&wc, path_of("users.yml"), err, sizeof(err)), 0);
    assert_true(sb_webconfig_check(&wc, "prometheus", "s3cret"));
    /* Again, now from the remembered password; a different one still fails. */
    assert_true(sb_webconfig_check(&wc, "prometheus", "s3cret"));
    assert_false(sb_webconfig_check(&wc, "prometheus", "s3cre"));
    assert_false(sb_webconfig_check(&wc, "prometheus", "s3cret "));
    assert_false(sb_webconfig_check(&wc, "prometheus", ""));
    /* $2b$ is the same algorithm as $2y$ (for these bytes). */
    assert_true(sb_webconfig_check(&wc, "other", "s3cret"));
    assert_false(sb_webconfig_check(&wc, "nobody", "s3cret"));
    assert_false(sb_webconfig_check(&wc, "Prometheus", "s3cret"));
    sb_webconfig_free(&wc);
}

static void webconfig_through_the_configuration(void **state)
{
    (void)state;
    write_file("web.yml", "basic_auth_users:\n  prometheus: " HASH_S3CRET "\n");
    write_file("sb.conf", "[replay]\nenabled = false\n[http]\nweb_config_file = web.yml\n");
    struct sb_config c, d;
    char err[1024] = "";
    sb_config_defaults(&c);
    if (sb_config_load(&c, path_of("sb.conf"), err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.web.nusers, 1);
    assert_string_equal(c.web_config_file, path_of("web.yml"));
    /* A reload of the same files changes nothing; a new password in the
     * web config is a change that needs a restart. */
    sb_config_defaults(&d);
    assert_int_equal(sb_config_load(&d, path_of("sb.conf"), err, sizeof(err)), 0);
    assert_null(sb_config_restart_key(&c, &d));
    sb_config_free(&d);
    write_file("web.yml", "basic_auth_users:\n  prometheus: "
                          "$2y$10$rkJ9e4kBoR3tDR6akRAZ4.i3pVbTQjQ4nTlUhjfrBLejrBi8hjAeO\n");
    sb_config_defaults(&d);
    assert_int_equal(sb_config_load(&d, path_of("sb.conf"), err, sizeof(err)), 0);
    assert_string_equal(sb_config_restart_key(&c, &d), "http.web_config_file");
    sb_config_free(&d);
    /* A refusal names the configuration file's line and key, then the
     * web config's file and line. */
    write_file("web.yml", "basic_auth_users:\n  prometheus: " HASH_S3CRET "\ntls:\n");
    sb_config_defaults(&d);
    assert_int_equal(sb_config_load(&d, path_of("sb.conf"), err, sizeof(err)), -EINVAL);
    char want[600];
    char conf_path[256];
    snprintf(conf_path, sizeof(conf_path), "%s", path_of("sb.conf"));
    snprintf(want, sizeof(want), "%s:4: [http] web_config_file: %s:3: unknown key \"tls\"",
             conf_path, path_of("web.yml"));
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("got  %s\nwant %s", err, want);
    sb_config_free(&d);
    sb_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(webconfig_loads_tls_and_users),
        cmocka_unit_test(webconfig_empty_asks_for_nothing),
        cmocka_unit_test(webconfig_refusals_name_file_line_key),
        cmocka_unit_test(webconfig_missing_files),
        cmocka_unit_test(webconfig_checks_bcrypt_passwords),
        cmocka_unit_test(webconfig_through_the_configuration),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
