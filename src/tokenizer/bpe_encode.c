/*
 * bpe_encode.c - see bpe_encode.h.
 */
#include "tokenizer/bpe_encode.h"

#include <stdlib.h>

void bpe_workspace_free(bpe_workspace *workspace) {
    if (workspace == NULL) return;
    free(workspace->symbols);
    free(workspace->heap);
    workspace->symbols = NULL;
    workspace->heap = NULL;
    workspace->symbol_capacity = workspace->heap_capacity = workspace->heap_count = 0;
}

/* Grows the scratch arrays for a piece of `length` bytes: at most length - 1
 * pairs to start with plus two per merge. Returns 0, or -1 out of memory. */
static int workspace_reserve(bpe_workspace *workspace, size_t length) {
    if (length > workspace->symbol_capacity) {
        size_t capacity = length < 64 ? 64 : length;
        bpe_symbol *symbols = realloc(workspace->symbols, capacity * sizeof *symbols);
        if (symbols == NULL) return -1;
        workspace->symbols = symbols;
        workspace->symbol_capacity = capacity;
    }
    size_t heap_needed = 3 * length;
    if (heap_needed > workspace->heap_capacity) {
        size_t capacity = heap_needed < 192 ? 192 : heap_needed;
        bpe_candidate *heap = realloc(workspace->heap, capacity * sizeof *heap);
        if (heap == NULL) return -1;
        workspace->heap = heap;
        workspace->heap_capacity = capacity;
    }
    workspace->heap_count = 0;
    return 0;
}

/* ------------------------------------------------------------------------
 * The heap: lowest rank first, then leftmost
 * ---------------------------------------------------------------------- */

/* 1 when a pops before b: lower rank, or the same rank further left. */
static int candidate_before(const bpe_candidate *a, const bpe_candidate *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

/* Adds a candidate; the heap has room (see workspace_reserve). */
static void heap_push(bpe_workspace *workspace, bpe_candidate candidate) {
    bpe_candidate *heap = workspace->heap;
    size_t child = workspace->heap_count++;
    while (child > 0) {
        size_t parent = (child - 1) / 2;
        if (!candidate_before(&candidate, &heap[parent])) break;
        heap[child] = heap[parent];
        child = parent;
    }
    heap[child] = candidate;
}

/* Removes and returns the first candidate; the heap is not empty. */
static bpe_candidate heap_pop(bpe_workspace *workspace) {
    bpe_candidate *heap = workspace->heap;
    bpe_candidate top = heap[0];
    bpe_candidate last = heap[--workspace->heap_count];
    size_t count = workspace->heap_count, parent = 0;
    for (;;) {
        size_t child = 2 * parent + 1;
        if (child >= count) break;
        if (child + 1 < count && candidate_before(&heap[child + 1], &heap[child])) child++;
        if (!candidate_before(&heap[child], &last)) break;
        heap[parent] = heap[child];
        parent = child;
    }
    if (count > 0) heap[parent] = last;
    return top;
}

/* Pushes the pair that starts at symbol `left`, if it has a rule. */
static void push_pair(bpe_workspace *workspace, const bpe_merges *merges, int32_t left) {
    const bpe_symbol *symbols = workspace->symbols;
    int32_t right = symbols[left].next;
    if (right < 0) return;
    bpe_candidate candidate = {.left = left, .left_id = symbols[left].id, .right_id = symbols[right].id};
    if (bpe_merges_find(merges, candidate.left_id, candidate.right_id, &candidate.rank,
                        &candidate.merged_id))
        heap_push(workspace, candidate);
}

/* ------------------------------------------------------------------------
 * The merge loop
 * ---------------------------------------------------------------------- */

long bpe_merge_ids(const bpe_merges *merges, bpe_workspace *workspace, int32_t *ids, size_t count) {
    if (count < 2) return (long)count;
    if (workspace_reserve(workspace, count) != 0) return -1;
    bpe_symbol *symbols = workspace->symbols;
    int32_t n = (int32_t)count;
    for (int32_t i = 0; i < n; i++)
        symbols[i] = (bpe_symbol){.id = ids[i], .prev = i - 1, .next = i + 1 < n ? i + 1 : -1};
    for (int32_t i = 0; i + 1 < n; i++) bpe_merges_prefetch(merges, ids[i], ids[i + 1]);
    for (int32_t i = 0; i + 1 < n; i++) push_pair(workspace, merges, i);

    while (workspace->heap_count > 0) {
        bpe_candidate top = heap_pop(workspace);
        bpe_symbol *left = &symbols[top.left];
        if (left->id != top.left_id || left->next < 0) continue; /* stale */
        int32_t right_index = left->next;
        bpe_symbol *right = &symbols[right_index];
        if (right->id != top.right_id) continue;                 /* stale */
        /* Token ids only ever grow into longer tokens, so a symbol never gets
         * an id back once it has changed: the id checks above are enough. */
        left->id = top.merged_id;
        left->next = right->next;
        if (right->next >= 0) symbols[right->next].prev = top.left;
        right->id = -1;
        if (left->prev >= 0) bpe_merges_prefetch(merges, symbols[left->prev].id, left->id);
        if (left->next >= 0) bpe_merges_prefetch(merges, left->id, symbols[left->next].id);
        if (left->prev >= 0) push_pair(workspace, merges, left->prev);
        push_pair(workspace, merges, top.left);
    }

    long merged = 0;
    for (int32_t i = 0; i >= 0; i = symbols[i].next) ids[merged++] = symbols[i].id;
    return merged;
}

long bpe_encode_piece(const bpe_vocab *vocab, const bpe_merges *merges, bpe_workspace *workspace,
                      const uint8_t *bytes, size_t length, int32_t *ids_out) {
    for (size_t i = 0; i < length; i++) ids_out[i] = vocab->byte_ids[bytes[i]];
    return bpe_merge_ids(merges, workspace, ids_out, length);
}
