/* api_config.c - where the API is and which token goes with it.
 *
 * The file ($XDG_CONFIG_HOME/dokkaa/config.json, written by `up` and `init`) is
 * {"api": URL, "token": "dk_...", "ca": FILE, "cluster": NAME, "apis": [URL...]} (the
 * last three for a cluster on real machines: the CA its API's certificate chains
 * to, the name of its directory beside the file, clusters/NAME/, and the other
 * hosts' APIs, tried when the first cannot be reached); $DOKKAA_API and $DOKKAA_TOKEN override it, and
 * --api and --token override those, each field on its own (--token "" sends none). The file holds a
 * secret: it is written 0600, in a directory of mode 0700. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "dokkaa/http.h"

int api_config_path(char *path, size_t size, err_t *err)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(path, size, "%s/dokkaa/config.json", xdg);
    else if (home && *home)
        snprintf(path, size, "%s/.config/dokkaa/config.json", home);
    else
        return err_set(err, ERR_INVALID, "no config directory: neither $XDG_CONFIG_HOME nor $HOME "
                                         "is set"),
               API_FAIL;
    return API_OK;
}

int api_config_read(const char *path, json_t **obj, err_t *err)
{
    json_error_t jerr;
    *obj = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!*obj && access(path, F_OK) != 0 && errno == ENOENT)
        *obj = json_object();
    else if (!*obj)
        return err_set(err, ERR_INVALID, "%s: line %d: %s", path, jerr.line, jerr.text),
               API_INVALID;
    else if (!json_is_object(*obj)) {
        json_decref(*obj);
        *obj = NULL;
        return err_set(err, ERR_INVALID, "%s: must be a JSON object", path), API_INVALID;
    }
    return *obj ? API_OK : (err_set(err, ERR_SYS, "out of memory"), API_FAIL);
}

/* mkdir path's parent and grandparent (the dokkaa dir, and ~/.config or
 * $XDG_CONFIG_HOME) if they are missing. */
static int api_config_dirs(const char *path, err_t *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/'), *up;
    if (!slash)
        return API_OK;
    *slash = '\0';
    if ((up = strrchr(dir, '/')) && up != dir) {
        *up = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return err_sys(err, "mkdir %s", dir), API_FAIL;
        *up = '/';
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return err_sys(err, "mkdir %s", dir), API_FAIL;
    return API_OK;
}

int api_config_write(const char *path, const json_t *obj, err_t *err)
{
    char tmp[PATH_MAX + 16];
    int fd, rc = API_FAIL;
    char *text = json_dumps(obj, JSON_INDENT(2));
    if (!text)
        return err_set(err, ERR_SYS, "out of memory"), API_FAIL;
    if (api_config_dirs(path, err) != API_OK)
        goto out;
    snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
    /* Made 0600 from the start: the token is never readable by others, not even
     * for a moment. */
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
        err_sys(err, "%s", tmp);
        goto out;
    }
    size_t len = strlen(text);
    bool written = write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    if (close(fd) < 0)
        written = false;
    if (!written) {
        err_sys(err, "%s", tmp);
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) < 0) {
        err_sys(err, "%s", path);
        unlink(tmp);
        goto out;
    }
    rc = API_OK;
out:
    free(text);
    return rc;
}

/* Copy field of obj into buf if it is a non-empty string; an error if it is
 * something else. */
static int api_config_field(const char *path, json_t *obj, const char *field, char *buf,
                            size_t size, err_t *err)
{
    json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v))
        return API_OK;
    if (!json_is_string(v))
        return err_set(err, ERR_INVALID, "%s: %s: must be a string", path, field), API_INVALID;
    if (json_string_length(v) >= size)
        return err_set(err, ERR_INVALID, "%s: %s: longer than %zu characters", path, field,
                       size - 1),
               API_INVALID;
    snprintf(buf, size, "%s", json_string_value(v));
    return API_OK;
}

static void api_config_set(char *buf, size_t size, const char *value)
{
    if (value && *value)
        snprintf(buf, size, "%s", value);
}

void api_config_url(char *url, size_t size)
{
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        url[--n] = '\0';
    if (!strstr(url, "://") && n + 8 < size) {
        memmove(url + 7, url, n + 1);
        memcpy(url, "http://", 7);
    }
}

/* "apis": the other hosts' API URLs, for when the first cannot be reached. */
static void api_config_more(api_config *c, const json_t *obj)
{
    size_t i;
    json_t *v;
    c->nmore = 0;
    json_array_foreach(json_object_get(obj, "apis"), i, v)
        if (json_is_string(v) && c->nmore < API_MORE_MAX &&
            json_string_length(v) < sizeof c->more[0])
            snprintf(c->more[c->nmore++], sizeof c->more[0], "%s", json_string_value(v));
}

int api_config_load(api_config *c, const cfg_global *g, err_t *err)
{
    char path[PATH_MAX];
    json_t *obj = NULL;
    int rc;
    snprintf(c->url, sizeof c->url, "%s", API_DEFAULT_URL);
    c->token[0] = '\0';
    /* Without a home there is no file: the environment and flags still work. */
    if (api_config_path(path, sizeof path, NULL) == API_OK) {
        if ((rc = api_config_read(path, &obj, err)) != API_OK ||
            (rc = api_config_field(path, obj, "api", c->url, sizeof c->url, err)) != API_OK ||
            (rc = api_config_field(path, obj, "token", c->token, sizeof c->token, err)) != API_OK ||
            (rc = api_config_field(path, obj, "ca", c->ca, sizeof c->ca, err)) != API_OK) {
            json_decref(obj);
            return rc;
        }
        api_config_more(c, obj);
        json_decref(obj);
    }
    if ((getenv("DOKKAA_API") && *getenv("DOKKAA_API")) || (g->api && *g->api))
        c->nmore = 0; /* the API named: that one only */
    api_config_set(c->url, sizeof c->url, getenv("DOKKAA_API"));
    api_config_set(c->token, sizeof c->token, getenv("DOKKAA_TOKEN"));
    api_config_set(c->url, sizeof c->url, g->api);
    if (g->token) /* --token "" asks for no token at all */
        snprintf(c->token, sizeof c->token, "%s", g->token);
    api_config_url(c->url, sizeof c->url);
    /* a cluster on real machines: its API's certificate chains to the cluster's CA */
    if (c->ca[0])
        http_tls_set(c->ca, NULL, NULL);
    return API_OK;
}
