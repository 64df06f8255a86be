/*
 * added_tokens.c - leftmost-longest matching of added tokens (see
 * added_tokens.h) over two byte tries, one per group (raw / normalized).
 */
#include "tokenizer/added_tokens.h"

#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "tokenizer/pretokenizer.h"
#include "util/error.h"

/* One node of a trie: its children form a list through next_sibling. */
typedef struct trie_node {
    int32_t first_child, next_sibling; /* node indices, -1 for none */
    int32_t token;                     /* index in tokens of the content ending here, -1 for none */
    uint8_t byte;                      /* the byte leading to this node */
} trie_node;

/* A token's id and its index in tokens, for the search by id. */
typedef struct id_entry {
    int32_t id, index;
} id_entry;

struct added_vocabulary {
    added_token *tokens;        /* (n_tokens), contents in `contents` */
    size_t n_tokens;
    char *contents;             /* every content back to back */
    id_entry *by_id;            /* (n_tokens) sorted by id */
    trie_node *nodes;           /* (n_nodes): node 0 roots the raw group, node 1 the normalized one */
    size_t n_nodes;
    bool first_bytes[2][256];   /* per group: a content of that group starts with this byte */
    int32_t max_id;
};

/* ------------------------------------------------------------------------
 * Building
 * ---------------------------------------------------------------------- */

/* The child of node `parent` reached by byte, or -1. */
static int32_t trie_child(const trie_node *nodes, int32_t parent, uint8_t byte) {
    for (int32_t child = nodes[parent].first_child; child >= 0; child = nodes[child].next_sibling)
        if (nodes[child].byte == byte) return child;
    return -1;
}

/* Adds token index `token` (content of length bytes) under root; false when
 * the content is already there (the first token keeps it). nodes has room
 * for every byte of every content. */
static bool trie_insert(added_vocabulary *vocabulary, int32_t root, const uint8_t *content, size_t length,
                        int32_t token) {
    trie_node *nodes = vocabulary->nodes;
    int32_t at = root;
    for (size_t i = 0; i < length; i++) {
        int32_t child = trie_child(nodes, at, content[i]);
        if (child < 0) {
            child = (int32_t)vocabulary->n_nodes++;
            nodes[child] = (trie_node){.first_child = -1, .next_sibling = nodes[at].first_child,
                                       .token = -1, .byte = content[i]};
            nodes[at].first_child = child;
        }
        at = child;
    }
    if (nodes[at].token >= 0) return false;
    nodes[at].token = token;
    return true;
}

static int compare_by_id(const void *a, const void *b) {
    const id_entry *left = a, *right = b;
    if (left->id != right->id) return (left->id > right->id) - (left->id < right->id);
    return (left->index > right->index) - (left->index < right->index);
}

