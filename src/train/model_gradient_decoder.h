/*
 * model_gradient_decoder.h - model_gradient's rotary decoder families
 * (Llama, Mistral, Qwen2): the forward pass over a batch of windows keeping
 * what the backward pass needs, the loss of model_gradient.h (the final row
 * and the lens rows each read through the final RMSNorm and the head, tied or
 * untied), and the backward pass into every parameter.
 *
 * Per block, as transformers' LlamaDecoderLayer:
 *   m = x + o(attention(rope(q(n1)), rope(k(n1)), v(n1))),  n1 = rmsnorm(x)
 *   y = m + down(act(gate(n2)) * up(n2)),                   n2 = rmsnorm(m)
 * Saved per block for B windows of T positions (N = B T rows): x, n1, its r,
 * q and k after the rotation, v, the heads' outputs, their log-sum-exps, m,
 * n2, its r, gate and up; (L + 1) N C + L N (3 C + 2 A + 2 G + 2 I) floats
 * plus O(L H N); the hidden layer act(gate) up is recomputed in backward.
 *
 * Shapes: B windows, T positions, N = B T rows, C width, L layers, V vocab,
 * H heads, D head width, A = H D, G = KV D, I MLP width.
 */
#ifndef LOUPE_TRAIN_MODEL_GRADIENT_DECODER_H
#define LOUPE_TRAIN_MODEL_GRADIENT_DECODER_H

#include "arch/arch.h"
#include "loupe.h"
#include "train/model_gradient_family.h"
#include "train/train_parameters.h"

/* NULL when the rotary family of d can be trained, else what is missing for
 * it (a phrase for a message: "the backward pass of its q/k norms ..."):
 * model_gradient.c adds it to its refusal (E2702) of qwen3, gemma, gpt_neox. */
const char *decoder_gradient_missing(const model_description *d);

/* The family's entry in model_gradient.c's table (model_gradient_family.h):
 * create binds every parameter by its Hugging Face name (one absent from
 * params or of another shape is LOUPE_ERROR_FORMAT naming it, E2741) and
 * sizes the saved activations for max_batch windows; accumulate runs one
 * batch. */
extern const model_gradient_family MODEL_GRADIENT_DECODER;

#endif
