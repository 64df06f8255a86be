/*
 * attention_backward.c - causal grouped-query attention forward (saving the
 * log-sum-exp) and backward (recomputing the probabilities), a block of
 * TRAIN_QUERY_BLOCK queries at a time through single-threaded BLAS
 * products: per block the scores of its queries against the keys they can
 * see (the block's first query's first key .. its last query), the entries
 * outside a query's own causal window zeroed.
 */
#include "train/attention_backward.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <omp.h>

#include "kernels/matmul.h"
#include "kernels/vector_exp.h"

/* Queries per block: a block's scores (64 x T floats) stay in the core's
 * caches between their products. */
enum { TRAIN_QUERY_BLOCK = 64 };

/* Floats of one thread's scratch: two tiles of (block, T). */
static size_t thread_scratch(int T) {
    const size_t rows = T < TRAIN_QUERY_BLOCK ? (size_t)T : TRAIN_QUERY_BLOCK;
    return 2 * rows * (size_t)T;
}

size_t attention_train_scratch_floats(int T) {
    return (size_t)omp_get_max_threads() * thread_scratch(T > 0 ? T : 1);
}

/* The first key position query t sees. */
static int first_key(int t, int window) {
    return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
}

/* One block of queries t0 .. t1-1 of head h and the keys k0 .. t1-1 they
 * can see. */
typedef struct query_block {
    int t0, t1, k0;
    int h, kv;
} query_block;

static query_block block_at(const attention_shape *shape, int h, int t0) {
    const int T = shape->T, group = shape->n_heads / shape->n_kv_heads;
    query_block b = {.t0 = t0, .t1 = t0 + TRAIN_QUERY_BLOCK < T ? t0 + TRAIN_QUERY_BLOCK : T, .h = h};
    b.k0 = first_key(t0, shape->window);
    b.kv = h / group;
    return b;
}

/* scores (t1-t0, t1-k0) = scale q_block k_block^T. */
static void block_scores(float *scores, const float *q, const float *k, const attention_shape *shape,
                         const query_block *b) {
    const int D = shape->head_dim, keys = b->t1 - b->k0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b->t1 - b->t0, keys, D, shape->scale,
                q + (size_t)b->t0 * shape->q_stride + b->h * D, shape->q_stride,
                k + (size_t)b->k0 * shape->k_stride + b->kv * D, shape->k_stride, 0.0f, scores, keys);
}

/* The columns of row t of a block's tile that query t sees: [*first, *last]. */
static void row_keys(const attention_shape *shape, const query_block *b, int t, int *first, int *last) {
    *first = first_key(t, shape->window) - b->k0;
    *last = t - b->k0;
}

void attention_forward_train(float *out, float *lse, const float *q, const float *k, const float *v,
                             float *scratch, const attention_shape *shape) {
    assert(shape->past == 0);
    const int T = shape->T, H = shape->n_heads, D = shape->head_dim;
    const int previous_threads = matmul_set_threads(1);
#pragma omp parallel for schedule(static)
    for (int h = 0; h < H; h++) {
        float *scores = scratch + (size_t)omp_get_thread_num() * thread_scratch(T);
        for (int t0 = 0; t0 < T; t0 += TRAIN_QUERY_BLOCK) {
            const query_block b = block_at(shape, h, t0);
            const int keys = b.t1 - b.k0;
            block_scores(scores, q, k, shape, &b);
            for (int t = b.t0; t < b.t1; t++) {
                float *row = scores + (size_t)(t - b.t0) * keys;
                int first, last;
                row_keys(shape, &b, t, &first, &last);
                float top = -INFINITY;
                for (int j = first; j <= last; j++) top = row[j] > top ? row[j] : top;
                for (int j = first; j <= last; j++) row[j] -= top;
                vector_exp(row + first, row + first, (size_t)(last - first + 1));
                float total = 0.0f;
                for (int j = first; j <= last; j++) total += row[j];
                const float inverse = 1.0f / total;
                for (int j = 0; j < keys; j++) row[j] = j >= first && j <= last ? row[j] * inverse : 0.0f;
                lse[(size_t)h * T + t] = top + logf(total);
            }
            /* out_block = p v_block */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b.t1 - b.t0, D, keys, 1.0f, scores, keys,
                        v + (size_t)b.k0 * shape->v_stride + b.kv * D, shape->v_stride, 0.0f,
                        out + (size_t)b.t0 * shape->out_stride + h * D, shape->out_stride);
        }
    }
    matmul_set_threads(previous_threads);
}

