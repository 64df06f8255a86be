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
#include "util/cpu_features.h"
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

/* The scalars of one step, as PyTorch rounds them to float32. */
typedef struct adamw_scalars {
    float decay, beta1, one_minus_beta1, beta2, one_minus_beta2, correction2_sqrt, eps, step_size;
} adamw_scalars;

/* Elements [begin, end) of one step, one at a time. */
static inline void update_scalar(const adamw_scalars *c, bool decayed, float *values, const float *grads,
                                 float *exp_avg, float *exp_avg_sq, size_t begin, size_t end) {
    for (size_t k = begin; k < end; k++) {
        float p = values[k];
        if (decayed) p *= c->decay;
        const float g = grads[k];
        const float m = fmaf(c->one_minus_beta1, g, exp_avg[k] * c->beta1);
        const float v = fmaf(c->one_minus_beta2 * g, g, exp_avg_sq[k] * c->beta2);
        const float denominator = sqrtf(v) / c->correction2_sqrt + c->eps;
        values[k] = p + (c->step_size * m) / denominator;
        exp_avg[k] = m;
        exp_avg_sq[k] = v;
    }
}

/* ------------------------------------------------------------------------
 * AVX2 body: the same operations on eight elements at once (each one
 * correctly rounded, so the same bits as the scalar body)
 * ---------------------------------------------------------------------- */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ADAMW_AVX2 __attribute__((target("avx2,fma")))

ADAMW_AVX2 static void update_avx2(const adamw_scalars *c, bool decayed, float *values, const float *grads,
                                   float *exp_avg, float *exp_avg_sq, size_t begin, size_t end) {
    const __m256 decay = _mm256_set1_ps(decayed ? c->decay : 1.0f);
    const __m256 beta1 = _mm256_set1_ps(c->beta1), one_minus_beta1 = _mm256_set1_ps(c->one_minus_beta1);
    const __m256 beta2 = _mm256_set1_ps(c->beta2), one_minus_beta2 = _mm256_set1_ps(c->one_minus_beta2);
    const __m256 correction2_sqrt = _mm256_set1_ps(c->correction2_sqrt), eps = _mm256_set1_ps(c->eps);
    const __m256 step_size = _mm256_set1_ps(c->step_size);
    size_t k = begin;
    for (; k + 8 <= end; k += 8) {
        /* p * 1 is p: the undecayed tensors take the same path */
        const __m256 p = _mm256_mul_ps(_mm256_loadu_ps(values + k), decay);
        const __m256 g = _mm256_loadu_ps(grads + k);
        const __m256 m = _mm256_fmadd_ps(one_minus_beta1, g, _mm256_mul_ps(_mm256_loadu_ps(exp_avg + k), beta1));
        const __m256 v = _mm256_fmadd_ps(_mm256_mul_ps(one_minus_beta2, g), g,
                                         _mm256_mul_ps(_mm256_loadu_ps(exp_avg_sq + k), beta2));
        const __m256 denominator = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(v), correction2_sqrt), eps);
        _mm256_storeu_ps(values + k, _mm256_add_ps(p, _mm256_div_ps(_mm256_mul_ps(step_size, m), denominator)));
        _mm256_storeu_ps(exp_avg + k, m);
        _mm256_storeu_ps(exp_avg_sq + k, v);
    }
    update_scalar(c, decayed, values, grads, exp_avg, exp_avg_sq, k, end);
}
#endif

/* Elements per piece of work a thread takes. */
enum { ADAMW_UPDATE_BLOCK = 1 << 14 };

void adamw_update(const adamw_settings *s, int step, double lr, bool decayed, float *values, const float *grads,
                  float *exp_avg, float *exp_avg_sq, size_t n) {
    const double t = (double)step + 1.0;
    const double correction1 = 1.0 - pow(s->beta1, t), correction2 = 1.0 - pow(s->beta2, t);
    const adamw_scalars c = {.decay = (float)(1.0 - lr * s->weight_decay),
                             .beta1 = (float)s->beta1,
                             .one_minus_beta1 = (float)(1.0 - s->beta1),
                             .beta2 = (float)s->beta2,
                             .one_minus_beta2 = (float)(1.0 - s->beta2),
                             .correction2_sqrt = (float)sqrt(correction2),
                             .eps = (float)s->eps,
                             .step_size = (float)(-(lr / correction1))};
#if defined(__x86_64__) || defined(__i386__)
    const bool vector = cpu_features_level() >= CPU_LEVEL_AVX2;
#else
    const bool vector = false;
#endif
    const size_t n_blocks = (n + ADAMW_UPDATE_BLOCK - 1) / ADAMW_UPDATE_BLOCK;
#pragma omp parallel for schedule(static) if (parallel_worth(n))
    for (size_t b = 0; b < n_blocks; b++) {
        const size_t begin = b * ADAMW_UPDATE_BLOCK, end = begin + ADAMW_UPDATE_BLOCK < n ? begin + ADAMW_UPDATE_BLOCK : n;
#if defined(__x86_64__) || defined(__i386__)
        if (vector) {
            update_avx2(&c, decayed, values, grads, exp_avg, exp_avg_sq, begin, end);
            continue;
        }
#endif
        (void)vector;
        update_scalar(&c, decayed, values, grads, exp_avg, exp_avg_sq, begin, end);
    }
}
