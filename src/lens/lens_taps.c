/*
 * lens_taps.c - the residual stream at the lens's taps, and the public
 * calls that hand it out: every row's hidden state, and one row's logits
 * through the model's head.
 */
#include "lens/lens_taps.h"

#include <stdlib.h>
#include <string.h>

#include "lens/lens_contributions.h"
#include "model/model.h"
#include "util/error.h"

/* Copies the taps, in the order the forward pass reports them, into
 * taps (R, T, C). With contributions each sub-block's output comes before
 * the residual it makes (lens_rows.c). */
typedef struct tap_store {
    float *taps;
    int next_row;
    int n_rows;
    bool subblocks;  /* the attention taps are rows */
    float *previous; /* (T, C) with contributions: the residual before the current sub-block; else NULL */
} tap_store;

static loupe_status store_tap(void *user, loupe_tap_kind kind, int layer, const float *residual,
                              int T, int C) {
    (void)layer;
    tap_store *store = user;
    const size_t n = (size_t)T * C;
    if (store->previous != NULL && kind == LOUPE_TAP_EMBEDDING) memcpy(store->previous, residual, n * sizeof(float));
    if (store->previous != NULL && kind != LOUPE_TAP_EMBEDDING) {
        if (store->next_row >= store->n_rows) return LOUPE_ERROR_ARGUMENT; /* cannot happen: rows counted from the model */
        lens_contribution_delta(store->taps + (size_t)store->next_row++ * n, residual, store->previous, n);
    }
    if (kind == LOUPE_TAP_AFTER_ATTENTION && !store->subblocks) return LOUPE_OK;
    if (store->next_row >= store->n_rows) return LOUPE_ERROR_ARGUMENT;
    memcpy(store->taps + (size_t)store->next_row * n, residual, n * sizeof(float));
    store->next_row++;
    return LOUPE_OK;
}

loupe_status lens_taps_collect(const loupe_model *model, const int32_t *ids, int n_tokens, bool subblocks,
                               bool contributions, float *taps, loupe_error *error) {
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    tap_store store = {.taps = taps, .next_row = 0,
                       .n_rows = loupe_lens_row_count_with(info.n_layer, subblocks, contributions),
                       .subblocks = subblocks, .previous = NULL};
    if (contributions) {
        store.previous = malloc((size_t)n_tokens * info.n_embd * sizeof(float));
        if (store.previous == NULL)
            return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the lens of %d tokens", n_tokens);
    }
    loupe_forward_params forward = loupe_forward_default_params();
    forward.tap = store_tap;
    forward.tap_user = &store;
    forward.tap_after_attention = subblocks || contributions;
    loupe_status status = loupe_model_forward(model, ids, n_tokens, &forward, NULL, error);
    free(store.previous);
    return status;
}

loupe_status loupe_lens_hidden_states(const loupe_model *model, const int32_t *ids, int n_tokens, bool subblocks,
                                      float *hidden, loupe_error *error) {
    error_clear(error);
    if (model == NULL || ids == NULL || hidden == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "hidden states: the model, ids and output must not be NULL");
    return lens_taps_collect(model, ids, n_tokens, subblocks, false, hidden, error);
}

loupe_status loupe_lens_row_logits(const loupe_model *model, const int32_t *ids, int n_tokens, bool subblocks,
                                   int row, float *logits, loupe_error *error) {
    error_clear(error);
    if (model == NULL || ids == NULL || logits == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "lens logits: the model, ids and output must not be NULL");
    /* checked before the taps are allocated: their size follows n_tokens */
    loupe_status status = model_check_input(model, ids, n_tokens, NULL, error);
    if (status != LOUPE_OK) return status;
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    int R = loupe_lens_row_count(info.n_layer, subblocks);
    if (row < 0 || row >= R)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "row must be 0 .. %d (the lens's rows), not %d", R - 1, row);
    size_t row_floats = (size_t)n_tokens * (size_t)info.n_embd;
    float *taps = malloc((size_t)R * row_floats * sizeof *taps);
    if (taps == NULL)
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the hidden states of %d tokens", n_tokens);
    status = lens_taps_collect(model, ids, n_tokens, subblocks, false, taps, error);
    if (status == LOUPE_OK) status = loupe_model_logits(model, taps + (size_t)row * row_floats, n_tokens, logits, error);
    free(taps);
    return status;
}
