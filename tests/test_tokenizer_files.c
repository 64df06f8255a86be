/*
 * test_tokenizer_files.c - opening vocab.json and merges.txt: every kind of
 * malformed file gives its own error naming the file and the key or line,
 * and a small hand-made merge list shows the merge order (lowest rank
 * first, leftmost on ties), worked out by hand below.
 */
#include <stdlib.h>
#include <string.h>

#include "loupe.h"
#include "test_support.h"

static char *temp_dir;

/* Writes `text` to name in the temp dir; returns the path (static buffer
 * per call slot: 0 or 1). */
static const char *write_temp(int slot, const char *name, const char *text, size_t length) {
    static char paths[2][4096];
    snprintf(paths[slot], sizeof paths[slot], "%s/%s", temp_dir, name);
    if (test_write_file(paths[slot], text, length) != 0) fprintf(stderr, "cannot write %s\n", paths[slot]);
    return paths[slot];
}

/* Opens (vocab_text, merges_text) and expects `status` with every needle
 * (NULL-terminated list) in the message. */
static void expect_failure(const char *vocab_text, const char *merges_text, loupe_status status,
                           const char *const *needles) {
    const char *vocab_path = write_temp(0, "vocab.json", vocab_text, strlen(vocab_text));
    const char *merges_path = write_temp(1, "merges.txt", merges_text, strlen(merges_text));
    loupe_error error;
    loupe_tokenizer *tokenizer = (loupe_tokenizer *)&error; /* must be reset to NULL */
    loupe_status got = loupe_tokenizer_open_files(vocab_path, merges_path, &tokenizer, &error);
    CHECK_MSG(got == status, "got %s (%s), expected %s", loupe_status_name(got), error.message,
              loupe_status_name(status));
    CHECK(got != LOUPE_OK);
    CHECK(tokenizer == NULL);
    for (const char *const *needle = needles; *needle; needle++)
        CHECK_MSG(strstr(error.message, *needle) != NULL, "\"%s\" not in \"%s\"", *needle, error.message);
    CHECK(strchr(error.message, '\n') == NULL);
    loupe_tokenizer_close(tokenizer);
}

static void test_malformed_vocab(void) {
    const char *merges = "#version: 0.2\n";
    expect_failure("[1, 2]", merges, LOUPE_ERROR_FORMAT,
                   (const char *const[]){"vocab.json", "expected an object mapping", NULL});
    expect_failure("{\"a\": 0", merges, LOUPE_ERROR_FORMAT,
                   (const char *const[]){"vocab.json", "invalid JSON", NULL});
    expect_failure("{}", merges, LOUPE_ERROR_FORMAT, (const char *const[]){"vocab.json", "empty", NULL});
    expect_failure("{\"a\": 0, \"bee\": 1.5}", merges, LOUPE_ERROR_FORMAT,
                   (const char *const[]){"vocab.json", "\"bee\"", "whole number", NULL});
    expect_failure("{\"a\": 0, \"bee\": \"1\"}", merges, LOUPE_ERROR_FORMAT,
                   (const char *const[]){"vocab.json", "\"bee\"", "not an integer", NULL});
    expect_failure("{\"bee\": -1, \"a\": 0}", merges, LOUPE_ERROR_FORMAT,
                   (const char *const[]){"vocab.json", "\"bee\"", "negative", NULL});
    expect_failure("{\"a\": 0, \"bee\": 0}", merges, LOUPE_ERROR_FORMAT,
                   (const char *const[]){"vocab.json", "\"bee\"", "duplicate id 0", "\"a\"", NULL});
    expect_failure("{\"a\": 0, \"bee\": 2}", merges, LOUPE_ERROR_FORMAT,
                   (const char *const[]){"vocab.json", "\"bee\"", "dense", NULL});
    expect_failure("{\"a\": 0, \"a\": 1}", merges, LOUPE_ERROR_FORMAT,
                   (const char *const[]){"vocab.json", "\"a\"", "duplicate key", NULL});
    expect_failure("{\"a\": 0, \"\": 1}", merges, LOUPE_ERROR_FORMAT,
                   (const char *const[]){"vocab.json", "empty token", NULL});
    /* U+20AC stands for no byte in GPT-2's byte-level alphabet. */
    expect_failure("{\"a\": 0, \"x\\u20ac\": 1}", merges, LOUPE_ERROR_FORMAT,
                   (const char *const[]){"vocab.json", "U+20AC", NULL});
    /* Well-formed but unusable: byte 0x00 (written U+0100) has no token. */
    expect_failure("{\"a\": 0}", merges, LOUPE_ERROR_FORMAT,
                   (const char *const[]){"vocab.json", "byte 0x00", NULL});
}

