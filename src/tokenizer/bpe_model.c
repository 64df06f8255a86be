/*
 * bpe_model.c - see bpe_model.h.
 */
#include "tokenizer/bpe_model.h"

#include <stdio.h>
#include <string.h>

#include "tokenizer/byte_unicode.h"

/* U+2581, SentencePiece's word boundary. */
static const uint8_t SPACE_MARKER[3] = {0xE2, 0x96, 0x81};

/* The character that ends at text[end] (exclusive), as its UTF-8 bytes in
 * one big-endian number; *start receives where it begins. */
static uint32_t character_before(const uint8_t *text, size_t end, size_t *start) {
    size_t at = end - 1;
    while (at > 0 && end - at < 4 && (text[at] & 0xC0) == 0x80) at--;
    uint32_t packed = 0;
    for (size_t k = at; k < end; k++) packed = packed << 8 | text[k];
    *start = at;
    return packed;
}

/* Decides whether words may be cut before U+2581 (see bpe_model.h). */
static void prepare_cuts(bpe_model *model) {
    model->cuts_at_space_marker = false;
    model->blocker_count = 0;
    /* U+2581 must be a token of its own: an unknown one could fuse with its neighbours. */
    if (bpe_vocab_find(model->vocab, (const char *)SPACE_MARKER, 3) < 0) return;
    const string_map *map = &model->vocab->ids_by_text;
    for (size_t i = 0; i < map->capacity; i++) {
        const uint8_t *key = (const uint8_t *)map->slots[i].key;
        size_t length = map->slots[i].length;
        if (key == NULL) continue;
        for (size_t at = 1; at + 3 <= length; at++) {
            if (memcmp(key + at, SPACE_MARKER, 3) != 0) continue;
            size_t start = 0;
            uint32_t before = character_before(key, at, &start);
            if (before == 0xE29681) continue;
            size_t k = 0;
            while (k < model->blocker_count && model->cut_blockers[k] != before) k++;
            if (k < model->blocker_count) continue;
            if (model->blocker_count == sizeof model->cut_blockers / sizeof model->cut_blockers[0]) return;
            model->cut_blockers[model->blocker_count++] = before;
        }
    }
    model->cuts_at_space_marker = true;
}

size_t bpe_model_chunk_end(const bpe_model *model, const uint8_t *word, size_t length, size_t start) {
    if (!model->cuts_at_space_marker) return length;
    for (size_t at = start + 1; at + 3 <= length; at++) {
        const uint8_t *found = memchr(word + at, 0xE2, length - at);
        if (found == NULL) return length;
        at = (size_t)(found - word);
        if (at + 3 > length || memcmp(word + at, SPACE_MARKER, 3) != 0 || at == start) continue;
        size_t before_start = 0;
        uint32_t before = character_before(word, at, &before_start);
        if (before == 0xE29681) continue;
        size_t k = 0;
        while (k < model->blocker_count && model->cut_blockers[k] != before) k++;
        if (k == model->blocker_count) return at;
    }
    return length;
}

void bpe_model_prepare(bpe_model *model) {
    prepare_cuts(model);
    model->space_marker_id = bpe_vocab_find(model->vocab, (const char *)SPACE_MARKER, 3);
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
        } else if (size == 3 && memcmp(word + at, SPACE_MARKER, 3) == 0) {
            id = model->space_marker_id;
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
