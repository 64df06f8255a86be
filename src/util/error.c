/*
 * error.c - status names and the error choke point.
 */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *loupe_status_name(loupe_status status) {
    switch (status) {
    case LOUPE_OK: return "ok";
    case LOUPE_ERROR_IO: return "i/o error";
    case LOUPE_ERROR_FORMAT: return "format error";
    case LOUPE_ERROR_UNSUPPORTED: return "unsupported";
    case LOUPE_ERROR_LIMIT: return "limit exceeded";
    case LOUPE_ERROR_ARGUMENT: return "invalid argument";
    case LOUPE_ERROR_MEMORY: return "out of memory";
    }
    return "unknown status";
}

loupe_status error_set(loupe_error *error, loupe_status status, const char *format, ...) {
    if (error == NULL) return status;
    error->status = status;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error->message, sizeof error->message, format, arguments);
    va_end(arguments);
    /* Messages are one line: a newline smuggled in through a file name or
     * a field value must not break that promise. */
    for (char *c = error->message; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    return status;
}

void error_clear(loupe_error *error) {
    if (error == NULL) return;
    error->status = LOUPE_OK;
    error->message[0] = '\0';
}

void loupe_free(void *pointer) { free(pointer); }
