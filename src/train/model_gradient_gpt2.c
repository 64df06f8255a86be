/*
 * model_gradient_gpt2.c - the loss gradient of the GPT-2 family (GPT-2,
 * DistilGPT-2): learned positions, pre-norm blocks with LayerNorm, Conv1D
 * weights ([in, out]), multi-head attention scaled as scale_attn_weights and
 * scale_attn_by_inverse_layer_idx say, a GELU/ReLU MLP, the final ln_f and
 * the unembedding (wte when tied, else lm_head), as transformers'
 * GPT2LMHeadModel in evaluation mode (no dropout).
 *
 * Shapes: N = B T rows (window b's position t is row b T + t), C width,
 * H heads of width D, I MLP width, L layers, V vocabulary.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activations.h"
#include "kernels/norms.h"
#include "model/model.h"
#include "train/activation_backward.h"
#include "train/attention_backward.h"
#include "train/embedding_backward.h"
#include "train/layer_norm_backward.h"
#include "train/linear_backward.h"
#include "train/model_gradient_family.h"
#include "train/vocab_loss.h"
#include "util/error.h"

/* Offsets into the parameter vector (and so into the gradient) of one
 * block's tensors. */
typedef struct gpt2_block_offsets {
    size_t ln_1_weight, ln_1_bias;   /* (C) */
    size_t qkv_weight, qkv_bias;     /* (C, 3C), (3C) */
    size_t proj_weight, proj_bias;   /* (C, C), (C) */
    size_t ln_2_weight, ln_2_bias;   /* (C) */
    size_t fc_weight, fc_bias;       /* (C, I), (I) */
    size_t down_weight, down_bias;   /* (I, C), (C) */
} gpt2_block_offsets;

typedef struct gpt2_gradient {
    int L, C, H, D, I, V, T, max_batch;
    float eps;
    activation_kind activation;
    float *attention_scale;        /* (L) */
    size_t token_embedding, position_embedding, final_norm_weight, final_norm_bias, unembedding;
    gpt2_block_offsets *blocks;    /* (L) */
    double lens_weight;
    bool *lens_rows;               /* (L) */
    int n_lens_rows;               /* |S| */
    /* kept by the forward pass for the backward pass, for N = max_batch T rows */
    float *residual;               /* (L+1, N, C) row l = the stream after block l */
    float *middle;                 /* (L, N, C) the stream between attention and MLP */
    float *qkv;                    /* (L, N, 3C) */
    float *attention_out;          /* (L, N, C) the heads' outputs, before c_proj */
    float *pre_activation;         /* (L, N, I) */
    float *ln_1_mean, *ln_1_rstd;  /* (L, N) */
    float *ln_2_mean, *ln_2_rstd;  /* (L, N) */
    float *log_sum_exp;            /* (L, max_batch, H, T) */
    /* scratch */
    float *final_mean, *final_rstd; /* (N) */
    float *normed, *d_normed;      /* (N, C) */
    float *d_residual, *d_middle, *d_narrow; /* (N, C) */
    float *hidden, *d_hidden, *d_pre; /* (N, I) */
    float *d_qkv;                  /* (N, 3C) */
    float *attention_scratch;      /* attention_train_scratch_floats(T) */
    float *row_weights, *ce;       /* (N) */
    int32_t *inputs, *targets;     /* (N) */
    float *arena;                  /* every float buffer above, one allocation */
    vocab_loss_workspace *vocab;
} gpt2_gradient;

/* ------------------------------------------------------------------------
 * Binding
 * ---------------------------------------------------------------------- */

