/*
 * test_tokenizer.c - GPT-2 byte-level BPE encoding and decoding against
 * independent references:
 *   - gpt2_tokenizer_cases.json, made by Hugging Face's tokenizer;
 *   - tokenizer_extra_cases.json, made by tests/data/tokenizer_extra_cases.py
 *     with the `regex` module running GPT-2's pattern and the classic GPT-2
 *     BPE loop (pre-tokenizer pieces, ids, each byte's own token id);
 *   - properties: decode(encode(x)) == x on random bytes, ids in range, and
 *     a long word costing no more per byte than a short one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "loupe.h"
#include "test_support.h"
#include "tokenizer/pretokenizer.h"

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static cJSON *load_json(const char *path) {
    size_t size = 0;
    char *text = test_read_file(path, &size);
    if (text == NULL) return NULL;
    cJSON *root = cJSON_ParseWithLength(text, size);
    free(text);
    return root;
}

/* Decodes a hex string into a new buffer (caller frees); *length its size. */
static char *from_hex(const char *hex, size_t *length) {
    size_t n = strlen(hex) / 2;
    char *bytes = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned value = 0;
        sscanf(hex + 2 * i, "%2x", &value);
        bytes[i] = (char)value;
    }
    bytes[n] = '\0';
    *length = n;
    return bytes;
}

static void print_escaped(const char *bytes, size_t length) {
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if (c >= 0x20 && c < 0x7F) fputc(c, stderr);
        else fprintf(stderr, "\\x%02x", c);
    }
}

/* Encodes text and checks the ids against expected (count) and that they
 * decode back to the text. */
