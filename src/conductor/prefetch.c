/* prefetch.c - every host pulls the images of every manifest ahead of need.
 *
 * When a host dies, its instances start elsewhere; if the new host had to pull
 * the image first, failover would take a pull longer (seconds for a 100 MB image).
 * So each pass hands the set of images in use to this thread, which pulls the
 * missing ones from the cluster's registry, one at a time, at its own pace. Only
 * with a registry: without one there is nowhere of our own to pull from. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conductor.h"
#include "dokkaa/docker.h"
#include "dokkaa/log.h"

static void prefetch_free(char **images, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(images[i]);
    free(images);
}

static bool prefetch_same(char **a, size_t na, char **b, size_t nb)
{
    if (!a || !b || na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

/* Every pass hands its set over; only a different one wakes the thread, so a
 * quiet cluster costs no image look-ups. */
void prefetch_want(conductor *c, char **images, size_t n)
{
    pthread_mutex_lock(&c->prefetch_mu);
    if (prefetch_same(images, n, c->prefetch, c->nprefetch)) {
        prefetch_free(images, n);
    } else {
        prefetch_free(c->prefetch, c->nprefetch);
        c->prefetch = images;
        c->nprefetch = n;
        c->prefetch_generation++;
        pthread_cond_signal(&c->prefetch_cond);
    }
    pthread_mutex_unlock(&c->prefetch_mu);
}

/* Wait for a new set (or stop); return a copy of it. */
static char **prefetch_next(conductor *c, unsigned *seen, size_t *n)
{
    char **copy = NULL;
    pthread_mutex_lock(&c->prefetch_mu);
    while (*seen == c->prefetch_generation && !atomic_load(&c->stop)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&c->prefetch_cond, &c->prefetch_mu, &ts);
    }
    *seen = c->prefetch_generation;
    *n = 0;
    copy = calloc(c->nprefetch + 1, sizeof *copy);
    for (size_t i = 0; copy && i < c->nprefetch; i++)
        if ((copy[*n] = strdup(c->prefetch[i])))
            (*n)++;
    pthread_mutex_unlock(&c->prefetch_mu);
    return copy;
}

void *prefetch_thread(void *arg)
{
    conductor *c = arg;
    err_t err;
    unsigned seen = 0;
    docker *d = *c->registry ? docker_new(c->docker_host, &err) : NULL;
    while (d && !atomic_load(&c->stop)) {
        size_t n;
        char **images = prefetch_next(c, &seen, &n);
        for (size_t i = 0; i < n; i++) {
            bool present;
            if (!atomic_load(&c->stop) && docker_image_present(d, images[i], &present, &err) == 0 &&
                !present) {
                log_info("prefetch: pulling %s from %s", images[i], c->registry);
                if (docker_image_ensure(d, images[i], c->registry, &err) < 0)
                    log_warn("prefetch: %s", err.msg);
            }
            free(images[i]);
        }
        free(images);
    }
    docker_free(d);
    return NULL;
}
