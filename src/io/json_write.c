/*
 * json_write.c - text as the loupe documents and tables print it: UTF-8
 * kept as it is, bytes that are not UTF-8 shown as <0xNN>, and in JSON the
 * escapes the grammar needs. See json.h.
 */
#include "io/json.h"

#include <utf8proc.h>

void json_write_text(FILE *out, const char *s, size_t length, bool json_escape) {
    for (size_t at = 0; at < length;) {
        utf8proc_int32_t codepoint = -1;
        utf8proc_ssize_t used =
            utf8proc_iterate((const utf8proc_uint8_t *)s + at, (utf8proc_ssize_t)(length - at), &codepoint);
        if (used <= 0) {
            fprintf(out, "<0x%02X>", (unsigned)(unsigned char)s[at]);
            at++;
            continue;
        }
        if (json_escape && codepoint < 0x80) {
            char c = (char)codepoint;
            if (c == '"') fputs("\\\"", out);
            else if (c == '\\') fputs("\\\\", out);
            else if (c == '\n') fputs("\\n", out);
            else if (c == '\t') fputs("\\t", out);
            else if (c == '\r') fputs("\\r", out);
            else if (codepoint < 0x20 || codepoint == 0x7F) fprintf(out, "\\u%04x", (unsigned)codepoint);
            else fputc(c, out);
        } else {
            fwrite(s + at, 1, (size_t)used, out);
        }
        at += (size_t)used;
    }
}

void json_write_string(FILE *out, const char *s, size_t length) {
    fputc('"', out);
    json_write_text(out, s, length, true);
    fputc('"', out);
}
