/* manifest.c - parse and strictly validate a container manifest. See manifest.h
 * for the contract; the names it checks are names.c's.
 *
 * Validation errors are for a person fixing a manifest by hand: each names the
 * field path, the value found and what was expected, and the first problem wins. */
#include "dokkaa/manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON value as the user wrote it (compact), for "got ..." in messages. */
static void manifest_describe(const json_t *v, char *buf, size_t size)
{
    if (json_is_string(v)) {
        names_quote(json_string_value(v), json_string_length(v), buf, size);
        return;
    }
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!text) {
        snprintf(buf, size, "a value");
        return;
    }
    if (strlen(text) > NAMES_QUOTE_MAX)
        snprintf(buf, size, "%.*s...", (int)names_utf8_cut(text, NAMES_QUOTE_MAX), text);
    else
        snprintf(buf, size, "%s", text);
    free(text);
}

/* jansson's error text, made valid UTF-8 for a message: its "near '...'" quotes the
 * bytes the lexer had read, and an invalid escape ("\€") stops after the first
 * byte of a character. Bytes that start no valid sequence are written as \xNN;
 * a full buffer ends before a whole sequence, never inside one. Every caller of
 * manifest_parse (the v2 endpoint's JSON answer, the API's) needs valid UTF-8. */
static void manifest_json_error_text(const char *text, char *buf, size_t size)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = names_utf8_len(s + i, n - i);
        if (len == 0) {
            if (o + 5 > size)
                break;
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", s[i]);
            i++;
            continue;
        }
        if (o + len + 1 > size)
            break;
        memcpy(buf + o, s + i, len);
        o += len;
        i += len;
    }
    buf[o] = '\0';
}

/* ---- image references ------------------------------------------------------ */

static bool manifest_all(const char *s, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != c)
            return false;
    return true;
}

/* A repository path component: lower-case alnum runs joined by '.', '_', '__' or
 * '-'+, as the Docker distribution grammar has it. */
static bool manifest_path_component_ok(const char *s, size_t n)
{
    if (n == 0 || !names_is_lower_alnum(s[0]) || !names_is_lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n;) {
        if (names_is_lower_alnum(s[i])) {
            i++;
            continue;
        }
        size_t k = 0;
        while (!names_is_lower_alnum(s[i + k]))
            k++;
        bool ok = (s[i] == '.' && k == 1) || (k <= 2 && manifest_all(s + i, k, '_')) ||
                  manifest_all(s + i, k, '-');
        if (!ok)
            return false;
        i += k;
    }
    return true;
}

