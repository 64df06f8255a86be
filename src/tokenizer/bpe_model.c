/*
 * bpe_model.c - see bpe_model.h.
 */
#include "tokenizer/bpe_model.h"

#include <stdio.h>

#include "tokenizer/byte_unicode.h"

void bpe_model_prepare(bpe_model *model) {
    for (int c = 0; c < 128; c++) {
        char character = (char)c;
        model->ascii_ids[c] = bpe_vocab_find(model->vocab, &character, 1);
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", (unsigned)b);
        model->byte_fallback_ids[b] = bpe_vocab_find(model->vocab, name, 6);
    }
}

/* The length of the UTF-8 character that starts with byte lead (the text is
 * valid UTF-8). */
static size_t utf8_length(uint8_t lead) {
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

/* The vocabulary string of a byte-level word: each byte's character. */
static int byte_level_key(const uint8_t *word, size_t length, byte_buffer *key) {
    key->length = 0;
    if (byte_buffer_reserve(key, length * BYTE_UNICODE_MAX_UTF8) != 0) return -1;
    for (size_t i = 0; i < length; i++) key->length += byte_unicode_encode_utf8(word[i], key->bytes + key->length);
    return 0;
}

long bpe_model_encode_word(const bpe_model *model, bpe_workspace *workspace, byte_buffer *key,
                           const uint8_t *word, size_t length, bool byte_level, int32_t *ids_out) {
    const bpe_vocab *vocab = model->vocab;
    if (model->ignore_merges) {
        const char *text = (const char *)word;
        size_t text_length = length;
        if (byte_level) {
            if (byte_level_key(word, length, key) != 0) return -1;
            text = key->bytes;
            text_length = key->length;
        }
        int32_t id = bpe_vocab_find(vocab, text, text_length);
        if (id >= 0) {
            ids_out[0] = id;
            return 1;
        }
    }
    size_t count = 0;
    int32_t pending_unk = 0; /* 1 while an unknown token waits to be written (fuse_unk) */
    for (size_t at = 0; at < length;) {
        size_t size = byte_level ? 1 : utf8_length(word[at]);
        if (size > length - at) size = length - at;
        int32_t id = -1;
        char character[BYTE_UNICODE_MAX_UTF8];
        if (byte_level) {
            id = vocab->byte_ids[word[at]];
        } else if (word[at] < 0x80) {
            id = model->ascii_ids[word[at]];
        } else {
            id = bpe_vocab_find(vocab, (const char *)word + at, size);
        }
        if (id >= 0) {
            if (pending_unk) ids_out[count++] = model->unk_id;
            pending_unk = 0;
            ids_out[count++] = id;
            at += size;
            continue;
        }
        /* The character's vocabulary string: its bytes, or with a byte-level
         * pre-tokenizer the byte's character (whose UTF-8 bytes fall back). */
        const uint8_t *bytes = word + at;
        size_t byte_count = size;
        if (byte_level) {
            byte_count = byte_unicode_encode_utf8(word[at], character);
            bytes = (const uint8_t *)character;
        }
        int fell_back = 0;
        if (model->byte_fallback) {
            fell_back = 1;
            for (size_t k = 0; k < byte_count; k++) fell_back &= model->byte_fallback_ids[bytes[k]] >= 0;
        }
        if (fell_back) {
            if (pending_unk) ids_out[count++] = model->unk_id;
            pending_unk = 0;
            /* A byte-level character of 2 bytes takes 2 ids for 1 byte of room;
             * byte_fallback with a byte-level pre-tokenizer is refused at load. */
            for (size_t k = 0; k < byte_count; k++) ids_out[count++] = model->byte_fallback_ids[bytes[k]];
        } else if (model->unk_id >= 0) {
            if (pending_unk && !model->fuse_unk) ids_out[count++] = model->unk_id;
            pending_unk = 1;
        }
        at += size;
    }
    if (pending_unk) ids_out[count++] = model->unk_id;
    return bpe_merge_ids(model->merges, workspace, ids_out, count);
}
