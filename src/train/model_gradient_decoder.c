/*
 * model_gradient_decoder.c - forward and backward passes of the rotary
 * decoder families for training (see model_gradient_decoder.h).
 */
#include "train/model_gradient_decoder.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/decoder.h"
#include "kernels/activations.h"
#include "kernels/norms.h"
#include "kernels/rope.h"
#include "model/model.h"
#include "train/activation_backward.h"
#include "train/attention_backward.h"
#include "train/embedding_backward.h"
#include "train/linear_backward.h"
#include "train/rms_norm_backward.h"
#include "train/rope_backward.h"
#include "train/vocab_loss.h"
#include "util/error.h"

/* A parameter's place in the vector, NO_TENSOR when the model has none. */
enum { NO_TENSOR = -1 };
typedef int64_t tensor_offset;

typedef struct decoder_layer_offsets {
    tensor_offset attn_norm, q, q_bias, k, k_bias, v, v_bias, o, o_bias;
    tensor_offset mlp_norm, gate, gate_bias, up, up_bias, down, down_bias;
} decoder_layer_offsets;

/* What one block keeps from the forward pass for the backward pass. */
typedef struct decoder_layer_saved {
    float *normed_attention, *rstd_attention; /* n1 (N, C), its r (N) */
    float *q, *k, *v;                         /* (N, A) and (N, G), q and k rotated */
    float *heads;                             /* (N, A) the attention's output before o */
    float *lse;                               /* (B, H, T) the scores' log-normalisers */
    float *middle;                            /* m (N, C): the residual after the attention */
    float *normed_mlp, *rstd_mlp;             /* n2 (N, C), its r (N) */
    float *gate, *up;                         /* (N, I) before the activation */
} decoder_layer_saved;

typedef struct decoder_gradient decoder_gradient;
struct decoder_gradient {
    model_description d;
    int max_batch, T, N_max;
    double lens_weight;
    bool *lens_rows;            /* (L) */
    int n_lens_rows;            /* |S| */
    tensor_offset embedding, final_norm, head; /* head == embedding when tied */
    decoder_layer_offsets *layers; /* (L) */
    decoder_layer_saved *saved;    /* (L) */
    float *residuals;           /* (L+1, N, C): row l, the input of block l; row L the output */
    float *hidden;              /* (N, I) act(gate) up */
    float *d_residual;          /* (N, C) */
    float *d_normed;            /* (N, C) */
    float *normed_row, *rstd_row; /* (N, C), (N): a row through the final norm */
    float *d_heads, *d_q;       /* (N, A) */
    float *d_k, *d_v;           /* (N, G) */
    float *d_hidden, *d_gate, *d_up; /* (N, I) */
    float *ce, *row_weights;    /* (N) */
    int32_t *inputs, *targets;  /* (N) */
    float *cos_table, *sin_table; /* (T, R/2) */
    float *inv_freq;            /* (R/2) */
    float *attention_scratch;   /* attention_train_scratch_floats(T) */
    float *arena;
    vocab_loss_workspace *vocab;
};

const char *decoder_gradient_missing(const model_description *d) {
    const char *type = d->model_type;
    if (strcmp(type, "qwen3") == 0) return "the backward pass of its q/k norms (self_attn.q_norm, self_attn.k_norm)";
    if (strcmp(type, "gpt_neox") == 0)
        return "the backward pass of its parallel residual, fused query_key_value and LayerNorm blocks";
    if (strcmp(type, "llama") != 0 && strcmp(type, "mistral") != 0 && strcmp(type, "qwen2") != 0 &&
        strcmp(type, "gemma") != 0)
        return "a training forward and backward pass for this family";
    /* the traits the three share; a config that departs from them would be another model */
    if (d->norm != NORM_RMS || !d->gated_mlp || d->qk_norm || d->fused_qkv || d->parallel_residual)
        return "the backward pass of this block layout";
    return NULL;
}

