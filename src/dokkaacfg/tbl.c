/* tbl.c - the CLI's human text tables (see tbl.h). */
#include "tbl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tbl_add(tbl *t, va_list ap)
{
    if (t->oom)
        return;
    if ((t->nrows + 1) * t->ncols > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16 * t->ncols;
        char **grown = realloc(t->cells, cap * sizeof *grown);
        if (!grown) {
            t->oom = 1;
            return;
        }
        t->cells = grown, t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = va_arg(ap, const char *);
        if (!(row[c] = strdup(s ? s : "")))
            t->oom = 1;
    }
    t->nrows++;
}

void tbl_init(tbl *t, ...)
{
    va_list ap;
    memset(t, 0, sizeof *t);
    va_start(ap, t);
    while (t->ncols < TBL_MAX_COLS && va_arg(ap, const char *))
        t->ncols++;
    va_end(ap);
    va_start(ap, t);
    tbl_add(t, ap);
    va_end(ap);
}

void tbl_row(tbl *t, ...)
{
    va_list ap;
    va_start(ap, t);
    tbl_add(t, ap);
    va_end(ap);
}

/* Width on a terminal: UTF-8 characters, not bytes (names are ASCII; errors and
 * values need not be). */
static size_t tbl_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int tbl_print(tbl *t, err_t *err)
{
    size_t width[TBL_MAX_COLS] = {0};
    if (t->oom)
        return err_set(err, ERR_SYS, "out of memory"), 1;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t w = tbl_width(t->cells[r * t->ncols + c]);
            width[c] = w > width[c] ? w : width[c];
        }
    for (size_t r = 0; r < t->nrows; r++) {
        char **row = t->cells + r * t->ncols;
        size_t last = t->ncols;
        while (last > 1 && !row[last - 1][0])
            last--; /* no trailing blanks */
        for (size_t c = 0; c < last; c++)
            printf("%s%s%*s", c ? "  " : "", row[c],
                   c + 1 < last ? (int)(width[c] - tbl_width(row[c])) : 0, "");
        putchar('\n');
    }
    if (ferror(stdout))
        return err_sys(err, "stdout"), 1;
    return 0;
}

void tbl_free(tbl *t)
{
    for (size_t i = 0; t->cells && i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

int tbl_of(tbl *t, const json_t *list, void (*row)(tbl *t, json_t *item), err_t *err)
{
    for (size_t i = 0; i < json_array_size(list); i++)
        row(t, json_array_get(list, i));
    int rc = tbl_print(t, err);
    tbl_free(t);
    return rc;
}
