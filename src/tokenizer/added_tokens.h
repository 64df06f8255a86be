/*
 * added_tokens.h - the added tokens of a Hugging Face tokenizer (special
 * tokens such as "<|endoftext|>", and any others a tokenizer adds) and the
 * split of a text around them, before the model's own algorithm (BPE) sees
 * the plain parts.
 *
 * The semantics are those of Hugging Face tokenizers' AddedVocabulary:
 *   - the contents of the added tokens are matched leftmost-longest: at the
 *     first position where any content matches, the longest one wins, and
 *     the search goes on after it (matches never overlap);
 *   - single_word: a match is dropped when the character just before it or
 *     just after it is a word character (\w of regular expressions:
 *     letters, marks, decimal digits, letter numbers, '_');
 *   - lstrip / rstrip: the token also takes the white space (the Unicode
 *     White_Space property) just before / after it, so that space never
 *     reaches the plain text; lstrip never reaches back into the previous
 *     token;
 *   - special tokens can be skipped (ADDED_SPLIT_SKIP_SPECIAL): their text
 *     then stays plain, as with Hugging Face's encode_special_tokens;
 *   - tokens whose `normalized` flag is false are matched on the raw text
 *     and the others on the normalized text: a tokenizer splits the raw text
 *     with the unnormalized group first, normalizes each plain segment, then
 *     splits it with the normalized group (ADDED_SPLIT_NORMALIZED). Without
 *     a normalizer both passes run on the same bytes.
 * One difference: after an rstrip token has taken the space that follows
 * it, a match that starts inside that space is dropped (AddedVocabulary
 * would report overlapping pieces).
 *
 * An added_vocabulary is immutable once created and may be shared by any
 * number of threads; the state of one split lives in an added_splitter.
 */
#ifndef LOUPE_TOKENIZER_ADDED_TOKENS_H
#define LOUPE_TOKENIZER_ADDED_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loupe.h"

/* One added token as a tokenizer file declares it. */
typedef struct added_token {
    const char *content; /* (length) bytes, need not be NUL-terminated */
    size_t length;
    int32_t id;          /* >= 0 */
    bool special;        /* skipped by ADDED_SPLIT_SKIP_SPECIAL */
    bool lstrip, rstrip; /* takes the white space before / after it */
    bool single_word;    /* only matched between characters that are not word characters (\w) */
    bool normalized;     /* matched on the normalized text (else on the raw text) */
} added_token;

typedef struct added_vocabulary added_vocabulary;

/* Limits of one vocabulary, checked in added_vocabulary_create. */
enum { ADDED_TOKENS_MAX_COUNT = 1 << 20, ADDED_TOKENS_MAX_CONTENT_BYTES = 4096 };

/* Builds the matcher over tokens (n; copied, so the caller keeps its array).
 * Tokens with empty content are ignored, as Hugging Face does; when two
 * tokens have the same content the first one is kept. A negative id, content
 * NULL with a length, content longer than ADDED_TOKENS_MAX_CONTENT_BYTES or
 * more than ADDED_TOKENS_MAX_COUNT tokens is LOUPE_ERROR_ARGUMENT /
 * LOUPE_ERROR_LIMIT naming the token's index. On success *out (release with
 * added_vocabulary_free) holds the vocabulary; n = 0 gives an empty one. */
loupe_status added_vocabulary_create(const added_token *tokens, size_t n, added_vocabulary **out,
                                     loupe_error *error);
void added_vocabulary_free(added_vocabulary *vocabulary);

/* The number of tokens kept (duplicates and empty contents dropped). */
size_t added_vocabulary_count(const added_vocabulary *vocabulary);

/* The token kept with this id, or NULL. Its content lives as long as the
 * vocabulary. */
const added_token *added_vocabulary_find_id(const added_vocabulary *vocabulary, int32_t id);

/* The largest id of a kept token, -1 when there is none. */
int32_t added_vocabulary_max_id(const added_vocabulary *vocabulary);

/* Flags of a split. */
enum {
    ADDED_SPLIT_SKIP_SPECIAL = 1 << 0, /* special tokens stay plain text */
    ADDED_SPLIT_NORMALIZED = 1 << 1,   /* match the normalized group, else the unnormalized one */
};

/* One piece of the text: plain text (id = -1) for the model's algorithm, or
 * an added token (its id), the white space it stripped included. */
typedef struct added_segment {
    size_t start, length;       /* bytes of the text */
    int32_t id;
    const added_token *token;   /* the token matched (NULL for plain text); lives as long as the vocabulary */
} added_segment;

/* The state of one split; fields are private to added_tokens.c. */
typedef struct added_splitter {
    const added_vocabulary *vocabulary;
    const uint8_t *text;
    size_t length;
    size_t position;        /* where the next segment starts */
    size_t scan;            /* where the search for the next match starts */
    unsigned flags;
    added_segment pending;  /* a token found after plain text, reported next */
    bool has_pending;
} added_splitter;

/* Starts splitting `length` bytes of text (NULL when length is 0; it must
 * outlive the splitter) with ADDED_SPLIT_* flags. */
void added_splitter_init(added_splitter *splitter, const added_vocabulary *vocabulary,
                         const char *text, size_t length, unsigned flags);

/* The next segment in text order: returns true and fills *segment, or false
 * when the text is used up. The segments tile the text; plain segments are
 * never empty and never adjacent. */
bool added_splitter_next(added_splitter *splitter, added_segment *segment);

#endif
