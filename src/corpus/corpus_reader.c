/*
 * corpus_reader.c - documents from a corpus file, one at a time.
 *
 * The reader keeps a window of the file in a buffer: bytes [start, filled)
 * are read but not yet consumed. Finding the next document scans forward
 * from start (remembering how far it got, so no byte is scanned twice);
 * when the buffer holds no complete document, the unconsumed bytes move to
 * the front and more are read, the buffer growing only as far as the
 * longest document needs (bounded by max_document_bytes). A corpus held in
 * memory is the same walk over the caller's bytes with nothing to read.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "io/json.h"
#include "loupe.h"
#include "util/error.h"

enum { READ_CHUNK_BYTES = 1 << 20, JSONL_NAME_CAPACITY = 512 };

struct loupe_corpus_reader {
    char *name;
    loupe_corpus_reader_params params;
    char *separator;             /* a copy of params.separator, or NULL */
    size_t separator_length;
    loupe_corpus_format format;  /* AUTO until the first bytes decide it */
    FILE *file;                  /* NULL when reading from memory */
    const char *data;            /* (filled) bytes: the buffer, or the caller's memory */
    char *buffer;                /* (capacity) bytes, file mode only */
    size_t capacity;
    size_t start;                /* first byte not yet consumed */
    size_t filled;
    size_t scanned;              /* bytes after start already searched without finding an end */
    bool at_eof;
    int64_t dropped;             /* bytes consumed and moved out of the buffer */
    int64_t line;                /* the line number at byte line_at */
    size_t line_at;
    int64_t documents;
    int64_t skipped;
    char *text;                  /* (text_capacity) a JSONL document's decoded text */
    size_t text_capacity;
};

loupe_corpus_reader_params loupe_corpus_reader_default_params(void) {
    loupe_corpus_reader_params params = {
        .format = LOUPE_CORPUS_FORMAT_AUTO,
        .separator = NULL,
        .strict = false,
        .max_document_bytes = (size_t)64 << 20,
    };
    return params;
}

/* ------------------------------------------------------------------------
 * Opening and closing
 * ---------------------------------------------------------------------- */

