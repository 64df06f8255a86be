/*
 * lens_metric.c - the value that colours each cell of the lens table, and
 * its scale over the cells shown.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lens_output.h"
#include "loupe_internal.h"

/* The token whose standing the metric reads: the input token against the
 * first row, else the final top-1, the true next token or a tracked token
 * (NULL when the cell does not have it). */
static const loupe_lens_token *metric_token(const lens_metric *metric, const loupe_lens_cell *cell) {
    if (metric->vs == LENS_VS_FIRST) return &cell->input;
    if (metric->token == LENS_TOKEN_TRACKED)
        return metric->tracked < cell->n_tracked ? &cell->tracked[metric->tracked] : NULL;
    return metric->token == LENS_TOKEN_TARGET ? &cell->target : &cell->final_top;
}

const char *const lens_metric_names[6] = {"prob", "logit", "rank", "kl", "entropy", "certainty"};

bool lens_metric_value(const lens_metric *metric, const lens_view *view, int row, int t, double *value) {
    const loupe_lens_cell *cell = lens_view_cell(view, row, t);
    const loupe_lens_token *token = NULL;
    switch (metric->kind) {
    case LENS_METRIC_CERTAINTY: {
        const certified_cell *c = view->certified != NULL ? certified_lens_cell(view->certified, row, t) : NULL;
        if (c == NULL || !c->top1_certain) return false;
        *value = c->certainty;
        return true;
    }
    case LENS_METRIC_ENTROPY: *value = cell->entropy; return true;
    case LENS_METRIC_KL:
        if (metric->vs == LENS_VS_FINAL)
            *value = metric->kl == LENS_KL_FORWARD ? cell->kl_final : cell->kl_final_rev;
        else
            *value = metric->kl == LENS_KL_FORWARD ? cell->kl_first : cell->kl_first_rev;
        return true;
    case LENS_METRIC_PROB:
    case LENS_METRIC_LOGIT:
    case LENS_METRIC_RANK:
        token = metric_token(metric, cell);
        if (token == NULL || token->id < 0) return false;
        *value = metric->kind == LENS_METRIC_PROB    ? token->prob
                 : metric->kind == LENS_METRIC_LOGIT ? token->logit
                                                     : token->rank;
        return true;
    }
    return false;
}

const char *lens_metric_describe(const lens_metric *metric) {
    static const char *const of_token[3][4] = {
        /* final top-1, true next token, input token, tracked token */
        {"probability of the final row's top-1 token", "probability of the true next token",
         "probability of the input token", "probability of the tracked token"},
        {"lens logit of the final row's top-1 token", "lens logit of the true next token",
         "lens logit of the input token", "lens logit of the tracked token"},
        {"rank of the final row's top-1 token (1 = top)", "rank of the true next token (1 = top)",
         "rank of the input token (1 = top)", "rank of the tracked token (1 = top)"},
    };
    switch (metric->kind) {
    case LENS_METRIC_ENTROPY: return "entropy of the row's distribution (nats)";
    case LENS_METRIC_CERTAINTY:
        return "certainty of the top-1 (its margin over the runner-up in radii; uncoloured: not certain)";
    case LENS_METRIC_KL:
        if (metric->vs == LENS_VS_FINAL)
            return metric->kl == LENS_KL_FORWARD ? "KL(final || row) (nats)" : "KL(row || final) (nats)";
        return metric->kl == LENS_KL_FORWARD ? "KL(input || row) (nats)" : "KL(row || input) (nats)";
    case LENS_METRIC_PROB:
    case LENS_METRIC_LOGIT:
    case LENS_METRIC_RANK: {
        int which = metric->vs == LENS_VS_FIRST              ? 2
                    : metric->token == LENS_TOKEN_TRACKED ? 3
                    : metric->token == LENS_TOKEN_TARGET  ? 1
                                                          : 0;
        return of_token[metric->kind - LENS_METRIC_PROB][which];
    }
    }
    return "";
}

