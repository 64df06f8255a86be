/*
 * test_vocab_loss.c - the vocabulary cross-entropy of src/train/vocab_loss.h
 * against its definition:
 *   - the plain double oracle (tests/reference/vocab_loss_reference.h) on
 *     block and panel sizes that cross many boundaries, and on the default
 *     ones with more rows than a block and more entries than a panel;
 *   - the oracle's and the kernel's gradients against central finite
 *     differences of the oracle's loss, in double;
 *   - rows of weight 0 (no gradient, their CE still reported), logits of
 *     thousands (the max-subtracted log-sum-exp), d_unembedding added to,
 *     and NULL for no weight gradient;
 *   - the same bits with 1 and 2 OpenMP threads;
 *   - the arguments it refuses.
 * ctest runs it once per level of util/cpu_features.h (LOUPE_CPU): the exps
 * go through kernels/vector_exp's bodies.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "train/vocab_loss.h"
#include "vocab_loss_reference.h"

/* One problem: rows, targets, weights and an unembedding, in float for the
 * kernel and the same values in double for the oracle. */
typedef struct problem {
    int N, C, V;
    float *normed, *weights, *unembedding;  /* (N, C), (N), (V, C) */
    int32_t *targets;                      /* (N) */
    double *normed64, *weights64, *unembedding64;
} problem;

/* Rows of scale row_scale and an unembedding of scale 1 / sqrt(C) (logits
 * of about row_scale), random targets, weights in [0.25, 2] with every
 * zero_every-th row (0: none) of weight 0. */
static problem problem_make(int N, int C, int V, double row_scale, int zero_every, uint64_t seed) {
    problem p = {.N = N, .C = C, .V = V};
    p.normed = malloc((size_t)N * C * sizeof(float));
    p.weights = malloc((size_t)N * sizeof(float));
    p.unembedding = malloc((size_t)V * C * sizeof(float));
    p.targets = malloc((size_t)N * sizeof(int32_t));
    p.normed64 = malloc((size_t)N * C * sizeof(double));
    p.weights64 = malloc((size_t)N * sizeof(double));
    p.unembedding64 = malloc((size_t)V * C * sizeof(double));
    uint64_t state = seed;
    for (size_t i = 0; i < (size_t)N * C; i++) {
        p.normed[i] = (float)(row_scale * (2.0 * test_random_unit(&state) - 1.0));
        p.normed64[i] = p.normed[i];
    }
    for (size_t i = 0; i < (size_t)V * C; i++) {
        p.unembedding[i] = (float)((2.0 * test_random_unit(&state) - 1.0) * sqrt(3.0 / C));
        p.unembedding64[i] = p.unembedding[i];
    }
    for (int n = 0; n < N; n++) {
        p.targets[n] = (int32_t)(test_random_unit(&state) * V);
        p.weights[n] = zero_every > 0 && n % zero_every == zero_every - 1
                           ? 0.0f
                           : (float)(0.25 + 1.75 * test_random_unit(&state));
        p.weights64[n] = p.weights[n];
    }
    return p;
}

static void problem_free(problem *p) {
    free(p->normed), free(p->weights), free(p->unembedding), free(p->targets);
    free(p->normed64), free(p->weights64), free(p->unembedding64);
}

/* The kernel's outputs on one problem. */
typedef struct result {
    double loss;
    float *ce, *d_normed, *d_unembedding; /* (N), (N, C), (V, C) */
} result;

/* Runs the kernel with the given sizes (block_rows 0: the defaults);
 * d_unembedding starts at 0. Returns the status. */
static loupe_status run_kernel(const problem *p, int block_rows, int panel_size, result *out) {
    out->ce = malloc((size_t)p->N * sizeof(float));
    out->d_normed = malloc((size_t)p->N * p->C * sizeof(float));
    out->d_unembedding = calloc((size_t)p->V * p->C, sizeof(float));
    vocab_loss_workspace *w = block_rows > 0
                                  ? vocab_loss_workspace_create_sized(p->N, p->C, p->V, block_rows, panel_size)
                                  : vocab_loss_workspace_create(p->N, p->C, p->V);
    if (w == NULL) return LOUPE_ERROR_MEMORY;
    loupe_error error;
    loupe_status status = vocab_loss_forward_backward(w, p->normed, p->targets, p->weights, p->N, p->unembedding,
                                                      p->V, p->C, &out->loss, out->ce, out->d_normed,
                                                      out->d_unembedding, &error);
    if (status != LOUPE_OK) fprintf(stderr, "vocab_loss: %s\n", error.message);
    vocab_loss_workspace_free(w);
    return status;
}