/* Checks the parameters and makes a reader with nothing to read yet. */
static loupe_status reader_create(const char *name, const loupe_corpus_reader_params *params,
                                  loupe_corpus_reader **reader_out, loupe_error *error) {
    loupe_corpus_reader_params defaults = loupe_corpus_reader_default_params();
    if (params == NULL) params = &defaults;
    if (params->separator != NULL && params->separator[0] == '\0')
        return error_set(error, LOUPE_ERROR_ARGUMENT, "%s: the document separator is empty", name);
    if (params->separator != NULL && params->format == LOUPE_CORPUS_FORMAT_JSONL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "%s: a separator applies to plain text, not JSONL", name);
    if (params->max_document_bytes < 1 || params->max_document_bytes > ((size_t)1 << 40))
        return error_set(error, LOUPE_ERROR_ARGUMENT, "%s: max_document_bytes must be 1 .. 2^40", name);
    loupe_corpus_reader *reader = calloc(1, sizeof *reader);
    if (reader == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", name);
    reader->params = *params;
    reader->name = strdup(name);
    if (params->separator != NULL) {
        reader->separator = strdup(params->separator);
        reader->separator_length = strlen(params->separator);
    }
    if (reader->name == NULL || (params->separator != NULL && reader->separator == NULL)) {
        loupe_corpus_reader_close(reader);
        return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory", name);
    }
    reader->params.separator = reader->separator;
    reader->format = params->separator != NULL ? LOUPE_CORPUS_FORMAT_PLAIN : params->format;
    reader->line = 1;
    *reader_out = reader;
    return LOUPE_OK;
}

loupe_status loupe_corpus_reader_open(const char *path, const loupe_corpus_reader_params *params,
                                      loupe_corpus_reader **reader_out, loupe_error *error) {
    *reader_out = NULL;
    error_clear(error);
    loupe_corpus_reader *reader;
    loupe_status status = reader_create(path, params, &reader, error);
    if (status != LOUPE_OK) return status;
    reader->file = fopen(path, "rb");
    if (reader->file == NULL) {
        status = error_set(error, LOUPE_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
        loupe_corpus_reader_close(reader);
        return status;
    }
    *reader_out = reader;
    return LOUPE_OK;
}

loupe_status loupe_corpus_reader_open_memory(const char *name, const char *data, size_t length,
                                             const loupe_corpus_reader_params *params,
                                             loupe_corpus_reader **reader_out, loupe_error *error) {
    *reader_out = NULL;
    error_clear(error);
    if (data == NULL && length > 0) return error_set(error, LOUPE_ERROR_ARGUMENT, "%s: no data", name);
    loupe_corpus_reader *reader;
    loupe_status status = reader_create(name, params, &reader, error);
    if (status != LOUPE_OK) return status;
    reader->data = data;
    reader->filled = length;
    reader->at_eof = true;
    *reader_out = reader;
    return LOUPE_OK;
}

void loupe_corpus_reader_close(loupe_corpus_reader *reader) {
    if (reader == NULL) return;
    if (reader->file != NULL) fclose(reader->file);
    free(reader->buffer);
    free(reader->text);
    free(reader->separator);
    free(reader->name);
    free(reader);
}

int64_t loupe_corpus_reader_bytes_read(const loupe_corpus_reader *reader) {
    return reader->dropped + (int64_t)reader->start;
}

int64_t loupe_corpus_reader_skipped_lines(const loupe_corpus_reader *reader) { return reader->skipped; }

loupe_corpus_format loupe_corpus_reader_format(const loupe_corpus_reader *reader) { return reader->format; }

/* ------------------------------------------------------------------------
 * The buffer
 * ---------------------------------------------------------------------- */

/* Brings the line count up to byte `offset` (>= line_at) and returns the
 * line number there. */
static int64_t line_at(loupe_corpus_reader *reader, size_t offset) {
    const char *at = reader->data + reader->line_at, *end = reader->data + offset;
    while (at < end && (at = memchr(at, '\n', (size_t)(end - at))) != NULL) {
        reader->line++;
        at++;
    }
    reader->line_at = offset;
    return reader->line;
}

/* Reads more of the file: moves the unconsumed bytes to the front, grows
 * the buffer when it is full, and reads. Sets at_eof at the end of the file.
 * A document that cannot fit in max_document_bytes is LOUPE_ERROR_LIMIT. */
static loupe_status read_more(loupe_corpus_reader *reader, loupe_error *error) {
    if (reader->file == NULL) {
        reader->at_eof = true;
        return LOUPE_OK;
    }
    size_t pending = reader->filled - reader->start;
    size_t limit = reader->params.max_document_bytes + reader->separator_length + 2;
    if (pending >= limit)
        return error_set(error, LOUPE_ERROR_LIMIT, "%s:%lld: a document longer than %zu bytes", reader->name,
                         (long long)line_at(reader, reader->start), reader->params.max_document_bytes);
    if (reader->start > 0) {
        line_at(reader, reader->start);
        memmove(reader->buffer, reader->buffer + reader->start, pending);
        reader->dropped += (int64_t)reader->start;
        reader->line_at -= reader->start;
        reader->start = 0;
        reader->filled = pending;
    }
    if (reader->filled == reader->capacity) {
        size_t grown = reader->capacity == 0 ? READ_CHUNK_BYTES : reader->capacity * 2;
        if (grown > limit) grown = limit;
        char *bigger = realloc(reader->buffer, grown);
        if (bigger == NULL)
            return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory for a %zu-byte buffer", reader->name,
                             grown);
        reader->buffer = bigger;
        reader->capacity = grown;
    }
    reader->data = reader->buffer;
    size_t got = fread(reader->buffer + reader->filled, 1, reader->capacity - reader->filled, reader->file);
    reader->filled += got;
    if (got == 0) {
        if (ferror(reader->file))
            return error_set(error, LOUPE_ERROR_IO, "%s: read failed: %s", reader->name, strerror(errno));
        reader->at_eof = true;
    }
    return LOUPE_OK;
}

/* Whitespace that makes a line blank. */
static bool is_blank_byte(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

/* True when s (n bytes) is all whitespace. */
static bool is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_blank_byte(s[i])) return false;
    return true;
}

