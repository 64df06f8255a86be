/*
 * certified_gpt2.h - the GPT-2 family's certified forward pass (see
 * certified_forward.h).
 */
#ifndef LOUPE_INTERVAL_CERTIFIED_GPT2_H
#define LOUPE_INTERVAL_CERTIFIED_GPT2_H

#include "interval/certified_forward.h"

/* certified_forward for a gpt2-family model. */
loupe_status certified_gpt2_forward(const loupe_model *model, const int32_t *ids, int T,
                                    const certified_forward_params *params, loupe_error *error);

#endif
