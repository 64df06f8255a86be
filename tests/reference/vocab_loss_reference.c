/*
 * vocab_loss_reference.c - the double-precision oracle of the vocabulary
 * cross-entropy (vocab_loss_reference.h).
 */
#include "vocab_loss_reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double vocab_loss_reference(const double *normed, const int32_t *targets, const double *row_weights, int N,
                            const double *unembedding, int V, int C, double *ce, double *d_normed,
                            double *d_unembedding) {
    double *logits = malloc((size_t)V * sizeof *logits);
    if (logits == NULL) return NAN;
    if (d_unembedding != NULL) memset(d_unembedding, 0, (size_t)V * C * sizeof *d_unembedding);
    double loss = 0.0;
    for (int n = 0; n < N; n++) {
        const double *x = normed + (size_t)n * C;
        double top = -INFINITY;
        for (int v = 0; v < V; v++) {
            double z = 0.0;
            for (int c = 0; c < C; c++) z += unembedding[(size_t)v * C + c] * x[c];
            logits[v] = z;
            if (z > top) top = z;
        }
        double sum = 0.0;
        for (int v = 0; v < V; v++) sum += exp(logits[v] - top);
        const double lse = top + log(sum), row_ce = lse - logits[targets[n]];
        if (ce != NULL) ce[n] = row_ce;
        loss += row_weights[n] * row_ce;
        double *dx = d_normed != NULL ? d_normed + (size_t)n * C : NULL;
        if (dx != NULL) memset(dx, 0, (size_t)C * sizeof *dx);
        for (int v = 0; v < V; v++) {
            /* dCE/dz_v = p_v - [v = t], weighted */
            const double g = row_weights[n] * (exp(logits[v] - lse) - (v == targets[n] ? 1.0 : 0.0));
            for (int c = 0; c < C; c++) {
                if (dx != NULL) dx[c] += g * unembedding[(size_t)v * C + c];
                if (d_unembedding != NULL) d_unembedding[(size_t)v * C + c] += g * x[c];
            }
        }
    }
    free(logits);
    return loss;
}
