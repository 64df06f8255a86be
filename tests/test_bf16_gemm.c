/*
 * test_bf16_gemm.c - the bf16 lens's kernel (src/kernels/bf16_gemm.h) and
 * its error bound (src/lens/lens_bf16.h, docs/PRECISION.md):
 *   - bf16_from_float against hand-worked roundings (ties to even, carries,
 *     subnormals, NaN, overflow);
 *   - the kernel against its plain twin (tests/reference/bf16_gemm_reference.c,
 *     double sums of the same BF16 inputs) within the float32 accumulation
 *     bound the derivation uses, on shapes with partial panels, partial
 *     groups of weight rows and odd K; an element's bits independent of the
 *     call it was computed in;
 *   - the bound against the exact float32 product (BLAS, and double sums) on
 *     random rows, and on adversarial rows built so that every rounding to
 *     BF16 errs by nearly 2^-8 in the same direction: there the error comes
 *     within a few percent of the bound, so half the bound fails.
 * Both bodies (vdpbf16ps and AMX) are checked where the CPU has them; the
 * bound with the best one, as the lens runs it. ctest runs it once per
 * level (LOUPE_CPU): below avx512, or on a CPU without AVX512_BF16, it
 * checks that the kernel is not offered (the lens then refuses the bf16
 * mode) and tests the conversion only.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bf16_gemm_reference.h"
#include "kernels/bf16_gemm.h"
#include "kernels/matmul.h"
#include "lens/lens_bf16.h"
#include "test_support.h"
#include "util/cpu_features.h"

static uint64_t random_state = 0x2545F4914F6CDD1Dull;

/* Uniform in [-0.5, 0.5). */
static float random_value(void) { return (float)(test_random_unit(&random_state) - 0.5); }

