/*
 * pre_tokenizer.c - see pre_tokenizer.h.
 */
#include "tokenizer/pre_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "tokenizer/pretokenizer.h"
#include "util/error.h"

/* ------------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------- */

/* A true/false member: returns its value, or fallback when absent. */
static int bool_member(const cJSON *object, const char *name, int fallback, int *bad) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    if (item == NULL) return fallback;
    if (!cJSON_IsBool(item)) {
        *bad = 1;
        return fallback;
    }
    return cJSON_IsTrue(item);
}

static loupe_status add_step(pre_tokenizer *out, pre_tokenizer_step step, const char *path,
                             loupe_error *error) {
    pre_tokenizer_step *grown = realloc(out->steps, (out->count + 1) * sizeof *grown);
    if (grown == NULL) {
        split_regex_free(&step.pattern);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", path);
    }
    out->steps = grown;
    out->steps[out->count++] = step;
    return LOUPE_OK;
}

static loupe_status parse_split(const cJSON *json, const char *path, pre_tokenizer_step *step,
                                loupe_error *error) {
    static const char *const behaviors[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext",
                                            "Contiguous"};
    const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(json, "pattern");
    const char *literal = cJSON_IsObject(pattern) ? json_string_member(pattern, "String") : NULL;
    const char *regex = cJSON_IsObject(pattern) ? json_string_member(pattern, "Regex") : NULL;
    const char *behavior = json_string_member(json, "behavior");
    if (literal == NULL && regex == NULL)
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: pre_tokenizer Split: \"pattern\" must be {\"String\": ...} or {\"Regex\": ...}", path);
    if (behavior == NULL)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: pre_tokenizer Split: no \"behavior\"", path);
    size_t which = 0;
    while (which < 5 && strcmp(behavior, behaviors[which]) != 0) which++;
    if (which == 5)
        return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                         "%s: pre_tokenizer Split: behavior \"%s\" is not one of Removed, Isolated, "
                         "MergedWithPrevious, MergedWithNext, Contiguous", path, behavior);
    int bad = 0;
    step->kind = PRE_TOKENIZER_SPLIT;
    step->behavior = (split_behavior)which;
    step->invert = bool_member(json, "invert", 0, &bad);
    if (bad) return error_set(error, LOUPE_ERROR_FORMAT, "%s: pre_tokenizer Split: \"invert\" is not true/false", path);
    const char *source = literal ? literal : regex;
    if (source[0] == '\0')
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: pre_tokenizer Split: empty pattern", path);
    char where[256];
    snprintf(where, sizeof where, "%s: pre_tokenizer Split", path);
    return split_regex_compile(source, strlen(source), literal != NULL, where, &step->pattern, error);
}

static loupe_status parse_metaspace(const cJSON *json, const char *path, pre_tokenizer_step *step,
                                    loupe_error *error) {
    const char *replacement = json_string_member(json, "replacement");
    if (replacement == NULL) replacement = "\xE2\x96\x81"; /* U+2581 */
    size_t length = strlen(replacement);
    if (length == 0 || length >= sizeof step->replacement)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: pre_tokenizer Metaspace: \"replacement\" must be one character",
                         path);
    memcpy(step->replacement, replacement, length + 1);
    step->replacement_length = length;
    step->kind = PRE_TOKENIZER_METASPACE;
    int bad = 0;
    step->split = bool_member(json, "split", 1, &bad);
    const char *scheme = json_string_member(json, "prepend_scheme");
    if (scheme == NULL) {
        step->prepend = bool_member(json, "add_prefix_space", 1, &bad) ? PREPEND_ALWAYS : PREPEND_NEVER;
    } else if (strcmp(scheme, "always") == 0) {
        step->prepend = PREPEND_ALWAYS;
    } else if (strcmp(scheme, "first") == 0) {
        step->prepend = PREPEND_FIRST;
    } else if (strcmp(scheme, "never") == 0) {
        step->prepend = PREPEND_NEVER;
    } else {
        return error_set(error, LOUPE_ERROR_FORMAT,
                         "%s: pre_tokenizer Metaspace: prepend_scheme \"%s\" is not always, first or never", path,
                         scheme);
    }
    if (bad) return error_set(error, LOUPE_ERROR_FORMAT, "%s: pre_tokenizer Metaspace: a flag is not true/false", path);
    return LOUPE_OK;
}

