/*
 * slice_bounds.h - the ends of Python-style slices "A:B": one end parsed
 * from text, and an end resolved against a length as Python resolves it.
 * Shared by the lens's --layers/--positions slices (cli/lens_window.c) and
 * the fine-tuning loss's lens rows (src/train/lens_row_set.c).
 */
#ifndef LOUPE_UTIL_SLICE_BOUNDS_H
#define LOUPE_UTIL_SLICE_BOUNDS_H

#include <stdbool.h>
#include <stddef.h>

/* Parses the whole of [text, text + length) as a decimal integer within
 * -INT_MAX .. INT_MAX into *value; false (and *value untouched) for an
 * empty or overlong text, any other character, or a value out of range. */
bool slice_end_parse(const char *text, size_t length, long *value);

/* value as a slice end over n items: negative counts from n, then clamped
 * to 0 .. n. */
int slice_end_resolve(long value, int n);

#endif
