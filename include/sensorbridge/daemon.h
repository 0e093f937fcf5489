/*
 * daemon.h - wires the modules together on one libuv loop: embedded
 * broker, producer, replay, consumer, registry, HTTP; handles SIGINT and
 * SIGTERM (clean stop), SIGHUP (reload) and systemd notification.
 */
#ifndef SB_DAEMON_H
#define SB_DAEMON_H

/* Runs the daemon with the configuration at config_path until SIGINT or
 * SIGTERM. Returns the process exit status: 0 after a clean stop, 1 if
 * start-up failed (the reason is logged). */
int sb_daemon_main(const char *config_path);

/* sensorbridge --reload PID: sends SIGHUP to the daemon PID and waits (up to
 * SB_RELOAD_WAIT_S in daemon.c) for the outcome it writes to
 * $RUNTIME_DIRECTORY/reload-status. Returns the exit status: 0 if the
 * reload was applied, 1 if it was refused (the reason on stderr), the daemon
 * could not be signalled, exited, or reported nothing in time. */
int sb_daemon_reload(long pid);

#endif
