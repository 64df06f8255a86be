/*
 * test_kernels.c - every fast kernel against its reference twin, and the
 * activations and layer norm against hand-computed values.
 */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activations.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/norms.h"
#include "kernels/rope.h"
#include "kernels/softmax.h"
#include "kernels/vector_exp.h"
#include "util/cpu_features.h"
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

/* Products on slices of larger matrices (rows further apart than they are
 * wide), both layouts, against the reference and a product by hand; the
 * floats around the slice of out stay as they were. */
static void check_matmul_strided(void) {
    unsigned state = 5;
    enum { M = 7, K = 19, N = 11, LDI = K + 5, LDO = N + 3, PAD = 4 };
    float in[M * LDI], weight_in_out[K * (N + PAD)], weight_out_in[N * (K + PAD)];
    float fast[M * LDO], slow[M * LDO];
    fill(in, sizeof in / sizeof in[0], &state);
    fill(weight_in_out, sizeof weight_in_out / sizeof weight_in_out[0], &state);
    fill(weight_out_in, sizeof weight_out_in / sizeof weight_out_in[0], &state);
    for (int layout = 0; layout < 2; layout++) {
        const float *weight = layout == MATMUL_WEIGHT_IN_OUT ? weight_in_out : weight_out_in;
        const int ldw = layout == MATMUL_WEIGHT_IN_OUT ? N + PAD : K + PAD;
        for (int i = 0; i < M * LDO; i++) fast[i] = slow[i] = -3.0f;
        matmul_strided(fast, LDO, in, LDI, weight, ldw, M, K, N, (matmul_layout)layout, 0.25f);
        matmul_strided_reference(slow, LDO, in, LDI, weight, ldw, M, K, N, (matmul_layout)layout, 0.25f);
        CHECK_MSG(test_max_abs_diff(fast, slow, M * LDO) < 1e-6, "layout %d: %g", layout,
                  test_max_abs_diff(fast, slow, M * LDO));
        bool kept = true;
        for (int m = 0; m < M; m++)
            for (int n = N; n < LDO; n++) kept = kept && fast[m * LDO + n] == -3.0f && slow[m * LDO + n] == -3.0f;
        CHECK_MSG(kept, "layout %d wrote past the slice", layout);
    }
    /* By hand, a 2x2 slice (rows 3 apart) of [1 2 x; 3 4 x] and weight
     * [5 6 x; 7 8 x] (rows 3 apart), scaled by 0.5: x W = [19 22; 43 50],
     * x W^T = [17 23; 39 53]. */
    const float a[6] = {1, 2, 99, 3, 4, 99}, b[6] = {5, 6, 99, 7, 8, 99};
    float c[4];
    matmul_strided(c, 2, a, 3, b, 3, 2, 2, 2, MATMUL_WEIGHT_IN_OUT, 0.5f);
    CHECK(c[0] == 9.5f && c[1] == 11.0f && c[2] == 21.5f && c[3] == 25.0f);
    matmul_strided(c, 2, a, 3, b, 3, 2, 2, 2, MATMUL_WEIGHT_OUT_IN, 0.5f);
    CHECK(c[0] == 8.5f && c[1] == 11.5f && c[2] == 19.5f && c[3] == 26.5f);
    matmul_strided_reference(c, 2, a, 3, b, 3, 2, 2, 2, MATMUL_WEIGHT_OUT_IN, 0.5f);
    CHECK(c[0] == 8.5f && c[1] == 11.5f && c[2] == 19.5f && c[3] == 26.5f);
}

/* q, k and v in three matrices of their own with rows further apart than
 * they are wide, and out likewise: the same values as the packed qkv run
 * through the reference, and out's padding untouched. */
