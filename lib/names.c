/* names.c - the naming rules every part of Dokkaa must agree on: DNS labels for
 * apps, containers and services, container names, link variables, and how a
 * value is quoted in an error message. See names.h; DESIGN.md says why the names
 * look the way they do. */
#include "dokkaa/names.h"

#include <stdio.h>
#include <string.h>

#include "dokkaa/err.h"

/* ---- quoting values for messages ---------------------------------------- */

/* How many of s's first n bytes to keep so that a cut never splits a UTF-8 sequence. */
size_t names_utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

void names_utf8_scrub(const char *s, char *buf, size_t size)
{
    static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
    size_t n = strlen(s), o = 0;
    for (size_t i = 0; i < n;) {
        size_t seq = names_utf8_len((const unsigned char *)s + i, n - i);
        const char *from = seq ? s + i : replacement;
        size_t len = seq ? seq : sizeof replacement - 1;
        if (o + len >= size)
            break;
        memcpy(buf + o, from, len);
        o += len;
        i += seq ? seq : 1;
    }
    buf[o] = '\0';
}

/* The length of the valid UTF-8 sequence at s (at most n bytes), 0 if none starts
 * there: no overlong forms, no surrogates, nothing past U+10FFFF (RFC 3629), which
 * is what jansson accepts in a string. */
size_t names_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* Quote s for an error message: escapes make control characters and bytes that
 * are no UTF-8 character visible (the message is valid UTF-8 whatever s is), and
 * a long value is cut so one bad field cannot push the rest of the message out. */
void names_quote(const char *s, size_t len, char *buf, size_t size)
{
    size_t o = 0, keep = len > NAMES_QUOTE_MAX ? names_utf8_cut(s, NAMES_QUOTE_MAX) : len;
    buf[o++] = '"';
    /* A character goes in whole or not at all: one that does not fit, with 5 bytes
     * kept for '..."' and the NUL, ends the quote there. Escapes make ASCII take up
     * to 4 bytes, so the buffer can fill before keep is reached, and a stop inside
     * a multi-byte character would make the message invalid UTF-8 (the API and the
     * v2 endpoint answer messages in JSON). */
    size_t i;
    for (i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t need = 1;
        if (c == '"' || c == '\\')
            need = 2;
        size_t seq = c >= 0x80 ? names_utf8_len((const unsigned char *)s + i, keep - i) : 1;
        bool escape = c < 0x20 || c == 0x7f || seq == 0; /* seq 0: a byte of no character */
        if (escape)
            need = 4;
        else if (c >= 0x80)
            need = seq;
        if (o + need + 5 > size)
            break;
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
        else if (escape)
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
        else {
            memcpy(buf + o, s + i, need);
            o += need;
            i += need - 1;
        }
    }
    snprintf(buf + o, size - o, "%s\"", i < len ? "..." : "");
}

/* ---- names ---------------------------------------------------------------- */

bool names_is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Why s[0..len) is not a label, or NULL if it is one. */
const char *names_label_reason(const char *s, size_t len)
{
    if (len == 0)
        return "must not be empty";
    if (len > NAMES_MAX_LABEL)
        return "must be at most 63 characters";
    for (size_t i = 0; i < len; i++)
        if (!names_is_lower_alnum(s[i]) && s[i] != '-')
            return "must contain only lower case letters a-z, digits 0-9 and '-'";
    if (s[0] == '-' || s[len - 1] == '-')
        return "must start and end with a letter or digit";
    /* "---" joins app, name and instance in container names; a "--" inside a
     * label would make those names ambiguous. */
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '-' && s[i + 1] == '-')
            return "must not contain \"--\" (Dokkaa joins names with \"---\")";
    return NULL;
}

int names_check_label_n(const char *what, const char *s, size_t len, err_t *err)
{
    const char *reason = names_label_reason(s, len);
    if (!reason)
        return 0;
    char quoted[128];
    names_quote(s, len, quoted, sizeof quoted);
    return err_set(err, ERR_INVALID, "%s %s: %s", what, quoted, reason);
}

int names_check_label(const char *what, const char *s, err_t *err)
{
    return names_check_label_n(what, s, strlen(s), err);
}

int names_container(char *buf, size_t size, const char *app, const char *name, int instance)
{
    if (instance == 0)
        return snprintf(buf, size, "%s---%s", app, name);
    return snprintf(buf, size, "%s---%s---%d", app, name, instance);
}

int names_next(char *buf, size_t size, const char *app, const char *name, int instance)
{
    if (instance == 0)
        return snprintf(buf, size, "%s---%s" NAMES_NEXT_SUFFIX, app, name);
    return snprintf(buf, size, "%s---%s---%d" NAMES_NEXT_SUFFIX, app, name, instance);
}

int names_service_env(char *buf, size_t size, const char *service)
{
    static const char prefix[] = "SERVICE_";
    int n = snprintf(buf, size, "%s%s", prefix, service);
    for (size_t i = sizeof prefix - 1; i < size && buf[i]; i++) {
        if (buf[i] == '-')
            buf[i] = '_';
        else if (buf[i] >= 'a' && buf[i] <= 'z')
            buf[i] = (char)(buf[i] - 'a' + 'A');
    }
    return n;
}
