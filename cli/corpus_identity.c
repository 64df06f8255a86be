/*
 * corpus_identity.c - see corpus_identity.h. Values that may hold any byte
 * (separators, token texts) are written in hexadecimal; paths are "info."
 * keys, which states from different machines may differ in.
 */
#define _GNU_SOURCE
#include "corpus_identity.h"

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "loupe_internal.h"

enum { INPUT_HASH_BYTES = 1 << 20 };

/* Appends one "key=value" line, printf-style. */
static void add_line(byte_writer *out, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void add_line(byte_writer *out, const char *format, ...) {
    char line[8192];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (n < 0 || (size_t)n >= sizeof line) {
        out->failed = true;
        return;
    }
    byte_writer_bytes(out, line, (size_t)n);
    byte_writer_u8(out, '\n');
}

/* length bytes as lowercase hex into buffer (2 length + 1 bytes). */
static void to_hex(const char *bytes, size_t length, char *buffer) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < length; i++) {
        buffer[2 * i] = digits[(unsigned char)bytes[i] >> 4];
        buffer[2 * i + 1] = digits[(unsigned char)bytes[i] & 15];
    }
    buffer[2 * length] = '\0';
}

/* The hex text back into bytes (at most capacity); the length, or -1 when
 * it is not hex. */
static long from_hex(const char *hex, char *bytes, size_t capacity) {
    size_t n = strlen(hex);
    if (n % 2 != 0 || n / 2 > capacity) return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned value = 0;
        if (sscanf(hex + 2 * i, "%2x", &value) != 1) return -1;
        bytes[i] = (char)value;
    }
    return (long)(n / 2);
}

