/*
 * corpus_stats_codec.c - loupe_corpus_stats_encode and _decode: an
 * aggregate as bytes and back (docs/SCALE.md, "the aggregate"). All numbers
 * little-endian; a series is quantile_summary_encode's layout.
 *
 *   "LCST" u32 version (1)
 *   i32 R, i32 V, i32 exact_limit, f64 sketch_error, f64 frequency_base,
 *   i32 reservoir_size, u64 seed, i32 N, N x i32 tracked ids
 *   u8 rarity; with it: u64 counts hash, i32 B, (B + 1) x f64 bucket edges
 *   u8 bytes counted, i64 target bytes (0 unless counted)
 *   i64 positions, R x i64 top-1 = final, R x i64 top-1 = target,
 *   R x i64 decision rows
 *   R x M series (row-major: the metrics of row 0, then row 1, ...)
 *   with rarity: B x R x 3 series, i64 reservoir offered, i32 held (k),
 *     u64 generator state, k x f64 frequencies, k x R x f32 input ranks
 *   N x R x 2 series (rank, prob), N x R x i64 top-1 counts
 *
 * Shapes: R rows, V vocab, M metrics, B frequency buckets, N tracked tokens.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus/corpus_stats_internal.h"
#include "util/byte_buffer.h"
#include "util/error.h"

#define CODEC_MAGIC "LCST"
enum { CODEC_VERSION = 1, SMALLEST_SERIES = 41 /* bytes of an empty series */ };

/* n counts. */
static void write_counts(byte_writer *writer, const int64_t *counts, size_t n) {
    for (size_t i = 0; i < n; i++) byte_writer_i64(writer, counts[i]);
}

static void write_series(byte_writer *writer, const quantile_summary *series, size_t n, const quantile_shape *shape) {
    for (size_t i = 0; i < n; i++) quantile_summary_encode(&series[i], shape, writer);
}

loupe_status loupe_corpus_stats_encode(const loupe_corpus_stats *stats, void **data_out, size_t *size_out,
                                       loupe_error *error) {
    error_clear(error);
    *data_out = NULL;
    *size_out = 0;
    size_t R = (size_t)stats->n_rows, N = (size_t)stats->n_track, B = (size_t)stats->n_buckets;
    byte_writer writer;
    byte_writer_init(&writer);
    byte_writer_bytes(&writer, CODEC_MAGIC, 4);
    byte_writer_u32(&writer, CODEC_VERSION);
    byte_writer_i32(&writer, stats->n_rows);
    byte_writer_i32(&writer, stats->n_vocab);
    byte_writer_i32(&writer, stats->params.exact_limit);
    byte_writer_f64(&writer, stats->params.sketch_error);
    byte_writer_f64(&writer, stats->params.frequency_base);
    byte_writer_i32(&writer, stats->params.reservoir_size);
    byte_writer_u64(&writer, stats->params.seed);
    byte_writer_i32(&writer, stats->n_track);
    for (size_t k = 0; k < N; k++) byte_writer_i32(&writer, stats->track_ids[k]);
    byte_writer_u8(&writer, stats->rarity);
    if (stats->rarity) {
        byte_writer_u64(&writer, stats->counts_hash);
        byte_writer_i32(&writer, stats->n_buckets);
        for (size_t j = 0; j <= B; j++) byte_writer_f64(&writer, stats->edges[j]);
    }
    byte_writer_u8(&writer, stats->counts_bytes);
    byte_writer_i64(&writer, stats->target_bytes);
    byte_writer_i64(&writer, stats->positions);
    write_counts(&writer, stats->top1_final, R);
    write_counts(&writer, stats->top1_target, R);
    write_counts(&writer, stats->decisions, R);
    write_series(&writer, stats->summaries, R * METRICS, &stats->shape);
    if (stats->rarity) {
        write_series(&writer, stats->bucket_summaries, B * R * BUCKET_METRICS, &stats->shape);
        byte_writer_i64(&writer, stats->reservoir_seen);
        byte_writer_i32(&writer, stats->reservoir_count);
        byte_writer_u64(&writer, stats->random_state);
        for (int i = 0; i < stats->reservoir_count; i++) byte_writer_f64(&writer, stats->reservoir_frequency[i]);
        for (size_t i = 0; i < (size_t)stats->reservoir_count * R; i++)
            byte_writer_f32(&writer, stats->reservoir_ranks[i]);
    }
    write_series(&writer, stats->tracked_summaries, N * R * TRACKED_METRICS, &stats->shape);
    write_counts(&writer, stats->tracked_top1, N * R);
    if (writer.failed) {
        byte_writer_free(&writer);
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory encoding corpus statistics");
    }
    *data_out = writer.data;
    *size_out = writer.size;
    return LOUPE_OK;
}

