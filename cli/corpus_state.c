/*
 * corpus_state.c - the corpus state file (see corpus_state.h and
 * docs/SCALE.md for the layout): encoding, decoding with every field
 * checked, atomic writing, the identity comparison and the merge.
 */
#include "corpus_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loupe_internal.h"

#define STATE_MAGIC "LOUPECS1"
enum { MAGIC_BYTES = 8, MAX_IDENTITY = 1 << 20, MAX_STATE_BYTES_LOG2 = 34 };

void corpus_state_free(corpus_state *state) {
    free(state->identity);
    free(state->shards);
    loupe_corpus_stats_free(state->stats);
    memset(state, 0, sizeof *state);
}

loupe_status corpus_state_encode(const corpus_state *state, uint8_t **data, size_t *size, loupe_error *error) {
    *data = NULL;
    *size = 0;
    void *stats = NULL;
    size_t stats_size = 0;
    loupe_status status = loupe_corpus_stats_encode(state->stats, &stats, &stats_size, error);
    if (status != LOUPE_OK) return status;
    byte_writer writer;
    byte_writer_init(&writer);
    size_t identity_length = strlen(state->identity);
    byte_writer_bytes(&writer, STATE_MAGIC, MAGIC_BYTES);
    byte_writer_u32(&writer, CORPUS_STATE_VERSION);
    byte_writer_u32(&writer, (uint32_t)state->kind);
    byte_writer_u64(&writer, identity_length);
    byte_writer_bytes(&writer, state->identity, identity_length);
    byte_writer_u32(&writer, state->n_shards);
    byte_writer_u32(&writer, state->n_covered);
    for (uint32_t i = 0; i < state->n_covered; i++) byte_writer_u32(&writer, state->shards[i]);
    byte_writer_i64(&writer, state->documents);
    byte_writer_i64(&writer, state->windows);
    byte_writer_i64(&writer, state->positions);
    byte_writer_i64(&writer, state->skipped_lines);
    byte_writer_f64(&writer, state->seconds);
    byte_writer_u8(&writer, state->partial);
    if (state->kind == CORPUS_STATE_CHECKPOINT) {
        byte_writer_i64(&writer, state->next_document);
        byte_writer_i32(&writer, state->window.start);
        byte_writer_i32(&writer, state->window.end);
        byte_writer_i32(&writer, state->window.score_begin);
        byte_writer_i32(&writer, state->window.score_end);
        byte_writer_u8(&writer, state->finished);
    }
    byte_writer_u64(&writer, stats_size);
    byte_writer_bytes(&writer, stats, stats_size);
    loupe_free(stats);
    byte_writer_u64(&writer, string_hash(writer.data, writer.size));
    if (writer.failed) {
        byte_writer_free(&writer);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory encoding the corpus state");
    }
    *data = writer.data;
    *size = writer.size;
    return LOUPE_OK;
}

/* "NAME: WHY at byte N" as a format error. */
static loupe_status refuse(loupe_error *error, const char *name, const byte_reader *reader, const char *why) {
    return error_set(error, LOUPE_ERROR_FORMAT, "%s: %s at byte %zu", name, why, reader->offset);
}

/* The counters and, in a checkpoint, the position. */
static const char *read_counters(byte_reader *reader, corpus_state *state) {
    state->documents = byte_reader_i64(reader);
    state->windows = byte_reader_i64(reader);
    state->positions = byte_reader_i64(reader);
    state->skipped_lines = byte_reader_i64(reader);
    state->seconds = byte_reader_f64(reader);
    uint8_t partial = byte_reader_u8(reader);
    if (reader->failed) return "the counters are truncated";
    if (state->documents < 0 || state->windows < 0 || state->positions < 0 || state->skipped_lines < 0 ||
        !(state->seconds >= 0.0) || partial > 1)
        return "a negative counter or a bad partial flag";
    state->partial = partial;
    if (state->kind != CORPUS_STATE_CHECKPOINT) return NULL;
    state->next_document = byte_reader_i64(reader);
    loupe_corpus_window *w = &state->window;
    w->start = byte_reader_i32(reader);
    w->end = byte_reader_i32(reader);
    w->score_begin = byte_reader_i32(reader);
    w->score_end = byte_reader_i32(reader);
    uint8_t finished = byte_reader_u8(reader);
    if (reader->failed) return "the position is truncated";
    if (state->next_document < 0 || w->start < 0 || w->end < w->start || w->score_begin < w->start ||
        w->score_end < w->score_begin || w->score_end > w->end || finished > 1)
        return "a position that is not a document and window";
    state->finished = finished;
    if (!finished) state->partial = true; /* merged as it stands, it covers the positions so far */
    return NULL;
}

