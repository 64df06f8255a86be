/*
 * lens_windowed.c - the lens of a text longer than the model's context: the
 * text is cut into windows as a corpus document is (loupe_corpus_window_next),
 * the lens runs on each, and each position's cells are taken from the one
 * window that scores it, the one where it has the most left context. The
 * last position, which predicts nothing and which the corpus rule never
 * scores, comes from the last window.
 */
#include "lens/lens_run.h"
#include "loupe.h"
#include "util/error.h"

loupe_status loupe_lens_run_windowed(const loupe_model *model, const int32_t *ids, int n_tokens, int window_tokens,
                                     int stride, const loupe_lens_params *params, loupe_lens_result **result_out,
                                     loupe_error *error) {
    *result_out = NULL;
    error_clear(error);
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    if (window_tokens > info.n_ctx)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "window of %d tokens is longer than the model's context of %d",
                         window_tokens, info.n_ctx);
    loupe_corpus_window_params windows = {.context = window_tokens, .stride = stride, .min_context = 0};
    loupe_status status = loupe_corpus_window_check(&windows, error);
    if (status != LOUPE_OK) return status;
    if (n_tokens < 1) return error_set(error, LOUPE_ERROR_ARGUMENT, "the text has no tokens");

    loupe_lens_result *result = NULL;
    loupe_corpus_window window = {0};
    while (status == LOUPE_OK && loupe_corpus_window_next(n_tokens, &windows, &window)) {
        loupe_lens_result *part = NULL;
        status = loupe_lens_run(model, ids + window.start, window.end - window.start, params, &part, error);
        if (status != LOUPE_OK) break;
        if (result == NULL) {
            bool subblocks = loupe_lens_n_rows(part) != loupe_lens_row_count(info.n_layer, false);
            result = lens_result_create(info.n_layer, subblocks, n_tokens, loupe_lens_cell_at(part, 0, 0)->n_top);
            if (result == NULL)
                status = error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the lens of %d tokens", n_tokens);
        }
        int score_end = window.end == n_tokens ? n_tokens : window.score_end; /* the last position too */
        if (status == LOUPE_OK)
            lens_result_copy_positions(result, window.score_begin, part, window.score_begin - window.start,
                                       score_end - window.score_begin);
        loupe_lens_free(part);
    }
    if (status != LOUPE_OK) {
        loupe_lens_free(result);
        return status;
    }
    *result_out = result;
    return LOUPE_OK;
}
