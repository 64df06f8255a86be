/*
 * config_fields.h - typed reads of config.json fields, each error naming the
 * file and the field. Shared by every family's config reader.
 */
#ifndef LOUPE_IO_CONFIG_FIELDS_H
#define LOUPE_IO_CONFIG_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

#include "io/json.h"
#include "loupe.h"

/* The item called name, or NULL when absent or JSON null (HF writes null
 * for "use the default"). */
const cJSON *config_present_field(const cJSON *root, const char *name);

/* Copies the string field `name` into buffer (capacity bytes, NUL included);
 * fallback when absent. */
loupe_status config_read_string(const cJSON *root, const char *name, const char *fallback,
                                const char *path, char *buffer, size_t capacity, loupe_error *error);

/* A required size: a positive integer at most max, under `name` or else
 * under `alias` (NULL for none). */
loupe_status config_read_size(const cJSON *root, const char *name, const char *alias, int max,
                              const char *path, int *out, loupe_error *error);

/* An optional size: fallback when absent or null, else as config_read_size. */
loupe_status config_read_optional_size(const cJSON *root, const char *name, int fallback, int max,
                                       const char *path, int *out, loupe_error *error);

/* An optional true/false field; fallback when absent or null. */
loupe_status config_read_bool(const cJSON *root, const char *name, bool fallback, const char *path,
                              bool *out, loupe_error *error);

/* An optional positive finite number; fallback when absent or null.
 * `prefix` (may be "") is written before the name in messages, e.g.
 * "rope_scaling.". */
loupe_status config_read_positive(const cJSON *root, const char *prefix, const char *name,
                                  double fallback, const char *path, double *out, loupe_error *error);

/* architectures[0] into buffer (capacity bytes); fallback when the list is
 * absent or empty. */
loupe_status config_read_architecture(const cJSON *root, const char *path, const char *fallback, char *buffer,
                                      size_t capacity, loupe_error *error);

#endif
