/*
 * model_gradient.c - the family dispatch and the checks common to every
 * family.
 */
#include "train/model_gradient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "train/model_gradient_decoder.h"
#include "train/model_gradient_family.h"
#include "util/error.h"

/* The trainable model types, by config.json's model_type. */
static const struct {
    const char *model_type;
    const model_gradient_family *family;
} FAMILIES[] = {
    {"gpt2", &MODEL_GRADIENT_GPT2},
    {"llama", &MODEL_GRADIENT_DECODER},
    {"mistral", &MODEL_GRADIENT_DECODER},
    {"qwen2", &MODEL_GRADIENT_DECODER},
};
enum { N_FAMILIES = sizeof FAMILIES / sizeof FAMILIES[0] };

struct model_gradient {
    const model_gradient_family *family;
    void *state;
    int max_batch, T, n_vocab, n_layer;
};

void model_gradient_supported_types(char *buffer, size_t capacity) {
    size_t used = 0;
    if (capacity == 0) return;
    buffer[0] = '\0';
    for (int i = 0; i < N_FAMILIES; i++) {
        int written = snprintf(buffer + used, capacity - used, "%s%s", i ? ", " : "", FAMILIES[i].model_type);
        if (written < 0 || (size_t)written >= capacity - used) return;
        used += (size_t)written;
    }
}

loupe_status model_gradient_create(const loupe_model *model, const train_parameters *params, int max_batch, int T,
                                   const model_loss_settings *settings, model_gradient **out, loupe_error *error) {
    *out = NULL;
    const model_description *description = &model->description;
    const model_gradient_family *family = NULL;
    for (int i = 0; i < N_FAMILIES; i++)
        if (strcmp(description->model_type, FAMILIES[i].model_type) == 0) family = FAMILIES[i].family;
    if (family == NULL) {
        char supported[256];
        model_gradient_supported_types(supported, sizeof supported);
        return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                         "%s: cannot train a model of type '%s': it needs %s (trainable types: %s)",
                         model->directory, description->model_type, decoder_gradient_missing(description),
                         supported);
    }
    if (T < 1 || T > description->n_ctx)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "context %d is outside 1 .. %d (the model's n_ctx)", T,
                         description->n_ctx);
    if (max_batch < 1)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "batch of %d windows: expected at least 1", max_batch);
    if (!(settings->lens_weight >= 0.0) || settings->lens_weight > 1e300)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "lens weight %g: expected a finite number >= 0",
                         settings->lens_weight);
    model_gradient *gradient = calloc(1, sizeof *gradient);
    if (gradient == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the model gradient");
    gradient->family = family;
    gradient->max_batch = max_batch;
    gradient->T = T;
    gradient->n_vocab = description->n_vocab;
    gradient->n_layer = description->n_layer;
    loupe_status status = family->create(model, params, max_batch, T, settings, &gradient->state, error);
    if (status != LOUPE_OK) {
        free(gradient);
        return status;
    }
    *out = gradient;
    return LOUPE_OK;
}

loupe_status model_gradient_accumulate(model_gradient *gradient, const train_parameters *params, const int32_t *ids,
                                       int B, double weight, float *grads, model_loss_parts *parts, double *row_ce,
                                       loupe_error *error) {
    if (B < 1 || B > gradient->max_batch)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "batch of %d windows: expected 1 .. %d", B,
                         gradient->max_batch);
    int T = gradient->T;
    for (int b = 0; b < B; b++)
        for (int t = 0; t <= T; t++) {
            int32_t id = ids[(size_t)b * (T + 1) + t];
            if (id < 0 || id >= gradient->n_vocab)
                return error_set(error, LOUPE_ERROR_ARGUMENT,
                                 "window %d, position %d: token id %d is outside 0 .. %d", b, t, (int)id,
                                 gradient->n_vocab - 1);
        }
    return gradient->family->accumulate(gradient->state, params, ids, B, weight, grads, parts, row_ce, error);
}

void model_gradient_free(model_gradient *gradient) {
    if (gradient == NULL) return;
    gradient->family->free(gradient->state);
    free(gradient);
}
