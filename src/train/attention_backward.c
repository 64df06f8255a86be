/*
 * attention_backward.c - causal grouped-query attention forward (saving the
 * log-sum-exp) and backward (recomputing the probabilities row by row).
 */
#include "train/attention_backward.h"

#include <assert.h>
#include <math.h>
#include <omp.h>

size_t attention_train_scratch_floats(int T) {
    return (size_t)omp_get_max_threads() * (size_t)(T > 0 ? T : 1);
}

/* The first key position query t sees. */
static int first_key(int t, int window) {
    return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
}

static float dot(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

void attention_forward_train(float *out, float *lse, const float *q, const float *k, const float *v,
                             float *scratch, const attention_shape *shape) {
    assert(shape->past == 0);
    const int T = shape->T, H = shape->n_heads, D = shape->head_dim;
    const int group = H / shape->n_kv_heads;
    const float scale = shape->scale;
#pragma omp parallel for schedule(static)
    for (int h = 0; h < H; h++) {
        float *scores = scratch + (size_t)omp_get_thread_num() * T;
        const int kv = h / group;
        for (int t = 0; t < T; t++) {
            const float *qt = q + (size_t)t * shape->q_stride + h * D;
            int start = first_key(t, shape->window);
            float top = -INFINITY;
            for (int j = start; j <= t; j++) {
                scores[j] = dot(qt, k + (size_t)j * shape->k_stride + kv * D, D) * scale;
                if (scores[j] > top) top = scores[j];
            }
            float total = 0.0f;
            for (int j = start; j <= t; j++) {
                scores[j] = expf(scores[j] - top);
                total += scores[j];
            }
            float inverse = 1.0f / total;
            float *ot = out + (size_t)t * shape->out_stride + h * D;
            for (int d = 0; d < D; d++) ot[d] = 0.0f;
            for (int j = start; j <= t; j++) {
                float p = scores[j] * inverse;
                const float *vj = v + (size_t)j * shape->v_stride + kv * D;
                for (int d = 0; d < D; d++) ot[d] += p * vj[d];
            }
            lse[(size_t)h * T + t] = top + logf(total);
        }
    }
}

void attention_backward(float *d_q, float *d_k, float *d_v, const float *d_out, const float *q, const float *k,
                        const float *v, const float *out, const float *lse, float *scratch,
                        const attention_shape *shape) {
    assert(shape->past == 0);
    const int T = shape->T, H = shape->n_heads, D = shape->head_dim;
    const int n_kv = shape->n_kv_heads, group = H / n_kv;
    const float scale = shape->scale;
    /* d_k and d_v of a key/value head gather from every query of its group:
     * one thread per key/value head keeps the sums in a fixed order. */
#pragma omp parallel for schedule(static)
    for (int kv = 0; kv < n_kv; kv++) {
        float *d_scores = scratch + (size_t)omp_get_thread_num() * T;
        for (int h = kv * group; h < (kv + 1) * group; h++) {
            for (int t = 0; t < T; t++) {
                const float *qt = q + (size_t)t * shape->q_stride + h * D;
                const float *dot_ = d_out + (size_t)t * shape->out_stride + h * D;
                const float *ot = out + (size_t)t * shape->out_stride + h * D;
                float row_lse = lse[(size_t)h * T + t];
                float delta = dot(dot_, ot, D); /* sum_j p_j dP_j */
                int start = first_key(t, shape->window);
                for (int j = start; j <= t; j++) {
                    const float *kj = k + (size_t)j * shape->k_stride + kv * D;
                    const float *vj = v + (size_t)j * shape->v_stride + kv * D;
                    float p = expf(dot(qt, kj, D) * scale - row_lse);
                    float dp = dot(dot_, vj, D);
                    d_scores[j] = p * (dp - delta) * scale;
                    float *dvj = d_v + (size_t)j * shape->v_stride + kv * D;
                    for (int d = 0; d < D; d++) dvj[d] += p * dot_[d];
                }
                float *dqt = d_q + (size_t)t * shape->q_stride + h * D;
                for (int j = start; j <= t; j++) {
                    const float *kj = k + (size_t)j * shape->k_stride + kv * D;
                    float *dkj = d_k + (size_t)j * shape->k_stride + kv * D;
                    float ds = d_scores[j];
                    for (int d = 0; d < D; d++) {
                        dqt[d] += ds * kj[d];
                        dkj[d] += ds * qt[d];
                    }
                }
            }
        }
    }
}