/* What a search of the buffer found. */
typedef enum scan_result {
    SCAN_FOUND,     /* a delimiter (or a whole unit) */
    SCAN_NEED_MORE, /* nothing complete yet: read more */
    SCAN_END,       /* the file is over: what is left is the last unit */
} scan_result;

/* Looks for needle (n bytes) in [start + scanned, filled); *found is its
 * offset. On NEED_MORE, scanned moves up to where a match could still begin. */
static scan_result find(loupe_corpus_reader *reader, const char *needle, size_t n, size_t *found) {
    const char *from = reader->data + reader->start + reader->scanned;
    size_t left = reader->filled - reader->start - reader->scanned;
    const char *hit = left == 0 ? NULL : n == 1 ? memchr(from, needle[0], left) : memmem(from, left, needle, n);
    if (hit != NULL) {
        *found = (size_t)(hit - reader->data);
        return SCAN_FOUND;
    }
    if (reader->at_eof) return SCAN_END;
    size_t pending = reader->filled - reader->start;
    reader->scanned = pending >= n - 1 ? pending - (n - 1) : 0;
    return SCAN_NEED_MORE;
}

/* ------------------------------------------------------------------------
 * One unit per format: each returns NEED_MORE, END (no unit left) or FOUND
 * with the unit's bytes [*begin, *end) and start moved past it.
 * ---------------------------------------------------------------------- */

/* Plain text with a separator; JSONL lines are the same with "\n". */
static scan_result next_delimited(loupe_corpus_reader *reader, const char *delimiter, size_t n, size_t *begin,
                                  size_t *end) {
    size_t found;
    scan_result result = find(reader, delimiter, n, &found);
    if (result == SCAN_NEED_MORE) return result;
    if (result == SCAN_END) {
        if (reader->start == reader->filled) return SCAN_END;
        found = reader->filled;
    }
    *begin = reader->start;
    *end = found;
    reader->start = found == reader->filled ? found : found + n;
    reader->scanned = 0;
    return SCAN_FOUND;
}

/* Plain text between blank lines: leading blank lines are consumed, then
 * lines join the document until a blank line or the end of the file. */
static scan_result next_paragraph(loupe_corpus_reader *reader, size_t *begin, size_t *end) {
    for (;;) {
        size_t line_begin = reader->start + reader->scanned, newline;
        scan_result result = find(reader, "\n", 1, &newline);
        if (result == SCAN_NEED_MORE) {
            reader->scanned = line_begin - reader->start; /* rescan from the line's start */
            return result;
        }
        size_t line_end = result == SCAN_FOUND ? newline : reader->filled;
        bool blank = is_blank(reader->data + line_begin, line_end - line_begin);
        bool in_document = line_begin > reader->start;
        if (blank && !in_document) {
            if (result == SCAN_END) {
                reader->start = reader->filled;
                return SCAN_END;
            }
            reader->start = newline + 1; /* a blank line before any text: not part of a document */
            continue;
        }
        if (blank || result == SCAN_END) {
            *begin = reader->start;
            *end = blank ? line_begin : line_end;
            reader->start = result == SCAN_FOUND ? newline + 1 : reader->filled;
            reader->scanned = 0;
            /* the document's last newline (and a CR before it) separates, it is not text */
            if (*end > *begin && reader->data[*end - 1] == '\n') (*end)--;
            if (*end > *begin && reader->data[*end - 1] == '\r') (*end)--;
            return SCAN_FOUND;
        }
        reader->scanned = newline + 1 - reader->start;
    }
}

/* Decides AUTO from the first non-blank byte. */
static scan_result detect_format(loupe_corpus_reader *reader) {
    for (size_t i = reader->start; i < reader->filled; i++)
        if (!is_blank_byte(reader->data[i])) {
            reader->format = reader->data[i] == '{' ? LOUPE_CORPUS_FORMAT_JSONL : LOUPE_CORPUS_FORMAT_PLAIN;
            return SCAN_FOUND;
        }
    if (!reader->at_eof) return SCAN_NEED_MORE;
    reader->format = LOUPE_CORPUS_FORMAT_PLAIN;
    return SCAN_FOUND;
}

