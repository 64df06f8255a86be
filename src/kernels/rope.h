/*
 * rope.h - rotary position embeddings in the rotate-half convention of
 * Hugging Face transformers (Llama, Mistral, Qwen, Gemma, GPT-NeoX).
 *
 * A head vector x (D) has its first R dimensions rotated (R = rotary_dim,
 * even, at most D; the rest pass through): for i < R/2 the pair
 * (x[i], x[i + R/2]) turns by the angle t * inv_freq[i] at position t.
 */
#ifndef LOUPE_KERNELS_ROPE_H
#define LOUPE_KERNELS_ROPE_H

typedef enum rope_scaling_kind {
    ROPE_SCALING_DEFAULT, /* "default": inv_freq[i] = theta^(-2i/R) */
    ROPE_SCALING_LINEAR,  /* "linear": inv_freq / factor */
    ROPE_SCALING_LLAMA3,  /* "llama3": low frequencies / factor, a smooth band between */
} rope_scaling_kind;

typedef struct rope_params {
    int rotary_dim;                /* R: even, 2 .. D */
    double theta;                  /* rope_theta, the base */
    rope_scaling_kind scaling;
    double factor;                 /* linear, llama3 */
    double low_freq_factor;        /* llama3 */
    double high_freq_factor;       /* llama3 */
    double original_context;       /* llama3: original_max_position_embeddings */
} rope_params;

/* inv_freq (R/2) as transformers' rope initialisers compute it, in float32
 * (modeling_rope_utils.py: the default, linear and llama3 functions). */
void rope_inverse_frequencies(const rope_params *params, float *inv_freq);

/* cos and sin (T, R/2) of the angles t * inv_freq[i] for t = 0 .. T-1, the
 * angle rounded to float32 first as transformers does. */
void rope_tables(const float *inv_freq, int half, int T, float *cos_table, float *sin_table);

/* Rotates the first 2 half dimensions of every head of x (T, n_heads * D)
 * in place, row t by the angles of table row t. */
void rope_apply(float *x, int T, int n_heads, int D, int half, const float *cos_table,
                const float *sin_table);

/* The same in double from inv_freq directly (no tables), the oracle for tests. */
void rope_apply_reference(float *x, int T, int n_heads, int D, int half, const float *inv_freq);

#endif