loupe_status added_vocabulary_create(const added_token *tokens, size_t n, added_vocabulary **out,
                                     loupe_error *error) {
    if (out == NULL) return error_set(error, LOUPE_ERROR_ARGUMENT, "added tokens: no place for the result");
    *out = NULL;
    if (tokens == NULL && n > 0) return error_set(error, LOUPE_ERROR_ARGUMENT, "added tokens: no tokens given");
    if (n > ADDED_TOKENS_MAX_COUNT)
        return error_set(error, LOUPE_ERROR_LIMIT, "added tokens: %zu tokens, more than the limit of %d", n,
                         ADDED_TOKENS_MAX_COUNT);
    size_t total_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (tokens[i].content == NULL && tokens[i].length > 0)
            return error_set(error, LOUPE_ERROR_ARGUMENT, "added token %zu: no content", i);
        if (tokens[i].length > ADDED_TOKENS_MAX_CONTENT_BYTES)
            return error_set(error, LOUPE_ERROR_LIMIT,
                             "added token %zu (id %ld): %zu bytes, longer than the limit of %d", i,
                             (long)tokens[i].id, tokens[i].length, ADDED_TOKENS_MAX_CONTENT_BYTES);
        if (tokens[i].id < 0)
            return error_set(error, LOUPE_ERROR_ARGUMENT, "added token %zu: negative id %ld", i,
                             (long)tokens[i].id);
        total_bytes += tokens[i].length; /* at most 2^20 * 4096: no overflow */
    }
    added_vocabulary *vocabulary = calloc(1, sizeof *vocabulary);
    if (vocabulary == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "added tokens: out of memory");
    vocabulary->tokens = malloc((n ? n : 1) * sizeof *vocabulary->tokens);
    vocabulary->contents = malloc(total_bytes ? total_bytes : 1);
    vocabulary->by_id = malloc((n ? n : 1) * sizeof *vocabulary->by_id);
    vocabulary->nodes = malloc((total_bytes + 2) * sizeof *vocabulary->nodes);
    if (vocabulary->tokens == NULL || vocabulary->contents == NULL || vocabulary->by_id == NULL ||
        vocabulary->nodes == NULL) {
        added_vocabulary_free(vocabulary);
        return error_set(error, LOUPE_ERROR_MEMORY, "added tokens: out of memory for %zu tokens", n);
    }
    for (int root = 0; root < 2; root++)
        vocabulary->nodes[root] = (trie_node){.first_child = -1, .next_sibling = -1, .token = -1};
    vocabulary->n_nodes = 2;
    vocabulary->max_id = -1;
    size_t used_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (tokens[i].length == 0) continue;
        added_token *kept = &vocabulary->tokens[vocabulary->n_tokens];
        *kept = tokens[i];
        memcpy(vocabulary->contents + used_bytes, tokens[i].content, tokens[i].length);
        kept->content = vocabulary->contents + used_bytes;
        int group = kept->normalized ? 1 : 0;
        if (!trie_insert(vocabulary, group, (const uint8_t *)kept->content, kept->length,
                         (int32_t)vocabulary->n_tokens))
            continue;
        used_bytes += kept->length;
        vocabulary->first_bytes[group][(uint8_t)kept->content[0]] = true;
        vocabulary->by_id[vocabulary->n_tokens] =
            (id_entry){.id = kept->id, .index = (int32_t)vocabulary->n_tokens};
        if (kept->id > vocabulary->max_id) vocabulary->max_id = kept->id;
        vocabulary->n_tokens++;
    }
    /* with two tokens of one id, the first one is found */
    qsort(vocabulary->by_id, vocabulary->n_tokens, sizeof *vocabulary->by_id, compare_by_id);
    error_clear(error);
    *out = vocabulary;
    return LOUPE_OK;
}

void added_vocabulary_free(added_vocabulary *vocabulary) {
    if (vocabulary == NULL) return;
    free(vocabulary->tokens);
    free(vocabulary->contents);
    free(vocabulary->by_id);
    free(vocabulary->nodes);
    free(vocabulary);
}

size_t added_vocabulary_count(const added_vocabulary *vocabulary) {
    return vocabulary ? vocabulary->n_tokens : 0;
}

int32_t added_vocabulary_max_id(const added_vocabulary *vocabulary) {
    return vocabulary ? vocabulary->max_id : -1;
}

const added_token *added_vocabulary_find_id(const added_vocabulary *vocabulary, int32_t id) {
    if (vocabulary == NULL) return NULL;
    size_t low = 0, high = vocabulary->n_tokens;
    while (low < high) { /* the first entry with an id >= id */
        size_t middle = low + (high - low) / 2;
        if (vocabulary->by_id[middle].id < id) low = middle + 1;
        else high = middle;
    }
    if (low == vocabulary->n_tokens || vocabulary->by_id[low].id != id) return NULL;
    return &vocabulary->tokens[vocabulary->by_id[low].index];
}

/* ------------------------------------------------------------------------
 * Characters around a match
 * ---------------------------------------------------------------------- */

/* Where the character that ends at text[end] (end > 0) begins; a byte that
 * ends no valid character is a character of its own. */
static size_t character_start_before(const uint8_t *text, size_t end) {
    for (size_t back = 1; back <= 4 && back <= end; back++) {
        if ((text[end - back] & 0xC0) == 0x80 && back < 4 && back < end) continue;
        size_t size = 0;
        pretokenizer_classify_at(text, end, end - back, &size);
        return size == back ? end - back : end - 1;
    }
    return end - 1;
}

/* Whether the character at text[at] (at < length) is a word character of
 * regular expressions' \w, as Hugging Face's single_word rule reads it:
 * letters, marks, decimal digits, letter numbers, connector punctuation
 * ('_') and the joiners U+200C, U+200D. Invalid UTF-8 is not. */