static loupe_status parse_one(const cJSON *json, const char *path, int depth, pre_tokenizer *out,
                              loupe_error *error) {
    if (!cJSON_IsObject(json))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: pre_tokenizer: expected an object, found %s", path,
                         json_type_name(json));
    const char *type = json_string_member(json, "type");
    if (type == NULL) return error_set(error, LOUPE_ERROR_FORMAT, "%s: pre_tokenizer: no \"type\"", path);
    if (out->byte_level)
        return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                         "%s: pre_tokenizer: \"%s\" after ByteLevel is not supported (ByteLevel must come last)",
                         path, type);
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(json, "pretokenizers");
        if (!cJSON_IsArray(list))
            return error_set(error, LOUPE_ERROR_FORMAT,
                             "%s: pre_tokenizer Sequence: \"pretokenizers\" is not a list", path);
        if (depth > 8) return error_set(error, LOUPE_ERROR_LIMIT, "%s: pre_tokenizer: Sequences nested too deep", path);
        for (const cJSON *item = list->child; item; item = item->next) {
            loupe_status status = parse_one(item, path, depth + 1, out, error);
            if (status != LOUPE_OK) return status;
        }
        return LOUPE_OK;
    }
    pre_tokenizer_step step = {0};
    loupe_status status = LOUPE_OK;
    if (strcmp(type, "Split") == 0) {
        status = parse_split(json, path, &step, error);
    } else if (strcmp(type, "ByteLevel") == 0) {
        int bad = 0;
        step.kind = PRE_TOKENIZER_BYTE_LEVEL;
        step.add_prefix_space = bool_member(json, "add_prefix_space", 1, &bad);
        step.use_regex = bool_member(json, "use_regex", 1, &bad);
        if (bad) status = error_set(error, LOUPE_ERROR_FORMAT, "%s: pre_tokenizer ByteLevel: a flag is not true/false", path);
        out->byte_level = true;
    } else if (strcmp(type, "Metaspace") == 0) {
        status = parse_metaspace(json, path, &step, error);
    } else {
        return error_set(error, LOUPE_ERROR_UNSUPPORTED,
                         "%s: pre_tokenizer type \"%s\" is not supported (supported: Sequence, Split, ByteLevel, "
                         "Metaspace)", path, type);
    }
    if (status != LOUPE_OK) {
        split_regex_free(&step.pattern);
        return status;
    }
    return add_step(out, step, path, error);
}

loupe_status pre_tokenizer_parse(const cJSON *json, const char *path, pre_tokenizer *out,
                                 loupe_error *error) {
    *out = (pre_tokenizer){0};
    if (json == NULL || cJSON_IsNull(json)) return LOUPE_OK;
    loupe_status status = parse_one(json, path, 0, out, error);
    if (status != LOUPE_OK) pre_tokenizer_free(out);
    return status;
}

void pre_tokenizer_free(pre_tokenizer *chain) {
    if (chain == NULL) return;
    for (size_t i = 0; i < chain->count; i++) split_regex_free(&chain->steps[i].pattern);
    free(chain->steps);
    *chain = (pre_tokenizer){0};
}

void piece_list_free(piece_list *list) {
    byte_buffer_free(&list->text);
    free(list->ends);
    *list = (piece_list){0};
}

void pre_tokenizer_scratch_free(pre_tokenizer_scratch *scratch) {
    if (scratch == NULL) return;
    split_regex_scratch_free(&scratch->regex);
    piece_list_free(&scratch->spare);
    free(scratch->spans);
    *scratch = (pre_tokenizer_scratch){0};
}

/* ------------------------------------------------------------------------
 * Pieces
 * ---------------------------------------------------------------------- */

static loupe_status out_of_memory(loupe_error *error) {
    return error_set(error, LOUPE_ERROR_MEMORY, "tokenizer: out of memory while pre-tokenizing");
}

/* Ends the piece made of the bytes appended since the previous end; an
 * empty one is dropped. */
static int close_piece(piece_list *list) {
    size_t start = list->count ? list->ends[list->count - 1] : 0;
    if (list->text.length == start) return 0;
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 64;
        size_t *grown = realloc(list->ends, capacity * sizeof *grown);
        if (grown == NULL) return -1;
        list->ends = grown;
        list->capacity = capacity;
    }
    list->ends[list->count++] = list->text.length;
    return 0;
}

static int add_piece(piece_list *list, const char *bytes, size_t length) {
    return byte_buffer_append(&list->text, bytes, length) != 0 ? -1 : close_piece(list);
}

static void piece_list_clear(piece_list *list) {
    list->text.length = 0;
    list->count = 0;
}

