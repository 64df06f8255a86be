/*
 * test_kv_cache.c - generation through loupe_kv_cache against generation
 * without it: the same greedy tokens and the same probabilities (within
 * 1e-5) on the embedded GPT-2 model and on the GPT-2 (BF16) and Llama
 * fixtures, whether the cache grows one token or several at a time; the
 * attention of queries after cached positions against the double-precision
 * reference on the whole sequence; and the cache's limits.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attention.h"
#include "loupe.h"
#include "test_support.h"

enum { PROMPT = 5, STEPS = 24 };

/* The index of the largest of probs (V), the smaller one on ties. */
static int32_t argmax(const float *probs, int V) {
    int32_t best = 0;
    for (int v = 1; v < V; v++)
        if (probs[v] > probs[best]) best = v;
    return best;
}

/* Greedy generation of STEPS tokens after a fixed prompt, without a cache
 * (each step the whole sequence) and with one growing by `stride` tokens a
 * call after the prompt (stride 1: the newest token only). */
static void check_generation(const char *name, const char *directory, int stride) {
    loupe_model *model = NULL;
    loupe_error error;
    CHECK_MSG(loupe_model_open(directory, &model, &error) == LOUPE_OK, "%s: %s", name, error.message);
    if (model == NULL) return;
    loupe_model_info info;
    loupe_model_get_info(model, &info);
    int32_t plain[PROMPT + STEPS], cached[PROMPT + STEPS];
    for (int i = 0; i < PROMPT; i++) plain[i] = cached[i] = (int32_t)((17 + 131 * i) % info.n_vocab);
    float *plain_probs = malloc((size_t)info.n_vocab * sizeof(float));
    float *cached_probs = malloc((size_t)info.n_vocab * sizeof(float));
    loupe_kv_cache *cache = NULL;
    CHECK(loupe_kv_cache_create(model, PROMPT + STEPS, &cache, &error) == LOUPE_OK);
    double worst = 0.0;
    int same_tokens = 1;
    /* The cached side runs `stride` tokens at a time: it predicts only at
     * the end of each call, so its steps are compared there. */
    for (int n = PROMPT; n < PROMPT + STEPS; n++) {
        CHECK(loupe_model_next_probs(model, plain, n, 1.0f, plain_probs, &error) == LOUPE_OK);
        plain[n] = argmax(plain_probs, info.n_vocab);
        int length = loupe_kv_cache_length(cache);
        if (n - length < stride && n > PROMPT) {
            cached[n] = plain[n]; /* not a call boundary: follow the plain sequence */
            continue;
        }
        CHECK(loupe_model_next_probs_cached(model, cache, cached + length, n - length, 1.0f, cached_probs, &error) ==
              LOUPE_OK);
        CHECK(loupe_kv_cache_length(cache) == n);
        cached[n] = argmax(cached_probs, info.n_vocab);
        same_tokens &= cached[n] == plain[n];
        double difference = test_max_abs_diff(plain_probs, cached_probs, (size_t)info.n_vocab);
        if (difference > worst) worst = difference;
    }
    CHECK_MSG(same_tokens, "%s, stride %d: the cache changed a generated token", name, stride);
    CHECK_MSG(worst < 1e-5, "%s, stride %d: probabilities differ by %g", name, stride, worst);
    /* Full: one more token does not fit and leaves the cache as it was. */
    int length = loupe_kv_cache_length(cache);
    int32_t extra[PROMPT + STEPS + 1];
    memset(extra, 0, sizeof extra);
    CHECK(loupe_model_next_probs_cached(model, cache, extra, PROMPT + STEPS - length + 1, 1.0f, cached_probs, &error) ==
          LOUPE_ERROR_LIMIT);
    CHECK(loupe_kv_cache_length(cache) == length);
    loupe_kv_cache_clear(cache);
    CHECK(loupe_kv_cache_length(cache) == 0);
    loupe_kv_cache_free(cache);
    free(plain_probs);
    free(cached_probs);
    loupe_model_close(model);
}

/* A cache is bounded by the model's context. */
static void check_limits(void) {
    loupe_model *model = NULL;
    loupe_error error;
    CHECK(loupe_model_open(test_data_path("llama-tiny"), &model, &error) == LOUPE_OK);
    if (model == NULL) return;
    loupe_kv_cache *cache = NULL;
    CHECK(loupe_kv_cache_create(model, 0, &cache, &error) == LOUPE_ERROR_ARGUMENT && cache == NULL);
    CHECK(loupe_kv_cache_create(model, 65, &cache, &error) == LOUPE_ERROR_ARGUMENT && cache == NULL);
    CHECK(strstr(error.message, "1 .. 64") != NULL);
    loupe_kv_cache_free(NULL);
    loupe_model_close(model);
}

/* Queries at positions past .. past + T - 1 over cached keys: the last T
 * rows of the reference's attention over the whole sequence. */
static void check_attention_past(int past, int T, int window) {
    const int H = 4, KV = 2, D = 8, total = past + T;
    uint64_t seed = 11;
    float *q = malloc(sizeof(float) * total * H * D), *k = malloc(sizeof(float) * total * KV * D);
    float *v = malloc(sizeof(float) * total * KV * D);
    float *expected = malloc(sizeof(float) * total * H * D), *got = malloc(sizeof(float) * T * H * D);
    float *scores = malloc(attention_scratch_floats_past(T, past) * sizeof(float));
    for (int i = 0; i < total * H * D; i++) q[i] = (float)(2 * test_random_unit(&seed) - 1);
    for (int i = 0; i < total * KV * D; i++) k[i] = (float)(2 * test_random_unit(&seed) - 1);
    for (int i = 0; i < total * KV * D; i++) v[i] = (float)(2 * test_random_unit(&seed) - 1);
    attention_shape whole = {.T = total, .n_heads = H, .n_kv_heads = KV, .head_dim = D, .q_stride = H * D,
                             .k_stride = KV * D, .v_stride = KV * D, .out_stride = H * D, .scale = 0.35f,
                             .window = window};
    attention_grouped_reference(expected, q, k, v, &whole);
    attention_shape after = whole;
    after.T = T, after.past = past;
    attention_grouped(got, q + (size_t)past * H * D, k, v, scores, &after);
    double difference = test_max_abs_diff(got, expected + (size_t)past * H * D, (size_t)T * H * D);
    CHECK_MSG(difference < 1e-5, "attention after %d cached positions, %d queries, window %d: %g", past, T, window,
              difference);
    free(q), free(k), free(v), free(expected), free(got), free(scores);
}

int main(void) {
    check_attention_past(7, 1, 0);
    check_attention_past(300, 3, 0);
    check_attention_past(20, 5, 4);
    for (int stride = 1; stride <= 3; stride += 2) {
        check_generation("gpt2-demo", test_model_path("gpt2-demo"), stride);
        check_generation("gpt2-tiny-bf16", test_data_path("gpt2-tiny-bf16"), stride);
        check_generation("llama-tiny", test_data_path("llama-tiny"), stride);
    }
    check_limits();
    return test_finish("test_kv_cache");
}