static float from_bits(uint32_t bits) {
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* rows (M, K) as the kernel's rows operand, with the rows past M that it
 * may read holding NaN: they must not matter. Caller frees. */
static uint16_t *convert(const float *rows, int M, int K) {
    const size_t values = (size_t)bf16_gemm_padded_rows(M) * bf16_gemm_padded_width(K);
    uint16_t *converted = aligned_alloc(64, (values * sizeof(uint16_t) + 63) / 64 * 64);
    if (converted == NULL) return NULL;
    for (size_t i = 0; i < values; i++) converted[i] = 0x7FC0;
    bf16_convert_rows(converted, rows, M, K);
    return converted;
}

/* weight (N, K) packed into panels. Caller frees. */
static uint16_t *pack(const float *weight, int N, int K) {
    uint16_t *packed = aligned_alloc(64, bf16_gemm_packed_values(N, K) * sizeof(uint16_t));
    if (packed == NULL) return NULL;
    for (int panel = 0; panel < bf16_gemm_panels(N); panel++) bf16_gemm_pack_panel(packed, weight, N, K, panel);
    return packed;
}

static void test_conversion(void) {
    CHECK(bf16_from_float(1.0f) == 0x3F80);
    CHECK(bf16_from_float(-2.0f) == 0xC000);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1). */
    CHECK(bf16_from_float(from_bits(0x3F808000u)) == 0x3F80);
    /* 1 + 3 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up. */
    CHECK(bf16_from_float(from_bits(0x3F818000u)) == 0x3F82);
    /* just above and below a halfway point */
    CHECK(bf16_from_float(from_bits(0x3F808001u)) == 0x3F81);
    CHECK(bf16_from_float(from_bits(0x3F807FFFu)) == 0x3F80);
    /* a carry into the exponent: the largest value below 2 rounds to 2 */
    CHECK(bf16_from_float(from_bits(0x3FFFFFFFu)) == 0x4000);
    /* subnormals flush to a zero of their sign; the smallest normal stays */
    CHECK(bf16_from_float(from_bits(0x00400000u)) == 0x0000);
    CHECK(bf16_from_float(from_bits(0x80400000u)) == 0x8000);
    CHECK(bf16_from_float(0x1p-126f) == 0x0080);
    /* past the largest BF16 value: infinity; NaN stays NaN */
    CHECK(bf16_from_float(from_bits(0x7F7FFFFFu)) == 0x7F80);
    CHECK(isnan(bf16_to_float(bf16_from_float(NAN))));
    CHECK(bf16_to_float(0x3F81) == 1.0f + 0x1p-7f);
    /* every rounding of a normal float is within 2^-8 of it, relatively */
    double worst = 0.0;
    for (int i = 0; i < 100000; i++) {
        float x = (float)ldexp(random_value(), (int)(test_random_unit(&random_state) * 200) - 100);
        if (x == 0.0f) continue;
        worst = fmax(worst, fabs((double)bf16_to_float(bf16_from_float(x)) - x) / fabs((double)x));
    }
    CHECK_MSG(worst <= 0x1p-8 && worst > 0.9 * 0x1p-8, "worst relative rounding %g", worst);
    /* rows padded with a zero to an even width */
    const float rows[6] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
    uint16_t converted[64];
    bf16_convert_rows(converted, rows, 2, 3);
    CHECK(bf16_gemm_padded_width(3) == 32 && bf16_gemm_padded_width(32) == 32 && bf16_gemm_padded_width(33) == 64);
    CHECK(converted[3] == 0 && converted[31] == 0 && converted[63] == 0 && bf16_to_float(converted[32]) == 4.0f);
    CHECK(bf16_gemm_padded_rows(1) == 32 && bf16_gemm_padded_rows(32) == 32 && bf16_gemm_padded_rows(33) == 64);
    /* a packed row: value k of weight row r at panel r / 32, pair k / 2, row r % 32, k % 2 */
    float weight[40 * 3];
    for (int i = 0; i < 40 * 3; i++) weight[i] = (float)(i + 1);
    uint16_t *packed = pack(weight, 40, 3), copy[2 * 32 * 32];
    if (packed != NULL) {
        const size_t panel1 = 32 * 32; /* panel 1 starts after 32 rows of Kp = 32 */
        CHECK(bf16_to_float(packed[(0 * 32 + 5) * 2 + 1]) == weight[5 * 3 + 1]);
        CHECK(bf16_to_float(packed[panel1 + (1 * 32 + 2) * 2 + 0]) == weight[34 * 3 + 2]);
        CHECK(packed[panel1 + (1 * 32 + 2) * 2 + 1] == 0 && packed[panel1 + (0 * 32 + 9) * 2] == 0);
        memset(copy, 0, sizeof copy);
        bf16_gemm_copy_packed_row(copy, 33, packed, 7, 3);
        CHECK(bf16_to_float(copy[panel1 + (0 * 32 + 1) * 2 + 1]) == weight[7 * 3 + 1]);
        CHECK(bf16_to_float(copy[panel1 + (1 * 32 + 1) * 2 + 0]) == weight[7 * 3 + 2]);
    }
    free(packed);
    /* the vector conversion (16 at a time) and the scalar tail agree with bf16_from_float */
    float many[37];
    uint16_t many_converted[64];
    const uint32_t specials[] = {0x3F808000u, 0x3F818000u, 0x00400000u, 0x80400000u, 0x7F7FFFFFu, 0x7FC00001u,
                                 0xFF800000u, 0x3FFFFFFFu};
    for (int i = 0; i < 37; i++) many[i] = i < 8 ? from_bits(specials[i]) : random_value() * 1000;
    many[20] = from_bits(0x3F808000u), many[21] = from_bits(0x00400000u), many[36] = from_bits(0x3F818000u);
    bf16_convert_rows(many_converted, many, 1, 37);
    int agree = 1;
    for (int i = 0; i < 37; i++) agree &= many_converted[i] == bf16_from_float(many[i]);
    CHECK(agree);
}

/* out (M, N) from the body against the twin: within gamma sum |products| +
 * 2 Kp 2^-126, gamma = Kp 2^-23 / (1 - Kp 2^-23) (bf16_gemm.h). */
