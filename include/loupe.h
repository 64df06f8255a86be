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

/* The library compiles with hidden visibility; what this header declares is
 * its public API, the only symbols libloupe.so exports. */
#if defined(LOUPE_BUILDING_LIBRARY) && defined(__GNUC__)
#pragma GCC visibility push(default)
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
 * Weight matrices are used in place from the memory map as stored, F32, F16
 * or BF16 (the products convert half-precision panels to float32 as they use
 * them, exactly); only vectors (norms, biases) are converted here. On success *model_out owns the model;
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
    int n_kv_head;            /* key/value heads (grouped-query attention; n_head for GPT-2) */
    int head_dim;             /* D, the width of one head (n_embd / n_head unless config.json sets it) */
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

/* The unembedding of already-normalised rows: normed (N, C) -> logits (N, V).
 * LOUPE_ERROR_MEMORY when a BF16 or F16 unembedding's conversion scratch
 * (a few MB) cannot be allocated; LOUPE_OK otherwise. */
loupe_status loupe_model_unembed(const loupe_model *model, const float *normed, int n_rows,
                                 float *logits);

/* The model's head on raw residual rows, final norm then unembedding:
 * residual (N, C) -> logits (N, V). The residual is not modified. */
loupe_status loupe_model_logits(const loupe_model *model, const float *residual, int n_rows,
                                float *logits, loupe_error *error);

/* The distribution of the token after ids (T): probs (V) = softmax(logits /
 * temperature) at the last position; temperature > 0 (1 for the model's own). */
loupe_status loupe_model_next_probs(const loupe_model *model, const int32_t *ids, int n_tokens,
                                    float temperature, float *probs, loupe_error *error);

/* Keys and values of every layer for the positions run so far, so that
 * generating N tokens costs one window and N single-token steps instead of
 * N windows. One cache serves one sequence of one model at a time. */
typedef struct loupe_kv_cache loupe_kv_cache;

/* A cache for up to `capacity` positions (1 .. n_ctx) of model: (L,
 * capacity, n_kv_head x head_dim) floats for the keys and as many for the
 * values. Empty at first. Release it with loupe_kv_cache_free (NULL is a
 * no-op) before the model. */
loupe_status loupe_kv_cache_create(const loupe_model *model, int capacity, loupe_kv_cache **cache_out,
                                   loupe_error *error);
void loupe_kv_cache_free(loupe_kv_cache *cache);

/* Positions the cache holds. */
int loupe_kv_cache_length(const loupe_kv_cache *cache);

/* Forgets every position (the next call starts a new sequence at position 0). */
void loupe_kv_cache_clear(loupe_kv_cache *cache);

/* loupe_model_next_probs for the sequence the cache holds followed by ids
 * (T): the T tokens run at the positions after the cache's, attending to its
 * keys and values, and are appended to it. The same computation as on the
 * whole sequence, except that the products run on T rows instead of all of
 * them (BLAS may round a few last bits differently). The cache's length +
 * T must not exceed its capacity (LOUPE_ERROR_LIMIT); on failure the cache
 * keeps its length. */
loupe_status loupe_model_next_probs_cached(const loupe_model *model, loupe_kv_cache *cache, const int32_t *ids,
                                           int n_tokens, float temperature, float *probs, loupe_error *error);

/* ------------------------------------------------------------------------
 * Tokenizer: Hugging Face tokenizer.json, or GPT-2's vocab.json + merges.txt
 * ---------------------------------------------------------------------- */

/* Immutable once open: any number of threads may encode with one tokenizer
 * at once (each call keeps its scratch space to itself). */
typedef struct loupe_tokenizer loupe_tokenizer;

/* Opens `directory`'s tokenizer.json when it has one (the Hugging Face fast
 * tokenizer, encoded as the tokenizers library does: docs/TOKENIZERS.md).
 * Otherwise opens vocab.json and merges.txt in `directory`, with the added and
 * special tokens that transformers' GPT2TokenizerFast finds there:
 * tokenizer_config.json (added_tokens_decoder, bos_token, ...), else
 * special_tokens_map.json and added_tokens.json, and by default
 * "<|endoftext|>" as the BOS, EOS and unknown token when vocab.json has it. */
loupe_status loupe_tokenizer_open(const char *directory, loupe_tokenizer **tokenizer_out,
                                  loupe_error *error);
/* Opens the two files by path; the added tokens are GPT-2's defaults only. */
loupe_status loupe_tokenizer_open_files(const char *vocab_path, const char *merges_path,
                                        loupe_tokenizer **tokenizer_out, loupe_error *error);
void loupe_tokenizer_close(loupe_tokenizer *tokenizer);

/* One more than the largest token id (vocab.json's or an added token's). */
int loupe_tokenizer_vocab_size(const loupe_tokenizer *tokenizer);

/* The id of the BOS token (bos_token of the folder; GPT-2's "<|endoftext|>",
 * 50256; for tokenizer.json the first token its post-processor puts before
 * the text), or -1 when the tokenizer has none. */
int32_t loupe_tokenizer_bos_id(const loupe_tokenizer *tokenizer);

typedef struct loupe_encode_params {
    /* true (the default): special added tokens in the text, such as
     * "<|endoftext|>", are encoded as their own ids, as Hugging Face's
     * tokenizers do; false: their text is encoded as plain text (Hugging
     * Face's split_special_tokens). Non-special added tokens are matched
     * either way. */
    bool match_special;
    /* true (the default): the special tokens that the tokenizer's
     * post-processor puts around the text are added (tokenizer.json's
     * TemplateProcessing: the BOS of Llama-family tokenizers), as Hugging
     * Face's add_special_tokens=True; GPT-2's vocab.json/merges.txt add none. */
    bool add_special;
} loupe_encode_params;

loupe_encode_params loupe_encode_default_params(void);

/* Encodes `length` bytes of text (any bytes: invalid UTF-8 is encoded byte by
 * byte, never rejected): the added tokens first (leftmost-longest, with
 * their lstrip, rstrip and single_word flags), then GPT-2's byte-level BPE
 * on the text between them. With tokenizer.json: its whole pipeline, each
 * invalid UTF-8 byte first made U+FFFD. params NULL means the defaults. On success
 * *ids_out (caller frees with loupe_free) holds *count_out ids. */
loupe_status loupe_tokenizer_encode_with_params(const loupe_tokenizer *tokenizer, const char *text, size_t length,
                                                const loupe_encode_params *params, int32_t **ids_out,
                                                size_t *count_out, loupe_error *error);

/* loupe_tokenizer_encode_with_params with match_special false: special
 * tokens in the text are encoded as plain text. */
