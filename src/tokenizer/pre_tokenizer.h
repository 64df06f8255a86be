/*
 * pre_tokenizer.h - tokenizer.json's "pre_tokenizer": the split of each
 * normalized segment into the pieces ("words") that BPE encodes one by one.
 *
 * Supported, as Hugging Face tokenizers defines them:
 *   - Sequence: its pre-tokenizers in order, each splitting every piece the
 *     previous ones made;
 *   - Split: a Regex or String pattern (split_regex.h) with the behaviour
 *     Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous,
 *     and "invert";
 *   - ByteLevel: add_prefix_space (a space before a piece that lacks one),
 *     use_regex (GPT-2's pattern, pretokenizer.h), then the pieces' bytes are
 *     handed to BPE as byte-level characters. It must be the last step, as
 *     it is in every tokenizer that ships it;
 *   - Metaspace: ' ' becomes the replacement, prepend_scheme always / first /
 *     never (or the older add_prefix_space), split on the replacement with
 *     the replacement kept at the start of the next piece.
 * Any other type is LOUPE_ERROR_UNSUPPORTED naming it.
 */
#ifndef LOUPE_TOKENIZER_PRE_TOKENIZER_H
#define LOUPE_TOKENIZER_PRE_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "loupe.h"
#include "tokenizer/byte_buffer.h"
#include "tokenizer/split_regex.h"

typedef enum split_behavior {
    SPLIT_REMOVED,
    SPLIT_ISOLATED,
    SPLIT_MERGED_WITH_PREVIOUS,
    SPLIT_MERGED_WITH_NEXT,
    SPLIT_CONTIGUOUS,
} split_behavior;

typedef enum pre_tokenizer_kind {
    PRE_TOKENIZER_SPLIT,
    PRE_TOKENIZER_BYTE_LEVEL,
    PRE_TOKENIZER_METASPACE,
} pre_tokenizer_kind;

typedef enum prepend_scheme { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER } prepend_scheme;

typedef struct pre_tokenizer_step {
    pre_tokenizer_kind kind;
    split_regex pattern;      /* Split */
    split_behavior behavior;  /* Split */
    bool invert;              /* Split */
    bool add_prefix_space;    /* ByteLevel */
    bool use_regex;           /* ByteLevel */
    char replacement[8];      /* Metaspace: one character, NUL-terminated */
    size_t replacement_length;
    prepend_scheme prepend;   /* Metaspace */
    bool split;               /* Metaspace */
} pre_tokenizer_step;

typedef struct pre_tokenizer {
    pre_tokenizer_step *steps; /* (count) */
    size_t count;
    bool byte_level;           /* the pieces go to BPE as byte-level characters */
} pre_tokenizer;

/* Pieces back to back in one buffer: piece i is text[ends[i - 1] .. ends[i]). */
typedef struct piece_list {
    byte_buffer text;
    size_t *ends;    /* (capacity) */
    size_t count;
    size_t capacity;
} piece_list;

/* The per-call scratch of pre-tokenizing. */
typedef struct pre_tokenizer_scratch {
    split_regex_scratch regex;
    piece_list spare;
    struct split_span { size_t start, end; bool is_match; } *spans; /* (span_capacity) */
    size_t span_capacity;
} pre_tokenizer_scratch;

/* Reads the "pre_tokenizer" value (NULL or JSON null: the whole segment is
 * one piece); path names the file. On failure *out holds nothing to free. */
loupe_status pre_tokenizer_parse(const cJSON *json, const char *path, pre_tokenizer *out,
                                 loupe_error *error);
void pre_tokenizer_free(pre_tokenizer *chain);

/* Splits text (length bytes of valid UTF-8) into pieces (out, emptied
 * first; empty pieces are dropped). at_text_start says the segment begins
 * the text (Metaspace's "first" scheme). */
loupe_status pre_tokenizer_apply(const pre_tokenizer *chain, pre_tokenizer_scratch *scratch,
                                 const char *text, size_t length, bool at_text_start, piece_list *out,
                                 loupe_error *error);

void piece_list_free(piece_list *list);
void pre_tokenizer_scratch_free(pre_tokenizer_scratch *scratch);

#endif
