/* test_topics.c - which topics a configuration needs (sb_topics_required). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sensorbridge/config.h"
#include "sensorbridge/topics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Loads `text` (with the replay off, so no dataset is needed). */
static void load(struct sb_config *c, const char *text)
{
    char path[] = "/tmp/sb-test-topics.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f, "[replay]\nenabled = false\n%s", text);
    fclose(f);
    char err[512];
    sb_config_defaults(c);
    int rc = sb_config_load(c, path, err, sizeof(err));
    unlink(path);
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
}

/* The list joined with spaces. */
static char *joined(const struct sb_config *c)
{
    struct sb_namelist l;
    sb_topics_required(c, &l);
    static char out[4096];
    out[0] = '\0';
    for (size_t i = 0; i < l.n; i++) {
        if (i)
            strcat(out, " ");
        strcat(out, l.names[i]);
    }
    sb_namelist_free(&l);
    return out;
}

static const char uci[] = "hydraulic-PS1 hydraulic-PS2 hydraulic-PS3 hydraulic-PS4 hydraulic-PS5 "
                          "hydraulic-PS6 hydraulic-EPS1 hydraulic-FS1 hydraulic-FS2 hydraulic-TS1 "
                          "hydraulic-TS2 hydraulic-TS3 hydraulic-TS4 hydraulic-VS1 hydraulic-CE "
                          "hydraulic-CP hydraulic-SE";

static void topics_per_sensor(void **state)
{
    (void)state;
    struct sb_config c;
    char want[4096];
    /* Producer and consumer: every sample topic, a synthetic sensor's and
     * both outputs. */
    load(&c, "[synthetic.oven]\nkind = temperature\n");
    snprintf(want, sizeof(want), "%s hydraulic-oven hydraulic-aggregates hydraulic-alerts", uci);
    assert_string_equal(joined(&c), want);
    sb_config_free(&c);
    /* Producer only: no outputs (nothing writes them). */
    load(&c, "[consumer]\nenabled = false\n");
    assert_string_equal(joined(&c), uci);
    sb_config_free(&c);
    /* Consumer only: the pattern takes whatever exists. */
    load(&c, "[producer]\nenabled = false\n");
    assert_string_equal(joined(&c), "");
    sb_config_free(&c);
    /* Disabled outputs are not needed. */
    load(&c, "[windows]\nenabled = false\n[alerts]\nenabled = false\n");
    assert_string_equal(joined(&c), uci);
    sb_config_free(&c);
    load(&c, "[kafka]\ntopic_prefix = lab\n[windows]\ntopic = aggs\n[alerts]\nenabled = false\n"
             "[consumer]\nenabled = true\n");
    assert_non_null(strstr(joined(&c), "lab-SE aggs"));
    assert_null(strstr(joined(&c), "alerts"));
    sb_config_free(&c);
}

static void topics_shared(void **state)
{
    (void)state;
    struct sb_config c;
    load(&c, "[kafka]\nlayout = shared\n[synthetic.oven]\nkind = temperature\n");
    assert_string_equal(joined(&c), "hydraulic-samples hydraulic-aggregates hydraulic-alerts");
    sb_config_free(&c);
    /* A consumer of the shared topic subscribes to it by name: it needs it. */
    load(&c, "[kafka]\nlayout = shared\nsamples_topic = plant\n[producer]\nenabled = false\n");
    assert_string_equal(joined(&c), "plant");
    sb_config_free(&c);
    load(&c, "[kafka]\nlayout = shared\n[consumer]\nenabled = false\n");
    assert_string_equal(joined(&c), "hydraulic-samples");
    sb_config_free(&c);
    load(&c,
         "[kafka]\nlayout = shared\n[consumer]\nenabled = false\n[producer]\nenabled = false\n");
    assert_string_equal(joined(&c), "");
    sb_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(topics_per_sensor),
        cmocka_unit_test(topics_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