/* The parameter named by format (with the layer) of n_dims dims (d0, d1):
 * its offset; LOUPE_ERROR_FORMAT when absent or of another shape (opening the model
 * checked the same names and shapes, so this is an internal invariant). */
static loupe_status find_parameter(const train_parameters *params, const char *model_name, int n_dims, int64_t d0,
                                   int64_t d1, tensor_offset *out, loupe_error *error, const char *format, ...) {
    char name[192];
    va_list args;
    va_start(args, format);
    vsnprintf(name, sizeof name, format, args);
    va_end(args);
    const train_tensor *tensor = train_parameters_find(params, name);
    if (tensor == NULL)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: the trainable parameters lack %s", model_name, name);
    bool same = tensor->n_dims == n_dims && tensor->shape[0] == d0 && (n_dims < 2 || tensor->shape[1] == d1);
    if (!same)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: parameter %s has %d dims (%lld, %lld), expected (%lld, %lld)",
                         model_name, name, tensor->n_dims, (long long)tensor->shape[0],
                         (long long)(tensor->n_dims > 1 ? tensor->shape[1] : 0), (long long)d0,
                         (long long)(n_dims > 1 ? d1 : 0));
    *out = (tensor_offset)tensor->offset;
    return LOUPE_OK;
}

/* Binds every parameter by its Hugging Face name (llama.c's, which Mistral
 * and Qwen2 share). */
static loupe_status bind_offsets(decoder_gradient *g, const train_parameters *params, const char *model_name,
                                 loupe_error *error) {
    const model_description *d = &g->d;
    int64_t C = d->n_embd, V = d->n_vocab, I = d->n_inner, A = (int64_t)d->n_head * d->head_dim;
    int64_t G = (int64_t)d->n_kv_head * d->head_dim;
    loupe_status status = find_parameter(params, model_name, 2, V, C, &g->embedding, error, "model.embed_tokens.weight");
    if (status == LOUPE_OK)
        status = find_parameter(params, model_name, 1, C, 0, &g->final_norm, error, "model.norm.weight");
    g->head = g->embedding;
    if (status == LOUPE_OK && !d->tie_word_embeddings)
        status = find_parameter(params, model_name, 2, V, C, &g->head, error, "lm_head.weight");
    for (int l = 0; l < d->n_layer && status == LOUPE_OK; l++) {
        decoder_layer_offsets *o = &g->layers[l];
        const char *p = "model.layers.%d.";
        char f[128];
#define BIND(field, dims, d0, d1, suffix)                                                               \
    if (status == LOUPE_OK) {                                                                           \
        snprintf(f, sizeof f, "%s%s", p, suffix);                                                       \
        status = find_parameter(params, model_name, dims, d0, d1, &o->field, error, f, l);               \
    }
#define BIND_BIAS(field, present, d0, suffix)                                                           \
    o->field = NO_TENSOR;                                                                               \
    if (present) BIND(field, 1, d0, 0, suffix)
        BIND(attn_norm, 1, C, 0, "input_layernorm.weight");
        BIND(q, 2, A, C, "self_attn.q_proj.weight");
        BIND(k, 2, G, C, "self_attn.k_proj.weight");
        BIND(v, 2, G, C, "self_attn.v_proj.weight");
        BIND(o, 2, C, A, "self_attn.o_proj.weight");
        BIND_BIAS(q_bias, d->qkv_bias, A, "self_attn.q_proj.bias");
        BIND_BIAS(k_bias, d->qkv_bias, G, "self_attn.k_proj.bias");
        BIND_BIAS(v_bias, d->qkv_bias, G, "self_attn.v_proj.bias");
        BIND_BIAS(o_bias, d->output_bias, C, "self_attn.o_proj.bias");
        BIND(mlp_norm, 1, C, 0, "post_attention_layernorm.weight");
        BIND(gate, 2, I, C, "mlp.gate_proj.weight");
        BIND(up, 2, I, C, "mlp.up_proj.weight");
        BIND(down, 2, C, I, "mlp.down_proj.weight");
        BIND_BIAS(gate_bias, d->mlp_bias, I, "mlp.gate_proj.bias");
        BIND_BIAS(up_bias, d->mlp_bias, I, "mlp.up_proj.bias");
        BIND_BIAS(down_bias, d->mlp_bias, C, "mlp.down_proj.bias");
#undef BIND
#undef BIND_BIAS
    }
    return status;
}