static void check_attention_heads(void) {
    unsigned state = 17;
    enum { T = 11, H = 3, D = 4, C = H * D, LDQ = C + 1, LDK = C + 6, LDV = C + 3, LDO = C + 2 };
    float qkv[T * 3 * C], q[T * LDQ], k[T * LDK], v[T * LDV], fast[T * LDO], slow[T * C];
    fill(qkv, sizeof qkv / sizeof qkv[0], &state);
    fill(q, sizeof q / sizeof q[0], &state);
    fill(k, sizeof k / sizeof k[0], &state);
    fill(v, sizeof v / sizeof v[0], &state);
    for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++) {
            q[t * LDQ + c] = qkv[t * 3 * C + c];
            k[t * LDK + c] = qkv[t * 3 * C + C + c];
            v[t * LDV + c] = qkv[t * 3 * C + 2 * C + c];
        }
    for (int i = 0; i < T * LDO; i++) fast[i] = 42.0f;
    float *scores = malloc(attention_scratch_floats(T) * sizeof *scores);
    attention_causal_heads(fast, LDO, q, LDQ, k, LDK, v, LDV, scores, T, H, D, 0.5f);
    free(scores);
    attention_causal_reference(slow, qkv, T, C, H, 0.5f);
    double worst = 0.0;
    bool kept = true;
    for (int t = 0; t < T; t++) {
        for (int c = 0; c < C; c++) {
            double diff = fabs((double)fast[t * LDO + c] - slow[t * C + c]);
            worst = diff > worst || diff != diff ? diff : worst;
        }
        kept = kept && fast[t * LDO + C] == 42.0f && fast[t * LDO + C + 1] == 42.0f;
    }
    CHECK_MSG(worst < 1e-5, "strided heads differ from the reference by %g", worst);
    CHECK(kept);
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
    CHECK(activation_from_name("silu", &kind) == 0 && kind == ACTIVATION_SILU);
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
    /* silu(1) = 1 / (1 + e^-1) = 0.7310586, silu(-2) = -2 / (1 + e^2) = -0.2384058 */
    float w[3] = {1.0f, -2.0f, 0.0f};
    activation_apply(ACTIVATION_SILU, w, 3);
    CHECK(fabsf(w[0] - 0.7310586f) < 1e-6f && fabsf(w[1] + 0.2384058f) < 1e-6f && w[2] == 0.0f);
}

/* The gated MLP's product against its twin, over more than one block. */
static void check_gated(void) {
    unsigned state = 17;
    enum { N = 1000 };
    float gate[N], up[N], fast[N], slow[N];
    fill(gate, N, &state);
    fill(up, N, &state);
    for (int kind = ACTIVATION_GELU_TANH; kind <= ACTIVATION_SILU; kind++) {
        memcpy(fast, gate, sizeof gate);
        activation_gated((activation_kind)kind, fast, up, N);
        memcpy(slow, gate, sizeof gate);
        activation_apply_reference((activation_kind)kind, slow, N);
        for (int i = 0; i < N; i++) slow[i] *= up[i];
        CHECK_MSG(test_max_abs_diff(fast, slow, N) < 1e-6, "gated activation %d", kind);
    }
}

/* RMSNorm by hand: [1 2 3 4] has mean square 7.5. */
static void check_rms_norm(void) {
    float x[4] = {1, 2, 3, 4}, weight[4] = {1, 2, 0.5f, -1}, y[4], z[4];
    rms_norm(y, x, weight, 0.0f, 1, 4, 1e-6f);
    double r = 1.0 / sqrt(7.5 + 1e-6);
    CHECK(fabs(y[0] - r) < 1e-6 && fabs(y[1] - 4 * r) < 1e-6 && fabs(y[2] - 1.5 * r) < 1e-6 &&
          fabs(y[3] + 4 * r) < 1e-6);
    rms_norm(z, x, weight, 1.0f, 1, 4, 1e-6f); /* Gemma: (1 + w) */
    CHECK(fabs(z[0] - 2 * r) < 1e-6 && fabs(z[1] - 6 * r) < 1e-6 && fabs(z[3] - 0.0) < 1e-6);
    unsigned state = 19;
    float in[5 * 33], w[33], fast[5 * 33], slow[5 * 33];
    fill(in, sizeof in / sizeof in[0], &state);
    fill(w, 33, &state);
    rms_norm(fast, in, w, 1.0f, 5, 33, 1e-5f);
    rms_norm_reference(slow, in, w, 1.0f, 5, 33, 1e-5f);
    CHECK(test_max_abs_diff(fast, slow, 5 * 33) < 1e-6);
}

/* Rotary embeddings: frequencies by hand for each scaling, a rotation by
 * hand, and the table-driven kernel against its twin with a partial width. */