/* With the real vocabulary, merge lists that disagree with it. */
static void test_malformed_merges(const char *vocab_text) {
    /* "zzzqqq" is no token of GPT-2's vocabulary; "ĠtĠt" neither. */
    expect_failure(vocab_text, "#version: 0.2\n\xc4\xa0 t\nzzzqqq \xc4\xa0\n", LOUPE_ERROR_FORMAT,
                   (const char *const[]){"merges.txt:3", "vocab/merges disagree", "left part", NULL});
    expect_failure(vocab_text, "\xc4\xa0 zzzqqq\n", LOUPE_ERROR_FORMAT,
                   (const char *const[]){"merges.txt:1", "vocab/merges disagree", "right part", NULL});
    expect_failure(vocab_text, "#version: 0.2\n\xc4\xa0t \xc4\xa0t\n", LOUPE_ERROR_FORMAT,
                   (const char *const[]){"merges.txt:2", "vocab/merges disagree", "merged token", NULL});
    expect_failure(vocab_text, "\xc4\xa0 t\n\xc4\xa0\n", LOUPE_ERROR_FORMAT,
                   (const char *const[]){"merges.txt:2", "two tokens", NULL});
    expect_failure(vocab_text, "\xc4\xa0 t a\n", LOUPE_ERROR_FORMAT,
                   (const char *const[]){"merges.txt:1", "two tokens", NULL});
    expect_failure(vocab_text, "\xc4\xa0  t\n", LOUPE_ERROR_FORMAT,
                   (const char *const[]){"merges.txt:1", "two tokens", NULL});
    expect_failure(vocab_text, "\xc4\xa0 t\n\n\xc4\xa0 a\n", LOUPE_ERROR_FORMAT,
                   (const char *const[]){"merges.txt:2", "blank line", NULL});
    expect_failure(vocab_text, "\xc4\xa0 t\nh e\n\xc4\xa0 t\n", LOUPE_ERROR_FORMAT,
                   (const char *const[]){"merges.txt:3", "repeats", "rank 0", NULL});
    /* A "#version" comment is only allowed as the first line. */
    expect_failure(vocab_text, "\xc4\xa0 t\n#version: 0.2\n", LOUPE_ERROR_FORMAT,
                   (const char *const[]){"merges.txt:2", NULL});
}

static void test_missing_files(const char *vocab_text) {
    loupe_error error;
    loupe_tokenizer *tokenizer = NULL;
    char *missing = malloc(strlen(temp_dir) + 32);
    sprintf(missing, "%s/nowhere", temp_dir);
    CHECK(loupe_tokenizer_open(missing, &tokenizer, &error) == LOUPE_ERROR_IO);
    /* a folder that does not exist is named itself, not as its missing vocab.json */
    CHECK(strstr(error.message, "nowhere: no such folder") != NULL);
    CHECK(tokenizer == NULL);
    const char *vocab_path = write_temp(0, "vocab.json", vocab_text, strlen(vocab_text));
    sprintf(missing, "%s/no-merges.txt", temp_dir);
    CHECK(loupe_tokenizer_open_files(vocab_path, missing, &tokenizer, &error) == LOUPE_ERROR_IO);
    CHECK(strstr(error.message, "no-merges.txt") != NULL);
    CHECK(tokenizer == NULL);
    free(missing);
    CHECK(loupe_tokenizer_open(NULL, &tokenizer, &error) == LOUPE_ERROR_ARGUMENT);
}

