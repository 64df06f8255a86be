/*
 * slice_bounds.c - the ends of Python-style slices (slice_bounds.h).
 */
#include "util/slice_bounds.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

bool slice_end_parse(const char *text, size_t length, long *value) {
    char digits[32];
    if (length == 0 || length >= sizeof digits) return false;
    memcpy(digits, text, length);
    digits[length] = '\0';
    char *end = NULL;
    errno = 0;
    long parsed = strtol(digits, &end, 10);
    if (errno != 0 || end == digits || *end != '\0' || parsed < -(long)INT_MAX || parsed > INT_MAX) return false;
    *value = parsed;
    return true;
}

int slice_end_resolve(long value, int n) {
    if (value < 0) value += n;
    return value < 0 ? 0 : value > n ? n : (int)value;
}