static void check_rope(void) {
    rope_params params = {.rotary_dim = 4, .theta = 10000.0, .scaling = ROPE_SCALING_DEFAULT};
    float inv_freq[8];
    rope_inverse_frequencies(&params, inv_freq); /* 10000^(-0/4), 10000^(-2/4) */
    CHECK(inv_freq[0] == 1.0f && fabsf(inv_freq[1] - 0.01f) < 1e-9f);
    params.scaling = ROPE_SCALING_LINEAR, params.factor = 4.0;
    rope_inverse_frequencies(&params, inv_freq);
    CHECK(inv_freq[0] == 0.25f && fabsf(inv_freq[1] - 0.0025f) < 1e-9f);
    /* llama3 with context 8192, factors 8, 1, 4: wavelengths 2 pi / f. With
     * R = 16 and theta 10000 the frequencies are 10000^(-i/8): wavelength
     * 2 pi 10000^(i/8): i = 0..3 below 2048 (kept), i = 7 (2 pi 3162 =
     * 19869 > 8192) divided by 8, i = 5 and 6 in the smooth band. */
    params = (rope_params){.rotary_dim = 16, .theta = 10000.0, .scaling = ROPE_SCALING_LLAMA3, .factor = 8.0,
                           .low_freq_factor = 1.0, .high_freq_factor = 4.0, .original_context = 8192.0};
    rope_inverse_frequencies(&params, inv_freq);
    for (int i = 0; i < 8; i++) {
        double f = pow(10000.0, -i / 8.0), wavelen = 2 * 3.14159265358979323846 / f, expected = f;
        if (wavelen > 8192.0) expected = f / 8.0;
        else if (wavelen >= 2048.0) {
            double smooth = (8192.0 / wavelen - 1.0) / 3.0;
            expected = (1 - smooth) * f / 8.0 + smooth * f;
        }
        CHECK_MSG(fabs(inv_freq[i] - expected) <= 1e-6 * expected, "llama3 frequency %d: %g vs %g", i,
                  inv_freq[i], expected);
    }
    /* One pair (D = 2) at position 1 turns by 1 radian. */
    float one[4] = {1.0f, 0.0f, 1.0f, 0.0f}, freq1 = 1.0f, cos_t[2], sin_t[2];
    rope_tables(&freq1, 1, 2, cos_t, sin_t);
    rope_apply(one, 2, 1, 2, 1, cos_t, sin_t);
    CHECK(one[0] == 1.0f && one[1] == 0.0f); /* position 0 */
    CHECK(fabsf(one[2] - cosf(1.0f)) < 1e-7f && fabsf(one[3] - sinf(1.0f)) < 1e-7f);
    /* T 7, 3 heads of D 10, rotary width 6 (the last 4 dimensions pass). */
    enum { T = 7, H = 3, D = 10, HALF = 3 };
    unsigned state = 23;
    float x[T * H * D], fast[T * H * D], slow[T * H * D], cos_table[T * HALF], sin_table[T * HALF];
    fill(x, sizeof x / sizeof x[0], &state);
    params = (rope_params){.rotary_dim = 2 * HALF, .theta = 10000.0, .scaling = ROPE_SCALING_DEFAULT};
    rope_inverse_frequencies(&params, inv_freq);
    rope_tables(inv_freq, HALF, T, cos_table, sin_table);
    memcpy(fast, x, sizeof x);
    memcpy(slow, x, sizeof x);
    rope_apply(fast, T, H, D, HALF, cos_table, sin_table);
    rope_apply_reference(slow, T, H, D, HALF, inv_freq);
    CHECK(test_max_abs_diff(fast, slow, sizeof x / sizeof x[0]) < 1e-6);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++)
            for (int d = 2 * HALF; d < D; d++) CHECK(fast[(t * H + h) * D + d] == x[(t * H + h) * D + d]);
}

/* Grouped-query attention (6 query heads over 2 key/value heads, D wider
 * than C / H would be) against its twin, with and without a window; a
 * window of 1 makes every output its own position's value. */