static void result_free(result *r) { free(r->ce), free(r->d_normed), free(r->d_unembedding); }

/* The oracle's outputs on one problem. */
typedef struct oracle {
    double loss;
    double *ce, *d_normed, *d_unembedding;
} oracle;

static oracle oracle_run(const problem *p) {
    oracle o;
    o.ce = malloc((size_t)p->N * sizeof(double));
    o.d_normed = malloc((size_t)p->N * p->C * sizeof(double));
    o.d_unembedding = malloc((size_t)p->V * p->C * sizeof(double));
    o.loss = vocab_loss_reference(p->normed64, p->targets, p->weights64, p->N, p->unembedding64, p->V, p->C, o.ce,
                                  o.d_normed, o.d_unembedding);
    return o;
}

static void oracle_free(oracle *o) { free(o->ce), free(o->d_normed), free(o->d_unembedding); }

/* max |a - b| / max(max |b|, floor) over n values. */
static double relative_diff(const float *a, const double *b, size_t n, double floor) {
    double worst = 0.0, scale = floor;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - b[i]));
    return worst / scale;
}

/* Holds the kernel's result to the oracle's within tolerance (relative to
 * the largest entry of each output); prints the measured differences. */
static void check_against_oracle(const char *label, const problem *p, const result *r, const oracle *o,
                                 double tolerance) {
    const double loss_diff = fabs(r->loss - o->loss) / fmax(fabs(o->loss), 1e-30);
    const double ce_diff = relative_diff(r->ce, o->ce, (size_t)p->N, 1e-30);
    const double dx_diff = relative_diff(r->d_normed, o->d_normed, (size_t)p->N * p->C, 1e-30);
    const double dw_diff = relative_diff(r->d_unembedding, o->d_unembedding, (size_t)p->V * p->C, 1e-30);
    printf("%s: N %d C %d V %d: loss %.6g rel %.2e, ce %.2e, d_normed %.2e, d_unembedding %.2e\n", label, p->N,
           p->C, p->V, r->loss, loss_diff, ce_diff, dx_diff, dw_diff);
    CHECK_MSG(loss_diff <= tolerance, "%s loss %.3e", label, loss_diff);
    CHECK_MSG(ce_diff <= tolerance, "%s ce %.3e", label, ce_diff);
    CHECK_MSG(dx_diff <= tolerance, "%s d_normed %.3e", label, dx_diff);
    CHECK_MSG(dw_diff <= tolerance, "%s d_unembedding %.3e", label, dw_diff);
}

/* The kernel against the oracle over block and panel sizes that cut a
 * small problem every way: 1 row / 1 entry, sizes that do not divide N or
 * V, exactly N / V, and more than N / V. */
static void test_sizes(void) {
    problem p = problem_make(13, 8, 37, 2.0, 4, 11);
    oracle o = oracle_run(&p);
    const int blocks[] = {1, 3, 4, 13, 64}, panels[] = {1, 5, 16, 37, 1024};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        for (size_t q = 0; q < sizeof panels / sizeof panels[0]; q++) {
            result r;
            char label[64];
            snprintf(label, sizeof label, "sizes block %d panel %d", blocks[b], panels[q]);
            CHECK(run_kernel(&p, blocks[b], panels[q], &r) == LOUPE_OK);
            check_against_oracle(label, &p, &r, &o, 2e-6);
            result_free(&r);
        }
    }
    oracle_free(&o);
    problem_free(&p);
}

/* The default sizes on more rows than a block and more entries than a
 * panel (2 blocks, 3 panels, the last ones partial). */
static void test_default_sizes(void) {
    problem p = problem_make(VOCAB_LOSS_BLOCK_ROWS + 37, 24, 2 * VOCAB_LOSS_PANEL + 301, 3.0, 9, 12);
    oracle o = oracle_run(&p);
    result r;
    CHECK(run_kernel(&p, 0, 0, &r) == LOUPE_OK);
    check_against_oracle("default sizes", &p, &r, &o, 5e-6);
    result_free(&r);
    oracle_free(&o);
    problem_free(&p);
}

/* Central differences of the oracle's loss in double (step h) for a sample
 * of entries of the rows and the unembedding, against the oracle's and the
 * kernel's gradients. */
