/*
 * training_data.c - see training_data.h.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "training_data.h"

/* xorshift64*: the shuffle's generator, the same sequence for a seed. */
static uint64_t next_random(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * UINT64_C(2685821657736338717);
}

void training_shuffle_init(training_shuffle *shuffle, uint64_t seed) {
    memset(shuffle, 0, sizeof *shuffle);
    shuffle->random_state = seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
}

bool training_shuffle_push(training_shuffle *shuffle, const int32_t *ids, int n_tokens, int begin, int end) {
    training_window *slot = &shuffle->slots[shuffle->count];
    slot->ids = malloc((size_t)n_tokens * sizeof(int32_t));
    if (slot->ids == NULL) return false;
    memcpy(slot->ids, ids, (size_t)n_tokens * sizeof(int32_t));
    slot->n_tokens = n_tokens;
    slot->begin = begin;
    slot->end = end;
    shuffle->count++;
    return true;
}

bool training_shuffle_full(const training_shuffle *shuffle) { return shuffle->count == TRAINING_SHUFFLE_WINDOWS; }

training_window training_shuffle_take(training_shuffle *shuffle) {
    int pick = (int)(next_random(&shuffle->random_state) % (uint64_t)shuffle->count);
    training_window window = shuffle->slots[pick];
    shuffle->slots[pick] = shuffle->slots[--shuffle->count];
    return window;
}

void training_shuffle_free(training_shuffle *shuffle) {
    for (int i = 0; i < shuffle->count; i++) free(shuffle->slots[i].ids);
    shuffle->count = 0;
}

bool training_progress_option(const char *text) {
    if (strcmp(text, "auto") == 0 || strcmp(text, "always") == 0 || strcmp(text, "never") == 0) return true;
    cli_error("--progress: expected one of auto, always, never, got '%s'", text);
    return false;
}

bool training_progress_enabled(const char *mode) {
    return strcmp(mode, "always") == 0 || (strcmp(mode, "auto") == 0 && isatty(STDERR_FILENO));
}
