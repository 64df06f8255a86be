/*
 * model_trainer.c - fine-tuning the whole model (include/loupe.h's
 * loupe_finetuner): per micro-batch, the loss's gradient over every
 * parameter (model_gradient.h) added into one pending gradient with weight
 * 1 / accumulation; per step, that gradient clipped and one AdamW step
 * (adamw.h) on each parameter tensor. Checkpoints (finetune_checkpoint.h)
 * and the model folder (model_folder.h) are written from here.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model/model.h"
#include "train/adamw.h"
#include "train/finetune_checkpoint.h"
#include "train/lens_row_set.h"
#include "train/model_folder.h"
#include "train/model_gradient.h"
#include "train/train_parameters.h"
#include "util/error.h"
#include "util/string_map.h"

struct loupe_finetuner {
    const loupe_model *model;
    loupe_finetune_params params; /* resolved; lens_rows points at lens_rows_text */
    char *lens_rows_text;         /* owned copy, or NULL */
    int L;
    bool *lens_rows;              /* (L) the set S */
    adamw_settings adamw;
    train_parameters parameters;  /* the values being trained */
    float *grads;                 /* (n_values) the pending step's gradient */
    float *exp_avg, *exp_avg_sq;  /* (n_values) AdamW's moments */
    model_gradient *gradient;
    int pending;                  /* micro-batches added since the last step */
    model_loss_parts pending_sums; /* their losses, summed */
    int steps_done;
    char *model_json;             /* the model's identity (checkpoints) */
    char *settings_json;          /* the settings (checkpoints) */
};

loupe_finetune_params loupe_finetune_default_params(void) {
    loupe_finetune_params p = {.lens_weight = 0.0,
                               .lens_rows = NULL,
                               .lr = 3e-4,
                               .min_lr_fraction = 0.1,
                               .beta1 = 0.9,
                               .beta2 = 0.95,
                               .eps = 1e-8,
                               .weight_decay = 0.1,
                               .max_grad_norm = 1.0,
                               .warmup_steps = 10,
                               .steps = 100,
                               .context = 0,
                               .batch_windows = 8,
                               .accumulation = 1,
                               .seed = 42};
    return p;
}

void loupe_finetuner_free(loupe_finetuner *f) {
    if (f == NULL) return;
    model_gradient_free(f->gradient);
    train_parameters_free(&f->parameters);
    free(f->grads);
    free(f->exp_avg);
    free(f->exp_avg_sq);
    free(f->lens_rows);
    free(f->lens_rows_text);
    free(f->model_json);
    free(f->settings_json);
    free(f);
}

/* Checks what adamw_settings_check does not, and resolves the defaults
 * that depend on the model (context) or the run's length (warm-up). */
static loupe_status resolve_params(const loupe_model *model, loupe_finetune_params *p, loupe_error *error) {
    const int n_ctx = model->description.n_ctx;
    if (p->context == 0) p->context = n_ctx < 256 ? n_ctx : 256;
    if (p->context < 1 || p->context > n_ctx)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "context must be 1 .. %d (the model's n_ctx), not %d", n_ctx,
                         p->context);
    if (p->batch_windows < 1)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "batch_windows must be at least 1, not %d", p->batch_windows);
    if (p->accumulation < 1)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "accumulation must be at least 1, not %d", p->accumulation);
    if (!(p->lens_weight >= 0) || !isfinite(p->lens_weight))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "lens_weight must be a number >= 0, not %g", p->lens_weight);
    if (p->steps >= 1 && p->warmup_steps > p->steps - 1) p->warmup_steps = p->steps - 1;
    return LOUPE_OK;
}

/* The model's identity as a JSON object (caller frees): its family, sizes
 * and a hash of its parameters as trained from. NULL when out of memory. */