/* The shards: N, the count covered and their indices, ascending below N. */
static const char *read_shards(byte_reader *reader, corpus_state *state) {
    state->n_shards = byte_reader_u32(reader);
    state->n_covered = byte_reader_u32(reader);
    if (reader->failed) return "the shards are truncated";
    if (state->n_shards < 1 || state->n_shards > CORPUS_STATE_MAX_SHARDS || state->n_covered < 1 ||
        state->n_covered > state->n_shards)
        return "a shard count out of range";
    if (state->n_covered > byte_reader_left(reader) / 4) return "the shards are truncated";
    state->shards = malloc(state->n_covered * sizeof *state->shards);
    if (state->shards == NULL) return "out of memory";
    for (uint32_t i = 0; i < state->n_covered; i++) {
        state->shards[i] = byte_reader_u32(reader);
        if (state->shards[i] >= state->n_shards || (i > 0 && state->shards[i] <= state->shards[i - 1]))
            return "shard indices not ascending below the shard count";
    }
    return NULL;
}

loupe_status corpus_state_decode(const uint8_t *data, size_t size, const char *name, const int64_t *token_counts,
                                 const int32_t *token_bytes, corpus_state *state, loupe_error *error) {
    memset(state, 0, sizeof *state);
    byte_reader reader;
    byte_reader_init(&reader, data, size);
    const uint8_t *magic = byte_reader_bytes(&reader, MAGIC_BYTES);
    if (magic == NULL || memcmp(magic, STATE_MAGIC, MAGIC_BYTES) != 0)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: not a loupe corpus state (no LOUPECS1 at its start)", name);
    uint32_t version = byte_reader_u32(&reader), kind = byte_reader_u32(&reader);
    if (reader.failed) return refuse(error, name, &reader, "the header is truncated");
    if (version != CORPUS_STATE_VERSION)
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: a corpus state of version %u; this loupe reads version %d",
                         name, version, CORPUS_STATE_VERSION);
    if (size < MAGIC_BYTES + 16) return refuse(error, name, &reader, "the file is truncated");
    byte_reader tail;
    byte_reader_init(&tail, data + size - 8, 8);
    if (string_hash(data, size - 8) != byte_reader_u64(&tail))
        return error_set(error, LOUPE_ERROR_FORMAT, "%s: checksum mismatch: the file is damaged or cut short", name);
    byte_reader_init(&reader, data, size - 8); /* the checksum is no part of the fields */
    reader.offset = MAGIC_BYTES + 8;
    if (kind != CORPUS_STATE_AGGREGATE && kind != CORPUS_STATE_CHECKPOINT)
        return refuse(error, name, &reader, "an unknown kind of state");
    state->kind = (corpus_state_kind)kind;
    uint64_t identity_length = byte_reader_u64(&reader);
    const uint8_t *identity = reader.failed || identity_length > MAX_IDENTITY
                                  ? NULL
                                  : byte_reader_bytes(&reader, (size_t)identity_length);
    if (identity == NULL) return refuse(error, name, &reader, "the identity is truncated or too long");
    if (memchr(identity, '\0', (size_t)identity_length) != NULL)
        return refuse(error, name, &reader, "the identity holds a NUL byte");
    state->identity = malloc((size_t)identity_length + 1);
    if (state->identity == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory");
    memcpy(state->identity, identity, (size_t)identity_length);
    state->identity[identity_length] = '\0';
    const char *why = read_shards(&reader, state);
    if (why == NULL) why = read_counters(&reader, state);
    if (why != NULL) return refuse(error, name, &reader, why);
    uint64_t stats_size = byte_reader_u64(&reader);
    if (reader.failed || stats_size != byte_reader_left(&reader))
        return refuse(error, name, &reader, "the statistics' length is not what is left of the file");
    loupe_status status =
        loupe_corpus_stats_decode(data + reader.offset, (size_t)stats_size, token_counts, token_bytes, &state->stats,
                                  error);
    if (status != LOUPE_OK) {
        char message[sizeof error->message];
        snprintf(message, sizeof message, "%s", error->message);
        return error_set(error, status, "%s: %s (the statistics start at byte %zu)", name, message, reader.offset);
    }
    if (loupe_corpus_stats_positions(state->stats) != state->positions)
        return refuse(error, name, &reader, "the counters' positions are not the statistics' positions");
    return LOUPE_OK;
}

loupe_status corpus_state_write(const char *path, const corpus_state *state, loupe_error *error) {
    uint8_t *data = NULL;
    size_t size = 0;
    loupe_status status = corpus_state_encode(state, &data, &size, error);
    if (status == LOUPE_OK) status = file_replace_bytes(path, data, size, error);
    free(data);
    return status;
}

loupe_status corpus_state_read(const char *path, const int64_t *token_counts, const int32_t *token_bytes,
                               corpus_state *state, loupe_error *error) {
    memset(state, 0, sizeof *state);
    char *data = NULL;
    size_t size = 0;
    loupe_status status = file_read_all(path, (size_t)1 << MAX_STATE_BYTES_LOG2, &data, &size, error);
    if (status != LOUPE_OK) return status;
    status = corpus_state_decode((const uint8_t *)data, size, path, token_counts, token_bytes, state, error);
    free(data);
    return status;
}

