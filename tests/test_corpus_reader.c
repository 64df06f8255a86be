/*
 * test_corpus_reader.c - the corpus reader (plain text, separators, JSONL),
 * the window rule and the counts parser of include/loupe.h.
 *
 * Documents are checked against hand-worked splits and against the list a
 * generator wrote into a multi-megabyte file (so documents straddle the
 * reader's buffer refills); windows against a brute-force reading of the
 * rule "each position in the first window that holds it and its target".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loupe.h"
#include "test_support.h"

/* ------------------------------------------------------------------------
 * Reading all documents
 * ---------------------------------------------------------------------- */

enum { MAX_DOCS = 4096, MAX_WARNINGS = 16 };

typedef struct read_result {
    int n;
    char *texts[MAX_DOCS];
    size_t lengths[MAX_DOCS];
    int64_t lines[MAX_DOCS];
    int n_warnings;
    char warnings[MAX_WARNINGS][LOUPE_ERROR_MESSAGE_CAPACITY];
    loupe_status status;
    loupe_error error;
} read_result;

static void collect_warning(void *user, const char *message) {
    read_result *result = user;
    if (result->n_warnings < MAX_WARNINGS)
        snprintf(result->warnings[result->n_warnings], sizeof result->warnings[0], "%s", message);
    result->n_warnings++;
}

/* Reads every document from a memory corpus (path NULL) or a file. */
static read_result *read_all(const char *path, const char *data, size_t length, loupe_corpus_reader_params params) {
    read_result *result = calloc(1, sizeof *result);
    params.warn = collect_warning;
    params.warn_user = result;
    loupe_corpus_reader *reader = NULL;
    result->status = path ? loupe_corpus_reader_open(path, &params, &reader, &result->error)
                          : loupe_corpus_reader_open_memory("corpus", data, length, &params, &reader, &result->error);
    while (result->status == LOUPE_OK) {
        loupe_corpus_document document;
        bool has = false;
        result->status = loupe_corpus_reader_next(reader, &document, &has, &result->error);
        if (result->status != LOUPE_OK || !has) break;
        if (result->n < MAX_DOCS) {
            result->texts[result->n] = malloc(document.length + 1);
            memcpy(result->texts[result->n], document.text, document.length);
            result->texts[result->n][document.length] = '\0';
            result->lengths[result->n] = document.length;
            result->lines[result->n] = document.line;
            CHECK(document.index == result->n);
        }
        result->n++;
    }
    loupe_corpus_reader_close(reader);
    return result;
}

static void read_result_free(read_result *result) {
    for (int i = 0; i < result->n && i < MAX_DOCS; i++) free(result->texts[i]);
    free(result);
}

static read_result *read_memory(const char *text, loupe_corpus_reader_params params) {
    return read_all(NULL, text, strlen(text), params);
}

static void check_doc(const read_result *result, int i, const char *text, int64_t line) {
    CHECK_MSG(i < result->n, "document %d missing (got %d)", i, result->n);
    if (i >= result->n) return;
    CHECK_MSG(result->lengths[i] == strlen(text) && memcmp(result->texts[i], text, strlen(text)) == 0,
              "document %d is '%s', expected '%s'", i, result->texts[i], text);
    CHECK_MSG(result->lines[i] == line, "document %d at line %lld, expected %lld", i, (long long)result->lines[i],
              (long long)line);
}

/* ------------------------------------------------------------------------
 * Hand-worked splits
 * ---------------------------------------------------------------------- */

static void test_blank_lines(void) {
    loupe_corpus_reader_params params = loupe_corpus_reader_default_params();
    read_result *r = read_memory("\n\nfirst doc\nline two\n\n\n  \nsecond\r\n\nthird", params);
    CHECK(r->status == LOUPE_OK);
    CHECK(r->n == 3);
    check_doc(r, 0, "first doc\nline two", 3);
    check_doc(r, 1, "second", 8);
    check_doc(r, 2, "third", 10);
    read_result_free(r);

    r = read_memory("only\n", params); /* the final newline is not text */
    CHECK(r->n == 1);
    check_doc(r, 0, "only", 1);
    read_result_free(r);

    r = read_memory(" \n\t\n\n", params); /* nothing but blank lines */
    CHECK(r->status == LOUPE_OK && r->n == 0);
    read_result_free(r);
    r = read_memory("", params);
    CHECK(r->status == LOUPE_OK && r->n == 0);
    read_result_free(r);
}