static void test_finite_differences(void) {
    problem p = problem_make(6, 5, 11, 1.5, 3, 13);
    oracle o = oracle_run(&p);
    result r;
    CHECK(run_kernel(&p, 4, 3, &r) == LOUPE_OK);
    const double h = 1e-5;
    double worst_oracle = 0.0, worst_kernel = 0.0;
    for (int which = 0; which < 2; which++) {
        double *values = which == 0 ? p.normed64 : p.unembedding64;
        const size_t count = which == 0 ? (size_t)p.N * p.C : (size_t)p.V * p.C;
        const double *analytic = which == 0 ? o.d_normed : o.d_unembedding;
        const float *kernel = which == 0 ? r.d_normed : r.d_unembedding;
        for (size_t i = 0; i < count; i++) {
            const double saved = values[i];
            values[i] = saved + h;
            const double up = vocab_loss_reference(p.normed64, p.targets, p.weights64, p.N, p.unembedding64, p.V,
                                                   p.C, NULL, NULL, NULL);
            values[i] = saved - h;
            const double down = vocab_loss_reference(p.normed64, p.targets, p.weights64, p.N, p.unembedding64, p.V,
                                                     p.C, NULL, NULL, NULL);
            values[i] = saved;
            const double numeric = (up - down) / (2.0 * h);
            worst_oracle = fmax(worst_oracle, fabs(analytic[i] - numeric) / fmax(fabs(numeric), 1e-3));
            worst_kernel = fmax(worst_kernel, fabs(kernel[i] - numeric) / fmax(fabs(numeric), 1e-3));
        }
    }
    printf("finite differences: oracle %.2e, kernel %.2e (relative, floor 1e-3)\n", worst_oracle, worst_kernel);
    CHECK_MSG(worst_oracle <= 1e-7, "oracle vs finite differences %.3e", worst_oracle);
    CHECK_MSG(worst_kernel <= 1e-5, "kernel vs finite differences %.3e", worst_kernel);
    result_free(&r);
    oracle_free(&o);
    problem_free(&p);
}

/* Rows of weight 0: their d_normed rows are exactly 0, their CE is still
 * right, and the unembedding's gradient is the one without them. */
static void test_zero_weights(void) {
    problem p = problem_make(10, 6, 23, 2.0, 2, 14);
    oracle o = oracle_run(&p);
    result r;
    CHECK(run_kernel(&p, 3, 7, &r) == LOUPE_OK);
    check_against_oracle("zero weights", &p, &r, &o, 2e-6);
    int nonzero = 0;
    for (int n = 0; n < p.N; n++) {
        if (p.weights[n] != 0.0f) continue;
        CHECK(r.ce[n] > 0.0f);
        for (int c = 0; c < p.C; c++) nonzero += r.d_normed[(size_t)n * p.C + c] != 0.0f;
    }
    CHECK_MSG(nonzero == 0, "%d entries of d_normed nonzero on rows of weight 0", nonzero);
    /* all weights 0: no gradient at all, loss 0 */
    for (int n = 0; n < p.N; n++) p.weights[n] = 0.0f;
    result zero;
    CHECK(run_kernel(&p, 3, 7, &zero) == LOUPE_OK);
    CHECK(zero.loss == 0.0);
    int any = 0;
    for (size_t i = 0; i < (size_t)p.V * p.C; i++) any += zero.d_unembedding[i] != 0.0f;
    for (size_t i = 0; i < (size_t)p.N * p.C; i++) any += zero.d_normed[i] != 0.0f;
    CHECK_MSG(any == 0, "%d gradient entries nonzero with every weight 0", any);
    result_free(&zero);
    result_free(&r);
    oracle_free(&o);
    problem_free(&p);
}

/* Logits in the thousands (far beyond exp's range without the max
 * subtracted): CEs of thousands and of nearly 0, all finite and right. The
 * tolerance is relative to the largest CE / gradient entry: the float
 * logits themselves carry relative errors of about 1e-7. */
