/*
 * hf_added_tokens.h - the added and special tokens of a GPT-2 tokenizer
 * folder, as transformers' GPT2TokenizerFast loads them.
 *
 * Sources, in the order transformers applies them:
 *   1. tokenizer_config.json's "added_tokens_decoder" ({"50256": {"content":
 *      "<|endoftext|>", "special": true, "lstrip": false, ...}, ...}): the
 *      added tokens with their flags. When the file has it, special_tokens_map.json
 *      and added_tokens.json are not read (transformers' "legacy" files).
 *   2. Otherwise added_tokens.json ({"content": id, ...}) gives non-special
 *      tokens (no stripping, matched on the normalized text), and
 *      special_tokens_map.json's entries take the place of
 *      tokenizer_config.json's.
 *   3. The special tokens named by bos_token, eos_token, unk_token,
 *      sep_token, pad_token, cls_token, mask_token (a string, an object with
 *      "content" and the flags, or null) and additional_special_tokens (a
 *      list of them); bos_token, eos_token and unk_token default to
 *      "<|endoftext|>" when vocab.json has it, as GPT2TokenizerFast's
 *      defaults. A named content that is already an added token makes it
 *      special; else it is added with its vocab.json id, or, when vocab.json
 *      lacks it, with the next id after every other (as transformers
 *      appends it), except a default, which is then dropped.
 */
#ifndef LOUPE_TOKENIZER_HF_ADDED_TOKENS_H
#define LOUPE_TOKENIZER_HF_ADDED_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "loupe.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_vocab.h"

/* The largest of the three files read. */
#define HF_ADDED_TOKENS_MAX_FILE_BYTES ((size_t)16 << 20)

/* One of the files: its name for messages and its bytes; text NULL when the
 * folder does not have it. */
typedef struct hf_tokenizer_file {
    const char *name;
    const char *text; /* (length) bytes, need not be NUL-terminated */
    size_t length;
} hf_tokenizer_file;

/* The three files of a folder; any may be absent. */
typedef struct hf_tokenizer_files {
    hf_tokenizer_file config;      /* tokenizer_config.json */
    hf_tokenizer_file special_map; /* special_tokens_map.json */
    hf_tokenizer_file added;       /* added_tokens.json */
} hf_tokenizer_files;

/* Builds the added vocabulary of the files over vocab. *bos_id_out is the
 * id of bos_token, -1 when there is none. A file that is not a JSON object,
 * a key that is not a token id, an entry of the wrong type or a flag that is
 * not true/false is LOUPE_ERROR_FORMAT naming the file and the entry. On
 * success *out (added_vocabulary_free) holds the tokens. */
loupe_status hf_added_tokens_parse(const hf_tokenizer_files *files, const bpe_vocab *vocab,
                                   added_vocabulary **out, int32_t *bos_id_out, loupe_error *error);

/* The same from the files in directory (those it lacks are absent); a
 * directory of NULL reads none, leaving the defaults. */
loupe_status hf_added_tokens_load(const char *directory, const bpe_vocab *vocab, added_vocabulary **out,
                                  int32_t *bos_id_out, loupe_error *error);

#endif