static void check_encoding(loupe_tokenizer *tokenizer, const char *text, size_t length,
                           const int32_t *expected, size_t expected_count) {
    loupe_error error;
    int32_t *ids = NULL;
    size_t count = 0;
    loupe_status status = loupe_tokenizer_encode(tokenizer, text, length, &ids, &count, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    if (status != LOUPE_OK) return;
    int same = count == expected_count && (count == 0 || memcmp(ids, expected, count * sizeof *ids) == 0);
    CHECK(same);
    if (!same) {
        fprintf(stderr, "  text \"");
        print_escaped(text, length > 200 ? 200 : length);
        fprintf(stderr, "\"\n  got     ");
        for (size_t i = 0; i < count && i < 40; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n  expected");
        for (size_t i = 0; i < expected_count && i < 40; i++) fprintf(stderr, " %d", expected[i]);
        fprintf(stderr, "\n");
    }
    char *decoded = NULL;
    size_t decoded_length = 0;
    status = loupe_tokenizer_decode(tokenizer, ids, count, &decoded, &decoded_length, &error);
    CHECK_MSG(status == LOUPE_OK, "%s", error.message);
    CHECK(decoded_length == length && memcmp(decoded, text, length) == 0);
    CHECK(decoded != NULL && decoded[decoded_length] == '\0');
    loupe_free(decoded);
    loupe_free(ids);
}

/* Reads a JSON array of integers into a new array (caller frees). */
static int32_t *ids_from_json(const cJSON *array, size_t *count) {
    *count = (size_t)cJSON_GetArraySize(array);
    int32_t *ids = malloc((*count + 1) * sizeof *ids);
    size_t i = 0;
    for (const cJSON *item = array->child; item; item = item->next) ids[i++] = (int32_t)item->valueint;
    return ids;
}

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

static void test_hugging_face_cases(loupe_tokenizer *tokenizer) {
    cJSON *root = load_json(test_data_path("gpt2_tokenizer_cases.json"));
    CHECK(root != NULL);
    if (root == NULL) return;
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    CHECK(cJSON_GetArraySize(cases) >= 17);
    for (const cJSON *item = cases ? cases->child : NULL; item; item = item->next) {
        const char *text = cJSON_GetObjectItemCaseSensitive(item, "text")->valuestring;
        size_t count = 0;
        int32_t *expected = ids_from_json(cJSON_GetObjectItemCaseSensitive(item, "ids"), &count);
        check_encoding(tokenizer, text, strlen(text), expected, count);
        free(expected);
    }
    cJSON_Delete(root);
}

static void test_pretokenizer_pieces(const cJSON *cases) {
    int n_cases = 0;
    for (const cJSON *item = cases ? cases->child : NULL; item; item = item->next, n_cases++) {
        size_t length = 0;
        char *text = from_hex(cJSON_GetObjectItemCaseSensitive(item, "text_hex")->valuestring, &length);
        const cJSON *pieces = cJSON_GetObjectItemCaseSensitive(item, "pieces_hex");
        pretokenizer splitter;
        pretokenizer_init(&splitter, text, length);
        size_t start = 0, piece_length = 0, expected_end = 0;
        for (const cJSON *piece = pieces->child; piece; piece = piece->next) {
            size_t expected_length = 0;
            char *expected = from_hex(piece->valuestring, &expected_length);
            int found = pretokenizer_next(&splitter, &start, &piece_length);
            int same = found && start == expected_end && piece_length == expected_length &&
                       memcmp(text + start, expected, expected_length) == 0;
            CHECK(same);
            if (!same) {
                fprintf(stderr, "  in \"");
                print_escaped(text, length);
                fprintf(stderr, "\" expected piece \"");
                print_escaped(expected, expected_length);
                fprintf(stderr, "\" got \"");
                if (found) print_escaped(text + start, piece_length);
                fprintf(stderr, "\"\n");
            }
            expected_end += expected_length;
            free(expected);
            if (!same) break;
        }
        CHECK(expected_end == length);
        CHECK(!pretokenizer_next(&splitter, &start, &piece_length));
        free(text);
    }
    CHECK(n_cases >= 20);
}

static void test_extra_encodings(loupe_tokenizer *tokenizer, const cJSON *cases) {
    int n_cases = 0, saw_long_word = 0;
    for (const cJSON *item = cases ? cases->child : NULL; item; item = item->next, n_cases++) {
        size_t length = 0, count = 0;
        char *text = from_hex(cJSON_GetObjectItemCaseSensitive(item, "text_hex")->valuestring, &length);
        int32_t *expected = ids_from_json(cJSON_GetObjectItemCaseSensitive(item, "ids"), &count);
        if (length >= 10240) saw_long_word = 1;
        check_encoding(tokenizer, text, length, expected, count);
        free(expected);
        free(text);
    }
    CHECK(n_cases >= 25);
    CHECK(saw_long_word);
}

/* Each byte alone is one piece of one byte: its id is its own token's. */
static void test_single_bytes(loupe_tokenizer *tokenizer, const cJSON *single_bytes) {
    CHECK(cJSON_GetArraySize(single_bytes) == 256);
    int byte = 0;
    for (const cJSON *item = single_bytes ? single_bytes->child : NULL; item; item = item->next, byte++) {
        char text = (char)byte;
        int32_t expected = (int32_t)item->valueint;
        check_encoding(tokenizer, &text, 1, &expected, 1);
        size_t length = 0;
        const char *bytes = loupe_tokenizer_token_bytes(tokenizer, expected, &length);
        CHECK(bytes != NULL && length == 1 && (uint8_t)bytes[0] == byte);
    }
}

/* A small deterministic generator, so the test is the same on every run. */
static uint64_t next_random(uint64_t *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return *state >> 33;
}

/* Encodes, checks every id is in range, decodes and compares. */
static void check_round_trip(loupe_tokenizer *tokenizer, const char *text, size_t length) {
    loupe_error error;
    int32_t *ids = NULL;
    size_t count = 0;
    CHECK(loupe_tokenizer_encode(tokenizer, text, length, &ids, &count, &error) == LOUPE_OK);
    int vocab_size = loupe_tokenizer_vocab_size(tokenizer);
    int in_range = 1;
    for (size_t i = 0; i < count; i++) in_range &= ids[i] >= 0 && ids[i] < vocab_size;
    CHECK(in_range);
    CHECK(count <= length);
    char *decoded = NULL;
    size_t decoded_length = 0;
    CHECK(loupe_tokenizer_decode(tokenizer, ids, count, &decoded, &decoded_length, &error) == LOUPE_OK);
    int same = decoded_length == length && memcmp(decoded, text, length) == 0;
    CHECK(same);
    if (!same) {
        fprintf(stderr, "  round trip failed on \"");
        print_escaped(text, length);
        fprintf(stderr, "\"\n");
    }
    loupe_free(decoded);
    loupe_free(ids);
}

static void test_random_round_trips(loupe_tokenizer *tokenizer) {
    uint64_t state = 12345;
    char text[512];
    /* Uniform random bytes: mostly invalid UTF-8. */
    for (int round = 0; round < 300; round++) {
        size_t length = next_random(&state) % sizeof text;
        for (size_t i = 0; i < length; i++) text[i] = (char)next_random(&state);
        check_round_trip(tokenizer, text, length);
    }
    /* Random draws from fragments that stress the pre-tokenizer. */
    static const char *const fragments[] = {
        " ", "  ", "\n", "\t", "\r\n", "'s", "'S", "'ll", "'", "a", "Zebra", "7", "42", "\xc2\xa0",
        "\xe3\x80\x80", "\xe6\x97\xa5", "\xf0\x9f\xa4\x96", "\xcc\x81", "\xff", "\x80", "\xe6\x97",
        "!", "...", "\x00", "\x1b", "\xd9\xa1", "\xe2\x80\x94",
    };
    size_t n_fragments = sizeof fragments / sizeof fragments[0];
    for (int round = 0; round < 300; round++) {
        size_t length = 0;
        size_t pieces = next_random(&state) % 40;
        for (size_t p = 0; p < pieces; p++) {
            const char *fragment = fragments[next_random(&state) % n_fragments];
            size_t fragment_length = fragment[0] == '\0' ? 1 : strlen(fragment);
            if (length + fragment_length > sizeof text) break;
            memcpy(text + length, fragment, fragment_length);
            length += fragment_length;
        }
        check_round_trip(tokenizer, text, length);
    }
}

static double seconds_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* A 1 MB word must not take quadratic time: an O(n^2) merge loop needs
 * minutes here, the heap a fraction of a second even under sanitizers. */
static void test_long_word_is_not_quadratic(loupe_tokenizer *tokenizer) {
    size_t length = (size_t)1 << 20;
    char *word = malloc(length);
    uint64_t state = 99;
    for (size_t i = 0; i < length; i++) word[i] = (char)('a' + next_random(&state) % 26);
    double start = seconds_now();
    check_round_trip(tokenizer, word, length);
    double elapsed = seconds_now() - start;
    CHECK_MSG(elapsed < 20.0, "a 1 MB word took %.1f s", elapsed);
    free(word);
}

/* The same text encoded twice (the second time from the piece cache) and in
 * a fresh tokenizer gives the same ids. */
static void test_cache_is_transparent(loupe_tokenizer *tokenizer) {
    const char *text = "the cat and the hat and the bat, the cat again";
    loupe_error error;
    int32_t *first = NULL, *second = NULL;
    size_t first_count = 0, second_count = 0;
    CHECK(loupe_tokenizer_encode(tokenizer, text, strlen(text), &first, &first_count, &error) == LOUPE_OK);
    CHECK(loupe_tokenizer_encode(tokenizer, text, strlen(text), &second, &second_count, &error) == LOUPE_OK);
    CHECK(first_count == second_count && memcmp(first, second, first_count * sizeof *first) == 0);
    loupe_free(first);
    loupe_free(second);
}

/* Pieces are encoded independently, so with far more distinct words than
 * the piece cache holds (evictions all the time), encoding the whole text
 * equals encoding each word on its own. */
static void test_cache_eviction(loupe_tokenizer *tokenizer) {
    enum { N_WORDS = 60000, WORD_MAX = 8 };
    char *text = malloc((size_t)N_WORDS * WORD_MAX);
    size_t *word_start = malloc((N_WORDS + 1) * sizeof *word_start);
    uint64_t state = 7;
    size_t length = 0;
    for (int w = 0; w < N_WORDS; w++) {
        word_start[w] = length;
        text[length++] = ' ';
        size_t letters = 2 + next_random(&state) % 5;
        for (size_t i = 0; i < letters; i++) text[length++] = (char)('a' + next_random(&state) % 26);
    }
    word_start[N_WORDS] = length;
    loupe_error error;
    int32_t *all = NULL;
    size_t all_count = 0;
    CHECK(loupe_tokenizer_encode(tokenizer, text, length, &all, &all_count, &error) == LOUPE_OK);
    size_t at = 0;
    int same = all != NULL;
    for (int pass = 0; pass < 2; pass++) {
        at = 0;
        for (int w = 0; w < N_WORDS && same; w++) {
            int32_t *ids = NULL;
            size_t count = 0;
            CHECK(loupe_tokenizer_encode(tokenizer, text + word_start[w], word_start[w + 1] - word_start[w],
                                         &ids, &count, &error) == LOUPE_OK);
            same = at + count <= all_count && memcmp(all + at, ids, count * sizeof *ids) == 0;
            at += count;
            loupe_free(ids);
        }
    }
    CHECK(same && at == all_count);
    loupe_free(all);
    free(word_start);
    free(text);
}

static void test_arguments(loupe_tokenizer *tokenizer) {
    loupe_error error;
    int32_t *ids = NULL;
    size_t count = 7;
    CHECK(loupe_tokenizer_encode(tokenizer, "", 0, &ids, &count, &error) == LOUPE_OK);
    CHECK(count == 0 && ids != NULL);
    loupe_free(ids);
    CHECK(loupe_tokenizer_encode(tokenizer, NULL, 3, &ids, &count, &error) == LOUPE_ERROR_ARGUMENT);

    int32_t bad[] = {15496, 50257};
    char *text = NULL;
    size_t length = 0;
    CHECK(loupe_tokenizer_decode(tokenizer, bad, 2, &text, &length, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(text == NULL && strstr(error.message, "50257") != NULL);
    bad[1] = -1;
    CHECK(loupe_tokenizer_decode(tokenizer, bad, 2, &text, &length, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(loupe_tokenizer_decode(tokenizer, NULL, 0, &text, &length, &error) == LOUPE_OK);
    CHECK(text != NULL && length == 0 && text[0] == '\0');
    loupe_free(text);

    CHECK(loupe_tokenizer_vocab_size(tokenizer) == 50257);
    CHECK(loupe_tokenizer_vocab_size(NULL) == 0);
    size_t token_length = 99;
    CHECK(loupe_tokenizer_token_bytes(tokenizer, 50257, &token_length) == NULL && token_length == 0);
    CHECK(loupe_tokenizer_token_bytes(tokenizer, -1, &token_length) == NULL && token_length == 0);
    /* <|endoftext|> is an ordinary token of the vocabulary. */
    const char *bytes = loupe_tokenizer_token_bytes(tokenizer, 50256, &token_length);
    CHECK(bytes && token_length == 13 && memcmp(bytes, "<|endoftext|>", 13) == 0);
    loupe_tokenizer_close(NULL);
}

int main(void) {
    loupe_error error;
    loupe_tokenizer *tokenizer = NULL;
    loupe_status status = loupe_tokenizer_open(test_model_path("gpt2-demo"), &tokenizer, &error);
    if (status != LOUPE_OK) fprintf(stderr, "%s\n", error.message);
    REQUIRE(status == LOUPE_OK && tokenizer != NULL);

    cJSON *extra = load_json(test_data_path("tokenizer_extra_cases.json"));
    REQUIRE(extra != NULL);
    test_hugging_face_cases(tokenizer);
    test_pretokenizer_pieces(cJSON_GetObjectItemCaseSensitive(extra, "pretokenizer"));
    test_extra_encodings(tokenizer, cJSON_GetObjectItemCaseSensitive(extra, "encode"));
    test_single_bytes(tokenizer, cJSON_GetObjectItemCaseSensitive(extra, "single_bytes"));
    test_random_round_trips(tokenizer);
    test_long_word_is_not_quadratic(tokenizer);
    test_cache_is_transparent(tokenizer);
    test_cache_eviction(tokenizer);
    test_arguments(tokenizer);
    cJSON_Delete(extra);
    loupe_tokenizer_close(tokenizer);
    return test_finish("test_tokenizer");
}
