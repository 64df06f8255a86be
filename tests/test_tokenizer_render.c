/*
 * test_tokenizer_render.c - loupe_tokenizer_render against renderings
 * written by hand from its rules. Ids are GPT-2's, looked up in vocab.json;
 * each test first checks the id holds the bytes named in its comment.
 */
#include <stdlib.h>
#include <string.h>

#include "loupe.h"
#include "test_support.h"

#define OPEN_BOX "\xe2\x90\xa3" /* U+2423 */

static void check_render(const loupe_tokenizer *tokenizer, int32_t id, const char *bytes,
                         size_t bytes_length, const char *expected) {
    size_t length = 0;
    const char *token = loupe_tokenizer_token_bytes(tokenizer, id, &length);
    CHECK_MSG(token && length == bytes_length && memcmp(token, bytes, length) == 0,
              "id %d does not hold the bytes the test assumes", (int)id);
    char buffer[128];
    memset(buffer, 'X', sizeof buffer);
    size_t needed = loupe_tokenizer_render(tokenizer, id, buffer, sizeof buffer);
    CHECK_MSG(needed == strlen(expected) && strcmp(buffer, expected) == 0,
              "id %d rendered \"%s\" (%zu), expected \"%s\"", (int)id, buffer, needed, expected);
    CHECK(loupe_tokenizer_render(tokenizer, id, NULL, 0) == strlen(expected));
}

#define RENDER(id, bytes, expected) check_render(tokenizer, id, bytes, sizeof(bytes) - 1, expected)

static void test_gpt2_tokens(const loupe_tokenizer *tokenizer) {
    RENDER(15496, "Hello", "Hello");
    RENDER(995, " world", OPEN_BOX "world");
    RENDER(220, " ", OPEN_BOX);
    RENDER(19945, " caf", OPEN_BOX "caf");
    RENDER(198, "\n", "\\n");
    RENDER(628, "\n\n", "\\n\\n");
    RENDER(197, "\t", "\\t");
    RENDER(201, "\r", "\\r");
    RENDER(188, "\x00", "<0x00>");
    RENDER(215, "\x1b", "<0x1B>");
    RENDER(221, "\x7f", "<0x7F>");
    RENDER(222, "\x80", "<0x80>");
    RENDER(162, "\xe6", "<0xE6>");
    RENDER(126, "\xc2", "<0xC2>");
    RENDER(2634, "\xc3\xa9", "\xc3\xa9");             /* é */
    RENDER(960, "\xe2\x80\x94", "\xe2\x80\x94");      /* em dash */
    RENDER(1849, "\xc2\xa0", "\xc2\xa0");             /* no-break space: printable */
    RENDER(447, "\xe2\x80", "<0xE2><0x80>");          /* first two bytes of a character */
    RENDER(564, " \xe2\x80", OPEN_BOX "<0xE2><0x80>");
    RENDER(50256, "<|endoftext|>", "<|endoftext|>");
}

