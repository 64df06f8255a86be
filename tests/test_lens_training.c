/*
 * test_lens_training.c - the tuned lens's training against its definition
 * and against PyTorch (tests/data/tuned_lens_fixtures.py wrote
 * tests/data/tuned-tiny-f32/training.safetensors):
 *   - the gradient of the KL and CE losses against central finite
 *     differences of a plain double-precision loss written here;
 *   - the gradient and the per-layer losses against PyTorch's autograd,
 *     relative difference at most 1e-4;
 *   - three trainer steps on the same batch against torch.optim.SGD as
 *     tuned-lens configures it (Nesterov, weight decay, clipping, the
 *     linear schedule);
 *   - a run checkpointed after one step and resumed ends with the same
 *     bits as the run straight through.
 * ctest runs it once per level of util/cpu_features.h (LOUPE_CPU): the
 * loss's per-position work has a plain and an AVX-512 body.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "loupe.h"
#include "model/model.h"
#include "test_reference.h"
#include "test_support.h"
#include "train/lens_loss.h"
#include "tuned/tuned_lens.h"

enum { MAX_TOKENS = 64 };

typedef struct fixture {
    loupe_model *model;
    loupe_tuned_lens *lens; /* tuned-tiny-f32 */
    int32_t ids[MAX_TOKENS];
    int T, L, C, V;
    float *taps; /* (L+1, T, C) */
    int n_taps;
    safetensors_file training;
} fixture;

static loupe_status keep_tap(void *user, loupe_tap_kind kind, int layer, const float *residual, int T, int C) {
    (void)kind;
    (void)layer;
    fixture *f = user;
    if (f->n_taps <= f->L) memcpy(f->taps + (size_t)f->n_taps * T * C, residual, (size_t)T * C * sizeof(float));
    f->n_taps++;
    return LOUPE_OK;
}

static int fixture_open(fixture *f) {
    memset(f, 0, sizeof *f);
    loupe_error error;
    if (loupe_model_open(test_data_path("gpt2-tiny-gelu"), &f->model, &error) != LOUPE_OK) return -1;
    if (loupe_tuned_lens_open(test_data_path("tuned-tiny-f32"), f->model, &f->lens, &error) != LOUPE_OK) return -1;
    loupe_model_info info;
    loupe_model_get_info(f->model, &info);
    f->L = info.n_layer, f->C = info.n_embd, f->V = info.n_vocab;
    safetensors_file reference;
    if (safetensors_open(test_data_path("gpt2-tiny-gelu/reference.safetensors"), &reference, &error) != LOUPE_OK)
        return -1;
    f->T = test_input_ids(&reference, f->ids, MAX_TOKENS);
    safetensors_close(&reference);
    if (f->T < 0) return -1;
    if (safetensors_open(test_data_path("tuned-tiny-f32/training.safetensors"), &f->training, &error) != LOUPE_OK)
        return -1;
    f->taps = malloc((size_t)(f->L + 1) * f->T * f->C * sizeof(float));
    loupe_forward_params forward = loupe_forward_default_params();
    forward.tap = keep_tap;
    forward.tap_user = f;
    if (f->taps == NULL || loupe_model_forward(f->model, f->ids, f->T, &forward, NULL, &error) != LOUPE_OK) return -1;
    return f->n_taps == f->L + 1 ? 0 : -1;
}

static void fixture_close(fixture *f) {
    free(f->taps);
    safetensors_close(&f->training);
    loupe_tuned_lens_close(f->lens);
    loupe_model_close(f->model);
}

/* The float32 tensor `name` of training.safetensors, n elements (caller frees). */
static float *training_tensor(const fixture *f, const char *name, int64_t n) {
    return test_tensor_f32(&f->training, name, n);
}

/* ||a - b|| / ||b|| over n entries */
static double relative_difference(const float *a, const float *b, size_t n) {
    double diff = 0, norm = 0;
    for (size_t k = 0; k < n; k++) {
        diff += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
        norm += (double)b[k] * b[k];
    }
    return sqrt(diff / (norm > 0 ? norm : 1));
}

/* ------------------------------------------------------------------------
 * A plain double-precision loss: the definition, written out
 * ---------------------------------------------------------------------- */

/* log softmax of z (V) in double into out (V) */
static void log_softmax(const double *z, int V, double *out) {
    double top = z[0], sum = 0;
    for (int v = 1; v < V; v++) top = z[v] > top ? z[v] : top;
    for (int v = 0; v < V; v++) sum += exp(z[v] - top);
    for (int v = 0; v < V; v++) out[v] = z[v] - top - log(sum);
}

