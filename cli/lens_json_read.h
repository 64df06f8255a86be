/*
 * lens_json_read.h - a lens read back from its JSON document (schema
 * "loupe.lens/1", docs/LENS_JSON.md), so that `loupe plot` can draw it
 * without running the model again. Every field is validated; a document
 * made with a window (--layers, --positions) keeps that window.
 *
 * Shapes: R rows of the window, P positions of the window, K = topk.
 */
#ifndef LOUPE_LENS_JSON_READ_H
#define LOUPE_LENS_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loupe.h"

/* Bounds that keep a hostile document's allocations and labels small. */
enum {
    LENS_SAVED_MAX_TEXT = 4096,  /* bytes of one token text, row name or model name */
    LENS_SAVED_MAX_LAYERS = 4096, /* model.n_layer */
};

typedef struct lens_saved {
    char *model_name;      /* model.name */
    char *model_directory; /* model.directory */
    loupe_model_info info; /* n_layer .. n_ctx and directory; the other strings are "" */
    int topk;              /* options.topk */
    bool subblocks;        /* options.subblocks */
    int row_first, row_end;           /* rows: [first, end) within 0 .. R of the full lens */
    int position_first, position_end; /* positions: [first, end) */
    int32_t *ids;          /* (P) tokens[j].id */
    char **token_texts;    /* (P) tokens[j].text, NUL-terminated UTF-8 */
    char **row_names;      /* (R) layers[i] */
    loupe_lens_cell *cells; /* (R, P) row-major; top_ids and top_probs point into the arrays below */
    int32_t *top_ids;      /* (R, P, K) */
    float *top_probs;      /* (R, P, K) */
    int32_t max_id;        /* the largest token id anywhere in the document */
} lens_saved;

/* Reads `length` bytes of a loupe.lens/1 document (need not be NUL-
 * terminated). `name` (the file's name) starts every error message, which
 * then names the field at fault, e.g. "x.json: cells[2][5].target.rank: ...".
 * On success *saved_out is owned by the caller (lens_saved_free). */
loupe_status lens_json_read(const char *text, size_t length, const char *name, lens_saved **saved_out,
                            loupe_error *error);

/* Frees a lens_saved; NULL is a no-op. */
void lens_saved_free(lens_saved *saved);

/* The cell at (row, position), both absolute, inside the saved window. */
const loupe_lens_cell *lens_saved_cell(const lens_saved *saved, int row, int position);

#endif