static bool manifest_is_alnum(char c)
{
    return names_is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool manifest_host_label_ok(const char *s, size_t n)
{
    if (n == 0 || !manifest_is_alnum(s[0]) || !manifest_is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!manifest_is_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

/* A registry host[:port]: dot-separated alnum labels with inner '-'. */
static bool manifest_domain_ok(const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    size_t host = colon ? (size_t)(colon - s) : n;
    if (colon) {
        size_t port = n - host - 1;
        if (port == 0 || port > 5)
            return false;
        for (size_t i = host + 1; i < n; i++)
            if (s[i] < '0' || s[i] > '9')
                return false;
    }
    for (size_t i = 0;;) {
        size_t len = 0;
        while (i + len < host && s[i + len] != '.')
            len++;
        if (!manifest_host_label_ok(s + i, len))
            return false;
        if (i + len == host)
            return true;
        i += len + 1;
    }
}

static bool manifest_tag_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!manifest_is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return false;
    return true;
}

static bool manifest_digest_ok(const char *s)
{
    const char *colon = strchr(s, ':');
    if (!colon || colon == s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return false;
    for (const char *p = s; p < colon; p++)
        if (!manifest_is_alnum(*p) && !strchr("+._-", *p))
            return false;
    if (!manifest_is_alnum(colon[-1]))
        return false;
    size_t hex = strlen(colon + 1);
    return hex >= 32 && strspn(colon + 1, "0123456789abcdefABCDEF") == hex;
}

/* Why ref is not a Docker image reference [host[:port]/]path[:tag][@digest], or NULL. */
static const char *manifest_image_reason(const char *ref)
{
    char buf[MANIFEST_MAX_IMAGE + 1];
    snprintf(buf, sizeof buf, "%s", ref);
    char *at = strchr(buf, '@');
    if (at) {
        *at = '\0';
        if (!manifest_digest_ok(at + 1))
            return "the digest must be <algorithm>:<at least 32 hex digits>";
    }
    char *slash = strrchr(buf, '/');
    char *colon = strrchr(slash ? slash : buf, ':');
    if (colon) {
        *colon = '\0';
        if (!manifest_tag_ok(colon + 1))
            return "the tag must be 1..128 of A-Z a-z 0-9 _ . - and not start with . or -";
    }
    char *p = buf;
    size_t first = strcspn(p, "/");
    /* Docker's own rule for telling a registry from the first path component. */
    if (p[first] == '/' && (memchr(p, '.', first) || memchr(p, ':', first) ||
                            (first == 9 && strncmp(p, "localhost", 9) == 0))) {
        if (!manifest_domain_ok(p, first))
            return "the registry must be host[:port]";
        p += first + 1;
    }
    for (;;) {
        size_t n = strcspn(p, "/");
        if (!manifest_path_component_ok(p, n))
            return "each name component must be lower case a-z 0-9 joined by . _ __ or -";
        if (p[n] == '\0')
            return NULL;
        p += n + 1;
    }
}

/* ---- fields ------------------------------------------------------------------- */

static int manifest_oom(err_t *err)
{
    return err_sys(err, "manifest");
}

static int manifest_parse_image(const json_t *v, manifest *m, err_t *err)
{
    char got[128];
    manifest_describe(v, got, sizeof got);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return err_set(err, ERR_INVALID,
                       "image: must be a non-empty string (an image reference), got %s", got);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > MANIFEST_MAX_IMAGE)
        return err_set(err, ERR_INVALID, "image: must be at most %d characters, got %zu",
                       MANIFEST_MAX_IMAGE, len);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return err_set(err, ERR_INVALID,
                           "image: must not contain whitespace or control characters, got %s",
                           got);
    const char *reason = manifest_image_reason(s);
    if (reason)
        return err_set(err, ERR_INVALID, "image: %s is not a valid image reference: %s", got,
                       reason);
    m->image = strdup(s);
    return m->image ? 0 : manifest_oom(err);
}

static int manifest_parse_scale(const json_t *v, manifest *m, err_t *err)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= MANIFEST_MAX_SCALE) {
        m->scale = (int)json_integer_value(v);
        return 0;
    }
    char got[128];
    manifest_describe(v, got, sizeof got);
    return err_set(err, ERR_INVALID, "scale: must be an integer 0..%d, got %s",
                   MANIFEST_MAX_SCALE, got);
}

/* A NULL-terminated argv at path ("command", "health.exec"): a non-empty array of
 * strings whose first, the program, is not empty. */
static int manifest_argv(const json_t *v, const char *path, char ***argv, size_t *nargv,
                         err_t *err)
{
    char got[128];
    manifest_describe(v, got, sizeof got);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return err_set(err, ERR_INVALID, "%s: must be a non-empty array of strings, got %s", path,
                       got);
    size_t n = json_array_size(v);
    if (n > MANIFEST_MAX_COMMAND)
        return err_set(err, ERR_INVALID, "%s: must have at most %d elements, got %zu", path,
                       MANIFEST_MAX_COMMAND, n);
    *argv = calloc(n + 1, sizeof **argv);
    if (!*argv)
        return manifest_oom(err);
    for (size_t i = 0; i < n; i++) {
        const json_t *arg = json_array_get(v, i);
        manifest_describe(arg, got, sizeof got);
        if (!json_is_string(arg))
            return err_set(err, ERR_INVALID, "%s[%zu]: must be a string, got %s", path, i, got);
        /* An empty argument is legitimate (sh -c ""), an empty program is not. */
        if (i == 0 && json_string_length(arg) == 0)
            return err_set(err, ERR_INVALID,
                           "%s[0]: must be a non-empty string (the program), got \"\"", path);
        (*argv)[i] = strdup(json_string_value(arg));
        if (!(*argv)[i])
            return manifest_oom(err);
        *nargv = i + 1;
    }
    return 0;
}

static int manifest_parse_command(const json_t *v, manifest *m, err_t *err)
{
    return manifest_argv(v, "command", &m->command, &m->ncommand, err);
}

