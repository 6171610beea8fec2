/* err.h - the error object every libdokkaa call reports through.
 *
 * A failing function fills a caller-owned err_t and returns -1. Callers up the
 * stack may add context with err_prefix(); the top of the program prints it once.
 * This keeps error text precise ("etcd put /apps/x: connection refused") without
 * every layer logging the same failure again. */
#ifndef DOKKAA_ERR_H
#define DOKKAA_ERR_H

#include <stddef.h>

enum err_code {
    ERR_OK = 0,
    ERR_SYS,        /* a system call failed; err_t.sys_errno says which errno */
    ERR_INVALID,    /* bad input: a manifest, a request, a value read from etcd */
    ERR_NOTFOUND,   /* the key, container or image does not exist */
    ERR_CONFLICT,   /* already exists, or a transaction's compare failed */
    ERR_UNAVAIL,    /* a remote (etcd, dockerd) could not be reached */
    ERR_REMOTE,     /* a remote answered with an error */
    ERR_COMPACTED,  /* an etcd watch asked for a revision already compacted */
    ERR_CANCELLED,  /* a long-running call was asked to stop */
};

typedef struct err {
    enum err_code code;
    int sys_errno;
    char msg[1024];
} err_t;

/* Set the error and return -1, so that `return err_set(err, ...)` reads well.
 * A NULL err is allowed: the error is then dropped. */
int err_set(err_t *err, enum err_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like err_set with ERR_SYS, appending strerror(errno). */
int err_sys(err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Put "context: " in front of the current message; returns -1. */
int err_prefix(err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void err_clear(err_t *err);

#endif