static void check_grouped_attention(void) {
    enum { T = 300, H = 6, KV = 2, D = 5 };
    unsigned state = 29;
    float *q = malloc(sizeof(float) * T * H * D), *k = malloc(sizeof(float) * T * KV * D);
    float *v = malloc(sizeof(float) * T * KV * D), *fast = malloc(sizeof(float) * T * H * D);
    float *slow = malloc(sizeof(float) * T * H * D), *scores = malloc(attention_scratch_floats(T) * sizeof(float));
    fill(q, (size_t)T * H * D, &state);
    fill(k, (size_t)T * KV * D, &state);
    fill(v, (size_t)T * KV * D, &state);
    int windows[3] = {0, 7, 1};
    for (int w = 0; w < 3; w++) {
        attention_shape shape = {.T = T, .n_heads = H, .n_kv_heads = KV, .head_dim = D, .q_stride = H * D,
                                 .k_stride = KV * D, .v_stride = KV * D, .out_stride = H * D, .scale = 0.6f,
                                 .window = windows[w]};
        attention_grouped(fast, q, k, v, scores, &shape);
        attention_grouped_reference(slow, q, k, v, &shape);
        CHECK_MSG(test_max_abs_diff(fast, slow, (size_t)T * H * D) < 1e-5, "window %d", windows[w]);
    }
    /* window 1: head h's output is value head h / 3 at the same position */
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++)
            for (int d = 0; d < D; d++)
                CHECK(fabsf(fast[((size_t)t * H + h) * D + d] - v[((size_t)t * KV + h / 3) * D + d]) < 1e-6f);
    free(q), free(k), free(v), free(fast), free(slow), free(scores);
}

/* ------------------------------------------------------------------------
 * vector_exp, every body the CPU has
 * ---------------------------------------------------------------------- */


