/*
 * test_tokenizer_json.c - tokenizer.json read and encoded as Hugging Face
 * tokenizers defines it, on small hand-made files whose ids are worked out
 * by hand below (the real tokenizers are compared with the library itself
 * in tests/tokenizer_reference/). Also: the Split behaviours and Metaspace
 * of the pre-tokenizer, the ASCII shortcut of the Unicode normalizers,
 * decoding, rendering, and malformed or unsupported files.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "loupe.h"
#include "test_support.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "io/json.h"

static char *temp_dir;

/* Writes text as tokenizer.json of a fresh folder name under temp_dir and
 * opens it (status in *status_out; NULL unless it opened). */
static loupe_tokenizer *open_json(const char *name, const char *text, loupe_status *status_out, loupe_error *error) {
    char folder[4096], path[4200];
    snprintf(folder, sizeof folder, "%s/%s", temp_dir, name);
    snprintf(path, sizeof path, "%s/tokenizer.json", folder);
    char command[4300];
    snprintf(command, sizeof command, "mkdir -p '%s'", folder);
    if (system(command) != 0 || test_write_file(path, text, strlen(text)) != 0) {
        *status_out = LOUPE_ERROR_IO;
        return NULL;
    }
    loupe_tokenizer *tokenizer = NULL;
    *status_out = loupe_tokenizer_open(folder, &tokenizer, error);
    return tokenizer;
}

/* Encodes text and compares the ids with expected (count). */
static void expect_ids(loupe_tokenizer *tokenizer, const char *text, bool special, const int32_t *expected,
                       size_t count, int line) {
    loupe_encode_params params = loupe_encode_default_params();
    params.match_special = params.add_special = special;
    int32_t *ids = NULL;
    size_t n = 0;
    loupe_error error;
    loupe_status status = loupe_tokenizer_encode_with_params(tokenizer, text, strlen(text), &params, &ids, &n, &error);
    CHECK_MSG(status == LOUPE_OK, "line %d: %s", line, error.message);
    int same = status == LOUPE_OK && n == count && (count == 0 || memcmp(ids, expected, count * sizeof *ids) == 0);
    CHECK_MSG(same, "line %d: \"%s\" gave %zu ids (first %d)", line, text, n, n ? (int)ids[0] : -1);
    loupe_free(ids);
}
#define EXPECT_IDS(tokenizer, text, special, ...)                                                      \
    do {                                                                                               \
        const int32_t expected_[] = {__VA_ARGS__};                                                     \
        expect_ids(tokenizer, text, special, expected_, sizeof expected_ / sizeof expected_[0], __LINE__); \
    } while (0)

/* ------------------------------------------------------------------------
 * A SentencePiece-style tokenizer (the shape of Llama 2's)
 * ---------------------------------------------------------------------- */