static void check_shape(bf16_gemm_body body, int M, int N, int K) {
    const int ldo = N + 3, Kp = bf16_gemm_padded_width(K);
    float *rows = malloc((size_t)M * K * sizeof(float)), *weight = malloc((size_t)N * K * sizeof(float));
    float *out = malloc((size_t)M * ldo * sizeof(float));
    double *expected = malloc((size_t)M * ldo * sizeof(double)), *magnitude = malloc((size_t)M * ldo * sizeof(double));
    uint16_t *converted = NULL, *packed = NULL;
    if (!rows || !weight || !out || !expected || !magnitude) {
        CHECK(!"out of memory");
        goto done;
    }
    for (size_t i = 0; i < (size_t)M * K; i++) rows[i] = random_value() * 4;
    for (size_t i = 0; i < (size_t)N * K; i++) weight[i] = random_value();
    converted = convert(rows, M, K);
    packed = pack(weight, N, K);
    if (converted == NULL || packed == NULL) {
        CHECK(!"out of memory");
        goto done;
    }
    for (size_t i = 0; i < (size_t)M * ldo; i++) out[i] = 12345.0f;
    bf16_gemm_with(body, out, ldo, converted, M, packed, N, K);
    bf16_gemm_reference(expected, magnitude, ldo, rows, M, weight, N, K);
    const double gamma = Kp * 0x1p-23 / (1 - Kp * 0x1p-23);
    int bad = 0, untouched = 1;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            size_t at = (size_t)i * ldo + j;
            double allowed = gamma * magnitude[at] * (1 + 1e-9) + 2 * Kp * 0x1p-126;
            bad += !(fabs(out[at] - expected[at]) <= allowed);
        }
        for (int j = N; j < ldo; j++) untouched &= out[(size_t)i * ldo + j] == 12345.0f;
    }
    CHECK_MSG(bad == 0, "body %d M %d N %d K %d: %d elements beyond the accumulation bound", body, M, N, K, bad);
    CHECK_MSG(untouched, "body %d M %d N %d K %d: columns past N written", body, M, N, K);
    /* The same element from a call on one row and the weight rows from the
     * last panel on: the same bits. */
    if (M > 1) {
        const int i = M - 1, j0 = (N - 1) / BF16_GEMM_PANEL_ROWS * BF16_GEMM_PANEL_ROWS;
        uint16_t *single = convert(rows + (size_t)i * K, 1, K);
        float part[BF16_GEMM_PANEL_ROWS];
        if (single != NULL) {
            const int columns = N - j0;
            bf16_gemm_with(body, part, BF16_GEMM_PANEL_ROWS, single, 1, packed + (size_t)j0 * Kp, columns, K);
            int same = 1;
            for (int j = 0; j < columns; j++) same &= memcmp(&part[j], &out[(size_t)i * ldo + j0 + j], sizeof(float)) == 0;
            CHECK_MSG(same, "body %d M %d N %d K %d: an element's bits depend on the call", body, M, N, K);
        }
        free(single);
    }
done:
    free(rows), free(weight), free(out), free(expected), free(magnitude), free(converted), free(packed);
}

/* Whether every |bf16 logit - exact logit| is within bound. */
static bool bound_holds(const float *bf16_logits, const float *exact_logits, int n, double bound) {
    for (int j = 0; j < n; j++)
        if (!(fabs((double)bf16_logits[j] - exact_logits[j]) <= bound)) return false;
    return true;
}

/* The lens's arithmetic on one row x (K) against weight (N, K): the kernel's
 * logits, the float32 product (BLAS) and the double one, and the bound
 * lens_bf16_logit_error_bound gives. Returns the largest error over the
 * bound (against either exact product), and checks the bound holds. */
static double bound_case(const char *name, const float *x, const float *weight, int N, int K, bool weight_exact) {
    lens_bf16_unembedding unembedding;
    float *bf16_logits = malloc((size_t)N * sizeof(float)), *f32_logits = malloc((size_t)N * sizeof(float));
    float *double_logits = malloc((size_t)N * sizeof(float));
    uint16_t *packed = convert(x, 1, K);
    double ratio = NAN;
    if (!bf16_logits || !f32_logits || !double_logits || !packed ||
        !lens_bf16_unembedding_build(&unembedding, &(weight_view){WEIGHT_DTYPE_F32, weight, N, K}, N, K)) {
        CHECK(!"out of memory");
        goto done;
    }
    CHECK_MSG(unembedding.exact == weight_exact, "%s: exact %d", name, unembedding.exact);
    bf16_gemm(bf16_logits, N, packed, 1, unembedding.rows, N, K);
    matmul(f32_logits, x, weight, NULL, 1, K, N, MATMUL_WEIGHT_OUT_IN, false);
    matmul_reference(double_logits, x, weight, NULL, 1, K, N, MATMUL_WEIGHT_OUT_IN, false);
    const double bound = lens_bf16_logit_error_bound(&unembedding, lens_bf16_row_norm(x, K));
    CHECK_MSG(isfinite(bound) && bound > 0, "%s: bound %g", name, bound);
    CHECK_MSG(bound_holds(bf16_logits, f32_logits, N, bound), "%s: beyond the bound against float32", name);
    CHECK_MSG(bound_holds(bf16_logits, double_logits, N, bound), "%s: beyond the bound against double", name);
    ratio = 0.0;
    for (int j = 0; j < N; j++)
        ratio = fmax(ratio, fmax(fabs((double)bf16_logits[j] - f32_logits[j]),
                                 fabs((double)bf16_logits[j] - double_logits[j])) / bound);
    printf("  %-34s error / bound %.4f\n", name, ratio);
    lens_bf16_unembedding_free(&unembedding);
done:
    free(bf16_logits), free(f32_logits), free(double_logits), free(packed);
    return ratio;
}