/* An integer lo..hi at path: a JSON integer, not a real or a string. */
static int manifest_int(const json_t *v, const char *path, int lo, int hi, int *out, err_t *err)
{
    if (json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi) {
        *out = (int)json_integer_value(v);
        return 0;
    }
    char got[128];
    manifest_describe(v, got, sizeof got);
    return err_set(err, ERR_INVALID, "%s: must be an integer %d..%d, got %s", path, lo, hi, got);
}

/* The sub-fields of the object at path are all in valid[]; else the first that is
 * not is named, with the list of valid ones. */
static int manifest_check_subfields(const json_t *v, const char *path,
                                    const char *const *valid, size_t nvalid, err_t *err)
{
    const char *key;
    const json_t *field;
    json_object_foreach((json_t *)v, key, field) {
        size_t i = 0;
        while (i < nvalid && strcmp(key, valid[i]) != 0)
            i++;
        if (i < nvalid)
            continue;
        char quoted[128], list[256];
        size_t len = 0;
        names_quote(key, strlen(key), quoted, sizeof quoted);
        list[0] = '\0';
        for (i = 0; i < nvalid && len < sizeof list; i++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                    valid[i]);
        return err_set(err, ERR_INVALID, "%s: unknown field %s; valid fields: %s", path, quoted,
                       list);
    }
    return 0;
}

static int manifest_check_name(const char *path, const char *s, err_t *err)
{
    const char *reason = names_label_reason(s, strlen(s));
    if (!reason)
        return 0;
    char quoted[128];
    names_quote(s, strlen(s), quoted, sizeof quoted);
    return err_set(err, ERR_INVALID, "%s: %s is not a valid service name: %s", path, quoted,
                   reason);
}

static int manifest_port(const json_t *v, const char *path, const char *expected, err_t *err)
{
    if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 65535)
        return (int)json_integer_value(v);
    char got[128];
    manifest_describe(v, got, sizeof got);
    return err_set(err, ERR_INVALID, "%s: must be %s, got %s", path, expected, got);
}

/* One services entry: a bare port, or {"port": N} so that later fields have a home. */
static int manifest_service_port(const char *name, const json_t *v, err_t *err)
{
    char path[128];
    snprintf(path, sizeof path, "services.%s", name);
    if (!json_is_object(v))
        return manifest_port(v, path, "a port 1..65535 or an object {\"port\": N}", err);
    const char *key;
    const json_t *field;
    json_object_foreach((json_t *)v, key, field) {
        if (strcmp(key, "port") != 0) {
            char quoted[128];
            names_quote(key, strlen(key), quoted, sizeof quoted);
            return err_set(err, ERR_INVALID, "%s: unknown field %s; valid fields: port", path,
                           quoted);
        }
    }
    const json_t *port = json_object_get(v, "port");
    if (!port)
        return err_set(err, ERR_INVALID, "%s: missing required field \"port\"", path);
    snprintf(path, sizeof path, "services.%s.port", name);
    return manifest_port(port, path, "a port 1..65535", err);
}

static int manifest_cmp_service(const void *a, const void *b)
{
    return strcmp(((const manifest_service *)a)->name, ((const manifest_service *)b)->name);
}

static int manifest_parse_services(const json_t *v, manifest *m, err_t *err)
{
    char got[128];
    manifest_describe(v, got, sizeof got);
    if (!json_is_object(v))
        return err_set(err, ERR_INVALID,
                       "services: must be an object {\"<service>\": <port>, ...}, got %s", got);
    size_t n = json_object_size(v);
    if (n > MANIFEST_MAX_SERVICES)
        return err_set(err, ERR_INVALID, "services: must have at most %d entries, got %zu",
                       MANIFEST_MAX_SERVICES, n);
    m->services = calloc(n ? n : 1, sizeof *m->services);
    if (!m->services)
        return manifest_oom(err);
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)v, key, value) {
        if (manifest_check_name("services", key, err) < 0)
            return -1;
        int port = manifest_service_port(key, value, err);
        if (port < 0)
            return -1;
        manifest_service *s = &m->services[m->nservices];
        if (!(s->name = strdup(key)))
            return manifest_oom(err);
        s->port = port;
        m->nservices++;
    }
    qsort(m->services, m->nservices, sizeof *m->services, manifest_cmp_service);
    return 0;
}

