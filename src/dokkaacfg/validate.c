/* dokkaacfg validate FILE... - check manifests the way the cluster will, before
 * they are set: prints "FILE: ok (...)" with the revision hash it would have (what
 * history shows), or "FILE: <the precise error>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/manifest.h"
#include "dokkaacfg.h"

char *cfg_read(FILE *f, size_t *len)
{
    size_t cap = MANIFEST_MAX_BYTES + 2;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    *len = fread(buf, 1, cap - 1, f);
    buf[*len] = '\0';
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    return buf;
}

int cfg_validate(const cfg_global *g, int argc, char **argv)
{
    (void)g;
    int bad = 0;
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs("usage: dokkaacfg validate FILE|- ...\n"
              "  checks each manifest as the cluster would, without a cluster: one line each,\n"
              "  \"ok\" with its image, scale and revision hash (as history shows it), or the\n"
              "  precise error; exit 5 if any is invalid or cannot be read\n",
              argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 1; i < argc; i++) {
        bool is_stdin = strcmp(argv[i], "-") == 0;
        FILE *f = is_stdin ? stdin : fopen(argv[i], "rb");
        size_t len;
        char *text = f ? cfg_read(f, &len) : NULL;
        manifest m;
        err_t err;
        if (f && !is_stdin)
            fclose(f);
        if (!text) {
            perror(argv[i]);
            bad++;
        } else if (manifest_parse(text, len, &m, &err) < 0) {
            printf("%s: %s\n", argv[i], err.msg);
            bad++;
        } else {
            printf("%s: ok (image %s, scale %d, hash %s)\n", argv[i], m.image, m.scale, m.hash);
            manifest_free(&m);
        }
        free(text);
    }
    return bad ? 5 : 0; /* as the app commands' invalid input (api.h) */
}
