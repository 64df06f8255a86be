/*
 * lens_sgd.c - SGD with Nesterov momentum as tuned-lens configures it
 * (lens_sgd.h), step for step the arithmetic of torch.optim.SGD.
 */
#include "train/lens_sgd.h"

#include <math.h>

double lens_sgd_schedule(const loupe_lens_train_params *params, int step) {
    const int warmup = params->warmup_steps, total = params->steps - params->warmup_steps;
    if (step < warmup) return (double)step / (warmup > 1 ? warmup : 1);
    double left = (double)(total - step) / (double)(total - warmup > 1 ? total - warmup : 1);
    return left > 0.0 ? left : 0.0;
}

double lens_sgd_step(const loupe_lens_train_params *params, int step, float *values, float *grads, float *momentum,
                     size_t n) {
    double squares = 0.0;
    for (size_t k = 0; k < n; k++) squares += (double)grads[k] * grads[k];
    const double norm = sqrt(squares), clip = params->max_grad_norm / (norm + 1e-6);
    if (clip < 1.0)
        for (size_t k = 0; k < n; k++) grads[k] = (float)(grads[k] * clip);
    const float lr = (float)(params->lr_scale * (1.0 - params->momentum) * lens_sgd_schedule(params, step));
    const float beta = (float)params->momentum, decay = (float)params->weight_decay;
    for (size_t k = 0; k < n; k++) {
        float g = grads[k] + decay * values[k];
        momentum[k] = step == 0 ? g : beta * momentum[k] + g;
        values[k] -= lr * (g + beta * momentum[k]);
    }
    return norm;
}
