/*
 * corpus_window.c - cutting a document into model-sized windows, each
 * position scored once (the rule is in loupe.h and docs/CORPUS.md).
 */
#include "loupe.h"
#include "util/error.h"

loupe_status loupe_corpus_window_check(const loupe_corpus_window_params *params, loupe_error *error) {
    if (params->context < 2)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "window context must be at least 2 tokens, not %d",
                         params->context);
    if (params->stride < 1 || params->stride > params->context - 1)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "stride must be 1 .. %d (the context minus 1), not %d",
                         params->context - 1, params->stride);
    if (params->min_context < 0 || params->min_context > params->context - params->stride - 1)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "min-context must be 0 .. %d (context - stride - 1, the least context a position "
                         "has after the first window), not %d",
                         params->context - params->stride - 1, params->min_context);
    return LOUPE_OK;
}

bool loupe_corpus_window_next(int n_tokens, const loupe_corpus_window_params *params,
                              loupe_corpus_window *window) {
    int P = params->context, S = params->stride;
    int start, covered; /* covered: positions below it were in an earlier window */
    if (window->end == 0) {
        if (n_tokens < 1) return false;
        start = 0;
        covered = 0;
    } else {
        if (window->end >= n_tokens) return false;
        start = window->start + S;
        if (start + P > n_tokens) start = n_tokens > P ? n_tokens - P : 0; /* the last window ends at N */
        covered = window->end - 1; /* the last position of a window predicts outside it */
    }
    int end = start + P < n_tokens ? start + P : n_tokens;
    int begin = covered > start + params->min_context ? covered : start + params->min_context;
    int score_end = end - 1;
    if (begin > score_end) begin = score_end;
    *window = (loupe_corpus_window){start, end, begin, score_end};
    return true;
}