/* Extends hash by a file's name, size and bytes; false with a message. */
static bool hash_file(const char *path, const char *name, uint64_t *hash) {
    file_map map;
    loupe_error error;
    if (file_map_open(path, &map, &error) != LOUPE_OK) {
        cli_fail(&error);
        return false;
    }
    uint64_t size = map.size;
    *hash = string_hash_extend(*hash, name, strlen(name) + 1);
    *hash = string_hash_extend(*hash, &size, sizeof size);
    *hash = string_hash_extend(*hash, map.data, map.size);
    file_map_close(&map);
    return true;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The hash of the regular files of a folder whose names end with `suffix`
 * ("" for all), in name order; false with a message. */
static bool hash_folder(const char *directory, const char *suffix, uint64_t *hash) {
    *hash = STRING_HASH_START;
    DIR *folder = opendir(directory);
    if (folder == NULL) {
        cli_error("%s: cannot open the folder to hash it", directory);
        return false;
    }
    char **names = NULL;
    size_t n = 0, capacity = 0;
    bool ok = true;
    struct dirent *entry;
    while (ok && (entry = readdir(folder)) != NULL) {
        size_t length = strlen(entry->d_name), suffix_length = strlen(suffix);
        if (entry->d_name[0] == '.' || length < suffix_length ||
            strcmp(entry->d_name + length - suffix_length, suffix) != 0)
            continue;
        char *path = path_join(directory, entry->d_name);
        if (path == NULL || !path_is_file(path)) {
            free(path);
            continue;
        }
        free(path);
        if (n == capacity) {
            capacity = capacity ? 2 * capacity : 16;
            char **grown = realloc(names, capacity * sizeof *names);
            ok = grown != NULL;
            if (ok) names = grown;
        }
        if (ok) ok = (names[n] = strdup(entry->d_name)) != NULL && ++n;
    }
    closedir(folder);
    if (ok) qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 0; ok && i < n; i++) {
        char *path = path_join(directory, names[i]);
        ok = path != NULL && hash_file(path, names[i], hash);
        free(path);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return ok;
}

/* "SIZE:HASH" of an input: its size and the hash of its first MiB
 * ("stdin" for standard input, whose bytes cannot be read twice). */
static bool input_identity(const char *path, char *buffer, size_t capacity) {
    if (strcmp(path, "-") == 0) {
        snprintf(buffer, capacity, "stdin");
        return true;
    }
    FILE *file = fopen(path, "rb");
    struct stat info;
    if (file == NULL || fstat(fileno(file), &info) != 0) {
        if (file) fclose(file);
        cli_error("%s: cannot open the corpus file", path);
        return false;
    }
    char *head = malloc(INPUT_HASH_BYTES);
    size_t n = head ? fread(head, 1, INPUT_HASH_BYTES, file) : 0;
    snprintf(buffer, capacity, "%lld:%016llx", (long long)info.st_size,
             (unsigned long long)string_hash(head ? head : "", n));
    free(head);
    fclose(file);
    return true;
}

char *corpus_identity_build(const corpus_report *report) {
    const loupe_model_info *info = report->info;
    byte_writer out;
    byte_writer_init(&out);
    uint64_t config = STRING_HASH_START, weights;
    char *config_path = path_join(info->directory, "config.json");
    bool ok = config_path != NULL && hash_file(config_path, "config.json", &config) &&
              hash_folder(info->directory, ".safetensors", &weights);
    free(config_path);
    if (!ok) return NULL;
    add_line(&out, "model.type=%s", info->model_type);
    add_line(&out, "model.activation=%s", info->activation);
    add_line(&out, "model.n_layer=%d", info->n_layer);
    add_line(&out, "model.n_vocab=%d", info->n_vocab);
    add_line(&out, "model.n_ctx=%d", info->n_ctx);
    add_line(&out, "model.config=%016llx", (unsigned long long)config);
    add_line(&out, "model.weights=%016llx", (unsigned long long)weights);
    add_line(&out, "info.model.directory=%s", info->directory);
    if (report->tuned_directory != NULL) {
        uint64_t tuned;
        if (!hash_folder(report->tuned_directory, "", &tuned)) {
            byte_writer_free(&out);
            return NULL;
        }
        add_line(&out, "lens=tuned");
        add_line(&out, "lens.files=%016llx", (unsigned long long)tuned);
        add_line(&out, "info.lens.directory=%s", report->tuned_directory);
    } else {
        add_line(&out, "lens=logit");
    }
    add_line(&out, "window.context=%d", report->windows.context);
    add_line(&out, "window.stride=%d", report->windows.stride);
    add_line(&out, "window.min_context=%d", report->windows.min_context);
    add_line(&out, "max_tokens=%lld", (long long)report->max_tokens);
    add_line(&out, "subblocks=%d", report->subblocks);
    const loupe_corpus_stats_params *stats = &report->stats_params;
    add_line(&out, "stats.exact_limit=%d", stats->exact_limit);
    add_line(&out, "stats.sketch_error=%.17g", stats->sketch_error);
    add_line(&out, "stats.reservoir_size=%d", stats->reservoir_size);
    add_line(&out, "stats.seed=%llu", (unsigned long long)stats->seed);
    add_line(&out, "stats.frequency_base=%.17g", stats->frequency_base);
    add_line(&out, "counts=%s", report->counts_path ? "given" : "none");
    if (report->counts_path) add_line(&out, "info.counts.path=%s", report->counts_path);
    char list[LOUPE_LENS_MAX_TRACK * 12 + 1] = "";
    for (int k = 0; k < report->n_track; k++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", k ? "," : "", (int)report->track_ids[k]);
    add_line(&out, "track=%s", list);
    for (int k = 0; k < report->n_track; k++) {
        char hex[2 * sizeof report->track_text[0] + 1];
        to_hex(report->track_text[k], report->track_text_length[k], hex);
        add_line(&out, "info.track.%d.text=%s", k, hex);
        to_hex(report->track_rendered[k], strlen(report->track_rendered[k]), hex);
        add_line(&out, "info.track.%d.rendered=%s", k, hex);
    }
    const corpus_source *source = report->source;
    static const char *const formats[] = {"auto", "plain", "jsonl"};
    add_line(&out, "reader.format=%s", formats[source->reader.format]);
    if (source->reader.separator != NULL) {
        size_t length = strlen(source->reader.separator);
        char *hex = malloc(2 * length + 1);
        if (hex != NULL) {
            to_hex(source->reader.separator, length, hex);
            add_line(&out, "reader.separator=%s", hex);
        } else {
            out.failed = true;
        }
        free(hex);
    } else {
        add_line(&out, "reader.separator=none");
    }
    add_line(&out, "reader.strict=%d", source->reader.strict);
    add_line(&out, "inputs=%d", source->n_paths);
    for (int i = 0; i < source->n_paths && !out.failed; i++) {
        char identity[64];
        if (!input_identity(source->paths[i], identity, sizeof identity)) {
            byte_writer_free(&out);
            return NULL;
        }
        add_line(&out, "input.%d=%s", i, identity);
        add_line(&out, "info.input.%d.path=%s", i, source->paths[i]);
    }
    byte_writer_u8(&out, '\0');
    if (out.failed) {
        byte_writer_free(&out);
        cli_error("out of memory, or a path of more than 8 KB, in the corpus state");
        return NULL;
    }
    return (char *)out.data;
}

/* ------------------------------------------------------------------------
 * A report from a state
 * ---------------------------------------------------------------------- */

/* The value of key into buffer; false with a message naming the state. */
static bool need(const corpus_state *state, const char *name, const char *key, char *buffer, size_t capacity) {
    if (corpus_state_value(state, key, buffer, capacity)) return true;
    cli_error("%s: the corpus state has no '%s'", name, key);
    return false;
}

/* An integer value of key in [min, max]. */
static bool need_long(const corpus_state *state, const char *name, const char *key, long min, long max,
                      long *value) {
    char text[64], *end;
    if (!need(state, name, key, text, sizeof text)) return false;
    *value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || *value < min || *value > max) {
        cli_error("%s: the corpus state's '%s' is '%s', not a number from %ld to %ld", name, key, text, min, max);
        return false;
    }
    return true;
}

/* A floating value of key. */
static bool need_double(const corpus_state *state, const char *name, const char *key, double *value) {
    char text[64], *end;
    if (!need(state, name, key, text, sizeof text)) return false;
    *value = strtod(text, &end);
    if (end == text || *end != '\0') {
        cli_error("%s: the corpus state's '%s' is '%s', not a number", name, key, text);
        return false;
    }
    return true;
}

/* The model, windows and options of the report. */
static bool read_options(const corpus_state *state, const char *name, corpus_report *report,
                         corpus_identity_storage *storage) {
    long n_layer, n_vocab, n_ctx, context, stride, min_context, max_tokens, subblocks, exact_limit, reservoir, seed;
    double sketch_error, frequency_base;
    char lens[16], counts[16];
    if (!need(state, name, "info.model.directory", storage->directory, sizeof storage->directory) ||
        !need(state, name, "model.activation", storage->activation, sizeof storage->activation) ||
        !need_long(state, name, "model.n_layer", 1, 1 << 16, &n_layer) ||
        !need_long(state, name, "model.n_vocab", 1, 1 << 30, &n_vocab) ||
        !need_long(state, name, "model.n_ctx", 2, 1 << 30, &n_ctx) ||
        !need_long(state, name, "window.context", 2, 1 << 30, &context) ||
        !need_long(state, name, "window.stride", 1, 1 << 30, &stride) ||
        !need_long(state, name, "window.min_context", 0, 1 << 30, &min_context) ||
        !need_long(state, name, "max_tokens", 0, LONG_MAX, &max_tokens) ||
        !need_long(state, name, "subblocks", 0, 1, &subblocks) ||
        !need_long(state, name, "stats.exact_limit", 0, 1 << 26, &exact_limit) ||
        !need_long(state, name, "stats.reservoir_size", 4, 1 << 24, &reservoir) ||
        !need_long(state, name, "stats.seed", 0, LONG_MAX, &seed) ||
        !need_double(state, name, "stats.sketch_error", &sketch_error) ||
        !need_double(state, name, "stats.frequency_base", &frequency_base) ||
        !need(state, name, "lens", lens, sizeof lens) || !need(state, name, "counts", counts, sizeof counts))
        return false;
    storage->info = (loupe_model_info){.directory = storage->directory, .activation = storage->activation,
                                       .n_layer = (int)n_layer, .n_vocab = (int)n_vocab, .n_ctx = (int)n_ctx};
    report->info = &storage->info;
    report->windows = (loupe_corpus_window_params){(int)context, (int)stride, (int)min_context};
    report->max_tokens = max_tokens;
    report->subblocks = subblocks;
    report->stats_params = loupe_corpus_stats_default_params();
    report->stats_params.exact_limit = (int)exact_limit;
    report->stats_params.sketch_error = sketch_error;
    report->stats_params.reservoir_size = (int)reservoir;
    report->stats_params.seed = (uint64_t)seed;
    report->stats_params.frequency_base = frequency_base;
    report->tuned_directory = NULL;
    if (strcmp(lens, "tuned") == 0) {
        if (!need(state, name, "info.lens.directory", storage->tuned, sizeof storage->tuned)) return false;
        report->tuned_directory = storage->tuned;
    }
    report->counts_path = NULL;
    if (strcmp(counts, "given") == 0) {
        if (!need(state, name, "info.counts.path", storage->counts, sizeof storage->counts)) return false;
        report->counts_path = storage->counts;
    }
    return true;
}

/* The tracked tokens: ids, texts and renderings. */
static bool read_tracked(const corpus_state *state, const char *name, corpus_report *report,
                         corpus_identity_storage *storage) {
    char list[LOUPE_LENS_MAX_TRACK * 12 + 1], key[64], hex[2 * sizeof report->track_text[0] + 1];
    if (!need(state, name, "track", list, sizeof list)) return false;
    report->n_track = 0;
    for (char *cursor = list; *cursor != '\0';) {
        char *end;
        long id = strtol(cursor, &end, 10);
        if (end == cursor || id < 0 || id >= report->info->n_vocab || report->n_track == LOUPE_LENS_MAX_TRACK ||
            (*end != ',' && *end != '\0')) {
            cli_error("%s: the corpus state's 'track' is not a list of token ids", name);
            return false;
        }
        storage->track_ids[report->n_track++] = (int32_t)id;
        cursor = *end ? end + 1 : end;
    }
    report->track_ids = storage->track_ids;
    for (int k = 0; k < report->n_track; k++) {
        snprintf(key, sizeof key, "info.track.%d.text", k);
        long length = need(state, name, key, hex, sizeof hex)
                          ? from_hex(hex, report->track_text[k], sizeof report->track_text[k])
                          : -2;
        snprintf(key, sizeof key, "info.track.%d.rendered", k);
        long rendered = length >= 0 && need(state, name, key, hex, sizeof hex)
                            ? from_hex(hex, report->track_rendered[k], sizeof report->track_rendered[k] - 1)
                            : -2;
        if (length == -1 || rendered == -1) cli_error("%s: the corpus state's '%s' is not hexadecimal", name, key);
        if (length < 0 || rendered < 0) return false;
        report->track_text_length[k] = (size_t)length;
        report->track_rendered[k][rendered] = '\0';
    }
    return true;
}

int corpus_identity_report(const corpus_state *state, const char *name, corpus_report *report,
                           corpus_identity_storage *storage) {
    memset(storage, 0, sizeof *storage);
    long n_paths;
    if (!read_options(state, name, report, storage) || !read_tracked(state, name, report, storage) ||
        !need_long(state, name, "inputs", 1, 1 << 20, &n_paths))
        return CLI_EXIT_FAILURE;
    storage->paths = calloc((size_t)n_paths, sizeof *storage->paths);
    if (!corpus_report_set_rows(report, report->info->n_layer)) return CLI_EXIT_FAILURE;
    if (storage->paths == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    storage->n_paths = (int)n_paths;
    for (int i = 0; i < storage->n_paths; i++) {
        char key[64], path[4096];
        snprintf(key, sizeof key, "info.input.%d.path", i);
        if (!need(state, name, key, path, sizeof path)) return CLI_EXIT_FAILURE;
        if ((storage->paths[i] = strdup(path)) == NULL) {
            cli_error("out of memory");
            return CLI_EXIT_FAILURE;
        }
    }
    storage->source.paths = storage->paths;
    storage->source.n_paths = storage->n_paths;
    report->source = &storage->source;
    report->documents = state->documents;
    report->n_windows = state->windows;
    report->positions = state->positions;
    report->skipped_lines = state->skipped_lines;
    report->seconds = state->seconds;
    report->partial = state->partial;
    return 0;
}

void corpus_identity_storage_free(corpus_identity_storage *storage, corpus_report *report) {
    for (int i = 0; i < storage->n_paths; i++) free(storage->paths[i]);
    free(storage->paths);
    storage->paths = NULL;
    storage->n_paths = 0;
    free(report->row_names);
    report->row_names = NULL;
}
