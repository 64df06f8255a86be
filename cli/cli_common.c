/*
 * cli_common.c - see cli.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utf8proc.h>

#include "cli.h"

enum { TEXT_MAX_BYTES = 256 << 20 };

void cli_error(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fputs("loupe: ", stderr);
    vfprintf(stderr, format, arguments);
    fputc('\n', stderr);
    va_end(arguments);
}

int cli_fail(const loupe_error *error) {
    cli_error("%s", error->message[0] ? error->message : loupe_status_name(error->status));
    return CLI_EXIT_FAILURE;
}

static bool is_model_directory(const char *path) {
    char config[PATH_MAX];
    struct stat info;
    if (snprintf(config, sizeof config, "%s/config.json", path) >= (int)sizeof config) return false;
    return stat(config, &info) == 0 && S_ISREG(info.st_mode);
}

char *cli_model_directory(const char *requested) {
    if (requested != NULL) return strdup(requested);
    const char *from_environment = getenv("LOUPE_MODEL");
    if (from_environment != NULL && from_environment[0] != '\0') return strdup(from_environment);

    char executable[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", executable, sizeof executable - 1);
    char candidate[PATH_MAX];
    if (length > 0) {
        executable[length] = '\0';
        char *slash = strrchr(executable, '/');
        if (slash) *slash = '\0';
        /* build/loupe in a source tree, then bin/loupe under an install prefix */
        const char *relative[] = {"../models/gpt2-demo", "../share/loupe/models/gpt2-demo"};
        for (size_t i = 0; i < sizeof relative / sizeof relative[0]; i++) {
            if (snprintf(candidate, sizeof candidate, "%s/%s", executable, relative[i]) >= (int)sizeof candidate)
                continue;
            if (is_model_directory(candidate)) return realpath(candidate, NULL);
        }
    }
    snprintf(candidate, sizeof candidate, "%s/gpt2-demo", LOUPE_INSTALL_MODELS_DIR);
    if (is_model_directory(candidate)) return strdup(candidate);
    cli_error("no model given and the embedded model gpt2-demo was not found next to the "
              "executable or in %s; pass --model DIR",
              LOUPE_INSTALL_MODELS_DIR);
    return NULL;
}

static char *read_stream(FILE *stream, const char *name, size_t *length) {
    size_t capacity = 1 << 16, size = 0;
    char *text = malloc(capacity + 1);
    if (text == NULL) {
        cli_error("out of memory reading %s", name);
        return NULL;
    }
    size_t got;
    while ((got = fread(text + size, 1, capacity - size, stream)) > 0) {
        size += got;
        if (size == capacity) {
            if (capacity >= TEXT_MAX_BYTES) {
                cli_error("%s: longer than the limit of %d MB", name, TEXT_MAX_BYTES >> 20);
                free(text);
                return NULL;
            }
            char *grown = realloc(text, capacity * 2 + 1);
            if (grown == NULL) {
                cli_error("out of memory reading %s", name);
                free(text);
                return NULL;
            }
            text = grown;
            capacity *= 2;
        }
    }
    if (ferror(stream)) {
        cli_error("%s: read failed: %s", name, strerror(errno));
        free(text);
        return NULL;
    }
    text[size] = '\0';
    *length = size;
    return text;
}

char *cli_read_text(int n_words, char **words, const char *file_path, size_t *length) {
    if (n_words > 0 && file_path != NULL) {
        cli_error("give the text either as arguments or with --file, not both");
        return NULL;
    }
    if (n_words > 0) {
        size_t total = 0;
        for (int i = 0; i < n_words; i++) total += strlen(words[i]) + 1;
        char *text = malloc(total + 1);
        if (text == NULL) {
            cli_error("out of memory");
            return NULL;
        }
        size_t at = 0;
        for (int i = 0; i < n_words; i++) {
            if (i > 0) text[at++] = ' ';
            size_t n = strlen(words[i]);
            memcpy(text + at, words[i], n);
            at += n;
        }
        text[at] = '\0';
        *length = at;
        return text;
    }
    if (file_path != NULL) {
        FILE *file = fopen(file_path, "rb");
        if (file == NULL) {
            cli_error("%s: cannot open: %s", file_path, strerror(errno));
            return NULL;
        }
        char *text = read_stream(file, file_path, length);
        fclose(file);
        return text;
    }
    if (isatty(STDIN_FILENO)) {
        cli_error("no text given: pass it as an argument, with --file PATH, or on standard input");
        return NULL;
    }
    return read_stream(stdin, "standard input", length);
}