/* The offset of tensor name with shape (d0) or (d0, d1) (d1 < 0: a vector). */
static loupe_status bind(const train_parameters *params, const char *name, int64_t d0, int64_t d1, size_t *offset,
                         loupe_error *error) {
    const train_tensor *tensor = train_parameters_find(params, name);
    if (tensor == NULL)
        return error_set(error, LOUPE_ERROR_FORMAT, "tensor '%s' is missing from the parameters", name);
    int n_dims = d1 < 0 ? 1 : 2;
    if (tensor->n_dims != n_dims || tensor->shape[0] != d0 || (n_dims == 2 && tensor->shape[1] != d1))
        return error_set(error, LOUPE_ERROR_FORMAT, "tensor '%s': expected shape [%lld%s%lld], found %d dims [%lld, %lld]",
                         name, (long long)d0, n_dims == 2 ? ", " : "", n_dims == 2 ? (long long)d1 : 0LL,
                         tensor->n_dims, (long long)tensor->shape[0],
                         tensor->n_dims > 1 ? (long long)tensor->shape[1] : 0LL);
    *offset = tensor->offset;
    return LOUPE_OK;
}

static loupe_status bind_block(const train_parameters *params, int layer, int C, int I, gpt2_block_offsets *out,
                               loupe_error *error) {
    char name[128];
    const struct {
        const char *suffix;
        int64_t d0, d1;
        size_t *offset;
    } tensors[] = {
        {"ln_1.weight", C, -1, &out->ln_1_weight},     {"ln_1.bias", C, -1, &out->ln_1_bias},
        {"attn.c_attn.weight", C, 3 * C, &out->qkv_weight}, {"attn.c_attn.bias", 3 * C, -1, &out->qkv_bias},
        {"attn.c_proj.weight", C, C, &out->proj_weight}, {"attn.c_proj.bias", C, -1, &out->proj_bias},
        {"ln_2.weight", C, -1, &out->ln_2_weight},     {"ln_2.bias", C, -1, &out->ln_2_bias},
        {"mlp.c_fc.weight", C, I, &out->fc_weight},    {"mlp.c_fc.bias", I, -1, &out->fc_bias},
        {"mlp.c_proj.weight", I, C, &out->down_weight}, {"mlp.c_proj.bias", C, -1, &out->down_bias},
    };
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++) {
        snprintf(name, sizeof name, "h.%d.%s", layer, tensors[i].suffix);
        loupe_status status = bind(params, name, tensors[i].d0, tensors[i].d1, tensors[i].offset, error);
        if (status != LOUPE_OK) return status;
    }
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * Workspace
 * ---------------------------------------------------------------------- */

static void gpt2_free(void *state) {
    gpt2_gradient *g = state;
    if (g == NULL) return;
    free(g->attention_scale);
    free(g->blocks);
    free(g->lens_rows);
    free(g->arena);
    free(g->inputs);
    free(g->targets);
    vocab_loss_workspace_free(g->vocab);
    free(g);
}

/* An arena being laid out: base NULL only counts. */
typedef struct arena_cursor {
    float *base;
    size_t used; /* floats */
} arena_cursor;

/* The next n floats (rounded up to 16: 64 bytes) of the arena; NULL while
 * counting. */
static float *carve(arena_cursor *at, size_t n) {
    float *start = at->base ? at->base + at->used : NULL;
    at->used += (n + 15) / 16 * 16;
    return start;
}

/* Points every float buffer into the arena at base (NULL: only counts);
 * returns the floats it takes. */
static size_t layout_buffers(gpt2_gradient *g, float *base) {
    size_t N = (size_t)g->max_batch * g->T, C = g->C, I = g->I, L = g->L;
    arena_cursor cursor = {base, 0};
    arena_cursor *at = &cursor;
    g->residual = carve(at, (L + 1) * N * C);
    g->middle = carve(at, L * N * C);
    g->qkv = carve(at, L * N * 3 * C);
    g->attention_out = carve(at, L * N * C);
    g->pre_activation = carve(at, L * N * I);
    g->ln_1_mean = carve(at, L * N);
    g->ln_1_rstd = carve(at, L * N);
    g->ln_2_mean = carve(at, L * N);
    g->ln_2_rstd = carve(at, L * N);
    g->log_sum_exp = carve(at, L * N * g->H);
    g->final_mean = carve(at, N);
    g->final_rstd = carve(at, N);
    g->normed = carve(at, N * C);
    g->d_normed = carve(at, N * C);
    g->d_residual = carve(at, N * C);
    g->d_middle = carve(at, N * C);
    g->d_narrow = carve(at, N * C);
    g->hidden = carve(at, N * I);
    g->d_hidden = carve(at, N * I);
    g->d_pre = carve(at, N * I);
    g->d_qkv = carve(at, N * 3 * C);
    g->attention_scratch = carve(at, attention_train_scratch_floats(g->T));
    g->row_weights = carve(at, N);
    g->ce = carve(at, N);
    return cursor.used;
}

