/*
 * fuzz_shard_index.c - model.safetensors.index.json on any bytes:
 * checkpoint_index_parse, then every shard name it accepts checked to be a
 * plain file name.
 */
#include <string.h>

#include "fuzz_target.h"
#include "io/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    checkpoint_index index;
    loupe_error error;
    loupe_status status = checkpoint_index_parse((const char *)data, size,
                                                 "model.safetensors.index.json", &index, &error);
    fuzz_check_error(status, &error);
    if (status != LOUPE_OK) return 0;
    if (index.n_shards == 0 || index.n_shards != index.shard_of_name.count)
        fuzz_fail("shard count disagrees with the shard names");
    const cJSON *entry;
    cJSON_ArrayForEach(entry, index.weight_map) {
        const char *shard = entry->valuestring;
        if (shard == NULL || shard[0] == '\0' || strchr(shard, '/') != NULL || strcmp(shard, "..") == 0)
            fuzz_fail("a shard name that is not a plain file name");
        int64_t number = -1;
        if (!string_map_get(&index.shard_of_name, shard, strlen(shard), &number) || number < 0 ||
            (size_t)number >= index.n_shards)
            fuzz_fail("a shard without its number");
    }
    checkpoint_index_free(&index);
    return 0;
}
