/*
 * corpus_progress.c - the progress line of a long corpus run, on stderr.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "corpus_output.h"

double corpus_progress_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

void corpus_progress_start(corpus_progress *progress, const char *mode, int64_t total_bytes, int64_t max_tokens) {
    memset(progress, 0, sizeof *progress);
    progress->enabled = strcmp(mode, "always") == 0 || (strcmp(mode, "auto") == 0 && isatty(STDERR_FILENO));
    progress->started = corpus_progress_now();
    progress->total_bytes = total_bytes;
    progress->max_tokens = max_tokens;
}

/* "1h02m", "3m05s", "42s" into buffer. */
static void format_duration(double seconds, char *buffer, size_t capacity) {
    long s = seconds < 0 ? 0 : (long)(seconds + 0.5);
    if (s >= 3600) snprintf(buffer, capacity, "%ldh%02ldm", s / 3600, s / 60 % 60);
    else if (s >= 60) snprintf(buffer, capacity, "%ldm%02lds", s / 60, s % 60);
    else snprintf(buffer, capacity, "%lds", s);
}

void corpus_progress_format(char *buffer, size_t capacity, double done, double elapsed, int64_t documents,
                            int64_t tokens) {
    if (done < 0.0) done = 0.0;
    if (done > 1.0) done = 1.0;
    enum { BAR = 24 };
    char bar[BAR + 1];
    int filled = (int)(done * BAR);
    for (int i = 0; i < BAR; i++) bar[i] = i < filled ? '#' : '.';
    bar[BAR] = '\0';
    char eta[32] = "?";
    /* the remaining time if the rest goes at the pace so far: the same fraction as the percent shown */
    if (done > 0.0) format_duration(elapsed * (1.0 - done) / done, eta, sizeof eta);
    snprintf(buffer, capacity, "[%s] %3.0f%%  %lld document%s  %lld tokens  %.0f tokens/s  ETA %s", bar,
             100.0 * done, (long long)documents, documents == 1 ? "" : "s", (long long)tokens,
             elapsed > 0 ? (double)tokens / elapsed : 0.0, eta);
}

void corpus_progress_update(corpus_progress *progress, int64_t documents, int64_t tokens, double bytes,
                            bool force) {
    if (!progress->enabled) return;
    double now = corpus_progress_now();
    if (!force && now - progress->last_drawn < 0.2) return;
    progress->last_drawn = now;
    double done = 0.0; /* of the bytes, or of --max-tokens when that is further: the run ends at the first */
    if (progress->total_bytes > 0) done = bytes / (double)progress->total_bytes;
    if (progress->max_tokens > 0 && (double)tokens / (double)progress->max_tokens > done)
        done = (double)tokens / (double)progress->max_tokens;
    char line[256];
    corpus_progress_format(line, sizeof line, done, now - progress->started, documents, tokens);
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
}

void corpus_progress_finish(corpus_progress *progress) {
    if (!progress->enabled) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
}