static int manifest_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int manifest_link(const json_t *v, size_t i, err_t *err)
{
    char path[32], got[128];
    snprintf(path, sizeof path, "links[%zu]", i);
    const json_t *item = json_array_get(v, i);
    if (!json_is_string(item)) {
        manifest_describe(item, got, sizeof got);
        return err_set(err, ERR_INVALID, "%s: must be a service name (a string), got %s", path,
                       got);
    }
    if (manifest_check_name(path, json_string_value(item), err) < 0)
        return -1;
    for (size_t j = 0; j < i; j++)
        if (json_equal(json_array_get(v, j), (json_t *)item))
            return err_set(err, ERR_INVALID, "%s: duplicate service name \"%s\" (also links[%zu])",
                           path, json_string_value(item), j);
    return 0;
}

static int manifest_parse_links(const json_t *v, manifest *m, err_t *err)
{
    char got[128];
    manifest_describe(v, got, sizeof got);
    if (!json_is_array(v))
        return err_set(err, ERR_INVALID, "links: must be an array of service names, got %s", got);
    size_t n = json_array_size(v);
    if (n > MANIFEST_MAX_LINKS)
        return err_set(err, ERR_INVALID, "links: must have at most %d entries, got %zu",
                       MANIFEST_MAX_LINKS, n);
    m->links = calloc(n ? n : 1, sizeof *m->links);
    if (!m->links)
        return manifest_oom(err);
    for (size_t i = 0; i < n; i++) {
        if (manifest_link(v, i, err) < 0)
            return -1;
        if (!(m->links[i] = strdup(json_string_value(json_array_get(v, i)))))
            return manifest_oom(err);
        m->nlinks = i + 1;
    }
    qsort(m->links, m->nlinks, sizeof *m->links, manifest_cmp_str);
    return 0;
}

static int manifest_check_env_name(const char *name, err_t *err)
{
    char quoted[128];
    names_quote(name, strlen(name), quoted, sizeof quoted);
    bool ok = (name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z') ||
              name[0] == '_';
    for (const char *p = name; ok && *p; p++)
        ok = manifest_is_alnum(*p) || *p == '_';
    if (!ok)
        return err_set(err, ERR_INVALID,
                       "env: %s is not a valid variable name: must match [A-Za-z_][A-Za-z0-9_]*",
                       quoted);
    /* Dokkaa sets these itself (links, identity); a user value would silently
     * break a link or be silently overridden. */
    if (strncmp(name, "SERVICE_", 8) == 0 || strncmp(name, "DOKKAA_", 7) == 0)
        return err_set(err, ERR_INVALID,
                       "env: %s is reserved: names starting with SERVICE_ or DOKKAA_ are set by "
                       "Dokkaa",
                       quoted);
    return 0;
}

static int manifest_cmp_env(const void *a, const void *b)
{
    return strcmp(((const manifest_env *)a)->name, ((const manifest_env *)b)->name);
}

static int manifest_parse_env(const json_t *v, manifest *m, err_t *err)
{
    char got[128];
    manifest_describe(v, got, sizeof got);
    if (!json_is_object(v))
        return err_set(err, ERR_INVALID,
                       "env: must be an object {\"NAME\": \"value\", ...}, got %s", got);
    m->env = calloc(json_object_size(v) ? json_object_size(v) : 1, sizeof *m->env);
    if (!m->env)
        return manifest_oom(err);
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)v, key, value) {
        if (manifest_check_env_name(key, err) < 0)
            return -1;
        if (!json_is_string(value)) {
            manifest_describe(value, got, sizeof got);
            return err_set(err, ERR_INVALID, "env.%s: must be a string, got %s", key, got);
        }
        manifest_env *e = &m->env[m->nenv];
        if (!(e->name = strdup(key)) || !(e->value = strdup(json_string_value(value)))) {
            free(e->name);
            e->name = NULL;
            return manifest_oom(err);
        }
        m->nenv++;
    }
    qsort(m->env, m->nenv, sizeof *m->env, manifest_cmp_env);
    return 0;
}

/* ---- health, update, stop_grace ------------------------------------------------ */

