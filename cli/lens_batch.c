/*
 * lens_batch.c - `loupe lens --batch PROMPTS.jsonl`: the lens of many
 * prompts with the model loaded once. Each line of the file is one prompt,
 * {"text": "..."} or {"ids": [...]}, with an optional "id" (a string or a
 * number) that is echoed; each prompt's lens is written as one line of
 * JSON, the document `loupe lens --format json` writes for it (with "id"
 * first when the line has one). Prompts are gathered into packs of about
 * LENS_BATCH_PACK_TOKENS tokens, and each pack runs through
 * loupe_lens_run_batch, which sweeps the pack's positions over the
 * vocabulary together. A bad line is a warning naming the file and line,
 * and skipped; with --strict it is an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lens_batch.h"
#include "loupe_internal.h"

/* Tokens gathered before a pack runs: some twenty blocks of the lens's
 * positions, few enough that the pack's taps stay small. */
enum { LENS_BATCH_PACK_TOKENS = 512 };

/* One prompt read from the file. */
typedef struct batch_prompt {
    int32_t *ids;  /* (n) */
    int n;
    char *id_json; /* the line's "id" as JSON, or NULL */
} batch_prompt;

/* The prompts waiting to run. */
typedef struct batch_pack {
    batch_prompt *prompts; /* (count) of capacity */
    int count, capacity;
    int n_tokens; /* their tokens together */
} batch_pack;

/* What every line needs. */
typedef struct batch_context {
    const lens_batch_options *options;
    const char *path;
    loupe_model *model;
    loupe_tokenizer *tokenizer;
    loupe_model_info info;
    lens_view view; /* rows and the model; result and positions set per prompt */
    int n_vocab;    /* ids below both the tokenizer's and the model's vocabulary */
} batch_context;

/* ------------------------------------------------------------------------
 * Reading one line
 * ---------------------------------------------------------------------- */

/* Reports a bad line: a warning, or with --strict an error. Returns false
 * when the run must stop. */
static bool bad_line(const batch_context *context, int64_t line, const char *message) {
    if (context->options->strict) {
        cli_error("%s:%lld: %s", context->path, (long long)line, message);
        return false;
    }
    fprintf(stderr, "loupe: warning: %s:%lld: %s (skipped)\n", context->path, (long long)line, message);
    return true;
}

/* The ids of an "ids" array into prompt; false with the reason in message. */
static bool read_ids(const batch_context *context, const cJSON *array, batch_prompt *prompt, char *message,
                     size_t capacity) {
    int n = cJSON_GetArraySize(array);
    prompt->ids = malloc((size_t)(n > 0 ? n : 1) * sizeof *prompt->ids);
    if (prompt->ids == NULL) {
        snprintf(message, capacity, "out of memory for %d ids", n);
        return false;
    }
    int k = 0;
    for (const cJSON *item = array->child; item != NULL; item = item->next, k++) {
        uint64_t id = 0;
        if (!json_get_natural(item, &id) || id >= (uint64_t)context->n_vocab ||
            loupe_tokenizer_token_bytes(context->tokenizer, (int32_t)id, NULL) == NULL) {
            snprintf(message, capacity, "ids[%d]: expected a token id from 0 to %d", k, context->n_vocab - 1);
            return false;
        }
        prompt->ids[k] = (int32_t)id;
    }
    prompt->n = n;
    return true;
}

/* The ids of a "text" into prompt, encoded as `loupe lens` encodes a text. */
static bool encode_text(const batch_context *context, const cJSON *text, batch_prompt *prompt, char *message,
                        size_t capacity) {
    loupe_encode_params params = loupe_encode_default_params();
    params.match_special = !context->options->no_special;
    params.add_special = !context->options->no_special;
    int32_t *ids = NULL;
    size_t count = 0;
    loupe_error error;
    const char *string = cJSON_GetStringValue(text);
    if (loupe_tokenizer_encode_with_params(context->tokenizer, string, strlen(string), &params, &ids, &count, &error) !=
        LOUPE_OK) {
        snprintf(message, capacity, "%s", error.message);
        return false;
    }
    prompt->ids = malloc((count > 0 ? count : 1) * sizeof *prompt->ids);
    if (prompt->ids != NULL && count > 0) memcpy(prompt->ids, ids, count * sizeof *ids);
    loupe_free(ids);
    if (prompt->ids == NULL) {
        snprintf(message, capacity, "out of memory for %zu ids", count);
        return false;
    }
    prompt->n = (int)count;
    return true;
}

/* Puts the BOS id first (--bos). */
static bool prepend_bos(const batch_context *context, batch_prompt *prompt, char *message, size_t capacity) {
    int32_t *with_bos = realloc(prompt->ids, ((size_t)prompt->n + 1) * sizeof *with_bos);
    if (with_bos == NULL) {
        snprintf(message, capacity, "out of memory");
        return false;
    }
    memmove(with_bos + 1, with_bos, (size_t)prompt->n * sizeof *with_bos);
    with_bos[0] = loupe_tokenizer_bos_id(context->tokenizer);
    prompt->ids = with_bos;
    prompt->n++;
    return true;
}

