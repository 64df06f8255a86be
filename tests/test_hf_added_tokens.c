/*
 * test_hf_added_tokens.c - the added and special tokens of a GPT-2 folder,
 * by the rules of transformers' loading (hf_added_tokens.h), on hand-written
 * tokenizer_config.json / special_tokens_map.json / added_tokens.json over
 * the GPT-2 vocab.json ("<|endoftext|>" = 50256, 50257 tokens), and the
 * errors of malformed files.
 */
#include <string.h>

#include "loupe.h"
#include "test_support.h"
#include "tokenizer/hf_added_tokens.h"

static bpe_vocab vocab;

/* Parses the three texts (NULL: absent) into *out; returns the status. */
static loupe_status parse(const char *config, const char *special_map, const char *added, added_vocabulary **out,
                          int32_t *bos, loupe_error *error) {
    hf_tokenizer_files files = {
        .config = {"tokenizer_config.json", config, config ? strlen(config) : 0},
        .special_map = {"special_tokens_map.json", special_map, special_map ? strlen(special_map) : 0},
        .added = {"added_tokens.json", added, added ? strlen(added) : 0},
    };
    return hf_added_tokens_parse(&files, &vocab, out, bos, error);
}

/* Checks the token of id: its content and whether it is special. */
static void check_token(const added_vocabulary *tokens, int32_t id, const char *content, bool special) {
    const added_token *token = added_vocabulary_find_id(tokens, id);
    CHECK_MSG(token != NULL && token->length == strlen(content) && memcmp(token->content, content, token->length) == 0 &&
                  token->special == special,
              "id %d: expected '%s' (special %d)", id, content, special);
}

static void test_rules(void) {
    added_vocabulary *tokens = NULL;
    int32_t bos = 0;
    loupe_error error;

    /* no files: GPT2TokenizerFast's defaults, one token for bos/eos/unk */
    CHECK(parse(NULL, NULL, NULL, &tokens, &bos, &error) == LOUPE_OK);
    CHECK(bos == 50256 && added_vocabulary_count(tokens) == 1);
    check_token(tokens, 50256, "<|endoftext|>", true);
    added_vocabulary_free(tokens);

    /* added_tokens_decoder with flags; bos_token names one of them */
    CHECK(parse("{\"added_tokens_decoder\": {\"50256\": {\"content\": \"<|endoftext|>\", \"special\": true},"
                " \"50257\": {\"content\": \"<pad>\", \"lstrip\": true, \"normalized\": false}},"
                " \"bos_token\": \"<pad>\", \"eos_token\": null, \"unk_token\": null}",
                NULL, "{\"<ignored>\": 50258}", &tokens, &bos, &error) == LOUPE_OK);
    CHECK(bos == 50257 && added_vocabulary_count(tokens) == 2);
    check_token(tokens, 50256, "<|endoftext|>", true);
    check_token(tokens, 50257, "<pad>", true); /* special because bos_token names it */
    const added_token *pad = added_vocabulary_find_id(tokens, 50257);
    CHECK(pad != NULL && pad->lstrip && !pad->rstrip && !pad->normalized);
    CHECK(added_vocabulary_find_id(tokens, 50258) == NULL); /* added_tokens.json is legacy only */
    added_vocabulary_free(tokens);

    /* bos_token null: no BOS, eos and unk still default */
    CHECK(parse("{\"bos_token\": null}", NULL, NULL, &tokens, &bos, &error) == LOUPE_OK);
    CHECK(bos == -1 && added_vocabulary_count(tokens) == 1);
    added_vocabulary_free(tokens);

    /* legacy: added_tokens.json's tokens are plain added tokens, and
     * special_tokens_map.json's entries replace the config's */
    CHECK(parse("{\"bos_token\": \"<|endoftext|>\"}", "{\"bos_token\": {\"content\": \"<new>\", \"rstrip\": true}}",
                "{\"<new>\": 50257, \"<plain>\": 50258}", &tokens, &bos, &error) == LOUPE_OK);
    CHECK(bos == 50257 && added_vocabulary_count(tokens) == 3);
    check_token(tokens, 50257, "<new>", true);
    check_token(tokens, 50258, "<plain>", false);
    check_token(tokens, 50256, "<|endoftext|>", true);
    const added_token *plain = added_vocabulary_find_id(tokens, 50258);
    CHECK(plain != NULL && plain->normalized && !plain->lstrip && !plain->rstrip);
    added_vocabulary_free(tokens);

    /* a named special token absent from vocab.json takes the next id */
    CHECK(parse("{\"pad_token\": \"<pad>\", \"additional_special_tokens\": [\"<a>\", {\"content\": \"<b>\"}]}",
                NULL, NULL, &tokens, &bos, &error) == LOUPE_OK);
    check_token(tokens, 50257, "<pad>", true);
    check_token(tokens, 50258, "<a>", true);
    check_token(tokens, 50259, "<b>", true);
    added_vocabulary_free(tokens);
}

/* Checks that the texts fail with status and a message holding `named`. */
static void check_error(const char *config, const char *special_map, const char *added, loupe_status status,
                        const char *named) {
    added_vocabulary *tokens = NULL;
    int32_t bos = 0;
    loupe_error error;
    loupe_status got = parse(config, special_map, added, &tokens, &bos, &error);
    CHECK_MSG(got == status && tokens == NULL && bos == -1 && strstr(error.message, named) != NULL,
              "got %d '%s', expected %d naming '%s'", got, error.message, status, named);
}

static void test_errors(void) {
    check_error("[1]", NULL, NULL, LOUPE_ERROR_FORMAT, "tokenizer_config.json: expected a JSON object");
    check_error("{\"bos_token\": ", NULL, NULL, LOUPE_ERROR_FORMAT, "tokenizer_config.json");
    check_error("{\"added_tokens_decoder\": []}", NULL, NULL, LOUPE_ERROR_FORMAT, "added_tokens_decoder");
    check_error("{\"added_tokens_decoder\": {\"x\": {\"content\": \"a\"}}}", NULL, NULL, LOUPE_ERROR_FORMAT,
                "added_tokens_decoder[\"x\"]: the key is not a token id");
    check_error("{\"added_tokens_decoder\": {\"3\": {\"content\": 5}}}", NULL, NULL, LOUPE_ERROR_FORMAT,
                "added_tokens_decoder[\"3\"].content: expected a string");
    check_error("{\"added_tokens_decoder\": {\"3\": {\"content\": \"a\", \"lstrip\": 1}}}", NULL, NULL,
                LOUPE_ERROR_FORMAT, "added_tokens_decoder[\"3\"].lstrip: expected true or false");
    check_error("{\"bos_token\": 7}", NULL, NULL, LOUPE_ERROR_FORMAT, "bos_token: expected a string or an object");
    check_error(NULL, "{\"additional_special_tokens\": \"<a>\"}", NULL, LOUPE_ERROR_FORMAT,
                "special_tokens_map.json: additional_special_tokens: expected a list");
    check_error(NULL, NULL, "{\"<a>\": -1}", LOUPE_ERROR_FORMAT, "added_tokens.json: \"<a>\": expected a token id");
    check_error(NULL, NULL, "{\"<a>\": 1.5}", LOUPE_ERROR_FORMAT, "added_tokens.json");
}

int main(void) {
    loupe_error error;
    REQUIRE(bpe_vocab_load(test_model_path("gpt2-demo/vocab.json"), &vocab, &error) == LOUPE_OK);
    REQUIRE(vocab.n_tokens == 50257);
    test_rules();
    test_errors();
    bpe_vocab_free(&vocab);
    return test_finish("test_hf_added_tokens");
}