/* Carves the arena: counts first (carve == NULL), then pointers. */
static size_t carve_arena(decoder_gradient *g, float *base) {
    const model_description *d = &g->d;
    size_t N = (size_t)g->N_max, C = (size_t)d->n_embd, I = (size_t)d->n_inner;
    size_t A = (size_t)d->n_head * d->head_dim, G = (size_t)d->n_kv_head * d->head_dim;
    size_t half = (size_t)d->rope.rotary_dim / 2, L = (size_t)d->n_layer, T = (size_t)g->T;
    size_t used = 0;
#define TAKE(pointer, count)                                                         \
    do {                                                                             \
        if (base) pointer = (void *)(base + used);                                   \
        used += ((size_t)(count) + 15) / 16 * 16; /* 64-byte steps */                \
    } while (0)
    for (size_t l = 0; l < L; l++) {
        decoder_layer_saved *s = &g->saved[l];
        TAKE(s->normed_attention, N * C);
        TAKE(s->rstd_attention, N);
        TAKE(s->q, N * A);
        TAKE(s->k, N * G);
        TAKE(s->v, N * G);
        TAKE(s->heads, N * A);
        TAKE(s->lse, N * d->n_head);
        TAKE(s->middle, N * C);
        TAKE(s->normed_mlp, N * C);
        TAKE(s->rstd_mlp, N);
        TAKE(s->gate, N * I);
        TAKE(s->up, N * I);
    }
    TAKE(g->residuals, (L + 1) * N * C);
    TAKE(g->hidden, N * I);
    TAKE(g->d_residual, N * C);
    TAKE(g->d_normed, N * C);
    TAKE(g->normed_row, N * C);
    TAKE(g->rstd_row, N);
    TAKE(g->d_heads, N * A);
    TAKE(g->d_q, N * A);
    TAKE(g->d_k, N * G);
    TAKE(g->d_v, N * G);
    TAKE(g->d_hidden, N * I);
    TAKE(g->d_gate, N * I);
    TAKE(g->d_up, N * I);
    TAKE(g->ce, N);
    TAKE(g->row_weights, N);
    TAKE(g->inputs, N);
    TAKE(g->targets, N);
    TAKE(g->cos_table, T * half);
    TAKE(g->sin_table, T * half);
    TAKE(g->inv_freq, half);
    TAKE(g->attention_scratch, attention_train_scratch_floats(g->T));
#undef TAKE
    return used;
}

static void decoder_gradient_free(void *state);

