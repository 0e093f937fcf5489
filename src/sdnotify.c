/* sdnotify.c - sd_notify messages and the reload status file. */
#include "sensorbridge/sdnotify.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef SB_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "sensorbridge/log.h"
#include "sensorbridge/util.h"

/* Where each reload's outcome is written, in $RUNTIME_DIRECTORY. */
#define SB_RELOAD_STATUS_FILE "reload-status"

struct sb_sdnotify {
    sb_sdnotify_status_cb status_cb;
    void *ud;
    bool notifying;            /* NOTIFY_SOCKET is set (and libsystemd built in) */
    bool ready_notified;       /* READY=1 was sent for the start */
    bool stopping;             /* STOPPING=1 was sent */
    uv_timer_t check_timer;    /* readiness and STATUS=, every SB_SDNOTIFY_INTERVAL_MS */
    uv_timer_t watchdog_timer; /* WATCHDOG=1 at half of WATCHDOG_USEC, if set */
    int pending_closes;
    void (*close_cb)(void *ud);
    void *close_ud;
    char status[1024];     /* the STATUS= line last sent */
    char *reload_refused;  /* why the last reload was refused; NULL after one applied */
    unsigned long reloads; /* reloads attempted, for the reload status file */
};

__attribute__((format(printf, 2, 3))) static void notify(const struct sb_sdnotify *n,
                                                         const char *fmt, ...)
{
#ifdef SB_HAVE_SYSTEMD
    if (!n->notifying)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sd_notify(0, msg);
#else
    (void)n;
    (void)fmt;
#endif
}

/* The STATUS= line: the daemon's, behind a refused reload's reason until
 * one is applied, so `systemctl status` shows that the file on disk is not
 * what runs. Returns whether the daemon is ready. */
static bool status_line(struct sb_sdnotify *n, char *out, size_t len)
{
    char base[900];
    bool ready = n->status_cb(n->ud, base, sizeof(base));
    if (n->reload_refused)
        snprintf(out, len, "reload refused, running configuration kept: %s; %s", n->reload_refused,
                 base);
    else
        snprintf(out, len, "%s", base);
    return ready;
}

/* READY=1 once, when the daemon is first ready (what /readyz answers 200
 * for), so that `systemctl start` returns only then; STATUS= when it
 * changes. */
static void check_tick(uv_timer_t *h)
{
    struct sb_sdnotify *n = h->data;
    char status[sizeof(n->status)];
    bool ready = status_line(n, status, sizeof(status));
    if (ready && !n->ready_notified) {
        n->ready_notified = true;
        sb_notice("msg=\"ready, READY=1 sent to systemd\"");
        notify(n, "READY=1\nSTATUS=%s", status);
    } else if (strcmp(status, n->status)) {
        notify(n, "STATUS=%s", status);
    }
    memcpy(n->status, status, sizeof(status));
}

#ifdef SB_HAVE_SYSTEMD
static void watchdog_tick(uv_timer_t *h)
{
    notify(h->data, "WATCHDOG=1");
}
#endif

/* $RUNTIME_DIRECTORY/reload-status (the first directory, if systemd set
 * several); -ENOENT if RUNTIME_DIRECTORY is not set. */
static int reload_status_path(char *out, size_t len)
{
    const char *dir = getenv("RUNTIME_DIRECTORY");
    if (!dir || !*dir)
        return -ENOENT;
    size_t n = strcspn(dir, ":");
    snprintf(out, len, "%.*s/" SB_RELOAD_STATUS_FILE, (int)n, dir);
    return 0;
}

/* One line, replaced atomically: "<reloads> started", "<reloads> applied"
 * or "<reloads> refused <why>". */
static void write_reload_status(const struct sb_sdnotify *n)
{
    char path[4096], tmp[4200];
    if (reload_status_path(path, sizeof(path)))
        return;
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "w");
    bool ok = f != NULL;
    if (ok) {
        if (n->reload_refused)
            fprintf(f, "%lu refused %s\n", n->reloads, n->reload_refused);
        else
            fprintf(f, "%lu %s\n", n->reloads, n->reloads ? "applied" : "started");
        ok = !ferror(f);
        ok = fclose(f) == 0 && ok;
    }
    if (!ok || rename(tmp, path))
        sb_warn("msg=\"cannot write the reload status: sensorbridge --reload will not see the "
                "outcome\" path=%s error=\"%s\"",
                path, strerror(errno));
}

struct sb_sdnotify *sb_sdnotify_new(uv_loop_t *loop, sb_sdnotify_status_cb status, void *ud)
{
    struct sb_sdnotify *n = sb_xcalloc(1, sizeof(*n));
    n->status_cb = status;
    n->ud = ud;
#ifdef SB_HAVE_SYSTEMD
    n->notifying = getenv("NOTIFY_SOCKET") != NULL;
#endif
    uv_timer_init(loop, &n->check_timer);
    uv_timer_init(loop, &n->watchdog_timer);
    n->check_timer.data = n->watchdog_timer.data = n;
    return n;
}