/* ------------------------------------------------------------------------
 * JSONL
 * ---------------------------------------------------------------------- */

/* Decodes one JSONL line into reader->text. Returns LOUPE_OK, or the status
 * of what is wrong with *problem set (a format problem is a warning unless
 * strict); out of memory is always an error. */
static loupe_status decode_jsonl_line(loupe_corpus_reader *reader, const char *line, size_t length,
                                      int64_t line_number, size_t *text_length, loupe_error *problem) {
    char display[JSONL_NAME_CAPACITY];
    snprintf(display, sizeof display, "%s:%lld", reader->name, (long long)line_number);
    cJSON *root = NULL;
    loupe_status status = json_parse(line, length, display, &root, problem);
    if (status != LOUPE_OK) return status;
    const cJSON *text = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "text") : NULL;
    if (!cJSON_IsObject(root)) {
        status = error_set(problem, LOUPE_ERROR_FORMAT, "%s: the line is %s, expected an object", display,
                           json_type_name(root));
    } else if (text == NULL) {
        status = error_set(problem, LOUPE_ERROR_FORMAT, "%s: no \"text\" field", display);
    } else if (!cJSON_IsString(text) || text->valuestring == NULL) {
        status = error_set(problem, LOUPE_ERROR_FORMAT, "%s: \"text\" is %s, expected a string", display,
                           json_type_name(text));
    } else {
        size_t n = strlen(text->valuestring);
        if (n + 1 > reader->text_capacity) {
            char *bigger = realloc(reader->text, n + 1);
            if (bigger == NULL) {
                cJSON_Delete(root);
                return error_set(problem, LOUPE_ERROR_MEMORY, "%s: out of memory", display);
            }
            reader->text = bigger;
            reader->text_capacity = n + 1;
        }
        memcpy(reader->text, text->valuestring, n + 1);
        *text_length = n;
    }
    cJSON_Delete(root);
    return status;
}

/* ------------------------------------------------------------------------
 * The next document
 * ---------------------------------------------------------------------- */

loupe_status loupe_corpus_reader_next(loupe_corpus_reader *reader, loupe_corpus_document *document,
                                      bool *has_document, loupe_error *error) {
    error_clear(error);
    *has_document = false;
    for (;;) {
        scan_result result;
        size_t begin = 0, end = 0;
        if (reader->format == LOUPE_CORPUS_FORMAT_AUTO) result = detect_format(reader);
        else if (reader->format == LOUPE_CORPUS_FORMAT_JSONL) result = next_delimited(reader, "\n", 1, &begin, &end);
        else if (reader->separator != NULL)
            result = next_delimited(reader, reader->separator, reader->separator_length, &begin, &end);
        else result = next_paragraph(reader, &begin, &end);

        if (result == SCAN_NEED_MORE) {
            loupe_status status = read_more(reader, error);
            if (status != LOUPE_OK) return status;
            continue;
        }
        if (result == SCAN_END) return LOUPE_OK;
        if (begin == end) continue; /* format detected, or an empty document */

        int64_t line = line_at(reader, begin);
        if (end - begin > reader->params.max_document_bytes)
            return error_set(error, LOUPE_ERROR_LIMIT, "%s:%lld: a document longer than %zu bytes", reader->name,
                             (long long)line, reader->params.max_document_bytes);
        if (is_blank(reader->data + begin, end - begin)) continue;

        if (reader->format == LOUPE_CORPUS_FORMAT_JSONL) {
            size_t length = 0;
            loupe_error problem;
            loupe_status status = decode_jsonl_line(reader, reader->data + begin, end - begin, line, &length,
                                                    &problem);
            if (status == LOUPE_ERROR_MEMORY || (status != LOUPE_OK && reader->params.strict)) {
                *error = problem;
                return status;
            }
            if (status != LOUPE_OK) {
                reader->skipped++;
                if (reader->params.warn != NULL) reader->params.warn(reader->params.warn_user, problem.message);
                continue;
            }
            *document = (loupe_corpus_document){reader->text, length, line, reader->documents++};
        } else {
            *document = (loupe_corpus_document){reader->data + begin, end - begin, line, reader->documents++};
        }
        *has_document = true;
        return LOUPE_OK;
    }
}
