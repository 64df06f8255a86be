/*
 * lens_contributions.c - sub-block outputs and their direct logit
 * attribution (lens_contributions.h). The attribution follows
 * TransformerLens's apply_ln: every component is centred (LayerNorm) and
 * divided by the final norm's scale of the whole final residual, so that the
 * components' attributions add up to the final logit less the norm's bias
 * term W_U[v] . beta (0 for RMSNorm): the norm is linear once its scale is
 * fixed.
 */
#include <math.h>
#include <stdlib.h>

#include "lens/lens_contributions.h"
#include "model/model.h"
#include "util/error.h"

void lens_contribution_delta(float *delta, const float *residual, float *previous, size_t n) {
    for (size_t i = 0; i < n; i++) {
        delta[i] = residual[i] - previous[i];
        previous[i] = residual[i];
    }
}

bool lens_row_is_component(int row, bool subblocks) {
    if (row == 0) return true;
    int per_block = subblocks ? 4 : 3, offset = (row - 1) % per_block;
    return offset == 0 || offset == (subblocks ? 2 : 1);
}

/* The final norm's scale of x (C): sqrt(var + eps) for LayerNorm,
 * sqrt(mean(x^2) + eps) for RMSNorm, as src/kernels/norms.c computes it. */
static double norm_scale(const model_description *d, const float *x, int C) {
    double mean = 0.0, spread = 0.0;
    if (d->norm == NORM_LAYER) {
        for (int c = 0; c < C; c++) mean += x[c];
        mean /= C;
    }
    for (int c = 0; c < C; c++) spread += ((double)x[c] - mean) * ((double)x[c] - mean);
    return sqrt(spread / C + d->norm_eps);
}

/* sum_c u[c] c(d)_c for one component d (C). */
static double attribute(const model_description *desc, const double *u, const float *d, int C) {
    double mean = 0.0, sum = 0.0;
    if (desc->norm == NORM_LAYER) {
        for (int c = 0; c < C; c++) mean += d[c];
        mean /= C;
    }
    for (int c = 0; c < C; c++) sum += u[c] * ((double)d[c] - mean);
    return sum;
}

loupe_status lens_contributions_attribute(const loupe_model *model, const float *taps, int R, int T, bool subblocks,
                                          const int32_t *next_ids, const int32_t *final_top, loupe_lens_attribution *out,
                                          loupe_error *error) {
    const model_description *desc = &model->description;
    const int C = desc->n_embd;
    double *u = malloc(2 * (size_t)C * sizeof *u); /* (2, C): the target's, then the final top-1's */
    float *unembedding_row = malloc((size_t)C * sizeof *unembedding_row); /* (C) W_U[v] as floats */
    if (u == NULL || unembedding_row == NULL) {
        free(u);
        free(unembedding_row);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the attributions");
    }
    for (int t = 0; t < T; t++) {
        const float *x = taps + ((size_t)(R - 1) * T + t) * C;
        double scale = norm_scale(desc, x, C);
        const int32_t tokens[2] = {next_ids[t], final_top[t]};
        /* u_v = W_U[v] g / s(x): the final norm and the unembedding of token v, its scale held fixed */
        for (int k = 0; k < 2; k++) {
            if (tokens[k] < 0) continue;
            weight_view_to_f32(&model->unembedding, tokens[k], 1, 0, C, unembedding_row, C);
            for (int c = 0; c < C; c++)
                u[(size_t)k * C + c] = (double)unembedding_row[c] *
                                       ((double)desc->norm_weight_offset + model->final_norm_weight[c]) / scale;
        }
        for (int r = 0; r < R; r++) {
            if (!lens_row_is_component(r, subblocks)) continue;
            const float *d = taps + ((size_t)r * T + t) * C;
            loupe_lens_attribution *a = &out[(size_t)r * T + t];
            a->target = tokens[0] >= 0 ? (float)attribute(desc, u, d, C) : NAN;
            a->final_top = (float)attribute(desc, u + C, d, C);
        }
    }
    free(u);
    free(unembedding_row);
    return LOUPE_OK;
}