/* Parses one line into prompt; false with the reason in message. */
static bool parse_line(const batch_context *context, const char *text, size_t length, int64_t line,
                       batch_prompt *prompt, char *message, size_t capacity) {
    memset(prompt, 0, sizeof *prompt);
    char where[LOUPE_ERROR_MESSAGE_CAPACITY / 2];
    snprintf(where, sizeof where, "%s:%lld", context->path, (long long)line);
    cJSON *root = NULL;
    loupe_error error;
    if (json_parse(text, length, where, &root, &error) != LOUPE_OK) {
        /* its message starts with `where` */
        snprintf(message, capacity, "%s", error.message + strlen(where) + 2);
        return false;
    }
    const cJSON *text_item = cJSON_GetObjectItemCaseSensitive(root, "text");
    const cJSON *ids_item = cJSON_GetObjectItemCaseSensitive(root, "ids");
    const cJSON *id_item = cJSON_GetObjectItemCaseSensitive(root, "id");
    bool ok = false;
    if (!cJSON_IsObject(root) || (text_item == NULL) == (ids_item == NULL) ||
        (text_item != NULL && !cJSON_IsString(text_item)) || (ids_item != NULL && !cJSON_IsArray(ids_item)))
        snprintf(message, capacity, "expected an object with either \"text\" (a string) or \"ids\" (an array of token ids)");
    else if (id_item != NULL && !cJSON_IsString(id_item) && !cJSON_IsNumber(id_item))
        snprintf(message, capacity, "\"id\" is %s, expected a string or a number", json_type_name(id_item));
    else if (text_item != NULL)
        ok = encode_text(context, text_item, prompt, message, capacity);
    else
        ok = read_ids(context, ids_item, prompt, message, capacity);
    if (ok && context->options->bos) ok = prepend_bos(context, prompt, message, capacity);
    if (ok && prompt->n == 0) {
        snprintf(message, capacity, "the prompt has no tokens");
        ok = false;
    } else if (ok && prompt->n > context->info.n_ctx) {
        snprintf(message, capacity, "%d tokens are more than the model's context of %d", prompt->n,
                 context->info.n_ctx);
        ok = false;
    }
    if (ok && id_item != NULL) {
        prompt->id_json = cJSON_PrintUnformatted(id_item);
        if (prompt->id_json == NULL) {
            snprintf(message, capacity, "out of memory");
            ok = false;
        }
    }
    cJSON_Delete(root);
    if (!ok) {
        free(prompt->ids);
        prompt->ids = NULL;
    }
    return ok;
}

/* ------------------------------------------------------------------------
 * Running a pack and writing its lines
 * ---------------------------------------------------------------------- */

/* Writes the JSON document text (length) on one line: the newlines of the
 * layout and the spaces that indent after them dropped (JSON strings hold
 * no raw newline), "id" first when the prompt has one. */
static void write_line(FILE *out, const char *text, size_t length, const char *id_json) {
    size_t at = 0;
    if (id_json != NULL && length > 0 && text[0] == '{') {
        fprintf(out, "{\"id\": %s, ", id_json);
        at = 1;
    }
    for (; at < length; at++) {
        if (text[at] == '\n') {
            while (at + 1 < length && text[at + 1] == ' ') at++;
            continue;
        }
        fputc(text[at], out);
    }
    fputc('\n', out);
}

static void pack_clear(batch_pack *pack) {
    for (int k = 0; k < pack->count; k++) {
        free(pack->prompts[k].ids);
        cJSON_free(pack->prompts[k].id_json);
    }
    pack->count = 0;
    pack->n_tokens = 0;
}

/* Runs the pack's prompts and writes their lines in order; empties it.
 * Returns 0, or CLI_EXIT_FAILURE with the error printed. */
static int pack_run(batch_context *context, batch_pack *pack) {
    if (pack->count == 0) return 0;
    const int32_t **ids = malloc((size_t)pack->count * sizeof *ids);
    int *n_tokens = malloc((size_t)pack->count * sizeof *n_tokens);
    loupe_lens_result **results = calloc((size_t)pack->count, sizeof *results);
    int status = 0;
    if (ids == NULL || n_tokens == NULL || results == NULL) {
        cli_error("out of memory for a pack of %d prompts", pack->count);
        status = CLI_EXIT_FAILURE;
    }
    loupe_lens_params params = loupe_lens_default_params();
    params.topk = context->options->topk;
    params.subblocks = context->options->subblocks;
    params.precision = context->options->precision;
    loupe_error error;
    if (status == 0) {
        for (int k = 0; k < pack->count; k++) ids[k] = pack->prompts[k].ids, n_tokens[k] = pack->prompts[k].n;
        if (loupe_lens_run_batch(context->model, ids, n_tokens, pack->count, &params, results, &error) != LOUPE_OK)
            status = cli_fail(&error);
    }
    for (int k = 0; k < pack->count && status == 0; k++) {
        char *document = NULL;
        size_t length = 0;
        FILE *memory = open_memstream(&document, &length);
        if (memory == NULL) {
            cli_error("out of memory");
            status = CLI_EXIT_FAILURE;
            break;
        }
        context->view.result = results[k];
        context->view.positions = (lens_window){0, n_tokens[k]};
        lens_json_print(memory, &context->view);
        fclose(memory);
        write_line(stdout, document, length, pack->prompts[k].id_json);
        free(document);
    }
    if (results != NULL)
        for (int k = 0; k < pack->count; k++) loupe_lens_free(results[k]);
    free(results);
    free(n_tokens);
    free(ids);
    pack_clear(pack);
    return status;
}

