/* log.c - timestamped one-line logging to stderr, safe from several threads
 * (a single fprintf of a line prepared in full is atomic enough for stdio). */
#include "dokkaa/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_program = "dokkaa";
static enum log_level log_threshold = LOG_INFO;
static const char *const log_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *program)
{
    log_program = program;
    const char *level = getenv("DOKKAA_LOG_LEVEL");
    for (int i = LOG_DEBUG; level && i <= LOG_ERROR; i++)
        if (strcmp(level, log_names[i]) == 0)
            log_threshold = (enum log_level)i;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < log_threshold)
        return;
    char line[2048], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(line, sizeof line, "%s %s %s: ", stamp, log_program, log_names[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