static loupe_status gpt2_create(const loupe_model *model, const train_parameters *params, int max_batch, int T,
                                const model_loss_settings *settings, void **state, loupe_error *error) {
    *state = NULL;
    const model_description *d = &model->description;
    gpt2_gradient *g = calloc(1, sizeof *g);
    if (g == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the GPT-2 gradient");
    g->L = d->n_layer, g->C = d->n_embd, g->H = d->n_head, g->D = d->n_embd / d->n_head, g->I = d->n_inner;
    g->V = d->n_vocab, g->T = T, g->max_batch = max_batch;
    g->eps = (float)d->norm_eps;
    g->activation = d->activation;
    g->lens_weight = settings->lens_weight;
    g->attention_scale = calloc((size_t)g->L, sizeof(float));
    g->blocks = calloc((size_t)g->L, sizeof *g->blocks);
    g->lens_rows = calloc((size_t)g->L, sizeof(bool));
    size_t N = (size_t)max_batch * T;
    g->inputs = calloc(N, sizeof(int32_t));
    g->targets = calloc(N, sizeof(int32_t));
    if (g->attention_scale == NULL || g->blocks == NULL || g->lens_rows == NULL || g->inputs == NULL ||
        g->targets == NULL) {
        gpt2_free(g);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the GPT-2 gradient");
    }
    for (int l = 0; l < g->L; l++) {
        g->lens_rows[l] = settings->lens_rows == NULL || settings->lens_rows[l];
        g->n_lens_rows += g->lens_rows[l];
        float scale = 1.0f;
        if (d->scale_attn_weights) scale /= sqrtf((float)g->D);
        if (d->scale_attn_by_inverse_layer_idx) scale /= (float)(l + 1);
        g->attention_scale[l] = scale;
    }
    loupe_status status = bind(params, "wte.weight", g->V, g->C, &g->token_embedding, error);
    if (status == LOUPE_OK) status = bind(params, "wpe.weight", d->n_ctx, g->C, &g->position_embedding, error);
    if (status == LOUPE_OK) status = bind(params, "ln_f.weight", g->C, -1, &g->final_norm_weight, error);
    if (status == LOUPE_OK) status = bind(params, "ln_f.bias", g->C, -1, &g->final_norm_bias, error);
    for (int l = 0; l < g->L && status == LOUPE_OK; l++) status = bind_block(params, l, g->C, g->I, &g->blocks[l], error);
    if (status == LOUPE_OK) {
        if (d->tie_word_embeddings)
            g->unembedding = g->token_embedding;
        else
            status = bind(params, "lm_head.weight", g->V, g->C, &g->unembedding, error);
    }
    if (status != LOUPE_OK) {
        gpt2_free(g);
        return status;
    }
    size_t floats = layout_buffers(g, NULL);
    g->arena = aligned_alloc(64, floats * sizeof(float));
    g->vocab = vocab_loss_workspace_create((int)N, g->C, g->V);
    if (g->arena == NULL || g->vocab == NULL) {
        gpt2_free(g);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for the GPT-2 gradient's %zu MB of activations",
                         floats * sizeof(float) >> 20);
    }
    layout_buffers(g, g->arena);
    *state = g;
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * Forward and backward
 * ---------------------------------------------------------------------- */

/* The attention shape of one window of layer l's qkv (T, 3C) rows. */
static attention_shape window_shape(const gpt2_gradient *g, int layer) {
    return (attention_shape){.T = g->T, .n_heads = g->H, .n_kv_heads = g->H, .head_dim = g->D,
                             .q_stride = 3 * g->C, .k_stride = 3 * g->C, .v_stride = 3 * g->C, .out_stride = g->C,
                             .scale = g->attention_scale[layer]};
}

static void add_rows(float *out, const float *in, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] += in[i];
}

