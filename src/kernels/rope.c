/*
 * rope.c - rotary position embeddings (see rope.h).
 */
#include "kernels/rope.h"

#include <math.h>
#include <stddef.h>

#include "kernels/parallel.h"

void rope_inverse_frequencies(const rope_params *params, float *inv_freq) {
    int R = params->rotary_dim;
    const float pi = 3.14159265358979323846f;
    for (int i = 0; i < R / 2; i++) {
        /* theta ** (arange(0, R, 2).float() / R), all float32 */
        float exponent = (float)(2 * i) / (float)R;
        float value = 1.0f / powf((float)params->theta, exponent);
        if (params->scaling == ROPE_SCALING_LINEAR) value /= (float)params->factor;
        if (params->scaling == ROPE_SCALING_LLAMA3) {
            float factor = (float)params->factor, low = (float)params->low_freq_factor;
            float high = (float)params->high_freq_factor, context = (float)params->original_context;
            float low_freq_wavelen = context / low, high_freq_wavelen = context / high;
            float wavelen = 2.0f * pi / value;
            float scaled = wavelen > low_freq_wavelen ? value / factor : value;
            int medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
            if (medium) {
                float smooth = (context / wavelen - low) / (high - low);
                scaled = (1.0f - smooth) * scaled / factor + smooth * scaled;
            }
            value = scaled;
        }
        inv_freq[i] = value;
    }
}

void rope_tables(const float *inv_freq, int half, int T, float *cos_table, float *sin_table) {
    for (int t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            float angle = (float)t * inv_freq[i];
            cos_table[(size_t)t * half + i] = cosf(angle);
            sin_table[(size_t)t * half + i] = sinf(angle);
        }
}

void rope_apply(float *x, int T, int n_heads, int D, int half, const float *cos_table,
                const float *sin_table) {
#pragma omp parallel for schedule(static) if (parallel_worth((size_t)T * n_heads * D))
    for (int t = 0; t < T; t++) {
        const float *c = cos_table + (size_t)t * half, *s = sin_table + (size_t)t * half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * D;
            for (int i = 0; i < half; i++) {
                float first = v[i], second = v[i + half];
                v[i] = first * c[i] - second * s[i];
                v[i + half] = second * c[i] + first * s[i];
            }
        }
    }
}

void rope_apply_reference(float *x, int T, int n_heads, int D, int half, const float *inv_freq) {
    for (int t = 0; t < T; t++)
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * D;
            for (int i = 0; i < half; i++) {
                double angle = (double)t * inv_freq[i];
                double first = v[i], second = v[i + half];
                v[i] = (float)(first * cos(angle) - second * sin(angle));
                v[i + half] = (float)(second * cos(angle) + first * sin(angle));
            }
        }
}