static void test_separator(void) {
    loupe_corpus_reader_params params = loupe_corpus_reader_default_params();
    params.separator = "<|endoftext|>";
    read_result *r = read_memory("a<|endoftext|>b\nc<|endoftext|><|endoftext|>  <|endoftext|>d\n\ne", params);
    CHECK(r->status == LOUPE_OK);
    CHECK(r->n == 3);
    check_doc(r, 0, "a", 1);
    check_doc(r, 1, "b\nc", 1);
    check_doc(r, 2, "d\n\ne", 2); /* blank lines do not separate when a separator is given */
    read_result_free(r);

    /* a separator is plain text even when the text starts with '{' */
    r = read_memory("{\"text\": 1}<|endoftext|>x", params);
    CHECK(r->n == 2);
    check_doc(r, 0, "{\"text\": 1}", 1);
    read_result_free(r);
}

static void test_jsonl(void) {
    const char *corpus = "{\"text\": \"one\"}\n"
                         "\n"
                         "not json\n"
                         "{\"text\": 5}\n"
                         "[1]\n"
                         "{\"id\": 3, \"text\": \"two\\nlines \\u00e9\"}\r\n"
                         "{\"text\":\"x\"} trailing\n"
                         "{\"text\": \"last\"}";
    loupe_corpus_reader_params params = loupe_corpus_reader_default_params();
    read_result *r = read_memory(corpus, params);
    CHECK(r->status == LOUPE_OK);
    CHECK(r->n == 3);
    check_doc(r, 0, "one", 1);
    check_doc(r, 1, "two\nlines \xC3\xA9", 6);
    check_doc(r, 2, "last", 8);
    CHECK_MSG(r->n_warnings == 4, "%d warnings", r->n_warnings);
    const char *lines[] = {"corpus:3:", "corpus:4:", "corpus:5:", "corpus:7:"};
    for (int i = 0; i < 4 && i < r->n_warnings; i++)
        CHECK_MSG(strncmp(r->warnings[i], lines[i], strlen(lines[i])) == 0, "warning '%s' should start '%s'",
                  r->warnings[i], lines[i]);
    if (r->n_warnings >= 2) CHECK(strstr(r->warnings[1], "\"text\"") != NULL);
    read_result_free(r);

    params.strict = true;
    r = read_memory(corpus, params);
    CHECK(r->status == LOUPE_ERROR_FORMAT);
    CHECK(r->n == 1);
    CHECK_MSG(strncmp(r->error.message, "corpus:3:", 9) == 0, "strict error '%s'", r->error.message);
    read_result_free(r);

    /* format detection: the first non-blank byte */
    params = loupe_corpus_reader_default_params();
    r = read_memory("  \n {\"text\": \"a\"}\n", params);
    CHECK(r->n == 1);
    check_doc(r, 0, "a", 2);
    read_result_free(r);
    params.format = LOUPE_CORPUS_FORMAT_PLAIN;
    r = read_memory("{\"text\": \"a\"}", params);
    CHECK(r->n == 1);
    check_doc(r, 0, "{\"text\": \"a\"}", 1);
    read_result_free(r);
}

static void test_limits(void) {
    loupe_corpus_reader_params params = loupe_corpus_reader_default_params();
    params.max_document_bytes = 8;
    read_result *r = read_memory("short\n\nthis one is too long\n\nx", params);
    CHECK(r->n == 1);
    CHECK(r->status == LOUPE_ERROR_LIMIT);
    CHECK_MSG(strstr(r->error.message, "corpus:3:") != NULL, "'%s'", r->error.message);
    read_result_free(r);

    loupe_corpus_reader *reader = NULL;
    loupe_error error;
    params = loupe_corpus_reader_default_params();
    params.separator = "";
    CHECK(loupe_corpus_reader_open_memory("x", "a", 1, &params, &reader, &error) == LOUPE_ERROR_ARGUMENT);
    CHECK(loupe_corpus_reader_open("/nonexistent/corpus.txt", NULL, &reader, &error) == LOUPE_ERROR_IO);
    CHECK(strstr(error.message, "/nonexistent/corpus.txt") != NULL);
}