/* model_gradient_family.create: T, max_batch and lambda are checked by model_gradient_create. */
static loupe_status decoder_gradient_create(const loupe_model *model, const train_parameters *params, int max_batch,
                                            int T, const model_loss_settings *settings, void **out,
                                            loupe_error *error) {
    *out = NULL;
    const model_description *d = &model->description;
    const char *missing = decoder_gradient_missing(d);
    if (missing != NULL)
        return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                         "%s: cannot train a model of type '%s': it needs %s", model->directory, d->model_type,
                         missing);
    if ((int64_t)max_batch * T > INT32_MAX / 4)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s: a batch of %d windows of %d positions is too large",
                         model->directory, max_batch, T);
    decoder_gradient *g = calloc(1, sizeof *g);
    if (g == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the gradient of %s", model->directory);
    g->d = *d;
    g->max_batch = max_batch, g->T = T, g->N_max = max_batch * T;
    g->lens_weight = settings->lens_weight;
    int L = d->n_layer;
    g->lens_rows = calloc((size_t)L, sizeof *g->lens_rows);
    g->layers = calloc((size_t)L, sizeof *g->layers);
    g->saved = calloc((size_t)L, sizeof *g->saved);
    loupe_status status = LOUPE_OK;
    if (g->lens_rows == NULL || g->layers == NULL || g->saved == NULL)
        status = error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the gradient of %s", model->directory);
    for (int l = 0; l < L && status == LOUPE_OK; l++) {
        g->lens_rows[l] = settings->lens_rows == NULL || settings->lens_rows[l];
        g->n_lens_rows += g->lens_rows[l];
    }
    if (status == LOUPE_OK) status = bind_offsets(g, params, model->directory, error);
    if (status == LOUPE_OK) {
        size_t floats = carve_arena(g, NULL);
        g->arena = aligned_alloc(64, floats * sizeof(float));
        g->vocab = vocab_loss_workspace_create(g->N_max, d->n_embd, d->n_vocab);
        if (g->arena == NULL || g->vocab == NULL)
            status = error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the gradient of %s (%zu MB)",
                               model->directory, floats * sizeof(float) >> 20);
        else
            carve_arena(g, g->arena);
    }
    if (status != LOUPE_OK) {
        decoder_gradient_free(g);
        return status;
    }
    int half = d->rope.rotary_dim / 2;
    rope_inverse_frequencies(&d->rope, g->inv_freq);
    rope_tables(g->inv_freq, half, T, g->cos_table, g->sin_table);
    *out = g;
    return LOUPE_OK;
}

/* model_gradient_family.free. */
static void decoder_gradient_free(void *state) {
    decoder_gradient *g = state;
    if (g == NULL) return;
    vocab_loss_workspace_free(g->vocab);
    free(g->arena);
    free(g->lens_rows);
    free(g->layers);
    free(g->saved);
    free(g);
}

/* ======================================================================
 * forward
 * ====================================================================== */

/* values + offset, NULL for a tensor the model has none of. */
static const float *parameter(const float *values, tensor_offset offset) {
    return offset == NO_TENSOR ? NULL : values + offset;
}
static float *gradient_of(float *grads, tensor_offset offset) { return offset == NO_TENSOR ? NULL : grads + offset; }

/* The attention shape of one window. */
static attention_shape window_shape(const decoder_gradient *g) {
    const model_description *d = &g->d;
    int A = d->n_head * d->head_dim, G = d->n_kv_head * d->head_dim;
    attention_shape shape = {.T = g->T, .past = 0, .n_heads = d->n_head, .n_kv_heads = d->n_kv_head,
                             .head_dim = d->head_dim, .q_stride = A, .k_stride = G, .v_stride = G, .out_stride = A,
                             .scale = 1.0f / sqrtf((float)d->head_dim), .window = d->sliding_window};
    return shape;
}

