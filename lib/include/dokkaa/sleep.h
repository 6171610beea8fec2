/* sleep.h - the one way a Dokkaa thread waits: in slices, so that a stop request
 * (a signal handler setting a flag) is seen within 50 ms however long the wait. */
#ifndef DOKKAA_SLEEP_H
#define DOKKAA_SLEEP_H

#include <stdatomic.h>
#include <stdbool.h>

/* Sleep ms milliseconds, or less once *stop (may be NULL) is true. Returns false
 * when it was asked to stop (before or during the wait), true otherwise. */
bool sleep_ms(long ms, const atomic_bool *stop);

#endif
