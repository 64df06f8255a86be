/*
 * model_gradient_dump.c - one forward/backward of `loupe finetune`'s loss
 * (src/train/model_gradient.h) on given windows, written as a safetensors
 * file for tests that compare it with PyTorch autograd
 * (tests/reference/gpt2_gradient_check.py).
 *
 *   model_gradient_dump MODEL_DIR OUT.safetensors LAMBDA ROWS B T ID...
 *
 * ROWS is "all" (S = rows 0 .. L-1) or a comma list of rows ("0,2"); the
 * B (T+1) ids are the windows one after another. OUT holds every
 * parameter's gradient (weight 1) under the parameter's name and shape, and
 * in __metadata__ "loss", "final_ce", "lens_ce" and "row_ce" (a JSON list,
 * null for rows not computed), each with 17 digits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors_write.h"
#include "loupe.h"
#include "model/model.h"
#include "train/model_gradient.h"
#include "train/train_parameters.h"

static int fail(const char *what, const loupe_error *error) {
    fprintf(stderr, "model_gradient_dump: %s: %s\n", what, error->message);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: model_gradient_dump MODEL_DIR OUT.safetensors LAMBDA ROWS B T ID...\n");
        return 2;
    }
    double lambda = atof(argv[3]);
    int B = atoi(argv[5]), T = atoi(argv[6]);
    if (B < 1 || T < 1 || argc != 7 + B * (T + 1)) {
        fprintf(stderr, "model_gradient_dump: expected B (T+1) = %d ids, got %d\n", B * (T + 1), argc - 7);
        return 2;
    }
    loupe_error error;
    loupe_model *model = NULL;
    if (loupe_model_open(argv[1], &model, &error) != LOUPE_OK) return fail("open", &error);
    int L = model->description.n_layer;
    bool *rows = calloc((size_t)L, sizeof(bool));
    if (strcmp(argv[4], "all") != 0) {
        char *text = strdup(argv[4]);
        for (char *item = strtok(text, ","); item; item = strtok(NULL, ",")) {
            int row = atoi(item);
            if (row >= 0 && row < L) rows[row] = true;
        }
        free(text);
    }
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)B * (T + 1));
    for (int i = 0; i < B * (T + 1); i++) ids[i] = (int32_t)atoi(argv[7 + i]);
    train_parameters params;
    if (train_parameters_load(model, &params, &error) != LOUPE_OK) return fail("parameters", &error);
    model_loss_settings settings = {.lens_weight = lambda, .lens_rows = strcmp(argv[4], "all") ? rows : NULL};
    model_gradient *gradient = NULL;
    if (model_gradient_create(model, &params, B, T, &settings, &gradient, &error) != LOUPE_OK)
        return fail("create", &error);
    float *grads = calloc(params.n_values, sizeof(float));
    model_loss_parts parts;
    double *row_ce = malloc(sizeof(double) * (size_t)(L + 1));
    if (model_gradient_accumulate(gradient, &params, ids, B, 1.0, grads, &parts, row_ce, &error) != LOUPE_OK)
        return fail("accumulate", &error);

    safetensors_typed_entry *entries = calloc(params.n_tensors, sizeof *entries);
    for (size_t i = 0; i < params.n_tensors; i++) {
        const train_tensor *tensor = &params.tensors[i];
        entries[i] = (safetensors_typed_entry){.name = tensor->name, .dtype = SAFETENSORS_WRITE_F32,
                                               .n_dims = tensor->n_dims, .data = grads + tensor->offset};
        for (int d = 0; d < tensor->n_dims; d++) entries[i].shape[d] = tensor->shape[d];
    }
    char loss[64], final_ce[64], lens_ce[64], *row_text = malloc((size_t)(L + 1) * 32 + 8);
    snprintf(loss, sizeof loss, "%.17g", parts.loss);
    snprintf(final_ce, sizeof final_ce, "%.17g", parts.final_ce);
    snprintf(lens_ce, sizeof lens_ce, "%.17g", parts.lens_ce);
    size_t used = (size_t)sprintf(row_text, "[");
    for (int l = 0; l <= L; l++) {
        if (isnan(row_ce[l]))
            used += (size_t)sprintf(row_text + used, "%snull", l ? ", " : "");
        else
            used += (size_t)sprintf(row_text + used, "%s%.17g", l ? ", " : "", row_ce[l]);
    }
    sprintf(row_text + used, "]");
    safetensors_metadata metadata[] = {
        {"loss", loss}, {"final_ce", final_ce}, {"lens_ce", lens_ce}, {"row_ce", row_text}};
    if (safetensors_write_file(argv[2], entries, params.n_tensors, metadata, 4, &error) != LOUPE_OK)
        return fail("write", &error);
    free(entries), free(row_text), free(row_ce), free(grads), free(ids), free(rows);
    model_gradient_free(gradient);
    train_parameters_free(&params);
    loupe_model_close(model);
    return 0;
}
