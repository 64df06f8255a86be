/*
 * adamw.h - the optimizer of `loupe finetune`: AdamW step for step as
 * torch.optim.AdamW computes it (decoupled weight decay), the gradient norm
 * over every parameter clipped first as torch.nn.utils.clip_grad_norm_ does,
 * and a learning rate that warms up linearly and then follows a cosine down
 * to a floor at the last step.
 *
 * The schedule, for step s = 0 .. steps - 1 (the number of steps taken
 * before it), warm-up W = warmup_steps, floor f = min_lr_fraction:
 *     s < W:   lr(s) = lr * (s + 1) / W
 *     s >= W:  p = (s - W) / (steps - 1 - W)   (p = 1 when steps - 1 == W)
 *              lr(s) = lr * (f + (1 - f) * (1 + cos(pi * p)) / 2)
 * so the warm-up ends at the full rate at step W - 1, the cosine starts
 * there at step W and ends at f * lr at the last step, steps - 1.
 *
 * One step of AdamW with learning rate r at step s (t = s + 1), for each
 * parameter p with gradient g (clipped), first moment m and second moment v
 * (both zero before the first step):
 *     p = p * (1 - r * weight_decay)          (only where the tensor decays)
 *     m = beta1 m + (1 - beta1) g             (a fused multiply-add)
 *     v = beta2 v + ((1 - beta2) g) g         (a fused multiply-add)
 *     p = p - (r / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * in float32 with the scalars computed in double, as PyTorch's for-loop
 * implementation does.
 *
 * Clipping: norm = sqrt(sum g^2) over every parameter (in double, summed in
 * fixed blocks so the result does not depend on the thread count);
 * coefficient = max_grad_norm / (norm + 1e-6); when it is below 1 every
 * gradient is multiplied by it.
 */
#ifndef LOUPE_TRAIN_ADAMW_H
#define LOUPE_TRAIN_ADAMW_H

#include <stdbool.h>
#include <stddef.h>

#include "loupe.h"

typedef struct adamw_settings {
    double lr;              /* the peak learning rate, > 0 */
    double min_lr_fraction; /* the cosine's floor as a fraction of lr, 0 .. 1 */
    double beta1, beta2;    /* in [0, 1) */
    double eps;             /* > 0 */
    double weight_decay;    /* >= 0, decoupled (multiplied by the learning rate) */
    double max_grad_norm;   /* > 0 */
    int warmup_steps;       /* 0 .. steps - 1 */
    int steps;              /* the length of the schedule, >= 1 */
} adamw_settings;

/* LOUPE_ERROR_ARGUMENT naming the first setting out of its range above. */
loupe_status adamw_settings_check(const adamw_settings *settings, loupe_error *error);

/* The learning rate of step `step` (0-based), by the schedule above; steps
 * past the last keep the floor. */
double adamw_learning_rate(const adamw_settings *settings, int step);

/* The gradient norm of grads (n) in double; when max_grad_norm / (norm +
 * 1e-6) < 1, grads are multiplied by that coefficient in place. Returns
 * the norm before clipping. Threads split the elements in fixed blocks. */
double adamw_clip_gradients(float *grads, size_t n, double max_grad_norm);

/* One AdamW step of step number `step` (0-based: moments as left by steps
 * 0 .. step - 1) at learning rate lr on one tensor's values (n) with its
 * gradient grads (n) and moments exp_avg (n), exp_avg_sq (n), all updated
 * in place except grads; weight decay applies only when decayed. */
void adamw_update(const adamw_settings *settings, int step, double lr, bool decayed, float *values,
                  const float *grads, float *exp_avg, float *exp_avg_sq, size_t n);

#endif