/* Encodes text and compares the tokens' bytes with `expected` tokens. */
static void check_tokens(loupe_tokenizer *tokenizer, const char *text,
                         const char *const *expected) {
    loupe_error error;
    int32_t *ids = NULL;
    size_t count = 0;
    CHECK(loupe_tokenizer_encode(tokenizer, text, strlen(text), &ids, &count, &error) == LOUPE_OK);
    size_t expected_count = 0;
    while (expected[expected_count]) expected_count++;
    CHECK_MSG(count == expected_count, "\"%s\": %zu tokens, expected %zu", text, count, expected_count);
    for (size_t i = 0; i < count && i < expected_count; i++) {
        size_t length = 0;
        const char *bytes = loupe_tokenizer_token_bytes(tokenizer, ids[i], &length);
        CHECK_MSG(bytes && length == strlen(expected[i]) && memcmp(bytes, expected[i], length) == 0,
                  "\"%s\": token %zu is \"%.*s\", expected \"%s\"", text, i, (int)length,
                  bytes ? bytes : "", expected[i]);
    }
    loupe_free(ids);
}

/* GPT-2's vocabulary with only four rules, in this order:
 *   rank 0 "b c", rank 1 "a b", rank 2 "a a", rank 3 "aa a".
 * Worked by hand:
 *   "abc":   (b,c) rank 0 beats the leftmost (a,b) rank 1 -> a | bc.
 *   "aaaaa": (a,a) at 0 first -> aa a a a; then (a,a) at 2 -> aa aa a;
 *            then (aa,a) at 2 -> aa | aaa.
 *   "aaa":   aa a -> aaa.
 *   "abab":  ab | ab.
 *   " ab":   no rule touches the space -> " " | ab. */
static void test_merge_order(const char *vocab_text) {
    const char *merges = "#version: 0.2\r\nb c\r\na b\r\na a\r\naa a\r\n\r\n\n";
    const char *vocab_path = write_temp(0, "vocab.json", vocab_text, strlen(vocab_text));
    const char *merges_path = write_temp(1, "merges.txt", merges, strlen(merges));
    loupe_error error;
    loupe_tokenizer *tokenizer = NULL;
    loupe_status status = loupe_tokenizer_open_files(vocab_path, merges_path, &tokenizer, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    if (status != LOUPE_OK) return;
    check_tokens(tokenizer, "abc", (const char *const[]){"a", "bc", NULL});
    check_tokens(tokenizer, "aaaaa", (const char *const[]){"aa", "aaa", NULL});
    check_tokens(tokenizer, "aaa", (const char *const[]){"aaa", NULL});
    check_tokens(tokenizer, "abab", (const char *const[]){"ab", "ab", NULL});
    check_tokens(tokenizer, " ab", (const char *const[]){" ", "ab", NULL});
    check_tokens(tokenizer, "cab", (const char *const[]){"c", "ab", NULL});
    loupe_tokenizer_close(tokenizer);
}

int main(void) {
    temp_dir = test_make_temp_dir();
    REQUIRE(temp_dir != NULL);
    size_t vocab_size = 0;
    char *vocab_text = test_read_file(test_model_path("gpt2-demo/vocab.json"), &vocab_size);
    REQUIRE(vocab_text != NULL);
    test_malformed_vocab();
    test_malformed_merges(vocab_text);
    test_missing_files(vocab_text);
    test_merge_order(vocab_text);
    free(vocab_text);
    test_remove_tree(temp_dir);
    free(temp_dir);
    return test_finish("test_tokenizer_files");
}