/* Adds a prompt to the pack (taking its memory), running the pack first
 * when the prompt would make it larger than a pack should be. */
static int pack_add(batch_context *context, batch_pack *pack, batch_prompt *prompt) {
    int status = 0;
    if (pack->count > 0 && pack->n_tokens + prompt->n > LENS_BATCH_PACK_TOKENS) status = pack_run(context, pack);
    if (status == 0 && pack->count == pack->capacity) {
        int capacity = pack->capacity ? 2 * pack->capacity : 64;
        batch_prompt *grown = realloc(pack->prompts, (size_t)capacity * sizeof *grown);
        if (grown == NULL) {
            cli_error("out of memory");
            status = CLI_EXIT_FAILURE;
        } else {
            pack->prompts = grown;
            pack->capacity = capacity;
        }
    }
    if (status != 0) {
        free(prompt->ids);
        cJSON_free(prompt->id_json);
        return status;
    }
    pack->prompts[pack->count++] = *prompt;
    pack->n_tokens += prompt->n;
    return 0;
}

/* Reads the file line by line, running packs as they fill. */
static int run_file(batch_context *context, FILE *file) {
    batch_pack pack = {0};
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    int64_t number = 0;
    int status = 0;
    int64_t skipped = 0;
    while (status == 0 && (length = getline(&line, &capacity, file)) >= 0) {
        number++;
        size_t used = (size_t)length;
        while (used > 0 && (line[used - 1] == '\n' || line[used - 1] == '\r')) used--;
        if (strspn(line, " \t") >= used) continue; /* a blank line */
        char message[LOUPE_ERROR_MESSAGE_CAPACITY];
        batch_prompt prompt;
        if (parse_line(context, line, used, number, &prompt, message, sizeof message))
            status = pack_add(context, &pack, &prompt);
        else if (bad_line(context, number, message))
            skipped++;
        else
            status = CLI_EXIT_FAILURE;
    }
    if (status == 0 && ferror(file)) {
        cli_error("%s: cannot read: %s", context->path, strerror(errno));
        status = CLI_EXIT_FAILURE;
    }
    if (status == 0) status = pack_run(context, &pack);
    pack_clear(&pack);
    free(pack.prompts);
    free(line);
    return status;
}

int lens_batch_command(const lens_batch_options *options) {
    batch_context context = {.options = options, .path = options->path};
    FILE *file = fopen(options->path, "rb");
    if (file == NULL) {
        cli_error("%s: cannot open: %s", options->path, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    char *directory = cli_model_directory(options->model);
    int status = directory ? 0 : CLI_EXIT_FAILURE;
    loupe_error error;
    if (status == 0 && loupe_tokenizer_open(directory, &context.tokenizer, &error) != LOUPE_OK)
        status = cli_fail(&error);
    if (status == 0 && options->bos && loupe_tokenizer_bos_id(context.tokenizer) < 0) {
        cli_error("--bos: the tokenizer of %s has no BOS token", directory);
        status = CLI_EXIT_FAILURE;
    }
    if (status == 0 && loupe_model_open(directory, &context.model, &error) != LOUPE_OK) status = cli_fail(&error);
    if (status == 0) {
        loupe_model_get_info(context.model, &context.info);
        int n_vocab = loupe_tokenizer_vocab_size(context.tokenizer);
        context.n_vocab = n_vocab < context.info.n_vocab ? n_vocab : context.info.n_vocab;
        int n_rows = loupe_lens_row_count(context.info.n_layer, options->subblocks);
        context.view = (lens_view){.tokenizer = context.tokenizer, .info = &context.info, .topk = options->topk,
                                   .subblocks = options->subblocks};
        if (!lens_slice_resolve("--layers", &options->rows, n_rows, &context.view.rows)) status = CLI_EXIT_USAGE;
    }
    if (status == 0) status = run_file(&context, file);
    fclose(file);
    loupe_model_close(context.model);
    loupe_tokenizer_close(context.tokenizer);
    free(directory);
    return status;
}
