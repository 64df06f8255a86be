/*
 * test_train_kernels.c - the training kernels (the src/train backward kernels):
 * each double twin (tests/reference/train_kernels_reference.h) against
 * central finite differences of its own forward pass in double, and each
 * fast float kernel against its twin; the attention also against itself at
 * 1 and 2 threads, bit for bit.
 */
#include <math.h>
#include <stdbool.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/norms.h"
#include "test_support.h"
#include "train/activation_backward.h"
#include "train/attention_backward.h"
#include "train/embedding_backward.h"
#include "train/layer_norm_backward.h"
#include "train/linear_backward.h"
#include "train_kernels_reference.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;

static double uniform(double lo, double hi) { return lo + (hi - lo) * test_random_unit(&rng); }

static void fill(double *x, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) x[i] = uniform(lo, hi);
}

static float *to_float(const double *x, size_t n) {
    float *out = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) out[i] = (float)x[i];
    return out;
}

static double *zeros(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

/* Rounds x (n) to float values in place, so the float kernel and the double
 * twin see the same inputs. */
static void round_to_float(double *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = (float)x[i];
}

/* max |a - b| / max(max |b|, floor) over n entries. */
static double relative_error(const float *a, const double *b, size_t n) {
    double worst = 0.0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]));
    return worst / scale;
}

/* A scalar loss of some inputs: sum of probe * forward(inputs). */
typedef double (*loss_function)(void *context);

/* Each entry of x (n) moved by +-h: the central difference of loss against
 * analytic (n); returns max |fd - analytic| / max(max |analytic|, 1e-12). */
static double finite_difference_error(double *x, size_t n, loss_function loss, void *context,
                                      const double *analytic) {
    double worst = 0.0, scale = 1e-12;
    for (size_t i = 0; i < n; i++) {
        double saved = x[i], h = 1e-6 * fmax(1.0, fabs(saved));
        x[i] = saved + h;
        double up = loss(context);
        x[i] = saved - h;
        double down = loss(context);
        x[i] = saved;
        worst = fmax(worst, fabs((up - down) / (2 * h) - analytic[i]));
        scale = fmax(scale, fabs(analytic[i]));
    }
    return worst / scale;
}

static double dot_double(const double *a, const double *b, size_t n) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

/* ------------------------------------------------------------------------
 * Layer norm
 * ---------------------------------------------------------------------- */

typedef struct layer_norm_case {
    int N, C;
    double eps;
    double *in, *weight, *bias, *probe, *out;
} layer_norm_case;

static double layer_norm_loss(void *context) {
    layer_norm_case *c = context;
    layer_norm_forward_reference(c->out, c->in, c->weight, c->bias, c->N, c->C, c->eps);
    return dot_double(c->out, c->probe, (size_t)c->N * c->C);
}

