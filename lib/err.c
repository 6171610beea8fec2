/* err.c - the error object: set, prefix, clear. See err.h for the contract.
 *
 * Invariant: err->msg is always valid UTF-8 whenever what was written into it was.
 * A message cut to fit the buffer is cut before a whole character, never inside one
 * (the API puts the text into JSON, and a broken sequence there is a 500). err.c
 * keeps its own small cut rather than call names.c: the error object sits below
 * every other module of libdokkaa. */
#include "dokkaa/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The length to keep of s's first len bytes so that the end is not inside a UTF-8
 * sequence: a lead byte whose sequence does not fit, and its continuation bytes, go. */
static size_t err_utf8_cut(const char *s, size_t len)
{
    size_t i = len, back = 0;
    while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--, back++;
    if (i == 0)
        return len;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return need > back + 1 ? i - 1 : len; /* cut before the incomplete sequence */
}

/* vsnprintf into buf (size > 0); a text too long is cut at a character boundary. */
static void err_format(char *buf, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, size, fmt, ap);
    if (n >= 0 && (size_t)n >= size) {
        size_t keep = err_utf8_cut(buf, size - 1);
        buf[keep] = '\0';
    }
}

static void err_vset(err_t *err, enum err_code code, const char *fmt, va_list ap)
{
    err->code = code;
    err->sys_errno = 0;
    err_format(err->msg, sizeof err->msg, fmt, ap);
}

/* Append ": " and strerror(e) to err->msg, cut as err_format cuts. */
static void err_append_errno(err_t *err, int e)
{
    size_t len = strlen(err->msg);
    int n = snprintf(err->msg + len, sizeof err->msg - len, ": %s", strerror(e));
    if (n >= 0 && (size_t)n >= sizeof err->msg - len)
        err->msg[err_utf8_cut(err->msg, sizeof err->msg - 1)] = '\0';
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
        err_append_errno(err, saved);
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
    err_format(context, sizeof context, fmt, ap);
    va_end(ap);
    /* Shift the message right and put "context: " in front; a message too long for
     * both loses its tail, never the context that says where it happened. */
    size_t clen = strlen(context) + 2, mlen = strlen(err->msg);
    if (clen + mlen >= sizeof err->msg)
        mlen = err_utf8_cut(err->msg, sizeof err->msg - 1 - clen);
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
