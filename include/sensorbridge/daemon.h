/*
 * daemon.h - wires the modules together on one libuv loop: embedded
 * broker, producer, replay, consumer, registry, HTTP; handles SIGINT and
 * SIGTERM (clean stop) and SIGHUP (reload); systemd hears of it through
 * sdnotify.h.
 */
#ifndef SB_DAEMON_H
#define SB_DAEMON_H

/* Runs the daemon with the configuration at config_path until SIGINT or
 * SIGTERM. Returns the process exit status: 0 after a clean stop, 1 if
 * start-up failed (the reason is logged). */
int sb_daemon_main(const char *config_path);

#endif
