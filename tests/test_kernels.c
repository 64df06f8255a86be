/*
 * test_kernels.c - every fast kernel against its reference twin, and the
 * activations and layer norm against hand-computed values.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/norms.h"
#include "kernels/softmax.h"
#include "test_support.h"

static float random_uniform(unsigned *state) {
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) & 0xFFFF) / 65535.0f * 2.0f - 1.0f;
}

static void fill(float *x, size_t n, unsigned *state) {
    for (size_t i = 0; i < n; i++) x[i] = random_uniform(state);
}

static void check_matmul(void) {
    unsigned state = 7;
    const int M = 13, K = 37, N = 29;
    float in[13 * 37], weight[37 * 29], bias[29], fast[13 * 29], slow[13 * 29];
    fill(in, sizeof in / sizeof in[0], &state);
    fill(weight, sizeof weight / sizeof weight[0], &state);
    fill(bias, N, &state);
    for (int layout = 0; layout < 2; layout++) {
        for (int use_bias = 0; use_bias < 2; use_bias++) {
            for (int accumulate = 0; accumulate < 2; accumulate++) {
                fill(fast, (size_t)M * N, &state);
                for (int i = 0; i < M * N; i++) slow[i] = fast[i];
                matmul(fast, in, weight, use_bias ? bias : NULL, M, K, N, (matmul_layout)layout, accumulate);
                matmul_reference(slow, in, weight, use_bias ? bias : NULL, M, K, N, (matmul_layout)layout,
                                 accumulate);
                double diff = test_max_abs_diff(fast, slow, (size_t)M * N);
                CHECK_MSG(diff < 1e-5, "layout %d bias %d accumulate %d: %g", layout, use_bias, accumulate, diff);
            }
        }
    }
    /* A 2x2 by hand: [1 2; 3 4] x [5 6; 7 8] = [19 22; 43 50] */
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4];
    matmul(c, a, b, NULL, 2, 2, 2, MATMUL_WEIGHT_IN_OUT, false);
    CHECK(c[0] == 19 && c[1] == 22 && c[2] == 43 && c[3] == 50);
    /* out-in layout: weight rows are outputs: [1 2; 3 4] x [5 6; 7 8]^T = [17 23; 39 53] */
    matmul(c, a, b, NULL, 2, 2, 2, MATMUL_WEIGHT_OUT_IN, false);
    CHECK(c[0] == 17 && c[1] == 23 && c[2] == 39 && c[3] == 53);
}

/* Wide enough that the columns are shared among threads: the same bytes
 * with 1 and 2 threads, and the reference's values. */
static void check_matmul_threads(void) {
    unsigned state = 3;
    const int M = 5, K = 70, N = 333;
    float *in = malloc((size_t)M * K * sizeof(float)), *weight = malloc((size_t)K * N * sizeof(float));
    float *one = malloc((size_t)M * N * sizeof(float)), *two = malloc((size_t)M * N * sizeof(float));
    float *slow = malloc((size_t)M * N * sizeof(float)), bias[333];
    fill(in, (size_t)M * K, &state);
    fill(weight, (size_t)K * N, &state);
    fill(bias, N, &state);
    for (int layout = 0; layout < 2; layout++) {
        int saved = omp_get_max_threads();
        omp_set_num_threads(1);
        matmul(one, in, weight, bias, M, K, N, (matmul_layout)layout, false);
        omp_set_num_threads(2);
        matmul(two, in, weight, bias, M, K, N, (matmul_layout)layout, false);
        omp_set_num_threads(saved);
        matmul_reference(slow, in, weight, bias, M, K, N, (matmul_layout)layout, false);
        CHECK(memcmp(one, two, (size_t)M * N * sizeof(float)) == 0);
        CHECK(test_max_abs_diff(two, slow, (size_t)M * N) < 1e-5);
    }
    free(in), free(weight), free(one), free(two), free(slow);
}

static void check_attention(void) {
    unsigned state = 11;
    enum { T = 9, C = 12, H = 3 };
    float qkv[T * 3 * C], fast[T * C], slow[T * C];
    float *scores = malloc(attention_scratch_floats(T) * sizeof *scores);
    fill(qkv, sizeof qkv / sizeof qkv[0], &state);
    attention_causal(fast, qkv, scores, T, C, H, 0.5f);
    free(scores);
    attention_causal_reference(slow, qkv, T, C, H, 0.5f);
    CHECK(test_max_abs_diff(fast, slow, T * C) < 1e-5);
    /* Position 0 can only attend to itself: its output is its own value. */
    for (int c = 0; c < C; c++) CHECK(fabsf(fast[c] - qkv[2 * C + c]) < 1e-6f);
}

