/* tbl.h - the app commands' human text tables (tbl_*): columns as wide as their
 * widest cell, headers in capitals, the last column unpadded. (Not the ambassador's
 * routing table, src/ambassador/table.h.) */
#ifndef DOKKAACFG_TBL_H
#define DOKKAACFG_TBL_H

#include <jansson.h>
#include <stddef.h>

#include "dokkaa/err.h"

#define TBL_MAX_COLS 12 /* tbl_init keeps no more headers than this: a wider table must raise it */

typedef struct tbl {
    size_t ncols, nrows, cap;
    char **cells;  /* row-major; row 0 the headers */
    int oom;       /* a row could not be kept: tbl_print says so */
} tbl;

/* Start a table with its headers, NULL-terminated. */
void tbl_init(tbl *t, ...) __attribute__((sentinel));
/* Add a row of ncols cells (NULL is an empty cell); they are copied. */
void tbl_row(tbl *t, ...);
/* Print the table to stdout: 0, or 1 (the failure exit code) with err when a
 * row was lost or stdout failed. */
int tbl_print(tbl *t, err_t *err);
void tbl_free(tbl *t);

/* The usual table of an API answer: row(t, item) adds the rows of each item of
 * list (a JSON array); then t is printed and freed. Returns what tbl_print does. */
int tbl_of(tbl *t, const json_t *list, void (*row)(tbl *t, json_t *item), err_t *err);

#endif
