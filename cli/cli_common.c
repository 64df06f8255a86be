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

#include "cli.h"
#include "loupe_internal.h"

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

/* Drops one trailing "\n" or "\r\n" from text (*length bytes). */
static void drop_trailing_newline(char *text, size_t *length) {
    if (*length > 0 && text[*length - 1] == '\n') {
        (*length)--;
        if (*length > 0 && text[*length - 1] == '\r') (*length)--;
        text[*length] = '\0';
    }
}

/* The text of cli_input_load: the positional arguments joined by spaces,
 * else the file, else standard input when it is not a terminal (one
 * trailing newline of those two dropped unless keep_newline). Caller frees;
 * NULL with a message printed on failure. */
static char *read_text(int n_words, char **words, const char *file_path, bool keep_newline, size_t *length) {
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
        if (text != NULL && !keep_newline) drop_trailing_newline(text, length);
        return text;
    }
    if (isatty(STDIN_FILENO)) {
        cli_error("no text given: pass it as an argument, with --file PATH, or on standard input");
        return NULL;
    }
    char *text = read_stream(stdin, "standard input", length);
    if (text != NULL && !keep_newline) drop_trailing_newline(text, length);
    return text;
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

void cli_write_text(FILE *out, const char *s, size_t length, bool json_escape) {
    json_write_text(out, s, length, json_escape);
}

void cli_json_string(FILE *out, const char *s, size_t length) { json_write_string(out, s, length); }

void cli_json_number(FILE *out, double value) {
    if (isfinite(value)) fprintf(out, "%.9g", value);
    else fputs("null", out);
}

bool cli_text_option(int option, const char *argument, cli_text_options *text) {
    switch (option) {
    case CLI_OPTION_KEEP_NEWLINE: text->keep_newline = true; return true;
    case CLI_OPTION_NO_SPECIAL: text->no_special = true; return true;
    case CLI_OPTION_IDS: text->ids = argument; return true;
    case CLI_OPTION_BOS: text->bos = true; return true;
    default: return false;
    }
}

/* Parses list, comma-separated token ids of tokenizer, into *ids (caller
 * frees) and *count; false with a message naming the entry otherwise. */
static bool parse_ids(const char *list, const loupe_tokenizer *tokenizer, int32_t **ids, size_t *count) {
    size_t n = 1;
    for (const char *c = list; *c; c++) n += *c == ',';
    *ids = malloc(n * sizeof **ids);
    if (*ids == NULL) {
        cli_error("out of memory");
        return false;
    }
    int n_vocab = loupe_tokenizer_vocab_size(tokenizer);
    const char *entry = list;
    for (size_t i = 0; i < n; i++) {
        size_t length = strcspn(entry, ",");
        long id = -1;
        bool digits = length > 0 && length <= 10 && strspn(entry, "0123456789") == length;
        if (digits) id = strtol(entry, NULL, 10);
        if (!digits || id >= n_vocab || loupe_tokenizer_token_bytes(tokenizer, (int32_t)id, NULL) == NULL) {
            if (digits)
                cli_error("--ids: entry %zu (%ld) is not a token id of the model's vocabulary (0 .. %d)", i + 1,
                          id, n_vocab - 1);
            else
                cli_error("--ids: entry %zu ('%.*s') is not a token id: expected whole numbers 0 .. %d "
                          "separated by commas",
                          i + 1, (int)(length > 40 ? 40 : length), entry, n_vocab - 1);
            free(*ids);
            *ids = NULL;
            return false;
        }
        (*ids)[i] = (int32_t)id;
        entry += length + 1;
    }
    *count = n;
    return true;
}

/* Sets input's ids and text from --ids once the tokenizer is open. */
static int ids_input(const char *list, cli_input *input) {
    if (!parse_ids(list, input->tokenizer, &input->ids, &input->n_ids)) return CLI_EXIT_FAILURE;
    loupe_error error;
    char *decoded = NULL;
    size_t length = 0;
    if (loupe_tokenizer_decode(input->tokenizer, input->ids, input->n_ids, &decoded, &length, &error) != LOUPE_OK)
        return cli_fail(&error);
    input->text = malloc(length + 1);
    if (input->text != NULL) memcpy(input->text, decoded, length + 1);
    input->text_length = length;
    loupe_free(decoded);
    if (input->text == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* Puts the tokenizer's BOS id before input's ids. */
static int prepend_bos(cli_input *input) {
    int32_t bos = loupe_tokenizer_bos_id(input->tokenizer);
    if (bos < 0) {
        cli_error("--bos: the tokenizer of %s has no BOS token", input->directory);
        return CLI_EXIT_FAILURE;
    }
    int32_t *with_bos = malloc((input->n_ids + 1) * sizeof *with_bos);
    if (with_bos == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    with_bos[0] = bos;
    if (input->n_ids > 0) memcpy(with_bos + 1, input->ids, input->n_ids * sizeof *with_bos);
    loupe_free(input->ids);
    input->ids = with_bos;
    input->n_ids++;
    return 0;
}

int cli_input_load(const char *model_option, const cli_text_options *text, int n_words, char **words,
                   unsigned flags, cli_input *input) {
    memset(input, 0, sizeof *input);
    if (text->ids != NULL && (n_words > 0 || text->file != NULL)) {
        cli_error("give either a text (arguments, --file or standard input) or --ids, not both");
        return CLI_EXIT_FAILURE;
    }
    if (text->ids == NULL) {
        input->text = read_text(n_words, words, text->file, text->keep_newline, &input->text_length);
        if (input->text == NULL) return CLI_EXIT_FAILURE;
    }
    input->directory = cli_model_directory(model_option);
    int status = input->directory ? 0 : CLI_EXIT_FAILURE;
    loupe_error error;
    if (status == 0 && loupe_tokenizer_open(input->directory, &input->tokenizer, &error) != LOUPE_OK)
        status = cli_fail(&error);
    if (status == 0 && text->ids != NULL) {
        status = ids_input(text->ids, input);
    } else if (status == 0) {
        loupe_encode_params params = loupe_encode_default_params();
        params.match_special = !text->no_special;
        params.add_special = !text->no_special;
        if (loupe_tokenizer_encode_with_params(input->tokenizer, input->text, input->text_length, &params,
                                               &input->ids, &input->n_ids, &error) != LOUPE_OK)
            status = cli_fail(&error);
    }
    if (status == 0 && text->bos) status = prepend_bos(input);
    if (status == 0 && input->n_ids == 0 && !(flags & CLI_INPUT_ALLOW_EMPTY)) {
        cli_error("the text is empty: nothing to run the model on");
        status = CLI_EXIT_FAILURE;
    }
    if (status == 0 && (flags & CLI_INPUT_MODEL)) {
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