static float float_from_bits(uint32_t bits) {
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* Whether y is e^x within the documented bounds: relative where e^x is a
 * normal float, absolute 1e-44 where it is subnormal or rounds to 0, inf
 * beyond FLT_MAX (or FLT_MAX within the bound of it), NaN for NaN.
 * *relative gets the relative error where it applies, else 0. */
static bool exp_close(float x, float y, double *relative) {
    const double bound = VECTOR_EXP_MAX_RELATIVE_ERROR;
    double want = exp((double)x);
    *relative = 0.0;
    if (isnan(x)) return isnan(y);
    if (isnan(y)) return false;
    if (want > FLT_MAX) return y == INFINITY || (y == FLT_MAX && want <= FLT_MAX * (1.0 + bound));
    if (y == INFINITY) return want >= FLT_MAX * (1.0 - bound);
    if (want < FLT_MIN) return fabs(y - want) <= 1e-44 && y >= 0.0f;
    *relative = fabs(y - want) / want;
    return *relative <= bound;
}

/* Checks vector_exp over x (n) in place of a copy; returns the largest
 * relative error and counts the failures (the first few are reported). */
static double check_exp_values(const float *x, size_t n, const char *body, int *failures) {
    float *y = malloc(n * sizeof *y);
    double worst = 0.0;
    vector_exp(x, y, n);
    for (size_t i = 0; i < n; i++) {
        double relative;
        bool close = exp_close(x[i], y[i], &relative);
        if (relative > worst) worst = relative;
        if (!close && (*failures)++ < 10)
            fprintf(stderr, "vector_exp %s: e^%.9g = %.9g, want %.9g\n", body, x[i], y[i], exp((double)x[i]));
    }
    free(y);
    return worst;
}

/* The body of this run's level (LOUPE_CPU: ctest runs this program once per level). */
static void check_vector_exp(void) {
    const char *name = cpu_level_name(cpu_features_level());
    int failures = 0;
    double worst = 0.0, error;

    /* Every 1009th bit pattern: the whole float range, both signs, NaNs and
     * subnormal inputs included. */
    const size_t stride = 1009, sweep = ((size_t)UINT32_MAX + 1) / stride + 1;
    float *x = malloc(sweep * sizeof *x);
    for (size_t i = 0; i < sweep; i++) x[i] = float_from_bits((uint32_t)(i * stride));
    error = check_exp_values(x, sweep, name, &failures);
    worst = error > worst ? error : worst;

    /* Densely over the range where e^x is neither 0 nor inf. */
    const size_t dense = 1u << 21;
    for (size_t i = 0; i < dense; i++) x[i] = -105.0f + 194.0f * (float)i / (float)dense;
    error = check_exp_values(x, dense, name, &failures);
    worst = error > worst ? error : worst;
    free(x);

    /* The specials and the edges of the range, exactly. */
    const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 88.72f, 88.7228f, 88.73f, 89.0f,
                             -87.3f, -87.33f, -100.0f, -103.9f, -103.97f, -103.98f, -104.0f, -150.0f,
                             1e-30f, -1e-30f, FLT_MIN, FLT_TRUE_MIN, -FLT_TRUE_MIN, FLT_MAX, -FLT_MAX,
                             0.34657359f, -0.34657359f, 0.6931472f, 1.0f, -1.0f};
    size_t n_special = sizeof special / sizeof special[0];
    error = check_exp_values(special, n_special, name, &failures);
    worst = error > worst ? error : worst;
    float y[sizeof special / sizeof special[0]];
    vector_exp(special, y, n_special);
    CHECK_MSG(y[0] == 1.0f && y[1] == 1.0f, "%s: e^0 = %.9g, e^-0 = %.9g", name, y[0], y[1]);
    CHECK_MSG(y[2] == INFINITY && y[3] == 0.0f && isnan(y[4]) && isnan(y[5]), "%s: e^+-inf, e^NaN", name);
    CHECK_MSG(isfinite(y[6]) && y[6] > 3.3e38f, "%s: e^88.72 = %.9g", name, y[6]);
    CHECK_MSG(y[8] == INFINITY && y[9] == INFINITY, "%s: e^88.73 = %.9g", name, y[8]);
    CHECK_MSG(y[10] > 0.0f && y[10] >= FLT_MIN * 0.5f, "%s: e^-87.3 = %.9g", name, y[10]);
    CHECK_MSG(y[12] > 0.0f && y[12] < FLT_MIN && y[13] > 0.0f, "%s: subnormal e^-100 = %.9g", name, y[12]);
    CHECK_MSG(y[15] == 0.0f && y[16] == 0.0f && !signbit(y[16]) && y[17] == 0.0f, "%s: e^-104 = %.9g", name,
              y[16]);
    CHECK_MSG(y[18] == 1.0f && y[19] == 1.0f && y[20] == 1.0f && y[21] == 1.0f && y[22] == 1.0f, "%s: e^tiny",
              name);
    CHECK_MSG(y[23] == INFINITY && y[24] == 0.0f, "%s: e^+-FLT_MAX", name);

    /* Tails of every length up to two AVX-512 vectors and one more, at every
     * offset of a guarded buffer: each element as alone, nothing written
     * past n, and y == x works. */
    float source[40], out[40], alone[1];
    for (size_t n = 1; n <= 33; n++) {
        for (size_t i = 0; i < 40; i++) source[i] = -20.0f + 1.37f * (float)i;
        for (size_t i = 0; i < 40; i++) out[i] = -7.0f;
        vector_exp(source + 1, out + 1, n);
        bool same = out[0] == -7.0f && out[n + 1] == -7.0f;
        for (size_t i = 0; i < n; i++) {
            vector_exp(&source[i + 1], alone, 1);
            same = same && memcmp(&alone[0], &out[i + 1], sizeof(float)) == 0;
        }
        vector_exp(source + 1, source + 1, n); /* in place */
        same = same && memcmp(source + 1, out + 1, n * sizeof(float)) == 0 &&
               source[n + 1] == -20.0f + 1.37f * (float)(n + 1);
        CHECK_MSG(same, "%s: tail of %zu", name, n);
    }

    CHECK_MSG(failures == 0, "vector_exp %s: %d values out of bounds", name, failures);
    printf("vector_exp %s body: max relative error %.3g (bound %.3g)\n", name, worst,
           VECTOR_EXP_MAX_RELATIVE_ERROR);
}

/* The tanh form against its double oracle, for every exp body: relative
 * 1e-6 plus the error that the rounding of -2u carries into e^(-2u)
 * (a few ulp of |2u|, only where the result is e^(-2u)-small), absolute
 * 1e-30 near 0; the specials exactly. And the oracle against 0.5 x (1 + tanh u)
 * where that does not cancel. */
