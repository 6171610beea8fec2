/* log.h - one-line logging to stderr: "2026-11-25T22:50:01Z conductor[h1] info: msg".
 * Daemons log to stderr; whoever starts them decides where it goes. */
#ifndef DOKKAA_LOG_H
#define DOKKAA_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Set the program name shown on each line and the lowest level printed
 * (from $DOKKAA_LOG_LEVEL: debug|info|warn|error, default info). */
void log_init(const char *program);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
