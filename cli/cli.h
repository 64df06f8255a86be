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
int cmd_corpus_merge(int argc, char **argv);
int cmd_count(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_train_lens(int argc, char **argv);
int cmd_finetune(int argc, char **argv);

/* Prints "loupe: <message>" on stderr. */
void cli_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Prints a loupe_error and returns CLI_EXIT_FAILURE. */
int cli_fail(const loupe_error *error);

/* --tuned LENSDIR of `loupe lens` and `loupe corpus` (tuned_option.c):
 * opens the tuned lens for the model into *lens_out (NULL, and nothing
 * done, when directory is NULL); with --subblocks a usage error. Returns
 * an exit status, 0 on success, the message printed. */
int cli_tuned_open(const char *directory, bool subblocks, const loupe_model *model, loupe_tuned_lens **lens_out);
/* "tuned" with a tuned lens, else "logit": the lens's name in the JSON. */
const char *cli_lens_kind(const loupe_tuned_lens *lens);
/* model_name, followed by ", tuned lens" with one, into buffer (capacity
 * bytes): the name the pictures' titles start with. Returns buffer. */
char *cli_lens_titled(const char *model_name, bool tuned, char *buffer, size_t capacity);

/* The model folder to use: `requested` if not NULL, else $LOUPE_MODEL, else
 * the embedded gpt2-demo found relative to the executable or the install
 * prefix (never the current directory). Caller frees; NULL with a message
 * printed when none is found. */
char *cli_model_directory(const char *requested);

/* Parses a whole decimal integer in [min, max]; false with a message naming
 * the option otherwise. */
bool cli_parse_int(const char *option, const char *text, long min, long max, long *value);
bool cli_parse_float(const char *option, const char *text, double min, double max, double *value);

/* Writes length bytes of s as valid UTF-8: a byte that starts no valid
 * character is written as <0xNN>. With json_escape, quotes, backslashes and
 * control characters are escaped for a JSON string's contents. */
void cli_write_text(FILE *out, const char *s, size_t length, bool json_escape);

/* Writes s as a JSON string literal (quotes and escapes included), invalid
 * UTF-8 bytes written as <0xNN>. */
void cli_json_string(FILE *out, const char *s, size_t length);

/* Writes value as a JSON number with %.9g (it round-trips a float32), or
 * null when it is not finite. */
void cli_json_number(FILE *out, double value);



/* Where the text comes from and how it becomes ids: the options that every
 * command reading a text shares (tokenize, next, generate, lens). */
typedef struct cli_text_options {
    const char *file;  /* --file PATH */
    const char *ids;   /* --ids LIST: token ids instead of a text */
    bool keep_newline; /* --keep-newline: keep the trailing newline of a file or stdin */
    bool no_special;   /* --no-special: special tokens in the text are plain text, none added */
    bool bos;          /* --bos: the BOS token first */
} cli_text_options;

/* getopt_long values of the shared options but --file, and their entries
 * for a struct option table. */
enum { CLI_OPTION_KEEP_NEWLINE = 0x100, CLI_OPTION_NO_SPECIAL, CLI_OPTION_IDS, CLI_OPTION_BOS };
#define CLI_TEXT_LONG_OPTIONS                                                                          \
    {"keep-newline", no_argument, NULL, CLI_OPTION_KEEP_NEWLINE},                                      \
        {"no-special", no_argument, NULL, CLI_OPTION_NO_SPECIAL},                                      \
        {"ids", required_argument, NULL, CLI_OPTION_IDS}, {"bos", no_argument, NULL, CLI_OPTION_BOS}

/* Records the shared option `option` (a CLI_OPTION_* with its argument) in
 * *text; false when option is none of them. */
bool cli_text_option(int option, const char *argument, cli_text_options *text);

/* How cli_input_load works. */
enum {
    CLI_INPUT_MODEL = 1 << 0,       /* also open the model */
    CLI_INPUT_ALLOW_EMPTY = 1 << 1, /* accept a text of no tokens */
};

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

/* Reads the text (the positional arguments joined by spaces, else the file
 * text->file, else standard input when it is not a terminal; one trailing
 * "\n" or "\r\n" of a file or stdin dropped unless text->keep_newline),
 * finds the model folder, opens the tokenizer (and the model with
 * CLI_INPUT_MODEL) and encodes the text, matching special tokens unless
 * text->no_special. With text->ids the ids are checked against the
 * vocabulary instead and the text is their decoding. text->bos puts the BOS
 * id first. A text of no tokens is refused unless CLI_INPUT_ALLOW_EMPTY.
 * Returns 0, or prints an error, frees what it made and returns
 * CLI_EXIT_FAILURE. */
int cli_input_load(const char *model_option, const cli_text_options *text, int n_words, char **words,
                   unsigned flags, cli_input *input);
void cli_input_free(cli_input *input);

/* The tokens to follow, as given with --track (track_tokens.c): each a
 * token's text or, when all digits, its id. */
typedef struct cli_track_list {
    const char *texts[LOUPE_LENS_MAX_TRACK]; /* (count) as typed */
    int32_t ids[LOUPE_LENS_MAX_TRACK];       /* (count) filled by cli_track_resolve */
    int count;
} cli_track_list;

/* Appends one --track argument; false with a message when the list is full. */
bool cli_track_add(const char *text, cli_track_list *list);

/* Turns every text of the list into its id: digits are an id, which must be
 * below n_vocab; any other text is encoded (special tokens matched, none
 * added) and must be exactly one token. False with a message naming the
 * argument otherwise. */
bool cli_track_resolve(const loupe_tokenizer *tokenizer, int n_vocab, cli_track_list *list);
#endif
