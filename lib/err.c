/* err.c - the error object: set, prefix, clear. See err.h for the contract. */
#include "dokkaa/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void err_vset(err_t *err, enum err_code code, const char *fmt, va_list ap)
{
    err->code = code;
    err->sys_errno = 0;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

int err_set(err_t *err, enum err_code code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err_vset(err, code, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int err_sys(err_t *err, const char *fmt, ...)
{
    int saved = errno;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err_vset(err, ERR_SYS, fmt, ap);
        va_end(ap);
        size_t len = strlen(err->msg);
        snprintf(err->msg + len, sizeof err->msg - len, ": %s", strerror(saved));
        err->sys_errno = saved;
    }
    errno = saved;
    return -1;
}

int err_prefix(err_t *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char context[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);
    /* Shift the message right and put "context: " in front; a message too long for
     * both loses its tail, never the context that says where it happened. */
    size_t clen = strlen(context) + 2, mlen = strlen(err->msg);
    if (clen + mlen >= sizeof err->msg)
        mlen = sizeof err->msg - 1 - clen;
    memmove(err->msg + clen, err->msg, mlen);
    err->msg[clen + mlen] = '\0';
    memcpy(err->msg, context, clen - 2);
    memcpy(err->msg + clen - 2, ": ", 2);
    return -1;
}

void err_clear(err_t *err)
{
    if (err) {
        err->code = ERR_OK;
        err->sys_errno = 0;
        err->msg[0] = '\0';
    }
}
