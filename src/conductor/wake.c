/* wake.c - how any thread asks the main loop for a reconcile pass (conductor.h).
 * A leaf of its own: the threads that wake the loop (watch.c, health.c, ...) are
 * started by main.c, which must not be called back. */
#include "conductor.h"

void conductor_wake(conductor *c)
{
    pthread_mutex_lock(&c->mu);
    c->dirty = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->mu);
}
