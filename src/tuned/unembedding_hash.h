/*
 * unembedding_hash.h - the identity of the part of a model a tuned lens is
 * read through: its final norm and unembedding. `loupe train-lens` stores it
 * in params.safetensors' __metadata__ and loupe_tuned_lens_open refuses a
 * lens whose stored identity is not the model's (docs/TUNED_LENS.md).
 */
#ifndef LOUPE_TUNED_UNEMBEDDING_HASH_H
#define LOUPE_TUNED_UNEMBEDDING_HASH_H

#include "loupe.h"

/* The __metadata__ key of params.safetensors holding the hash. */
#define TUNED_UNEMBEDDING_KEY "loupe.unembedding"

/* Hex digits of the hash, with the NUL. */
enum { TUNED_UNEMBEDDING_HEX = 17 };

/* The 64-bit FNV-1a hash (util/string_map.h's string_hash) of the model's
 * final norm weight (C), its bias (C, when the norm has one) and its
 * unembedding (V, C), in that order, each as float32 little-endian bytes,
 * written as 16 lower-case hex digits into hex. Reads every weight once
 * (V C floats). LOUPE_ERROR_MEMORY when a row's buffer cannot be had. */
loupe_status tuned_unembedding_hash(const loupe_model *model, char hex[TUNED_UNEMBEDDING_HEX], loupe_error *error);

#endif
