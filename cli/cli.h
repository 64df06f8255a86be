/*
 * cli.h - what the loupe subcommands share: finding the model, reading the
 * text, reporting errors. The CLI uses only the public API in loupe.h.
 */
#ifndef LOUPE_CLI_H
#define LOUPE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "loupe.h"

/* Exit statuses of the loupe command. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1, /* the model, tokenizer or text could not be used */
    CLI_EXIT_USAGE = 2,   /* bad command line */
};

/* Each subcommand: argc/argv start at the subcommand's name. */
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_next(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_lens(int argc, char **argv);
int cmd_corpus(int argc, char **argv);
int cmd_count(int argc, char **argv);
int cmd_plot(int argc, char **argv);

/* Prints "loupe: <message>" on stderr. */
void cli_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Prints a loupe_error and returns CLI_EXIT_FAILURE. */
int cli_fail(const loupe_error *error);

/* The model folder to use: `requested` if not NULL, else $LOUPE_MODEL, else
 * the embedded gpt2-demo found relative to the executable or the install
 * prefix (never the current directory). Caller frees; NULL with a message
 * printed when none is found. */
char *cli_model_directory(const char *requested);

/* The text to work on: the positional arguments joined by spaces, else the
 * file `file_path`, else standard input when it is not a terminal. Caller
 * frees; NULL with a message printed on failure. */
char *cli_read_text(int n_words, char **words, const char *file_path, size_t *length);

/* Parses a whole decimal integer in [min, max]; false with a message naming
 * the option otherwise. */
bool cli_parse_int(const char *option, const char *text, long min, long max, long *value);
bool cli_parse_float(const char *option, const char *text, double min, double max, double *value);

/* Opens the tokenizer of model_dir and encodes text. Returns 0 or prints an
 * error and returns CLI_EXIT_FAILURE. */
int cli_encode(const char *model_dir, const char *text, size_t length, loupe_tokenizer **tokenizer,
               int32_t **ids, size_t *count);

/* Writes length bytes of s as valid UTF-8: a byte that starts no valid
 * character is written as <0xNN>. With json_escape, quotes, backslashes and
 * control characters are escaped for a JSON string's contents. */
void cli_write_text(FILE *out, const char *s, size_t length, bool json_escape);

/* Writes s as a JSON string literal (quotes and escapes included), invalid
 * UTF-8 bytes written as <0xNN>. */
void cli_json_string(FILE *out, const char *s, size_t length);



/* A model, its tokenizer and the encoded text, as most commands need them. */
typedef struct cli_input {
    char *directory;
    loupe_model *model;         /* NULL when not asked for */
    loupe_tokenizer *tokenizer;
    char *text;
    size_t text_length;
    int32_t *ids;               /* (n_ids) */
    size_t n_ids;
} cli_input;

/* Reads the text, finds the model folder, opens the tokenizer (and the model
 * when need_model) and encodes the text; an empty text is refused. Returns 0,
 * or prints an error, frees what it made and returns CLI_EXIT_FAILURE. */
int cli_input_load(const char *model_option, const char *file_path, int n_words, char **words,
                   bool need_model, cli_input *input);
void cli_input_free(cli_input *input);
#endif
