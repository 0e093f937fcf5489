/*
 * log.h - one line per event on stderr, prefixed with the syslog priority
 * "<N>" so journald files it at the right level; key=value fields; no
 * timestamps (journald adds them).
 */
#ifndef SB_LOG_H
#define SB_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum sb_log_level {
    SB_LOG_ERR = 3,
    SB_LOG_WARNING = 4,
    SB_LOG_NOTICE = 5,
    SB_LOG_INFO = 6,
    SB_LOG_DEBUG = 7,
};

/* The one global: messages above this level are dropped. Default INFO. */
extern int sb_log_level;

void sb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sb_err(...) sb_log(SB_LOG_ERR, __VA_ARGS__)
#define sb_warn(...) sb_log(SB_LOG_WARNING, __VA_ARGS__)
#define sb_notice(...) sb_log(SB_LOG_NOTICE, __VA_ARGS__)
#define sb_info(...) sb_log(SB_LOG_INFO, __VA_ARGS__)
#define sb_debug(...) sb_log(SB_LOG_DEBUG, __VA_ARGS__)

/* Makes a message safe inside a quoted key="value" field: replaces double
 * quotes with single quotes and control characters with spaces, in place.
 * Returns s. */
char *sb_log_quote(char *s);

/* Parses "err", "warning", "notice", "info", "debug"; -1 if unknown. */
int sb_log_level_parse(const char *s);

/* Rate limiter for repeated errors: at most one line per `interval_ns`.
 * sb_ratelimit_ok returns true when a line may be logged now; it then sets
 * *suppressed to how many were swallowed since the previous line. */
struct sb_ratelimit {
    uint64_t interval_ns;
    uint64_t last_ns;
    uint64_t suppressed;
    bool primed;
};

bool sb_ratelimit_ok(struct sb_ratelimit *rl, uint64_t now_ns, uint64_t *suppressed);

#endif
