/*
 * unembedding_hash.c - the hash of a model's final norm and unembedding
 * (unembedding_hash.h).
 */
#include "tuned/unembedding_hash.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/weight_view.h"
#include "model/model.h"
#include "util/byte_buffer.h"
#include "util/error.h"
#include "util/string_map.h"

/* hash continued with floats (n) as float32 little-endian bytes; writer is
 * scratch (emptied first). */
static uint64_t hash_floats(uint64_t hash, const float *floats, int64_t n, byte_writer *writer) {
    writer->size = 0;
    for (int64_t i = 0; i < n; i++) byte_writer_f32(writer, floats[i]);
    return writer->failed ? hash : string_hash_extend(hash, writer->data, writer->size);
}

loupe_status tuned_unembedding_hash(const loupe_model *model, char hex[TUNED_UNEMBEDDING_HEX], loupe_error *error) {
    const weight_view *unembedding = &model->unembedding;
    const int64_t V = unembedding->rows, C = unembedding->columns;
    float *row = malloc((size_t)C * sizeof *row);
    byte_writer writer;
    byte_writer_init(&writer);
    uint64_t hash = STRING_HASH_START;
    if (row != NULL) {
        hash = hash_floats(hash, model->final_norm_weight, C, &writer);
        if (model->final_norm_bias != NULL) hash = hash_floats(hash, model->final_norm_bias, C, &writer);
        for (int64_t v = 0; v < V && !writer.failed; v++) {
            weight_view_to_f32(unembedding, v, 1, 0, C, row, C);
            hash = hash_floats(hash, row, C, &writer);
        }
    }
    const bool failed = row == NULL || writer.failed;
    free(row);
    byte_writer_free(&writer);
    if (failed) return error_set(error, LOUPE_ERROR_MEMORY, "%s: out of memory hashing the unembedding",
                                 model->directory);
    snprintf(hex, TUNED_UNEMBEDDING_HEX, "%016" PRIx64, hash);
    return LOUPE_OK;
}
