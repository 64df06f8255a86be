/*
 * pretokenizer.h - GPT-2's pre-tokenizer: splits text into the pieces that
 * BPE then encodes one at a time.
 *
 * The pieces are exactly the matches of GPT-2's pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (the leftmost alternative wins at each position), with \p{L} the Unicode
 * categories Lu Ll Lt Lm Lo, \p{N} Nd Nl No, and \s the White_Space
 * property. The pattern covers every character, so the pieces tile the text.
 *
 * Invalid UTF-8 is never rejected: every byte that does not begin a complete,
 * valid UTF-8 sequence (overlong forms, surrogates and code points above
 * U+10FFFF are invalid) counts as one character of its own that is neither
 * a letter, a number nor white space - so it joins runs of punctuation.
 */
#ifndef LOUPE_TOKENIZER_PRETOKENIZER_H
#define LOUPE_TOKENIZER_PRETOKENIZER_H

#include <stddef.h>
#include <stdint.h>

/* The character classes of the pattern. */
typedef enum character_class {
    CLASS_LETTER, /* \p{L} */
    CLASS_NUMBER, /* \p{N} */
    CLASS_SPACE,  /* Unicode White_Space */
    CLASS_OTHER,  /* everything else, invalid UTF-8 bytes included */
} character_class;

/* Classifies the character at text[at] (at < length) and sets *size to its
 * length in bytes; an invalid UTF-8 byte is one CLASS_OTHER character. */
character_class pretokenizer_classify_at(const uint8_t *text, size_t length, size_t at, size_t *size);

typedef struct pretokenizer {
    const uint8_t *text; /* (length) bytes, borrowed */
    size_t length;
    size_t position;     /* where the next piece starts */
} pretokenizer;

/* Starts splitting `length` bytes of text; text may be NULL when length is 0.
 * The text must outlive the pretokenizer. */
void pretokenizer_init(pretokenizer *splitter, const char *text, size_t length);

/* Finds the next piece: returns 1 and sets *start and *piece_length (> 0)
 * in bytes, or returns 0 when the text is used up. */
int pretokenizer_next(pretokenizer *splitter, size_t *start, size_t *piece_length);

#endif