static int manifest_health_path(const json_t *v, manifest_health *h, err_t *err)
{
    char got[128];
    manifest_describe(v, got, sizeof got);
    if (!json_is_string(v) || json_string_value(v)[0] != '/')
        return err_set(err, ERR_INVALID,
                       "health.http: must be a path starting with \"/\", got %s", got);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > MANIFEST_HEALTH_PATH_MAX)
        return err_set(err, ERR_INVALID, "health.http: must be at most %d bytes, got %zu",
                       MANIFEST_HEALTH_PATH_MAX, len);
    /* It goes verbatim into a request line: no spaces, controls or non-ASCII. */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
            return err_set(err, ERR_INVALID,
                           "health.http: must be printable ASCII without spaces, got %s", got);
    h->path = strdup(s);
    return h->path ? 0 : manifest_oom(err);
}

/* health.port: one of the services' container ports; default the first service's. */
static int manifest_health_port(const json_t *port, const char *kind, manifest *m, err_t *err)
{
    if (m->nservices == 0)
        return err_set(err, ERR_INVALID,
                       "health.%s: needs a service to probe, and the manifest has no \"services\"",
                       kind);
    if (!port) {
        m->health.port = m->services[0].port;
        return 0;
    }
    for (size_t i = 0; i < m->nservices; i++)
        if (json_is_integer(port) && json_integer_value(port) == m->services[i].port) {
            m->health.port = m->services[i].port;
            return 0;
        }
    char got[128], ports[512];
    size_t len = 0;
    manifest_describe(port, got, sizeof got);
    ports[0] = '\0';
    for (size_t i = 0; i < m->nservices && len < sizeof ports; i++) {
        size_t j = 0;
        while (j < i && m->services[j].port != m->services[i].port)
            j++;
        if (j == i)
            len += (size_t)snprintf(ports + len, sizeof ports - len, "%s%d", len ? ", " : "",
                                    m->services[i].port);
    }
    return err_set(err, ERR_INVALID,
                   "health.port: must be the container port of one of the services (%s), got %s",
                   ports, got);
}

static int manifest_parse_health(const json_t *v, manifest *m, err_t *err)
{
    static const char *const fields[] = {"http",     "tcp",     "exec",    "port",
                                         "interval", "timeout", "retries", "start_period"};
    static const char *const kinds[] = {"http", "tcp", "exec"};
    char got[128];
    if (!json_is_object(v)) {
        manifest_describe(v, got, sizeof got);
        return err_set(err, ERR_INVALID,
                       "health: must be an object with one of \"http\", \"tcp\" or \"exec\", "
                       "got %s",
                       got);
    }
    if (manifest_check_subfields(v, "health", fields, sizeof fields / sizeof fields[0], err) < 0)
        return -1;
    char found[64];
    size_t nfound = 0, len = 0, kind = 0;
    for (size_t i = 0; i < 3; i++)
        if (json_object_get(v, kinds[i])) {
            kind = i;
            nfound++;
        }
    if (nfound != 1) {
        /* "http" and "tcp", or "http", "tcp" and "exec" */
        for (size_t i = 0, k = 0; i < 3; i++) {
            if (!json_object_get(v, kinds[i]))
                continue;
            const char *sep = k == 0 ? "" : k + 1 == nfound ? " and " : ", ";
            len += (size_t)snprintf(found + len, sizeof found - len, "%s\"%s\"", sep, kinds[i]);
            k++;
        }
        return err_set(err, ERR_INVALID,
                       "health: must have exactly one of \"http\", \"tcp\" or \"exec\", got %s",
                       nfound ? found : "none");
    }
    manifest_health *h = &m->health;
    const json_t *check = json_object_get(v, kinds[kind]);
    if (kind == 0) {
        if (manifest_health_path(check, h, err) < 0)
            return -1;
        h->kind = MANIFEST_HEALTH_HTTP;
    } else if (kind == 1) {
        if (!json_is_true(check)) {
            manifest_describe(check, got, sizeof got);
            return err_set(err, ERR_INVALID, "health.tcp: must be true, got %s", got);
        }
        h->kind = MANIFEST_HEALTH_TCP;
    } else {
        if (manifest_argv(check, "health.exec", &h->exec, &h->nexec, err) < 0)
            return -1;
        h->kind = MANIFEST_HEALTH_EXEC;
    }
    const json_t *port = json_object_get(v, "port");
    if (h->kind == MANIFEST_HEALTH_EXEC) {
        if (port)
            return err_set(err, ERR_INVALID,
                           "health.port: only an \"http\" or \"tcp\" check has a port, not "
                           "\"exec\"");
    } else if (manifest_health_port(port, kinds[kind], m, err) < 0) {
        return -1;
    }
    const json_t *f;
    h->interval = 2;
    h->timeout = 2;
    h->retries = 3;
    h->start_period = 0;
    if ((f = json_object_get(v, "interval")) &&
        manifest_int(f, "health.interval", 1, 3600, &h->interval, err) < 0)
        return -1;
    if ((f = json_object_get(v, "timeout")) &&
        manifest_int(f, "health.timeout", 1, 3600, &h->timeout, err) < 0)
        return -1;
    if ((f = json_object_get(v, "retries")) &&
        manifest_int(f, "health.retries", 1, 100, &h->retries, err) < 0)
        return -1;
    if ((f = json_object_get(v, "start_period")) &&
        manifest_int(f, "health.start_period", 0, 3600, &h->start_period, err) < 0)
        return -1;
    return 0;
}