/* The forward pass of block l on N rows: residual l -> residual l+1. */
static void block_forward(gpt2_gradient *g, const float *values, int layer, int B) {
    const gpt2_block_offsets *w = &g->blocks[layer];
    int N = B * g->T, C = g->C, I = g->I;
    size_t NC = (size_t)N * C;
    const float *in = g->residual + (size_t)layer * (size_t)g->max_batch * g->T * C;
    float *out = g->residual + (size_t)(layer + 1) * (size_t)g->max_batch * g->T * C;
    size_t stride = (size_t)g->max_batch * g->T; /* rows per layer in the kept arrays */
    float *qkv = g->qkv + (size_t)layer * stride * 3 * C, *attended = g->attention_out + (size_t)layer * stride * C;
    float *middle = g->middle + (size_t)layer * stride * C, *pre = g->pre_activation + (size_t)layer * stride * I;
    float *lse = g->log_sum_exp + (size_t)layer * stride * g->H;
    layer_norm_keeping(g->normed, g->ln_1_mean + layer * stride, g->ln_1_rstd + layer * stride, in,
                             values + w->ln_1_weight, values + w->ln_1_bias, N, C, g->eps);
    linear_forward(qkv, g->normed, values + w->qkv_weight, values + w->qkv_bias, N, C, 3 * C, MATMUL_WEIGHT_IN_OUT);
    attention_shape shape = window_shape(g, layer);
    for (int b = 0; b < B; b++) {
        const float *q = qkv + (size_t)b * g->T * 3 * C;
        attention_forward_train(attended + (size_t)b * g->T * C, lse + (size_t)b * g->H * g->T, q, q + C, q + 2 * C,
                                g->attention_scratch, &shape);
    }
    linear_forward(middle, attended, values + w->proj_weight, values + w->proj_bias, N, C, C, MATMUL_WEIGHT_IN_OUT);
    add_rows(middle, in, NC);
    layer_norm_keeping(g->normed, g->ln_2_mean + layer * stride, g->ln_2_rstd + layer * stride, middle,
                             values + w->ln_2_weight, values + w->ln_2_bias, N, C, g->eps);
    linear_forward(pre, g->normed, values + w->fc_weight, values + w->fc_bias, N, C, I, MATMUL_WEIGHT_IN_OUT);
    memcpy(g->hidden, pre, sizeof(float) * (size_t)N * I);
    activation_apply(g->activation, g->hidden, (size_t)N * I);
    linear_forward(out, g->hidden, values + w->down_weight, values + w->down_bias, N, I, C, MATMUL_WEIGHT_IN_OUT);
    add_rows(out, middle, NC);
}

/* The backward pass of block l: g->d_residual holds dloss/d(residual l+1)
 * on entry and dloss/d(residual l) on return; the block's weight gradients
 * are added into grads. */