static void test_extreme_logits(void) {
    problem p = problem_make(9, 8, 29, 3000.0, 0, 15);
    /* rows 0 and 1 aim at their largest logit: a CE of nearly 0 */
    for (int n = 0; n < 2; n++) {
        double top = -INFINITY;
        for (int v = 0; v < p.V; v++) {
            double z = 0.0;
            for (int c = 0; c < p.C; c++) z += p.unembedding64[(size_t)v * p.C + c] * p.normed64[(size_t)n * p.C + c];
            if (z > top) top = z, p.targets[n] = v;
        }
    }
    oracle o = oracle_run(&p);
    result r;
    CHECK(run_kernel(&p, 2, 6, &r) == LOUPE_OK);
    int finite = 1;
    for (int n = 0; n < p.N; n++) finite &= isfinite(r.ce[n]);
    for (size_t i = 0; i < (size_t)p.N * p.C; i++) finite &= isfinite(r.d_normed[i]);
    CHECK(finite && isfinite(r.loss));
    check_against_oracle("extreme logits", &p, &r, &o, 1e-5);
    double smallest = INFINITY, largest = 0.0;
    for (int n = 0; n < p.N; n++) smallest = fmin(smallest, o.ce[n]), largest = fmax(largest, o.ce[n]);
    printf("extreme logits: CE from %.3g to %.3g\n", smallest, largest);
    CHECK(largest > 1000.0 && smallest < 1.0);
    /* near 0 the tolerance is absolute: the CE of a dominant target */
    for (int n = 0; n < 2; n++) CHECK_MSG(fabs(r.ce[n] - o.ce[n]) <= 1e-6, "row %d CE %g vs %g", n, r.ce[n], o.ce[n]);
    result_free(&r);
    oracle_free(&o);
    problem_free(&p);
}

/* d_unembedding is added to (+=), and NULL skips it with d_normed the same
 * bits. */
static void test_accumulate_and_null(void) {
    problem p = problem_make(7, 4, 19, 2.0, 0, 16);
    result r;
    CHECK(run_kernel(&p, 3, 5, &r) == LOUPE_OK);
    vocab_loss_workspace *w = vocab_loss_workspace_create_sized(p.N, p.C, p.V, 3, 5);
    if (w == NULL) {
        CHECK(w != NULL);
        result_free(&r);
        problem_free(&p);
        return;
    }
    const size_t count = (size_t)p.V * p.C;
    float *added = malloc(count * sizeof(float)), *d_normed = malloc((size_t)p.N * p.C * sizeof(float));
    for (size_t i = 0; i < count; i++) added[i] = 0.5f + (float)(i % 7);
    double loss = 0.0;
    loupe_error error;
    CHECK(vocab_loss_forward_backward(w, p.normed, p.targets, p.weights, p.N, p.unembedding, p.V, p.C, &loss, NULL,
                                      d_normed, added, &error) == LOUPE_OK);
    double worst = 0.0;
    for (size_t i = 0; i < count; i++)
        worst = fmax(worst, fabs((double)added[i] - (0.5 + (double)(i % 7) + r.d_unembedding[i])));
    CHECK_MSG(worst <= 1e-6, "accumulated d_unembedding off by %.3e", worst);
    CHECK(loss == r.loss);
    CHECK(memcmp(d_normed, r.d_normed, (size_t)p.N * p.C * sizeof(float)) == 0);
    memset(d_normed, 0, (size_t)p.N * p.C * sizeof(float));
    CHECK(vocab_loss_forward_backward(w, p.normed, p.targets, p.weights, p.N, p.unembedding, p.V, p.C, &loss, NULL,
                                      d_normed, NULL, &error) == LOUPE_OK);
    CHECK(memcmp(d_normed, r.d_normed, (size_t)p.N * p.C * sizeof(float)) == 0);
    /* the loss only (no gradient arrays): the oracle's loss and CEs */
    oracle o = oracle_run(&p);
    float *ce = malloc((size_t)p.N * sizeof(float));
    CHECK(vocab_loss_forward_backward(w, p.normed, p.targets, p.weights, p.N, p.unembedding, p.V, p.C, &loss, ce,
                                      NULL, NULL, &error) == LOUPE_OK);
    const double loss_diff = fabs(loss - o.loss) / fabs(o.loss), ce_diff = relative_diff(ce, o.ce, (size_t)p.N, 1e-30);
    printf("loss only: loss %.6g rel %.2e, ce %.2e\n", loss, loss_diff, ce_diff);
    CHECK_MSG(loss_diff <= 2e-6 && ce_diff <= 2e-6, "loss only: loss %.3e ce %.3e", loss_diff, ce_diff);
    free(ce);
    oracle_free(&o);
    free(added);
    free(d_normed);
    vocab_loss_workspace_free(w);
    result_free(&r);
    problem_free(&p);
}

/* The same bits with 1 and 2 threads, on a problem large enough that the
 * panels go to a team (default sizes). */
