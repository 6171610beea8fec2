/* api.h - the app commands' client of the builders' API (/api/v1, described by
 * src/builder/assets/openapi.json).
 *
 *   api_config.c  where the API is and which token to send: the config file
 *                 ($XDG_CONFIG_HOME/dokkaa/config.json), then $DOKKAA_API and
 *                 $DOKKAA_TOKEN, then --api and --token
 *   api.c         requests and streams; answers become exit codes and messages
 *   api_args.c    the options every command shares (-o json, --help) and the
 *                 APP[/NAME[/i]] they name
 *
 * Every function that can fail returns an exit code (enum api_exit) and fills an
 * err_t; the command prints it once, at its top. */
#ifndef DOKKAACFG_API_H
#define DOKKAACFG_API_H

#include <getopt.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "dokkaa/err.h"
#include "dokkaacfg.h"

#define API_DEFAULT_URL "http://127.0.0.1:4001"
#define API_NAME_MAX 64 /* a DNS label and its NUL */

enum api_exit {
    API_OK = 0,
    API_FAIL = 1,     /* the server failed (5xx), or could not be reached */
    API_USAGE = 2,    /* the command line is wrong */
    API_NOTFOUND = 3, /* 404 */
    API_DENIED = 4,   /* 401, 403 */
    API_INVALID = 5,  /* 400, 413, or a bad local file */
    /* the commands that wait for a rollout (set, rollback; rollout_wait.c) */
    API_ROLLOUT_FAILED = 6, /* it failed: rolled back, paused, or failed */
    API_SUPERSEDED = 7,     /* a newer revision came before it rolled out */
    API_INTERRUPTED = 130,  /* Ctrl-C while waiting (the rollout goes on) */
};

/* ---- api_config.c ---- */

#define API_MORE_MAX 8

typedef struct api_config {
    char url[512];   /* without a trailing "/" */
    char token[128]; /* "" for none */
    char ca[4096];   /* the CA file its certificate chains to; "" for the system's */
    /* the other hosts' APIs (the config's "apis"), tried in turn when url cannot
     * be reached; none when --api or $DOKKAA_API names the API */
    char more[API_MORE_MAX][256];
    int nmore;
} api_config;

/* The config file's path: $XDG_CONFIG_HOME/dokkaa/config.json, else
 * $HOME/.config/dokkaa/config.json. */
int api_config_path(char *path, size_t size, err_t *err);
/* The config file as a JSON object; a missing file is an empty one. */
int api_config_read(const char *path, json_t **obj, err_t *err);
/* Replace the file with obj, mode 0600, atomically (its directory made 0700). */
int api_config_write(const char *path, const json_t *obj, err_t *err);
/* An API URL as given ("10.88.0.11:4001/") made whole ("http://10.88.0.11:4001"). */
void api_config_url(char *url, size_t size);
/* The file, then the environment, then the flags of g. */
int api_config_load(api_config *c, const cfg_global *g, err_t *err);

/* ---- api.c ---- */

typedef struct api api;

/* Called with each piece of a 2xx body of a stream; false stops the stream. */
typedef bool (*api_chunk_fn)(void *ud, const char *data, size_t len);

typedef struct api_req {
    const char *method;
    char path[512];        /* under the API's URL, e.g. "/api/v1/apps/web/nginx" */
    const char *body;      /* JSON; NULL for none */
    size_t body_len;
    api_chunk_fn stream;   /* a stream: no time limit, a 2xx body goes here as it comes */
    void *ud;
    long timeout_ms;       /* of a request that is not a stream; 0: 30 s */
} api_req;

int api_open(api **a, const cfg_global *g, err_t *err);
void api_close(api *a);

/* Send req. A 2xx answer's JSON goes to *out (when out is not NULL and req is
 * not a stream); any other answer is an error, with the server's message. A
 * stream also ends, with API_OK, on SIGINT or SIGTERM. */
int api_send(api *a, const api_req *req, json_t **out, err_t *err);

/* Whether a stream ended on SIGINT or SIGTERM. */
bool api_interrupted(void);

/* From now on SIGINT and SIGTERM only set the flag that api_interrupted reads
 * (streams do this themselves): for a command's wait loop, which sleeps with
 * sleep_ms(ms, api_stop_flag()) and looks at api_interrupted after each request. */
void api_catch_signals(void);
const atomic_bool *api_stop_flag(void);

/* Print an answer for people; -o json prints the answer itself instead. */
typedef int (*api_print_fn)(json_t *v, void *ud, err_t *err);

typedef struct api_args api_args;

/* A whole command after its arguments: open, send, print (as JSON with -o json),
 * print the error once. Returns the exit code. */