static void test_layer_norm(int N, int C) {
    size_t n = (size_t)N * C;
    layer_norm_case c = {N, C, 1e-5, zeros(n), zeros(C), zeros(C), zeros(n), zeros(n)};
    fill(c.in, n, -2, 3);
    fill(c.weight, C, 0.5, 1.5);
    fill(c.bias, C, -0.5, 0.5);
    fill(c.probe, n, -1, 1);
    round_to_float(c.in, n);
    round_to_float(c.weight, C);
    round_to_float(c.bias, C);
    round_to_float(c.probe, n);
    double *d_in = zeros(n), *d_w = zeros(C), *d_b = zeros(C);
    layer_norm_backward_reference(d_in, d_w, d_b, c.probe, c.in, c.weight, N, C, c.eps);
    double e_in = finite_difference_error(c.in, n, layer_norm_loss, &c, d_in);
    double e_w = finite_difference_error(c.weight, C, layer_norm_loss, &c, d_w);
    double e_b = finite_difference_error(c.bias, C, layer_norm_loss, &c, d_b);
    CHECK_MSG(e_in < 1e-6 && e_w < 1e-6 && e_b < 1e-6, "layer norm twin vs finite differences: %g %g %g", e_in,
              e_w, e_b);

    float *in = to_float(c.in, n), *w = to_float(c.weight, C), *b = to_float(c.bias, C), *dy = to_float(c.probe, n);
    float *out = calloc(n, sizeof(float)), *mean = calloc(N, sizeof(float)), *rstd = calloc(N, sizeof(float));
    float *f_in = calloc(n, sizeof(float)), *f_w = calloc(C, sizeof(float)), *f_b = calloc(C, sizeof(float));
    layer_norm_keeping(out, mean, rstd, in, w, b, N, C, (float)c.eps);
    layer_norm_forward_reference(c.out, c.in, c.weight, c.bias, N, C, c.eps);
    CHECK_MSG(relative_error(out, c.out, n) < 1e-5, "layer norm forward %g", relative_error(out, c.out, n));
    /* accumulation: start from 1, expect 1 + gradient */
    for (size_t i = 0; i < n; i++) f_in[i] = 1.0f, d_in[i] += 1.0;
    layer_norm_backward(f_in, f_w, f_b, dy, in, mean, rstd, w, N, C);
    double r_in = relative_error(f_in, d_in, n), r_w = relative_error(f_w, d_w, C), r_b = relative_error(f_b, d_b, C);
    CHECK_MSG(r_in < 1e-5 && r_w < 1e-5 && r_b < 1e-5, "layer norm fast vs twin: %g %g %g", r_in, r_w, r_b);
    printf("layer norm (%d, %d): twin vs fd %.2e, fast vs twin %.2e\n", N, C, fmax(e_in, fmax(e_w, e_b)),
           fmax(r_in, fmax(r_w, r_b)));
    free(c.in), free(c.weight), free(c.bias), free(c.probe), free(c.out), free(d_in), free(d_w), free(d_b);
    free(in), free(w), free(b), free(dy), free(out), free(mean), free(rstd), free(f_in), free(f_w), free(f_b);
}

/* ------------------------------------------------------------------------
 * Linear
 * ---------------------------------------------------------------------- */

typedef struct linear_case {
    int N, K, O;
    matmul_layout layout;
    double *in, *weight, *bias, *probe, *out;
} linear_case;

static double linear_loss(void *context) {
    linear_case *c = context;
    linear_forward_reference(c->out, c->in, c->weight, c->bias, c->N, c->K, c->O, c->layout);
    return dot_double(c->out, c->probe, (size_t)c->N * c->O);
}

static void test_linear(int N, int K, int O, matmul_layout layout) {
    size_t ni = (size_t)N * K, nw = (size_t)K * O, no = (size_t)N * O;
    linear_case c = {N, K, O, layout, zeros(ni), zeros(nw), zeros(O), zeros(no), zeros(no)};
    fill(c.in, ni, -1, 1), fill(c.weight, nw, -1, 1), fill(c.bias, O, -1, 1), fill(c.probe, no, -1, 1);
    round_to_float(c.in, ni), round_to_float(c.weight, nw), round_to_float(c.bias, O), round_to_float(c.probe, no);
    double *d_in = zeros(ni), *d_w = zeros(nw), *d_b = zeros(O);
    linear_backward_reference(d_in, d_w, d_b, c.probe, c.in, c.weight, N, K, O, layout);
    double e = fmax(finite_difference_error(c.in, ni, linear_loss, &c, d_in),
                    fmax(finite_difference_error(c.weight, nw, linear_loss, &c, d_w),
                         finite_difference_error(c.bias, O, linear_loss, &c, d_b)));
    CHECK_MSG(e < 1e-7, "linear twin vs finite differences: %g", e);
    float *in = to_float(c.in, ni), *w = to_float(c.weight, nw), *b = to_float(c.bias, O), *dy = to_float(c.probe, no);
    float *out = calloc(no, sizeof(float));
    float *f_in = calloc(ni, sizeof(float)), *f_w = calloc(nw, sizeof(float)), *f_b = calloc(O, sizeof(float));
    linear_forward(out, in, w, b, N, K, O, layout);
    linear_forward_reference(c.out, c.in, c.weight, c.bias, N, K, O, layout);
    double r_out = relative_error(out, c.out, no);
    for (size_t i = 0; i < nw; i++) f_w[i] = 0.5f, d_w[i] += 0.5;
    linear_backward(f_in, f_w, f_b, dy, in, w, N, K, O, layout);
    double r = fmax(relative_error(f_in, d_in, ni), fmax(relative_error(f_w, d_w, nw), relative_error(f_b, d_b, O)));
    CHECK_MSG(r_out < 1e-5 && r < 1e-5, "linear fast vs twin: forward %g backward %g", r_out, r);
    printf("linear (%d, %d, %d) %s: twin vs fd %.2e, fast vs twin %.2e\n", N, K, O,
           layout == MATMUL_WEIGHT_IN_OUT ? "in-out" : "out-in", e, r);
    free(c.in), free(c.weight), free(c.bias), free(c.probe), free(c.out), free(d_in), free(d_w), free(d_b);
    free(in), free(w), free(b), free(dy), free(out), free(f_in), free(f_w), free(f_b);
}