/* ------------------------------------------------------------------------
 * Split: the matches, then the behaviour (Hugging Face's NormalizedString::split)
 * ---------------------------------------------------------------------- */

static int push_span(pre_tokenizer_scratch *scratch, size_t *count, size_t start, size_t end, bool is_match) {
    if (*count == scratch->span_capacity) {
        size_t capacity = scratch->span_capacity ? scratch->span_capacity * 2 : 64;
        struct split_span *grown = realloc(scratch->spans, capacity * sizeof *grown);
        if (grown == NULL) return -1;
        scratch->spans = grown;
        scratch->span_capacity = capacity;
    }
    scratch->spans[(*count)++] = (struct split_span){start, end, is_match};
    return 0;
}

/* The matches of the step's pattern in text, with the gaps between them:
 * spans (*count of them in scratch->spans) that tile the text, in order. */
static loupe_status find_spans(const pre_tokenizer_step *step, pre_tokenizer_scratch *scratch, const char *text,
                               size_t length, size_t *count, loupe_error *error) {
    size_t at = 0, start = 0, end = 0;
    *count = 0;
    for (;;) {
        int found = 0;
        loupe_status status =
            split_regex_find(&step->pattern, &scratch->regex, text, length, at, &found, &start, &end, error);
        if (status != LOUPE_OK) return status;
        if (!found) break;
        if ((start > at && push_span(scratch, count, at, start, false) != 0) ||
            push_span(scratch, count, start, end, true) != 0)
            return out_of_memory(error);
        at = end;
    }
    if (at < length && push_span(scratch, count, at, length, false) != 0) return out_of_memory(error);
    return LOUPE_OK;
}

/* Applies the behaviour to spans (count): afterwards spans[0 .. result)
 * are the pieces, is_match marking those to remove. */
static size_t apply_behavior(split_behavior behavior, struct split_span *spans, size_t count) {
    size_t kept = 0;
    bool previous_match = false;
    switch (behavior) {
    case SPLIT_ISOLATED:
        for (size_t i = 0; i < count; i++) spans[i].is_match = false;
        return count;
    case SPLIT_REMOVED:
        return count;
    case SPLIT_CONTIGUOUS:
    case SPLIT_MERGED_WITH_PREVIOUS:
        for (size_t i = 0; i < count; i++) {
            struct split_span span = spans[i];
            bool merge = behavior == SPLIT_CONTIGUOUS ? span.is_match == previous_match
                                                      : span.is_match && !previous_match;
            if (merge && kept > 0) {
                spans[kept - 1].end = span.end;
            } else {
                spans[kept++] = (struct split_span){span.start, span.end, false};
            }
            previous_match = span.is_match;
        }
        return kept;
    case SPLIT_MERGED_WITH_NEXT: {
        /* From the right: a match joins the piece after it. Built at the
         * back of the array, then moved to the front. */
        size_t front = count; /* spans[front .. count) are the pieces so far */
        for (size_t i = count; i-- > 0;) {
            struct split_span span = spans[i];
            if (span.is_match && !previous_match && front < count) {
                spans[front].start = span.start;
            } else {
                spans[--front] = (struct split_span){span.start, span.end, false};
            }
            previous_match = span.is_match;
        }
        memmove(spans, spans + front, (count - front) * sizeof *spans);
        return count - front;
    }
    }
    return count;
}

