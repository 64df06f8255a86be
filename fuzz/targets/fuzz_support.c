/*
 * fuzz_support.c - see fuzz_target.h.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_target.h"
#include "tokenizer/bpe_encode.h"
#include "tokenizer/pretokenizer.h"

#ifndef LOUPE_FUZZ_SOURCE_TOKENIZER
#define LOUPE_FUZZ_SOURCE_TOKENIZER "models/gpt2-demo"
#endif

/* 1 when directory/vocab.json is a regular file. */
static int has_vocab(const char *directory) {
    char path[PATH_MAX];
    struct stat info;
    if (snprintf(path, sizeof path, "%s/vocab.json", directory) >= (int)sizeof path) return 0;
    return stat(path, &info) == 0 && S_ISREG(info.st_mode);
}

const char *fuzz_tokenizer_directory(void) {
    static char found[PATH_MAX];
    if (found[0] != '\0') return found;
    const char *from_environment = getenv("LOUPE_FUZZ_TOKENIZER");
    if (from_environment != NULL && from_environment[0] != '\0') {
        snprintf(found, sizeof found, "%s", from_environment);
        if (has_vocab(found)) return found;
        fprintf(stderr, "fuzz: LOUPE_FUZZ_TOKENIZER=%s has no vocab.json\n", found);
        abort();
    }
    char executable[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", executable, sizeof executable - 1);
    if (length > 0) {
        executable[length] = '\0';
        char *slash = strrchr(executable, '/');
        if (slash != NULL) *slash = '\0';
        if (snprintf(found, sizeof found, "%s/tokenizer", executable) < (int)sizeof found &&
            has_vocab(found))
            return found;
    }
    snprintf(found, sizeof found, "%s", LOUPE_FUZZ_SOURCE_TOKENIZER);
    if (has_vocab(found)) return found;
    fprintf(stderr, "fuzz: no tokenizer found (set LOUPE_FUZZ_TOKENIZER to a folder with vocab.json "
                    "and merges.txt)\n");
    abort();
}

void fuzz_fail(const char *what) {
    fprintf(stderr, "fuzz: property failed: %s\n", what);
    abort();
}

void fuzz_check_error(loupe_status status, const loupe_error *error) {
    if (status == LOUPE_OK) return;
    if (error->status != status) fuzz_fail("the error's status differs from the one returned");
    size_t length = strnlen(error->message, sizeof error->message);
    if (length == 0) fuzz_fail("a failure without a message");
    if (length == sizeof error->message) fuzz_fail("an error message without its NUL");
    if (memchr(error->message, '\n', length) != NULL) fuzz_fail("an error message of several lines");
}

void fuzz_encode_round_trip(const bpe_vocab *vocab, const bpe_merges *merges, const char *text,
                            size_t length) {
    enum { PIECE_MAX_BYTES = 1 << 16 };
    static int32_t ids[PIECE_MAX_BYTES];
    bpe_workspace workspace = {0};
    pretokenizer splitter;
    pretokenizer_init(&splitter, text, length);
    size_t start = 0, piece_length = 0, covered = 0;
    while (pretokenizer_next(&splitter, &start, &piece_length)) {
        if (start != covered || piece_length == 0 || piece_length > length - start)
            fuzz_fail("pieces that do not tile the text");
        covered = start + piece_length;
        if (piece_length > PIECE_MAX_BYTES) continue;
        long count = bpe_encode_piece(vocab, merges, &workspace, (const uint8_t *)text + start,
                                      piece_length, ids);
        if (count < 1 || (size_t)count > piece_length) fuzz_fail("a piece encoded to a bad id count");
        size_t at = 0;
        for (long i = 0; i < count; i++) {
            if (ids[i] < 0 || ids[i] >= vocab->n_tokens) fuzz_fail("an id outside the vocabulary");
            size_t token_length = 0;
            const char *token = bpe_vocab_token(vocab, ids[i], &token_length);
            if (token_length > piece_length - at || memcmp(token, text + start + at, token_length) != 0)
                fuzz_fail("ids that do not spell their piece");
            at += token_length;
        }
        if (at != piece_length) fuzz_fail("ids that spell only part of their piece");
    }
    if (covered != length) fuzz_fail("pieces that stop before the end of the text");
    bpe_workspace_free(&workspace);
}

/* Tensors larger than this are not converted: the point is the bounds, not
 * the speed of conversion. */
enum { CONVERT_MAX_ELEMENTS = 1 << 16 };

void fuzz_convert_small_tensor(const tensor_view *tensor) {
    if (tensor->n_elements > CONVERT_MAX_ELEMENTS) return;
    float *converted = malloc((size_t)tensor->n_elements * sizeof *converted + 1);
    if (converted == NULL) return;
    loupe_error error;
    fuzz_check_error(tensor_to_f32(tensor, converted, &error), &error);
    free(converted);
}
