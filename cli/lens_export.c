/*
 * lens_export.c - `loupe lens --export FILE.safetensors`: the lens as
 * arrays for numpy, torch and safetensors users. Every per-cell field of the
 * JSON document (docs/LENS_JSON.md) becomes one (R, P) tensor named as the
 * field is (`target_prob`, `input_rank`, `kl_final`, ...), over the same
 * window of rows and positions; docs/LENS_OUTPUT.md lists them. With
 * --export-taps the residual taps (R, P, C), with --export-logprobs the
 * full-vocabulary log-probabilities of chosen rows, (S, P, V): both from the
 * taps the run kept (loupe_lens_params.keep_taps).
 *
 * Shapes: R rows and P positions of the window, K top tokens, N tracked
 * tokens, C width, V vocabulary, S rows of log-probabilities, T tokens.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lens_output.h"
#include "loupe_internal.h"
#include "plot.h"

/* The most tensors one export holds. */
enum { EXPORT_MAX_TENSORS = 40 };

/* The tensors of one export, their data owned, and the header's metadata. */
typedef struct lens_export {
    safetensors_typed_entry entries[EXPORT_MAX_TENSORS];
    size_t n_entries;
    safetensors_metadata metadata[6];
    size_t n_metadata;
    char *layers;                     /* the row names as a JSON list (owned) */
    char rows[32], positions[32], topk[16];
    void *blocks[EXPORT_MAX_TENSORS]; /* owned tensor data */
    size_t n_blocks;
} lens_export;

/* A new zeroed tensor of the given shape (4-byte elements), added to the
 * export; NULL when out of memory. */
static void *add_tensor(lens_export *export, const char *name, safetensors_write_dtype dtype, int n_dims,
                        const int64_t *shape) {
    size_t count = 1;
    for (int d = 0; d < n_dims; d++) count *= (size_t)shape[d];
    void *data = calloc(count ? count : 1, 4);
    if (data == NULL || export->n_entries == EXPORT_MAX_TENSORS) {
        free(data);
        return NULL;
    }
    safetensors_typed_entry *entry = &export->entries[export->n_entries++];
    entry->name = name;
    entry->dtype = dtype;
    entry->n_dims = n_dims;
    memcpy(entry->shape, shape, (size_t)n_dims * sizeof *shape);
    entry->data = data;
    export->blocks[export->n_blocks++] = data;
    return data;
}

static void export_free(lens_export *export) {
    for (size_t i = 0; i < export->n_blocks; i++) free(export->blocks[i]);
    free(export->layers);
}

/* A token's four fields in (R, P) tensors named PREFIX_id, _prob, _logit, _rank. */
typedef struct token_tensors {
    int32_t *id, *rank;
    float *prob, *logit;
} token_tensors;

static bool add_token_tensors(lens_export *export, const char *const names[4], const int64_t *shape,
                              token_tensors *out) {
    out->id = add_tensor(export, names[0], SAFETENSORS_WRITE_I32, 2, shape);
    out->prob = add_tensor(export, names[1], SAFETENSORS_WRITE_F32, 2, shape);
    out->logit = add_tensor(export, names[2], SAFETENSORS_WRITE_F32, 2, shape);
    out->rank = add_tensor(export, names[3], SAFETENSORS_WRITE_I32, 2, shape);
    return out->id && out->prob && out->logit && out->rank;
}

/* The token at flat index i of its tensors; an absent token (the target at
 * the last position) is id -1, prob and logit NaN, rank 0. */
static void store_token(const token_tensors *tensors, size_t i, const loupe_lens_token *token) {
    bool present = token->id >= 0;
    tensors->id[i] = token->id;
    tensors->prob[i] = present ? token->prob : NAN;
    tensors->logit[i] = present ? token->logit : NAN;
    tensors->rank[i] = present ? token->rank : 0;
}