bool cli_parse_int(const char *option, const char *text, long min, long max, long *value) {
    char *end = NULL;
    errno = 0;
    long parsed = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || parsed < min || parsed > max) {
        cli_error("%s: expected a whole number from %ld to %ld, got '%s'", option, min, max, text);
        return false;
    }
    *value = parsed;
    return true;
}

bool cli_parse_float(const char *option, const char *text, double min, double max, double *value) {
    char *end = NULL;
    errno = 0;
    double parsed = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(parsed) || parsed < min || parsed > max) {
        cli_error("%s: expected a number from %g to %g, got '%s'", option, min, max, text);
        return false;
    }
    *value = parsed;
    return true;
}

int cli_encode(const char *model_dir, const char *text, size_t length, loupe_tokenizer **tokenizer,
               int32_t **ids, size_t *count) {
    loupe_error error;
    if (loupe_tokenizer_open(model_dir, tokenizer, &error) != LOUPE_OK) return cli_fail(&error);
    if (loupe_tokenizer_encode(*tokenizer, text, length, ids, count, &error) != LOUPE_OK) {
        loupe_tokenizer_close(*tokenizer);
        *tokenizer = NULL;
        return cli_fail(&error);
    }
    return 0;
}

void cli_write_text(FILE *out, const char *s, size_t length, bool json_escape) {
    for (size_t at = 0; at < length;) {
        utf8proc_int32_t codepoint = -1;
        utf8proc_ssize_t used =
            utf8proc_iterate((const utf8proc_uint8_t *)s + at, (utf8proc_ssize_t)(length - at), &codepoint);
        if (used <= 0) {
            fprintf(out, "<0x%02X>", (unsigned)(unsigned char)s[at]);
            at++;
            continue;
        }
        if (json_escape && codepoint < 0x80) {
            char c = (char)codepoint;
            if (c == '"') fputs("\\\"", out);
            else if (c == '\\') fputs("\\\\", out);
            else if (c == '\n') fputs("\\n", out);
            else if (c == '\t') fputs("\\t", out);
            else if (c == '\r') fputs("\\r", out);
            else if (codepoint < 0x20 || codepoint == 0x7F) fprintf(out, "\\u%04x", (unsigned)codepoint);
            else fputc(c, out);
        } else {
            fwrite(s + at, 1, (size_t)used, out);
        }
        at += (size_t)used;
    }
}

void cli_json_string(FILE *out, const char *s, size_t length) {
    fputc('"', out);
    cli_write_text(out, s, length, true);
    fputc('"', out);
}

int cli_input_load(const char *model_option, const char *file_path, int n_words, char **words,
                   bool need_model, cli_input *input) {
    memset(input, 0, sizeof *input);
    input->text = cli_read_text(n_words, words, file_path, &input->text_length);
    if (input->text == NULL) return CLI_EXIT_FAILURE;
    input->directory = cli_model_directory(model_option);
    int status = input->directory ? 0 : CLI_EXIT_FAILURE;
    if (status == 0)
        status = cli_encode(input->directory, input->text, input->text_length, &input->tokenizer,
                            &input->ids, &input->n_ids);
    if (status == 0 && input->n_ids == 0) {
        cli_error("the text is empty: nothing to run the model on");
        status = CLI_EXIT_FAILURE;
    }
    if (status == 0 && need_model) {
        loupe_error error;
        if (loupe_model_open(input->directory, &input->model, &error) != LOUPE_OK)
            status = cli_fail(&error);
    }
    if (status != 0) cli_input_free(input);
    return status;
}

void cli_input_free(cli_input *input) {
    loupe_model_close(input->model);
    loupe_tokenizer_close(input->tokenizer);
    loupe_free(input->ids);
    free(input->text);
    free(input->directory);
    memset(input, 0, sizeof *input);
}
