/*
 * loupe_internal.h - the library's internals that the loupe command uses
 * besides loupe.h: errors in the library's style, whole-file reads, the
 * JSON parsing helpers of the document readers, the safetensors writer, the
 * little-endian byte writer and reader and FNV-1a hashing (corpus states),
 * the file writer that replaces a file only once complete, the ends of
 * Python-style slices, the quantile summaries and the certified forward
 * pass and lens. Internal: not installed, no stable interface, not
 * exported by libloupe.so (link loupe_core, the static library). Its folder
 * is the only one of src/ on the command's include path.
 */
#ifndef LOUPE_INTERNAL_H
#define LOUPE_INTERNAL_H

#include "../corpus/quantile_summary.h"
#include "../interval/ball.h"
#include "../interval/certified_forward.h"
#include "../interval/certified_lens.h"
#include "../io/json.h"
#include "../io/safetensors_write.h"
#include "../util/byte_buffer.h"
#include "../util/error.h"
#include "../util/file_map.h"
#include "../util/file_replace.h"
#include "../util/slice_bounds.h"
#include "../util/string_map.h"

#endif
