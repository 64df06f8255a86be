/*
 * test_model_gradient.c - model_gradient's contract beside the PyTorch
 * check (tests/train/finetune_gradient.sh): the same batch twice
 * gives the same bits; gradients add across calls and scale with the
 * weight; row CEs are NaN where not computed; the gradient along a random
 * direction equals the central difference of the loss computed in float (a
 * loose, independent check; GELU only, ReLU's kinks spoil it); refusals of an untrainable family, of ids out of
 * range and of batch sizes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loupe.h"
#include "model/model.h"
#include "test_support.h"
#include "train/model_gradient.h"
#include "train/train_parameters.h"

enum { B = 2, T = 12 };

static void make_ids(int32_t *ids, int n, int V, uint64_t seed) {
    for (int i = 0; i < n; i++) ids[i] = (int32_t)(test_random_unit(&seed) * V);
}

static void test_gpt2(const char *fixture) {
    loupe_model *model = NULL;
    loupe_error error;
    if (loupe_model_open(test_data_path(fixture), &model, &error) != LOUPE_OK) {
        CHECK_MSG(false, "%s", error.message);
        return;
    }
    train_parameters params;
    if (train_parameters_load(model, &params, &error) != LOUPE_OK) {
        CHECK_MSG(false, "%s", error.message);
        loupe_model_close(model);
        return;
    }
    int L = model->description.n_layer, V = model->description.n_vocab;
    int32_t ids[B * (T + 1)];
    make_ids(ids, B * (T + 1), V, 0x1234567u);
    bool rows[16] = {false};
    rows[1] = true;
    model_loss_settings settings = {.lens_weight = 0.7, .lens_rows = rows};
    model_gradient *gradient = NULL;
    loupe_status status = model_gradient_create(model, &params, B, T, &settings, &gradient, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    if (status != LOUPE_OK) goto done;
    size_t n = params.n_values;
    float *first = calloc(n, sizeof(float)), *second = calloc(n, sizeof(float)), *twice = calloc(n, sizeof(float));
    model_loss_parts parts_a, parts_b;
    double row_ce[16];
    CHECK(model_gradient_accumulate(gradient, &params, ids, B, 1.0, first, &parts_a, row_ce, &error) == LOUPE_OK);
    CHECK(model_gradient_accumulate(gradient, &params, ids, B, 1.0, second, &parts_b, NULL, &error) == LOUPE_OK);
    CHECK(memcmp(first, second, n * sizeof(float)) == 0);
    CHECK(parts_a.loss == parts_b.loss && parts_a.final_ce == parts_b.final_ce);
    CHECK(fabs(parts_a.loss - (parts_a.final_ce + 0.7 * parts_a.lens_ce)) < 1e-12);
    CHECK(isnan(row_ce[0]) && !isnan(row_ce[1]) && isnan(row_ce[2]) && row_ce[L] == parts_a.final_ce);
    CHECK(row_ce[1] == parts_a.lens_ce);
    /* accumulation and weight: first + 2 x gradient = 3 x gradient */
    CHECK(model_gradient_accumulate(gradient, &params, ids, B, 2.0, first, &parts_b, NULL, &error) == LOUPE_OK);
    double worst = 0.0, largest = 0.0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(first[i] - 3.0 * second[i]));
        largest = fmax(largest, fabs(second[i]));
    }
    CHECK_MSG(largest > 0 && worst <= 1e-5 * largest, "accumulated %g of %g", worst, largest);

    /* a directional finite difference in float: loss(p + h u) - loss(p - h u) over 2h vs g . u */
    uint64_t seed = 99;
    float *direction = calloc(n, sizeof(float)), *saved = malloc(n * sizeof(float));
    memcpy(saved, params.values, n * sizeof(float));
    double slope = 0.0;
    for (size_t i = 0; i < n; i++) {
        direction[i] = (float)(test_random_unit(&seed) - 0.5);
        slope += (double)direction[i] * second[i];
    }
    double h = 1e-3, losses[2];
    for (int side = 0; side < 2; side++) {
        for (size_t i = 0; i < n; i++) params.values[i] = saved[i] + (float)((side ? -h : h) * direction[i]);
        memset(twice, 0, n * sizeof(float));
        CHECK(model_gradient_accumulate(gradient, &params, ids, B, 0.0, twice, &parts_b, NULL, &error) == LOUPE_OK);
        losses[side] = parts_b.loss;
    }
    memcpy(params.values, saved, n * sizeof(float));
    double finite = (losses[0] - losses[1]) / (2 * h);
    /* ReLU's kinks make the difference meaningless at this step: GELU only */
    CHECK_MSG(model->description.activation == ACTIVATION_RELU || fabs(finite - slope) <= 2e-3 * fabs(slope), "%s: directional derivative %g, gradient %g", fixture,
              finite, slope);
    printf("%s: loss %.6f (final %.6f, lens %.6f); directional derivative %.6g vs gradient %.6g\n", fixture,
           parts_a.loss, parts_a.final_ce, parts_a.lens_ce, finite, slope);

    /* refusals */
    ids[T + 3] = V;
    CHECK(model_gradient_accumulate(gradient, &params, ids, B, 1.0, twice, &parts_b, NULL, &error) ==
          LOUPE_ERROR_ARGUMENT);
    CHECK(strstr(error.message, "window 1, position 2") != NULL);
    CHECK(model_gradient_accumulate(gradient, &params, ids, B + 1, 1.0, twice, &parts_b, NULL, &error) ==
          LOUPE_ERROR_ARGUMENT);
    model_gradient *other = NULL;
    CHECK(model_gradient_create(model, &params, B, model->description.n_ctx + 1, &settings, &other, &error) ==
          LOUPE_ERROR_ARGUMENT && other == NULL);
    model_loss_settings negative = {.lens_weight = -1.0};
    CHECK(model_gradient_create(model, &params, B, T, &negative, &other, &error) == LOUPE_ERROR_ARGUMENT);
    /* lambda 0: only the final row */
    model_loss_settings plain = {.lens_weight = 0.0};
    CHECK(model_gradient_create(model, &params, B, T, &plain, &other, &error) == LOUPE_OK);
    ids[T + 3] = 0;
    if (other) {
        CHECK(model_gradient_accumulate(other, &params, ids, B, 1.0, twice, &parts_b, row_ce, &error) == LOUPE_OK);
        CHECK(parts_b.lens_ce == 0.0 && parts_b.loss == parts_b.final_ce && isnan(row_ce[0]));
    }
    model_gradient_free(other);
    free(first), free(second), free(twice), free(direction), free(saved);
done:
    model_gradient_free(gradient);
    train_parameters_free(&params);
    loupe_model_close(model);
}

static void test_unsupported(void) {
    loupe_model *model = NULL;
    loupe_error error;
    if (loupe_model_open(test_data_path("llama-tiny"), &model, &error) != LOUPE_OK) return;
    train_parameters params;
    CHECK(train_parameters_load(model, &params, &error) == LOUPE_OK);
    model_loss_settings settings = {.lens_weight = 0.0};
    model_gradient *gradient = NULL;
    loupe_status status = model_gradient_create(model, &params, 1, 4, &settings, &gradient, &error);
    char supported[128];
    model_gradient_supported_types(supported, sizeof supported);
    if (strstr(supported, "llama") == NULL) {
        CHECK(status == LOUPE_ERROR_UNSUPPORTED && gradient == NULL);
        CHECK(strstr(error.message, "'llama'") != NULL && strstr(error.message, "gpt2") != NULL);
    }
    model_gradient_free(gradient);
    train_parameters_free(&params);
    loupe_model_close(model);
}

int main(void) {
    test_gpt2("gpt2-tiny-gelu");
    test_gpt2("gpt2-tiny-relu");
    test_unsupported();
    return test_finish("test_model_gradient");
}