loupe_status loupe_tokenizer_encode(const loupe_tokenizer *tokenizer, const char *text, size_t length,
                                    int32_t **ids_out, size_t *count_out, loupe_error *error);

/* The raw bytes of one token (an added token's content for an added id
 * beyond vocab.json); NULL (and *length 0) for an id that is no token.
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

/* The text of one token as loupe's JSON documents write it (the "text" of
 * a loupe.lens/1 token): its bytes, each byte that is not part of valid
 * UTF-8 written as <0xNN>, so the result is always valid UTF-8. Written as
 * snprintf does (at most capacity bytes, NUL included), returning the full
 * length; "" (0) for an id that is no token. */
size_t loupe_tokenizer_token_text(const loupe_tokenizer *tokenizer, int32_t id, char *buffer, size_t capacity);

/* ------------------------------------------------------------------------
 * The logit lens
 *
 * Row ("layer") r of the lens is a tap of the residual stream: row 0 is the
 * embedding output ("input"), then one row per block, the last row being the
 * model's output; with sub-blocks, a row after each block's attention comes
 * before that block's row. Every metric follows docs/METRICS.md.
 * ---------------------------------------------------------------------- */

enum { LOUPE_LENS_MAX_TOPK = 100, LOUPE_LENS_MAX_TRACK = 16 };

/* The arithmetic of the lens's projections (docs/PRECISION.md). */
typedef enum loupe_precision {
    LOUPE_PRECISION_F32 = 0, /* float32 throughout: the exact lens (the default) */
    LOUPE_PRECISION_BF16,    /* normed residual and unembedding rounded to BF16, products by AVX512_BF16 with
                                float32 sums; each cell carries a proven bound on its logits' error. The
                                forward pass stays float32. LOUPE_ERROR_UNSUPPORTED on a CPU without AVX512_BF16 */
} loupe_precision;

typedef struct loupe_lens_params {
    int topk;             /* top tokens kept per cell, 1 .. LOUPE_LENS_MAX_TOPK (default 5) */
    bool subblocks;       /* add a row after each attention sub-block */
    int position_block;   /* positions projected at once (default 24): bounds memory */
    loupe_precision precision; /* default LOUPE_PRECISION_F32 */
    const struct loupe_tuned_lens *tuned; /* NULL (default): the logit lens; else rows 0 .. L-1 go
                                             through its translators first (not with subblocks) */
    const int32_t *track_ids; /* (n_track) tokens followed in every cell (default none), each below V */
    int n_track;          /* 0 .. LOUPE_LENS_MAX_TRACK (default 0) */
    bool contributions;   /* add rows hN.attn_out and hN.mlp_out: what block N's attention and MLP add
                             to the residual stream, read through the final norm and unembedding, with
                             their direct logit attribution (docs/METRICS.md) */
    bool keep_taps;       /* keep every row's raw residual (R, T, C) in the result: loupe_lens_taps */
} loupe_lens_params;

loupe_lens_params loupe_lens_default_params(void);

/* One token's standing in one cell's distribution. */
typedef struct loupe_lens_token {
    int32_t id;    /* -1 when absent (the target at the last position) */
    float logit;   /* lens logit */
    float prob;    /* softmax probability */
    int32_t rank;  /* 1 + number of tokens with a strictly larger logit */
    float log_prob; /* log of the softmax probability, computed as logit - log-sum-exp (finite where prob
                       underflows to 0); a lens read back from JSON has log(prob) */
} loupe_lens_token;

/* Direct logit attribution of one component of the final residual stream
 * (the embedding or a sub-block's output) to two tokens' final logits,
 * through the final norm with its scale taken from the final residual
 * (docs/METRICS.md). */
typedef struct loupe_lens_attribution {
    float target;    /* to the true next token's logit; NaN at the last position */
    float final_top; /* to the final row's top-1 token's logit */
} loupe_lens_attribution;

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
    const loupe_lens_token *tracked; /* (n_tracked) the tracked tokens, in the order of track_ids; NULL when none */
    int n_tracked;
    const loupe_lens_attribution *attribution; /* with contributions, in the input, hN.attn_out and hN.mlp_out
                                                  rows; NULL elsewhere */
    float logit_error_bound; /* every logit of the cell is within this of the exact float32 lens's (0 in f32;
                                +inf when too large to bound); docs/PRECISION.md */
    bool top1_guaranteed;    /* the top-1 leads the second by more than twice the bound: the exact lens has
                                the same top-1 (always true in f32). A lens read back from JSON has 0 and false */
} loupe_lens_cell;

typedef struct loupe_lens_result loupe_lens_result;

/* Runs the model on ids (T tokens) and the lens on every row and position.
 * Never holds rows x T x V floats: one block of positions is projected at a
 * time. *result_out is freed with loupe_lens_free. */
loupe_status loupe_lens_run(const loupe_model *model, const int32_t *ids, int n_tokens,
                            const loupe_lens_params *params, loupe_lens_result **result_out,
                            loupe_error *error);
void loupe_lens_free(loupe_lens_result *result);

/* The lens of n_texts texts, text k being ids[k] (n_tokens[k] tokens, 1 ..
 * n_ctx): each has its own forward pass, and their positions are projected
 * together, so that short texts share each pass over the unembedding.
 * results_out (n_texts) receives one result per text, the same as
 * loupe_lens_run's on that text (the same bits with the AVX-512 projection
 * kernel); each is freed with loupe_lens_free. On failure all are NULL. */
loupe_status loupe_lens_run_batch(const loupe_model *model, const int32_t *const *ids, const int *n_tokens,
                                  int n_texts, const loupe_lens_params *params, loupe_lens_result **results_out,
                                  loupe_error *error);

/* The lens of a text of any length: windows of window_tokens tokens (2 ..
 * n_ctx) starting every `stride` tokens (1 .. window_tokens - 1), the last
 * one moved back to end at the text's end, as loupe_corpus_window_next cuts
 * them. Each position's cells come from the first window that holds it and
 * its next token, the one where it has the most left context; the last
 * position from the last window. A text of at most window_tokens tokens is
 * one window: the result is loupe_lens_run's. */
loupe_status loupe_lens_run_windowed(const loupe_model *model, const int32_t *ids, int n_tokens, int window_tokens,
                                     int stride, const loupe_lens_params *params, loupe_lens_result **result_out,
                                     loupe_error *error);

/* The lens's rows for a model of n_layer blocks: 1 + n_layer, or
 * 1 + 2 n_layer with sub-blocks. The one definition of the rows, shared by
 * the lens, the corpus statistics and every output. */