/* Every per-cell field of the window. False when out of memory. */
static bool add_cells(lens_export *export, const lens_view *view) {
    const int R = view->rows.end - view->rows.first, P = view->positions.end - view->positions.first;
    const loupe_lens_cell *corner = lens_view_cell(view, view->rows.first, view->positions.first);
    const int K = view->topk < corner->n_top ? view->topk : corner->n_top, N = corner->n_tracked;
    const int64_t cells[2] = {R, P}, tops[3] = {R, P, K}, tracked[3] = {R, P, N}, positions[1] = {P};
    static const char *const token_names[3][4] = {
        {"target_id", "target_prob", "target_logit", "target_rank"},
        {"input_id", "input_prob", "input_logit", "input_rank"},
        {"final_top_id", "final_top_prob", "final_top_logit", "final_top_rank"},
    };
    static const char *const scalar_names[5] = {"entropy", "kl_final", "kl_final_rev", "kl_first", "kl_first_rev"};
    int32_t *tokens = add_tensor(export, "tokens", SAFETENSORS_WRITE_I32, 1, positions);
    token_tensors token[3];
    bool ok = tokens != NULL;
    for (int k = 0; k < 3 && ok; k++) ok = add_token_tensors(export, token_names[k], cells, &token[k]);
    float *scalars[5] = {NULL};
    for (int s = 0; s < 5 && ok; s++) ok = (scalars[s] = add_tensor(export, scalar_names[s], SAFETENSORS_WRITE_F32, 2, cells)) != NULL;
    int32_t *top_ids = ok ? add_tensor(export, "top_ids", SAFETENSORS_WRITE_I32, 3, tops) : NULL;
    float *top_probs = top_ids ? add_tensor(export, "top_probs", SAFETENSORS_WRITE_F32, 3, tops) : NULL;
    ok = top_probs != NULL;
    float *attribution[2] = {NULL, NULL};
    if (ok && view->contributions) {
        attribution[0] = add_tensor(export, "attribution_target", SAFETENSORS_WRITE_F32, 2, cells);
        attribution[1] = add_tensor(export, "attribution_final_top", SAFETENSORS_WRITE_F32, 2, cells);
        ok = attribution[0] && attribution[1];
    }
    int32_t *track = NULL, *tracked_rank = NULL;
    float *tracked_prob = NULL, *tracked_logit = NULL;
    if (ok && N > 0) {
        const int64_t n_track[1] = {N};
        track = add_tensor(export, "track", SAFETENSORS_WRITE_I32, 1, n_track);
        tracked_prob = add_tensor(export, "tracked_prob", SAFETENSORS_WRITE_F32, 3, tracked);
        tracked_logit = add_tensor(export, "tracked_logit", SAFETENSORS_WRITE_F32, 3, tracked);
        tracked_rank = add_tensor(export, "tracked_rank", SAFETENSORS_WRITE_I32, 3, tracked);
        ok = track && tracked_prob && tracked_logit && tracked_rank;
        for (int k = 0; ok && k < N; k++) track[k] = corner->tracked[k].id;
    }
    if (!ok) return false;
    for (int j = 0; j < P; j++) tokens[j] = lens_view_input_id(view, view->positions.first + j);
    for (int i = 0; i < R; i++)
        for (int j = 0; j < P; j++) {
            const loupe_lens_cell *cell = lens_view_cell(view, view->rows.first + i, view->positions.first + j);
            size_t at = (size_t)i * P + j;
            store_token(&token[0], at, &cell->target);
            store_token(&token[1], at, &cell->input);
            store_token(&token[2], at, &cell->final_top);
            const float values[5] = {cell->entropy, cell->kl_final, cell->kl_final_rev, cell->kl_first,
                                     cell->kl_first_rev};
            for (int s = 0; s < 5; s++) scalars[s][at] = values[s];
            for (int k = 0; k < K; k++) {
                top_ids[at * K + k] = k < cell->n_top ? cell->top_ids[k] : -1;
                top_probs[at * K + k] = k < cell->n_top ? cell->top_probs[k] : NAN;
            }
            if (attribution[0] != NULL) {
                const loupe_lens_attribution *a = cell->attribution;
                attribution[0][at] = a != NULL && cell->target.id >= 0 ? a->target : NAN;
                attribution[1][at] = a != NULL ? a->final_top : NAN;
            }
            for (int k = 0; k < N; k++) {
                tracked_prob[at * N + k] = cell->tracked[k].prob;
                tracked_logit[at * N + k] = cell->tracked[k].logit;
                tracked_rank[at * N + k] = cell->tracked[k].rank;
            }
        }
    return true;
}

/* ------------------------------------------------------------------------
 * Taps and log-probabilities
 * ---------------------------------------------------------------------- */

/* log_softmax of logits (V) into out (V): max-subtracted, in double. */
static void log_softmax(const float *logits, int V, float *out) {
    double max_logit = -INFINITY, sum = 0.0;
    for (int v = 0; v < V; v++) max_logit = logits[v] > max_logit ? logits[v] : max_logit;
    for (int v = 0; v < V; v++) sum += exp((double)logits[v] - max_logit);
    double log_partition = max_logit + log(sum);
    for (int v = 0; v < V; v++) out[v] = (float)((double)logits[v] - log_partition);
}

static int out_of_memory(void) {
    cli_error("--export: out of memory for the taps or log-probabilities");
    return CLI_EXIT_FAILURE;
}

/* "taps" (R, P, C) and "logprobs" (S, P, V) with "logprob_rows" (S), as
 * asked, from the taps the run kept. Returns 0 or prints the error and
 * returns CLI_EXIT_FAILURE. */
