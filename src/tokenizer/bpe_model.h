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
 *
 * SentencePiece-style tokenizers (Llama 2, Gemma) have no pre-tokenizer: a
 * whole text is one word. bpe_model_chunk_end cuts it where no token can
 * span the cut - before a U+2581 whose previous character is neither U+2581
 * nor one that some vocabulary token holds right before a U+2581 - so the
 * chunks encode one by one (and hit the word cache) to the same ids: a merge
 * across the cut would make a token that the vocabulary does not have, and
 * the merges on either side never meet.
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
    int32_t space_marker_id;        /* the token of U+2581 (which starts most SentencePiece words), or -1 */
    int32_t byte_fallback_ids[256]; /* the token "<0xNN>" of each byte, -1 where none */
    bool cuts_at_space_marker;      /* bpe_model_chunk_end may cut before U+2581 */
    uint32_t cut_blockers[16];      /* (blocker_count) characters (UTF-8 bytes, big-endian)
                                       that some token holds right before U+2581 */
    size_t blocker_count;
} bpe_model;

/* The end of the chunk of word (length bytes) that starts at start: the
 * next cut (see above), or length. */
size_t bpe_model_chunk_end(const bpe_model *model, const uint8_t *word, size_t length, size_t start);

/* Fills ascii_ids, byte_fallback_ids and the cut rule from the vocabulary
 * (its ids_by_text). */
void bpe_model_prepare(bpe_model *model);

/* Encodes one word (length >= 1 bytes of valid UTF-8, or any bytes when
 * byte_level) into ids_out, which has room for length ids. key is scratch
 * for the word's vocabulary string. Returns the number of ids, or -1 when
 * out of memory. */
long bpe_model_encode_word(const bpe_model *model, bpe_workspace *workspace, byte_buffer *key,
                           const uint8_t *word, size_t length, bool byte_level, int32_t *ids_out);

#endif