int loupe_lens_row_count(int n_layer, bool subblocks);
/* The same with the contribution rows: per block, in the order they are
 * computed, hN.attn_out, [hN.attn,] hN.mlp_out, then hN: 1 + n_layer (1 +
 * subblocks + 2 contributions) rows. loupe_lens_row_count(n, s) is
 * loupe_lens_row_count_with(n, s, false); likewise the labels. */
int loupe_lens_row_count_with(int n_layer, bool subblocks, bool contributions);
size_t loupe_lens_row_label_with(int n_layer, bool subblocks, bool contributions, int row, char *buffer,
                                 size_t capacity);
/* The name of row `row` (0 .. loupe_lens_row_count - 1): "input", "hN",
 * "hN.attn"; written as snprintf does (at most capacity bytes, NUL
 * included), returning the full length; "" for a row out of range. */
size_t loupe_lens_row_label(int n_layer, bool subblocks, int row, char *buffer, size_t capacity);

int loupe_lens_n_rows(const loupe_lens_result *result);
/* The precision the lens ran at (loupe_lens_params.precision). */
loupe_precision loupe_lens_precision(const loupe_lens_result *result);
int loupe_lens_n_positions(const loupe_lens_result *result);
/* "input", "h1" .. "hL" (hidden_states numbering), "h3.attn" for sub-blocks. */
const char *loupe_lens_row_name(const loupe_lens_result *result, int row);
/* The tuned lens's folder the result was made with (loupe_lens_params.tuned),
 * or NULL for the logit lens. */
const char *loupe_lens_tuned_directory(const loupe_lens_result *result);
/* The ids the lens ran on (T). */
const int32_t *loupe_lens_ids(const loupe_lens_result *result);
/* With keep_taps, the raw (un-normalised) vector of every row, (R, T, C):
 * the residual stream, or with contributions the sub-block's output for
 * the hN.attn_out and hN.mlp_out rows; NULL without keep_taps. */
const float *loupe_lens_taps(const loupe_lens_result *result);
/* The cell at (row, position); NULL when out of range. */
const loupe_lens_cell *loupe_lens_cell_at(const loupe_lens_result *result, int row, int position);

/* A window of a lens: rows [row_first, row_end) and positions
 * [position_first, position_end), each non-empty and inside the lens. */
typedef struct loupe_lens_window {
    int row_first, row_end;
    int position_first, position_end;
} loupe_lens_window;

/* The lens's numbers as flat arrays, for callers that want them whole (the
 * Python package's numpy arrays). Shapes: R rows and P positions of the
 * window, K = topk, row-major; a NULL pointer is not filled. Where a cell
 * has no true next token (the text's last position) the target's prob and
 * logit are NaN and its rank -1. */
typedef struct loupe_lens_arrays {
    double *kl_final, *kl_final_rev, *kl_first, *kl_first_rev, *entropy; /* (R, P) */
    double *target_prob, *target_logit;                                 /* (R, P) */
    int32_t *target_rank;                                               /* (R, P) */
    double *input_prob, *input_logit;                                   /* (R, P) */
    int32_t *input_rank;                                                /* (R, P) */
    double *final_top_prob;                                             /* (R, P) */
    int32_t *top_ids;                                                   /* (R, P, K) */
    double *top_probs;                                                  /* (R, P, K) */
} loupe_lens_arrays;

/* Copies the cells of `window` (NULL: the whole lens) of a result into
 * *arrays, every cell exactly as loupe_lens_cell_at gives it (float widened
 * to double). LOUPE_ERROR_ARGUMENT when the window is empty or outside the
 * lens. */
loupe_status loupe_lens_copy_arrays(const loupe_lens_result *result, const loupe_lens_window *window,
                                    const loupe_lens_arrays *arrays, loupe_error *error);

/* The loupe.lens/1 document (docs/LENS_JSON.md) of the cells of `window`
 * (NULL: the whole lens), byte for byte what `loupe lens --format json`
 * prints for it: token texts from `tokenizer`, the model fields from
 * `info`. On success *text_out (caller frees with loupe_free) holds
 * *length_out bytes and a terminating NUL. */
loupe_status loupe_lens_write_json(const loupe_lens_result *result, const loupe_tokenizer *tokenizer,
                                   const loupe_model_info *info, const loupe_lens_window *window,
                                   char **text_out, size_t *length_out, loupe_error *error);

/* The residual stream at every tap the lens reads, raw (before the final
 * norm): hidden (R, T, C), R = loupe_lens_row_count(L, subblocks), in the
 * lens's row order (row 0 the embedding output, row R-1 the last block's).
 * T must be 1 .. n_ctx and every id below V. */
loupe_status loupe_lens_hidden_states(const loupe_model *model, const int32_t *ids, int n_tokens, bool subblocks,
                                      float *hidden, loupe_error *error);

/* One lens row's logits: the model's head (final norm, then unembedding)
 * on the residual of row `row` (0 .. R-1) over ids (T): logits (T, V).
 * Row R-1 gives the model's own logits. */
loupe_status loupe_lens_row_logits(const loupe_model *model, const int32_t *ids, int n_tokens, bool subblocks,
                                   int row, float *logits, loupe_error *error);

/* ------------------------------------------------------------------------
 * Two models' lenses compared
 *
 * Two models with the same rows and vocabulary (GELU and ReLU, a base model
 * and its fine-tuning) run on the same ids; for every row and position, the
 * KL between their lens distributions p_A and p_B in both directions, and
 * the standing of the true next token and of each model's top-1 in each.
 * ---------------------------------------------------------------------- */

typedef struct loupe_compare_cell {
    float kl_ab;                /* KL(p_A || p_B), nats */
    float kl_ba;                /* KL(p_B || p_A) */
    loupe_lens_token target_a;  /* the true next token in A's distribution; id -1 at the last position */
    loupe_lens_token target_b;  /* the same token in B's */
    loupe_lens_token top_a;     /* A's top-1 (the smaller id on ties), in A's distribution */
    loupe_lens_token top_b;     /* B's top-1, in B's */
} loupe_compare_cell;

typedef struct loupe_compare_result loupe_compare_result;

/* Runs both models on ids (T tokens, 1 .. each model's n_ctx) and compares
 * their lenses, rows as loupe_lens_row_count(n_layer, subblocks). The models
 * must have the same n_layer and n_vocab (LOUPE_ERROR_ARGUMENT otherwise);
 * that their tokenizers agree is the caller's to check. Free with
 * loupe_compare_free. */
loupe_status loupe_lens_compare(const loupe_model *model_a, const loupe_model *model_b, const int32_t *ids,
                                int n_tokens, bool subblocks, loupe_compare_result **result_out, loupe_error *error);
