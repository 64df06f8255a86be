/*
 * plot_outputs.c - what `loupe lens --plot/--summary` and `loupe plot` share:
 * the model's name for titles and writing the asked-for pictures.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "plot.h"

char *plot_model_name(const char *directory, char *buffer, size_t capacity) {
    size_t end = strlen(directory);
    while (end > 1 && directory[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && directory[start - 1] != '/') start--;
    size_t length = end - start < capacity ? end - start : capacity - 1;
    memcpy(buffer, directory + start, length);
    buffer[length] = '\0';
    return buffer;
}

int plot_outputs_write(const lens_view *view, const plot_style *style, const char *heatmap_path,
                       const char *summary_path) {
    loupe_error error;
    int status = CLI_EXIT_OK;
    if (heatmap_path != NULL && plot_heatmap_write(view, style, heatmap_path, &error) != LOUPE_OK)
        status = cli_fail(&error);
    if (status == CLI_EXIT_OK && summary_path != NULL &&
        plot_summary_write(view, style, summary_path, &error) != LOUPE_OK)
        status = cli_fail(&error);
    plot_text_shutdown();
    return status;
}

bool plot_check_path(const char *option, const char *path) {
    plot_format format;
    if (!plot_format_for_path(path, &format)) {
        cli_error("%s: '%s' must end in .png, .svg or .html (the extension picks the format)", option, path);
        return false;
    }
    if (format == PLOT_FORMAT_PNG && !plot_png_available) {
        cli_error("%s: '%s': %s", option, path, plot_png_absent_message);
        return false;
    }
    return true;
}

bool plot_output_check(const char *path) {
    struct stat info;
    int reason = 0;
    if (stat(path, &info) == 0) {
        /* an existing file is only tested, not opened: nothing is truncated before the real write */
        if (S_ISDIR(info.st_mode)) reason = EISDIR;
        else if (access(path, W_OK) != 0) reason = errno;
    } else if (errno != ENOENT) {
        reason = errno;
    } else {
        /* a new file: its folder must exist and take new files (none is created here) */
        const char *slash = strrchr(path, '/');
        size_t length = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
        char *folder = length == 0 ? strdup(".") : strndup(path, length);
        if (folder == NULL) reason = ENOMEM;
        else if (access(folder, W_OK | X_OK) != 0) reason = errno;
        free(folder);
    }
    if (reason == 0) return true;
    cli_error("%s: cannot create the file: %s", path, strerror(reason));
    return false;
}

int plot_outputs_check(const char *heatmap_path, const char *summary_path) {
    if (heatmap_path != NULL && !plot_output_check(heatmap_path)) return CLI_EXIT_FAILURE;
    if (summary_path != NULL && !plot_output_check(summary_path)) return CLI_EXIT_FAILURE;
    return CLI_EXIT_OK;
}
