/*
 * test_gpt2_forward.c - the GPT-2 forward pass against Hugging Face
 * transformers: every hidden state and the final logits of the tiny
 * fixtures (gelu_new, relu, bf16 weights) within 1e-4.
 */
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "loupe.h"
#include "test_reference.h"
#include "test_support.h"

typedef struct tap_capture {
    float *taps; /* (L+1, T, C) */
    int n_seen;
    int max_taps;
} tap_capture;

static loupe_status capture_tap(void *user, loupe_tap_kind kind, int layer, const float *residual,
                                int T, int C) {
    tap_capture *capture = user;
    (void)kind;
    (void)layer;
    if (capture->n_seen >= capture->max_taps) return LOUPE_ERROR_ARGUMENT;
    memcpy(capture->taps + (size_t)capture->n_seen * T * C, residual, (size_t)T * C * sizeof(float));
    capture->n_seen++;
    return LOUPE_OK;
}

static void check_fixture(const char *name) {
    char model_dir[512], reference_path[544];
    snprintf(model_dir, sizeof model_dir, "%s", test_data_path(name));
    snprintf(reference_path, sizeof reference_path, "%s/reference.safetensors", model_dir);

    loupe_model *model = NULL;
    loupe_error error;
    loupe_status status = loupe_model_open(model_dir, &model, &error);
    CHECK_MSG(status == LOUPE_OK, "%s: %s", name, error.message);
    safetensors_file reference;
    memset(&reference, 0, sizeof reference);
    CHECK_MSG(safetensors_open(reference_path, &reference, &error) == LOUPE_OK, "%s", error.message);
    if (model == NULL || reference.tensors == NULL) {
        loupe_model_close(model);
        safetensors_close(&reference);
        return;
    }
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    int L = info.n_layer, C = info.n_embd, V = info.n_vocab;

    const tensor_view *ids_view = safetensors_find(&reference, "input_ids");
    int32_t *ids = ids_view != NULL ? malloc((size_t)ids_view->n_elements * sizeof *ids + 1) : NULL;
    int T = ids != NULL ? test_input_ids(&reference, ids, (int)ids_view->n_elements) : -1;
    CHECK(T >= 0);
    if (T < 0) return;

    tap_capture capture = {malloc((size_t)(L + 1) * T * C * sizeof(float)), 0, L + 1};
    float *final_residual = malloc((size_t)T * C * sizeof(float));
    loupe_forward_params params = loupe_forward_default_params();
    params.tap = capture_tap;
    params.tap_user = &capture;
    status = loupe_model_forward(model, ids, T, &params, final_residual, &error);
    CHECK_MSG(status == LOUPE_OK, "%s: %s", name, error.message);
    CHECK(capture.n_seen == L + 1);
    CHECK(memcmp(final_residual, capture.taps + (size_t)L * T * C, (size_t)T * C * sizeof(float)) == 0);

    double max_hidden_diff = 0.0;
    for (int layer = 0; layer <= L; layer++) {
        char tensor_name[32];
        snprintf(tensor_name, sizeof tensor_name, "hidden.%d", layer);
        float *expected = test_tensor_f32(&reference, tensor_name, (int64_t)T * C);
        CHECK_MSG(expected != NULL, "%s: %s missing", name, tensor_name);
        if (expected == NULL) continue;
        float *ours = capture.taps + (size_t)layer * T * C;
        float *normed = malloc((size_t)T * C * sizeof *normed);
        if (layer == L) {
            /* transformers stores the last hidden state after ln_f */
            loupe_model_final_norm(model, ours, T, normed);
            ours = normed;
        }
        double diff = test_max_abs_diff(ours, expected, (size_t)T * C);
        free(normed);
        if (diff > max_hidden_diff) max_hidden_diff = diff;
        CHECK_MSG(diff < 1e-4, "%s: %s differs by %g", name, tensor_name, diff);
        free(expected);
    }

    float *expected_lens = test_tensor_f32(&reference, "lens_logits", (int64_t)(L + 1) * T * V);
    CHECK(expected_lens != NULL);
    float *logits = malloc((size_t)T * V * sizeof(float));
    CHECK(loupe_model_logits(model, final_residual, T, logits, &error) == LOUPE_OK);
    if (expected_lens) {
        double diff = test_max_abs_diff(logits, expected_lens + (size_t)L * T * V, (size_t)T * V);
        CHECK_MSG(diff < 1e-4, "%s: final logits differ by %g", name, diff);
        printf("%s: max |difference| from transformers: hidden states %.3g, final logits %.3g\n", name,
               max_hidden_diff, diff);
    }

    /* The next-token distribution is the softmax of the last row. */
    float *probs = malloc((size_t)V * sizeof(float));
    CHECK(loupe_model_next_probs(model, ids, T, 1.0f, probs, &error) == LOUPE_OK);
    double total = 0.0;
    int best = 0;
    for (int v = 0; v < V; v++) {
        total += probs[v];
        if (probs[v] > probs[best]) best = v;
    }
    int expected_best = 0;
    const float *last = logits + (size_t)(T - 1) * V;
    for (int v = 0; v < V; v++)
        if (last[v] > last[expected_best]) expected_best = v;
    CHECK(total > 0.9999 && total < 1.0001);
    CHECK(best == expected_best);

    free(probs);
    free(logits);
    free(expected_lens);
    free(final_residual);
    free(capture.taps);
    free(ids);
    safetensors_close(&reference);
    loupe_model_close(model);
}

static void check_errors(void) {
    loupe_model *model = NULL;
    loupe_error error;
    if (loupe_model_open(test_data_path("gpt2-tiny-gelu"), &model, &error) != LOUPE_OK) {
        CHECK_MSG(0, "%s", error.message);
        return;
    }
    int32_t ids[65] = {0};
    /* The fixture's context is 64 tokens: 65 must be refused, naming both. */
    CHECK(loupe_model_forward(model, ids, 65, NULL, NULL, &error) == LOUPE_ERROR_LIMIT);
    CHECK(strstr(error.message, "65 tokens") != NULL && strstr(error.message, "64") != NULL);
    ids[3] = 1000; /* vocabulary is 1000 */
    CHECK(loupe_model_forward(model, ids, 8, NULL, NULL, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(strstr(error.message, "position 3") != NULL);
    CHECK(loupe_model_forward(model, ids, 0, NULL, NULL, &error) == LOUPE_ERROR_ARGUMENT);
    loupe_model_close(model);
}

int main(void) {
    check_fixture("gpt2-tiny-gelu");
    check_fixture("gpt2-tiny-relu");
    check_fixture("gpt2-tiny-bf16");
    check_fixture("llama-tiny"); /* the same taps through the rotary decoder */
    check_errors();
    return test_finish("test_gpt2_forward");
}
