/*
 * lens_sgd.h - the optimizer tuned-lens trains with by default
 * (scripts/ingredients.py): torch.optim.SGD with Nesterov momentum and
 * (coupled) weight decay, learning rate lr_scale (1 - momentum), a linear
 * schedule with warm-up (transformers' get_linear_schedule_with_warmup
 * called with num_training_steps = steps - warmup, as tuned-lens calls it),
 * and the gradient norm over every parameter clipped to max_grad_norm
 * first (torch.nn.utils.clip_grad_norm_).
 */
#ifndef LOUPE_TRAIN_LENS_SGD_H
#define LOUPE_TRAIN_LENS_SGD_H

#include <stdbool.h>
#include <stddef.h>

#include "loupe.h"

/* The learning-rate factor of step `step` (0-based: the number of steps
 * taken before it). */
double lens_sgd_schedule(const loupe_lens_train_params *params, int step);

/* One step on params (n) with grads (n), which are clipped in place, and
 * the momentum buffer (n; on the first step, step 0, it is set to the
 * gradient as PyTorch does). Returns the gradient norm before clipping. */
double lens_sgd_step(const loupe_lens_train_params *params, int step, float *values, float *grads, float *momentum,
                     size_t n);

#endif
