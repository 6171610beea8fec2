/* dokkaacfg token create|ls|revoke - the API's tokens (an admin token's
 * business). A token's secret is shown once, when it is made: the cluster keeps
 * only its hash (lib/token.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dokkaa/token.h"
#include "tbl.h"

typedef struct cfg_token_ctx {
    const char *name;
    const char *role;
} cfg_token_ctx;

static int cfg_token_opt(void *ud, int val, const char *arg, err_t *err)
{
    cfg_token_ctx *c = ud;
    (void)err;
    if (val == 256)
        c->name = arg;
    else
        c->role = arg;
    return API_OK;
}

static const api_cmd cfg_token_create_cmd = {
    "token create", "[-o json] --name NAME [--role admin|read-only]\n"
                    "  make a token and print it: it is shown this once, keep it\n"
                    "  --name NAME  what it is for (1..63 printable characters, no spaces)\n"
                    "  --role ROLE  admin (may change anything) or read-only (may read);\n"
                    "               default read-only\n"
                    "  -o json      the API's answer (POST /api/v1/tokens), the token with it\n",
    0, 0,
    (const struct option[]){{"name", required_argument, 0, 256},
                            {"role", required_argument, 0, 257},
                            {0, 0, 0, 0}},
    cfg_token_opt};

static const api_cmd cfg_token_ls_cmd = {
    "token ls", "[-o json]\n"
                "  the tokens: id, name, role, when made (never the secrets)\n"
                "  -o json  the API's answer (GET /api/v1/tokens)\n",
    0, 0, NULL, NULL};

static const api_cmd cfg_token_revoke_cmd = {
    "token revoke", "[-o json] ID\n"
                    "  revoke the token with this id (token ls shows them): every builder refuses\n"
                    "  it from then on\n"
                    "  -o json  the API's answer (DELETE /api/v1/tokens/ID)\n",
    1, 1, NULL, NULL};

/* The secret alone on stdout, for TOKEN=$(dokkaacfg token create ...); what it
 * is, for people, on stderr. */
static int cfg_token_created(json_t *v, void *ud, err_t *err)
{
    (void)ud, (void)err;
    printf("%s\n", api_str(v, "token"));
    fprintf(stderr, "dokkaacfg: token %s \"%s\" (%s) made; it is not shown again\n",
            api_str(v, "id"), api_str(v, "name"), api_str(v, "role"));
    return API_OK;
}

static int cfg_token_create(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    cfg_token_ctx c = {.role = "read-only"};
    api_req req = {.method = "POST", .path = "/api/v1/tokens"};
    int rc = api_args_parse(&cfg_token_create_cmd, g, argc, argv, &args, &c);
    if (rc != API_GO_ON)
        return rc;
    if (!c.name) {
        fprintf(stderr, "dokkaacfg token create: --name is needed\nusage: dokkaacfg %s %s",
                cfg_token_create_cmd.name, cfg_token_create_cmd.usage);
        return API_USAGE;
    }
    json_t *body = json_pack("{s:s,s:s}", "name", c.name, "role", c.role);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        fprintf(stderr, "dokkaacfg: out of memory\n");
        return API_FAIL;
    }
    req.body = text;
    req.body_len = strlen(text);
    rc = api_run(&args, &req, cfg_token_created, NULL);
    free(text);
    return rc;
}

static void cfg_token_row(tbl *t, json_t *tok)
{
    tbl_row(t, api_str(tok, "id"), api_str(tok, "name"), api_str(tok, "role"),
            api_str(tok, "created"));
}

static int cfg_token_list(json_t *v, void *ud, err_t *err)
{
    tbl t;
    (void)ud;
    tbl_init(&t, "ID", "NAME", "ROLE", "CREATED", NULL);
    return tbl_of(&t, json_object_get(v, "tokens"), cfg_token_row, err);
}

static int cfg_token_ls(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    api_req req = {.method = "GET", .path = "/api/v1/tokens"};
    int rc = api_args_parse(&cfg_token_ls_cmd, g, argc, argv, &args, NULL);
    return rc != API_GO_ON ? rc : api_run(&args, &req, cfg_token_list, NULL);
}

static int cfg_token_revoked(json_t *v, void *ud, err_t *err)
{
    (void)ud, (void)err;
    printf("token %s: revoked\n", api_str(v, "id"));
    return API_OK;
}

static int cfg_token_revoke(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    api_req req = {.method = "DELETE"};
    const char *id;
    int rc = api_args_parse(&cfg_token_revoke_cmd, g, argc, argv, &args, NULL);
    if (rc != API_GO_ON)
        return rc;
    /* Checked here, as names are: it goes into the URL's path. */
    id = args.argv[0];
    if (strlen(id) != TOKEN_ID_LEN || strspn(id, "0123456789abcdef") != TOKEN_ID_LEN) {
        fprintf(stderr, "dokkaacfg: token id: must be %d hex digits (as token ls shows), got \"%s\"\n",
                TOKEN_ID_LEN, id);
        return API_INVALID;
    }
    snprintf(req.path, sizeof req.path, "/api/v1/tokens/%s", id);
    return api_run(&args, &req, cfg_token_revoked, NULL);
}

int cfg_token(const cfg_global *g, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*run)(const cfg_global *, int, char **);
    } subs[] = {{"create", cfg_token_create}, {"ls", cfg_token_ls}, {"revoke", cfg_token_revoke}};
    static const char usage[] =
        "usage: dokkaacfg token create|ls|revoke ...\n"
        "  create --name NAME [--role admin|read-only]  make a token; it is printed once\n"
        "  ls                                           the tokens (never their secrets)\n"
        "  revoke ID                                    revoke one\n"
        "  (each needs an admin token; `dokkaacfg token SUBCOMMAND --help` for more)\n";
    for (size_t i = 0; argc > 1 && i < sizeof subs / sizeof *subs; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].run(g, argc - 1, argv + 1);
    bool help = argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    if (argc > 1 && !help)
        fprintf(stderr, "dokkaacfg token: unknown subcommand \"%s\"\n", argv[1]);
    fputs(usage, help ? stdout : stderr);
    return help ? API_OK : API_USAGE;
}