/* ------------------------------------------------------------------------
 * A generated multi-megabyte corpus read from a file
 * ---------------------------------------------------------------------- */

static uint64_t random_state = 12345;

static bool is_all_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\n\v\f", s[i]) || s[i] == '\0') return false;
    return true;
}

static uint32_t random_below(uint32_t n) {
    random_state = random_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((random_state >> 33) % n);
}

/* Writes n documents of random words (some long) in the format and returns
 * the file's bytes; expected[i] (caller frees) is document i. */
static char *generate(int format, int n, char **expected, size_t *size) {
    size_t capacity = 1 << 24, used = 0;
    char *file = malloc(capacity);
    for (int i = 0; i < n; i++) {
        size_t words = random_below(8) == 0 ? 20000 + random_below(200000) : 1 + random_below(300);
        char *doc = malloc(words * 8 + 16);
        size_t length = 0;
        for (size_t w = 0; w < words; w++) {
            if (w > 0) doc[length++] = random_below(10) == 0 ? '\n' : ' ';
            size_t letters = 1 + random_below(6);
            for (size_t l = 0; l < letters; l++) doc[length++] = (char)('a' + random_below(26));
        }
        doc[length] = '\0';
        expected[i] = doc;
        if (used + length * 2 + 64 > capacity) {
            capacity = (used + length * 2 + 64) * 2;
            file = realloc(file, capacity);
        }
        if (format == 0) { /* separator */
            used += (size_t)sprintf(file + used, "%s<|endoftext|>", doc);
        } else if (format == 1) { /* blank lines */
            used += (size_t)sprintf(file + used, "%s\n\n%s", doc, random_below(2) ? "\n \n" : "");
        } else { /* JSONL */
            file[used++] = '{';
            used += (size_t)sprintf(file + used, "\"text\": \"");
            for (size_t c = 0; c < length; c++) {
                if (doc[c] == '\n') {
                    file[used++] = '\\';
                    file[used++] = 'n';
                } else {
                    file[used++] = doc[c];
                }
            }
            used += (size_t)sprintf(file + used, "\"}\n");
        }
    }
    *size = used;
    return file;
}

static void test_generated_file(void) {
    enum { N = 300 };
    char *dir = test_make_temp_dir();
    CHECK(dir != NULL);
    if (dir == NULL) return;
    for (int format = 0; format < 3; format++) {
        char *expected[N];
        size_t size;
        char *bytes = generate(format, N, expected, &size);
        char path[4096];
        snprintf(path, sizeof path, "%s/corpus.txt", dir);
        CHECK(test_write_file(path, bytes, size) == 0);
        loupe_corpus_reader_params params = loupe_corpus_reader_default_params();
        if (format == 0) params.separator = "<|endoftext|>";
        read_result *from_file = read_all(path, NULL, 0, params);
        read_result *from_memory = read_all(NULL, bytes, size, params);
        CHECK_MSG(size > (3u << 20), "the generated corpus is only %zu bytes", size);
        CHECK_MSG(from_file->status == LOUPE_OK, "format %d: %s", format, from_file->error.message);
        CHECK_MSG(from_file->n == N && from_memory->n == N, "format %d: %d and %d documents", format, from_file->n,
                  from_memory->n);
        int64_t line = 1;
        for (int i = 0; i < N && i < from_file->n && i < from_memory->n; i++) {
            CHECK_MSG(strcmp(from_file->texts[i], expected[i]) == 0, "format %d document %d differs", format, i);
            CHECK(strcmp(from_memory->texts[i], expected[i]) == 0);
            CHECK(from_file->lines[i] == from_memory->lines[i]);
            if (format == 2) CHECK_MSG(from_file->lines[i] == i + 1, "JSONL document %d at line %lld", i,
                                       (long long)from_file->lines[i]);
            if (format == 0) {
                CHECK(from_file->lines[i] == line);
                for (const char *c = expected[i]; *c; c++) line += *c == '\n';
            }
        }
        read_result_free(from_file);
        read_result_free(from_memory);
        for (int i = 0; i < N; i++) free(expected[i]);
        free(bytes);
    }
    test_remove_tree(dir);
    free(dir);
}