/* normed (C) = LayerNorm(u) with the final norm's weights, then z (V) = W normed */
static void reference_logits(const fixture *f, const double *u, double *z) {
    const int C = f->C;
    const model_description *d = &f->model->description;
    double mean = 0, spread = 0, normed[256];
    for (int c = 0; c < C; c++) mean += u[c];
    mean /= C;
    for (int c = 0; c < C; c++) spread += (u[c] - mean) * (u[c] - mean);
    double inverse = 1.0 / sqrt(spread / C + d->norm_eps);
    for (int c = 0; c < C; c++)
        normed[c] = (u[c] - mean) * inverse * f->model->final_norm_weight[c] + f->model->final_norm_bias[c];
    for (int v = 0; v < f->V; v++) {
        double sum = 0;
        float row[256];
        weight_view_to_f32(&f->model->unembedding, v, 1, 0, C, row, C);
        for (int c = 0; c < C; c++) sum += (double)row[c] * normed[c];
        z[v] = sum;
    }
}

/* The loss of layer i with translator (weight (C, C), bias (C)) in double:
 * the mean over positions 0 .. T-2. */
static double reference_loss(const fixture *f, int i, const double *weight, const double *bias, bool kl) {
    const int C = f->C, V = f->V, n = f->T - 1;
    double *z = malloc((size_t)V * sizeof(double)), *log_q = malloc((size_t)V * sizeof(double));
    double *log_p = malloc((size_t)V * sizeof(double)), u[256], total = 0;
    for (int t = 0; t < n; t++) {
        const float *h = f->taps + ((size_t)i * f->T + t) * C, *hf = f->taps + ((size_t)f->L * f->T + t) * C;
        for (int c = 0; c < C; c++) {
            double sum = h[c] + bias[c];
            for (int k = 0; k < C; k++) sum += weight[(size_t)c * C + k] * h[k];
            u[c] = sum;
        }
        reference_logits(f, u, z);
        log_softmax(z, V, log_q);
        if (kl) {
            for (int c = 0; c < C; c++) u[c] = hf[c];
            reference_logits(f, u, z);
            log_softmax(z, V, log_p);
            for (int v = 0; v < V; v++) total += exp(log_p[v]) * (log_p[v] - log_q[v]);
        } else {
            total -= log_q[f->ids[t + 1]];
        }
    }
    free(z), free(log_q), free(log_p);
    return total / n;
}

/* ------------------------------------------------------------------------
 * The checks
 * ---------------------------------------------------------------------- */

/* Our gradient (grad_weights (L, C, C), grad_biases (L, C)) and per-layer
 * losses on positions 0 .. T-2, with chunk_size vocabulary entries per
 * chunk and block_size positions per block (0: the defaults). */
static void our_gradient(const fixture *f, lens_loss_kind kind, int chunk_size, int block_size, float *grad_weights,
                         float *grad_biases, double *losses) {
    lens_loss_workspace *workspace =
        chunk_size > 0 ? lens_loss_workspace_create_sized(f->model, f->T, kind, chunk_size, block_size)
                       : lens_loss_workspace_create(f->model, f->T, kind);
    CHECK(workspace != NULL);
    if (workspace == NULL) return;
    memset(grad_weights, 0, (size_t)f->L * f->C * f->C * sizeof(float));
    memset(grad_biases, 0, (size_t)f->L * f->C * sizeof(float));
    for (int i = 0; i < f->L; i++) losses[i] = 0;
    loupe_error error;
    CHECK_MSG(lens_loss_accumulate(workspace, f->lens, f->taps, f->ids, f->T, 0, f->T - 1, 1.0 / (f->T - 1), losses,
                                   grad_weights, grad_biases, &error) == LOUPE_OK,
              "%s", error.message);
    lens_loss_workspace_free(workspace);
}

/* The gradient and losses against PyTorch's, and with the default sizes
 * against finite differences too. Small sizes (chunk_size 0: the defaults)
 * make the pass cross many chunks of the vocabulary, the last one partial,
 * with the running max and sums rescaled, and many blocks of positions. */
