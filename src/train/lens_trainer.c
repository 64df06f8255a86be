/*
 * lens_trainer.c - training a tuned lens as tuned-lens's train_loop does
 * (include/loupe.h): per window, the model's forward pass with every tap
 * kept and the loss gradient of its positions (lens_loss.h); per step, the
 * mean gradient, clipped, and one SGD step (lens_sgd.h). The parameters are
 * one vector to the optimizer, [A_0 .. A_{L-1} | b_0 .. b_{L-1}], so the
 * clipping norm spans all of them, as clip_grad_norm_ on lens.parameters().
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/safetensors.h"
#include "io/json.h"
#include "io/safetensors_write.h"
#include "model/model.h"
#include "train/lens_loss.h"
#include "train/lens_sgd.h"
#include "tuned/tuned_lens.h"
#include "tuned/unembedding_hash.h"
#include "util/error.h"
#include "util/file_map.h"
#include "util/file_replace.h"

struct loupe_lens_trainer {
    const loupe_model *model;
    loupe_lens_train_params params;
    loupe_tuned_lens *lens;
    lens_loss_workspace *workspace;
    int L, C, max_tokens;
    size_t n_values;     /* L C C + L C */
    float *taps;         /* (L+1, max_tokens, C) */
    int n_taps;
    float *grads;        /* (n_values) [dA | db], summed over the pending positions */
    float *momentum;     /* (n_values) */
    float *values;       /* (n_values) the parameters during a step */
    double *loss_sums;   /* (L) */
    int64_t pending;
    int steps_done;
};

loupe_lens_train_params loupe_lens_train_default_params(void) {
    loupe_lens_train_params params = {.loss = LOUPE_LENS_LOSS_KL, .steps = 250, .lr_scale = 1.0, .momentum = 0.9,
                                      .weight_decay = 1e-3, .max_grad_norm = 1.0, .warmup_steps = 0};
    return params;
}

void loupe_lens_trainer_free(loupe_lens_trainer *trainer) {
    if (trainer == NULL) return;
    loupe_tuned_lens_close(trainer->lens);
    lens_loss_workspace_free(trainer->workspace);
    free(trainer->taps);
    free(trainer->grads);
    free(trainer->momentum);
    free(trainer->values);
    free(trainer->loss_sums);
    free(trainer);
}

static loupe_status check_params(const loupe_lens_train_params *p, loupe_error *error) {
    if (p->steps < 1) return error_set(error, LOUPE_ERROR_ARGUMENT, "steps must be at least 1, not %d", p->steps);
    if (p->warmup_steps < 0 || p->warmup_steps >= p->steps)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "warmup_steps must be 0 .. steps - 1, not %d", p->warmup_steps);
    if (!(p->lr_scale > 0) || !(p->momentum >= 0 && p->momentum < 1) || !(p->weight_decay >= 0) ||
        !(p->max_grad_norm > 0))
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "lr_scale and max_grad_norm must be > 0, momentum in [0, 1), weight_decay >= 0");
    if (p->loss != LOUPE_LENS_LOSS_KL && p->loss != LOUPE_LENS_LOSS_CE)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "unknown loss %d", (int)p->loss);
    return LOUPE_OK;
}

loupe_status loupe_lens_trainer_create(const loupe_model *model, const loupe_lens_train_params *params,
                                       int max_tokens, loupe_lens_trainer **trainer_out, loupe_error *error) {
    *trainer_out = NULL;
    error_clear(error);
    loupe_lens_train_params defaults = loupe_lens_train_default_params();
    if (params == NULL) params = &defaults;
    loupe_status status = check_params(params, error);
    if (status != LOUPE_OK) return status;
    if (max_tokens < 2 || max_tokens > model->description.n_ctx)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "max_tokens must be 2 .. %d, not %d", model->description.n_ctx,
                         max_tokens);
    loupe_lens_trainer *t = calloc(1, sizeof *t);
    if (t == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the lens trainer");
    t->model = model;
    t->params = *params;
    t->L = model->description.n_layer, t->C = model->description.n_embd, t->max_tokens = max_tokens;
    t->n_values = (size_t)t->L * t->C * t->C + (size_t)t->L * t->C;
    t->lens = tuned_lens_create(model->directory, "", t->L, t->C);
    t->workspace = lens_loss_workspace_create(
        model, max_tokens, params->loss == LOUPE_LENS_LOSS_CE ? LENS_LOSS_CE : LENS_LOSS_KL);
    t->taps = malloc((size_t)(t->L + 1) * max_tokens * t->C * sizeof(float));
    t->grads = calloc(t->n_values, sizeof(float));
    t->momentum = calloc(t->n_values, sizeof(float));
    t->values = malloc(t->n_values * sizeof(float));
    t->loss_sums = calloc((size_t)t->L, sizeof(double));
    if (!t->lens || !t->workspace || !t->taps || !t->grads || !t->momentum || !t->values || !t->loss_sums) {
        loupe_lens_trainer_free(t);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the lens trainer");
    }
    *trainer_out = t;
    return LOUPE_OK;
}

