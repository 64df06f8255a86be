/*
 * adamw.c - AdamW, gradient clipping and the warm-up + cosine schedule
 * (adamw.h), in the order of operations of torch.optim.AdamW's for-loop
 * implementation on the CPU: the moments' updates are the fused
 * multiply-adds of its add_(alpha) and addcmul_ kernels, the update
 * p + (-step_size m) / denominator its addcdiv_; so the parameters come out
 * as PyTorch's to the last bits but for the clipping coefficient (whose
 * norm PyTorch sums in float32).
 */
#include "train/adamw.h"

#include <math.h>

#include "kernels/parallel.h"
#include "util/error.h"

/* Elements per block of the clipping norm: each block's squares are summed
 * on its own, then the blocks in order, whatever the threads. */
enum { ADAMW_NORM_BLOCK = 1 << 14 };

loupe_status adamw_settings_check(const adamw_settings *s, loupe_error *error) {
    if (s->steps < 1) return error_set(error, LOUPE_ERROR_ARGUMENT, "steps must be at least 1, not %d", s->steps);
    if (s->warmup_steps < 0 || s->warmup_steps >= s->steps)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "warmup_steps must be 0 .. steps - 1 (%d), not %d",
                         s->steps - 1, s->warmup_steps);
    if (!(s->lr > 0) || !isfinite(s->lr))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "lr must be a positive number, not %g", s->lr);
    if (!(s->min_lr_fraction >= 0 && s->min_lr_fraction <= 1))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "min_lr_fraction must be in [0, 1], not %g", s->min_lr_fraction);
    if (!(s->beta1 >= 0 && s->beta1 < 1))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "beta1 must be in [0, 1), not %g", s->beta1);
    if (!(s->beta2 >= 0 && s->beta2 < 1))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "beta2 must be in [0, 1), not %g", s->beta2);
    if (!(s->eps > 0) || !isfinite(s->eps))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "eps must be a positive number, not %g", s->eps);
    if (!(s->weight_decay >= 0) || !isfinite(s->weight_decay))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "weight_decay must be >= 0, not %g", s->weight_decay);
    if (!(s->max_grad_norm > 0) || !isfinite(s->max_grad_norm))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "max_grad_norm must be a positive number, not %g",
                         s->max_grad_norm);
    return LOUPE_OK;
}

double adamw_learning_rate(const adamw_settings *s, int step) {
    const int warmup = s->warmup_steps, last = s->steps - 1;
    if (step < warmup) return s->lr * (double)(step + 1) / (double)warmup;
    double progress = last > warmup ? (double)(step - warmup) / (double)(last - warmup) : 1.0;
    if (progress > 1.0) progress = 1.0;
    const double floor = s->min_lr_fraction, pi = 3.14159265358979323846;
    return s->lr * (floor + (1.0 - floor) * 0.5 * (1.0 + cos(pi * progress)));
}

double adamw_clip_gradients(float *grads, size_t n, double max_grad_norm) {
    const size_t n_blocks = (n + ADAMW_NORM_BLOCK - 1) / ADAMW_NORM_BLOCK;
    double squares = 0.0;
    /* each block's sum is the same whichever thread computes it; the
     * ordered region adds them into the shared total in block order */
#pragma omp parallel for ordered schedule(static) if (parallel_worth(n))
    for (size_t b = 0; b < n_blocks; b++) {
        const size_t begin = b * ADAMW_NORM_BLOCK, end = begin + ADAMW_NORM_BLOCK < n ? begin + ADAMW_NORM_BLOCK : n;
        double block = 0.0;
        for (size_t k = begin; k < end; k++) block += (double)grads[k] * grads[k];
#pragma omp ordered
        squares += block;
    }
    const double norm = sqrt(squares), coefficient = max_grad_norm / (norm + 1e-6);
    if (coefficient < 1.0) {
        const float scale = (float)coefficient;
#pragma omp parallel for schedule(static) if (parallel_worth(n))
        for (size_t k = 0; k < n; k++) grads[k] *= scale;
    }
    return norm;
}

void adamw_update(const adamw_settings *s, int step, double lr, bool decayed, float *values, const float *grads,
                  float *exp_avg, float *exp_avg_sq, size_t n) {
    const double t = (double)step + 1.0;
    const double correction1 = 1.0 - pow(s->beta1, t), correction2 = 1.0 - pow(s->beta2, t);
    const float decay = (float)(1.0 - lr * s->weight_decay);
    const float beta1 = (float)s->beta1, one_minus_beta1 = (float)(1.0 - s->beta1);
    const float beta2 = (float)s->beta2, one_minus_beta2 = (float)(1.0 - s->beta2);
    const float correction2_sqrt = (float)sqrt(correction2), eps = (float)s->eps;
    const float step_size = (float)(-(lr / correction1));
#pragma omp parallel for schedule(static) if (parallel_worth(n))
    for (size_t k = 0; k < n; k++) {
        float p = values[k];
        if (decayed) p *= decay;
        const float g = grads[k];
        const float m = fmaf(one_minus_beta1, g, exp_avg[k] * beta1);
        const float v = fmaf(one_minus_beta2 * g, g, exp_avg_sq[k] * beta2);
        const float denominator = sqrtf(v) / correction2_sqrt + eps;
        values[k] = p + (step_size * m) / denominator;
        exp_avg[k] = m;
        exp_avg_sq[k] = v;
    }
}