static void check_gradient(const fixture *f, bool kl, int chunk_size, int block_size) {
    const int L = f->L, C = f->C;
    char name[64];
    snprintf(name, sizeof name, "%s, chunks of %d, blocks of %d", kl ? "kl" : "ce", chunk_size, block_size);
    float *grad_weights = malloc((size_t)L * C * C * sizeof(float)), *grad_biases = malloc((size_t)L * C * sizeof(float));
    double losses[16];
    our_gradient(f, kl ? LENS_LOSS_KL : LENS_LOSS_CE, chunk_size, block_size, grad_weights, grad_biases, losses);

    /* against PyTorch's autograd */
    char key[64];
    snprintf(key, sizeof key, "%s_grad_weight", kl ? "kl" : "ce");
    float *torch_weights = training_tensor(f, key, (int64_t)L * C * C);
    snprintf(key, sizeof key, "%s_grad_bias", kl ? "kl" : "ce");
    float *torch_biases = training_tensor(f, key, (int64_t)L * C);
    snprintf(key, sizeof key, "%s_loss", kl ? "kl" : "ce");
    float *torch_losses = training_tensor(f, key, L);
    CHECK(torch_weights && torch_biases && torch_losses);
    for (int i = 0; torch_weights && torch_biases && torch_losses && i < L; i++) {
        double dw = relative_difference(grad_weights + (size_t)i * C * C, torch_weights + (size_t)i * C * C, (size_t)C * C);
        double db = relative_difference(grad_biases + (size_t)i * C, torch_biases + (size_t)i * C, (size_t)C);
        CHECK_MSG(dw <= 1e-4 && db <= 1e-4, "%s layer %d: gradient differs from PyTorch by %g (weight), %g (bias)",
                  name, i, dw, db);
        CHECK_MSG(fabs(losses[i] - torch_losses[i]) <= 1e-4 * fabs(torch_losses[i]),
                  "%s layer %d: loss %.9g, PyTorch %.9g", name, i, losses[i], torch_losses[i]);
    }

    /* against central differences of the double loss, on a sample of entries */
    const double step = 1e-4;
    double *weight = malloc((size_t)C * C * sizeof(double)), *bias = malloc((size_t)C * sizeof(double));
    uint64_t state = 14;
    for (int i = 0; chunk_size == 0 && i < L; i++) {
        for (int k = 0; k < C * C; k++) weight[k] = f->lens->weights[(size_t)i * C * C + k];
        for (int c = 0; c < C; c++) bias[c] = f->lens->biases[(size_t)i * C + c];
        CHECK_MSG(fabs(reference_loss(f, i, weight, bias, kl) - losses[i]) <= 1e-5 * (1 + fabs(losses[i])),
                  "%s layer %d: loss against the double reference", name, i);
        for (int sample = 0; sample < 6; sample++) {
            bool is_bias = sample % 3 == 0;
            int k = (int)(test_random_unit(&state) * (is_bias ? C : C * C));
            double *entry = is_bias ? &bias[k] : &weight[k], saved = *entry;
            *entry = saved + step;
            double up = reference_loss(f, i, weight, bias, kl);
            *entry = saved - step;
            double down = reference_loss(f, i, weight, bias, kl);
            *entry = saved;
            double numeric = (up - down) / (2 * step);
            double ours = is_bias ? grad_biases[(size_t)i * C + k] : grad_weights[(size_t)i * C * C + k];
            CHECK_MSG(fabs(ours - numeric) <= 1e-4 * fabs(numeric) + 1e-7,
                      "%s layer %d %s %d: gradient %.9g, finite differences %.9g", name, i, is_bias ? "bias" : "weight",
                      k, ours, numeric);
        }
    }
    free(weight), free(bias);
    free(torch_weights), free(torch_biases), free(torch_losses);
    free(grad_weights), free(grad_biases);
}

/* A trainer starting from the fixture's translators. */
static loupe_lens_trainer *trainer_from_fixture(const fixture *f, loupe_lens_train_params *params) {
    loupe_lens_trainer *trainer = NULL;
    loupe_error error;
    CHECK_MSG(loupe_lens_trainer_create(f->model, params, f->T, &trainer, &error) == LOUPE_OK, "%s", error.message);
    if (trainer == NULL) return NULL;
    loupe_tuned_lens *lens = (loupe_tuned_lens *)loupe_lens_trainer_lens(trainer);
    memcpy(lens->weights, f->lens->weights, (size_t)f->L * f->C * f->C * sizeof(float));
    memcpy(lens->biases, f->lens->biases, (size_t)f->L * f->C * sizeof(float));
    return trainer;
}

static void run_steps(const fixture *f, loupe_lens_trainer *trainer, int n) {
    loupe_error error;
    double losses[16];
    for (int s = 0; s < n; s++) {
        CHECK(loupe_lens_trainer_add(trainer, f->ids, f->T, 0, f->T - 1, &error) == LOUPE_OK);
        CHECK(loupe_lens_trainer_pending(trainer) == f->T - 1);
        CHECK_MSG(loupe_lens_trainer_step(trainer, losses, &error) == LOUPE_OK, "%s", error.message);
    }
}