void loupe_compare_free(loupe_compare_result *result);
int loupe_compare_n_rows(const loupe_compare_result *result);
int loupe_compare_n_positions(const loupe_compare_result *result);
/* "input", "h1", ..., as loupe_lens_row_label; NULL out of range. */
const char *loupe_compare_row_name(const loupe_compare_result *result, int row);
const int32_t *loupe_compare_ids(const loupe_compare_result *result);
/* The cell at (row, position); NULL when out of range. */
const loupe_compare_cell *loupe_compare_cell_at(const loupe_compare_result *result, int row, int position);

/* ------------------------------------------------------------------------
 * The tuned lens (docs/TUNED_LENS.md)
 *
 * A learned affine "translator" per layer i = 0 .. L-1 (0 = the embedding
 * output, as tuned-lens counts): row i of the lens reads
 * unembed(final_norm(h + A_i h + b_i)) instead of unembed(final_norm(h));
 * the model's output row has none. A lens folder is tuned-lens's layout:
 * config.json (its TunedLensConfig) and params.safetensors or params.pt.
 * ---------------------------------------------------------------------- */

typedef struct loupe_tuned_lens loupe_tuned_lens;

/* Opens the lens folder `directory` for `model`: a lens for another model
 * (d_model or num_hidden_layers differ) is LOUPE_ERROR_UNSUPPORTED saying
 * what differs. Parameters of any float dtype (F32, F16, BF16) are kept as
 * float32. Free with loupe_tuned_lens_close. */
loupe_status loupe_tuned_lens_open(const char *directory, const loupe_model *model, loupe_tuned_lens **lens_out,
                                   loupe_error *error);
void loupe_tuned_lens_close(loupe_tuned_lens *lens);

typedef struct loupe_tuned_lens_info {
    const char *directory;   /* the lens folder */
    const char *base_model;  /* config.json's base_model_name_or_path ("" when absent) */
    const char *params_file; /* "params.safetensors" or "params.pt" */
    int n_layer;             /* L translators */
    int n_embd;              /* C */
    bool bias;
} loupe_tuned_lens_info;

/* Fills *info; the strings live as long as the lens. */
void loupe_tuned_lens_get_info(const loupe_tuned_lens *lens, loupe_tuned_lens_info *info);

/* translated (N, C) = residual + residual A_layer^T + b_layer for raw
 * residual rows (N, C) of lens row `layer`, 0 .. L-1; the two buffers must
 * not overlap. */
loupe_status loupe_tuned_lens_translate(const loupe_tuned_lens *lens, int layer, const float *residual, int n_rows,
                                        float *translated, loupe_error *error);

/* Training a tuned lens (docs/TUNED_LENS.md): tuned-lens's loss and
 * optimizer. Positions are added window by window; a step takes the mean
 * of their losses summed over layers. */
typedef enum loupe_lens_loss {
    LOUPE_LENS_LOSS_KL, /* KL(final || lens) at every position, tuned-lens's default */
    LOUPE_LENS_LOSS_CE, /* cross-entropy of the next token */
} loupe_lens_loss;

typedef struct loupe_lens_train_params {
    loupe_lens_loss loss;  /* default KL */
    int steps;             /* optimizer steps, for the schedule (default 250, as tuned-lens) */
    double lr_scale;       /* SGD's learning rate is lr_scale (1 - momentum) (default 1) */
    double momentum;       /* Nesterov momentum (default 0.9) */
    double weight_decay;   /* default 1e-3 */
    double max_grad_norm;  /* the gradient norm is clipped to this (default 1) */
    int warmup_steps;      /* linear warm-up (default 0 for SGD) */
} loupe_lens_train_params;

loupe_lens_train_params loupe_lens_train_default_params(void);

typedef struct loupe_lens_trainer loupe_lens_trainer;

/* A trainer of an all-zero lens (the logit lens) for model; windows of at
 * most max_tokens tokens. Free with loupe_lens_trainer_free. */
loupe_status loupe_lens_trainer_create(const loupe_model *model, const loupe_lens_train_params *params,
                                       int max_tokens, loupe_lens_trainer **trainer_out, loupe_error *error);
void loupe_lens_trainer_free(loupe_lens_trainer *trainer);

/* Runs the model on ids (T) and adds the loss gradient of positions
 * [begin, end) (each must have a next token, end <= T - 1) to the step. */
loupe_status loupe_lens_trainer_add(loupe_lens_trainer *trainer, const int32_t *ids, int n_tokens, int begin, int end,
                                    loupe_error *error);

/* Positions added since the last step. */
int64_t loupe_lens_trainer_pending(const loupe_lens_trainer *trainer);

/* Takes one optimizer step with the mean gradient of the positions added
 * and fills layer_losses (L) with their mean loss per layer (nats), before
 * the step. LOUPE_ERROR_ARGUMENT with no position added. */
loupe_status loupe_lens_trainer_step(loupe_lens_trainer *trainer, double *layer_losses, loupe_error *error);

/* Steps taken (including those of a checkpoint resumed). */
int loupe_lens_trainer_steps_done(const loupe_lens_trainer *trainer);

/* The lens being trained, valid while the trainer lives. */
const loupe_tuned_lens *loupe_lens_trainer_lens(const loupe_lens_trainer *trainer);

/* Writes the lens folder (created if missing): config.json, with
 * base_model_name_or_path = base_model, and params.safetensors, each file
 * atomically (written beside, then renamed). params.safetensors'
 * __metadata__ "loupe.unembedding" holds the hash of model's final norm and
 * unembedding (the model the lens was trained on), which
 * loupe_tuned_lens_open checks (docs/TUNED_LENS.md). */
loupe_status loupe_tuned_lens_save(const loupe_tuned_lens *lens, const loupe_model *model, const char *directory,
                                   const char *base_model,
                                   loupe_error *error);

/* Checkpoints: the translators, the momentum and the step count in one
 * safetensors file written atomically; loading it into a trainer of the
 * same model and parameters continues the run exactly. */
loupe_status loupe_lens_trainer_save_checkpoint(const loupe_lens_trainer *trainer, const char *path,
                                                loupe_error *error);
loupe_status loupe_lens_trainer_load_checkpoint(loupe_lens_trainer *trainer, const char *path, loupe_error *error);