/* update.parallel: an integer 1..1000, or "P%" with P 1..100 (no sign, no leading 0). */
static int manifest_update_parallel(const json_t *v, manifest_update *u, err_t *err)
{
    if (json_is_integer(v) && json_integer_value(v) >= 1 &&
        json_integer_value(v) <= MANIFEST_MAX_SCALE) {
        u->parallel = (int)json_integer_value(v);
        u->percent = false;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (len >= 2 && len <= 4 && s[len - 1] == '%' && s[0] >= '1' && s[0] <= '9' &&
            strspn(s, "0123456789") == len - 1) {
            int p = atoi(s);
            if (p <= 100) {
                u->parallel = p;
                u->percent = true;
                return 0;
            }
        }
    }
    char got[128];
    manifest_describe(v, got, sizeof got);
    return err_set(err, ERR_INVALID,
                   "update.parallel: must be an integer 1..%d or a percentage \"1%%\"..\"100%%\", "
                   "got %s",
                   MANIFEST_MAX_SCALE, got);
}

/* One of two words at path; *out is 0 for the first, 1 for the second. */
static int manifest_choice(const json_t *v, const char *path, const char *a, const char *b,
                           int *out, err_t *err)
{
    /* (a JSON string never holds a NUL: the parser refuses \u0000) */
    if (json_is_string(v) && (strcmp(json_string_value(v), a) == 0 ||
                              strcmp(json_string_value(v), b) == 0)) {
        *out = strcmp(json_string_value(v), a) != 0;
        return 0;
    }
    char got[128];
    manifest_describe(v, got, sizeof got);
    return err_set(err, ERR_INVALID, "%s: must be \"%s\" or \"%s\", got %s", path, a, b, got);
}

static int manifest_parse_update(const json_t *v, manifest *m, err_t *err)
{
    static const char *const fields[] = {"parallel", "order", "deadline", "on_failure"};
    if (!json_is_object(v)) {
        char got[128];
        manifest_describe(v, got, sizeof got);
        return err_set(err, ERR_INVALID,
                       "update: must be an object {\"parallel\": N, \"order\": ..., "
                       "\"deadline\": N, \"on_failure\": ...}, got %s",
                       got);
    }
    if (manifest_check_subfields(v, "update", fields, sizeof fields / sizeof fields[0], err) < 0)
        return -1;
    manifest_update *u = &m->update;
    const json_t *f;
    int choice;
    if ((f = json_object_get(v, "parallel")) && manifest_update_parallel(f, u, err) < 0)
        return -1;
    if ((f = json_object_get(v, "order"))) {
        if (manifest_choice(f, "update.order", "start-first", "stop-first", &choice, err) < 0)
            return -1;
        u->order = choice ? MANIFEST_STOP_FIRST : MANIFEST_START_FIRST;
    }
    if ((f = json_object_get(v, "deadline")) &&
        manifest_int(f, "update.deadline", 1, 3600, &u->deadline, err) < 0)
        return -1;
    if ((f = json_object_get(v, "on_failure"))) {
        if (manifest_choice(f, "update.on_failure", "rollback", "pause", &choice, err) < 0)
            return -1;
        u->on_failure = choice ? MANIFEST_PAUSE : MANIFEST_ROLLBACK;
    }
    return 0;
}