/* Longer than one query block, so blocks and their causal masks meet. */
static void check_attention_blocks(void) {
    unsigned state = 13;
    const int T = ATTENTION_QUERY_BLOCK + 37, C = 8, H = 2;
    float *qkv = malloc((size_t)T * 3 * C * sizeof(float));
    float *fast = malloc((size_t)T * C * sizeof(float)), *slow = malloc((size_t)T * C * sizeof(float));
    float *scores = malloc(attention_scratch_floats(T) * sizeof(float));
    fill(qkv, (size_t)T * 3 * C, &state);
    CHECK(attention_scratch_floats(T) == (size_t)omp_get_max_threads() * ATTENTION_QUERY_BLOCK * T);
    attention_causal(fast, qkv, scores, T, C, H, 0.7f);
    attention_causal_reference(slow, qkv, T, C, H, 0.7f);
    CHECK(test_max_abs_diff(fast, slow, (size_t)T * C) < 1e-5);
    free(qkv), free(fast), free(slow), free(scores);
}

static void check_activations(void) {
    activation_kind kind;
    CHECK(activation_from_name("gelu_new", &kind) == 0 && kind == ACTIVATION_GELU_TANH);
    CHECK(activation_from_name("gelu", &kind) == 0 && kind == ACTIVATION_GELU_ERF);
    CHECK(activation_from_name("relu", &kind) == 0 && kind == ACTIVATION_RELU);
    CHECK(activation_from_name("swish", &kind) != 0);
    /* Hand-computed: gelu_erf(1) = 0.5 (1 + erf(1/sqrt 2)) = 0.8413447;
     * gelu_tanh(1) = 0.5 (1 + tanh(0.7978846 x 1.044715)) = 0.8411920. */
    float x[3] = {1.0f, -1.0f, 0.0f};
    activation_apply(ACTIVATION_GELU_ERF, x, 3);
    CHECK(fabsf(x[0] - 0.8413447f) < 1e-6f && fabsf(x[1] + 0.1586553f) < 1e-6f && x[2] == 0.0f);
    float y[3] = {1.0f, -1.0f, 0.0f};
    activation_apply(ACTIVATION_GELU_TANH, y, 3);
    CHECK(fabsf(y[0] - 0.8411920f) < 1e-6f && fabsf(y[1] + 0.1588080f) < 1e-6f);
    float z[3] = {2.0f, -3.0f, 0.0f};
    activation_apply(ACTIVATION_RELU, z, 3);
    CHECK(z[0] == 2.0f && z[1] == 0.0f && z[2] == 0.0f);
}

static void check_layer_norm(void) {
    /* [1 2 3 4]: mean 2.5, variance 1.25; (x - 2.5) / sqrt(1.25 + eps) */
    float x[4] = {1, 2, 3, 4}, weight[4] = {1, 1, 2, 1}, bias[4] = {0, 0, 0, 1}, y[4];
    layer_norm(y, x, weight, bias, 1, 4, 1e-5f);
    double s = sqrt(1.25 + 1e-5);
    CHECK(fabs(y[0] - (-1.5 / s)) < 1e-6 && fabs(y[1] - (-0.5 / s)) < 1e-6);
    CHECK(fabs(y[2] - (2 * 0.5 / s)) < 1e-6 && fabs(y[3] - (1.5 / s + 1)) < 1e-6);
}

static void check_softmax(void) {
    float logits[3] = {1000.0f, 1000.0f, -1000.0f}, probs[3];
    softmax_row(logits, probs, 3, 1.0f);
    CHECK(probs[0] == 0.5f && probs[1] == 0.5f && probs[2] == 0.0f);
    float small[2] = {0.0f, logf(3.0f)};
    softmax_row(small, probs, 2, 1.0f);
    CHECK(fabsf(probs[0] - 0.25f) < 1e-7f && fabsf(probs[1] - 0.75f) < 1e-7f);
    softmax_row(small, probs, 2, 2.0f); /* logits / 2: 1 : sqrt 3 */
    CHECK(fabsf(probs[0] - 1.0f / (1.0f + sqrtf(3.0f))) < 1e-6f);
}

int main(void) {
    check_matmul();
    check_matmul_threads();
    check_attention();
    check_attention_blocks();
    check_activations();
    check_layer_norm();
    check_softmax();
    return test_finish("test_kernels");
}