char *lens_metric_tracked_name(const lens_metric *metric, const lens_view *view, char *buffer, size_t capacity) {
    buffer[0] = '\0';
    if (metric->vs != LENS_VS_FINAL || metric->token != LENS_TOKEN_TRACKED ||
        (metric->kind != LENS_METRIC_PROB && metric->kind != LENS_METRIC_LOGIT && metric->kind != LENS_METRIC_RANK))
        return NULL;
    const loupe_lens_cell *cell = lens_view_cell(view, view->rows.first, view->positions.first);
    if (metric->tracked >= cell->n_tracked) return NULL;
    int32_t id = cell->tracked[metric->tracked].id;
    char rendered[128];
    loupe_tokenizer_render(view->tokenizer, id, rendered, sizeof rendered);
    snprintf(buffer, capacity, "track:%d = %s (id %d)", metric->tracked + 1, rendered, id);
    return buffer;
}

/* The largest finite value of the metric over the view's cells, at least 10. */
static double finite_maximum(const lens_metric *metric, const lens_view *view) {
    double high = 10.0, value;
    for (int row = view->rows.first; row < view->rows.end; row++)
        for (int t = view->positions.first; t < view->positions.end; t++)
            if (lens_metric_value(metric, view, row, t, &value) && isfinite(value) && value > high) high = value;
    return high;
}

lens_scale lens_scale_over_view(const lens_metric *metric, const lens_view *view) {
    lens_scale scale = {.kind = metric->kind, .low = 0.0, .high = 1.0};
    if (metric->kind == LENS_METRIC_PROB) return scale;
    bool any = false;
    double low = 0.0, high = 0.0;
    for (int row = view->rows.first; row < view->rows.end; row++)
        for (int t = view->positions.first; t < view->positions.end; t++) {
            double value;
            if (!lens_metric_value(metric, view, row, t, &value)) continue;
            if (!any || value < low) low = value;
            if (!any || value > high) high = value;
            any = true;
        }
    switch (metric->kind) {
    case LENS_METRIC_LOGIT:
        scale.low = any ? low : 0.0;
        scale.high = any ? high : 1.0;
        break;
    case LENS_METRIC_RANK:
        scale.low = 1.0;
        scale.high = any && high > 1.0 ? high : 1.0;
        break;
    case LENS_METRIC_CERTAINTY: /* log scale from 1 (the intervals touch) to the largest finite margin, at least 10 */
        scale.low = 1.0;
        scale.high = finite_maximum(metric, view);
        break;
    default: /* KL and entropy start at 0 */
        scale.low = 0.0;
        scale.high = any && high > 0.0 ? high : 0.0;
        break;
    }
    return scale;
}

double lens_scale_position(const lens_scale *scale, double value) {
    double t;
    if (scale->kind == LENS_METRIC_CERTAINTY) {
        /* log scale, a margin of 1 dark, the largest bright; +inf (exact) brightest */
        t = log(value > 1.0 ? value : 1.0) / log(scale->high);
    } else if (scale->kind == LENS_METRIC_RANK) {
        /* log scale, rank 1 at the bright end */
        if (scale->high <= 1.0) return 1.0;
        t = 1.0 - log(value < 1.0 ? 1.0 : value) / log(scale->high);
    } else {
        double span = scale->high - scale->low;
        if (!(span > 0.0)) return scale->kind == LENS_METRIC_LOGIT ? 1.0 : 0.0;
        t = (value - scale->low) / span;
    }
    if (!(t >= 0.0)) t = 0.0; /* also catches NaN */
    if (t > 1.0) t = 1.0;
    return t;
}

char *lens_metric_format(lens_metric_kind kind, double value, char *buffer, size_t capacity) {
    switch (kind) {
    case LENS_METRIC_PROB: {
        snprintf(buffer, capacity, "%.2f", value);
        /* ".92" reads quicker than "0.92" in a narrow cell */
        if (buffer[0] == '0' && buffer[1] == '.') memmove(buffer, buffer + 1, strlen(buffer));
        break;
    }
    case LENS_METRIC_LOGIT: snprintf(buffer, capacity, "%.1f", value); break;
    case LENS_METRIC_RANK: snprintf(buffer, capacity, "%.0f", value); break;
    case LENS_METRIC_CERTAINTY:
        if (isfinite(value)) snprintf(buffer, capacity, "%.2g", value);
        else snprintf(buffer, capacity, "exact");
        break;
    default: snprintf(buffer, capacity, "%.2f", value); break;
    }
    return buffer;
}
