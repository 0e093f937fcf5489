/*
 * notifylisten.c - the service manager's side of sd_notify(3) for tests:
 * what systemd would receive from the daemon, without systemd.
 *
 *   notifylisten SOCKET_PATH OUT_FILE
 *       binds an AF_UNIX datagram socket at SOCKET_PATH (give it to the
 *       daemon as NOTIFY_SOCKET) and appends every line of every datagram
 *       to OUT_FILE as "<datagram number> <CLOCK_MONOTONIC µs at receipt>
 *       <line>" (the lines of one message share the number), flushed at
 *       once; runs until SIGINT or SIGTERM and removes the socket. It
 *       writes "listening" to stdout once the socket is bound.
 *   notifylisten --now
 *       prints CLOCK_MONOTONIC in µs (the clock of MONOTONIC_USEC=), so a
 *       test can bracket a reload.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--now") == 0) {
        printf("%llu\n", (unsigned long long)mono_us());
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: notifylisten SOCKET_PATH OUT_FILE | notifylisten --now\n");
        return 2;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "notifylisten: %s: path too long for a unix socket\n", argv[1]);
        return 1;
    }
    strcpy(sa.sun_path, argv[1]);
    FILE *out = fopen(argv[2], "a");
    if (!out) {
        fprintf(stderr, "notifylisten: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        fprintf(stderr, "notifylisten: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    /* Without SA_RESTART, so that the signal ends recv(). */
    struct sigaction act = {.sa_handler = on_signal};
    sigaction(SIGINT, &act, NULL);
    sigaction(SIGTERM, &act, NULL);
    printf("listening\n");
    fflush(stdout);
    char buf[65536];
    unsigned long seq = 0;
    while (!stop) {
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "notifylisten: recv: %s\n", strerror(errno));
            break;
        }
        uint64_t t = mono_us();
        seq++;
        buf[n] = '\0';
        for (char *line = buf, *next; line && *line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            fprintf(out, "%lu %llu %s\n", seq, (unsigned long long)t, line);
        }
        fflush(out);
    }
    fclose(out);
    close(fd);
    unlink(argv[1]);
    return 0;
}