static loupe_status split_piece(const pre_tokenizer_step *step, pre_tokenizer_scratch *scratch, const char *text,
                                size_t length, piece_list *out, loupe_error *error) {
    size_t found = 0;
    loupe_status status = find_spans(step, scratch, text, length, &found, error);
    if (status != LOUPE_OK) return status;
    struct split_span *spans = scratch->spans;
    if (step->invert)
        for (size_t i = 0; i < found; i++) spans[i].is_match = !spans[i].is_match;
    size_t count = apply_behavior(step->behavior, spans, found);
    for (size_t i = 0; i < count; i++) {
        if (spans[i].is_match) continue;
        if (add_piece(out, text + spans[i].start, spans[i].end - spans[i].start) != 0) return out_of_memory(error);
    }
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * ByteLevel and Metaspace
 * ---------------------------------------------------------------------- */

static loupe_status byte_level_piece(const pre_tokenizer_step *step, const char *text, size_t length,
                                     piece_list *out, loupe_error *error) {
    size_t start_of_piece = out->text.length;
    if (step->add_prefix_space && (length == 0 || text[0] != ' ') &&
        byte_buffer_append(&out->text, " ", 1) != 0)
        return out_of_memory(error);
    if (byte_buffer_append(&out->text, text, length) != 0) return out_of_memory(error);
    if (!step->use_regex) return close_piece(out) != 0 ? out_of_memory(error) : LOUPE_OK;
    /* GPT-2's pattern over the piece just appended; its matches tile it. */
    size_t piece_length = out->text.length - start_of_piece;
    pretokenizer splitter;
    pretokenizer_init(&splitter, out->text.bytes + start_of_piece, piece_length);
    size_t start = 0, match_length = 0;
    while (pretokenizer_next(&splitter, &start, &match_length)) {
        out->text.length = start_of_piece + start + match_length;
        if (close_piece(out) != 0) return out_of_memory(error);
    }
    out->text.length = start_of_piece + piece_length;
    return LOUPE_OK;
}

static loupe_status metaspace_piece(const pre_tokenizer_step *step, const char *text, size_t length,
                                    bool first_of_text, piece_list *out, loupe_error *error) {
    const char *replacement = step->replacement;
    size_t replacement_length = step->replacement_length;
    int starts_with_replacement = length >= replacement_length && memcmp(text, replacement, replacement_length) == 0;
    size_t start_of_piece = out->text.length;
    if (!starts_with_replacement && length > 0 && text[0] != ' ' &&
        (step->prepend == PREPEND_ALWAYS || (step->prepend == PREPEND_FIRST && first_of_text)) &&
        byte_buffer_append(&out->text, replacement, replacement_length) != 0)
        return out_of_memory(error);
    /* A leading ' ' becomes the replacement, so the piece then starts with it. */
    for (size_t at = 0; at < length; at++) {
        int failed = text[at] == ' ' ? byte_buffer_append(&out->text, replacement, replacement_length)
                                     : byte_buffer_append(&out->text, text + at, 1);
        if (failed) return out_of_memory(error);
    }
    if (!step->split) return close_piece(out) != 0 ? out_of_memory(error) : LOUPE_OK;
    /* MergedWithNext on the replacement: a cut before each of its occurrences. */
    size_t end = out->text.length;
    for (size_t at = start_of_piece + 1; at + replacement_length <= end; at++) {
        if (memcmp(out->text.bytes + at, replacement, replacement_length) != 0) continue;
        size_t saved = out->text.length;
        out->text.length = at;
        if (close_piece(out) != 0) return out_of_memory(error);
        out->text.length = saved;
    }
    return close_piece(out) != 0 ? out_of_memory(error) : LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * The whole pre-tokenizer
 * ---------------------------------------------------------------------- */

loupe_status pre_tokenizer_apply(const pre_tokenizer *chain, pre_tokenizer_scratch *scratch,
                                 const char *text, size_t length, bool at_text_start, piece_list *out,
                                 loupe_error *error) {
    piece_list_clear(out);
    /* Steps that change nothing are skipped; the first step that does reads
     * the text itself (one piece) rather than a copy of it. */
    bool read_text = true;
    for (size_t s = 0; s < chain->count; s++) {
        const pre_tokenizer_step *step = &chain->steps[s];
        if (step->kind == PRE_TOKENIZER_BYTE_LEVEL && !step->add_prefix_space && !step->use_regex) continue;
        piece_list *next = read_text ? out : &scratch->spare;
        piece_list_clear(next);
        size_t count = read_text ? (length > 0) : out->count;
        for (size_t i = 0; i < count; i++) {
            size_t start = read_text || i == 0 ? 0 : out->ends[i - 1];
            const char *piece = read_text ? text : out->text.bytes + start;
            size_t piece_length = read_text ? length : out->ends[i] - start;
            loupe_status status = LOUPE_OK;
            switch (step->kind) {
            case PRE_TOKENIZER_SPLIT:
                status = split_piece(step, scratch, piece, piece_length, next, error);
                break;
            case PRE_TOKENIZER_BYTE_LEVEL:
                status = byte_level_piece(step, piece, piece_length, next, error);
                break;
            case PRE_TOKENIZER_METASPACE:
                status = metaspace_piece(step, piece, piece_length, at_text_start && i == 0, next, error);
                break;
            }
            if (status != LOUPE_OK) return status;
        }
        if (!read_text) {
            piece_list swapped = *out;
            *out = *next;
            *next = swapped;
        }
        read_text = false;
    }
    if (read_text && add_piece(out, text, length) != 0) return out_of_memory(error);
    return LOUPE_OK;
}
