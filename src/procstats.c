/* procstats.c - the process_* metrics of the official Prometheus clients,
 * read from /proc/self at scrape time. */
#include "sensorbridge/procstats.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sensorbridge/log.h"

enum {
    PS_CPU,
    PS_RSS,
    PS_VSIZE,
    PS_OPEN_FDS,
    PS_MAX_FDS,
    PS_START,
    PS_COUNT,
};

/* Names and help texts exactly as client_golang's process collector, so
 * dashboards built for Go exporters work unchanged. */
static const struct {
    enum sb_metric_type type;
    const char *name;
    const char *help;
} metrics[PS_COUNT] = {
    [PS_CPU] = {SB_COUNTER, "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds."},
    [PS_RSS] = {SB_GAUGE, "process_resident_memory_bytes", "Resident memory size in bytes."},
    [PS_VSIZE] = {SB_GAUGE, "process_virtual_memory_bytes", "Virtual memory size in bytes."},
    [PS_OPEN_FDS] = {SB_GAUGE, "process_open_fds", "Number of open file descriptors."},
    [PS_MAX_FDS] = {SB_GAUGE, "process_max_fds", "Maximum number of open file descriptors."},
    [PS_START] = {SB_GAUGE, "process_start_time_seconds",
                  "Start time of the process since unix epoch in seconds."},
};

/* The fields of /proc/self/stat that we use (see proc(5)). */
struct stat_fields {
    unsigned long long utime, stime; /* clock ticks */
    unsigned long long starttime;    /* clock ticks after boot */
    unsigned long long vsize;        /* bytes */
    long long rss;                   /* pages */
};

static int read_file(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "re");
    if (!fp)
        return -errno;
    size_t n = fread(buf, 1, cap - 1, fp);
    int err = ferror(fp) ? -EIO : 0;
    fclose(fp);
    buf[n] = '\0';
    return err;
}

static int read_stat(struct stat_fields *sf)
{
    char buf[1024];
    int err = read_file("/proc/self/stat", buf, sizeof(buf));
    if (err)
        return err;
    /* comm, field 2, is in parentheses and may itself hold spaces and
     * parentheses: the fields we want follow the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -EINVAL;
    p++;
    /* Field 3 (state) is token 0 here: utime is field 14, stime 15,
     * starttime 22, vsize 23, rss 24. */
    unsigned long long v[22];
    for (int i = 0; i < 22; i++) {
        while (*p == ' ')
            p++;
        if (i == 0) { /* the state letter */
            if (!*p)
                return -EINVAL;
            p++;
            v[i] = 0;
            continue;
        }
        char *end;
        errno = 0;
        v[i] = strtoull(p, &end, 10);
        if (end == p || errno)
            return -EINVAL;
        p = end;
    }
    sf->utime = v[11];
    sf->stime = v[12];
    sf->starttime = v[19];
    sf->vsize = v[20];
    sf->rss = (long long)v[21];
    return 0;
}

/* The wall-clock time of boot, from the clocks rather than /proc/stat's
 * btime: the unit's ProcSubset=pid hides /proc/stat, and the start time in
 * /proc/self/stat counts from boot on CLOCK_BOOTTIME. */
static int read_btime(double *btime)
{
    struct timespec wall, boot;
    if (clock_gettime(CLOCK_REALTIME, &wall) || clock_gettime(CLOCK_BOOTTIME, &boot))
        return -errno;
    *btime = (double)(wall.tv_sec - boot.tv_sec) + (double)(wall.tv_nsec - boot.tv_nsec) / 1e9;
    return 0;
}

static int count_fds(unsigned long *n)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -errno;
    /* The directory's own descriptor is counted, as client_golang does. */
    unsigned long count = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            count++;
    closedir(d);
    *n = count;
    return 0;
}

/* Children are created only once a value is known, so a failed read shows
 * HELP and TYPE with no sample rather than a misleading 0. */
static struct sb_metric *child(struct sb_registry *r, int which)
{
    struct sb_family *f = sb_registry_family(r, metrics[which].type, metrics[which].name,
                                             metrics[which].help, 0, NULL, NULL, 0);
    return sb_family_child(f, NULL);
}

/* Stateless (ud is the registry, families are looked up by name) so the
 * collector owns nothing that would need freeing with the registry. */
static void collect_cb(void *ud)
{
    struct sb_registry *r = ud;
    struct stat_fields sf = {0};
    int err = read_stat(&sf);
    if (err) {
        sb_debug("msg=\"cannot read /proc/self/stat\" err=\"%s\"", strerror(-err));
    } else {
        long tck = sysconf(_SC_CLK_TCK);
        long page = sysconf(_SC_PAGESIZE);
        if (tck > 0)
            sb_counter_set(child(r, PS_CPU), (double)(sf.utime + sf.stime) / (double)tck);
        if (page > 0)
            sb_gauge_set(child(r, PS_RSS), (double)sf.rss * (double)page);
        sb_gauge_set(child(r, PS_VSIZE), (double)sf.vsize);
    }

    unsigned long nfds = 0;
    err = count_fds(&nfds);
    if (err)
        sb_debug("msg=\"cannot list /proc/self/fd\" err=\"%s\"", strerror(-err));
    else
        sb_gauge_set(child(r, PS_OPEN_FDS), (double)nfds);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        sb_gauge_set(child(r, PS_MAX_FDS), (double)rl.rlim_cur);
}

void sb_procstats_register(struct sb_registry *r)
{
    for (int i = 0; i < PS_COUNT; i++)
        sb_registry_family(r, metrics[i].type, metrics[i].name, metrics[i].help, 0, NULL, NULL, 0);

    /* The start time never changes: compute it once. */
    struct stat_fields sf = {0};
    double btime = 0;
    long tck = sysconf(_SC_CLK_TCK);
    int err = read_stat(&sf);
    if (!err)
        err = read_btime(&btime);
    if (!err && tck <= 0)
        err = -EINVAL;
    if (err)
        sb_warn("msg=\"process metrics unavailable\" err=\"%s\"", strerror(-err));
    else
        sb_gauge_set(child(r, PS_START), btime + (double)sf.starttime / (double)tck);

    sb_registry_add_collector(r, collect_cb, r);
}
