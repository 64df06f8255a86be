/*
 * lens_batch.c - the lens of several texts at once: every text has its own
 * forward pass, and their positions are swept over the vocabulary together
 * (lens_run.h), so that short texts fill the blocks of positions that each
 * pass over the unembedding serves.
 */
#include "lens/lens_run.h"
#include "loupe.h"
#include "util/error.h"

loupe_status loupe_lens_run_batch(const loupe_model *model, const int32_t *const *ids, const int *n_tokens,
                                  int n_texts, const loupe_lens_params *params, loupe_lens_result **results_out,
                                  loupe_error *error) {
    for (int k = 0; k < n_texts; k++) results_out[k] = NULL;
    loupe_lens_result *packed = NULL;
    loupe_status status = lens_run_texts(model, ids, n_tokens, n_texts, params, &packed, error);
    if (status != LOUPE_OK) return status;
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    bool subblocks = loupe_lens_n_rows(packed) != loupe_lens_row_count(info.n_layer, false);
    int K = loupe_lens_cell_at(packed, 0, 0)->n_top;
    for (int k = 0, first = 0; k < n_texts && status == LOUPE_OK; first += n_tokens[k], k++) {
        results_out[k] = lens_result_create(info.n_layer, subblocks, n_tokens[k], K);
        if (results_out[k] == NULL)
            status = error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the lens of text %d", k);
        else
            lens_result_copy_positions(results_out[k], 0, packed, first, n_tokens[k]);
    }
    loupe_lens_free(packed);
    if (status != LOUPE_OK)
        for (int k = 0; k < n_texts; k++) {
            loupe_lens_free(results_out[k]);
            results_out[k] = NULL;
        }
    return status;
}
