/*
 * bpe_encode.h - the BPE merge loop over one pre-tokenized piece.
 *
 * The piece starts as one symbol per byte in a linked list; a binary heap
 * holds every adjacent pair that has a merge rule, lowest rank first and the
 * leftmost on ties. Popping a pair that an earlier merge invalidated is
 * skipped. Each merge pushes at most two new pairs, so a piece of n bytes
 * costs O(n log n) - a 10 KB word is as cheap per byte as a short one.
 */
#ifndef LOUPE_TOKENIZER_BPE_ENCODE_H
#define LOUPE_TOKENIZER_BPE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer/bpe_merges.h"
#include "tokenizer/bpe_vocab.h"

/* The longest piece the merge loop takes: its indices are int32_t and its
 * scratch memory is about 72 bytes per byte. */
#define BPE_PIECE_MAX_BYTES ((size_t)1 << 28)

typedef struct bpe_symbol {
    int32_t id;   /* token id; -1 once merged into its left neighbour */
    int32_t prev; /* index of the previous live symbol, -1 at the start */
    int32_t next; /* index of the next live symbol, -1 at the end */
} bpe_symbol;

typedef struct bpe_candidate {
    int32_t rank;      /* of the rule; the heap's first key */
    int32_t left;      /* index of the left symbol; the second key */
    int32_t left_id;   /* the pair as it was when pushed, to detect staleness */
    int32_t right_id;
    int32_t merged_id;
} bpe_candidate;

/* Scratch memory reused from piece to piece. */
typedef struct bpe_workspace {
    bpe_symbol *symbols;   /* (symbol_capacity) */
    size_t symbol_capacity;
    bpe_candidate *heap;   /* (heap_capacity) */
    size_t heap_capacity;
    size_t heap_count;
} bpe_workspace;

/* Releases the scratch arrays; the workspace may be reused afterwards. */
void bpe_workspace_free(bpe_workspace *workspace);

/* Merges the symbols ids (count of them, each a token id) in place by the
 * rules of merges, lowest rank first and the leftmost on ties (Hugging Face
 * tokenizers' order). Returns the number of ids left at the front of ids,
 * or -1 when out of memory. count is at most BPE_PIECE_MAX_BYTES. */
long bpe_merge_ids(const bpe_merges *merges, bpe_workspace *workspace, int32_t *ids, size_t count);

/* Encodes the raw bytes of one piece (length 1 .. BPE_PIECE_MAX_BYTES) into
 * ids_out (room for length ids). Returns the number of ids written, or -1
 * when out of memory. Each byte starts as its one-byte token
 * (vocab->byte_ids), then bpe_merge_ids merges them. */
long bpe_encode_piece(const bpe_vocab *vocab, const bpe_merges *merges, bpe_workspace *workspace,
                      const uint8_t *bytes, size_t length, int32_t *ids_out);

#endif