/* ------------------------------------------------------------------------
 * Windows
 * ---------------------------------------------------------------------- */

static void check_windows_by_hand(int N, int P, int S, const int (*expected)[4], int n_expected) {
    loupe_corpus_window_params params = {P, S, 0};
    loupe_corpus_window window = {0};
    int i = 0;
    while (loupe_corpus_window_next(N, &params, &window)) {
        CHECK_MSG(i < n_expected && window.start == expected[i][0] && window.end == expected[i][1] &&
                      window.score_begin == expected[i][2] && window.score_end == expected[i][3],
                  "N=%d P=%d S=%d window %d: [%d,%d) scores [%d,%d)", N, P, S, i, window.start, window.end,
                  window.score_begin, window.score_end);
        i++;
    }
    CHECK_MSG(i == n_expected, "N=%d: %d windows, expected %d", N, i, n_expected);
}

static void test_windows_by_hand(void) {
    const int ten[][4] = {{0, 4, 0, 3}, {2, 6, 3, 5}, {4, 8, 5, 7}, {6, 10, 7, 9}};
    check_windows_by_hand(10, 4, 2, ten, 4);
    const int nine[][4] = {{0, 4, 0, 3}, {2, 6, 3, 5}, {4, 8, 5, 7}, {5, 9, 7, 8}}; /* the last moved back */
    check_windows_by_hand(9, 4, 2, nine, 4);
    const int short_doc[][4] = {{0, 3, 0, 2}};
    check_windows_by_hand(3, 4, 2, short_doc, 1);
    const int one[][4] = {{0, 1, 0, 0}};
    check_windows_by_hand(1, 4, 2, one, 1);
    check_windows_by_hand(0, 4, 2, NULL, 0);

    loupe_error error;
    loupe_corpus_window_params bad = {512, 512, 0};
    CHECK(loupe_corpus_window_check(&bad, &error) == LOUPE_ERROR_ARGUMENT);
    bad = (loupe_corpus_window_params){512, 256, 256};
    CHECK(loupe_corpus_window_check(&bad, &error) == LOUPE_ERROR_ARGUMENT);
    bad = (loupe_corpus_window_params){512, 256, 255};
    CHECK(loupe_corpus_window_check(&bad, &error) == LOUPE_OK);
}

/* Every (N, P, S, min_context) in a grid against the rule read literally. */
static void test_windows_brute_force(void) {
    enum { MAX_N = 60, MAX_WINDOWS = 64 };
    for (int P = 2; P <= 9; P++)
        for (int S = 1; S < P; S++)
            for (int min_context = 0; min_context <= P - S - 1; min_context++)
                for (int N = 0; N <= MAX_N; N++) {
                    loupe_corpus_window_params params = {P, S, min_context};
                    CHECK(loupe_corpus_window_check(&params, NULL) == LOUPE_OK);
                    loupe_corpus_window windows[MAX_WINDOWS], window = {0};
                    int n = 0;
                    while (n < MAX_WINDOWS && loupe_corpus_window_next(N, &params, &window)) windows[n++] = window;
                    /* windows lie in the document, hold at most P tokens, start in order and the last ends at N */
                    for (int w = 0; w < n; w++) {
                        CHECK(windows[w].start >= 0 && windows[w].end <= N && windows[w].end - windows[w].start <= P);
                        CHECK(windows[w].end - windows[w].start == (N < P ? N : P));
                        if (w > 0) CHECK(windows[w].start > windows[w - 1].start);
                    }
                    if (N > 0) CHECK(n > 0 && windows[n - 1].end == N);
                    for (int t = 0; t < N; t++) {
                        int first = -1; /* the first window holding t and t + 1 */
                        for (int w = 0; w < n && first < 0; w++)
                            if (windows[w].start <= t && t + 1 < windows[w].end) first = w;
                        int scored_in = -1, times = 0;
                        for (int w = 0; w < n; w++)
                            if (windows[w].score_begin <= t && t < windows[w].score_end) {
                                scored_in = w;
                                times++;
                            }
                        bool expected = first >= 0 && t - windows[first].start >= min_context;
                        CHECK_MSG(times == (expected ? 1 : 0) && (!expected || scored_in == first),
                                  "N=%d P=%d S=%d min=%d: position %d scored %d times in window %d (first %d)", N,
                                  P, S, min_context, t, times, scored_in, first);
                        /* min_context only drops positions of the first window */
                        if (t >= min_context && t + 1 < N) CHECK(expected);
                    }
                }
}

