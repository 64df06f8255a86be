/*
 * lens_row_set.h - the set S of lens rows whose cross-entropy the
 * fine-tuning loss adds (loupe_finetune_params.lens_rows, `loupe finetune
 * --lens-rows`), written as `loupe lens --layers` writes rows: row 0 the
 * embeddings ("input"), row l the output of block l. The lens rows are 0 ..
 * L-1; row L, the model's output, is the loss's first term and no lens row.
 */
#ifndef LOUPE_TRAIN_LENS_ROW_SET_H
#define LOUPE_TRAIN_LENS_ROW_SET_H

#include <stdbool.h>

#include "loupe.h"

/* Parses text, a comma-separated list of items, each either a whole number
 * I (row I; a negative one counts from L, so -1 is row L-1) or a Python
 * slice A:B of rows A .. B-1 (either end may be left out; negative ends
 * count from L, then both are clamped to 0 .. L, as Python does), into
 * rows (L): true for every row some item selects, false elsewhere. NULL or
 * "" selects every row 0 .. L-1. *n_selected (may be NULL) is the number
 * of rows selected. Errors (LOUPE_ERROR_ARGUMENT, naming the text): an
 * item that is neither, a number outside -L .. L-1, a text that selects no
 * row; rows is then undefined. L >= 1. */
loupe_status lens_row_set_parse(const char *text, int L, bool *rows, int *n_selected, loupe_error *error);

#endif