static void test_bound(void) {
    enum { N = 64, K = 768 };
    float *x = malloc((size_t)K * sizeof(float)), *weight = malloc((size_t)N * K * sizeof(float));
    if (!x || !weight) {
        CHECK(!"out of memory");
        free(x), free(weight);
        return;
    }
    /* random rows: the bound holds (far from tight: errors cancel) */
    for (int k = 0; k < K; k++) x[k] = random_value() * 8;
    for (int i = 0; i < N * K; i++) weight[i] = random_value() * 0.2f;
    bound_case("random", x, weight, N, K, false);
    /* adversarial: every entry just below 1 + 2^-8, which rounds down to 1
     * with a relative error of nearly 2^-8, all of one sign; equal
     * magnitudes make Cauchy-Schwarz tight. The error is then nearly
     * 2 2^-8 A X, the bound's leading term. */
    const float below_half_step = from_bits(0x3F807FFFu);
    for (int k = 0; k < K; k++) x[k] = below_half_step;
    for (int i = 0; i < N * K; i++) weight[i] = below_half_step;
    double ratio = bound_case("adversarial", x, weight, N, K, false);
    CHECK_MSG(ratio > 0.5 && ratio <= 1.0, "adversarial: error / bound %g: half the bound would hold", ratio);
    /* the same with weights that are BF16 values already (a BF16
     * checkpoint): the bound drops their rounding, and is still nearly met */
    for (int i = 0; i < N * K; i++) weight[i] = 1.0f;
    ratio = bound_case("adversarial, BF16 weights", x, weight, N, K, true);
    CHECK_MSG(ratio > 0.5 && ratio <= 1.0, "adversarial BF16: error / bound %g: half the bound would hold", ratio);
    /* half the bound fails the adversarial case: the check is not vacuous */
    {
        lens_bf16_unembedding unembedding;
        float logits[N], exact[N];
        uint16_t *packed = convert(x, 1, K);
        if (packed != NULL && lens_bf16_unembedding_build(&unembedding, &(weight_view){WEIGHT_DTYPE_F32, weight, N, K}, N, K)) {
            bf16_gemm(logits, N, packed, 1, unembedding.rows, N, K);
            matmul(exact, x, weight, NULL, 1, K, N, MATMUL_WEIGHT_OUT_IN, false);
            double bound = lens_bf16_logit_error_bound(&unembedding, lens_bf16_row_norm(x, K));
            CHECK(bound_holds(logits, exact, N, bound));
            CHECK(!bound_holds(logits, exact, N, bound / 2));
            lens_bf16_unembedding_free(&unembedding);
        } else {
            CHECK(!"out of memory");
        }
        free(packed);
    }
    /* too large to bound: +inf, never a wrong finite number */
    x[0] = 0x1p110f;
    lens_bf16_unembedding unembedding;
    if (lens_bf16_unembedding_build(&unembedding, &(weight_view){WEIGHT_DTYPE_F32, weight, N, K}, N, K)) {
        CHECK(isinf(lens_bf16_logit_error_bound(&unembedding, lens_bf16_row_norm(x, K))));
        lens_bf16_unembedding_free(&unembedding);
    }
    free(x), free(weight);
}

int main(void) {
    test_require_cpu_level("test_bf16_gemm");
    test_conversion();
    const bool expected = cpu_features_level() >= CPU_LEVEL_AVX512 && cpu_features_bf16();
    CHECK(bf16_gemm_available() == expected);
    CHECK(bf16_gemm_best_body() != BF16_GEMM_BODY_AMX || cpu_features_amx_bf16());
    if (bf16_gemm_available()) {
        const int shapes[][3] = {{1, 1, 1}, {1, 12, 2}, {31, 13, 7}, {32, 12, 768}, {33, 25, 769},
                                 {64, 24, 64}, {70, 511, 130}, {5, 3, 1025}, {17, 33, 31}};
        for (int body = BF16_GEMM_BODY_AVX512_BF16; body <= (int)bf16_gemm_best_body(); body++) {
            printf("  body %s\n", body == BF16_GEMM_BODY_AMX ? "amx" : "avx512_bf16");
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                check_shape((bf16_gemm_body)body, shapes[s][0], shapes[s][1], shapes[s][2]);
        }
        test_bound();
    } else {
        printf("  no AVX512_BF16 at this level: the kernel is not offered\n");
    }
    return test_finish("test_bf16_gemm");
}
