/* sleep.c - waiting that a stop request cuts short (see sleep.h). */
#include "dokkaa/sleep.h"

#include <time.h>

#define SLEEP_SLICE_MS 50

bool sleep_ms(long ms, const atomic_bool *stop)
{
    for (long left = ms; left > 0; left -= SLEEP_SLICE_MS) {
        if (stop && atomic_load(stop))
            return false;
        long slice = left < SLEEP_SLICE_MS ? left : SLEEP_SLICE_MS;
        struct timespec ts = {0, slice * 1000000L};
        nanosleep(&ts, NULL); /* EINTR: a signal, the flag is looked at next */
    }
    return !(stop && atomic_load(stop));
}