/* The line of identity holding `key`: its value and length; NULL when absent. */
static const char *find_value(const char *identity, const char *key, size_t *length) {
    size_t key_length = strlen(key);
    for (const char *line = identity; *line != '\0';) {
        const char *end = strchr(line, '\n');
        if (end == NULL) end = line + strlen(line);
        if ((size_t)(end - line) > key_length && memcmp(line, key, key_length) == 0 && line[key_length] == '=') {
            *length = (size_t)(end - line) - key_length - 1;
            return line + key_length + 1;
        }
        line = *end ? end + 1 : end;
    }
    return NULL;
}

bool corpus_state_value(const corpus_state *state, const char *key, char *buffer, size_t capacity) {
    size_t length = 0;
    const char *value = find_value(state->identity, key, &length);
    if (value == NULL || capacity == 0) return false;
    if (length >= capacity) length = capacity - 1;
    memcpy(buffer, value, length);
    buffer[length] = '\0';
    return true;
}

/* Looks in `other` for every compared key of `one`; the first missing or
 * different one into buffer. */
static const char *first_difference(const char *one, const char *other, bool one_first, char *buffer,
                                    size_t capacity) {
    for (const char *line = one; *line != '\0';) {
        const char *end = strchr(line, '\n');
        if (end == NULL) end = line + strlen(line);
        const char *equals = memchr(line, '=', (size_t)(end - line));
        if (equals != NULL && strncmp(line, "info.", 5) != 0) {
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(equals - line), line);
            size_t length = 0, mine = (size_t)(end - equals - 1);
            const char *theirs = find_value(other, key, &length);
            if (theirs == NULL || length != mine || memcmp(theirs, equals + 1, mine) != 0) {
                const char *a = equals + 1, *b = theirs ? theirs : "(absent)";
                int la = (int)mine, lb = theirs ? (int)length : 8;
                if (!one_first) {
                    const char *t = a;
                    a = b;
                    b = t;
                    int tl = la;
                    la = lb;
                    lb = tl;
                }
                snprintf(buffer, capacity, "%s differs: '%.*s' vs '%.*s'", key, la > 200 ? 200 : la, a,
                         lb > 200 ? 200 : lb, b);
                return buffer;
            }
        }
        line = *end ? end + 1 : end;
    }
    return NULL;
}

const char *corpus_state_difference(const char *a, const char *b, char *buffer, size_t capacity) {
    const char *difference = first_difference(a, b, true, buffer, capacity);
    return difference ? difference : first_difference(b, a, false, buffer, capacity);
}

loupe_status corpus_state_merge(corpus_state *into, const char *name_into, const corpus_state *from,
                                const char *name_from, loupe_error *error) {
    char difference[600];
    if (corpus_state_difference(into->identity, from->identity, difference, sizeof difference) != NULL)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "%s and %s are states of different runs: %s", name_into,
                         name_from, difference);
    if (into->n_shards != from->n_shards)
        return error_set(error, LOUPE_ERROR_ARGUMENT, "%s and %s split the corpus differently: %u vs %u shards",
                         name_into, name_from, into->n_shards, from->n_shards);
    uint32_t *shards = malloc((size_t)(into->n_covered + from->n_covered) * sizeof *shards);
    if (shards == NULL) return error_set(error, LOUPE_ERROR_MEMORY, "out of memory");
    uint32_t i = 0, j = 0, n = 0;
    while (i < into->n_covered || j < from->n_covered) {
        if (i < into->n_covered && j < from->n_covered && into->shards[i] == from->shards[j]) {
            uint32_t shard = into->shards[i];
            free(shards);
            return error_set(error, LOUPE_ERROR_ARGUMENT, "%s and %s overlap: both hold shard %u of %u", name_into,
                             name_from, shard, into->n_shards);
        }
        if (j >= from->n_covered || (i < into->n_covered && into->shards[i] < from->shards[j]))
            shards[n++] = into->shards[i++];
        else shards[n++] = from->shards[j++];
    }
    loupe_status status = loupe_corpus_stats_merge(into->stats, from->stats, error);
    if (status != LOUPE_OK) {
        free(shards);
        char message[sizeof error->message];
        snprintf(message, sizeof message, "%s", error->message);
        return error_set(error, status, "%s and %s: %s", name_into, name_from, message);
    }
    free(into->shards);
    into->shards = shards;
    into->n_covered = n;
    into->documents += from->documents;
    into->windows += from->windows;
    into->positions += from->positions;
    /* every shard reads every document, so each saw every malformed line */
    if (from->skipped_lines > into->skipped_lines) into->skipped_lines = from->skipped_lines;
    into->seconds += from->seconds;
    into->partial = into->partial || from->partial;
    into->kind = CORPUS_STATE_AGGREGATE;
    return LOUPE_OK;
}
