/*
 * sdnotify.h - what systemd hears from the daemon, and the outcome of each
 * reload for `sensorbridge --reload` (docs/operations.md, systemd).
 *
 * While NOTIFY_SOCKET is set (and libsystemd is built in), sd_notify gets:
 *   READY=1 once, the first time the status callback says ready (asked
 *     every SB_SDNOTIFY_INTERVAL_MS), so `systemctl start` returns then;
 *   STATUS=<line> whenever the line changes; the reason of a refused reload
 *     stays in front of it until a reload is applied;
 *   RELOADING=1 with MONOTONIC_USEC, then READY=1, around a reload (only
 *     after the first READY=1: systemd would take the READY=1 that ends a
 *     reload for the end of the start);
 *   WATCHDOG=1 at half of WATCHDOG_USEC when systemd set it for this PID,
 *     from a loop timer, so a stuck loop stops the pings;
 *   STOPPING=1 at shutdown.
 * Whether or not systemd listens, $RUNTIME_DIRECTORY/reload-status (when
 * that variable is set) holds one line: "<reloads> started", "<reloads>
 * applied" or "<reloads> refused <why>": systemd 252 cannot be told that a
 * reload failed, so ExecReload runs `sensorbridge --reload $MAINPID`,
 * which waits for it.
 *
 * Lifecycle (libuv style): sb_sdnotify_new -> sb_sdnotify_start ->
 * sb_sdnotify_close(cb); memory is released just before cb runs.
 */
#ifndef SB_SDNOTIFY_H
#define SB_SDNOTIFY_H
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define SB_SDNOTIFY_INTERVAL_MS 1000

/* How long `sensorbridge --reload` waits for the outcome: below the unit's
 * TimeoutStartSec, which systemd applies to ExecReload= too. */
#define SB_SDNOTIFY_RELOAD_WAIT_S 60

struct sb_sdnotify;

/* Fills out with what the daemon waits for or how it runs (a STATUS= line
 * without the reload prefix) and returns whether it is ready. */
typedef bool (*sb_sdnotify_status_cb)(void *ud, char *out, size_t len);

struct sb_sdnotify *sb_sdnotify_new(uv_loop_t *loop, sb_sdnotify_status_cb status, void *ud);

/* The daemon runs: the reload status file says "0 started", and while
 * systemd listens the readiness checks and the watchdog pings begin. */
void sb_sdnotify_start(struct sb_sdnotify *n);

/* A reload of config_path begins. */
void sb_sdnotify_reloading(struct sb_sdnotify *n, const char *config_path);

/* A reload ended: applied (why NULL) or refused (why). */
void sb_sdnotify_reloaded(struct sb_sdnotify *n, const char *why);

/* The daemon stops: STOPPING=1 with STATUS=status, and no more checks or
 * pings. Only the first call counts. */
void sb_sdnotify_stopping(struct sb_sdnotify *n, const char *status);

void sb_sdnotify_close(struct sb_sdnotify *n, void (*cb)(void *ud), void *ud);

/* sensorbridge --reload PID: sends SIGHUP to the daemon PID and waits (up
 * to SB_SDNOTIFY_RELOAD_WAIT_S) for the outcome it writes to
 * $RUNTIME_DIRECTORY/reload-status. Returns the exit status: 0 if the
 * reload was applied, 1 if it was refused (the reason on stderr), the
 * daemon could not be signalled, exited, or reported nothing in time. */
int sb_sdnotify_reload_command(long pid);

#endif
