/*
 * test_added_tokens.c - the added-token matcher against hand-computed splits
 * (one group of cases per rule of Hugging Face's AddedVocabulary), and the
 * GPT-2 tokenizer with "<|endoftext|>" in the text, whose expected ids join
 * Hugging Face's ids of the plain parts (gpt2_tokenizer_cases.json) around
 * 50256, the id vocab.json gives "<|endoftext|>".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loupe.h"
#include "test_support.h"
#include "tokenizer/added_tokens.h"

/* ------------------------------------------------------------------------
 * The matcher
 * ---------------------------------------------------------------------- */

/* Splits text with flags and checks the segments against expected (n). */
static void check_split(const added_vocabulary *vocabulary, const char *text, unsigned flags,
                        const added_segment *expected, size_t n) {
    added_splitter splitter;
    added_splitter_init(&splitter, vocabulary, text, strlen(text), flags);
    added_segment segment;
    size_t got = 0;
    while (added_splitter_next(&splitter, &segment)) {
        if (got < n)
            CHECK_MSG(segment.start == expected[got].start && segment.length == expected[got].length &&
                          segment.id == expected[got].id,
                      "'%s' segment %zu: got (%zu, %zu, %d), expected (%zu, %zu, %d)", text, got, segment.start,
                      segment.length, segment.id, expected[got].start, expected[got].length, expected[got].id);
        got++;
    }
    CHECK_MSG(got == n, "'%s': %zu segments, expected %zu", text, got, n);
}

#define SPLIT(vocabulary, text, flags, ...)                                                       \
    do {                                                                                          \
        const added_segment expected_[] = {__VA_ARGS__};                                          \
        check_split(vocabulary, text, flags, expected_, sizeof expected_ / sizeof expected_[0]); \
    } while (0)
#define PLAIN(start, length) {start, length, -1, NULL}
#define TOKEN(start, length, id) {start, length, id, NULL}

static added_token token(const char *content, int32_t id) {
    return (added_token){.content = content, .length = strlen(content), .id = id};
}

static void test_matcher(void) {
    added_token tokens[10];
    size_t n = 0;
    tokens[n] = token("<s>", 1), tokens[n++].special = true;
    tokens[n++] = token("ab", 10);
    tokens[n++] = token("abc", 11);
    tokens[n++] = token("bcd", 12);
    tokens[n] = token("[L]", 20), tokens[n++].lstrip = true;
    tokens[n] = token("[R]", 21), tokens[n++].rstrip = true;
    tokens[n] = token("cat", 30), tokens[n++].single_word = true;
    tokens[n] = token("nn", 40), tokens[n++].normalized = true;
    tokens[n++] = token(" x", 50);
    tokens[n++] = token("", 60); /* ignored */
    added_vocabulary *vocabulary = NULL;
    loupe_error error;
    if (added_vocabulary_create(tokens, n, &vocabulary, &error) != LOUPE_OK) {
        CHECK_MSG(0, "create: %s", error.message);
        return;
    }
    CHECK(added_vocabulary_count(vocabulary) == 9);
    CHECK(added_vocabulary_max_id(vocabulary) == 50);
    CHECK(added_vocabulary_find_id(vocabulary, 60) == NULL);
    const added_token *found = added_vocabulary_find_id(vocabulary, 21);
    CHECK(found != NULL && found->length == 3 && memcmp(found->content, "[R]", 3) == 0 && found->rstrip);

    /* plain text around a token; a token at either end; nothing but text */
    SPLIT(vocabulary, "x<s>y", 0, PLAIN(0, 1), TOKEN(1, 3, 1), PLAIN(4, 1));
    SPLIT(vocabulary, "<s><s>", 0, TOKEN(0, 3, 1), TOKEN(3, 3, 1));
    SPLIT(vocabulary, "hello", 0, PLAIN(0, 5));
    SPLIT(vocabulary, "<s", 0, PLAIN(0, 2));
    check_split(vocabulary, "", 0, NULL, 0);
    /* leftmost, then longest: "abc" beats "ab" at 0, and "bcd" (at 1) loses */
    SPLIT(vocabulary, "abcd", 0, TOKEN(0, 3, 11), PLAIN(3, 1));
    SPLIT(vocabulary, "zabd", 0, PLAIN(0, 1), TOKEN(1, 2, 10), PLAIN(3, 1));
    SPLIT(vocabulary, "zbcd", 0, PLAIN(0, 1), TOKEN(1, 3, 12));
    /* lstrip takes every white space before it, Unicode's too (U+3000) */
    SPLIT(vocabulary, "a  [L] b", 0, PLAIN(0, 1), TOKEN(1, 5, 20), PLAIN(6, 2));
    SPLIT(vocabulary, "a\xE3\x80\x80[L]", 0, PLAIN(0, 1), TOKEN(1, 6, 20));
    /* rstrip takes the white space after it */
    SPLIT(vocabulary, "a [R]  b", 0, PLAIN(0, 2), TOKEN(2, 5, 21), PLAIN(7, 1));
    /* lstrip never reaches into the token before */
    SPLIT(vocabulary, "[R] [L]", 0, TOKEN(0, 4, 21), TOKEN(4, 3, 20));
    /* a match inside the space an rstrip token took is dropped */
    SPLIT(vocabulary, "[R] x", 0, TOKEN(0, 4, 21), PLAIN(4, 1));
    /* single_word: not next to a word character (\w: letters, digits, '_', marks; not '.', not '²') */
    SPLIT(vocabulary, "cat", 0, TOKEN(0, 3, 30));
    SPLIT(vocabulary, "a cat.", 0, PLAIN(0, 2), TOKEN(2, 3, 30), PLAIN(5, 1));
    SPLIT(vocabulary, "cats", 0, PLAIN(0, 4));
    SPLIT(vocabulary, "1cat", 0, PLAIN(0, 4));
    SPLIT(vocabulary, "\xC3\xA9" "cat", 0, PLAIN(0, 5));
    SPLIT(vocabulary, "_cat", 0, PLAIN(0, 4));
    SPLIT(vocabulary, "cat\xCC\x81", 0, PLAIN(0, 5));                      /* U+0301, a mark */
    SPLIT(vocabulary, "\xC2\xB2" "cat-", 0, PLAIN(0, 2), TOKEN(2, 3, 30), PLAIN(5, 1)); /* U+00B2 is No */
    /* special tokens skipped stay plain; other added tokens are still matched */
    SPLIT(vocabulary, "x<s>y", ADDED_SPLIT_SKIP_SPECIAL, PLAIN(0, 5));
    SPLIT(vocabulary, "<s>ab", ADDED_SPLIT_SKIP_SPECIAL, PLAIN(0, 3), TOKEN(3, 2, 10));
    /* the normalized group is matched only by its own pass, and only it */
    SPLIT(vocabulary, "annb", 0, PLAIN(0, 4));
    SPLIT(vocabulary, "annb", ADDED_SPLIT_NORMALIZED, PLAIN(0, 1), TOKEN(1, 2, 40), PLAIN(3, 1));
    SPLIT(vocabulary, "a<s>", ADDED_SPLIT_NORMALIZED, PLAIN(0, 4));
    added_vocabulary_free(vocabulary);
}