static loupe_status keep_tap(void *user, loupe_tap_kind kind, int layer, const float *residual, int T, int C) {
    (void)kind;
    (void)layer;
    loupe_lens_trainer *t = user;
    if (t->n_taps > t->L) return LOUPE_ERROR_ARGUMENT; /* cannot happen: one tap per block and the embedding */
    memcpy(t->taps + (size_t)t->n_taps * T * C, residual, (size_t)T * C * sizeof(float));
    t->n_taps++;
    return LOUPE_OK;
}

loupe_status loupe_lens_trainer_add(loupe_lens_trainer *t, const int32_t *ids, int n_tokens, int begin, int end,
                                    loupe_error *error) {
    error_clear(error);
    if (n_tokens < 2 || n_tokens > t->max_tokens || begin < 0 || end > n_tokens - 1 || begin > end)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "positions %d .. %d of %d tokens: need 0 <= begin <= end <= tokens - 1, tokens 2 .. %d",
                         begin, end, n_tokens, t->max_tokens);
    loupe_forward_params forward = loupe_forward_default_params();
    forward.tap = keep_tap;
    forward.tap_user = t;
    t->n_taps = 0;
    loupe_status status = loupe_model_forward(t->model, ids, n_tokens, &forward, NULL, error);
    if (status != LOUPE_OK) return status;
    const size_t weights = (size_t)t->L * t->C * t->C;
    status = lens_loss_accumulate(t->workspace, t->lens, t->taps, ids, n_tokens, begin, end, 1.0, t->loss_sums,
                                  t->grads, t->grads + weights, error);
    if (status == LOUPE_OK) t->pending += end - begin;
    return status;
}

int64_t loupe_lens_trainer_pending(const loupe_lens_trainer *t) { return t->pending; }

int loupe_lens_trainer_steps_done(const loupe_lens_trainer *t) { return t->steps_done; }

const loupe_tuned_lens *loupe_lens_trainer_lens(const loupe_lens_trainer *t) { return t->lens; }