/* ------------------------------------------------------------------------
 * Decoding
 * ---------------------------------------------------------------------- */

/* A refusal naming the part and the offset where it was read. */
static loupe_status refuse(loupe_error *error, const byte_reader *reader, const char *part, const char *why) {
    return error_set(error, LOUPE_ERROR_FORMAT, "corpus statistics, %s at byte %zu: %s", part, reader->offset, why);
}

/* n counts, each in 0 .. max (the positions). */
static const char *read_counts(byte_reader *reader, int64_t *counts, size_t n, int64_t max) {
    if (n > byte_reader_left(reader) / 8) return "truncated";
    for (size_t i = 0; i < n; i++) {
        counts[i] = byte_reader_i64(reader);
        if (counts[i] < 0 || counts[i] > max) return "a count below 0 or above the positions";
    }
    return NULL;
}

/* n series, each of `positions` values at most. */
static const char *read_series(byte_reader *reader, quantile_summary *series, size_t n, const quantile_shape *shape,
                               int64_t positions) {
    if (n > byte_reader_left(reader) / SMALLEST_SERIES) return "truncated";
    for (size_t i = 0; i < n; i++) {
        const char *why = quantile_summary_decode(&series[i], shape, reader);
        if (why != NULL) return why;
        if (series[i].count > positions) return "a series of more values than positions";
    }
    return NULL;
}

/* The parameters of the header into *params and *track (N ids). */
static loupe_status read_header(byte_reader *reader, int *R, int *V, loupe_corpus_stats_params *params,
                                int32_t *track, loupe_error *error) {
    const uint8_t *magic = byte_reader_bytes(reader, 4);
    if (magic == NULL || memcmp(magic, CODEC_MAGIC, 4) != 0)
        return refuse(error, reader, "the header", "not encoded corpus statistics (no \"LCST\")");
    uint32_t version = byte_reader_u32(reader);
    if (!reader->failed && version != CODEC_VERSION)
        return error_set(error, LOUPE_ERROR_FORMAT, "corpus statistics of version %u: this loupe reads version %d",
                         version, CODEC_VERSION);
    *R = byte_reader_i32(reader);
    *V = byte_reader_i32(reader);
    params->exact_limit = byte_reader_i32(reader);
    params->sketch_error = byte_reader_f64(reader);
    params->frequency_base = byte_reader_f64(reader);
    params->reservoir_size = byte_reader_i32(reader);
    params->seed = byte_reader_u64(reader);
    params->n_track = byte_reader_i32(reader);
    if (reader->failed) return refuse(error, reader, "the header", "truncated");
    if (params->n_track < 0 || params->n_track > LOUPE_LENS_MAX_TRACK)
        return refuse(error, reader, "the header", "a tracked-token count out of range");
    for (int k = 0; k < params->n_track; k++) track[k] = byte_reader_i32(reader);
    if (reader->failed) return refuse(error, reader, "the tracked tokens", "truncated");
    params->track_ids = track;
    return LOUPE_OK;
}

/* The rarity header: counts hash, buckets and edges, into stats (created
 * with counts, or without: then its rarity part is allocated here). */