static void block_backward(gpt2_gradient *g, const float *values, float *grads, int layer, int B) {
    const gpt2_block_offsets *w = &g->blocks[layer];
    int N = B * g->T, C = g->C, I = g->I;
    size_t NC = (size_t)N * C, stride = (size_t)g->max_batch * g->T;
    const float *in = g->residual + (size_t)layer * stride * C;
    const float *qkv = g->qkv + (size_t)layer * stride * 3 * C;
    const float *attended = g->attention_out + (size_t)layer * stride * C;
    const float *middle = g->middle + (size_t)layer * stride * C, *pre = g->pre_activation + (size_t)layer * stride * I;
    const float *lse = g->log_sum_exp + (size_t)layer * stride * g->H;
    float *ln_1_mean = g->ln_1_mean + layer * stride, *ln_1_rstd = g->ln_1_rstd + layer * stride;
    float *ln_2_mean = g->ln_2_mean + layer * stride, *ln_2_rstd = g->ln_2_rstd + layer * stride;

    /* the MLP: out = middle + act(ln_2(middle) W_fc + b) W_down + b */
    memcpy(g->d_middle, g->d_residual, sizeof(float) * NC);
    memcpy(g->hidden, pre, sizeof(float) * (size_t)N * I);
    activation_apply(g->activation, g->hidden, (size_t)N * I);
    memset(g->d_hidden, 0, sizeof(float) * (size_t)N * I);
    linear_backward(g->d_hidden, grads + w->down_weight, grads + w->down_bias, g->d_residual, g->hidden,
                    values + w->down_weight, N, I, C, MATMUL_WEIGHT_IN_OUT);
    memset(g->d_pre, 0, sizeof(float) * (size_t)N * I);
    activation_backward(g->activation, g->d_pre, g->d_hidden, pre, (size_t)N * I);
    layer_norm_keeping(g->normed, ln_2_mean, ln_2_rstd, middle, values + w->ln_2_weight,
                             values + w->ln_2_bias, N, C, g->eps);
    memset(g->d_narrow, 0, sizeof(float) * NC);
    linear_backward(g->d_narrow, grads + w->fc_weight, grads + w->fc_bias, g->d_pre, g->normed,
                    values + w->fc_weight, N, C, I, MATMUL_WEIGHT_IN_OUT);
    layer_norm_backward(g->d_middle, grads + w->ln_2_weight, grads + w->ln_2_bias, g->d_narrow, middle, ln_2_mean,
                        ln_2_rstd, values + w->ln_2_weight, N, C);

    /* the attention: middle = in + attention(ln_1(in) W_qkv + b) W_proj + b */
    memset(g->d_narrow, 0, sizeof(float) * NC);
    linear_backward(g->d_narrow, grads + w->proj_weight, grads + w->proj_bias, g->d_middle, attended,
                    values + w->proj_weight, N, C, C, MATMUL_WEIGHT_IN_OUT);
    memset(g->d_qkv, 0, sizeof(float) * NC * 3);
    attention_shape shape = window_shape(g, layer);
    for (int b = 0; b < B; b++) {
        size_t row = (size_t)b * g->T;
        const float *q = qkv + row * 3 * C;
        float *d_q = g->d_qkv + row * 3 * C;
        attention_backward(d_q, d_q + C, d_q + 2 * C, g->d_narrow + row * C, q, q + C, q + 2 * C, attended + row * C,
                           lse + (size_t)b * g->H * g->T, g->attention_scratch, &shape);
    }
    layer_norm_keeping(g->normed, ln_1_mean, ln_1_rstd, in, values + w->ln_1_weight, values + w->ln_1_bias, N,
                             C, g->eps);
    memset(g->d_narrow, 0, sizeof(float) * NC);
    linear_backward(g->d_narrow, grads + w->qkv_weight, grads + w->qkv_bias, g->d_qkv, g->normed,
                    values + w->qkv_weight, N, C, 3 * C, MATMUL_WEIGHT_IN_OUT);
    memcpy(g->d_residual, g->d_middle, sizeof(float) * NC);
    layer_norm_backward(g->d_residual, grads + w->ln_1_weight, grads + w->ln_1_bias, g->d_narrow, in, ln_1_mean,
                        ln_1_rstd, values + w->ln_1_weight, N, C);
}

/* One row of the table through ln_f and the unembedding: *mean_ce its mean
 * CE over the N rows; each position weighted row_weight in the gradient,
 * which is added into g->d_residual (through ln_f) and grads (ln_f and the
 * unembedding); grads NULL: the CE only. */