static char *identity_json(const loupe_model *model, const train_parameters *parameters) {
    const model_description *d = &model->description;
    char hash[24];
    snprintf(hash, sizeof hash, "%016" PRIx64,
             string_hash(parameters->values, parameters->n_values * sizeof(float)));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model_type", d->model_type);
    cJSON_AddStringToObject(o, "architecture", d->architecture);
    cJSON_AddNumberToObject(o, "n_layer", d->n_layer);
    cJSON_AddNumberToObject(o, "n_embd", d->n_embd);
    cJSON_AddNumberToObject(o, "n_head", d->n_head);
    cJSON_AddNumberToObject(o, "n_vocab", d->n_vocab);
    cJSON_AddNumberToObject(o, "n_ctx", d->n_ctx);
    cJSON_AddNumberToObject(o, "parameters", (double)parameters->n_values);
    cJSON_AddStringToObject(o, "weights_hash", hash);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* The settings a resumed run must share, as a JSON object (caller frees);
 * the lens rows as the list of rows selected, so that "0:2" and "0,1"
 * agree. NULL when out of memory. */
static char *settings_json(const loupe_finetuner *f) {
    const loupe_finetune_params *p = &f->params;
    char rows[1024] = "", seed[32];
    size_t used = 0;
    for (int l = 0; l < f->L && p->lens_weight > 0; l++)
        if (f->lens_rows[l] && used < sizeof rows)
            used += (size_t)snprintf(rows + used, sizeof rows - used, "%s%d", used > 0 ? "," : "", l);
    snprintf(seed, sizeof seed, "%" PRIu64, p->seed);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "lens_weight", p->lens_weight);
    cJSON_AddStringToObject(o, "lens_rows", rows);
    cJSON_AddNumberToObject(o, "lr", p->lr);
    cJSON_AddNumberToObject(o, "min_lr_fraction", p->min_lr_fraction);
    cJSON_AddNumberToObject(o, "beta1", p->beta1);
    cJSON_AddNumberToObject(o, "beta2", p->beta2);
    cJSON_AddNumberToObject(o, "eps", p->eps);
    cJSON_AddNumberToObject(o, "weight_decay", p->weight_decay);
    cJSON_AddNumberToObject(o, "max_grad_norm", p->max_grad_norm);
    cJSON_AddNumberToObject(o, "warmup_steps", p->warmup_steps);
    cJSON_AddNumberToObject(o, "steps", p->steps);
    cJSON_AddNumberToObject(o, "context", p->context);
    cJSON_AddNumberToObject(o, "batch_windows", p->batch_windows);
    cJSON_AddNumberToObject(o, "accumulation", p->accumulation);
    cJSON_AddStringToObject(o, "seed", seed);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

loupe_status loupe_finetuner_create(const loupe_model *model, const loupe_finetune_params *params,
                                    loupe_finetuner **finetuner_out, loupe_error *error) {
    *finetuner_out = NULL;
    error_clear(error);
    loupe_finetune_params p = params != NULL ? *params : loupe_finetune_default_params();
    loupe_status status = resolve_params(model, &p, error);
    if (status != LOUPE_OK) return status;
    adamw_settings adamw = {.lr = p.lr,
                            .min_lr_fraction = p.min_lr_fraction,
                            .beta1 = p.beta1,
                            .beta2 = p.beta2,
                            .eps = p.eps,
                            .weight_decay = p.weight_decay,
                            .max_grad_norm = p.max_grad_norm,
                            .warmup_steps = p.warmup_steps,
                            .steps = p.steps};
    status = adamw_settings_check(&adamw, error);
    if (status != LOUPE_OK) return status;
    loupe_finetuner *f = calloc(1, sizeof *f);
    if (f == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the fine-tuning trainer");
    f->model = model;
    f->adamw = adamw;
    f->L = model->description.n_layer;
    f->lens_rows = calloc((size_t)(f->L > 0 ? f->L : 1), sizeof(bool));
    f->lens_rows_text = p.lens_rows != NULL ? strdup(p.lens_rows) : NULL;
    if (f->lens_rows == NULL || (p.lens_rows != NULL && f->lens_rows_text == NULL)) {
        loupe_finetuner_free(f);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the fine-tuning trainer");
    }
    p.lens_rows = f->lens_rows_text;
    f->params = p;
    status = lens_row_set_parse(p.lens_rows, f->L, f->lens_rows, NULL, error);
    if (status == LOUPE_OK) status = train_parameters_load(model, &f->parameters, error);
    if (status == LOUPE_OK) {
        const size_t n = f->parameters.n_values;
        f->grads = calloc(n, sizeof(float));
        f->exp_avg = calloc(n, sizeof(float));
        f->exp_avg_sq = calloc(n, sizeof(float));
        f->model_json = identity_json(model, &f->parameters);
        f->settings_json = settings_json(f);
        if (!f->grads || !f->exp_avg || !f->exp_avg_sq || !f->model_json || !f->settings_json)
            status = error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the optimizer's %zu parameters", n);
    }
    if (status == LOUPE_OK) {
        const model_loss_settings loss = {.lens_weight = p.lens_weight, .lens_rows = f->lens_rows};
        status = model_gradient_create(model, &f->parameters, p.batch_windows, p.context, &loss, &f->gradient, error);
    }
    if (status != LOUPE_OK) {
        loupe_finetuner_free(f);
        return status;
    }
    *finetuner_out = f;
    return LOUPE_OK;
}

loupe_finetune_params loupe_finetuner_params(const loupe_finetuner *f) { return f->params; }

int loupe_finetuner_pending(const loupe_finetuner *f) { return f->pending; }

int loupe_finetuner_steps_done(const loupe_finetuner *f) { return f->steps_done; }

loupe_status loupe_finetuner_add(loupe_finetuner *f, const int32_t *ids, int n_windows, loupe_error *error) {
    error_clear(error);
    if (n_windows < 1 || n_windows > f->params.batch_windows)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "a micro-batch holds 1 .. %d windows (batch_windows), not %d",
                         f->params.batch_windows, n_windows);
    model_loss_parts parts;
    loupe_status status = model_gradient_accumulate(f->gradient, &f->parameters, ids, n_windows,
                                                    1.0 / f->params.accumulation, f->grads, &parts, NULL, error);
    if (status != LOUPE_OK) return status;
    f->pending_sums.loss += parts.loss;
    f->pending_sums.final_ce += parts.final_ce;
    f->pending_sums.lens_ce += parts.lens_ce;
    f->pending++;
    return LOUPE_OK;
}

loupe_status loupe_finetuner_step(loupe_finetuner *f, loupe_finetune_losses *losses, loupe_error *error) {
    error_clear(error);
    if (f->pending == 0) return error_set(error, LOUPE_ERROR_ARGUMENT, "no micro-batch added since the last step");
    if (f->steps_done >= f->params.steps)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "the run has taken its %d steps", f->params.steps);
    const size_t n = f->parameters.n_values;
    /* each micro-batch came in with weight 1 / accumulation: make it 1 / pending */
    if (f->pending != f->params.accumulation) {
        const float scale = (float)((double)f->params.accumulation / f->pending);
        for (size_t k = 0; k < n; k++) f->grads[k] *= scale;
    }
    const double norm = adamw_clip_gradients(f->grads, n, f->adamw.max_grad_norm);
    const double lr = adamw_learning_rate(&f->adamw, f->steps_done);
    for (size_t i = 0; i < f->parameters.n_tensors; i++) {
        const train_tensor *t = &f->parameters.tensors[i];
        adamw_update(&f->adamw, f->steps_done, lr, t->decayed, f->parameters.values + t->offset, f->grads + t->offset,
                     f->exp_avg + t->offset, f->exp_avg_sq + t->offset, t->count);
    }
    if (losses != NULL) {
        losses->loss = f->pending_sums.loss / f->pending;
        losses->final_ce = f->pending_sums.final_ce / f->pending;
        losses->lens_ce = f->pending_sums.lens_ce / f->pending;
        losses->grad_norm = norm;
        losses->lr = lr;
    }
    memset(f->grads, 0, n * sizeof(float));
    memset(&f->pending_sums, 0, sizeof f->pending_sums);
    f->pending = 0;
    f->steps_done++;
    return LOUPE_OK;
}