/* ------------------------------------------------------------------------
 * Fine-tuning the whole model so that every lens row predicts
 *
 * docs/FINETUNE.md. The loss of a batch of windows is
 *     CE(final row) + lens_weight * (1 / |S|) * sum over l in S of CE(lens row l),
 * each CE the mean over the batch's positions of -log p(next token), lens
 * row l (0 .. L-1: the embeddings, then each block's output) read through
 * the final norm and the unembedding as loupe lens reads it. Windows are
 * ids (B, T+1): window b's inputs are ids[b (T+1) + 0 .. T-1], its targets
 * ids[b (T+1) + 1 .. T]. The parameters (every float tensor of the model,
 * trained in float32 whatever their storage) take AdamW steps (decoupled
 * weight decay on matrices and embeddings only, the gradient norm over all
 * parameters clipped first), the learning rate warming up linearly for
 * warmup_steps and then following a cosine down to min_lr_fraction lr at
 * the last step:
 *     s < W:  lr (s + 1) / W
 *     s >= W: lr (f + (1 - f) (1 + cos(pi p)) / 2), p = (s - W) / (steps - 1 - W)  (1 when steps - 1 == W)
 * for step s = 0 .. steps - 1, W = warmup_steps, f = min_lr_fraction. For a
 * thread count, the same calls give the same bits.
 * ---------------------------------------------------------------------- */

typedef struct loupe_finetune_params {
    double lens_weight;     /* lambda >= 0 (default 0: ordinary fine-tuning, no lens row computed) */
    const char *lens_rows;  /* S: rows as `--layers` writes them, comma-separated numbers and slices A:B over
                               0 .. L-1 ("0:3", "1,3", "-2:"); NULL or "" (default): all of 0 .. L-1. Copied */
    double lr;              /* peak learning rate (default 3e-4) */
    double min_lr_fraction; /* the cosine's floor, a fraction of lr (default 0.1) */
    double beta1, beta2;    /* AdamW's (default 0.9, 0.95) */
    double eps;             /* AdamW's (default 1e-8) */
    double weight_decay;    /* decoupled, on tensors of two or more dimensions only (default 0.1) */
    double max_grad_norm;   /* clipping of the gradient norm over every parameter (default 1) */
    int warmup_steps;       /* linear warm-up (default 10; a run of fewer steps warms up for steps - 1) */
    int steps;              /* optimizer steps of the run, the schedule's length (default 100) */
    int context;            /* T, positions per window, 1 .. n_ctx (default 0: min(256, n_ctx)) */
    int batch_windows;      /* most windows per loupe_finetuner_add call, a micro-batch (default 8) */
    int accumulation;       /* micro-batches per optimizer step (default 1) */
    uint64_t seed;          /* of the caller's data order, recorded with the run (default 42) */
} loupe_finetune_params;

loupe_finetune_params loupe_finetune_default_params(void);

/* What a step or an evaluation measured, each a mean over its batches'
 * positions (nats). */
typedef struct loupe_finetune_losses {
    double loss;      /* the loss above */
    double final_ce;  /* CE of the model's output row */
    double lens_ce;   /* the mean over S of each lens row's CE (0 when lens_weight is 0) */
    double grad_norm; /* a step's gradient norm before clipping (NaN for an evaluation) */
    double lr;        /* a step's learning rate (NaN for an evaluation) */
} loupe_finetune_losses;

typedef struct loupe_finetuner loupe_finetuner;

/* A trainer of model's parameters (copied: the model is not changed, and
 * must outlive the trainer). params NULL means the defaults.
 * LOUPE_ERROR_UNSUPPORTED for a family it cannot train (the message lists
 * those it can); LOUPE_ERROR_ARGUMENT naming a setting out of range. Free
 * with loupe_finetuner_free. */
loupe_status loupe_finetuner_create(const loupe_model *model, const loupe_finetune_params *params,
                                    loupe_finetuner **finetuner_out, loupe_error *error);
void loupe_finetuner_free(loupe_finetuner *finetuner);

/* The settings in use (context and warm-up resolved; lens_rows as given,
 * valid while the trainer lives). */
loupe_finetune_params loupe_finetuner_params(const loupe_finetuner *finetuner);

/* Forward and backward of one micro-batch ids (B, T+1), B 1 .. batch_windows:
 * its gradient joins the pending step's with weight 1 / accumulation (the
 * step uses the mean over its micro-batches). Ids outside the vocabulary:
 * LOUPE_ERROR_ARGUMENT naming the window and position. */
loupe_status loupe_finetuner_add(loupe_finetuner *finetuner, const int32_t *ids, int n_windows, loupe_error *error);

/* Micro-batches added since the last step. */
int loupe_finetuner_pending(const loupe_finetuner *finetuner);

/* The optimizer step over the pending micro-batches (the mean of their
 * gradients; with fewer or more than accumulation of them, still their
 * mean), clipped; *losses (may be NULL) the mean of their losses before
 * the step, the norm and the rate. LOUPE_ERROR_ARGUMENT with nothing
 * pending or when the run has taken its steps. */
loupe_status loupe_finetuner_step(loupe_finetuner *finetuner, loupe_finetune_losses *losses, loupe_error *error);

/* The loss of windows ids (B, T+1), any B >= 1 (run batch_windows at a
 * time), with the current parameters; nothing of the pending step changes
 * (LOUPE_ERROR_ARGUMENT while micro-batches are pending: evaluate between
 * steps). */
loupe_status loupe_finetuner_evaluate(loupe_finetuner *finetuner, const int32_t *ids, int n_windows,
                                      loupe_finetune_losses *losses, loupe_error *error);

/* Steps taken (including those of a checkpoint loaded). */
int loupe_finetuner_steps_done(const loupe_finetuner *finetuner);

/* Writes the trained model as a Hugging Face model folder `directory`
 * (created if missing) that loupe_model_open and transformers load, each
 * file atomically: model.safetensors (every tensor of the input checkpoint
 * under its name and shape, the trained ones in F32, its __metadata__
 * marking it as written by loupe finetune), config.json (the input's, its
 * "torch_dtype" and "dtype" set to "float32"), the tokenizer files the
 * input folder has (vocab.json, merges.txt, tokenizer.json,
 * tokenizer_config.json, special_tokens_map.json, added_tokens.json,
 * generation_config.json) copied, and training.json = training_json (text
 * given by the caller; not written when NULL). Refuses (LOUPE_ERROR_ARGUMENT)
 * a folder that holds a model (config.json or weights) which loupe finetune
 * did not write. */
loupe_status loupe_finetuner_write_model(const loupe_finetuner *finetuner, const char *directory,
                                         const char *training_json, loupe_error *error);

/* Checkpoints: the parameters, both AdamW moments, the step count and the
 * caller's data position (an opaque count, e.g. of windows consumed) in one
 * safetensors file written atomically, with the model's identity and the
 * settings in its __metadata__. Loading it into a trainer of the same model
 * and settings (nothing pending) continues the run to the same bits as a
 * run straight through; a checkpoint of another model or other settings,
 * or a tensor of another name, dtype or shape, is refused (LOUPE_ERROR_FORMAT
 * or LOUPE_ERROR_ARGUMENT, naming the file and the field) and the trainer
 * is left as it was. */