static int manifest_parse_stop_grace(const json_t *v, manifest *m, err_t *err)
{
    return manifest_int(v, "stop_grace", 0, 3600, &m->stop_grace, err);
}

int manifest_batch(const manifest *m)
{
    long long n = m->update.parallel;
    if (m->update.percent)
        n = (n * m->scale + 99) / 100;
    return n < 1 ? 1 : (int)n;
}

/* ---- the hash ------------------------------------------------------------------ */

#define MANIFEST_FNV_OFFSET 0xcbf29ce484222325ULL
#define MANIFEST_FNV_PRIME 0x100000001b3ULL

static uint64_t manifest_fnv(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * MANIFEST_FNV_PRIME;
    return h;
}

/* Length-prefixed, so that no two different manifests serialise alike
 * (["a b"] and ["a", "b"] must not collide by construction). */
static uint64_t manifest_fnv_str(uint64_t h, const char *s)
{
    uint64_t len = strlen(s);
    unsigned char bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (unsigned char)(len >> (8 * i));
    return manifest_fnv(manifest_fnv(h, bytes, sizeof bytes), s, len);
}

static uint64_t manifest_fnv_num(uint64_t h, uint64_t n)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, n);
    return manifest_fnv_str(h, text);
}

/* What runs: everything but scale, over the parsed (already sorted) fields, so
 * key order, whitespace and equivalent spellings ({"port": 80} vs 80) do not count. */
static void manifest_hash(manifest *m, const json_t *root)
{
    uint64_t h = manifest_fnv_str(MANIFEST_FNV_OFFSET, "dokkaa-manifest-v1");
    h = manifest_fnv_str(h, m->image);
    h = manifest_fnv_num(manifest_fnv_num(h, m->command != NULL), m->ncommand);
    for (size_t i = 0; i < m->ncommand; i++)
        h = manifest_fnv_str(h, m->command[i]);
    h = manifest_fnv_num(h, m->nservices);
    for (size_t i = 0; i < m->nservices; i++)
        h = manifest_fnv_num(manifest_fnv_str(h, m->services[i].name),
                             (uint64_t)m->services[i].port);
    h = manifest_fnv_num(h, m->nlinks);
    for (size_t i = 0; i < m->nlinks; i++)
        h = manifest_fnv_str(h, m->links[i]);
    h = manifest_fnv_num(h, m->nenv);
    for (size_t i = 0; i < m->nenv; i++)
        h = manifest_fnv_str(manifest_fnv_str(h, m->env[i].name), m->env[i].value);
    /* Later fields count only when the manifest has them, so that a manifest written
     * before they existed keeps its hash (and its containers across an upgrade). */
    if (json_object_get(root, "health")) {
        const manifest_health *hc = &m->health;
        h = manifest_fnv_num(manifest_fnv_str(h, "health"), (uint64_t)hc->kind);
        if (hc->kind == MANIFEST_HEALTH_HTTP)
            h = manifest_fnv_str(h, hc->path);
        h = manifest_fnv_num(h, hc->nexec);
        for (size_t i = 0; i < hc->nexec; i++)
            h = manifest_fnv_str(h, hc->exec[i]);
        h = manifest_fnv_num(h, (uint64_t)hc->port);
        h = manifest_fnv_num(h, (uint64_t)hc->interval);
        h = manifest_fnv_num(h, (uint64_t)hc->timeout);
        h = manifest_fnv_num(h, (uint64_t)hc->retries);
        h = manifest_fnv_num(h, (uint64_t)hc->start_period);
    }
    if (json_object_get(root, "update")) {
        h = manifest_fnv_num(manifest_fnv_str(h, "update"), (uint64_t)m->update.parallel);
        h = manifest_fnv_num(h, m->update.percent);
        h = manifest_fnv_num(h, (uint64_t)m->update.order);
        h = manifest_fnv_num(h, (uint64_t)m->update.deadline);
        h = manifest_fnv_num(h, (uint64_t)m->update.on_failure);
    }
    if (json_object_get(root, "stop_grace"))
        h = manifest_fnv_num(manifest_fnv_str(h, "stop_grace"), (uint64_t)m->stop_grace);
    snprintf(m->hash, sizeof m->hash, "%016" PRIx64, h);
}