/* ------------------------------------------------------------------------
 * Attention
 * ---------------------------------------------------------------------- */

typedef struct attention_case {
    attention_shape shape;
    double *q, *k, *v, *probe, *out;
} attention_case;

static double attention_loss(void *context) {
    attention_case *c = context;
    attention_forward_reference(c->out, c->q, c->k, c->v, &c->shape);
    return dot_double(c->out, c->probe, (size_t)c->shape.T * c->shape.n_heads * c->shape.head_dim);
}

/* Runs the fast kernels on q, k, v packed in one row buffer (T, W) of
 * width W = HD + 2 KV D + 1 (q, then k, then v, then a pad column) and out
 * in rows of HD + 3: d_qkv (T, W) (starting 0.25 everywhere), out (T, HD+3). */
static void attention_fast(const attention_case *c, float *qkv, float *d_qkv, float *out, float *d_out, float *lse) {
    const attention_shape *s = &c->shape;
    int T = s->T, HD = s->n_heads * s->head_dim, KD = s->n_kv_heads * s->head_dim, W = HD + 2 * KD + 1;
    attention_shape shape = *s;
    shape.q_stride = shape.k_stride = shape.v_stride = W;
    shape.out_stride = HD + 3;
    float *scratch = malloc(sizeof(float) * attention_train_scratch_floats(T));
    for (size_t i = 0; i < (size_t)T * W; i++) d_qkv[i] = 0.25f;
    attention_forward_train(out, lse, qkv, qkv + HD, qkv + HD + KD, scratch, &shape);
    attention_backward(d_qkv, d_qkv + HD, d_qkv + HD + KD, d_out, qkv, qkv + HD, qkv + HD + KD, out, lse, scratch,
                       &shape);
    free(scratch);
}

/* The twin against finite differences (when finite_differences: small
 * cases only, the check costs T^2 per entry), then the fast kernels against
 * the twin, with 1 and 2 threads. */
