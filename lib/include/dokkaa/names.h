/* names.h - the naming rules every part of Dokkaa agrees on (DESIGN.md): app,
 * container and service names are DNS labels without "--"; containers are named
 * "<app>---<name>[---<i>]"; a link's variables are SERVICE_<NAME>_ADDR and _PORT.
 * And how a value a user wrote is quoted in an error message. */
#ifndef DOKKAA_NAMES_H
#define DOKKAA_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "dokkaa/err.h"

#define NAMES_MAX_LABEL 63
/* Quoted values in messages are cut here: enough to recognise, never a flood. */
#define NAMES_QUOTE_MAX 80

/* A DNS label (RFC 1123: [a-z0-9-], 1..63, starts and ends with a letter or digit)
 * without "--", as app, container and service names must be. On failure err says
 * why, naming what: e.g. what="app name". */
int names_check_label(const char *what, const char *s, err_t *err);
/* The same for the len bytes at s (not NUL-terminated). */
int names_check_label_n(const char *what, const char *s, size_t len, err_t *err);
/* Why s[0..len) is not a label, or NULL if it is one. */
const char *names_label_reason(const char *s, size_t len);
/* [a-z0-9] */
bool names_is_lower_alnum(char c);

/* Container name of instance i: "<app>---<name>" for 0, "<app>---<name>---<i>" else.
 * Returns snprintf's result. */
int names_container(char *buf, size_t size, const char *app, const char *name, int instance);

/* Name of instance i's next container, the new revision started beside the running
 * one during a start-first rollout: names_container's and ".next"
 * ("web---nginx---2.next"). Renamed to names_container's once the old one is gone.
 * Returns snprintf's result. */
#define NAMES_NEXT_SUFFIX ".next"
int names_next(char *buf, size_t size, const char *app, const char *name, int instance);

/* Environment variable prefix of a linked service: "SERVICE_" + upper case, '-' -> '_'
 * ("my-db" -> "SERVICE_MY_DB"). Returns snprintf's result. */
int names_service_env(char *buf, size_t size, const char *service);

/* Quote s[0..len) for an error message into buf (size >= 16): "\"...\"", with
 * control characters and bytes of no valid UTF-8 sequence escaped (\xNN), and
 * anything past NAMES_QUOTE_MAX bytes cut, never inside a UTF-8 sequence. */
void names_quote(const char *s, size_t len, char *buf, size_t size);
/* The length of the valid UTF-8 sequence at s (at most n bytes, n >= 1), 0 if none
 * starts there: no overlong forms, no surrogates, nothing past U+10FFFF (RFC 3629),
 * which is what jansson accepts in a string. */
size_t names_utf8_len(const unsigned char *s, size_t n);
/* How many of s's first n bytes to keep so that a cut never splits a UTF-8 sequence. */
size_t names_utf8_cut(const char *s, size_t n);
/* s as valid UTF-8 into buf (size >= 4): each byte that starts no valid sequence
 * becomes U+FFFD, the replacement character, and what does not fit is cut, never
 * inside a character. For text that must reach JSON whatever a client sent (a
 * path in an error message). */
void names_utf8_scrub(const char *s, char *buf, size_t size);

#endif
