/*
 * loupe.h - the logit lens for transformer language models.
 *
 * The one public header. Every handle is opaque; every call that can fail
 * returns a loupe_status and fills a loupe_error with a one-line message
 * naming the file, field or offset at fault. Nothing here exits or aborts
 * on bad input. Freeing NULL is always a no-op.
 *
 * Shape letters used in comments throughout loupe:
 *   T tokens (positions), C width (n_embd), L layers (blocks),
 *   V vocabulary size, H attention heads, D head width (C / H).
 */
#ifndef LOUPE_H
#define LOUPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Status and errors
 * ---------------------------------------------------------------------- */

typedef enum loupe_status {
    LOUPE_OK = 0,
    LOUPE_ERROR_IO,          /* a file could not be opened, read or mapped */
    LOUPE_ERROR_FORMAT,      /* a file is malformed or inconsistent */
    LOUPE_ERROR_UNSUPPORTED, /* well-formed, but not something loupe runs */
    LOUPE_ERROR_LIMIT,       /* a size exceeds a limit (context, dimensions) */
    LOUPE_ERROR_ARGUMENT,    /* the caller passed an invalid value */
    LOUPE_ERROR_MEMORY,      /* an allocation failed */
} loupe_status;

enum { LOUPE_ERROR_MESSAGE_CAPACITY = 512 };

typedef struct loupe_error {
    loupe_status status;
    char message[LOUPE_ERROR_MESSAGE_CAPACITY]; /* one line, no newline */
} loupe_error;

/* A short name for a status, e.g. "format error". Never NULL. */
const char *loupe_status_name(loupe_status status);

/* ------------------------------------------------------------------------
 * Models
 * ---------------------------------------------------------------------- */

typedef struct loupe_model loupe_model;

/* Opens the Hugging Face model folder `directory`: config.json and either
 * model.safetensors or model.safetensors.index.json with its shards.
 * Weights stored as F32 are used in place from the memory map; F16 and BF16
 * are converted to float32 once, here. On success *model_out owns the model;
 * release it with loupe_model_close. */
loupe_status loupe_model_open(const char *directory, loupe_model **model_out,
                              loupe_error *error);
void loupe_model_close(loupe_model *model);

typedef struct loupe_model_info {
    const char *architecture; /* e.g. "GPT2LMHeadModel" */
    const char *model_type;   /* e.g. "gpt2" */
    const char *activation;   /* e.g. "gelu_new" */
    const char *dtype;        /* storage dtype of the weights: "F32", "F16", "BF16" */
    const char *directory;    /* the folder it was opened from */
    int n_layer;              /* L */
    int n_embd;               /* C */
    int n_head;               /* H */
    int n_inner;              /* width of the MLP hidden layer */
    int n_vocab;              /* V */
    int n_ctx;                /* the longest text the model accepts, in tokens */
    bool tied_unembedding;    /* lm_head shares the token embedding */
    int64_t n_parameters;     /* distinct parameters (a tied head counted once) */
    int64_t weight_bytes;     /* bytes of the weights as stored on disk */
} loupe_model_info;

/* Fills *info; the strings live as long as the model. */
void loupe_model_get_info(const loupe_model *model, loupe_model_info *info);

/* ------------------------------------------------------------------------
 * Forward pass with taps on the residual stream
 * ---------------------------------------------------------------------- */

typedef enum loupe_tap_kind {
    LOUPE_TAP_EMBEDDING,      /* after token + position embeddings (layer = 0) */
    LOUPE_TAP_AFTER_ATTENTION, /* inside block `layer`, after attention, before the MLP */
    LOUPE_TAP_AFTER_BLOCK,    /* after block `layer` (1-based: 1 .. L) */
} loupe_tap_kind;

/* Called with the raw (un-normalised) residual stream, residual is (T, C).
 * The pointer is valid only during the call. Return LOUPE_OK to go on; any
 * other status stops the forward pass, which then returns that status. */
typedef loupe_status (*loupe_tap_fn)(void *user, loupe_tap_kind kind, int layer,
                                     const float *residual, int n_tokens, int n_embd);

typedef struct loupe_forward_params {
    loupe_tap_fn tap;        /* may be NULL */
    void *tap_user;
    bool tap_after_attention; /* also report LOUPE_TAP_AFTER_ATTENTION */
} loupe_forward_params;

loupe_forward_params loupe_forward_default_params(void);

/* Runs the model on ids (T) and reports every tap in order: the embedding,
 * then per block (the attention tap if asked), the block's output.
 * final_residual, if not NULL, receives the residual after the last block,
 * (T, C), un-normalised. T must be 1 .. n_ctx and every id below V. */
loupe_status loupe_model_forward(const loupe_model *model, const int32_t *ids, int n_tokens,
                                 const loupe_forward_params *params, float *final_residual,
                                 loupe_error *error);

/* Applies the final norm to raw residual rows: residual (N, C) -> normed (N, C).
 * The two may be the same buffer. */
void loupe_model_final_norm(const loupe_model *model, const float *residual, int n_rows,
                            float *normed);

/* The unembedding of already-normalised rows: normed (N, C) -> logits (N, V). */
void loupe_model_unembed(const loupe_model *model, const float *normed, int n_rows,
                         float *logits);

/* The model's head on raw residual rows, final norm then unembedding:
 * residual (N, C) -> logits (N, V). The residual is not modified. */
loupe_status loupe_model_logits(const loupe_model *model, const float *residual, int n_rows,
                                float *logits, loupe_error *error);

/* The distribution of the token after ids (T): probs (V) = softmax(logits /
 * temperature) at the last position; temperature > 0 (1 for the model's own). */
