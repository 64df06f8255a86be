/*
 * softmax.c - see softmax.h.
 */
#include "kernels/softmax.h"

#include <math.h>

void softmax_row(const float *logits, float *probs, int n, float temperature) {
    float max = logits[0];
    for (int i = 1; i < n; i++) max = logits[i] > max ? logits[i] : max;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        probs[i] = expf((logits[i] - max) / temperature);
        sum += probs[i];
    }
    float inverse = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) probs[i] *= inverse;
}