static loupe_status read_rarity_header(byte_reader *reader, loupe_corpus_stats *stats, const int64_t *token_counts,
                                       loupe_error *error) {
    uint64_t hash = byte_reader_u64(reader);
    int B = byte_reader_i32(reader);
    if (reader->failed) return refuse(error, reader, "the frequency buckets", "truncated");
    if (B < 1 || B > MAX_BUCKETS) return refuse(error, reader, "the frequency buckets", "a bucket count out of range");
    double edges[MAX_BUCKETS + 1];
    for (int j = 0; j <= B; j++) edges[j] = byte_reader_f64(reader);
    if (reader->failed) return refuse(error, reader, "the frequency buckets", "truncated");
    for (int j = 0; j <= B; j++)
        if (!isfinite(edges[j]) || (j > 0 && !(edges[j] > edges[j - 1])))
            return refuse(error, reader, "the frequency buckets", "edges not finite and increasing");
    if (token_counts != NULL) {
        if (hash != stats->counts_hash)
            return error_set(error, LOUPE_ERROR_ARGUMENT,
                             "corpus statistics made with other token counts (their hash differs)");
        if (B != stats->n_buckets || memcmp(edges, stats->edges, ((size_t)B + 1) * sizeof edges[0]) != 0)
            return refuse(error, reader, "the frequency buckets", "not the buckets of these token counts");
        return LOUPE_OK;
    }
    stats->counts_hash = hash;
    stats->n_buckets = B;
    memcpy(stats->edges, edges, ((size_t)B + 1) * sizeof edges[0]);
    if (!corpus_stats_allocate_rarity(stats))
        return error_set(error, LOUPE_ERROR_MEMORY, "out of memory for corpus statistics");
    return LOUPE_OK;
}

/* The reservoir: offered, held, generator, frequencies and ranks. */
static const char *read_reservoir(byte_reader *reader, loupe_corpus_stats *stats) {
    size_t R = (size_t)stats->n_rows;
    int64_t seen = byte_reader_i64(reader);
    int held = byte_reader_i32(reader);
    uint64_t state = byte_reader_u64(reader);
    if (reader->failed) return "truncated";
    int64_t expected = seen < stats->params.reservoir_size ? seen : stats->params.reservoir_size;
    if (seen < 0 || seen > stats->positions || held != expected)
        return "a sample size that is not min(positions offered, reservoir_size)";
    if ((size_t)held > byte_reader_left(reader) / (8 + 4 * R)) return "truncated";
    if (!corpus_stats_reserve_reservoir(stats, held)) return "out of memory";
    for (int i = 0; i < held; i++) {
        double frequency = byte_reader_f64(reader);
        if (!(frequency >= 0.0) || !isfinite(frequency)) return "a sampled frequency that is not a count";
        stats->reservoir_frequency[i] = frequency;
    }
    for (size_t i = 0; i < (size_t)held * R; i++) {
        float rank = byte_reader_f32(reader);
        if (!(rank >= 1.0f && rank <= (float)stats->n_vocab)) return "a sampled rank outside 1 .. V";
        stats->reservoir_ranks[i] = rank;
    }
    stats->reservoir_seen = seen;
    stats->reservoir_count = held;
    stats->random_state = state;
    return NULL;
}

