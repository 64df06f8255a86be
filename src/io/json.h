/*
 * json.h - the few cJSON helpers shared by the safetensors header, config.json
 * and the shard index readers: parsing from (pointer, length) with an error
 * that names the byte offset, and exact reading of integer fields.
 */
#ifndef LOUPE_IO_JSON_H
#define LOUPE_IO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "loupe.h"

/* The largest integer a JSON number (a double) holds exactly: 2^53. */
#define JSON_MAX_EXACT_INTEGER 9007199254740992.0

/* The most values (objects, arrays, strings, numbers, ...) one JSON text may
 * hold: a 4M-token vocab.json or a header of a million tensors fits, and
 * cJSON's nodes stay under about 1.3 GB whatever the file. */
enum { JSON_MAX_VALUES = 1 << 24 };

/* Parses `length` bytes of JSON text (need not be NUL-terminated). Only
 * whitespace may follow the value. More than JSON_MAX_VALUES values is
 * LOUPE_ERROR_LIMIT, refused before parsing. On failure the message names display_name
 * and the byte offset where parsing stopped. On success *root_out is owned by
 * the caller (cJSON_Delete). */
loupe_status json_parse(const char *text, size_t length, const char *display_name,
                        cJSON **root_out, loupe_error *error);

/* Reads the file at path (refused above max_bytes) and parses it as
 * json_parse does, naming the path in every message. */
loupe_status json_parse_file(const char *path, size_t max_bytes, cJSON **root_out, loupe_error *error);

/* 1 and *value_out when item is a number holding a whole value in
 * [0, JSON_MAX_EXACT_INTEGER]; 0 otherwise (not a number, negative, fractional,
 * too large, NaN). */
int json_get_natural(const cJSON *item, uint64_t *value_out);

/* The string value of object's member name (case-sensitive); NULL when the
 * member is absent or not a string. The pointer lives as long as object. */
const char *json_string_member(const cJSON *object, const char *name);

/* A short word for an item's JSON type, for messages: "string", "number", ... */
const char *json_type_name(const cJSON *item);

/* Writes length bytes of s (json_write.c): UTF-8 as it is, each byte that
 * is not part of valid UTF-8 as <0xNN>; with json_escape, '"', '\\' and the
 * control characters escaped for a JSON string (\n, \t, \r, \u00XX). */
void json_write_text(FILE *out, const char *s, size_t length, bool json_escape);

/* json_write_text with escapes, between double quotes: a JSON string. */
void json_write_string(FILE *out, const char *s, size_t length);

#endif