loupe_status loupe_finetuner_save_checkpoint(const loupe_finetuner *finetuner, const char *path,
                                             int64_t data_position, loupe_error *error);
loupe_status loupe_finetuner_load_checkpoint(loupe_finetuner *finetuner, const char *path, int64_t *data_position,
                                             loupe_error *error);

/* ------------------------------------------------------------------------
 * A lens read back from its JSON document
 *
 * `loupe lens --format json` writes a lens as a "loupe.lens/1" document
 * (docs/LENS_JSON.md); loupe_lens_read_json reads one back, so that it can
 * be drawn or analysed without running the model. Every field is validated
 * (types, ranges, array lengths against the window, ids below n_vocab, the
 * input and next tokens against "tokens"); a document made with a window
 * (--layers, --positions) keeps that window. Shapes: R rows and P positions
 * of the window, K = topk.
 * ---------------------------------------------------------------------- */

/* Bounds that keep a hostile document's allocations and labels small. */
enum {
    LOUPE_LENS_SAVED_MAX_TEXT = 4096,   /* bytes of one token text, row name or model name */
    LOUPE_LENS_SAVED_MAX_LAYERS = 4096, /* model.n_layer */
};

typedef struct loupe_lens_saved {
    char *model_name;      /* model.name */
    char *model_directory; /* model.directory */
    loupe_model_info info; /* n_layer .. n_ctx, directory = model_directory; the other strings are "" */
    int topk;              /* options.topk */
    bool subblocks;        /* options.subblocks */
    bool contributions;    /* options.contributions (false when absent) */
    int row_first, row_end;           /* rows: [first, end) within 0 .. rows of the full lens */
    int position_first, position_end; /* positions: [first, end) within 0 .. T of the text */
    int32_t *ids;          /* (P) tokens[j].id */
    char **token_texts;    /* (P) tokens[j].text, NUL-terminated UTF-8 */
    char **row_names;      /* (R) layers[i]: "input", "h1", ... */
    loupe_lens_cell *cells; /* (R, P) row-major; top_ids and top_probs point into the arrays below */
    int32_t *top_ids;      /* (R, P, K) */
    float *top_probs;      /* (R, P, K) */
    int32_t max_id;        /* the largest token id anywhere in the document */
    int n_track;           /* N: options.track's length (0 when absent) */
    int32_t track_ids[LOUPE_LENS_MAX_TRACK]; /* (N) options.track */
    loupe_lens_token *tracked; /* (R, P, N) the cells' tracked point here; NULL when N is 0 */
} loupe_lens_saved;

/* Reads `length` bytes of a loupe.lens/1 document (need not be NUL-
 * terminated). `name` (the file's name) starts every error message, which
 * then names the field at fault, e.g. "x.json: cells[2][5].target.rank:
 * expected a whole number in 1 .. 50257, got 0" (LOUPE_ERROR_FORMAT; out of
 * memory: LOUPE_ERROR_MEMORY). On success *saved_out, every string and array
 * in it included, is owned by the caller and freed with
 * loupe_lens_saved_free; on failure it is NULL. */
loupe_status loupe_lens_read_json(const char *text, size_t length, const char *name, loupe_lens_saved **saved_out,
                                  loupe_error *error);

/* Frees a loupe_lens_saved and everything it holds; NULL is a no-op. */
void loupe_lens_saved_free(loupe_lens_saved *saved);

/* The cell at (row, position), both absolute (as in the full lens); NULL
 * outside the saved window. */
const loupe_lens_cell *loupe_lens_saved_cell(const loupe_lens_saved *saved, int row, int position);

/* loupe_lens_copy_arrays of a saved lens: the cells of its whole window
 * (R, P as saved). */
loupe_status loupe_lens_saved_copy_arrays(const loupe_lens_saved *saved, const loupe_lens_arrays *arrays,
                                          loupe_error *error);

/* ------------------------------------------------------------------------
 * Corpora: documents, windows and streaming statistics of the lens
 *
 * A corpus is read one document at a time (plain text or JSONL), each
 * document is cut into windows of at most n_ctx tokens, the lens runs on each
 * window, and its scored positions are added to an aggregate whose memory
 * does not grow with the corpus. docs/CORPUS.md describes the rules and the
 * statistics; `loupe corpus` is a thin loop over these calls.
 * ---------------------------------------------------------------------- */

typedef enum loupe_corpus_format {
    LOUPE_CORPUS_FORMAT_AUTO,  /* JSONL when the first non-blank byte is '{', else plain text */
    LOUPE_CORPUS_FORMAT_PLAIN, /* documents separated by blank lines or by a separator string */
    LOUPE_CORPUS_FORMAT_JSONL, /* one JSON object per line; its "text" string is the document */
} loupe_corpus_format;

/* Receives one warning line (no newline), e.g. a skipped JSONL line. */
typedef void (*loupe_warning_fn)(void *user, const char *message);

typedef struct loupe_corpus_reader_params {
    loupe_corpus_format format; /* default AUTO */
    const char *separator;      /* plain text: documents end at this string (e.g. "<|endoftext|>");
                                   NULL (default): at blank lines. Implies PLAIN under AUTO. */
    bool strict;                /* JSONL: a malformed line is an error (default: a warning, skipped) */
    size_t max_document_bytes;  /* a longer document is LOUPE_ERROR_LIMIT (default 64 MB) */
    loupe_warning_fn warn;      /* may be NULL: warnings are dropped */
    void *warn_user;
} loupe_corpus_reader_params;

loupe_corpus_reader_params loupe_corpus_reader_default_params(void);

/* One document; text is valid until the next call on the reader. */
typedef struct loupe_corpus_document {
    const char *text;   /* (length) bytes, not NUL-terminated */
    size_t length;
    int64_t line;       /* 1-based line of the file where the document starts */
    int64_t index;      /* 0-based count of documents returned before this one */
} loupe_corpus_document;

typedef struct loupe_corpus_reader loupe_corpus_reader;

/* Opens a corpus file and reads it in chunks (never the whole file at once);
 * `path` names it in messages. Free with loupe_corpus_reader_close. */
loupe_status loupe_corpus_reader_open(const char *path, const loupe_corpus_reader_params *params,
                                      loupe_corpus_reader **reader_out, loupe_error *error);
/* Reads a corpus held in memory, data (length) bytes, which must outlive the
 * reader; `name` names it in messages. */
loupe_status loupe_corpus_reader_open_memory(const char *name, const char *data, size_t length,
                                             const loupe_corpus_reader_params *params,
                                             loupe_corpus_reader **reader_out, loupe_error *error);
void loupe_corpus_reader_close(loupe_corpus_reader *reader);

