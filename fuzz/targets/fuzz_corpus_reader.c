/*
 * fuzz_corpus_reader.c - the corpus reader and the counts file on any bytes.
 *
 * The first byte picks the mode (format, strictness, separator, or the
 * counts parser); the rest is the file. Every document returned must lie
 * within the size limit with line numbers that never go back, warnings and
 * errors must be single lines, and a plain document's bytes must be bytes of
 * the input.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_target.h"

static void check_warning(void *user, const char *message) {
    (void)user;
    if (message == NULL || message[0] == '\0' || strchr(message, '\n') != NULL) fuzz_fail("a warning that is not one line");
}

static int contains(const char *haystack, size_t length, const char *needle, size_t needle_length) {
    if (needle_length == 0) return 1;
    for (size_t i = 0; i + needle_length <= length; i++)
        if (memcmp(haystack + i, needle, needle_length) == 0) return 1;
    return 0;
}

static void fuzz_counts(const char *data, size_t size) {
    enum { VOCAB = 50257 }; /* GPT-2 */
    static int64_t counts[VOCAB];
    loupe_error error;
    loupe_status status = loupe_corpus_counts_parse("counts.tsv", data, size, VOCAB, counts, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return;
    for (int i = 0; i < VOCAB; i++)
        if (counts[i] < 0) fuzz_fail("a negative count accepted");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t mode = data[0];
    const char *text = (const char *)data + 1;
    size_t length = size - 1;
    if ((mode & 7) == 7) {
        fuzz_counts(text, length);
        return 0;
    }
    loupe_corpus_reader_params params = loupe_corpus_reader_default_params();
    params.format = (loupe_corpus_format)(mode % 3);
    params.strict = (mode & 8) != 0;
    params.separator = (mode & 16) ? "<|endoftext|>" : NULL;
    params.max_document_bytes = (mode & 32) ? 64 : 1 << 20;
    params.warn = check_warning;

    loupe_corpus_reader *reader = NULL;
    loupe_error error;
    loupe_status status = loupe_corpus_reader_open_memory("corpus.txt", text, length, &params, &reader, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return 0;
    int64_t last_line = 0;
    for (int documents = 0;; documents++) {
        loupe_corpus_document document;
        bool has_document = false;
        status = loupe_corpus_reader_next(reader, &document, &has_document, &error);
        fuzz_check_error(status, &error);
        if (status != LOUPE_OK || !has_document) break;
        if (document.length > params.max_document_bytes) fuzz_fail("a document over the size limit");
        if (document.line < last_line || document.line < 1) fuzz_fail("line numbers went back");
        last_line = document.line;
        if (loupe_corpus_reader_format(reader) == LOUPE_CORPUS_FORMAT_PLAIN &&
            !contains(text, length, document.text, document.length))
            fuzz_fail("a plain document that is not part of the input");
        if ((size_t)documents > length + 1) fuzz_fail("more documents than bytes");
    }
    if (loupe_corpus_reader_bytes_read(reader) > (int64_t)length) fuzz_fail("read more bytes than given");
    loupe_corpus_reader_close(reader);
    return 0;
}
