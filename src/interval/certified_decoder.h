/*
 * certified_decoder.h - the rotary decoder families' certified forward pass
 * (llama, mistral, qwen2, qwen3, gemma, gpt_neox; see certified_forward.h).
 */
#ifndef LOUPE_INTERVAL_CERTIFIED_DECODER_H
#define LOUPE_INTERVAL_CERTIFIED_DECODER_H

#include "interval/certified_forward.h"

/* certified_forward for a model of the rotary decoder families. */
loupe_status certified_decoder_forward(const loupe_model *model, const int32_t *ids, int T,
                                       const certified_forward_params *params, loupe_error *error);

#endif