/* ------------------------------------------------------------------------
 * Counts
 * ---------------------------------------------------------------------- */

static void test_counts(void) {
    int64_t counts[10];
    loupe_error error;
    const char *good = "# loupe count\nid\ttoken\tcount\n7\t\xE2\x90\xA3the\t120\n0\t!\t3\r\n\n2\ta\tb\t0\n";
    CHECK(loupe_corpus_counts_parse("c.tsv", good, strlen(good), 10, counts, &error) == LOUPE_OK);
    const int64_t expected[10] = {3, 0, 0, 0, 0, 0, 0, 120, 0, 0};
    for (int i = 0; i < 10; i++) CHECK_MSG(counts[i] == expected[i], "counts[%d] = %lld", i, (long long)counts[i]);

    const struct {
        const char *text, *message;
    } bad[] = {
        {"1\tx\t5\n10\ty\t1\n", "c.tsv:2: the id"},
        {"1\tx\t5\n1\ty\t1\n", "c.tsv:2: id 1 appears twice"},
        {"1\tx\t0\n1\ty\t0\n", "c.tsv:2: id 1 appears twice"},
        {"\n\n1 x 5\n", "c.tsv:3: expected"},
        {"1\t5\n", "c.tsv:1: expected"},
        {"1\tx\t-5\n", "c.tsv:1: the count"},
        {"-1\tx\t5\n", "c.tsv:1: the id"},
        {"1\tx\t99999999999999999999\n", "c.tsv:1: the count"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(loupe_corpus_counts_parse("c.tsv", bad[i].text, strlen(bad[i].text), 10, counts, &error) ==
              LOUPE_ERROR_FORMAT);
        CHECK_MSG(strncmp(error.message, bad[i].message, strlen(bad[i].message)) == 0, "'%s' should start '%s'",
                  error.message, bad[i].message);
    }
}

/* Random bytes from a small alphabet of the characters the formats care
 * about: every document of the plain formats lies inside the input, in
 * order; JSONL never fails without --strict; nothing crashes (run under
 * the sanitizers). */
static void test_random_bytes(void) {
    static const char alphabet[] = "ab \n\n\r\t{}\"\\:,<|>text0\xC3\xA9";
    char data[300];
    for (int trial = 0; trial < 3000; trial++) {
        size_t n = random_below(sizeof data);
        for (size_t i = 0; i < n; i++) data[i] = alphabet[random_below(sizeof alphabet - 1)];
        for (int mode = 0; mode < 3; mode++) {
            loupe_corpus_reader_params params = loupe_corpus_reader_default_params();
            if (mode == 0) params.separator = "<|>";
            if (mode == 1) params.format = LOUPE_CORPUS_FORMAT_PLAIN;
            if (mode == 2) params.format = LOUPE_CORPUS_FORMAT_JSONL;
            loupe_corpus_reader *reader = NULL;
            loupe_error error;
            CHECK(loupe_corpus_reader_open_memory("random", data, n, &params, &reader, &error) == LOUPE_OK);
            const char *after = data;
            int64_t line = 1;
            for (;;) {
                loupe_corpus_document document;
                bool has = false;
                loupe_status status = loupe_corpus_reader_next(reader, &document, &has, &error);
                CHECK(status == LOUPE_OK);
                if (status != LOUPE_OK || !has) break;
                CHECK(document.line >= line);
                line = document.line;
                if (mode < 2) {
                    CHECK(document.text >= after && document.text + document.length <= data + n);
                    after = document.text + document.length;
                    CHECK(!is_all_blank(document.text, document.length));
                }
            }
            CHECK(loupe_corpus_reader_bytes_read(reader) == (int64_t)n);
            loupe_corpus_reader_close(reader);
        }
    }
}

int main(void) {
    test_blank_lines();
    test_separator();
    test_jsonl();
    test_limits();
    test_generated_file();
    test_windows_by_hand();
    test_windows_brute_force();
    test_counts();
    test_random_bytes();
    return test_finish("test_corpus_reader");
}
