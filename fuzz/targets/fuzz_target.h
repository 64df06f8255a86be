/*
 * fuzz_target.h - what every fuzz target defines and the helpers they share.
 *
 * Each fuzz/targets/fuzz_<name>.c defines LLVMFuzzerTestOneInput. Built with
 * clang -fsanitize=fuzzer it is driven by libFuzzer; built with
 * fuzz/replay_main.c (any C compiler) it replays the files of
 * fuzz/corpus/<name>/ and fuzz/regressions/<name>/. A target returns 0 for
 * every input; a bug shows as a sanitizer report or an abort.
 */
#ifndef LOUPE_FUZZ_TARGET_H
#define LOUPE_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"
#include "loupe.h"
#include "tokenizer/bpe_merges.h"
#include "tokenizer/bpe_vocab.h"

/* Runs the code under test on data (size bytes). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The folder holding the GPT-2 vocab.json and merges.txt that the tokenizer
 * targets encode with: $LOUPE_FUZZ_TOKENIZER if set, else tokenizer/ next to
 * the executable (as fuzz/build.sh lays it out), else the demo model of the
 * source tree. Aborts when none holds vocab.json: the harness is broken. */
const char *fuzz_tokenizer_directory(void);

/* Checks what a parser said: on failure the error carries the same status
 * and a non-empty one-line message; aborts otherwise. */
void fuzz_check_error(loupe_status status, const loupe_error *error);

/* Splits text (length bytes) as GPT-2 does and encodes each piece with
 * vocab and merges; aborts unless every piece's ids spell its bytes back
 * and number at most its length. Pieces over 64 KB are skipped. */
void fuzz_encode_round_trip(const bpe_vocab *vocab, const bpe_merges *merges, const char *text,
                            size_t length);

/* Converts tensor to float32 when it has at most 65536 elements (reading
 * every byte of its data, so ASan sees a view outside its bytes) and checks
 * what the conversion said, as fuzz_check_error does. */
void fuzz_convert_small_tensor(const tensor_view *tensor);

/* Aborts with a message on stderr: a property of the code under test failed. */
void fuzz_fail(const char *what) __attribute__((noreturn));

#endif
