/*
 * training_data.h - what the training commands (train-lens, finetune)
 * share: the shuffle buffer that deals their windows in an order fixed by
 * --seed, and the --progress option.
 */
#ifndef LOUPE_CLI_TRAINING_DATA_H
#define LOUPE_CLI_TRAINING_DATA_H

#include <stdbool.h>
#include <stdint.h>

/* Windows held before the first one is dealt. */
enum { TRAINING_SHUFFLE_WINDOWS = 64 };

/* One window waiting in the buffer: its tokens and a scored range
 * [begin, end) that the command defines. */
typedef struct training_window {
    int32_t *ids; /* (n_tokens) owned by the buffer until taken */
    int n_tokens, begin, end;
} training_window;

typedef struct training_shuffle {
    training_window slots[TRAINING_SHUFFLE_WINDOWS]; /* (count) */
    int count;
    uint64_t random_state; /* xorshift64*, from the seed */
} training_shuffle;

/* An empty buffer whose deals follow seed: the same seed, the same order. */
void training_shuffle_init(training_shuffle *shuffle, uint64_t seed);

/* Copies ids (n_tokens) into the buffer, which must not be full; false when
 * out of memory. */
bool training_shuffle_push(training_shuffle *shuffle, const int32_t *ids, int n_tokens, int begin, int end);

/* True when the buffer holds TRAINING_SHUFFLE_WINDOWS windows: deal one. */
bool training_shuffle_full(const training_shuffle *shuffle);

/* Takes a random window out of a buffer that holds one; the caller frees
 * its ids. */
training_window training_shuffle_take(training_shuffle *shuffle);

/* Frees the windows still held. */
void training_shuffle_free(training_shuffle *shuffle);

/* --progress WHEN: true when text is auto, always or never, else false with
 * a message. */
bool training_progress_option(const char *text);

/* Whether progress lines are printed for mode: always, or auto when
 * standard error is a terminal. */
bool training_progress_enabled(const char *mode);

#endif