static void check_gelu_tanh(void) {
    enum { N = 8000 + 12 };
    static float x[N], fast[N], slow[N];
    for (int i = 0; i < 8000; i++) x[i] = -20.0f + 40.0f * (float)i / 8000.0f;
    const float extremes[] = {1e30f, -1e30f, INFINITY, -INFINITY, NAN, 0.0f,
                              -0.0f, 1e-30f, -1e-30f, 3.5e12f, -3.5e12f, FLT_TRUE_MIN};
    memcpy(x + 8000, extremes, sizeof extremes);
    memcpy(slow, x, sizeof x);
    activation_apply_reference(ACTIVATION_GELU_TANH, slow, N);
    const char *body = cpu_level_name(cpu_features_level());
    memcpy(fast, x, sizeof x);
    activation_apply(ACTIVATION_GELU_TANH, fast, N);
    int failures = 0;
    double worst = 0.0;
    for (int i = 0; i < 8000; i++) {
        double v = x[i], two_u = 2.0 * 0.79788456080286536 * (v + 0.044715 * v * v * v);
        double small = two_u < 0.0 ? -two_u : 0.0;
        double tolerance = (1e-6 + 4.0 * FLT_EPSILON * small) * fabs(slow[i]) + 1e-30;
        double diff = fabs((double)fast[i] - slow[i]);
        if (fabsf(slow[i]) > 1e-30f && diff / fabs(slow[i]) > worst) worst = diff / fabs(slow[i]);
        if (!(diff <= tolerance) && failures++ < 10)
            fprintf(stderr, "gelu_tanh (%s) of %.9g = %.9g, want %.9g\n", body, x[i],
                    fast[i], slow[i]);
    }
    CHECK_MSG(failures == 0, "gelu_tanh (%s): %d values out of tolerance", body, failures);
    const float *e = fast + 8000;
    CHECK_MSG(e[0] == 1e30f && e[1] == 0.0f && signbit(e[1]) && e[2] == INFINITY && isnan(e[3]) &&
                  isnan(e[4]),
              "gelu_tanh (%s) of 1e30, -1e30, inf, -inf, NaN: %g %g %g %g %g", body, e[0],
              e[1], e[2], e[3], e[4]);
    CHECK_MSG(e[5] == 0.0f && e[6] == 0.0f && fabsf(e[7] - 0.5e-30f) <= 1e-37f && fabsf(e[8] + 0.5e-30f) <= 1e-37f,
              "gelu_tanh (%s) near 0: %g %g %g %g", body, e[5], e[6], e[7], e[8]);
    CHECK_MSG(e[9] == 3.5e12f && e[10] == 0.0f && e[11] >= 0.0f && e[11] <= FLT_TRUE_MIN,
              "gelu_tanh (%s): %g %g %g", body, e[9], e[10], e[11]);
    for (int i = 8000; i < N; i++)
        CHECK_MSG(memcmp(&fast[i], &slow[i], sizeof(float)) == 0 || (isnan(fast[i]) && isnan(slow[i])) ||
                      (x[i] == FLT_TRUE_MIN),
                  "gelu_tanh (%s) of %g = %g, oracle %g", body, x[i], fast[i], slow[i]);
    printf("gelu_tanh (%s exp): max relative error %.3g against the double oracle\n", body,
           worst);
    /* The oracle is the tanh form: 1 + tanh u keeps its digits for x >= -3. */
    for (int i = 0; i < 8000; i++) {
        double v = x[i];
        if (v < -3.0) continue;
        double tanh_form = 0.5 * v * (1.0 + tanh(0.79788456080286536 * (v + 0.044715 * v * v * v)));
        CHECK_MSG(fabs(slow[i] - tanh_form) <= 1e-7 * fabs(tanh_form) + 1e-30, "oracle at %g: %g vs %g",
                  v, slow[i], tanh_form);
    }
    /* The other two forms against their oracles over the same range. */
    const activation_kind others[] = {ACTIVATION_GELU_ERF, ACTIVATION_RELU};
    for (int k = 0; k < 2; k++) {
        memcpy(fast, x, 8000 * sizeof(float));
        memcpy(slow, x, 8000 * sizeof(float));
        activation_apply(others[k], fast, 8000);
        activation_apply_reference(others[k], slow, 8000);
        double diff = test_max_abs_diff(fast, slow, 8000);
        CHECK_MSG(diff < 1e-5, "activation %d against its oracle: %g", (int)others[k], diff);
    }
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
    test_require_cpu_level("test_kernels");
    check_matmul();
    check_matmul_threads();
    check_matmul_strided();
    check_attention();
    check_attention_heads();
    check_attention_blocks();
    check_activations();
    check_vector_exp();
    check_gelu_tanh();
    check_layer_norm();
    check_softmax();
    check_gated();
    check_rms_norm();
    check_rope();
    check_grouped_attention();
    return test_finish("test_kernels");
}