loupe_status loupe_model_next_probs(const loupe_model *model, const int32_t *ids, int n_tokens,
                                    float temperature, float *probs, loupe_error *error);

/* ------------------------------------------------------------------------
 * Tokenizer (GPT-2 byte-level BPE)
 * ---------------------------------------------------------------------- */

typedef struct loupe_tokenizer loupe_tokenizer;

/* Opens vocab.json and merges.txt in `directory`. */
loupe_status loupe_tokenizer_open(const char *directory, loupe_tokenizer **tokenizer_out,
                                  loupe_error *error);
/* Opens the two files by path. */
loupe_status loupe_tokenizer_open_files(const char *vocab_path, const char *merges_path,
                                        loupe_tokenizer **tokenizer_out, loupe_error *error);
void loupe_tokenizer_close(loupe_tokenizer *tokenizer);

int loupe_tokenizer_vocab_size(const loupe_tokenizer *tokenizer);

/* Encodes `length` bytes of text (any bytes: invalid UTF-8 is encoded byte by
 * byte, never rejected). Special tokens in the text are encoded as plain text.
 * On success *ids_out (caller frees with loupe_free) holds *count_out ids. */
loupe_status loupe_tokenizer_encode(loupe_tokenizer *tokenizer, const char *text, size_t length,
                                    int32_t **ids_out, size_t *count_out, loupe_error *error);

/* The raw bytes of one token; NULL (and *length 0) for an id out of range.
 * The bytes live as long as the tokenizer. */
const char *loupe_tokenizer_token_bytes(const loupe_tokenizer *tokenizer, int32_t id,
                                        size_t *length);

/* Decodes ids back to bytes: *text_out (caller frees with loupe_free) holds
 * *length_out bytes plus a terminating NUL. */
loupe_status loupe_tokenizer_decode(const loupe_tokenizer *tokenizer, const int32_t *ids,
                                    size_t count, char **text_out, size_t *length_out,
                                    loupe_error *error);

/* A readable rendering of one token for tables: a leading space shown as
 * U+2423 (open box), newline, tab and carriage return as \n \t \r, other
 * control bytes as <0xNN>, and bytes that are not complete UTF-8 as <0xNN>.
 * Writes at most `capacity` bytes including the NUL; returns the length the
 * full rendering needs (excluding the NUL), like snprintf. */
size_t loupe_tokenizer_render(const loupe_tokenizer *tokenizer, int32_t id, char *buffer,
                              size_t capacity);

/* ------------------------------------------------------------------------
 * The logit lens
 *
 * Row ("layer") r of the lens is a tap of the residual stream: row 0 is the
 * embedding output ("input"), then one row per block, the last row being the
 * model's output; with sub-blocks, a row after each block's attention comes
 * before that block's row. Every metric follows docs/METRICS.md.
 * ---------------------------------------------------------------------- */

enum { LOUPE_LENS_MAX_TOPK = 100 };

typedef struct loupe_lens_params {
    int topk;             /* top tokens kept per cell, 1 .. LOUPE_LENS_MAX_TOPK (default 5) */
    bool subblocks;       /* add a row after each attention sub-block */
    int position_block;   /* positions projected at once (default 24): bounds memory */
} loupe_lens_params;

loupe_lens_params loupe_lens_default_params(void);

/* One token's standing in one cell's distribution. */
typedef struct loupe_lens_token {
    int32_t id;    /* -1 when absent (the target at the last position) */
    float logit;   /* lens logit */
    float prob;    /* softmax probability */
    int32_t rank;  /* 1 + number of tokens with a strictly larger logit */
} loupe_lens_token;

typedef struct loupe_lens_cell {
    const int32_t *top_ids;  /* (topk) most likely first */
    const float *top_probs;  /* (topk) */
    int n_top;
    loupe_lens_token target;    /* the true next token x(t+1); id -1 at the last position */
    loupe_lens_token input;     /* the token at this position, x(t) */
    loupe_lens_token final_top; /* the final row's top-1 token at this position */
    float entropy;       /* nats */
    float kl_final;      /* KL(p_final || p_row) */
    float kl_final_rev;  /* KL(p_row || p_final) */
    float kl_first;      /* KL(p_input || p_row) */
    float kl_first_rev;  /* KL(p_row || p_input) */
} loupe_lens_cell;

typedef struct loupe_lens_result loupe_lens_result;

/* Runs the model on ids (T tokens) and the lens on every row and position.
 * Never holds rows x T x V floats: one block of positions is projected at a
 * time. *result_out is freed with loupe_lens_free. */
loupe_status loupe_lens_run(const loupe_model *model, const int32_t *ids, int n_tokens,
                            const loupe_lens_params *params, loupe_lens_result **result_out,
                            loupe_error *error);
void loupe_lens_free(loupe_lens_result *result);

int loupe_lens_n_rows(const loupe_lens_result *result);
int loupe_lens_n_positions(const loupe_lens_result *result);
/* "input", "h1" .. "hL" (hidden_states numbering), "h3.attn" for sub-blocks. */
const char *loupe_lens_row_name(const loupe_lens_result *result, int row);
/* The ids the lens ran on (T). */
const int32_t *loupe_lens_ids(const loupe_lens_result *result);
/* The cell at (row, position); NULL when out of range. */
const loupe_lens_cell *loupe_lens_cell_at(const loupe_lens_result *result, int row, int position);

/* ------------------------------------------------------------------------
 * Memory
 * ---------------------------------------------------------------------- */

/* Frees memory that loupe returned to the caller. */
void loupe_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif /* LOUPE_H */