/* The next document: *has_document false at the end of the corpus. Plain
 * text: a document is the bytes between separators (or between runs of
 * blank lines, its last newline dropped); documents of only whitespace are
 * skipped. JSONL: blank lines are skipped; a line that is not an object with
 * a string "text" is a warning naming the line (skipped) or, when strict,
 * LOUPE_ERROR_FORMAT. */
loupe_status loupe_corpus_reader_next(loupe_corpus_reader *reader, loupe_corpus_document *document,
                                      bool *has_document, loupe_error *error);

/* Bytes of the corpus consumed so far (for progress reports). */
int64_t loupe_corpus_reader_bytes_read(const loupe_corpus_reader *reader);
/* JSONL lines skipped as malformed so far. */
int64_t loupe_corpus_reader_skipped_lines(const loupe_corpus_reader *reader);
/* The format in use (AUTO resolved once the first bytes are read). */
loupe_corpus_format loupe_corpus_reader_format(const loupe_corpus_reader *reader);

/* Windows over a document of N tokens: window k starts at k * stride and
 * holds up to `context` tokens; the last window is moved back to end at N
 * (start max(0, N - context)). Position t (predicting token t + 1) is scored
 * once, in the first window that holds both t and t + 1 - the one where it
 * has the most left context - and only when it has at least min_context
 * tokens before it in that window. The last token of a document predicts
 * nothing and is never scored. */
typedef struct loupe_corpus_window_params {
    int context;     /* tokens per window, >= 2 (the model's n_ctx) */
    int stride;      /* 1 .. context - 1 (default context / 2) */
    int min_context; /* 0 .. context - stride - 1 (default 0) */
} loupe_corpus_window_params;

typedef struct loupe_corpus_window {
    int start, end;               /* the tokens [start, end) of the document run through the model */
    int score_begin, score_end;   /* the positions scored, [begin, end) in document numbering;
                                     may be empty (begin == end) */
} loupe_corpus_window;

/* Checks the window parameters; LOUPE_ERROR_ARGUMENT naming the bad one. */
loupe_status loupe_corpus_window_check(const loupe_corpus_window_params *params, loupe_error *error);

/* Steps to the next window of a document of n_tokens tokens: pass a window
 * with end == 0 to get the first. Returns true and updates *window, or false
 * when the document has no more windows. params must pass the check. */
bool loupe_corpus_window_next(int n_tokens, const loupe_corpus_window_params *params,
                              loupe_corpus_window *window);

/* Token frequencies, as `loupe count` writes them: optional '#' comment
 * lines, an optional header line starting with "id", then lines
 * "ID<TAB>TOKEN<TAB>COUNT" (the token's rendering is ignored). Parses data
 * (length) bytes into counts (n_vocab), zeroed first; ids absent from the
 * file count 0. Errors name `name` and the line (counts then undefined). */
loupe_status loupe_corpus_counts_parse(const char *name, const char *data, size_t length, int n_vocab,
                                       int64_t *counts, loupe_error *error);
/* Reads and parses a counts file. */
loupe_status loupe_corpus_counts_load(const char *path, int n_vocab, int64_t *counts, loupe_error *error);

/* The per-position quantities the aggregate summarises per row. */
typedef enum loupe_corpus_metric {
    LOUPE_CORPUS_TARGET_RANK,  /* rank of the true next token */
    LOUPE_CORPUS_TARGET_PROB,
    LOUPE_CORPUS_INPUT_RANK,   /* rank of the input token x(t) */
    LOUPE_CORPUS_INPUT_PROB,
    LOUPE_CORPUS_KL_FINAL,     /* KL(final || row) */
    LOUPE_CORPUS_KL_FINAL_REV, /* KL(row || final) */
    LOUPE_CORPUS_KL_FIRST,     /* KL(input row || row) */
    LOUPE_CORPUS_KL_FIRST_REV, /* KL(row || input row) */
    LOUPE_CORPUS_ENTROPY,
    LOUPE_CORPUS_CE,           /* cross-entropy of the true next token, -log p(target), nats */
    LOUPE_CORPUS_METRIC_COUNT,
} loupe_corpus_metric;

/* "target_rank", "target_prob", "input_rank", ..., "entropy", "ce"; NULL out of range. */
const char *loupe_corpus_metric_name(loupe_corpus_metric metric);

typedef struct loupe_corpus_stats_params {
    int exact_limit;       /* values per series kept exactly before the sketch (default 10000) */
    double sketch_error;   /* relative error bound of sketched quantiles (default 0.01) */
    const int64_t *token_counts; /* (V) corpus frequency of every token id, or NULL: no rarity
                                    statistics. Copied at create. */
    double frequency_base; /* frequency buckets: [0, 1), [1, b), [b, b^2), ... (default 10) */
    int reservoir_size;    /* positions sampled for Spearman's rho (default 20000) */
    uint64_t seed;         /* of the reservoir sampler (default 1) */
    const int32_t *track_ids; /* (n_track) tokens summarised per row (the lens results added must track
                                 them, in this order: loupe_lens_params.track_ids), or NULL. Copied at create. */
    int n_track;           /* 0 .. LOUPE_LENS_MAX_TRACK (default 0) */
    const int32_t *token_bytes; /* (V) the bytes each token id stands for (loupe_tokenizer_token_bytes's
                                   length), or NULL: no bits per byte. Copied at create. */
} loupe_corpus_stats_params;

loupe_corpus_stats_params loupe_corpus_stats_default_params(void);

typedef struct loupe_corpus_stats loupe_corpus_stats;

/* An empty aggregate for lens results of n_rows rows over a vocabulary of
 * n_vocab. Its memory is fixed by the parameters, never by the corpus. */
loupe_status loupe_corpus_stats_create(int n_rows, int n_vocab, const loupe_corpus_stats_params *params,
                                       loupe_corpus_stats **stats_out, loupe_error *error);
void loupe_corpus_stats_free(loupe_corpus_stats *stats);

/* Adds positions [begin, end) of a lens result (positions numbered within
 * it); each must have a target (so end <= T - 1) and its cells a top-1. */
loupe_status loupe_corpus_stats_add(loupe_corpus_stats *stats, const loupe_lens_result *lens, int begin,
                                    int end, loupe_error *error);

/* A summary of one series. Quantiles follow numpy's method="lower" (the
 * order statistic at floor(q (n - 1))); exact while `exact`, else within
 * relative error `sketch_error` of it (values below 1e-9 reported as 0).
 * All NaN when count is 0. */
typedef struct loupe_corpus_summary {
    int64_t count;
    double mean, p10, median, p90;
    bool exact;
} loupe_corpus_summary;

int64_t loupe_corpus_stats_positions(const loupe_corpus_stats *stats);
int loupe_corpus_stats_n_rows(const loupe_corpus_stats *stats);
/* The summary of a metric at a row. (Sorts kept values in place, so the
 * aggregate is not const.) */