static void test_thread_counts(void) {
    problem p = problem_make(VOCAB_LOSS_BLOCK_ROWS + 21, 64, 3 * VOCAB_LOSS_PANEL - 5, 3.0, 5, 17);
    const int saved = omp_get_max_threads();
    result one, two;
    omp_set_num_threads(1);
    CHECK(run_kernel(&p, 0, 0, &one) == LOUPE_OK);
    omp_set_num_threads(2);
    CHECK(run_kernel(&p, 0, 0, &two) == LOUPE_OK);
    omp_set_num_threads(saved);
    CHECK(one.loss == two.loss);
    CHECK(memcmp(one.ce, two.ce, (size_t)p.N * sizeof(float)) == 0);
    CHECK(memcmp(one.d_normed, two.d_normed, (size_t)p.N * p.C * sizeof(float)) == 0);
    CHECK(memcmp(one.d_unembedding, two.d_unembedding, (size_t)p.V * p.C * sizeof(float)) == 0);
    printf("threads: 1 and 2 give loss %.17g and %.17g\n", one.loss, two.loss);
    result_free(&one);
    result_free(&two);
    problem_free(&p);
}

/* Bad arguments are LOUPE_ERROR_ARGUMENT with a message, and write no loss. */
static void test_refusals(void) {
    problem p = problem_make(4, 3, 7, 1.0, 0, 18);
    vocab_loss_workspace *w = vocab_loss_workspace_create(p.N, p.C, p.V);
    CHECK(w != NULL);
    CHECK(vocab_loss_workspace_create(0, 3, 7) == NULL);
    CHECK(vocab_loss_workspace_create_sized(4, 3, 7, 0, 5) == NULL);
    CHECK(vocab_loss_workspace_create_sized(4, 3, 7, 2, 0) == NULL);
    float d_normed[12], d_unembedding[21] = {0};
    double loss = 0.0;
    loupe_error error;
    p.targets[2] = 7;
    CHECK(vocab_loss_forward_backward(w, p.normed, p.targets, p.weights, p.N, p.unembedding, p.V, p.C, &loss, NULL,
                                      d_normed, d_unembedding, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(strstr(error.message, "row 2's target 7") != NULL);
    p.targets[2] = -1;
    CHECK(vocab_loss_forward_backward(w, p.normed, p.targets, p.weights, p.N, p.unembedding, p.V, p.C, &loss, NULL,
                                      d_normed, d_unembedding, &error) == LOUPE_ERROR_ARGUMENT);
    p.targets[2] = 1;
    p.weights[1] = -0.5f;
    CHECK(vocab_loss_forward_backward(w, p.normed, p.targets, p.weights, p.N, p.unembedding, p.V, p.C, &loss, NULL,
                                      d_normed, d_unembedding, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(strstr(error.message, "row 1's weight") != NULL);
    p.weights[1] = NAN;
    CHECK(vocab_loss_forward_backward(w, p.normed, p.targets, p.weights, p.N, p.unembedding, p.V, p.C, &loss, NULL,
                                      d_normed, d_unembedding, &error) == LOUPE_ERROR_ARGUMENT);
    p.weights[1] = 1.0f;
    CHECK(vocab_loss_forward_backward(w, p.normed, p.targets, p.weights, p.N + 1, p.unembedding, p.V, p.C, &loss,
                                      NULL, d_normed, d_unembedding, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(vocab_loss_forward_backward(w, p.normed, p.targets, p.weights, p.N, p.unembedding, p.V - 1, p.C, &loss,
                                      NULL, d_normed, d_unembedding, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(vocab_loss_forward_backward(w, p.normed, p.targets, p.weights, p.N, p.unembedding, p.V, p.C, &loss, NULL,
                                      NULL, d_unembedding, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(loss == 0.0);
    CHECK(vocab_loss_forward_backward(w, p.normed, p.targets, p.weights, 0, p.unembedding, p.V, p.C, &loss, NULL,
                                      d_normed, d_unembedding, &error) == LOUPE_OK);
    CHECK(loss == 0.0);
    vocab_loss_workspace_free(w);
    vocab_loss_workspace_free(NULL);
    problem_free(&p);
}

int main(void) {
    test_require_cpu_level("test_vocab_loss");
    test_sizes();
    test_default_sizes();
    test_finite_differences();
    test_zero_weights();
    test_extreme_logits();
    test_accumulate_and_null();
    test_thread_counts();
    test_refusals();
    return test_finish("test_vocab_loss");
}
