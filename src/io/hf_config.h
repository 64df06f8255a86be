/*
 * hf_config.h - the fields of a Hugging Face config.json that loupe uses.
 */
#ifndef LOUPE_IO_HF_CONFIG_H
#define LOUPE_IO_HF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "io/json.h"
#include "loupe.h"

typedef struct hf_config {
    char model_type[32];     /* "gpt2" */
    char architecture[64];   /* architectures[0], e.g. "GPT2LMHeadModel"; "" if absent */
    char activation[32];     /* activation_function, e.g. "gelu_new" */
    char dtype[16];          /* "dtype" or "torch_dtype" as written, "" if absent */
    int n_layer;             /* L */
    int n_embd;              /* C */
    int n_head;              /* H */
    int n_inner;             /* MLP width; 4 C when null or absent */
    int n_vocab;             /* V */
    int n_ctx;               /* n_positions */
    double layer_norm_epsilon;
    bool tie_word_embeddings;           /* default true for GPT-2 */
    bool scale_attn_weights;            /* default true */
    bool scale_attn_by_inverse_layer_idx; /* default false */
} hf_config;

/* Limits checked before anything is allocated from these numbers. */
enum {
    HF_CONFIG_MAX_LAYERS = 1024,
    HF_CONFIG_MAX_WIDTH = 65536,
    HF_CONFIG_MAX_HEADS = 1024,
    HF_CONFIG_MAX_VOCAB = 4194304,
    HF_CONFIG_MAX_CONTEXT = 1048576,
    HF_CONFIG_MAX_INNER = 4 * 65536, /* n_inner: 4 x the widest C */
};

/* Parses config.json text (length bytes, need not be NUL-terminated).
 * display_name names the file in messages; each missing or invalid field is
 * reported by name. Only model_type "gpt2" is accepted (others are
 * LOUPE_ERROR_UNSUPPORTED). The sizes accept the generic aliases
 * num_hidden_layers, hidden_size, num_attention_heads and
 * max_position_embeddings when the GPT-2 names are absent; a size above its
 * HF_CONFIG_MAX_* limit is LOUPE_ERROR_LIMIT. */
loupe_status hf_config_parse(const char *json, size_t length, const char *display_name,
                             hf_config *out, loupe_error *error);

/* The same fields from an already parsed object root; path names the file.
 * Stops at the first problem. */
loupe_status hf_config_read(const cJSON *root, const char *path, hf_config *out, loupe_error *error);

#endif
