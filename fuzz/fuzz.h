/* fuzz.h - what the libFuzzer harnesses of fuzz/ share: a check that aborts with
 * a message (libFuzzer then keeps the input as a crash), and the pseudo-random cuts
 * by which a harness feeds a stream in chunks as a network would. Header-only: each
 * harness is one executable. */
#ifndef DOKKAA_FUZZ_H
#define DOKKAA_FUZZ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: its failure is a finding. */
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* Whether s is valid UTF-8, the way every caller that puts a message into JSON meets
 * it: jansson refuses to make a string of anything else. */
static inline bool fuzz_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* The next chunk's length, 1..64, from a small generator seeded by the input, so
 * that the same input is always cut the same way (a crash reproduces). */
static inline size_t fuzz_cut(uint32_t *state, size_t left)
{
    *state = *state * 1103515245u + 12345u;
    size_t n = 1 + ((*state >> 16) % 64);
    return n < left ? n : left;
}

/* A first line naming a variant ("status\n{...}"): its index in names, the rest
 * after the newline in *rest; -1 if the line names none. Seeds stay readable. */
static inline int fuzz_variant(const uint8_t *data, size_t size, const char *const *names,
                               size_t n, const uint8_t **rest, size_t *rest_size)
{
    size_t line = 0;
    while (line < size && data[line] != '\n')
        line++;
    if (line == size)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        while (names[i][len])
            len++;
        if (len == line && __builtin_memcmp(names[i], data, len) == 0) {
            *rest = data + line + 1;
            *rest_size = size - line - 1;
            return (int)i;
        }
    }
    return -1;
}

#endif