/* Block l of B windows: residuals row l -> row l + 1, keeping saved[l]. */
static void block_forward(decoder_gradient *g, const float *values, int l, int B) {
    const model_description *d = &g->d;
    const decoder_layer_offsets *o = &g->layers[l];
    decoder_layer_saved *s = &g->saved[l];
    int T = g->T, N = B * T, C = d->n_embd, I = d->n_inner, D = d->head_dim, half = d->rope.rotary_dim / 2;
    int A = d->n_head * D, G = d->n_kv_head * D;
    float eps = (float)d->norm_eps, offset = d->norm_weight_offset;
    const float *x = g->residuals + (size_t)l * g->N_max * C;
    float *y = g->residuals + (size_t)(l + 1) * g->N_max * C;
    rms_norm_keeping(s->normed_attention, s->rstd_attention, x, parameter(values, o->attn_norm), offset, N, C,
                           eps);
    linear_forward(s->q, s->normed_attention, parameter(values, o->q), parameter(values, o->q_bias), N, C, A,
                   MATMUL_WEIGHT_OUT_IN);
    linear_forward(s->k, s->normed_attention, parameter(values, o->k), parameter(values, o->k_bias), N, C, G,
                   MATMUL_WEIGHT_OUT_IN);
    linear_forward(s->v, s->normed_attention, parameter(values, o->v), parameter(values, o->v_bias), N, C, G,
                   MATMUL_WEIGHT_OUT_IN);
    attention_shape shape = window_shape(g);
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * T;
        rope_apply(s->q + row * A, T, d->n_head, D, half, g->cos_table, g->sin_table);
        rope_apply(s->k + row * G, T, d->n_kv_head, D, half, g->cos_table, g->sin_table);
        attention_forward_train(s->heads + row * A, s->lse + row * d->n_head, s->q + row * A, s->k + row * G,
                                s->v + row * G, g->attention_scratch, &shape);
    }
    linear_forward(s->middle, s->heads, parameter(values, o->o), parameter(values, o->o_bias), N, A, C,
                   MATMUL_WEIGHT_OUT_IN);
    for (size_t i = 0; i < (size_t)N * C; i++) s->middle[i] += x[i];
    rms_norm_keeping(s->normed_mlp, s->rstd_mlp, s->middle, parameter(values, o->mlp_norm), offset, N, C, eps);
    linear_forward(s->gate, s->normed_mlp, parameter(values, o->gate), parameter(values, o->gate_bias), N, C, I,
                   MATMUL_WEIGHT_OUT_IN);
    linear_forward(s->up, s->normed_mlp, parameter(values, o->up), parameter(values, o->up_bias), N, C, I,
                   MATMUL_WEIGHT_OUT_IN);
    memcpy(g->hidden, s->gate, (size_t)N * I * sizeof(float));
    activation_gated(d->activation, g->hidden, s->up, (size_t)N * I);
    linear_forward(y, g->hidden, parameter(values, o->down), parameter(values, o->down_bias), N, I, C,
                   MATMUL_WEIGHT_OUT_IN);
    for (size_t i = 0; i < (size_t)N * C; i++) y[i] += s->middle[i];
}

/* ======================================================================
 * the loss of one residual row and its gradient
 * ====================================================================== */

/* Row `row` of the residuals (N, C) through the final norm and the head:
 * *mean_ce its mean CE; d_residual (N, C) += row_weight_each dCE/dx per
 * position, and the final norm's and the head's gradients added to grads;
 * grads NULL: the CE only. */
static loupe_status row_loss(decoder_gradient *g, const float *values, float *grads, int row, int N,
                             double row_weight_each, double *mean_ce, loupe_error *error) {
    const model_description *d = &g->d;
    int C = d->n_embd, V = d->n_vocab;
    const float *x = g->residuals + (size_t)row * g->N_max * C, *norm_weight = parameter(values, g->final_norm);
    rms_norm_keeping(g->normed_row, g->rstd_row, x, norm_weight, d->norm_weight_offset, N, C,
                           (float)d->norm_eps);
    for (int n = 0; n < N; n++) g->row_weights[n] = (float)row_weight_each;
    double weighted;
    loupe_status status =
        vocab_loss_forward_backward(g->vocab, g->normed_row, g->targets, g->row_weights, N, parameter(values, g->head),
                                    V, C, &weighted, g->ce, grads != NULL ? g->d_normed : NULL,
                                    grads != NULL ? gradient_of(grads, g->head) : NULL, error);
    if (status != LOUPE_OK) return status;
    double sum = 0.0;
    for (int n = 0; n < N; n++) sum += g->ce[n];
    *mean_ce = sum / N;
    if (grads == NULL) return LOUPE_OK;
    rms_norm_backward(g->d_residual, gradient_of(grads, g->final_norm), g->d_normed, x, g->rstd_row, norm_weight,
                      d->norm_weight_offset, N, C);
    return LOUPE_OK;
}