static bool is_word_character(const uint8_t *text, size_t length, size_t at) {
    utf8proc_int32_t codepoint = -1;
    size_t remaining = length - at < 4 ? length - at : 4;
    if (utf8proc_iterate(text + at, (utf8proc_ssize_t)remaining, &codepoint) <= 0) return false;
    if (codepoint == 0x200C || codepoint == 0x200D) return true;
    switch (utf8proc_category(codepoint)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
        return true;
    default:
        return false;
    }
}

/* Whether the character at text[at] (at < length) is White_Space. */
static bool is_space_at(const uint8_t *text, size_t length, size_t at, size_t *size) {
    return pretokenizer_classify_at(text, length, at, size) == CLASS_SPACE;
}

/* ------------------------------------------------------------------------
 * Splitting
 * ---------------------------------------------------------------------- */

void added_splitter_init(added_splitter *splitter, const added_vocabulary *vocabulary,
                         const char *text, size_t length, unsigned flags) {
    *splitter = (added_splitter){.vocabulary = vocabulary, .text = (const uint8_t *)text,
                                 .length = length, .flags = flags};
}

/* The longest content of the group rooted at `root` that starts at text[at]:
 * its token index (and *end after it), or -1. */
static int32_t longest_match_at(const added_vocabulary *vocabulary, int32_t root, const uint8_t *text,
                                size_t length, size_t at, size_t *end) {
    int32_t found = -1, node = root;
    for (size_t i = at; i < length; i++) {
        node = trie_child(vocabulary->nodes, node, text[i]);
        if (node < 0) break;
        if (vocabulary->nodes[node].token >= 0) {
            found = vocabulary->nodes[node].token;
            *end = i + 1;
        }
    }
    return found;
}

/* The next match from splitter->scan on that survives the flags and the
 * single_word rule, widened by lstrip/rstrip: true and *segment, else false.
 * Moves scan past every match it looks at, kept or not. */
static bool next_token(added_splitter *splitter, added_segment *segment) {
    const added_vocabulary *vocabulary = splitter->vocabulary;
    if (vocabulary == NULL || vocabulary->n_tokens == 0) return false;
    int group = (splitter->flags & ADDED_SPLIT_NORMALIZED) ? 1 : 0;
    const uint8_t *text = splitter->text;
    size_t length = splitter->length;
    for (size_t at = splitter->scan; at < length; at++) {
        if (!vocabulary->first_bytes[group][text[at]]) continue;
        size_t end = at;
        int32_t index = longest_match_at(vocabulary, group, text, length, at, &end);
        if (index < 0) continue;
        splitter->scan = end;
        const added_token *token = &vocabulary->tokens[index];
        size_t start = at, stop = end, size = 0;
        bool keep = !(token->special && (splitter->flags & ADDED_SPLIT_SKIP_SPECIAL)) &&
                    start >= splitter->position;
        if (keep && token->single_word) {
            bool word_before = start > 0 && is_word_character(text, start, character_start_before(text, start));
            bool word_after = stop < length && is_word_character(text, length, stop);
            keep = !word_before && !word_after;
        }
        if (!keep) {
            at = end - 1; /* matches never overlap: go on after this one */
            continue;
        }
        while (token->lstrip && start > splitter->position) {
            size_t before = character_start_before(text, start);
            if (!is_space_at(text, start, before, &size)) break;
            start = before;
        }
        while (token->rstrip && stop < length && is_space_at(text, length, stop, &size)) stop += size;
        *segment = (added_segment){.start = start, .length = stop - start, .id = token->id, .token = token};
        return true;
    }
    splitter->scan = length;
    return false;
}

bool added_splitter_next(added_splitter *splitter, added_segment *segment) {
    if (splitter->has_pending) {
        *segment = splitter->pending;
        splitter->has_pending = false;
        splitter->position = segment->start + segment->length;
        return true;
    }
    if (splitter->position >= splitter->length) return false;
    added_segment token;
    if (!next_token(splitter, &token)) {
        *segment = (added_segment){.start = splitter->position,
                                   .length = splitter->length - splitter->position, .id = -1};
        splitter->position = splitter->length;
        return true;
    }
    if (token.start > splitter->position) {
        *segment = (added_segment){.start = splitter->position, .length = token.start - splitter->position,
                                   .id = -1};
        splitter->pending = token;
        splitter->has_pending = true;
        splitter->position = token.start;
        return true;
    }
    *segment = token;
    splitter->position = token.start + token.length;
    return true;
}