loupe_status loupe_lens_trainer_step(loupe_lens_trainer *t, double *layer_losses, loupe_error *error) {
    error_clear(error);
    if (t->pending == 0) return error_set(error, LOUPE_ERROR_ARGUMENT, "no position added since the last step");
    const size_t weights = (size_t)t->L * t->C * t->C;
    const float scale = (float)(1.0 / (double)t->pending);
    for (size_t k = 0; k < t->n_values; k++) t->grads[k] *= scale;
    for (int i = 0; i < t->L; i++) {
        if (layer_losses != NULL) layer_losses[i] = t->loss_sums[i] / (double)t->pending;
        t->loss_sums[i] = 0.0;
    }
    memcpy(t->values, t->lens->weights, weights * sizeof(float));
    memcpy(t->values + weights, t->lens->biases, (t->n_values - weights) * sizeof(float));
    lens_sgd_step(&t->params, t->steps_done, t->values, t->grads, t->momentum, t->n_values);
    memcpy(t->lens->weights, t->values, weights * sizeof(float));
    memcpy(t->lens->biases, t->values + weights, (t->n_values - weights) * sizeof(float));
    memset(t->grads, 0, t->n_values * sizeof(float));
    t->pending = 0;
    t->steps_done++;
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * Files
 * ---------------------------------------------------------------------- */

loupe_status loupe_tuned_lens_save(const loupe_tuned_lens *lens, const loupe_model *model, const char *directory,
                                   const char *base_model, loupe_error *error) {
    error_clear(error);
    if (mkdir(directory, 0777) != 0 && directory_check(directory, error) != LOUPE_OK) return error->status;
    const int L = lens->n_layer, C = lens->n_embd;
    safetensors_typed_entry *entries = calloc((size_t)2 * L, sizeof *entries);
    char (*names)[32] = calloc((size_t)2 * L, sizeof *names);
    char *params_path = path_join(directory, "params.safetensors"), *config_path = path_join(directory, "config.json");
    char unembedding[TUNED_UNEMBEDDING_HEX];
    loupe_status status = tuned_unembedding_hash(model, unembedding, error);
    if (status != LOUPE_OK) {
        /* the message is set */
    } else if (!entries || !names || !params_path || !config_path) {
        status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
    } else {
        for (int i = 0; i < L; i++) {
            snprintf(names[2 * i], sizeof names[0], "%d.weight", i);
            snprintf(names[2 * i + 1], sizeof names[0], "%d.bias", i);
            entries[2 * i] = (safetensors_typed_entry){names[2 * i], SAFETENSORS_WRITE_F32, 2, {C, C},
                                                       lens->weights + (size_t)i * C * C};
            entries[2 * i + 1] = (safetensors_typed_entry){names[2 * i + 1], SAFETENSORS_WRITE_F32, 1, {C},
                                                           lens->biases + (size_t)i * C};
        }
        const safetensors_metadata metadata[] = {{TUNED_UNEMBEDDING_KEY, unembedding}};
        status = safetensors_write_file(params_path, entries, (size_t)2 * L, metadata, 1, error);
    }
    if (status == LOUPE_OK) {
        /* TunedLensConfig's fields; unembed_hash left null (docs/TUNED_LENS.md) */
        cJSON *config = cJSON_CreateObject();
        cJSON_AddStringToObject(config, "base_model_name_or_path", base_model);
        cJSON_AddNumberToObject(config, "d_model", C);
        cJSON_AddNumberToObject(config, "num_hidden_layers", L);
        cJSON_AddBoolToObject(config, "bias", true);
        cJSON_AddNullToObject(config, "base_model_revision");
        cJSON_AddNullToObject(config, "unembed_hash");
        cJSON_AddStringToObject(config, "lens_type", "linear_tuned_lens");
        char *text = cJSON_PrintUnformatted(config);
        cJSON_Delete(config);
        if (text == NULL) status = error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", directory);
        else status = file_replace_bytes(config_path, text, strlen(text), error);
        free(text);
    }
    free(entries);
    free(names);
    free(params_path);
    free(config_path);
    return status;
}

static const char checkpoint_kind[] = "loupe tuned-lens training checkpoint";

loupe_status loupe_lens_trainer_save_checkpoint(const loupe_lens_trainer *t, const char *path, loupe_error *error) {
    error_clear(error);
    const safetensors_typed_entry entries[3] = {
        {"weights", SAFETENSORS_WRITE_F32, 2, {(int64_t)t->L * t->C, t->C}, t->lens->weights},
        {"biases", SAFETENSORS_WRITE_F32, 2, {t->L, t->C}, t->lens->biases},
        {"momentum", SAFETENSORS_WRITE_F32, 1, {(int64_t)t->n_values}, t->momentum},
    };
    char step[32];
    snprintf(step, sizeof step, "%d", t->steps_done);
    const safetensors_metadata metadata[] = {
        {"kind", checkpoint_kind}, {"step", step}, {"loss", t->params.loss == LOUPE_LENS_LOSS_CE ? "ce" : "kl"}};
    return safetensors_write_file(path, entries, 3, metadata, 3, error);
}

loupe_status loupe_lens_trainer_load_checkpoint(loupe_lens_trainer *t, const char *path, loupe_error *error) {
    error_clear(error);
    safetensors_file file;
    memset(&file, 0, sizeof file);
    loupe_status status = safetensors_open(path, &file, error);
    if (status != LOUPE_OK) return status;
    const tensor_view *weights = safetensors_find(&file, "weights"), *biases = safetensors_find(&file, "biases");
    const tensor_view *momentum = safetensors_find(&file, "momentum");
    const int64_t n_weights = (int64_t)t->L * t->C * t->C;
    if (weights == NULL || biases == NULL || momentum == NULL || weights->n_elements != n_weights ||
        biases->n_elements != (int64_t)t->L * t->C || momentum->n_elements != (int64_t)t->n_values) {
        status = error_set(error, LOUPE_ERROR_FORMAT,
                           "%s: not a checkpoint of this model's lens (weights, biases and momentum for %d layers "
                           "of width %d)",
                           path, t->L, t->C);
    }
    /* the step count and the loss live in the metadata; re-read the header for them */
    int step = -1;
    char loss[8] = "";
    if (status == LOUPE_OK) {
        cJSON *header = NULL;
        status = safetensors_header_json(&file, &header, error);
        const cJSON *metadata = status == LOUPE_OK ? cJSON_GetObjectItemCaseSensitive(header, "__metadata__") : NULL;
        const char *kind = json_string_member(metadata, "kind"), *step_text = json_string_member(metadata, "step");
        const char *loss_text = json_string_member(metadata, "loss");
        if (status == LOUPE_OK && (kind == NULL || strcmp(kind, checkpoint_kind) != 0 || step_text == NULL ||
                                   loss_text == NULL || sscanf(step_text, "%d", &step) != 1 || step < 0))
            status = error_set(error, LOUPE_ERROR_FORMAT, "%s: not a loupe train-lens checkpoint (its __metadata__)",
                               path);
        if (loss_text != NULL) snprintf(loss, sizeof loss, "%s", loss_text);
        cJSON_Delete(header);
    }
    const char *expected = t->params.loss == LOUPE_LENS_LOSS_CE ? "ce" : "kl";
    if (status == LOUPE_OK && strcmp(loss, expected) != 0)
        status = error_set(error, LOUPE_ERROR_ARGUMENT, "%s: a checkpoint of a run with --loss %s, not %s", path, loss,
                           expected);
    if (status == LOUPE_OK) status = tensor_to_f32(weights, t->lens->weights, error);
    if (status == LOUPE_OK) status = tensor_to_f32(biases, t->lens->biases, error);
    if (status == LOUPE_OK) status = tensor_to_f32(momentum, t->momentum, error);
    if (status == LOUPE_OK) {
        t->steps_done = step;
        t->pending = 0;
        memset(t->grads, 0, t->n_values * sizeof(float));
        for (int i = 0; i < t->L; i++) t->loss_sums[i] = 0.0;
    }
    safetensors_close(&file);
    return status;
}
