/*
 * certified_forward.c - the certified forward pass's dispatch to its
 * family, and the final norm every family shares.
 */
#include "interval/certified_forward.h"

#include <math.h>
#include <stdlib.h>

#include "interval/ball_norms.h"
#include "interval/certified_decoder.h"
#include "interval/certified_gpt2.h"
#include "model/model.h"
#include "util/error.h"

loupe_status certified_forward(const loupe_model *model, const int32_t *ids, int T,
                               const certified_forward_params *params, loupe_error *error) {
    if (model->description.family == &GPT2_FAMILY) return certified_gpt2_forward(model, ids, T, params, error);
    return certified_decoder_forward(model, ids, T, params, error);
}

void certified_final_norm(const loupe_model *model, const double *in_mid, const float *in_rad, int N,
                          double weight_radius, double *out_mid, float *out_rad) {
    const model_description *d = &model->description;
    float eps = (float)d->norm_eps;
    if (d->norm == NORM_LAYER)
        ball_layer_norm(out_mid, out_rad, in_mid, in_rad, model->final_norm_weight, model->final_norm_bias, N,
                        d->n_embd, eps, weight_radius);
    else
        ball_rms_norm(out_mid, out_rad, in_mid, in_rad, model->final_norm_weight, d->norm_weight_offset, N,
                      d->n_embd, eps, weight_radius);
}

static int compare_floats(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void certified_relative_radius(const double *mid, const float *rad, size_t n, float *scratch, double *median,
                               double *max) {
    double squares = 0.0;
    for (size_t i = 0; i < n; i++) squares += mid[i] * mid[i];
    double floor = 1e-6 * sqrt(squares / (double)(n > 0 ? n : 1));
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(mid[i]) > floor) scratch[kept++] = (float)(rad[i] / fabs(mid[i]));
    *median = *max = 0.0;
    if (kept == 0) return;
    qsort(scratch, kept, sizeof(float), compare_floats);
    *median = kept % 2 ? scratch[kept / 2] : 0.5 * ((double)scratch[kept / 2 - 1] + scratch[kept / 2]);
    *max = scratch[kept - 1];
}