/* Reads the accumulators after the header into stats. */
static loupe_status read_body(byte_reader *reader, loupe_corpus_stats *stats, loupe_error *error) {
    size_t R = (size_t)stats->n_rows, N = (size_t)stats->n_track, B = (size_t)stats->n_buckets;
    stats->target_bytes = byte_reader_i64(reader);
    if (reader->failed || stats->target_bytes < 0 || (!stats->counts_bytes && stats->target_bytes != 0))
        return refuse(error, reader, "the target bytes", "truncated, negative, or set without counting bytes");
    int64_t P = stats->positions = byte_reader_i64(reader);
    if (reader->failed || P < 0) return refuse(error, reader, "the positions", "truncated or negative");
    const char *why;
    if ((why = read_counts(reader, stats->top1_final, R, P)) || (why = read_counts(reader, stats->top1_target, R, P)) ||
        (why = read_counts(reader, stats->decisions, R, P)))
        return refuse(error, reader, "the top-1 and decision counts", why);
    int64_t decided = 0;
    for (size_t row = 0; row < R; row++) decided += stats->decisions[row];
    if (decided != P) return refuse(error, reader, "the decision counts", "they do not add up to the positions");
    if ((why = read_series(reader, stats->summaries, R * METRICS, &stats->shape, P)))
        return refuse(error, reader, "the metric series", why);
    if (stats->rarity) {
        if ((why = read_series(reader, stats->bucket_summaries, B * R * BUCKET_METRICS, &stats->shape, P)))
            return refuse(error, reader, "the frequency-bucket series", why);
        if ((why = read_reservoir(reader, stats))) return refuse(error, reader, "the reservoir", why);
    }
    if ((why = read_series(reader, stats->tracked_summaries, N * R * TRACKED_METRICS, &stats->shape, P)) ||
        (why = read_counts(reader, stats->tracked_top1, N * R, P)))
        return refuse(error, reader, "the tracked tokens", why);
    if (byte_reader_left(reader) != 0) return refuse(error, reader, "the end", "bytes after the statistics");
    return LOUPE_OK;
}

loupe_status loupe_corpus_stats_decode(const void *data, size_t size, const int64_t *token_counts,
                                       const int32_t *token_bytes, loupe_corpus_stats **stats_out,
                                       loupe_error *error) {
    error_clear(error);
    *stats_out = NULL;
    byte_reader reader;
    byte_reader_init(&reader, data, size);
    int R = 0, V = 0;
    int32_t track[LOUPE_LENS_MAX_TRACK];
    loupe_corpus_stats_params params = loupe_corpus_stats_default_params();
    loupe_status status = read_header(&reader, &R, &V, &params, track, error);
    if (status != LOUPE_OK) return status;
    uint8_t rarity = byte_reader_u8(&reader);
    if (reader.failed || rarity > 1) return refuse(error, &reader, "the header", "truncated or a bad rarity flag");
    /* every row costs at least its series and counts: refuse sizes the bytes cannot hold before allocating */
    if (R < 1 || (size_t)R > byte_reader_left(&reader) / (METRICS * SMALLEST_SERIES))
        return refuse(error, &reader, "the header", "more rows than the statistics hold");
    if (rarity && token_counts == NULL) params.token_counts = NULL;
    else if (rarity) params.token_counts = token_counts;
    params.token_bytes = token_bytes;
    loupe_corpus_stats *stats = NULL;
    status = loupe_corpus_stats_create(R, V, &params, &stats, error);
    if (status != LOUPE_OK) {
        /* the header's parameters were out of range: a format error of the bytes */
        if (status == LOUPE_ERROR_ARGUMENT) {
            char why[sizeof error->message];
            snprintf(why, sizeof why, "%s", error != NULL ? error->message : "parameters out of range");
            status = refuse(error, &reader, "the header", why);
        }
        return status;
    }
    if (rarity) status = read_rarity_header(&reader, stats, token_counts, error);
    else if (token_counts != NULL)
        status = error_set(error, LOUPE_ERROR_ARGUMENT, "corpus statistics made without token counts");
    uint8_t counts_bytes = byte_reader_u8(&reader);
    if (status == LOUPE_OK && (reader.failed || counts_bytes > 1))
        status = refuse(error, &reader, "the target bytes", "truncated or a bad flag");
    if (status == LOUPE_OK && !counts_bytes && token_bytes != NULL)
        status = error_set(error, LOUPE_ERROR_ARGUMENT, "corpus statistics made without token byte lengths");
    if (status == LOUPE_OK && counts_bytes) {
        stats->counts_bytes = true; /* with token_bytes, create copied them */
        if (token_bytes == NULL) {
            free(stats->token_bytes);
            stats->token_bytes = NULL;
        }
    }
    if (status == LOUPE_OK) status = read_body(&reader, stats, error);
    if (status != LOUPE_OK) {
        loupe_corpus_stats_free(stats);
        return status;
    }
    *stats_out = stats;
    return LOUPE_OK;
}