/* Tokens GPT-2 lacks, added to a copy of its vocabulary (no merges). */
static void test_added_tokens(const char *vocab_text, size_t vocab_length) {
    char *temp_dir = test_make_temp_dir();
    CHECK(temp_dir != NULL);
    if (temp_dir == NULL) return;
    static const char added[] = ", \"\\u00c2\\u0127\": 50257, \"\\u0120\\u0120\": 50258, "
                                "\"a\\u0109b\": 50259, \"\\u0120\\u010a\": 50260}";
    while (vocab_length > 0 && vocab_text[vocab_length - 1] != '}') vocab_length--;
    char *extended = malloc(vocab_length + sizeof added);
    memcpy(extended, vocab_text, vocab_length - 1);
    memcpy(extended + vocab_length - 1, added, sizeof added);
    char vocab_path[4096], merges_path[4096];
    snprintf(vocab_path, sizeof vocab_path, "%s/vocab.json", temp_dir);
    snprintf(merges_path, sizeof merges_path, "%s/merges.txt", temp_dir);
    CHECK(test_write_file(vocab_path, extended, strlen(extended)) == 0);
    CHECK(test_write_file(merges_path, "", 0) == 0);
    free(extended);

    loupe_error error;
    loupe_tokenizer *tokenizer = NULL;
    loupe_status status = loupe_tokenizer_open(temp_dir, &tokenizer, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    if (status == LOUPE_OK) {
        CHECK(loupe_tokenizer_vocab_size(tokenizer) == 50261);
        RENDER(50257, "\xc2\x85", "<0xC2><0x85>"); /* U+0085, a C1 control */
        RENDER(50258, "  ", OPEN_BOX " ");         /* only the leading space */
        RENDER(50259, "a\tb", "a\\tb");
        RENDER(50260, " \n", OPEN_BOX "\\n");
    }
    loupe_tokenizer_close(tokenizer);
    test_remove_tree(temp_dir);
    free(temp_dir);
}

/* Like snprintf, the return value is the full length; unlike it, a short
 * buffer ends at a whole character or escape. */
static void test_truncation(const loupe_tokenizer *tokenizer) {
    char buffer[16];
    memset(buffer, 'X', sizeof buffer);
    CHECK(loupe_tokenizer_render(tokenizer, 995, buffer, 9) == 8);
    CHECK(strcmp(buffer, OPEN_BOX "world") == 0);
    CHECK(loupe_tokenizer_render(tokenizer, 995, buffer, 8) == 8);
    CHECK(strcmp(buffer, OPEN_BOX "worl") == 0);
    CHECK(loupe_tokenizer_render(tokenizer, 995, buffer, 4) == 8);
    CHECK(strcmp(buffer, OPEN_BOX) == 0);
    CHECK(loupe_tokenizer_render(tokenizer, 995, buffer, 3) == 8);
    CHECK(buffer[0] == '\0');
    CHECK(loupe_tokenizer_render(tokenizer, 447, buffer, 7) == 12);
    CHECK(strcmp(buffer, "<0xE2>") == 0);
    CHECK(loupe_tokenizer_render(tokenizer, 447, buffer, 12) == 12);
    CHECK(strcmp(buffer, "<0xE2>") == 0);
    buffer[0] = 'X';
    CHECK(loupe_tokenizer_render(tokenizer, 995, buffer, 1) == 8 && buffer[0] == '\0');
    buffer[0] = 'X';
    CHECK(loupe_tokenizer_render(tokenizer, 995, buffer, 0) == 8 && buffer[0] == 'X');
    /* Ids out of range render as nothing. */
    CHECK(loupe_tokenizer_render(tokenizer, 50257, buffer, sizeof buffer) == 0 && buffer[0] == '\0');
    CHECK(loupe_tokenizer_render(tokenizer, -1, buffer, sizeof buffer) == 0 && buffer[0] == '\0');
    CHECK(loupe_tokenizer_render(NULL, 0, buffer, sizeof buffer) == 0 && buffer[0] == '\0');
}

int main(void) {
    loupe_error error;
    loupe_tokenizer *tokenizer = NULL;
    loupe_status status = loupe_tokenizer_open(test_model_path("gpt2-demo"), &tokenizer, &error);
    if (status != LOUPE_OK) fprintf(stderr, "%s\n", error.message);
    REQUIRE(status == LOUPE_OK);
    test_gpt2_tokens(tokenizer);
    test_truncation(tokenizer);
    size_t vocab_length = 0;
    char *vocab_text = test_read_file(test_model_path("gpt2-demo/vocab.json"), &vocab_length);
    REQUIRE(vocab_text != NULL);
    test_added_tokens(vocab_text, vocab_length);
    free(vocab_text);
    loupe_tokenizer_close(tokenizer);
    return test_finish("test_tokenizer_render");
}