static void test_create_rules(void) {
    added_vocabulary *vocabulary = NULL;
    loupe_error error;
    /* two tokens of one content: the first is kept */
    added_token twice[] = {token("ab", 10), token("ab", 99)};
    if (added_vocabulary_create(twice, 2, &vocabulary, &error) == LOUPE_OK) {
        CHECK(added_vocabulary_count(vocabulary) == 1);
        CHECK(added_vocabulary_find_id(vocabulary, 99) == NULL);
        SPLIT(vocabulary, "ab", 0, TOKEN(0, 2, 10));
    } else {
        CHECK_MSG(0, "create: %s", error.message);
    }
    added_vocabulary_free(vocabulary);
    /* none at all: everything is plain */
    CHECK(added_vocabulary_create(NULL, 0, &vocabulary, &error) == LOUPE_OK);
    SPLIT(vocabulary, "<s>", 0, PLAIN(0, 3));
    added_vocabulary_free(vocabulary);
    added_vocabulary_free(NULL);

    added_token negative[] = {token("a", 1), token("b", -2)};
    CHECK(added_vocabulary_create(negative, 2, &vocabulary, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(vocabulary == NULL && strstr(error.message, "added token 1") != NULL);
    char *long_content = malloc(ADDED_TOKENS_MAX_CONTENT_BYTES + 1);
    memset(long_content, 'a', ADDED_TOKENS_MAX_CONTENT_BYTES + 1);
    added_token too_long = {.content = long_content, .length = ADDED_TOKENS_MAX_CONTENT_BYTES + 1, .id = 3};
    CHECK(added_vocabulary_create(&too_long, 1, &vocabulary, &error) == LOUPE_ERROR_LIMIT);
    free(long_content);
    added_token no_content = {.content = NULL, .length = 2, .id = 3};
    CHECK(added_vocabulary_create(&no_content, 1, &vocabulary, &error) == LOUPE_ERROR_ARGUMENT);
}

/* ------------------------------------------------------------------------
 * GPT-2 end to end
 * ---------------------------------------------------------------------- */

/* Hugging Face's ids (gpt2_tokenizer_cases.json) of the plain parts, and the
 * single-byte tokens of vocab.json: '|' 91, ' ' 220. */
static const int32_t hello_world[] = {15496, 995};                       /* "Hello world" */
static const int32_t spaced_hello[] = {18435, 220, 995, 220, 220};       /* " Hello  world  " */
static const int32_t leading_spaces[] = {220, 220, 3756, 9029};          /* "   leading spaces" */
static const int32_t is_text_here[] = {318, 2420, 994};                  /* " is text here" */
static const int32_t eot_as_text[] = {27, 91, 437, 1659, 5239, 91, 29}; /* "<|endoftext|>" as plain text */
enum { EOT = 50256 };

/* Builds the ids of parts joined: each part is (ids, n), or EOT alone. */
typedef struct id_list {
    int32_t ids[64];
    size_t n;
} id_list;

static void append(id_list *list, const int32_t *ids, size_t n) {
    for (size_t i = 0; i < n && list->n < 64; i++) list->ids[list->n++] = ids[i];
}

static void append_eot(id_list *list) {
    const int32_t eot = EOT;
    append(list, &eot, 1);
}

#define APPEND(list, array) append(list, array, sizeof array / sizeof array[0])

static void check_gpt2(loupe_tokenizer *tokenizer, const char *text, bool match_special, const id_list *expected) {
    loupe_encode_params params = loupe_encode_default_params();
    params.match_special = match_special;
    int32_t *ids = NULL;
    size_t count = 0;
    loupe_error error;
    loupe_status status = loupe_tokenizer_encode_with_params(tokenizer, text, strlen(text), &params, &ids, &count,
                                                             &error);
    CHECK_MSG(status == LOUPE_OK, "'%s': %s", text, error.message);
    bool same = status == LOUPE_OK && count == expected->n;
    for (size_t i = 0; same && i < count; i++) same = ids[i] == expected->ids[i];
    CHECK_MSG(same, "'%s' (special %d): %zu ids, expected %zu", text, match_special, count, expected->n);
    loupe_free(ids);
}

static void test_gpt2(void) {
    loupe_tokenizer *tokenizer = NULL;
    loupe_error error;
    if (loupe_tokenizer_open(test_model_path("gpt2-demo"), &tokenizer, &error) != LOUPE_OK) {
        CHECK_MSG(0, "open: %s", error.message);
        return;
    }
    CHECK(loupe_encode_default_params().match_special);
    CHECK(loupe_tokenizer_bos_id(tokenizer) == EOT);
    CHECK(loupe_tokenizer_vocab_size(tokenizer) == 50257);
    id_list expected;

    expected = (id_list){.n = 0}; /* at the start */
    append_eot(&expected);
    APPEND(&expected, is_text_here);
    check_gpt2(tokenizer, "<|endoftext|> is text here", true, &expected);

    expected = (id_list){.n = 0}; /* --no-special: the fixture's own ids */
    APPEND(&expected, eot_as_text);
    APPEND(&expected, is_text_here);
    check_gpt2(tokenizer, "<|endoftext|> is text here", false, &expected);

    expected = (id_list){.n = 0}; /* in the middle, against words on both sides */
    APPEND(&expected, hello_world);
    append_eot(&expected);
    APPEND(&expected, hello_world);
    check_gpt2(tokenizer, "Hello world<|endoftext|>Hello world", true, &expected);

    expected = (id_list){.n = 0}; /* against spaces on both sides, at the end */
    APPEND(&expected, spaced_hello);
    append_eot(&expected);
    APPEND(&expected, leading_spaces);
    append_eot(&expected);
    check_gpt2(tokenizer, " Hello  world  <|endoftext|>   leading spaces<|endoftext|>", true, &expected);

    expected = (id_list){.n = 0}; /* repeated */
    append_eot(&expected);
    append_eot(&expected);
    append_eot(&expected);
    check_gpt2(tokenizer, "<|endoftext|><|endoftext|><|endoftext|>", true, &expected);

    expected = (id_list){.n = 0}; /* a partial one is text: the fixture's pieces less the final '>' */
    append(&expected, eot_as_text, 6);
    check_gpt2(tokenizer, "<|endoftext|", true, &expected);
    append_eot(&expected); /* then a whole one right after it */
    check_gpt2(tokenizer, "<|endoftext|<|endoftext|>", true, &expected);

    /* the special token decodes and renders by name */
    const int32_t eot = EOT;
    char *text = NULL;
    size_t length = 0;
    CHECK(loupe_tokenizer_decode(tokenizer, &eot, 1, &text, &length, &error) == LOUPE_OK);
    CHECK(text != NULL && length == 13 && memcmp(text, "<|endoftext|>", 13) == 0);
    loupe_free(text);
    char rendered[32];
    loupe_tokenizer_render(tokenizer, EOT, rendered, sizeof rendered);
    CHECK(strcmp(rendered, "<|endoftext|>") == 0);
    loupe_tokenizer_close(tokenizer);
}

int main(void) {
    test_matcher();
    test_create_rules();
    test_gpt2();
    return test_finish("test_added_tokens");
}
