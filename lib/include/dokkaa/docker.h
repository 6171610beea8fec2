/* docker.h - a Docker Engine API client over the engine's unix socket (libcurl).
 *
 * Only what Dokkaa needs: containers (create, start, stop, remove, inspect, list by
 * label), images (inspect, and a pull only when the image is not present, so a
 * local image never makes the engine contact a registry), networks (the bridge
 * gateway), the events stream and a container's logs. Values are jansson objects
 * in the Engine API's own shape. One client per thread. */
#ifndef DOKKAA_DOCKER_H
#define DOKKAA_DOCKER_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dokkaa/err.h"

typedef struct docker docker;

/* host: "unix:///run/dokkaa/h1/docker.sock", a plain socket path, or NULL for
 * $DOCKER_HOST or else /var/run/docker.sock. */
docker *docker_new(const char *host, err_t *err);
void docker_free(docker *d);

/* Generic call: method, path (e.g. "/containers/json?all=1"), optional JSON body.
 * *resp (may be NULL) gets the decoded answer, or NULL when it is empty. A status of
 * 400 and above is an error: ERR_NOTFOUND for 404, ERR_CONFLICT for 409, else
 * ERR_REMOTE, with the engine's own message. */
int docker_call(docker *d, const char *method, const char *path, json_t *body, long *status,
                json_t **resp, err_t *err);

/* Every call that puts a container's name or id (or a network's name) into a
 * request checks it first: Docker's rule for names, [a-zA-Z0-9][a-zA-Z0-9_.-]*, at
 * most DOCKER_NAME_MAX characters, which ids (64 hex digits) meet too. Anything else
 * is ERR_INVALID and no request is made, so a name read from etcd cannot reach
 * another endpoint of the engine ("../../info", "x?all=1"). what names it in the
 * message ("container"). */
#define DOCKER_NAME_MAX 255
#define DOCKER_NAME_FIRST "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define DOCKER_NAME_CHARS DOCKER_NAME_FIRST "_.-"
int docker_check_name(const char *what, const char *name, err_t *err);

/* Create a container named name from a create body (Image, Cmd, Env, Labels,
 * HostConfig...). *id gets its id (free it). ERR_CONFLICT if the name is taken. */
int docker_container_create(docker *d, const char *name, json_t *config, char **id, err_t *err);
int docker_container_start(docker *d, const char *id, err_t *err);
int docker_container_stop(docker *d, const char *id, int timeout_seconds, err_t *err);
/* Remove, stopping it first if it runs (force). A missing container is not an error. */
int docker_container_remove(docker *d, const char *id, err_t *err);
int docker_container_inspect(docker *d, const char *id, json_t **out, err_t *err);
/* Rename a container (running or not); ERR_CONFLICT if name is taken. */
int docker_container_rename(docker *d, const char *id, const char *name, err_t *err);
/* Set its restart policy ("no", "unless-stopped", ...) while it runs. */
int docker_container_restart_policy(docker *d, const char *id, const char *policy, err_t *err);
/* Run argv (NULL-terminated) inside a running container, as `docker exec` does, and
 * wait at most timeout_ms for it to end: *exit_code gets its status. A command still
 * running then is an ERR_UNAVAIL error (the engine offers no way to stop it: it
 * finishes on its own). */
int docker_exec(docker *d, const char *id, char *const *argv, int timeout_ms, int *exit_code,
                err_t *err);
/* The containers (running or not) that carry label ("dokkaa.app" or "k=v"). */
int docker_container_list(docker *d, const char *label, json_t **out, err_t *err);

int docker_image_present(docker *d, const char *image, bool *present, err_t *err);
/* Pull image unless it is present already. With a registry ("10.88.0.1:5000"), an
 * image named without a registry host ("dockerfile/nginx") is pulled from there
 * and tagged with its plain name, so that no public registry is ever asked. */
int docker_image_ensure(docker *d, const char *image, const char *registry, err_t *err);

/* The gateway address of a network ("bridge"), i.e. the host seen from containers. */
int docker_network_gateway(docker *d, const char *network, char **gateway, err_t *err);

/* Stream engine events matching filters (a JSON object in the API's filter shape,
 * may be NULL) to fn, one decoded event at a time, until fn returns false (0), the
 * stream breaks (-1) or *stop becomes true (-1, ERR_CANCELLED). */
typedef bool (*docker_event_fn)(void *ud, json_t *event);
int docker_events(docker *d, json_t *filters, docker_event_fn fn, void *ud,
                  const atomic_bool *stop, err_t *err);
/* The same, but first replaying the events since a moment (since: Unix seconds,
 * "1700000000", or NULL for none): a caller that lists the containers, then
 * follows the events from just before the listing, misses nothing in between. */
int docker_events_since(docker *d, json_t *filters, const char *since, docker_event_fn fn,
                        void *ud, const atomic_bool *stop, err_t *err);

/* A container's output. Without a TTY the engine multiplexes stdout and stderr into
 * frames: an 8-byte header (the stream, 3 zero bytes, the payload size as a big-
 * endian uint32) and the payload; with a TTY it sends the raw bytes, all of them on
 * one stream (DOCKER_STDOUT here). */
enum docker_stream { DOCKER_STDIN = 0, DOCKER_STDOUT = 1, DOCKER_STDERR = 2, DOCKER_SYSERR = 3 };

/* Called with output bytes as they come (a frame may arrive in several calls, and
 * lines are not reassembled); return false to stop. */
typedef bool (*docker_log_fn)(void *ud, enum docker_stream stream, const char *data, size_t len);

/* The demultiplexer: a pure state machine over the frames, fed chunks cut anywhere.
 * Zero-initialised (or docker_demux_init) it expects a header. */
typedef struct docker_demux {
    unsigned char header[8];
    size_t have;              /* header bytes gathered so far */
    uint32_t left;            /* payload bytes of the current frame still to come */
    enum docker_stream stream;
    bool broken;              /* a bad header was seen: nothing more makes sense */
} docker_demux;

void docker_demux_init(docker_demux *dm);
/* Feed a chunk: fn gets each piece of payload (never an empty one). Returns 0 when
 * the chunk is consumed, 1 when fn returned false (the rest is dropped), -1 on a
 * header that is not a frame's (ERR_REMOTE; every later feed fails too). */
int docker_demux_feed(docker_demux *dm, const char *data, size_t len, docker_log_fn fn, void *ud,
                      err_t *err);
/* Whether the stream so far ends on a frame boundary (a stream that ends elsewhere
 * was cut short). */
bool docker_demux_at_boundary(const docker_demux *dm);

/* Stream a container's stdout and stderr (tail: the last lines only, -1 for all) to
 * fn, then with follow what it prints from then on, until the container stops (0),
 * fn returns false (0), the stream breaks (-1), or *stop (may be NULL) becomes true
 * (-1, ERR_CANCELLED; noticed within about a second even while the log is idle).
 * ERR_NOTFOUND for a missing container. */
int docker_container_logs(docker *d, const char *container, bool follow, int tail,
                          docker_log_fn fn, void *ud, const atomic_bool *stop, err_t *err);

#endif
