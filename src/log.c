/* log.c - syslog-prefixed lines on stderr, and a rate limiter. */
#include "sensorbridge/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sb_log_level = SB_LOG_INFO;

void sb_log(int level, const char *fmt, ...)
{
    if (level > sb_log_level)
        return;
    /* One fprintf per line so concurrent writers (librdkafka's log
     * callback runs on its own threads) never interleave inside a line. */
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    fprintf(stderr, "<%d>%s\n", level, line);
}

char *sb_log_quote(char *s)
{
    for (char *p = s; *p; p++) {
        if (*p == '"')
            *p = '\'';
        else if ((unsigned char)*p < 0x20)
            *p = ' ';
    }
    return s;
}

int sb_log_level_parse(const char *s)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {
        {"err", SB_LOG_ERR},       {"error", SB_LOG_ERR}, {"warning", SB_LOG_WARNING},
        {"notice", SB_LOG_NOTICE}, {"info", SB_LOG_INFO}, {"debug", SB_LOG_DEBUG},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].level;
    return -1;
}

bool sb_ratelimit_ok(struct sb_ratelimit *rl, uint64_t now_ns, uint64_t *suppressed)
{
    if (rl->primed && now_ns - rl->last_ns < rl->interval_ns) {
        rl->suppressed++;
        return false;
    }
    rl->primed = true;
    rl->last_ns = now_ns;
    if (suppressed)
        *suppressed = rl->suppressed;
    rl->suppressed = 0;
    return true;
}