/* ======================================================================
 * backward
 * ====================================================================== */

/* Block l: d_residual (N, C) from dL/d(row l + 1) to dL/d(row l), the
 * block's parameter gradients added to grads. */
static void block_backward(decoder_gradient *g, const float *values, float *grads, int l, int B) {
    const model_description *d = &g->d;
    const decoder_layer_offsets *o = &g->layers[l];
    const decoder_layer_saved *s = &g->saved[l];
    int T = g->T, N = B * T, C = d->n_embd, I = d->n_inner, D = d->head_dim, half = d->rope.rotary_dim / 2;
    int A = d->n_head * D, G = d->n_kv_head * D;
    float offset = d->norm_weight_offset;
    const float *x = g->residuals + (size_t)l * g->N_max * C;
    size_t NC = (size_t)N * C, NI = (size_t)N * I, NA = (size_t)N * A, NG = (size_t)N * G;

    /* the MLP: y = m + down(act(gate) up) */
    memcpy(g->hidden, s->gate, NI * sizeof(float));
    activation_gated(d->activation, g->hidden, s->up, NI);
    memset(g->d_hidden, 0, NI * sizeof(float));
    linear_backward(g->d_hidden, gradient_of(grads, o->down), gradient_of(grads, o->down_bias), g->d_residual,
                    g->hidden, parameter(values, o->down), N, I, C, MATMUL_WEIGHT_OUT_IN);
    memset(g->d_gate, 0, NI * sizeof(float));
    memset(g->d_up, 0, NI * sizeof(float));
    activation_gated_backward(d->activation, g->d_gate, g->d_up, g->d_hidden, s->gate, s->up, NI);
    memset(g->d_normed, 0, NC * sizeof(float));
    linear_backward(g->d_normed, gradient_of(grads, o->gate), gradient_of(grads, o->gate_bias), g->d_gate,
                    s->normed_mlp, parameter(values, o->gate), N, C, I, MATMUL_WEIGHT_OUT_IN);
    linear_backward(g->d_normed, gradient_of(grads, o->up), gradient_of(grads, o->up_bias), g->d_up, s->normed_mlp,
                    parameter(values, o->up), N, C, I, MATMUL_WEIGHT_OUT_IN);
    /* d_residual is now dL/dm's residual part; the norm adds its own */
    rms_norm_backward(g->d_residual, gradient_of(grads, o->mlp_norm), g->d_normed, s->middle, s->rstd_mlp,
                      parameter(values, o->mlp_norm), offset, N, C);

    /* the attention: m = x + o(heads) */
    memset(g->d_heads, 0, NA * sizeof(float));
    linear_backward(g->d_heads, gradient_of(grads, o->o), gradient_of(grads, o->o_bias), g->d_residual, s->heads,
                    parameter(values, o->o), N, A, C, MATMUL_WEIGHT_OUT_IN);
    memset(g->d_q, 0, NA * sizeof(float));
    memset(g->d_k, 0, NG * sizeof(float));
    memset(g->d_v, 0, NG * sizeof(float));
    attention_shape shape = window_shape(g);
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * T;
        attention_backward(g->d_q + row * A, g->d_k + row * G, g->d_v + row * G, g->d_heads + row * A, s->q + row * A,
                           s->k + row * G, s->v + row * G, s->heads + row * A, s->lse + row * d->n_head,
                           g->attention_scratch, &shape);
        rope_backward(g->d_q + row * A, T, d->n_head, D, half, g->cos_table, g->sin_table);
        rope_backward(g->d_k + row * G, T, d->n_kv_head, D, half, g->cos_table, g->sin_table);
    }
    memset(g->d_normed, 0, NC * sizeof(float));
    linear_backward(g->d_normed, gradient_of(grads, o->q), gradient_of(grads, o->q_bias), g->d_q, s->normed_attention,
                    parameter(values, o->q), N, C, A, MATMUL_WEIGHT_OUT_IN);
    linear_backward(g->d_normed, gradient_of(grads, o->k), gradient_of(grads, o->k_bias), g->d_k, s->normed_attention,
                    parameter(values, o->k), N, C, G, MATMUL_WEIGHT_OUT_IN);
    linear_backward(g->d_normed, gradient_of(grads, o->v), gradient_of(grads, o->v_bias), g->d_v, s->normed_attention,
                    parameter(values, o->v), N, C, G, MATMUL_WEIGHT_OUT_IN);
    rms_norm_backward(g->d_residual, gradient_of(grads, o->attn_norm), g->d_normed, x, s->rstd_attention,
                      parameter(values, o->attn_norm), offset, N, C);
}