static loupe_status row_loss(gpt2_gradient *g, const float *values, float *grads, const float *residual, int N,
                             float row_weight, double *mean_ce, loupe_error *error) {
    layer_norm_keeping(g->normed, g->final_mean, g->final_rstd, residual, values + g->final_norm_weight,
                             values + g->final_norm_bias, N, g->C, g->eps);
    for (int n = 0; n < N; n++) g->row_weights[n] = row_weight;
    double weighted;
    loupe_status status = vocab_loss_forward_backward(
        g->vocab, g->normed, g->targets, g->row_weights, N, values + g->unembedding, g->V, g->C, &weighted, g->ce,
        grads != NULL ? g->d_normed : NULL, grads != NULL ? grads + g->unembedding : NULL, error);
    if (status != LOUPE_OK) return status;
    double sum = 0.0;
    for (int n = 0; n < N; n++) sum += g->ce[n];
    *mean_ce = sum / N;
    if (grads == NULL) return LOUPE_OK;
    layer_norm_backward(g->d_residual, grads + g->final_norm_weight, grads + g->final_norm_bias, g->d_normed,
                        residual, g->final_mean, g->final_rstd, values + g->final_norm_weight, N, g->C);
    return LOUPE_OK;
}

static loupe_status gpt2_accumulate(void *state, const train_parameters *params, const int32_t *ids, int B,
                                    double weight, float *grads, model_loss_parts *parts, double *row_ce,
                                    loupe_error *error) {
    gpt2_gradient *g = state;
    const float *values = params->values;
    int T = g->T, C = g->C, L = g->L, N = B * T;
    size_t stride = (size_t)g->max_batch * T * C;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            g->inputs[b * T + t] = ids[(size_t)b * (T + 1) + t];
            g->targets[b * T + t] = ids[(size_t)b * (T + 1) + t + 1];
        }
    if (row_ce)
        for (int l = 0; l <= L; l++) row_ce[l] = NAN;

    /* forward: embeddings, then the blocks */
    const float *wte = values + g->token_embedding, *wpe = values + g->position_embedding;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *token = wte + (size_t)g->inputs[n] * C, *position = wpe + (size_t)(n % T) * C;
        float *row = g->residual + (size_t)n * C;
        for (int c = 0; c < C; c++) row[c] = token[c] + position[c];
    }
    for (int l = 0; l < L; l++) block_forward(g, values, l, B);

    /* backward: the final row, then each block and its lens row */
    bool lens = g->lens_weight > 0.0 && g->n_lens_rows > 0;
    float final_weight = (float)(weight / N);
    float lens_weight = lens ? (float)(weight * g->lens_weight / g->n_lens_rows / N) : 0.0f;
    memset(g->d_residual, 0, sizeof(float) * (size_t)N * C);
    double final_ce, lens_sum = 0.0;
    loupe_status status = row_loss(g, values, grads, g->residual + (size_t)L * stride, N, final_weight, &final_ce, error);
    if (status != LOUPE_OK) return status;
    if (row_ce) row_ce[L] = final_ce;
    for (int l = L - 1; l >= 0; l--) {
        if (grads != NULL) block_backward(g, values, grads, l, B);
        if (lens && g->lens_rows[l]) {
            double ce;
            status = row_loss(g, values, grads, g->residual + (size_t)l * stride, N, lens_weight, &ce, error);
            if (status != LOUPE_OK) return status;
            lens_sum += ce;
            if (row_ce) row_ce[l] = ce;
        }
    }
    if (grads != NULL)
        embedding_backward(grads + g->token_embedding, grads + g->position_embedding, g->d_residual, g->inputs, N, T,
                           C);
    parts->final_ce = final_ce;
    parts->lens_ce = lens ? lens_sum / g->n_lens_rows : 0.0;
    parts->loss = final_ce + (lens ? g->lens_weight * parts->lens_ce : 0.0);
    return LOUPE_OK;
}

const model_gradient_family MODEL_GRADIENT_GPT2 = {
    .create = gpt2_create,
    .accumulate = gpt2_accumulate,
    .free = gpt2_free,
};