/* ---- the whole manifest ----------------------------------------------------------- */

static const struct manifest_field {
    const char *name;
    int (*parse)(const json_t *v, manifest *m, err_t *err);
} manifest_fields[] = {
    {"image", manifest_parse_image},       {"scale", manifest_parse_scale},
    {"command", manifest_parse_command},   {"services", manifest_parse_services},
    {"links", manifest_parse_links},       {"env", manifest_parse_env},
    /* after "services": the health check's port is one of theirs */
    {"health", manifest_parse_health},     {"update", manifest_parse_update},
    {"stop_grace", manifest_parse_stop_grace},
};
#define MANIFEST_NFIELDS (sizeof manifest_fields / sizeof manifest_fields[0])

static int manifest_check_fields(const json_t *root, err_t *err)
{
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)root, key, value) {
        size_t i = 0;
        while (i < MANIFEST_NFIELDS && strcmp(key, manifest_fields[i].name) != 0)
            i++;
        if (i == MANIFEST_NFIELDS) {
            char quoted[128], valid[256];
            size_t len = 0;
            names_quote(key, strlen(key), quoted, sizeof quoted);
            /* the list is the table's, so a new field is never missing from it */
            for (i = 0; i < MANIFEST_NFIELDS && len < sizeof valid; i++)
                len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "",
                                        manifest_fields[i].name);
            return err_set(err, ERR_INVALID, "unknown field %s; valid fields: %s", quoted, valid);
        }
    }
    if (!json_object_get(root, "image"))
        return err_set(err, ERR_INVALID, "missing required field \"image\"");
    return 0;
}

static int manifest_parse_root(const json_t *root, manifest *m, err_t *err)
{
    if (!json_is_object(root)) {
        char got[128];
        manifest_describe(root, got, sizeof got);
        return err_set(err, ERR_INVALID, "manifest: must be a JSON object, got %s", got);
    }
    if (manifest_check_fields(root, err) < 0)
        return -1;
    for (size_t i = 0; i < MANIFEST_NFIELDS; i++) {
        const json_t *v = json_object_get(root, manifest_fields[i].name);
        if (v && manifest_fields[i].parse(v, m, err) < 0)
            return -1;
    }
    return 0;
}

int manifest_parse(const char *json, size_t len, manifest *m, err_t *err)
{
    manifest tmp = {
        .scale = 1,
        .update = {.parallel = 1, .order = MANIFEST_START_FIRST, .deadline = 60,
                   .on_failure = MANIFEST_ROLLBACK},
        .stop_grace = 10,
    };
    json_t *root = NULL;
    int rc = -1;
    memset(m, 0, sizeof *m);
    if (!json)
        len = 0;
    if (len > MANIFEST_MAX_BYTES) {
        err_set(err, ERR_INVALID, "manifest: too large: %zu bytes, at most %d", len,
                MANIFEST_MAX_BYTES);
        goto out;
    }
    json_error_t jerr;
    root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        char text[4 * JSON_ERROR_TEXT_LENGTH];
        manifest_json_error_text(jerr.text, text, sizeof text);
        err_set(err, ERR_INVALID, "manifest: invalid JSON at line %d column %d: %s", jerr.line,
                jerr.column, text);
        goto out;
    }
    if (manifest_parse_root(root, &tmp, err) < 0)
        goto out;
    manifest_hash(&tmp, root);
    *m = tmp;
    memset(&tmp, 0, sizeof tmp);
    rc = 0;
out:
    manifest_free(&tmp);
    json_decref(root);
    return rc;
}

void manifest_free(manifest *m)
{
    if (!m)
        return;
    free(m->image);
    for (size_t i = 0; m->command && m->command[i]; i++)
        free(m->command[i]);
    free(m->command);
    for (size_t i = 0; i < m->nservices; i++)
        free(m->services[i].name);
    free(m->services);
    for (size_t i = 0; i < m->nlinks; i++)
        free(m->links[i]);
    free(m->links);
    for (size_t i = 0; i < m->nenv; i++) {
        free(m->env[i].name);
        free(m->env[i].value);
    }
    free(m->env);
    free(m->health.path);
    for (size_t i = 0; m->health.exec && m->health.exec[i]; i++)
        free(m->health.exec[i]);
    free(m->health.exec);
    memset(m, 0, sizeof *m);
}