void sb_sdnotify_start(struct sb_sdnotify *n)
{
    write_reload_status(n);
    if (n->notifying)
        uv_timer_start(&n->check_timer, check_tick, 0, SB_SDNOTIFY_INTERVAL_MS);
#ifdef SB_HAVE_SYSTEMD
    uint64_t usec;
    if (n->notifying && sd_watchdog_enabled(0, &usec) > 0) {
        uint64_t ms = usec / 2000 ? usec / 2000 : 1;
        sb_notice("msg=\"systemd watchdog enabled\" ping_interval_ms=%" PRIu64, ms);
        uv_timer_start(&n->watchdog_timer, watchdog_tick, 0, ms);
    }
#endif
}

/* RELOADING=1 with the monotonic time in the same message (Type=notify-reload
 * on systemd 253 needs it to match the reload to its request). */
void sb_sdnotify_reloading(struct sb_sdnotify *n, const char *config_path)
{
    if (n->ready_notified)
        notify(n, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=reloading %s",
               sb_now_mono_ns() / 1000, config_path);
}

void sb_sdnotify_reloaded(struct sb_sdnotify *n, const char *why)
{
    n->reloads++;
    free(n->reload_refused);
    n->reload_refused = NULL;
    if (why) {
        n->reload_refused = sb_xstrdup(why);
        for (char *p = n->reload_refused; *p; p++)
            if (*p == '\n')
                *p = ' ';
    }
    if (n->ready_notified) {
        status_line(n, n->status, sizeof(n->status));
        notify(n, "READY=1\nSTATUS=%s", n->status);
    }
    /* Last, so that systemd has the READY=1 once --reload returns. */
    write_reload_status(n);
}

void sb_sdnotify_stopping(struct sb_sdnotify *n, const char *status)
{
    if (n->stopping)
        return;
    n->stopping = true;
    uv_timer_stop(&n->check_timer);
    uv_timer_stop(&n->watchdog_timer);
    notify(n, "STOPPING=1\nSTATUS=%s", status);
}

static void closed_cb(uv_handle_t *h)
{
    struct sb_sdnotify *n = h->data;
    if (--n->pending_closes)
        return;
    void (*cb)(void *) = n->close_cb;
    void *ud = n->close_ud;
    free(n->reload_refused);
    free(n);
    if (cb)
        cb(ud);
}

void sb_sdnotify_close(struct sb_sdnotify *n, void (*cb)(void *ud), void *ud)
{
    n->close_cb = cb;
    n->close_ud = ud;
    n->pending_closes = 2;
    uv_close((uv_handle_t *)&n->check_timer, closed_cb);
    uv_close((uv_handle_t *)&n->watchdog_timer, closed_cb);
}

/* Reads the reload status file: 0 with *n and the rest of the line after
 * the count (outcome and reason), or -errno. */
static int read_reload_status(const char *path, unsigned long *n, char *rest, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char line[2048];
    int rc = fgets(line, sizeof(line), f) ? 0 : -EIO;
    fclose(f);
    char *end;
    if (!rc) {
        *n = strtoul(line, &end, 10);
        if (end == line || *end != ' ')
            return -EINVAL;
        snprintf(rest, len, "%s", end + 1);
        rest[strcspn(rest, "\n")] = '\0';
    }
    return rc;
}

int sb_sdnotify_reload_command(long pid)
{
    char path[4096], rest[2048];
    unsigned long before, now;
    int rc;
    if (reload_status_path(path, sizeof(path))) {
        fprintf(stderr, "sensorbridge --reload: RUNTIME_DIRECTORY is not set: the daemon "
                        "reports each reload's outcome there (the unit sets it with "
                        "RuntimeDirectory=; set it the same for the daemon and this command)\n");
        return 1;
    }
    if ((rc = read_reload_status(path, &before, rest, sizeof(rest)))) {
        fprintf(stderr,
                "sensorbridge --reload: %s: %s: a daemon with the same RUNTIME_DIRECTORY writes "
                "it once it runs\n",
                path, strerror(-rc));
        return 1;
    }
    if (kill((pid_t)pid, SIGHUP)) {
        fprintf(stderr, "sensorbridge --reload: cannot signal PID %ld: %s\n", pid, strerror(errno));
        return 1;
    }
    const struct timespec step = {.tv_nsec = 50 * 1000000L};
    for (int i = 0; i < SB_SDNOTIFY_RELOAD_WAIT_S * 20; i++) {
        nanosleep(&step, NULL);
        if (!read_reload_status(path, &now, rest, sizeof(rest)) && now > before) {
            if (strcmp(rest, "applied") == 0) {
                printf("sensorbridge: reload applied (PID %ld)\n", pid);
                return 0;
            }
            if (strncmp(rest, "refused ", 8) == 0)
                fprintf(stderr,
                        "sensorbridge: reload refused, the running configuration is kept: %s\n",
                        rest + 8);
            else
                fprintf(stderr, "sensorbridge --reload: %s: unexpected outcome \"%s\"\n", path,
                        rest);
            return 1;
        }
        if (kill((pid_t)pid, 0) && errno == ESRCH) {
            fprintf(stderr, "sensorbridge --reload: PID %ld exited during the reload\n", pid);
            return 1;
        }
    }
    fprintf(stderr, "sensorbridge --reload: PID %ld reported no outcome in %s within %d s\n", pid,
            path, SB_SDNOTIFY_RELOAD_WAIT_S);
    return 1;
}