/* A dot product of n floats in a fixed order. */
static float dot(const float *a, const float *b, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

void attention_backward(float *d_q, float *d_k, float *d_v, const float *d_out, const float *q, const float *k,
                        const float *v, const float *out, const float *lse, float *scratch,
                        const attention_shape *shape) {
    assert(shape->past == 0);
    const int T = shape->T, H = shape->n_heads, D = shape->head_dim;
    const int n_kv = shape->n_kv_heads, group = H / n_kv;
    const int previous_threads = matmul_set_threads(1);
    /* d_k and d_v of a key/value head gather from every query of its group:
     * one thread per key/value head keeps the sums in a fixed order. */
#pragma omp parallel for schedule(static)
    for (int kv = 0; kv < n_kv; kv++) {
        float *p = scratch + (size_t)omp_get_thread_num() * thread_scratch(T);
        float *d_s = p + thread_scratch(T) / 2;
        for (int h = kv * group; h < (kv + 1) * group; h++) {
            for (int t0 = 0; t0 < T; t0 += TRAIN_QUERY_BLOCK) {
                const query_block b = block_at(shape, h, t0);
                const int queries = b.t1 - b.t0, keys = b.t1 - b.k0;
                const float *d_out_block = d_out + (size_t)b.t0 * shape->out_stride + h * D;
                const float *k_block = k + (size_t)b.k0 * shape->k_stride + kv * D;
                const float *v_block = v + (size_t)b.k0 * shape->v_stride + kv * D;
                const float *q_block = q + (size_t)b.t0 * shape->q_stride + h * D;
                /* p = exp(scores - lse) inside each query's window, 0 outside */
                block_scores(p, q, k, shape, &b);
                for (int t = b.t0; t < b.t1; t++) {
                    float *row = p + (size_t)(t - b.t0) * keys;
                    int first, last;
                    row_keys(shape, &b, t, &first, &last);
                    const float row_lse = lse[(size_t)h * T + t];
                    for (int j = first; j <= last; j++) row[j] -= row_lse;
                    vector_exp(row + first, row + first, (size_t)(last - first + 1));
                    for (int j = 0; j < keys; j++) row[j] = j >= first && j <= last ? row[j] : 0.0f;
                }
                /* dp = d_out_block v_block^T; d_s = p (dp - delta) scale, delta_t = d_out_t . out_t */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, queries, keys, D, 1.0f, d_out_block,
                            shape->out_stride, v_block, shape->v_stride, 0.0f, d_s, keys);
                for (int t = b.t0; t < b.t1; t++) {
                    const float delta = dot(d_out + (size_t)t * shape->out_stride + h * D,
                                            out + (size_t)t * shape->out_stride + h * D, D);
                    const float *p_row = p + (size_t)(t - b.t0) * keys;
                    float *d_row = d_s + (size_t)(t - b.t0) * keys;
                    for (int j = 0; j < keys; j++) d_row[j] = p_row[j] * (d_row[j] - delta) * shape->scale;
                }
                /* d_v_block += p^T d_out_block; d_k_block += d_s^T q_block; d_q_block += d_s k_block */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, keys, D, queries, 1.0f, p, keys, d_out_block,
                            shape->out_stride, 1.0f, d_v + (size_t)b.k0 * shape->v_stride + kv * D, shape->v_stride);
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, keys, D, queries, 1.0f, d_s, keys, q_block,
                            shape->q_stride, 1.0f, d_k + (size_t)b.k0 * shape->k_stride + kv * D, shape->k_stride);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, queries, D, keys, 1.0f, d_s, keys, k_block,
                            shape->k_stride, 1.0f, d_q + (size_t)b.t0 * shape->q_stride + h * D, shape->q_stride);
            }
        }
    }
    matmul_set_threads(previous_threads);
}