int api_run(const api_args *args, const api_req *req, api_print_fn human, void *ud);

/* Print v as indented JSON and a newline. */
int api_print_json(json_t *v, err_t *err);

/* The string field, or "" when it is missing or null. */
const char *api_str(const json_t *obj, const char *field);
/* The integer field in decimal, in buf (24 bytes at least); "0" when missing. */
const char *api_int(const json_t *obj, const char *field, char *buf);

/* ---- api_args.c ---- */

typedef struct api_cmd {
    const char *name;          /* "ls", "token create" */
    const char *usage;         /* "[-o json]\n  what it does\n", after "usage: dokkaacfg NAME " */
    int min_args, max_args;    /* positional arguments */
    const struct option *opts; /* its own options, {0}-terminated; a val that is a letter
                                  is also its short option */
    /* Called for each of its own options; returns 0 or an exit code. */
    int (*opt)(void *ud, int val, const char *arg, err_t *err);
} api_cmd;

struct api_args {
    cfg_global g; /* the global options, with --api and --token given after the command */
    bool json;    /* -o json */
    int argc;   /* the positional arguments */
    char **argv;
};

#define API_GO_ON (-1)

/* Parse argv (argv[0] the command's name): API_GO_ON to go on, else the exit
 * code to return (0 after --help, which printed the usage to stdout). Besides
 * -o and --help, every command takes --api and --token as the global ones. */
int api_args_parse(const api_cmd *cmd, const cfg_global *g, int argc, char **argv, api_args *out,
                   void *ud);

enum api_target_kind {
    API_TARGET_APP,      /* APP */
    API_TARGET_ANY,      /* APP or APP/NAME */
    API_TARGET_NAME,     /* APP/NAME */
    API_TARGET_INSTANCE, /* APP/NAME or APP/NAME/i */
};

typedef struct api_target {
    char app[API_NAME_MAX];
    char name[API_NAME_MAX]; /* "" when not given */
    int instance;            /* 0 when not given */
} api_target;

/* Split and check what a command names: each name a DNS label without "--". */
int api_target_parse(const char *arg, enum api_target_kind kind, api_target *t, err_t *err);

/* api_args_parse, then api_target_parse of the first argument when there is one
 * (t is zeroed when there is none); its error is printed. */
int api_args_target(const api_cmd *cmd, const cfg_global *g, int argc, char **argv,
                    api_args *out, enum api_target_kind kind, api_target *t, void *ud);

/* The whole of a command that names a target and sends no body: its arguments,
 * then METHOD on the target's path; human gets the target as its ud. */
int api_target_command(const cfg_global *g, const api_cmd *cmd, int argc, char **argv,
                       const char *method, enum api_target_kind kind, api_print_fn human);

/* "/api/v1/apps/APP[/NAME]" followed by suffix ("" for none). */
void api_target_path(const api_target *t, const char *suffix, char *path, size_t size);

/* A decimal integer, all of text; else an error naming what. */
int api_parse_int(const char *what, const char *text, long long min, long long max,
                  long long *out, err_t *err);

/* ---- shared by more than one command ---- */

/* app_ls.c: the table of ls, one row per manifest of each App in apps. */
int cfg_apps_print(json_t *apps, err_t *err);

/* rollout_wait.c: how set and rollback wait for the rollout of what they wrote.
 *
 * The scheduler records each manifest change but a scale as a new revision and
 * rolls it out in batches; GET .../revisions says how it stands. Before the write,
 * cfg_rollout_begin notes the newest revision there is, so that only a revision
 * made after it can be taken for the write's (an older one may have the same
 * hash: a manifest set back as it was). */
typedef struct cfg_rollout {
    api *a;
    const api_target *t;
    char hash[17];     /* the revision's manifest hash (manifest.h) */
    int deadline;      /* the manifest's update.deadline, seconds; 0: its revision's in
                        * the history */
    int baseline;      /* the newest revision before the write; -1 unknown */
    FILE *out;         /* where progress goes: stdout, stderr under -o json */
} cfg_rollout;

/* Note the newest revision of t (a failure leaves baseline -1: the write then
 * says what is wrong). */
void cfg_rollout_begin(cfg_rollout *r, api *a, const api_target *t, FILE *out);
/* Wait for the rollout of r->hash: prints each batch's progress and the end to
 * r->out. API_OK once it rolled out; else an exit code (API_ROLLOUT_FAILED,
 * API_SUPERSEDED, API_INTERRUPTED, API_FAIL ...) with err saying why. */
int cfg_rollout_wait(cfg_rollout *r, err_t *err);
/* The update.deadline of a manifest in JSON (an object); 60 without one. */
int cfg_rollout_deadline(const json_t *manifest);

#endif