static int add_tap_tensors(lens_export *export, const lens_view *view, const loupe_model *model,
                           const lens_export_options *options) {
    const loupe_lens_result *result = view->result;
    const float *all_taps = loupe_lens_taps(result); /* (R_all, T, C) */
    const int T = loupe_lens_n_positions(result), C = view->info->n_embd, V = view->info->n_vocab;
    const int P = view->positions.end - view->positions.first, first = view->positions.first;
    const int R = view->rows.end - view->rows.first;
    if (options->taps) {
        const int64_t shape[3] = {R, P, C};
        float *taps = add_tensor(export, "taps", SAFETENSORS_WRITE_F32, 3, shape);
        if (taps == NULL) return out_of_memory();
        for (int i = 0; i < R; i++)
            memcpy(taps + (size_t)i * P * C, all_taps + ((size_t)(view->rows.first + i) * T + first) * C,
                   (size_t)P * C * sizeof(float));
    }
    if (options->has_logprob_rows) {
        const int S = options->logprob_rows.end - options->logprob_rows.first;
        const int64_t shape[3] = {S, P, V}, rows_shape[1] = {S};
        int32_t *rows = add_tensor(export, "logprob_rows", SAFETENSORS_WRITE_I32, 1, rows_shape);
        float *logprobs = rows ? add_tensor(export, "logprobs", SAFETENSORS_WRITE_F32, 3, shape) : NULL;
        if (logprobs == NULL) return out_of_memory();
        for (int s = 0; s < S; s++) {
            int row = options->logprob_rows.first + s;
            rows[s] = row;
            float *block = logprobs + (size_t)s * P * V;
            loupe_error error;
            if (loupe_model_logits(model, all_taps + ((size_t)row * T + first) * C, P, block, &error) != LOUPE_OK)
                return cli_fail(&error);
            for (int j = 0; j < P; j++) log_softmax(block + (size_t)j * V, V, block + (size_t)j * V);
        }
    }
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------
 * The file
 * ---------------------------------------------------------------------- */

/* __metadata__: what the arrays are, in strings. False when out of memory. */
static bool add_metadata(lens_export *export, const lens_view *view) {
    /* row names are at most 31 bytes of [a-z0-9._]: 36 bytes each with quotes and separator */
    size_t capacity = (size_t)(view->rows.end - view->rows.first) * 36 + 3, used = 0;
    export->layers = malloc(capacity);
    if (export->layers == NULL) return false;
    used += (size_t)snprintf(export->layers, capacity, "[");
    for (int row = view->rows.first; row < view->rows.end; row++)
        used += (size_t)snprintf(export->layers + used, capacity - used, "%s\"%s\"", row > view->rows.first ? ", " : "",
                                 lens_view_row_name(view, row));
    snprintf(export->layers + used, capacity - used, "]");
    snprintf(export->rows, sizeof export->rows, "[%d, %d]", view->rows.first, view->rows.end);
    snprintf(export->positions, sizeof export->positions, "[%d, %d]", view->positions.first, view->positions.end);
    snprintf(export->topk, sizeof export->topk, "%d", view->topk);
    const safetensors_metadata metadata[] = {
        {"schema", "loupe.lens-export/1"}, {"model", view->info->directory}, {"layers", export->layers},
        {"rows", export->rows},           {"positions", export->positions}, {"topk", export->topk},
    };
    memcpy(export->metadata, metadata, sizeof metadata);
    export->n_metadata = sizeof metadata / sizeof metadata[0];
    return true;
}

int lens_export_check(const lens_export_options *options, int n_positions, int n_vocab) {
    if (options->path == NULL) {
        if (options->taps || options->has_logprob_rows) {
            cli_error("%s needs --export FILE.safetensors", options->taps ? "--export-taps" : "--export-logprobs");
            return CLI_EXIT_USAGE;
        }
        return CLI_EXIT_OK;
    }
    size_t length = strlen(options->path), suffix = strlen(".safetensors");
    if (length <= suffix || strcmp(options->path + length - suffix, ".safetensors") != 0) {
        cli_error("--export: '%s' must end in .safetensors", options->path);
        return CLI_EXIT_USAGE;
    }
    if (options->has_logprob_rows) {
        double floats = (double)(options->logprob_rows.end - options->logprob_rows.first) * n_positions * n_vocab;
        if (floats > (double)LENS_EXPORT_MAX_LOGPROBS) {
            cli_error("--export-logprobs: %d rows x %d positions x %d tokens is more than %lld floats (1 GiB); "
                      "export fewer rows (--export-logprobs) or positions (--positions)",
                      options->logprob_rows.end - options->logprob_rows.first, n_positions, n_vocab,
                      (long long)LENS_EXPORT_MAX_LOGPROBS);
            return CLI_EXIT_USAGE;
        }
    }
    return plot_output_check(options->path) ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}

int lens_export_write(const lens_view *view, const loupe_model *model, const lens_export_options *options) {
    lens_export *export = calloc(1, sizeof *export);
    if (export == NULL) {
        cli_error("--export: out of memory");
        return CLI_EXIT_FAILURE;
    }
    int status = CLI_EXIT_OK;
    if (!add_cells(export, view)) {
        cli_error("--export: out of memory for the arrays");
        status = CLI_EXIT_FAILURE;
    }
    if (status == CLI_EXIT_OK && (options->taps || options->has_logprob_rows)) {
        status = add_tap_tensors(export, view, model, options);
    }
    if (status == CLI_EXIT_OK && !add_metadata(export, view)) {
        cli_error("--export: out of memory");
        status = CLI_EXIT_FAILURE;
    }
    if (status == CLI_EXIT_OK) {
        loupe_error error;
        if (safetensors_write_file(options->path, export->entries, export->n_entries, export->metadata,
                                   export->n_metadata, &error) != LOUPE_OK)
            status = cli_fail(&error);
    }
    export_free(export);
    free(export);
    return status;
}