/* model_gradient_family.accumulate: B and the ids are checked by model_gradient_accumulate. */
static loupe_status decoder_gradient_accumulate(void *state, const train_parameters *params, const int32_t *ids,
                                                int B, double weight, float *grads, model_loss_parts *parts,
                                                double *row_ce, loupe_error *error) {
    decoder_gradient *g = state;
    const model_description *d = &g->d;
    int T = g->T, L = d->n_layer, C = d->n_embd;
    if (!(weight >= 0) || !isfinite(weight))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "gradient weight %g must be finite and at least 0", weight);
    int N = B * T;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            g->inputs[b * T + t] = ids[(size_t)b * (T + 1) + t];
            g->targets[b * T + t] = ids[(size_t)b * (T + 1) + t + 1];
        }
    const float *values = params->values;

    /* forward */
    const float *embedding = parameter(values, g->embedding);
    for (int n = 0; n < N; n++) { /* times Gemma's sqrt(C) in the dtype (1 for the others), as decoder_forward */
        float *row = g->residuals + (size_t)n * C;
        const float *source = embedding + (size_t)g->inputs[n] * C;
        for (int c = 0; c < C; c++) row[c] = source[c] * d->embedding_scale;
    }
    for (int l = 0; l < L; l++) block_forward(g, values, l, B);

    /* the final row's loss, then backward with each lens row's loss added on the way */
    if (row_ce != NULL)
        for (int l = 0; l <= L; l++) row_ce[l] = NAN;
    memset(g->d_residual, 0, (size_t)N * C * sizeof(float));
    double final_ce = 0.0, lens_sum = 0.0;
    loupe_status status = row_loss(g, values, grads, L, N, weight / N, &final_ce, error);
    if (row_ce != NULL) row_ce[L] = final_ce;
    bool lens = g->lens_weight > 0 && g->n_lens_rows > 0;
    double lens_row_weight = lens ? weight * g->lens_weight / g->n_lens_rows / N : 0.0;
    for (int l = L - 1; l >= 0 && status == LOUPE_OK; l--) {
        if (grads != NULL) block_backward(g, values, grads, l, B);
        if (lens && g->lens_rows[l]) {
            double ce;
            status = row_loss(g, values, grads, l, N, lens_row_weight, &ce, error);
            lens_sum += ce;
            if (row_ce != NULL) row_ce[l] = ce;
        }
    }
    if (status != LOUPE_OK) return status;
    if (grads != NULL) {
        if (d->embedding_scale != 1.0f)
            for (size_t i = 0; i < (size_t)N * C; i++) g->d_residual[i] *= d->embedding_scale;
        embedding_backward(gradient_of(grads, g->embedding), NULL, g->d_residual, g->inputs, N, T, C);
    }
    parts->final_ce = final_ce;
    parts->lens_ce = lens ? lens_sum / g->n_lens_rows : 0.0;
    parts->loss = final_ce + g->lens_weight * parts->lens_ce;
    return LOUPE_OK;
}

const model_gradient_family MODEL_GRADIENT_DECODER = {
    .create = decoder_gradient_create,
    .accumulate = decoder_gradient_accumulate,
    .free = decoder_gradient_free,
};
