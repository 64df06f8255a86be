/*
 * corpus_input.c - reading every document of the corpus files (see
 * corpus_output.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "corpus_output.h"

/* The reader's warnings, on stderr. */
static void print_warning(void *user, const char *message) {
    (void)user;
    fprintf(stderr, "loupe: warning: %s (skipped)\n", message);
}

int corpus_source_option(corpus_source *source, int option, const char *argument) {
    switch (option) {
    case 1001: source->reader.separator = argument; return 1;
    case 1002: source->reader.format = LOUPE_CORPUS_FORMAT_JSONL; return 1;
    case 1003: source->reader.format = LOUPE_CORPUS_FORMAT_PLAIN; return 1;
    case 1004: source->reader.strict = true; return 1;
    default: return 0;
    }
}

int64_t corpus_source_total_bytes(const corpus_source *source) {
    int64_t total = 0;
    for (int i = 0; i < source->n_paths; i++) {
        struct stat info;
        if (strcmp(source->paths[i], "-") != 0 && stat(source->paths[i], &info) == 0 && S_ISREG(info.st_mode))
            total += info.st_size;
    }
    return total;
}

int corpus_source_read(const corpus_source *source, corpus_document_fn on_document, void *user,
                       int64_t *skipped_lines, bool *stopped, int64_t *bytes_done) {
    *stopped = false;
    *skipped_lines = 0;
    int64_t bytes_before = 0;
    for (int i = 0; i < source->n_paths && !*stopped; i++) {
        const char *path = source->paths[i];
        loupe_corpus_reader_params params = source->reader;
        params.warn = print_warning;
        loupe_corpus_reader *reader = NULL;
        loupe_error error;
        loupe_status status = strcmp(path, "-") == 0
                                  ? loupe_corpus_reader_open("/dev/stdin", &params, &reader, &error)
                                  : loupe_corpus_reader_open(path, &params, &reader, &error);
        while (status == LOUPE_OK) {
            loupe_corpus_document document;
            bool has_document = false;
            status = loupe_corpus_reader_next(reader, &document, &has_document, &error);
            if (bytes_done != NULL) *bytes_done = bytes_before + loupe_corpus_reader_bytes_read(reader);
            if (status != LOUPE_OK || !has_document) break;
            if (!on_document(user, &document, path)) {
                *stopped = true;
                break;
            }
        }
        if (reader != NULL) {
            *skipped_lines += loupe_corpus_reader_skipped_lines(reader);
            bytes_before += loupe_corpus_reader_bytes_read(reader);
        }
        loupe_corpus_reader_close(reader);
        if (status != LOUPE_OK) return cli_fail(&error);
    }
    return 0;
}