static const char SENTENCEPIECE_JSON[] =
    "{\"added_tokens\": ["
    " {\"id\": 0, \"content\": \"<unk>\", \"special\": true, \"normalized\": false},"
    " {\"id\": 1, \"content\": \"<s>\", \"special\": true, \"normalized\": false},"
    " {\"id\": 2, \"content\": \"</s>\", \"special\": true, \"normalized\": false}],"
    "\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": ["
    " {\"type\": \"Prepend\", \"prepend\": \"\\u2581\"},"
    " {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\\u2581\"}]},"
    "\"pre_tokenizer\": null,"
    "\"post_processor\": {\"type\": \"TemplateProcessing\","
    " \"single\": [{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}],"
    " \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [1], \"tokens\": [\"<s>\"]}}},"
    "\"decoder\": {\"type\": \"Sequence\", \"decoders\": ["
    " {\"type\": \"Replace\", \"pattern\": {\"String\": \"\\u2581\"}, \"content\": \" \"},"
    " {\"type\": \"ByteFallback\"}, {\"type\": \"Fuse\"},"
    " {\"type\": \"Strip\", \"content\": \" \", \"start\": 1, \"stop\": 0}]},"
    "\"model\": {\"type\": \"BPE\", \"dropout\": null, \"unk_token\": \"<unk>\", \"fuse_unk\": true,"
    " \"byte_fallback\": true,"
    " \"vocab\": {\"<unk>\": 0, \"<s>\": 1, \"</s>\": 2, \"<0xC3>\": 3, \"<0xA9>\": 4, \"\\u2581\": 5, \"a\": 6,"
    "  \"b\": 7, \"\\u2581a\": 8, \"ab\": 9, \"\\u2581ab\": 10, \"c\": 11},"
    " \"merges\": [\"\\u2581 a\", \"a b\", [\"\\u2581a\", \"b\"]]}}";

static void test_sentencepiece(void) {
    loupe_error error;
    loupe_status status;
    loupe_tokenizer *tokenizer = open_json("sentencepiece", SENTENCEPIECE_JSON, &status, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    if (tokenizer == NULL) return;
    CHECK(loupe_tokenizer_vocab_size(tokenizer) == 12);
    CHECK(loupe_tokenizer_bos_id(tokenizer) == 1);
    /* "▁ab▁ab": (▁,a) rank 0 at 0 and 3 first, then (▁a,b) rank 2; (a,b)
     * rank 1 went stale with the first merges. BOS from the template. */
    EXPECT_IDS(tokenizer, "ab ab", true, 1, 10, 10);
    /* é is not in the vocabulary: its UTF-8 bytes C3 A9 fall back. */
    EXPECT_IDS(tokenizer, "\xC3\xA9", true, 1, 5, 3, 4);
    /* x and y have neither a token nor byte tokens: unknown, each run fused. */
    EXPECT_IDS(tokenizer, "xy", true, 1, 5, 0);
    EXPECT_IDS(tokenizer, "x\xC3\xA9y", true, 1, 5, 0, 3, 4, 0);
    /* <s> in the text is the special token; the rest is its own segment. */
    EXPECT_IDS(tokenizer, "<s>a", true, 1, 1, 8);
    /* --no-special: no BOS, and "<s>" is text: ▁, then < s > unknown and fused, then a. */
    EXPECT_IDS(tokenizer, "<s>a", false, 5, 0, 6);
    /* Invalid UTF-8: the byte FF becomes U+FFFD (EF BF BD), which has no
     * byte tokens here, so one fused unknown with nothing else beside. */
    EXPECT_IDS(tokenizer, "a\xFF", true, 1, 8, 0);
    /* The empty text: the template's BOS alone, as the library gives. */
    EXPECT_IDS(tokenizer, "", true, 1);

    int32_t decode_ids[] = {10, 3, 4, 1, 8};
    char *text = NULL;
    size_t length = 0;
    CHECK(loupe_tokenizer_decode(tokenizer, decode_ids, 5, &text, &length, &error) == LOUPE_OK);
    /* " ab" + C3 A9 + "<s>" + " a", then Strip takes the leading space. */
    CHECK(text != NULL && length == 9 && memcmp(text, "ab\xC3\xA9<s> a", 9) == 0);
    loupe_free(text);

    char rendered[64];
    loupe_tokenizer_render(tokenizer, 3, rendered, sizeof rendered);
    CHECK(strcmp(rendered, "<0xC3>") == 0);
    loupe_tokenizer_render(tokenizer, 10, rendered, sizeof rendered);
    CHECK(strcmp(rendered, "\xE2\x90\xA3" "ab") == 0);
    loupe_tokenizer_render(tokenizer, 1, rendered, sizeof rendered);
    CHECK(strcmp(rendered, "<s>") == 0);
    loupe_tokenizer_close(tokenizer);
}

/* Threads sharing one tokenizer: each encodes the hand-worked texts again
 * and again; every result must still be the worked-out one. */
typedef struct shared_run {
    const loupe_tokenizer *tokenizer;
    int mismatches;
} shared_run;

static void *encode_repeatedly(void *argument) {
    shared_run *run = argument;
    static const int32_t expected_ab[] = {1, 10, 10}, expected_xey[] = {1, 5, 0, 3, 4, 0};
    for (int i = 0; i < 300; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        loupe_error error;
        const char *text = i % 2 ? "ab ab" : "x\xC3\xA9y";
        const int32_t *expected = i % 2 ? expected_ab : expected_xey;
        size_t count = i % 2 ? 3 : 6;
        if (loupe_tokenizer_encode_with_params(run->tokenizer, text, strlen(text), NULL, &ids, &n, &error) != LOUPE_OK ||
            n != count || memcmp(ids, expected, count * sizeof *ids) != 0)
            run->mismatches++;
        loupe_free(ids);
    }
    return NULL;
}

static void test_shared_by_threads(void) {
    loupe_error error;
    loupe_status status;
    loupe_tokenizer *tokenizer = open_json("sentencepiece_threads", SENTENCEPIECE_JSON, &status, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    if (tokenizer == NULL) return;
    enum { THREADS = 4 };
    pthread_t threads[THREADS];
    shared_run runs[THREADS];
    int started = 0;
    for (int t = 0; t < THREADS; t++) {
        runs[t] = (shared_run){tokenizer, 0};
        if (pthread_create(&threads[t], NULL, encode_repeatedly, &runs[t]) == 0) started++;
    }
    CHECK(started == THREADS);
    for (int t = 0; t < started; t++) {
        pthread_join(threads[t], NULL);
        CHECK_MSG(runs[t].mismatches == 0, "thread %d: %d wrong encodings", t, runs[t].mismatches);
    }
    loupe_tokenizer_close(tokenizer);
}

/* ------------------------------------------------------------------------
 * A byte-level tokenizer with a Split pattern (the shape of Llama 3's)
 * ---------------------------------------------------------------------- */

static const char BYTE_LEVEL_JSON[] =
    "{\"added_tokens\": [{\"id\": 8, \"content\": \"<|end|>\", \"special\": true}],"
    "\"normalizer\": null,"
    "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
    " {\"type\": \"Split\", \"pattern\": {\"Regex\": \" ?[a-z]+|\\\\s+\"}, \"behavior\": \"Isolated\", \"invert\": false},"
    " {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]},"
    "\"post_processor\": {\"type\": \"ByteLevel\"},"
    "\"decoder\": {\"type\": \"ByteLevel\"},"
    "\"model\": {\"type\": \"BPE\", \"ignore_merges\": true,"
    " \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2, \"\\u0120\": 3, \"ab\": 4, \"\\u0120a\": 5, \"\\u0120ab\": 6, \"abc\": 7},"
    " \"merges\": [\"a b\", \"\\u0120 a\", \"\\u0120a b\", \"ab c\"]}}";

static void test_byte_level(void) {
    loupe_error error;
    loupe_status status;
    loupe_tokenizer *tokenizer = open_json("bytelevel", BYTE_LEVEL_JSON, &status, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    if (tokenizer == NULL) return;
    /* Split gives "abc", " ab": each is in the vocabulary (ignore_merges). */
    EXPECT_IDS(tokenizer, "abc ab", true, 7, 6);
    /* "abab" is not: (a,b) rank 0 twice, then no rule for (ab,ab). */
    EXPECT_IDS(tokenizer, "abab", true, 4, 4);
    /* The special token between words; no template, so nothing added. */
    EXPECT_IDS(tokenizer, "a<|end|> b", true, 0, 8, 3, 1);
    /* Without special tokens: '<', '|', '>' and 'e','n','d' have no token
     * of their own here and are dropped, as the library drops them. */
    EXPECT_IDS(tokenizer, "a<|end|>", false, 0);
    int32_t decode_ids[] = {6, 8, 2};
    char *text = NULL;
    size_t length = 0;
    CHECK(loupe_tokenizer_decode(tokenizer, decode_ids, 3, &text, &length, &error) == LOUPE_OK);
    CHECK(text != NULL && strcmp(text, " ab<|end|>c") == 0);
    loupe_free(text);
    loupe_tokenizer_close(tokenizer);
}

/* ------------------------------------------------------------------------
 * Pre-tokenizer behaviours (Hugging Face's NormalizedString::split)
 * ---------------------------------------------------------------------- */

/* Splits text with the pre_tokenizer JSON and compares the pieces, given as
 * one string joined by '|'. */
static void expect_pieces(const char *json_text, const char *text, bool at_start, const char *expected, int line) {
    cJSON *json = NULL;
    loupe_error error;
    pre_tokenizer pre = {0};
    int ok = json_parse(json_text, strlen(json_text), "test", &json, &error) == LOUPE_OK &&
             pre_tokenizer_parse(json, "test", &pre, &error) == LOUPE_OK;
    CHECK_MSG(ok, "line %d: %s", line, error.message);
    pre_tokenizer_scratch scratch = {0};
    piece_list pieces = {0};
    if (ok) ok = pre_tokenizer_apply(&pre, &scratch, text, strlen(text), at_start, &pieces, &error) == LOUPE_OK;
    char joined[256] = "";
    size_t at = 0;
    for (size_t i = 0; ok && i < pieces.count && at + 40 < sizeof joined; i++) {
        size_t start = i ? pieces.ends[i - 1] : 0;
        if (i) joined[at++] = '|';
        memcpy(joined + at, pieces.text.bytes + start, pieces.ends[i] - start);
        at += pieces.ends[i] - start;
        joined[at] = '\0';
    }
    CHECK_MSG(ok && strcmp(joined, expected) == 0, "line %d: got \"%s\", expected \"%s\"", line, joined, expected);
    piece_list_free(&pieces);
    pre_tokenizer_scratch_free(&scratch);
    pre_tokenizer_free(&pre);
    cJSON_Delete(json);
}

static void test_split_behaviors(void) {
    /* "a-b--c": the matches are the dashes. */
    expect_pieces("{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"Removed\"}", "a-b--c", true,
                  "a|b|c", __LINE__);
    expect_pieces("{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"Isolated\"}", "a-b--c", true,
                  "a|-|b|-|-|c", __LINE__);
    expect_pieces("{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"MergedWithPrevious\"}", "a-b--c",
                  true, "a-|b-|-|c", __LINE__);
    expect_pieces("{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"MergedWithNext\"}", "a-b--c",
                  true, "a|-b|-|-c", __LINE__);
    expect_pieces("{\"type\": \"Split\", \"pattern\": {\"String\": \"-\"}, \"behavior\": \"Contiguous\"}", "a-b--c", true,
                  "a|-|b|--|c", __LINE__);
    /* invert: the letters are the matches, so Removed keeps the dashes. */
    expect_pieces("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"[a-z]\"}, \"behavior\": \"Removed\", \"invert\": true}",
                  "a-b--c", true, "a|b|c", __LINE__);
    expect_pieces("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"[a-z]\"}, \"behavior\": \"Removed\"}", "a-b--c", true,
                  "-|--", __LINE__);
    /* \s is White_Space: U+180E is not, U+00A0 is. */
    expect_pieces("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\s\"}, \"behavior\": \"Removed\"}",
                  "a\xE1\xA0\x8E" "b\xC2\xA0" "c", true, "a\xE1\xA0\x8E" "b|c", __LINE__);
    /* Metaspace: spaces become ▁, a ▁ before the first word, cut before each ▁. */
    expect_pieces("{\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", \"prepend_scheme\": \"always\"}",
                  "hi  there", true, "\xE2\x96\x81hi|\xE2\x96\x81|\xE2\x96\x81there", __LINE__);
    expect_pieces("{\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", \"prepend_scheme\": \"first\"}", "hi there",
                  false, "hi|\xE2\x96\x81there", __LINE__);
    expect_pieces("{\"type\": \"Metaspace\", \"replacement\": \"\\u2581\", \"prepend_scheme\": \"first\", \"split\": false}",
                  "hi there", true, "\xE2\x96\x81hi\xE2\x96\x81there", __LINE__);
    /* ByteLevel with GPT-2's pattern and a prefix space. */
    expect_pieces("{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"use_regex\": true}", "Hi, it's 42", true,
                  " Hi|,| it|'s| 42", __LINE__);
}

/* ------------------------------------------------------------------------
 * Normalizers: the ASCII shortcut keeps the forms exact
 * ---------------------------------------------------------------------- */

static void expect_normalized(const char *type, const char *text, const char *expected, int line) {
    char json_text[128];
    snprintf(json_text, sizeof json_text, "{\"type\": \"%s\"}", type);
    cJSON *json = NULL;
    loupe_error error;
    normalizer chain = {0};
    byte_buffer out = {0}, spare = {0};
    split_regex_scratch scratch = {0};
    int ok = json_parse(json_text, strlen(json_text), "test", &json, &error) == LOUPE_OK &&
             normalizer_parse(json, "test", &chain, &error) == LOUPE_OK &&
             normalizer_apply(&chain, &scratch, text, strlen(text), &out, &spare, &error) == LOUPE_OK;
    CHECK_MSG(ok && out.length == strlen(expected) && memcmp(out.bytes, expected, out.length) == 0,
              "line %d: %s of \"%s\"", line, type, text);
    byte_buffer_free(&out);
    byte_buffer_free(&spare);
    split_regex_scratch_free(&scratch);
    normalizer_free(&chain);
    cJSON_Delete(json);
}

static void test_normalizers(void) {
    expect_normalized("NFC", "cafe\xCC\x81 ok", "caf\xC3\xA9 ok", __LINE__);     /* e + U+0301 composes */
    expect_normalized("NFC", "e\xCC\x81", "\xC3\xA9", __LINE__);                 /* at the very start */
    expect_normalized("NFC", "plain ascii", "plain ascii", __LINE__);
    expect_normalized("NFD", "x\xC3\xA9y", "xe\xCC\x81y", __LINE__);
    expect_normalized("NFKC", "\xEF\xAC\x81x", "fix", __LINE__);                 /* U+FB01 ligature */
    /* Canonical order of two marks after an ASCII letter: U+0301 (230) after U+0323 (220). */
    expect_normalized("NFD", "aa\xCC\x81\xCC\xA3" "b", "aa\xCC\xA3\xCC\x81" "b", __LINE__);
}

/* ------------------------------------------------------------------------
 * Bad files: one line naming the file and the field
 * ---------------------------------------------------------------------- */

static void expect_failure(const char *name, const char *text, loupe_status expected, const char *needle) {
    loupe_error error;
    loupe_status status;
    loupe_tokenizer *tokenizer = open_json(name, text, &status, &error);
    CHECK_MSG(tokenizer == NULL && status == expected, "%s: status %d", name, (int)status);
    CHECK_MSG(tokenizer != NULL || (strstr(error.message, needle) && strstr(error.message, "tokenizer.json")),
              "%s: message \"%s\" lacks \"%s\"", name, error.message, needle);
    loupe_tokenizer_close(tokenizer);
}

static void test_bad_files(void) {
    expect_failure("bad_json", "{\"model\": ", LOUPE_ERROR_FORMAT, "tokenizer.json");
    expect_failure("no_model", "{}", LOUPE_ERROR_FORMAT, "\"model\"");
    expect_failure("unigram", "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", LOUPE_ERROR_UNSUPPORTED,
                   "model type \"Unigram\"");
    expect_failure("bad_merge", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a a\"]}}",
                   LOUPE_ERROR_FORMAT, "model.merges[0]");
    expect_failure("bad_merge_form", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"aa\"]}}",
                   LOUPE_ERROR_FORMAT, "model.merges[0]");
    expect_failure("negative_id", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}}",
                   LOUPE_ERROR_FORMAT, "model.vocab \"a\"");
    expect_failure("shared_id", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}",
                   LOUPE_ERROR_FORMAT, "share id 0");
    expect_failure("bad_regex",
                   "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"},"
                   "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                   LOUPE_ERROR_FORMAT, "does not compile");
    expect_failure("whitespace_pre",
                   "{\"pre_tokenizer\": {\"type\": \"Whitespace\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0},"
                   " \"merges\": []}}", LOUPE_ERROR_UNSUPPORTED, "pre_tokenizer type \"Whitespace\"");
    expect_failure("lowercase",
                   "{\"normalizer\": {\"type\": \"Lowercase\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0},"
                   " \"merges\": []}}", LOUPE_ERROR_UNSUPPORTED, "normalizer type \"Lowercase\"");
    expect_failure("unk_missing", "{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"vocab\": {\"a\": 0},"
                   " \"merges\": []}}", LOUPE_ERROR_FORMAT, "model.unk_token");
    expect_failure("template_id",
                   "{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"x\"}},"
                   " {\"Sequence\": {\"id\": \"A\"}}], \"special_tokens\": {\"x\": {\"ids\": [5]}}},"
                   "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}",
                   LOUPE_ERROR_FORMAT, "post_processor TemplateProcessing");
    expect_failure("dropout", "{\"model\": {\"type\": \"BPE\", \"dropout\": 0.1, \"vocab\": {\"a\": 0}, \"merges\": []}}",
                   LOUPE_ERROR_UNSUPPORTED, "dropout");
}

int main(void) {
    temp_dir = test_make_temp_dir();
    if (temp_dir == NULL) return 1;
    test_sentencepiece();
    test_shared_by_threads();
    test_byte_level();
    test_split_behaviors();
    test_normalizers();
    test_bad_files();
    test_remove_tree(temp_dir);
    free(temp_dir);
    return test_finish("test_tokenizer_json");
}
