/*
 * bpe_model.h - tokenizer.json's BPE model: one pre-tokenized piece ("word")
 * to token ids, as Hugging Face tokenizers' BPE::merge_word does it.
 *
 *   1. ignore_merges: a word that is itself in the vocabulary is that token.
 *   2. Each character of the word starts as the token of that character
 *      (with a byte-level pre-tokenizer, each byte's byte-level character).
 *      A character without one becomes, with byte_fallback, the tokens
 *      <0xNN> of its UTF-8 bytes when the vocabulary has all of them; else
 *      the unknown token when there is one (runs of unknown characters fused
 *      into one with fuse_unk); else it is dropped, as the library drops it.
 *   3. The merge loop of bpe_encode.h (lowest rank first, leftmost on ties).
 * dropout, continuing_subword_prefix and end_of_word_suffix are refused at
 * load (tokenizer_json.c), so they do not appear here.
 */
#ifndef LOUPE_TOKENIZER_BPE_MODEL_H
#define LOUPE_TOKENIZER_BPE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/bpe_encode.h"
#include "tokenizer/bpe_merges.h"
#include "tokenizer/bpe_vocab.h"
#include "tokenizer/byte_buffer.h"

typedef struct bpe_model {
    const bpe_vocab *vocab;   /* ids_by_text holds the model's strings; byte_ids the
                                 byte-level characters' tokens (-1 where missing) */
    const bpe_merges *merges;
    int32_t unk_id;           /* -1: no unknown token */
    bool fuse_unk;
    bool byte_fallback;
    bool ignore_merges;
    int32_t ascii_ids[128];         /* the token of each ASCII character, -1 where none */
    int32_t byte_fallback_ids[256]; /* the token "<0xNN>" of each byte, -1 where none */
} bpe_model;

/* Fills ascii_ids and byte_fallback_ids from the vocabulary. */
void bpe_model_prepare(bpe_model *model);

/* Encodes one word (length >= 1 bytes of valid UTF-8, or any bytes when
 * byte_level) into ids_out, which has room for length ids. key is scratch
 * for the word's vocabulary string. Returns the number of ids, or -1 when
 * out of memory. */
long bpe_model_encode_word(const bpe_model *model, bpe_workspace *workspace, byte_buffer *key,
                           const uint8_t *word, size_t length, bool byte_level, int32_t *ids_out);

#endif
