/*
 * tokenizer_throughput.c - measures how fast the GPT-2 tokenizer encodes a
 * text file.
 *
 *   tokenizer_throughput TOKENIZER_DIR TEXT_FILE [RUNS] [MIN_MB]
 *
 * The text is repeated until it is at least MIN_MB megabytes (default 1) so
 * each run is long enough to time. Each run opens a fresh tokenizer, so the
 * piece cache starts cold; the time counts encoding only. Prints every run
 * and the median in MB/s (1 MB = 10^6 bytes), of the wall-clock time and of
 * the process's CPU time (which a machine busy with other work does not
 * inflate). TOKENIZER_DIR may hold vocab.json and merges.txt (GPT-2) or a
 * Hugging Face tokenizer.json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loupe.h"
#include "util/file_map.h"

#include "timing.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s TOKENIZER_DIR TEXT_FILE [RUNS] [MIN_MB]\n", argv[0]);
        return 2;
    }
    int runs = argc > 3 ? atoi(argv[3]) : 7;
    double min_mb = argc > 4 ? atof(argv[4]) : 1.0;
    if (runs < 1 || runs > 1000 || !(min_mb > 0 && min_mb < 4096)) {
        fprintf(stderr, "%s: RUNS must be 1..1000 and MIN_MB in (0, 4096)\n", argv[0]);
        return 2;
    }
    loupe_error error;
    char *file_text = NULL;
    size_t file_size = 0;
    if (file_read_all(argv[2], (size_t)1 << 30, &file_text, &file_size, &error) != LOUPE_OK) {
        fprintf(stderr, "%s\n", error.message);
        return 1;
    }
    if (file_size == 0) {
        fprintf(stderr, "%s: empty file\n", argv[2]);
        free(file_text);
        return 1;
    }
    size_t copies = (size_t)(min_mb * 1e6 / (double)file_size) + 1;
    size_t size = copies * file_size;
    char *text = malloc(size);
    if (text == NULL) {
        fprintf(stderr, "out of memory\n");
        free(file_text);
        return 1;
    }
    for (size_t i = 0; i < copies; i++) memcpy(text + i * file_size, file_text, file_size);
    free(file_text);

    double *rates = malloc((size_t)runs * sizeof *rates);
    double *cpu_rates = malloc((size_t)runs * sizeof *cpu_rates);
    size_t token_count = 0;
    int status = 0;
    for (int run = 0; run < runs && status == 0; run++) {
        loupe_tokenizer *tokenizer = NULL;
        if (loupe_tokenizer_open(argv[1], &tokenizer, &error) != LOUPE_OK) {
            fprintf(stderr, "%s\n", error.message);
            status = 1;
            break;
        }
        int32_t *ids = NULL;
        double start = seconds_now(), cpu_start = cpu_seconds_now();
        loupe_status encoded = loupe_tokenizer_encode(tokenizer, text, size, &ids, &token_count, &error);
        double elapsed = seconds_now() - start, cpu_elapsed = cpu_seconds_now() - cpu_start;
        if (encoded != LOUPE_OK) {
            fprintf(stderr, "%s\n", error.message);
            status = 1;
        }
        rates[run] = (double)size / 1e6 / elapsed;
        cpu_rates[run] = (double)size / 1e6 / cpu_elapsed;
        printf("run %d: %.3f s, %.1f MB/s (CPU time %.3f s, %.1f MB/s)\n", run + 1, elapsed, rates[run], cpu_elapsed,
               cpu_rates[run]);
        loupe_free(ids);
        loupe_tokenizer_close(tokenizer);
    }
    if (status == 0) {
        qsort(rates, (size_t)runs, sizeof *rates, compare_doubles);
        qsort(cpu_rates, (size_t)runs, sizeof *cpu_rates, compare_doubles);
        printf("%zu bytes (%zu copies of %s), %zu tokens, %.2f bytes/token\n", size, copies, argv[2],
               token_count, (double)size / (double)token_count);
        printf("median of %d runs: %.1f MB/s (CPU time: %.1f MB/s)\n", runs, rates[runs / 2], cpu_rates[runs / 2]);
    }
    free(rates);
    free(cpu_rates);
    free(text);
    return status;
}