static void test_attention(int T, int H, int KV, int D, int window, bool finite_differences) {
    attention_case c;
    memset(&c, 0, sizeof c);
    c.shape = (attention_shape){.T = T, .n_heads = H, .n_kv_heads = KV, .head_dim = D,
                                .scale = 1.0f / sqrtf((float)D), .window = window};
    size_t nq = (size_t)T * H * D, nk = (size_t)T * KV * D;
    c.q = zeros(nq), c.k = zeros(nk), c.v = zeros(nk), c.probe = zeros(nq), c.out = zeros(nq);
    fill(c.q, nq, -2, 2), fill(c.k, nk, -2, 2), fill(c.v, nk, -1, 1), fill(c.probe, nq, -1, 1);
    round_to_float(c.q, nq), round_to_float(c.k, nk), round_to_float(c.v, nk), round_to_float(c.probe, nq);
    double *d_q = zeros(nq), *d_k = zeros(nk), *d_v = zeros(nk);
    attention_backward_reference(d_q, d_k, d_v, c.probe, c.q, c.k, c.v, &c.shape);
    double e = NAN;
    if (finite_differences) {
        e = fmax(finite_difference_error(c.q, nq, attention_loss, &c, d_q),
                 fmax(finite_difference_error(c.k, nk, attention_loss, &c, d_k),
                      finite_difference_error(c.v, nk, attention_loss, &c, d_v)));
        CHECK_MSG(e < 1e-6, "attention twin vs finite differences: %g", e);
    }
    attention_forward_reference(c.out, c.q, c.k, c.v, &c.shape);

    int HD = H * D, KD = KV * D, W = HD + 2 * KD + 1, OW = HD + 3;
    float *qkv = calloc((size_t)T * W, sizeof(float)), *d_out = calloc((size_t)T * OW, sizeof(float));
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < HD; i++) qkv[(size_t)t * W + i] = (float)c.q[(size_t)t * HD + i];
        for (int i = 0; i < KD; i++) qkv[(size_t)t * W + HD + i] = (float)c.k[(size_t)t * KD + i];
        for (int i = 0; i < KD; i++) qkv[(size_t)t * W + HD + KD + i] = (float)c.v[(size_t)t * KD + i];
        qkv[(size_t)t * W + W - 1] = 1e30f; /* the pad column must be ignored */
        for (int i = 0; i < HD; i++) d_out[(size_t)t * OW + i] = (float)c.probe[(size_t)t * HD + i];
        for (int i = HD; i < OW; i++) d_out[(size_t)t * OW + i] = 1e30f;
    }
    float *d_qkv = calloc((size_t)T * W, sizeof(float)), *out = calloc((size_t)T * OW, sizeof(float));
    float *lse = calloc((size_t)H * T, sizeof(float));
    float *f_q = calloc(nq, sizeof(float)), *f_k = calloc(nk, sizeof(float)), *f_v = calloc(nk, sizeof(float));
    float *f_out = calloc(nq, sizeof(float));
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    attention_fast(&c, qkv, d_qkv, out, d_out, lse);
    float *single = malloc(sizeof(float) * (size_t)T * W);
    memcpy(single, d_qkv, sizeof(float) * (size_t)T * W);
    omp_set_num_threads(threads > 1 ? threads : 2);
    attention_fast(&c, qkv, d_qkv, out, d_out, lse);
    omp_set_num_threads(threads);
    CHECK_MSG(memcmp(single, d_qkv, sizeof(float) * (size_t)T * W) == 0, "attention backward depends on threads");
    int pad_untouched = 1;
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < HD; i++) f_q[(size_t)t * HD + i] = d_qkv[(size_t)t * W + i] - 0.25f;
        for (int i = 0; i < KD; i++) f_k[(size_t)t * KD + i] = d_qkv[(size_t)t * W + HD + i] - 0.25f;
        for (int i = 0; i < KD; i++) f_v[(size_t)t * KD + i] = d_qkv[(size_t)t * W + HD + KD + i] - 0.25f;
        for (int i = 0; i < HD; i++) f_out[(size_t)t * HD + i] = out[(size_t)t * OW + i];
        pad_untouched &= d_qkv[(size_t)t * W + W - 1] == 0.25f;
    }
    CHECK(pad_untouched);
    double r_out = relative_error(f_out, c.out, nq);
    double r = fmax(relative_error(f_q, d_q, nq), fmax(relative_error(f_k, d_k, nk), relative_error(f_v, d_v, nk)));
    CHECK_MSG(r_out < 1e-5 && r < 1e-4, "attention fast vs twin: forward %g backward %g", r_out, r);
    char twin[32] = "(small cases only)";
    if (finite_differences) snprintf(twin, sizeof twin, "%.2e", e);
    printf("attention T %d H %d KV %d D %d window %d: twin vs fd %s, fast vs twin %.2e (forward %.2e)\n", T, H, KV,
           D, window, twin, r, r_out);
    free(c.q), free(c.k), free(c.v), free(c.probe), free(c.out), free(d_q), free(d_k), free(d_v);
    free(qkv), free(d_out), free(d_qkv), free(out), free(lse), free(f_q), free(f_k), free(f_v), free(f_out), free(single);
}

/* ------------------------------------------------------------------------
 * Activations and embeddings
 * ---------------------------------------------------------------------- */

