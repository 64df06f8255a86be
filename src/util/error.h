/*
 * error.h - the one choke point through which loupe reports failures.
 */
#ifndef LOUPE_UTIL_ERROR_H
#define LOUPE_UTIL_ERROR_H

#include "loupe.h"

/* Records status and a printf-style one-line message in *error (which may be
 * NULL) and returns status, so callers can write `return error_set(...)`. */
loupe_status error_set(loupe_error *error, loupe_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears *error to LOUPE_OK with an empty message; NULL is a no-op. */
void error_clear(loupe_error *error);

#endif
