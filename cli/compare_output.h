/*
 * compare_output.h - what `loupe compare` writes: the table of KL(A || B)
 * and the JSON document (compare_output.c), and the heatmap
 * (compare_heatmap.c). Shapes: R lens rows, T positions.
 */
#ifndef LOUPE_COMPARE_OUTPUT_H
#define LOUPE_COMPARE_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "loupe.h"

typedef struct compare_view {
    const loupe_compare_result *result;
    const loupe_tokenizer *tokenizer; /* A's: renders the ids */
    const loupe_model_info *info_a, *info_b;
    bool subblocks;
} compare_view;

/* The table: one line per row (the last row at the top), one column per
 * position headed by its input token; each cell KL(A || B) in nats, with
 * '*' where the two top-1 tokens differ. */
void compare_table_print(FILE *out, const compare_view *view);

/* JSON, schema "loupe.compare/1" (README, Comparing models). */
void compare_json_print(FILE *out, const compare_view *view);

/* The heatmap of KL(A || B) as PNG or SVG (by path's extension): cells
 * coloured from 0 to the largest KL, each labelled with A's top-1, and
 * "A / B" where B's differs. */
loupe_status compare_heatmap_write(const compare_view *view, const char *path, double dpi, loupe_error *error);

#endif
