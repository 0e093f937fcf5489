/* test_procstats.c - the process_* metrics read from /proc/self. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sensorbridge/procstats.h"

/* The value of the label-less sample `name` in an exposition, or fails. */
static double sample(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    fail_msg("no sample %s in:\n%s", name, text);
    return 0;
}

static double expose_sample(struct sb_registry *r, const char *name)
{
    struct sb_buf out;
    sb_buf_init(&out);
    sb_registry_expose(r, &out);
    double v = sample(out.data, name);
    sb_buf_free(&out);
    return v;
}

static void procstats_exposes_standard_families(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    sb_procstats_register(r);
    struct sb_buf out;
    sb_buf_init(&out);
    sb_registry_expose(r, &out);
    const char *lines[] = {
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
        "# TYPE process_cpu_seconds_total counter\n",
        "# HELP process_max_fds Maximum number of open file descriptors.\n"
        "# TYPE process_max_fds gauge\n",
        "# HELP process_open_fds Number of open file descriptors.\n"
        "# TYPE process_open_fds gauge\n",
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\n",
        "# HELP process_start_time_seconds Start time of the process since unix epoch in "
        "seconds.\n"
        "# TYPE process_start_time_seconds gauge\n",
        "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
        "# TYPE process_virtual_memory_bytes gauge\n",
    };
    for (size_t i = 0; i < SB_ARRAY_SIZE(lines); i++)
        assert_non_null(strstr(out.data, lines[i]));
    sb_buf_free(&out);
    /* Registering twice is harmless (the families are shared). */
    sb_procstats_register(r);
    sb_registry_free(r);
}

/* The start time as /proc/stat's btime and field 22 of /proc/self/stat
 * give it (what procstats read before ProcSubset=pid hid /proc/stat); -1
 * where /proc/stat cannot be read, as under that option. */
static double start_from_proc_stat(void)
{
    char buf[65536];
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strstr(buf, "\nbtime ");
    unsigned long long btime, start;
    assert_non_null(p);
    assert_int_equal(sscanf(p + 7, "%llu", &btime), 1);
    f = fopen("/proc/self/stat", "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command's closing parenthesis: state is field 3,
     * starttime field 22. */
    p = strrchr(buf, ')');
    assert_non_null(p);
    p += 2;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        assert_non_null(p);
        p++;
    }
    assert_int_equal(sscanf(p, "%llu", &start), 1);
    return (double)btime + (double)start / (double)sysconf(_SC_CLK_TCK);
}

static void procstats_values_plausible(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    sb_procstats_register(r);
    struct sb_buf out;
    sb_buf_init(&out);
    sb_registry_expose(r, &out);

    assert_true(sample(out.data, "process_resident_memory_bytes") > 0);
    double vsize = sample(out.data, "process_virtual_memory_bytes");
    assert_true(vsize >= sample(out.data, "process_resident_memory_bytes"));
    assert_true(sample(out.data, "process_open_fds") >= 3);
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    assert_true(sample(out.data, "process_max_fds") == (double)rl.rlim_cur);

    /* Boot time comes from the clocks (CLOCK_REALTIME - CLOCK_BOOTTIME);
     * /proc/stat's btime is whole seconds, so the two may differ by up to
     * a second. */
    double start = sample(out.data, "process_start_time_seconds");
    double now = (double)time(NULL);
    assert_true(start <= now + 2);
    assert_true(start > now - 3600);
    double expected = start_from_proc_stat();
    if (expected >= 0) {
        assert_true(start >= expected - 0.01);
        assert_true(start < expected + 1.01);
    }
    assert_true(sample(out.data, "process_cpu_seconds_total") >= 0);
    sb_buf_free(&out);
    sb_registry_free(r);
}

static void procstats_cpu_grows_with_work(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    sb_procstats_register(r);
    double before = expose_sample(r, "process_cpu_seconds_total");
    double start = expose_sample(r, "process_start_time_seconds");

    /* Spin for 100 ms of CPU time: several clock ticks at any CLK_TCK. */
    volatile uint64_t x = 1;
    struct timespec t0, t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    do {
        for (int i = 0; i < 100000; i++)
            x = x * 6364136223846793005u + 1442695040888963407u;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 100000000L);

    double after = expose_sample(r, "process_cpu_seconds_total");
    assert_true(after > before);
    assert_true(after - before < 10);
    /* The start time is computed once and does not move. */
    assert_true(expose_sample(r, "process_start_time_seconds") == start);
    sb_registry_free(r);
}

static void procstats_open_fds_follow_opens(void **state)
{
    (void)state;
    struct sb_registry *r = sb_registry_new();
    sb_procstats_register(r);
    double before = expose_sample(r, "process_open_fds");
    int fds[5];
    for (size_t i = 0; i < SB_ARRAY_SIZE(fds); i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fds[i] >= 0);
    }
    assert_true(expose_sample(r, "process_open_fds") == before + 5);
    for (size_t i = 0; i < SB_ARRAY_SIZE(fds); i++)
        close(fds[i]);
    assert_true(expose_sample(r, "process_open_fds") == before);
    sb_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(procstats_exposes_standard_families),
        cmocka_unit_test(procstats_values_plausible),
        cmocka_unit_test(procstats_cpu_grows_with_work),
        cmocka_unit_test(procstats_open_fds_follow_opens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