static void check_steps(const fixture *f) {
    const int L = f->L, C = f->C;
    loupe_lens_train_params params = loupe_lens_train_default_params();
    params.loss = LOUPE_LENS_LOSS_CE;
    params.steps = 3;
    loupe_lens_trainer *trainer = trainer_from_fixture(f, &params);
    if (trainer == NULL) return;
    run_steps(f, trainer, 3);
    CHECK(loupe_lens_trainer_steps_done(trainer) == 3);
    const loupe_tuned_lens *lens = loupe_lens_trainer_lens(trainer);
    float *torch_weights = training_tensor(f, "stepped_weight", (int64_t)L * C * C);
    float *torch_biases = training_tensor(f, "stepped_bias", (int64_t)L * C);
    CHECK(torch_weights && torch_biases);
    if (torch_weights && torch_biases) {
        double dw = relative_difference(lens->weights, torch_weights, (size_t)L * C * C);
        double db = relative_difference(lens->biases, torch_biases, (size_t)L * C);
        CHECK_MSG(dw <= 1e-4 && db <= 1e-4, "three steps differ from PyTorch's by %g (weights), %g (biases)", dw, db);
        /* and they moved: the check is not of the starting point */
        CHECK(relative_difference(f->lens->weights, torch_weights, (size_t)L * C * C) > 1e-3);
    }

    /* one step, a checkpoint, a fresh trainer resumed from it, two more */
    char *folder = test_make_temp_dir();
    char path[600];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", folder);
    loupe_lens_trainer *first = trainer_from_fixture(f, &params), *resumed = NULL;
    loupe_error error;
    run_steps(f, first, 1);
    CHECK(loupe_lens_trainer_save_checkpoint(first, path, &error) == LOUPE_OK);
    CHECK(loupe_lens_trainer_create(f->model, &params, f->T, &resumed, &error) == LOUPE_OK);
    CHECK_MSG(loupe_lens_trainer_load_checkpoint(resumed, path, &error) == LOUPE_OK, "%s", error.message);
    CHECK(loupe_lens_trainer_steps_done(resumed) == 1);
    run_steps(f, resumed, 2);
    const loupe_tuned_lens *again = loupe_lens_trainer_lens(resumed);
    CHECK(memcmp(again->weights, lens->weights, (size_t)L * C * C * sizeof(float)) == 0);
    CHECK(memcmp(again->biases, lens->biases, (size_t)L * C * sizeof(float)) == 0);

    /* a saved lens opens as a tuned lens with the same translators */
    char lens_dir[600];
    snprintf(lens_dir, sizeof lens_dir, "%s/lens", folder);
    CHECK(loupe_tuned_lens_save(lens, f->model, lens_dir, "gpt2-tiny-gelu", &error) == LOUPE_OK);
    loupe_tuned_lens *opened = NULL;
    CHECK_MSG(loupe_tuned_lens_open(lens_dir, f->model, &opened, &error) == LOUPE_OK, "%s", error.message);
    if (opened != NULL) CHECK(memcmp(opened->weights, lens->weights, (size_t)L * C * C * sizeof(float)) == 0);
    loupe_tuned_lens_close(opened);

    /* a checkpoint of the other loss is refused */
    loupe_lens_train_params kl = params;
    kl.loss = LOUPE_LENS_LOSS_KL;
    loupe_lens_trainer *other = NULL;
    CHECK(loupe_lens_trainer_create(f->model, &kl, f->T, &other, &error) == LOUPE_OK);
    CHECK(loupe_lens_trainer_load_checkpoint(other, path, &error) == LOUPE_ERROR_ARGUMENT);
    loupe_lens_trainer_free(other);
    test_remove_tree(folder);
    free(folder);
    loupe_lens_trainer_free(first);
    loupe_lens_trainer_free(resumed);
    loupe_lens_trainer_free(trainer);
    free(torch_weights), free(torch_biases);
}

int main(void) {
    test_require_cpu_level("lens_training");
    fixture f;
    REQUIRE(fixture_open(&f) == 0);
    check_gradient(&f, true, 0, 0);
    check_gradient(&f, false, 0, 0);
    check_gradient(&f, true, 96, 5);
    check_gradient(&f, false, 96, 5);
    check_gradient(&f, true, 1, 64);
    check_steps(&f);
    fixture_close(&f);
    return test_finish("test_lens_training");
}
