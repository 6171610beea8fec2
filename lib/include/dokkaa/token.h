/* token.h - API tokens: made here, stored hashed in etcd, checked by the builders.
 *
 * A token is "dk_" and 48 hex digits (192 random bits). etcd never sees it: the
 * record is stored under /tokens/<sha256 of the token, hex>, so a reader of etcd
 * cannot call the API with what it reads, and a builder checks a token with one
 * lookup of its hash. A plain SHA-256 is enough for a random secret of this size:
 * slow password hashes exist for guessable secrets, which these are not.
 * The record is {"id", "name", "role", "created"}; id is the first 12 hex digits
 * of the hash, what `token ls` shows and `token revoke` takes. */
#ifndef DOKKAA_TOKEN_H
#define DOKKAA_TOKEN_H

#include <stdbool.h>

#include "dokkaa/err.h"
#include "dokkaa/etcd.h"
#include "dokkaa/keys.h" /* the record, and its role */

#define TOKEN_LEN 51     /* "dk_" + 48 hex digits */
#define TOKEN_HASH_LEN KEYS_TOKEN_HASH_LEN
#define TOKEN_ID_LEN (KEYS_TOKEN_ID_SIZE - 1)
#define TOKEN_MAX_NAME (KEYS_TOKEN_NAME_SIZE - 1)
#define TOKEN_TIME_LEN 20 /* 2026-11-26T01:02:03Z */

/* Whether text has the shape of a token (not whether one exists). */
bool token_well_formed(const char *text);

/* The etcd key of a token: /tokens/ + its hash (keys.h; size >= 80). */
void token_key(const char *token, char *key, size_t size);
/* The id (TOKEN_ID_LEN + 1 bytes) of the token stored under key (a key under
 * /tokens/). */
void token_id(const char *key, char *id);

/* Make a token, store its record (name: 1..63 printable ASCII characters) and
 * give the secret in token (TOKEN_LEN + 1 bytes), the record's id (TOKEN_ID_LEN
 * + 1) and its creation time (TOKEN_TIME_LEN + 1, RFC 3339). The secret is shown
 * once, to whoever asked for it. revision may be NULL. */
int token_create(etcd *e, const char *name, enum keys_role role, char *token, char *id,
                 char *created, int64_t *revision, err_t *err);

#endif