static void test_activations(void) {
    const activation_kind kinds[] = {ACTIVATION_GELU_TANH, ACTIVATION_GELU_ERF, ACTIVATION_RELU, ACTIVATION_SILU};
    const char *names[] = {"gelu_tanh", "gelu_erf", "relu", "silu"};
    enum { N = 401 };
    for (int kind = 0; kind < 4; kind++) {
        double x[N], fd_worst = 0.0;
        float xf[N], d_out[N], d_in[N], up[N], d_gate[N], d_up[N];
        for (int i = 0; i < N; i++) {
            x[i] = (float)(-8.0 + 16.0 * i / (N - 1) + 0.013); /* never exactly 0 (ReLU's kink) */
            xf[i] = (float)x[i];
            d_out[i] = (float)uniform(-1, 1);
            up[i] = (float)uniform(-2, 2);
            d_in[i] = 0.5f, d_gate[i] = 0.25f, d_up[i] = -0.25f;
            double h = 1e-6;
            double fd = (activation_value_reference(kinds[kind], x[i] + h) -
                         activation_value_reference(kinds[kind], x[i] - h)) / (2 * h);
            fd_worst = fmax(fd_worst, fabs(fd - activation_derivative_reference(kinds[kind], x[i])));
        }
        activation_backward(kinds[kind], d_in, d_out, xf, N);
        activation_gated_backward(kinds[kind], d_gate, d_up, d_out, xf, up, N);
        /* f itself against the forward kernel's twin */
        float forward[N];
        memcpy(forward, xf, sizeof forward);
        activation_apply_reference(kinds[kind], forward, N);
        double worst = 0.0, worst_gated = 0.0, worst_value = 0.0;
        for (int i = 0; i < N; i++) {
            double derivative = activation_derivative_reference(kinds[kind], x[i]);
            worst = fmax(worst, fabs(d_in[i] - (0.5 + d_out[i] * derivative)));
            worst_gated = fmax(worst_gated, fabs(d_gate[i] - (0.25 + (double)d_out[i] * up[i] * derivative)));
            worst_gated = fmax(worst_gated, fabs(d_up[i] - (-0.25 + d_out[i] * activation_value_reference(kinds[kind], x[i]))));
            worst_value = fmax(worst_value, fabs(activation_value_reference(kinds[kind], x[i]) - forward[i]));
        }
        CHECK_MSG(fd_worst < 1e-7, "%s derivative twin vs finite differences %g", names[kind], fd_worst);
        CHECK_MSG(worst < 2e-6 && worst_gated < 2e-5, "%s fast vs twin %g gated %g", names[kind], worst, worst_gated);
        CHECK_MSG(worst_value < 1e-5, "%s twin vs the forward kernel's twin %g", names[kind], worst_value);
        printf("%s: twin vs fd %.2e, fast vs twin %.2e, gated %.2e\n", names[kind], fd_worst, worst, worst_gated);
    }
}

static void test_embedding(void) {
    enum { B = 3, T = 5, C = 37, V = 11, N = B * T };
    int32_t ids[N];
    float d_x[N * C], d_token[V * C], d_position[T * C];
    double expect_token[V * C], expect_position[T * C];
    for (int n = 0; n < N; n++) ids[n] = (int32_t)((n * 7) % 4 + (n == 9 ? 6 : 0)); /* repeated ids */
    for (int i = 0; i < N * C; i++) d_x[i] = (float)uniform(-1, 1);
    for (int i = 0; i < V * C; i++) d_token[i] = 1.0f, expect_token[i] = 1.0;
    for (int i = 0; i < T * C; i++) d_position[i] = 2.0f, expect_position[i] = 2.0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            expect_token[ids[n] * C + c] += d_x[n * C + c];
            expect_position[(n % T) * C + c] += d_x[n * C + c];
        }
    embedding_backward(d_token, d_position, d_x, ids, N, T, C);
    double worst = 0.0;
    for (int i = 0; i < V * C; i++) worst = fmax(worst, fabs(d_token[i] - expect_token[i]));
    for (int i = 0; i < T * C; i++) worst = fmax(worst, fabs(d_position[i] - expect_position[i]));
    CHECK_MSG(worst < 1e-5, "embedding backward %g", worst);
}

int main(void) {
    test_layer_norm(5, 7);
    test_layer_norm(3, 64);
    test_linear(6, 5, 4, MATMUL_WEIGHT_IN_OUT);
    test_linear(6, 5, 4, MATMUL_WEIGHT_OUT_IN);
    test_linear(33, 17, 29, MATMUL_WEIGHT_IN_OUT);
    test_linear(33, 17, 29, MATMUL_WEIGHT_OUT_IN);
    test_attention(9, 4, 2, 3, 0, true);
    test_attention(9, 4, 4, 3, 0, true);
    test_attention(11, 6, 2, 4, 4, true);
    test_attention(7, 2, 1, 20, 0, true); /* D past eight lanes, with a tail */
    /* past one block of 64 queries, the last one partial; a window that
     * starts a block's keys after 0 and spans blocks */
    test_attention(150, 4, 2, 8, 0, false);
    test_attention(150, 2, 1, 8, 70, false);
    test_attention(130, 3, 3, 5, 64, false);
    test_activations();
    test_embedding();
    return test_finish("test_train_kernels");
}
