/*
 * lens_arrays.c - a lens's cells copied out as flat arrays, one per number
 * (loupe_lens_arrays), from a run or from a saved document alike.
 */
#include <math.h>
#include <stddef.h>

#include "loupe.h"
#include "util/error.h"

/* The cell at (row, position) of whichever source the copy reads. */
typedef const loupe_lens_cell *(*cell_getter)(const void *source, int row, int position);

static const loupe_lens_cell *result_cell(const void *source, int row, int position) {
    return loupe_lens_cell_at(source, row, position);
}

static const loupe_lens_cell *saved_cell(const void *source, int row, int position) {
    return loupe_lens_saved_cell(source, row, position);
}

/* Copies one cell into slot i of the (R, P) arrays and slots i K .. of the
 * (R, P, K) ones. */
static void copy_cell(const loupe_lens_cell *cell, size_t i, int K, const loupe_lens_arrays *arrays) {
    bool has_target = cell->target.id >= 0;
    if (arrays->kl_final) arrays->kl_final[i] = cell->kl_final;
    if (arrays->kl_final_rev) arrays->kl_final_rev[i] = cell->kl_final_rev;
    if (arrays->kl_first) arrays->kl_first[i] = cell->kl_first;
    if (arrays->kl_first_rev) arrays->kl_first_rev[i] = cell->kl_first_rev;
    if (arrays->entropy) arrays->entropy[i] = cell->entropy;
    if (arrays->target_prob) arrays->target_prob[i] = has_target ? cell->target.prob : NAN;
    if (arrays->target_logit) arrays->target_logit[i] = has_target ? cell->target.logit : NAN;
    if (arrays->target_rank) arrays->target_rank[i] = has_target ? cell->target.rank : -1;
    if (arrays->input_prob) arrays->input_prob[i] = cell->input.prob;
    if (arrays->input_logit) arrays->input_logit[i] = cell->input.logit;
    if (arrays->input_rank) arrays->input_rank[i] = cell->input.rank;
    if (arrays->final_top_prob) arrays->final_top_prob[i] = cell->final_top.prob;
    for (int k = 0; k < K; k++) {
        /* a cell holds min(topk, V) tokens; any slot beyond is id -1, prob NaN */
        if (arrays->top_ids) arrays->top_ids[i * K + k] = k < cell->n_top ? cell->top_ids[k] : -1;
        if (arrays->top_probs) arrays->top_probs[i * K + k] = k < cell->n_top ? cell->top_probs[k] : NAN;
    }
}

/* Copies the cells of window, read through cell(), with K top tokens each. */
static void copy_window(const void *source, cell_getter cell, const loupe_lens_window *window, int K,
                        const loupe_lens_arrays *arrays) {
    size_t i = 0;
    for (int row = window->row_first; row < window->row_end; row++)
        for (int t = window->position_first; t < window->position_end; t++, i++)
            copy_cell(cell(source, row, t), i, K, arrays);
}

loupe_status loupe_lens_copy_arrays(const loupe_lens_result *result, const loupe_lens_window *window,
                                    const loupe_lens_arrays *arrays, loupe_error *error) {
    error_clear(error);
    if (result == NULL || arrays == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "lens arrays: the result and arrays must not be NULL");
    int R = loupe_lens_n_rows(result), T = loupe_lens_n_positions(result);
    loupe_lens_window whole = {0, R, 0, T};
    if (window == NULL) window = &whole;
    if (window->row_first < 0 || window->row_first >= window->row_end || window->row_end > R)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "rows [%d, %d) are not a non-empty range within 0 .. %d",
                         window->row_first, window->row_end, R);
    if (window->position_first < 0 || window->position_first >= window->position_end || window->position_end > T)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "positions [%d, %d) are not a non-empty range within 0 .. %d", window->position_first,
                         window->position_end, T);
    copy_window(result, result_cell, window, loupe_lens_cell_at(result, 0, 0)->n_top, arrays);
    return LOUPE_OK;
}

loupe_status loupe_lens_saved_copy_arrays(const loupe_lens_saved *saved, const loupe_lens_arrays *arrays,
                                          loupe_error *error) {
    error_clear(error);
    if (saved == NULL || arrays == NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "lens arrays: the saved lens and arrays must not be NULL");
    loupe_lens_window window = {saved->row_first, saved->row_end, saved->position_first, saved->position_end};
    copy_window(saved, saved_cell, &window, saved->topk, arrays);
    return LOUPE_OK;
}
