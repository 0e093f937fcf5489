/* main.c - command line: argv -> daemon. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "sensorbridge/config.h"
#include "sensorbridge/daemon.h"
#include "sensorbridge/sdnotify.h"

static void usage(FILE *out)
{
    fprintf(out, "Usage: sensorbridge [--config FILE] [--check-config]\n"
                 "       sensorbridge --reload PID\n"
                 "       sensorbridge --version | --help\n"
                 "\n"
                 "Replays sensor datasets into Kafka, consumes them into metrics and serves\n"
                 "them to Prometheus on /metrics, all on one event loop.\n"
                 "\n"
                 "  -c, --config FILE   configuration file (default " SB_DEFAULT_CONFIG_PATH ")\n"
                 "  -t, --check-config  validate the configuration and exit: 0 if valid,\n"
                 "                      1 with a message naming file, line and key if not\n"
                 "  -r, --reload PID    make the daemon PID reload its configuration (SIGHUP)\n"
                 "                      and wait for the outcome in $RUNTIME_DIRECTORY: 0 if\n"
                 "                      applied, 1 if refused (the reason on stderr)\n"
                 "  -V, --version       print the version and exit\n"
                 "  -h, --help          print this help and exit\n"
                 "\n"
                 "Signals: SIGHUP reloads the configuration, SIGINT/SIGTERM stop cleanly.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 't'},
        {"reload", required_argument, NULL, 'r'}, {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *path = SB_DEFAULT_CONFIG_PATH;
    int check = 0;
    long reload_pid = 0;
    char *end;
    int c;
    while ((c = getopt_long(argc, argv, "c:tr:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 't':
            check = 1;
            break;
        case 'r':
            errno = 0;
            reload_pid = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || reload_pid <= 0) {
                fprintf(stderr, "sensorbridge: --reload needs a process id, not '%s'\n", optarg);
                usage(stderr);
                return 2;
            }
            break;
        case 'V':
            printf("sensorbridge %s\n", SB_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sensorbridge: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (reload_pid)
        return sb_sdnotify_reload_command(reload_pid);
    if (check) {
        struct sb_config cfg;
        char err[1024];
        sb_config_defaults(&cfg);
        int rc = sb_config_load(&cfg, path, err, sizeof(err));
        sb_config_free(&cfg);
        if (rc) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        printf("%s: configuration OK\n", path);
        return 0;
    }
    return sb_daemon_main(path);
}