loupe_corpus_summary loupe_corpus_stats_summary(loupe_corpus_stats *stats, int row, loupe_corpus_metric metric);
/* Any q-quantile, q in [0, 1], with the same definition and bound. */
double loupe_corpus_stats_quantile(loupe_corpus_stats *stats, int row, loupe_corpus_metric metric, double q);
/* The fraction of positions where the row's top-1 is the final row's top-1,
 * and where it is the true next token; NaN with no positions. */
double loupe_corpus_stats_top1_final(const loupe_corpus_stats *stats, int row);
double loupe_corpus_stats_top1_target(const loupe_corpus_stats *stats, int row);
/* Positions whose decision row is `row`: the first row from which every row
 * up to the last has the final top-1 as its top-1. */
int64_t loupe_corpus_stats_decision_count(const loupe_corpus_stats *stats, int row);
/* With token_bytes: the bytes of the true next tokens of the positions
 * added (each scored position counts its target's bytes once), and per row
 * the cross-entropy in bits per byte, mean CE x positions / bytes / ln 2
 * (docs/CORPUS.md); 0 and NaN without token_bytes or positions. */
int64_t loupe_corpus_stats_target_bytes(const loupe_corpus_stats *stats);
double loupe_corpus_stats_bits_per_byte(const loupe_corpus_stats *stats, int row);

/* Tracked tokens (only with track_ids): per row, the summary of tracked
 * token `track`'s rank or probability over the positions added, and the
 * fraction of them where it is the row's top-1 (rank 1; NaN with no
 * positions). Out of range: count 0 / NaN. */
typedef enum loupe_corpus_tracked_metric {
    LOUPE_CORPUS_TRACKED_RANK,
    LOUPE_CORPUS_TRACKED_PROB,
} loupe_corpus_tracked_metric;

int loupe_corpus_stats_n_tracked(const loupe_corpus_stats *stats);
loupe_corpus_summary loupe_corpus_stats_tracked_summary(loupe_corpus_stats *stats, int track, int row,
                                                        loupe_corpus_tracked_metric metric);
double loupe_corpus_stats_tracked_top1(const loupe_corpus_stats *stats, int track, int row);

/* Rarity (only with token_counts): the input token's corpus frequency in
 * buckets; 0 buckets without counts. Bucket 0 holds frequency 0, bucket
 * j >= 1 the frequencies in [base^(j-1), base^j). */
int loupe_corpus_stats_n_buckets(const loupe_corpus_stats *stats);
/* The bucket's frequency range [low, high). */
void loupe_corpus_stats_bucket_edges(const loupe_corpus_stats *stats, int bucket, double *low, double *high);
/* Input-token statistics of the positions whose input falls in a bucket:
 * metric is one of INPUT_RANK, INPUT_PROB, KL_FIRST (others: count 0). */
loupe_corpus_summary loupe_corpus_stats_bucket_summary(loupe_corpus_stats *stats, int bucket, int row,
                                                       loupe_corpus_metric metric);

/* Spearman's rho between the input token's corpus frequency and its rank at
 * a row, over a uniform reservoir sample of reservoir_size positions (all of
 * them in a smaller corpus), ties given mid-ranks; with the 95 % interval of
 * the Fisher transform, SE sqrt(1.06 / (n - 3)), which treats the sampled
 * positions as independent. defined is false with fewer than 4 samples or a
 * constant variable (e.g. every input ranked 1). */
typedef struct loupe_corpus_correlation {
    int64_t n;
    double rho, low, high;
    bool defined;
} loupe_corpus_correlation;

loupe_corpus_correlation loupe_corpus_stats_spearman(const loupe_corpus_stats *stats, int row);

/* Aggregates of parts of a corpus (shards, processes, MPI ranks, a run
 * resumed from a checkpoint) combine into the aggregate of the whole
 * (docs/SCALE.md). Merging is associative and, for everything but the
 * reservoir's sample, commutative: counts, the decision histogram, top-1
 * counts, kept values and sketch buckets come out exactly as if one
 * aggregate had taken every position (quantiles therefore equal too), the
 * compensated sums agree to rounding (means to 1e-12 relative). The
 * Spearman reservoirs merge by a seeded weighted draw that keeps the sample
 * uniform over all positions: the positions themselves (and so rho) agree
 * with a single run's when they number at most reservoir_size, and within
 * rho's interval otherwise. */

/* Adds every position of `from` to `into`. Both must have the same rows,
 * vocabulary, exact_limit, sketch_error, frequency_base, reservoir_size,
 * tracked tokens and token counts (their seeds may differ); else
 * LOUPE_ERROR_ARGUMENT naming the first difference, into unchanged.
 * LOUPE_ERROR_MEMORY leaves into partly merged: discard it. */
loupe_status loupe_corpus_stats_merge(loupe_corpus_stats *into, const loupe_corpus_stats *from, loupe_error *error);

/* The aggregate as bytes (docs/SCALE.md, "the aggregate"): versioned,
 * little-endian, the same on every machine, holding its parameters, a hash
 * of its token counts (not the counts) and every accumulator, so that
 * decoding it gives back an aggregate with the same statistics, and adding
 * the same further positions to both gives the same results bit for bit.
 * *data_out (*size_out bytes) is freed with loupe_free. This is what one
 * process sends another (e.g. an MPI gather to rank 0, which decodes and
 * merges). */
loupe_status loupe_corpus_stats_encode(const loupe_corpus_stats *stats, void **data_out, size_t *size_out,
                                       loupe_error *error);

/* An aggregate from loupe_corpus_stats_encode's bytes (size of them), every
 * field checked: LOUPE_ERROR_FORMAT naming the part and byte offset that is
 * wrong. token_counts (V) may be NULL: the aggregate can then be read,
 * merged and encoded but takes no more positions; given, they must be the
 * ones it was made with (their hash is compared) and it continues as the
 * original would. token_bytes (V) likewise, for an aggregate made with
 * token byte lengths (bits per byte): without them it takes no more
 * positions; given, they must be the ones it was made with (not checked:
 * the caller's identity of the run covers them). */
loupe_status loupe_corpus_stats_decode(const void *data, size_t size, const int64_t *token_counts,
                                       const int32_t *token_bytes, loupe_corpus_stats **stats_out,
                                       loupe_error *error);

/* ------------------------------------------------------------------------
 * Memory
 * ---------------------------------------------------------------------- */

/* Frees memory that loupe returned to the caller. */
void loupe_free(void *pointer);

#if defined(LOUPE_BUILDING_LIBRARY) && defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* LOUPE_H */