loupe_status loupe_finetuner_evaluate(loupe_finetuner *f, const int32_t *ids, int n_windows,
                                      loupe_finetune_losses *losses, loupe_error *error) {
    error_clear(error);
    if (n_windows < 1) return error_set(error, LOUPE_ERROR_ARGUMENT, "no window to evaluate");
    if (f->pending > 0)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "%d micro-batches are pending: evaluate between steps", f->pending);
    const int B = f->params.batch_windows, T = f->params.context;
    double loss = 0, final_ce = 0, lens_ce = 0;
    loupe_status status = LOUPE_OK;
    for (int first = 0; status == LOUPE_OK && first < n_windows; first += B) {
        const int count = n_windows - first < B ? n_windows - first : B;
        model_loss_parts parts;
        status = model_gradient_accumulate(f->gradient, &f->parameters, ids + (size_t)first * (T + 1), count, 1.0,
                                           NULL, &parts, NULL, error);
        if (status == LOUPE_OK)
            loss += parts.loss * count, final_ce += parts.final_ce * count, lens_ce += parts.lens_ce * count;
    }
    if (status != LOUPE_OK) return status;
    if (losses != NULL) {
        losses->loss = loss / n_windows;
        losses->final_ce = final_ce / n_windows;
        losses->lens_ce = lens_ce / n_windows;
        losses->grad_norm = NAN;
        losses->lr = NAN;
    }
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * Files
 * ---------------------------------------------------------------------- */

loupe_status loupe_finetuner_write_model(const loupe_finetuner *f, const char *directory, const char *training_json,
                                         loupe_error *error) {
    error_clear(error);
    return model_folder_write(f->model, &f->parameters, directory, training_json, error);
}

loupe_status loupe_finetuner_save_checkpoint(const loupe_finetuner *f, const char *path, int64_t data_position,
                                             loupe_error *error) {
    error_clear(error);
    if (data_position < 0)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "the data position must be >= 0, not %" PRId64, data_position);
    if (f->pending > 0)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "%d micro-batches are pending: save a checkpoint between steps", f->pending);
    const finetune_checkpoint_run run = {&f->parameters, f->model_json, f->settings_json, f->params.steps};
    return finetune_checkpoint_write(path, &run, f->parameters.values, f->exp_avg, f->exp_avg_sq, f->steps_done,
                                     data_position, error);
}

loupe_status loupe_finetuner_load_checkpoint(loupe_finetuner *f, const char *path, int64_t *data_position,
                                             loupe_error *error) {
    error_clear(error);
    if (f->pending > 0)
        return error_set(error, LOUPE_ERROR_ARGUMENT,
                         "%d micro-batches are pending: load a checkpoint between steps", f->pending);
    const finetune_checkpoint_run run = {&f->parameters, f->model_json, f->settings_json, f->params.steps};
    int step = 0;
    int64_t position = 0;
    /* the reader writes nothing until the whole file has passed, so a
     * refused checkpoint leaves the trainer as it was */
    loupe_status status = finetune_checkpoint_read(path, &run, f->parameters.values, f->exp_avg, f->exp_avg_sq, &step,
                                                   &position, error);
    if (status != LOUPE_OK) return status;
    f->steps_done = step;
    if (data_position != NULL) *data_position = position;
    return LOUPE_OK;
}
