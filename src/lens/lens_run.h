/*
 * lens_run.h - the parts of lens_run.c that the other ways of running the
 * lens share: a result of any size, the sweep over
 * the vocabulary on taps already stored, and the forward passes of several
 * texts laid end to end. Each position's cells depend only on its own taps,
 * its input token and the token it predicts, never on its neighbours in a
 * block of positions (tile_gemm.h's same-bits rule): so several texts swept
 * at once, or a text cut into windows, give the bits of a lens run on each.
 * That holds where the projection is tile_gemm (the avx512 level); below it
 * the projection is cblas_sgemm, whose kernels (OpenBLAS's Haswell and Zen
 * sgemm) may sum an element in another order at another row count or place
 * in the block, so such runs agree within float32 rounding only.
 */
#ifndef LOUPE_LENS_RUN_H
#define LOUPE_LENS_RUN_H

#include "loupe.h"

/* An empty result for a model of n_layer blocks: its rows named, T >= 1
 * positions, K top tokens per cell; NULL when out of memory. Free with
 * loupe_lens_free. */
loupe_lens_result *lens_result_create(int n_layer, bool subblocks, int T, int K);

/* LOUPE_OK unless params (NULL: the defaults) ask for what only a lens of
 * one text in one window gives (track_ids, contributions, keep_taps):
 * then LOUPE_ERROR_ARGUMENT, the message naming `what` ("several texts"). */
loupe_status lens_params_check_one_text(const loupe_lens_params *params, const char *what, loupe_error *error);

/* Copies n positions from `from` (starting at from_first) into `to` (at
 * to_first): ids, every row's cells (bounds included) and the precision.
 * Both have the same rows and K. */
void lens_result_copy_positions(loupe_lens_result *to, int to_first, const loupe_lens_result *from,
                                int from_first, int n);

/* Fills every cell of result (R, T) - whose ids (T) are set - from taps
 * (R, T, C); next_ids (T) is the token each position predicts, -1 where
 * none. */
loupe_status lens_project_taps(const loupe_model *model, const float *taps, const int32_t *next_ids,
                               const loupe_lens_params *params, loupe_lens_result *result, loupe_error *error);

/* The lens of n_texts texts, text k being ids[k] (n_tokens[k]), each run
 * through the model on its own and all swept at once: *packed_out holds
 * their positions end to end (text k's last position predicts nothing).
 * params NULL: the defaults. */
loupe_status lens_run_texts(const loupe_model *model, const int32_t *const *ids, const int *n_tokens, int n_texts,
                            const loupe_lens_params *params, loupe_lens_result **packed_out, loupe_error *error);

#endif
