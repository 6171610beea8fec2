/* docker_internal.h - the Docker client's stream splitter, for its unit tests and
 * the fuzz harnesses (fuzz/) only: what docker.c makes of the events stream's
 * bytes, without an engine. The programs use docker.h. (The logs demultiplexer is
 * public already: docker_demux_feed.) */
#ifndef DOKKAA_DOCKER_INTERNAL_H
#define DOKKAA_DOCKER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "dokkaa/docker.h"

/* No event is anywhere near this; a line that grows past it is not an event. */
#define DOCKER_EVENT_MAX (1024 * 1024)

/* The events stream is a sequence of JSON objects, one per line; chunks may cut a
 * line anywhere, so the tail is kept until its newline arrives. Zero-initialise,
 * set fn and ud, feed chunks, free(pending) at the end. */
struct docker_events_state {
    docker_event_fn fn;
    void *ud;
    char *pending;
    size_t len;
};

/* One chunk (ud is the struct docker_events_state): fn gets each complete line that
 * is JSON. False when fn said stop, a line passed DOCKER_EVENT_MAX, or out of memory:
 * the stream then ends. */
bool docker_events_chunk(void *ud, const char *data, size_t len);

#endif
