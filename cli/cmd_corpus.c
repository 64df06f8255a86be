/*
 * cmd_corpus.c - `loupe corpus`: the lens over whole corpora, aggregated per
 * layer in memory that does not grow with the corpus. Reads the documents
 * (corpus_input.c), cuts each into windows (loupe_corpus_window_next), runs
 * the lens on each window and adds its scored positions to a
 * loupe_corpus_stats; then prints a table or JSON and draws the plots.
 * Ctrl-C stops between windows and still reports the aggregate so far,
 * marked partial.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "corpus_identity.h"
#include "corpus_certify.h"
#include "corpus_output.h"
#include "corpus_state.h"
#include "corpus_team.h"
#include "loupe_internal.h"
#include "plot.h"

static const char usage[] =
    "usage: loupe corpus [--model DIR] [options] FILE...\n"
    "\n"
    "The logit lens over whole corpora: per layer, the mean, median and 10 %/90 %\n"
    "quantiles of the target and input ranks and probabilities, the four KLs and\n"
    "the entropy, the cross-entropy of the next token (nats, and bits per byte of\n"
    "the targets' text); how often each layer's top-1 is the final top-1 and the true\n"
    "next token; and the decision layer (the first layer from which the final\n"
    "top-1 stays top-1). With --counts, the input token's statistics by its corpus\n"
    "frequency and Spearman's rho between frequency and input rank per layer.\n"
    "docs/CORPUS.md describes every number. FILE '-' is standard input.\n"
    "\n"
    "  --model DIR        a Hugging Face model folder (default: the embedded gpt2-demo)\n" CORPUS_SOURCE_HELP
    "  --stride N         tokens between window starts (default: the context / 2);\n"
    "                     documents longer than the model's context are cut into\n"
    "                     windows; each position is scored once, in the first window\n"
    "                     holding it and its next token (the most left context)\n"
    "  --min-context N    skip positions with fewer than N tokens before them in\n"
    "                     their window (default 0; at most context - stride - 1)\n"
    "  --max-tokens N     stop after N scored positions\n"
    "  --counts FILE      token frequencies from loupe count: rarity statistics\n"
    "  --format F         table (default), json (schema loupe.corpus/1) or csv (the\n"
    "                     per-layer metrics, one line per layer and metric)\n"
    "  --plot FILE        draw per-layer curves with quantile bands to FILE (.png,\n"
    "                     .svg or .html); with --counts also FILE-rarity.EXT\n"
    "  --subblocks        add a row after each block's attention (hN.attn)\n"
    "  --track TOKEN      also summarise a token per layer: its rank, probability and\n"
    "                     how often it is the layer's top-1; a token's text (one\n"
    "                     token) or its id; up to 16\n"
    "  --tuned LENSDIR    the tuned lens of LENSDIR instead of the logit lens\n"
    "                     (docs/TUNED_LENS.md)\n"
    "  --compare-lenses   with --tuned: both lenses over the same positions, side by\n"
    "                     side per layer (cross-entropy, bits per byte, KL, rank,\n"
    "                     top-1); JSON: loupe.corpus_compare/1 with both reports\n"
    "  --exact-limit N    values per statistic kept exactly before the quantile\n"
    "                     sketch takes over (default 10000)\n"
    "  --sketch-error X   relative error bound of sketched quantiles (default 0.01)\n"
    "  --reservoir N      positions sampled for Spearman's rho (default 20000)\n"
    "  --seed N           seed of that sample (default 1)\n"
    "  --certify          also run the certified lens (interval arithmetic) on every\n"
    "                     window: per row the share of top1_certain cells and the\n"
    "                     relative radius, per layer each kernel's widening\n"
    "                     (docs/CORPUS.md)\n"
    "  --weight-radius R  with --certify: widen every weight to w [1-R, 1+R]; bf16\n"
    "                     or f16 for those formats' unit roundoff (default 0)\n"
    "  --progress WHEN    auto (default: when stderr is a terminal), always, never\n"
    "  --shard I/N        score only shard I of N (0 <= I < N): the documents whose\n"
    "                     index over all the FILEs, in order, is I modulo N\n"
    "                     (docs/SCALE.md); merge the shards' --save-state files\n"
    "                     with loupe corpus-merge\n"
    "  --save-state FILE  also write the aggregate state to FILE (docs/SCALE.md)\n"
    "  --checkpoint FILE  save the state and the position reached to FILE as the\n"
    "                     run goes (atomically), at the end, and on Ctrl-C\n"
    "  --checkpoint-every S  seconds between checkpoints (default 60; 0: after\n"
    "                     every window)\n"
    "  --resume           continue from the --checkpoint FILE (when it exists; a\n"
    "                     checkpoint of another model or other options is refused)\n"
    "  --help             show this help\n";

typedef struct corpus_options {
    const char *model, *counts, *plot, *progress, *tuned, *save_state, *checkpoint;
    long stride, min_context, max_tokens, exact_limit, reservoir, seed;
    double sketch_error, checkpoint_every, weight_radius;
    bool has_stride, subblocks, resume, compare_lenses, certify, has_weight_radius, has_shard;
    uint32_t shard, n_shards; /* --shard I/N (or the team's member and size); 0/1 without */
    char *checkpoint_name;    /* owned: FILE.rankR of a team member's --checkpoint */
    corpus_format format;
    corpus_source source;
    cli_track_list track;
} corpus_options;

/* Parses --shard I/N into chosen; false with a message. */
static bool parse_shard(const char *text, corpus_options *chosen) {
    unsigned long shard, n_shards;
    char *end;
    shard = strtoul(text, &end, 10);
    bool ok = end != text && *end == '/' && text[0] >= '0' && text[0] <= '9';
    if (ok) {
        const char *second = end + 1;
        n_shards = strtoul(second, &end, 10);
        ok = end != second && *end == '\0' && second[0] >= '1' && second[0] <= '9' && n_shards >= 1 &&
             n_shards <= CORPUS_STATE_MAX_SHARDS && shard < n_shards;
    }
    if (!ok) {
        cli_error("--shard: expected I/N with 0 <= I < N <= %d, got '%s'", CORPUS_STATE_MAX_SHARDS, text);
        return false;
    }
    chosen->shard = (uint32_t)shard;
    chosen->n_shards = (uint32_t)n_shards;
    chosen->has_shard = true;
    return true;
}

/* Parses argv; returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, corpus_options *chosen) {
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},     {"stride", required_argument, NULL, 's'},
        {"min-context", required_argument, NULL, 'c'}, {"max-tokens", required_argument, NULL, 'n'},
        {"counts", required_argument, NULL, 'C'},    {"format", required_argument, NULL, 'F'},
        {"plot", required_argument, NULL, 'p'},      {"subblocks", no_argument, NULL, 'S'},
        {"exact-limit", required_argument, NULL, 'x'}, {"sketch-error", required_argument, NULL, 'e'},
        {"reservoir", required_argument, NULL, 'r'}, {"seed", required_argument, NULL, 'd'},
        {"progress", required_argument, NULL, 'P'},  {"help", no_argument, NULL, 'h'},
        {"track", required_argument, NULL, 't'},
        {"tuned", required_argument, NULL, 'U'},     CORPUS_SOURCE_LONG_OPTIONS,
        {"shard", required_argument, NULL, 'H'},     {"save-state", required_argument, NULL, 'W'},
        {"checkpoint", required_argument, NULL, 'K'}, {"checkpoint-every", required_argument, NULL, 'E'},
        {"resume", no_argument, NULL, 'R'},          {"compare-lenses", no_argument, NULL, 'L'},
        {"certify", no_argument, NULL, 'Z'},         {"weight-radius", required_argument, NULL, 'w'},
        {NULL, 0, NULL, 0},
    };
    loupe_corpus_stats_params defaults = loupe_corpus_stats_default_params();
    memset(chosen, 0, sizeof *chosen);
    chosen->source.reader = loupe_corpus_reader_default_params();
    chosen->progress = "auto";
    chosen->exact_limit = defaults.exact_limit;
    chosen->sketch_error = defaults.sketch_error;
    chosen->reservoir = defaults.reservoir_size;
    chosen->seed = (long)defaults.seed;
    chosen->n_shards = 1;
    chosen->checkpoint_every = 60.0;
    bool ok = true;
    int option;
    optind = 1;
    while (ok && (option = getopt_long(argc, argv, "m:h", options, NULL)) != -1) {
        if (corpus_source_option(&chosen->source, option, optarg)) continue;
        switch (option) {
        case 'm': chosen->model = optarg; break;
        case 's':
            ok = cli_parse_int("--stride", optarg, 1, 1 << 24, &chosen->stride);
            chosen->has_stride = true;
            break;
        case 'c': ok = cli_parse_int("--min-context", optarg, 0, 1 << 24, &chosen->min_context); break;
        case 'n': ok = cli_parse_int("--max-tokens", optarg, 1, LONG_MAX, &chosen->max_tokens); break;
        case 'C': chosen->counts = optarg; break;
        case 'F': ok = corpus_report_parse_format(optarg, &chosen->format); break;
        case 'p': ok = plot_check_path("--plot", optarg); chosen->plot = optarg; break;
        case 'S': chosen->subblocks = true; break;
        case 'U': chosen->tuned = optarg; break;
        case 'Z': chosen->certify = true; break;
        case 'w':
            ok = lens_certified_weight_radius(optarg, &chosen->weight_radius);
            chosen->has_weight_radius = true;
            break;
        case 'x': ok = cli_parse_int("--exact-limit", optarg, 0, 1 << 26, &chosen->exact_limit); break;
        case 'e': ok = cli_parse_float("--sketch-error", optarg, 1e-4, 0.5, &chosen->sketch_error); break;
        case 'r': ok = cli_parse_int("--reservoir", optarg, 4, 1 << 24, &chosen->reservoir); break;
        case 'd': ok = cli_parse_int("--seed", optarg, 0, LONG_MAX, &chosen->seed); break;
        case 'P':
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never")) {
                cli_error("--progress: expected one of auto, always, never, got '%s'", optarg);
                ok = false;
            }
            chosen->progress = optarg;
            break;
        case 't': ok = cli_track_add(optarg, &chosen->track); break;
        case 'H': ok = parse_shard(optarg, chosen); break;
        case 'W': chosen->save_state = optarg; break;
        case 'K': chosen->checkpoint = optarg; break;
        case 'E': ok = cli_parse_float("--checkpoint-every", optarg, 0.0, 1e7, &chosen->checkpoint_every); break;
        case 'R': chosen->resume = true; break;
        case 'L': chosen->compare_lenses = true; break;
        case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
        default: fputs(usage, stderr); return CLI_EXIT_USAGE;
        }
    }
    if (!ok || !corpus_certify_options_check(chosen->certify, chosen->has_weight_radius, chosen->tuned != NULL))
        return CLI_EXIT_USAGE;
    if (chosen->compare_lenses && chosen->tuned == NULL) {
        cli_error("--compare-lenses compares the logit lens with a tuned lens: give --tuned LENSDIR");
        return CLI_EXIT_USAGE;
    }
    if (chosen->compare_lenses && chosen->plot != NULL) {
        cli_error("--compare-lenses: no --plot; save each lens's report with --format json and overlay them "
                  "with loupe plot A.json B.json --plot FILE");
        return CLI_EXIT_USAGE;
    }
    if (chosen->format == CORPUS_FORMAT_CSV && (chosen->compare_lenses || chosen->certify)) {
        cli_error("--format csv: not with %s; use --format json",
                  chosen->compare_lenses ? "--compare-lenses" : "--certify");
        return CLI_EXIT_USAGE;
    }
    if (chosen->resume && chosen->checkpoint == NULL) {
        cli_error("--resume continues from a checkpoint: give it with --checkpoint FILE");
        return CLI_EXIT_USAGE;
    }
    if (optind >= argc) {
        cli_error("corpus: no corpus file given (use '-' for standard input)");
        return CLI_EXIT_USAGE;
    }
    chosen->source.paths = argv + optind;
    chosen->source.n_paths = argc - optind;
    return -1;
}

/* Takes the team's share (member of n_members) in place of --shard, and
 * names a member's checkpoint FILE.rankR; then checks what sharding rules
 * out. Returns -1 to go on, else the exit status (after the message). */
static int join_team(const corpus_team *team, corpus_options *chosen) {
    if (team != NULL) {
        if (chosen->has_shard) {
            cli_error("--shard: loupe-mpi deals the shards itself, one per rank (docs/SCALE.md)");
            return CLI_EXIT_USAGE;
        }
        chosen->shard = team->member;
        chosen->n_shards = team->n_members;
        if (team->member != 0) chosen->progress = "never"; /* one progress line, rank 0's */
        if (chosen->checkpoint != NULL) {
            if (asprintf(&chosen->checkpoint_name, "%s.rank%u", chosen->checkpoint, team->member) < 0) {
                chosen->checkpoint_name = NULL;
                cli_error("out of memory");
                return CLI_EXIT_FAILURE;
            }
            chosen->checkpoint = chosen->checkpoint_name;
        }
    }
    if (chosen->compare_lenses &&
        (team != NULL || chosen->n_shards > 1 || chosen->save_state != NULL || chosen->checkpoint != NULL)) {
        cli_error("--compare-lenses runs in one process: not with --shard, --save-state or --checkpoint (run each "
                  "lens's shards apart and merge them)");
        return CLI_EXIT_USAGE;
    }
    if (chosen->certify &&
        (team != NULL || chosen->n_shards > 1 || chosen->save_state != NULL || chosen->checkpoint != NULL)) {
        cli_error("--certify runs in one process: not with --shard, --save-state or --checkpoint (its statistics "
                  "are not part of the saved state)");
        return CLI_EXIT_USAGE;
    }
    if (chosen->n_shards > 1 && chosen->max_tokens > 0) {
        if (team != NULL) cli_error("--max-tokens would limit each rank, not the corpus: not with several ranks");
        else cli_error("--max-tokens would limit each shard, not the corpus: not with --shard");
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/* ------------------------------------------------------------------------
 * Ctrl-C
 * ---------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted = 0;

/* SIGINT: only sets the flag (async-signal-safe). */
static void on_interrupt(int signal_number) {
    (void)signal_number;
    interrupted = 1;
}

/* The first Ctrl-C sets the flag (checked between windows); the handler is
 * reset, so a second one ends the process at once. */
static void catch_interrupt(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_interrupt;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
}

/* ------------------------------------------------------------------------
 * The run
 * ---------------------------------------------------------------------- */

typedef struct corpus_run {
    loupe_model *model;
    loupe_tokenizer *tokenizer;
    corpus_report *report;
    loupe_lens_params lens;
    corpus_report *logit;   /* --compare-lenses: the logit lens's report beside the tuned one, else NULL */
    corpus_progress progress;
    corpus_certify *certify; /* --certify, or NULL */
    int64_t bytes_done;     /* bytes read, the document being scored included */
    int64_t bytes_finished; /* bytes of the documents scored to the end */
    int status;
    /* sharding, states and checkpoints (docs/SCALE.md) */
    const corpus_options *chosen;
    char *identity;         /* the run's identity lines, with --save-state or --checkpoint */
    int64_t next_index;     /* global index of the next document read, over all the inputs */
    int64_t current;        /* index of the document under way (or next_index when between documents) */
    loupe_corpus_window done; /* its last window added (end 0: none) */
    bool resuming;          /* skipping to the checkpoint's position */
    int64_t resume_document;
    loupe_corpus_window resume_window;
    double seconds_before;  /* of the runs the checkpoint resumed */
    double last_checkpoint; /* monotonic seconds */
} corpus_run;

/* The run's state, borrowing its aggregate and identity (not to be freed). */
static corpus_state run_state(const corpus_run *run, corpus_state_kind kind, uint32_t *shard, bool finished) {
    const corpus_report *report = run->report;
    *shard = run->chosen->shard;
    corpus_state state = {
        .kind = kind,
        .identity = run->identity,
        .n_shards = run->chosen->n_shards,
        .shards = shard,
        .n_covered = 1,
        .documents = report->documents,
        .windows = report->n_windows,
        .positions = report->positions,
        .skipped_lines = report->skipped_lines,
        .seconds = run->seconds_before + corpus_progress_now() - run->progress.started,
        .partial = kind == CORPUS_STATE_AGGREGATE && report->partial,
        .next_document = run->current,
        .window = run->done,
        .finished = finished,
        .stats = report->stats,
    };
    return state;
}

/* Writes the checkpoint (with --checkpoint); false after printing the error. */
static bool write_checkpoint(corpus_run *run, bool finished) {
    if (run->chosen->checkpoint == NULL) return true;
    uint32_t shard;
    corpus_state state = run_state(run, CORPUS_STATE_CHECKPOINT, &shard, finished);
    loupe_error error;
    run->last_checkpoint = corpus_progress_now();
    if (corpus_state_write(run->chosen->checkpoint, &state, &error) != LOUPE_OK) {
        cli_fail(&error);
        return false;
    }
    return true;
}

/* Whether document `index` is scored here: its shard, and not done before
 * the checkpoint resumed. Sets *continuing when it is the checkpoint's
 * document under way, with *window its last window done. */
static bool document_is_ours(corpus_run *run, int64_t index, bool *continuing, loupe_corpus_window *window) {
    *continuing = false;
    *window = (loupe_corpus_window){0};
    if ((uint64_t)index % run->chosen->n_shards != run->chosen->shard) return false;
    if (run->resuming) {
        if (index < run->resume_document) return false;
        run->resuming = false;
        if (index == run->resume_document) {
            *continuing = true;
            *window = run->resume_window;
        }
    }
    return true;
}

/* Runs the lens on ids (n tokens) and adds positions [begin, end) of it
 * to report; false with error filled on failure. */
static bool add_window(const corpus_run *run, const loupe_lens_params *params, corpus_report *report,
                       const int32_t *ids, int n, int begin, int end, loupe_error *error) {
    loupe_lens_result *lens = NULL;
    bool ok = loupe_lens_run(run->model, ids, n, params, &lens, error) == LOUPE_OK &&
              loupe_corpus_stats_add(report->stats, lens, begin, end, error) == LOUPE_OK;
    loupe_lens_free(lens);
    if (ok) {
        report->n_windows++;
        report->positions += end - begin;
    }
    return ok;
}

/* Runs the lens (with --compare-lenses both lenses) on every window of one
 * document and adds the scored positions; false to stop (limit reached,
 * Ctrl-C, or an error). */
static bool run_document(void *user, const loupe_corpus_document *document, const char *path) {
    corpus_run *run = user;
    corpus_report *report = run->report;
    int64_t index = run->next_index++;
    bool continuing;
    loupe_corpus_window window;
    if (!document_is_ours(run, index, &continuing, &window)) {
        run->bytes_finished = run->bytes_done;
        return !interrupted;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    loupe_error error;
    if (loupe_tokenizer_encode(run->tokenizer, document->text, document->length, &ids, &n, &error) != LOUPE_OK) {
        cli_error("%s:%lld: %s", path, (long long)document->line, error.message);
        run->status = CLI_EXIT_FAILURE;
        return false;
    }
    if (n > (size_t)1 << 30) {
        cli_error("%s:%lld: a document of %zu tokens is too long", path, (long long)document->line, n);
        loupe_free(ids);
        run->status = CLI_EXIT_FAILURE;
        return false;
    }
    if (!continuing) report->documents++; /* a resumed document was counted before */
    run->current = index;
    run->done = window;
    bool go_on = true;
    while (go_on && loupe_corpus_window_next((int)n, &report->windows, &window)) {
        if (interrupted) {
            report->partial = true;
            go_on = false;
            break;
        }
        int begin = window.score_begin, end = window.score_end;
        if (report->max_tokens > 0 && report->positions + (end - begin) >= report->max_tokens) {
            end = begin + (int)(report->max_tokens - report->positions);
            go_on = false;
        }
        if (end <= begin) {
            run->done = window;
            continue;
        }
        /* the model is causal: tokens after the last scored target change nothing */
        const int32_t *window_ids = ids + window.start;
        int window_n = end + 1 - window.start, from = begin - window.start, to = end - window.start;
        bool ok = add_window(run, &run->lens, report, window_ids, window_n, from, to, &error);
        if (ok && run->logit != NULL) {
            loupe_lens_params logit_lens = run->lens;
            logit_lens.tuned = NULL;
            ok = add_window(run, &logit_lens, run->logit, window_ids, window_n, from, to, &error);
        }
        if (ok && run->certify != NULL)
            ok = corpus_certify_add(run->certify, run->model, window_ids, window_n, report->subblocks, from, to,
                                    &error) == LOUPE_OK;
        if (!ok) {
            cli_error("%s:%lld: %s", path, (long long)document->line, error.message);
            run->status = CLI_EXIT_FAILURE;
            report->partial = true;
            go_on = false;
        } else {
            run->done = window;
        }
        double document_share = (double)end / (double)n; /* of the document's tokens, scored or passed */
        corpus_progress_update(&run->progress, report->documents, report->positions,
                               (double)run->bytes_finished +
                                   document_share * (double)(run->bytes_done - run->bytes_finished),
                               false);
        if (go_on && run->chosen->checkpoint != NULL &&
            corpus_progress_now() - run->last_checkpoint >= run->chosen->checkpoint_every && !write_checkpoint(run, false)) {
            run->status = CLI_EXIT_FAILURE;
            go_on = false;
        }
    }
    run->bytes_finished = run->bytes_done;
    loupe_free(ids);
    if (interrupted) report->partial = true;
    if (go_on && !interrupted) { /* the document is done: a checkpoint from here starts the next one */
        run->current = run->next_index;
        run->done = (loupe_corpus_window){0};
    }
    return go_on && !interrupted;
}

/* --resume: takes the aggregate, counters and position of the checkpoint
 * when it exists, after checking that it is one of this very run. Returns
 * 0 or prints the error and returns CLI_EXIT_FAILURE. *finished tells that
 * the checkpointed run had reached its end. */
static int resume_run(corpus_run *run, const int64_t *counts, const int32_t *token_bytes, bool *finished) {
    const char *path = run->chosen->checkpoint;
    *finished = false;
    if (!path_is_file(path)) {
        fprintf(stderr, "loupe: warning: no checkpoint %s yet: starting from the beginning\n", path);
        return 0;
    }
    corpus_state state;
    loupe_error error;
    char difference[600];
    int status = 0;
    if (corpus_state_read(path, counts, token_bytes, &state, &error) != LOUPE_OK) {
        status = cli_fail(&error);
    } else if (state.kind != CORPUS_STATE_CHECKPOINT) {
        cli_error("%s: a saved state, not a checkpoint (written by --save-state, not --checkpoint)", path);
        status = CLI_EXIT_FAILURE;
    } else if (corpus_state_difference(state.identity, run->identity, difference, sizeof difference) != NULL) {
        cli_error("%s: a checkpoint of another run (this run on the right): %s", path, difference);
        status = CLI_EXIT_FAILURE;
    } else if (state.n_shards != run->chosen->n_shards || state.n_covered != 1 ||
               state.shards[0] != run->chosen->shard) {
        cli_error("%s: a checkpoint of shard %u/%u, not of this run's %u/%u", path, state.shards[0], state.n_shards,
                  run->chosen->shard, run->chosen->n_shards);
        status = CLI_EXIT_FAILURE;
    } else {
        corpus_report *report = run->report;
        loupe_corpus_stats_free(report->stats);
        report->stats = state.stats;
        state.stats = NULL;
        report->documents = state.documents;
        report->n_windows = state.windows;
        report->positions = state.positions;
        run->seconds_before = state.seconds;
        run->resuming = true;
        run->resume_document = state.next_document;
        run->resume_window = state.window;
        run->current = state.next_document;
        run->done = state.window;
        *finished = state.finished;
        if (state.finished) report->skipped_lines = state.skipped_lines; /* the input is not read again */
    }
    corpus_state_free(&state);
    return status;
}

/* Opens the model, tokenizer and counts and creates the aggregate; the
 * byte length of every token id goes to *token_bytes (V) for bits per byte. */
static int prepare(corpus_options *chosen, corpus_run *run, corpus_report *report, loupe_model_info *info,
                   int64_t **counts, int32_t **token_bytes, char **directory) {
    loupe_error error;
    *directory = cli_model_directory(chosen->model);
    if (*directory == NULL) return CLI_EXIT_FAILURE;
    loupe_model *model = NULL;
    if (loupe_model_open(*directory, &model, &error) != LOUPE_OK) return cli_fail(&error);
    run->model = model;
    if (loupe_tokenizer_open(*directory, &run->tokenizer, &error) != LOUPE_OK) return cli_fail(&error);
    int tuned_status = cli_tuned_open(chosen->tuned, chosen->subblocks, model, &report->tuned);
    if (tuned_status != 0) return tuned_status;
    report->tuned_directory = report->tuned != NULL ? chosen->tuned : NULL;
    loupe_model_get_info(model, info);
    report->info = info;
    if (!cli_track_resolve(run->tokenizer, info->n_vocab, &chosen->track)) return CLI_EXIT_USAGE;
    report->track_ids = chosen->track.ids;
    report->n_track = chosen->track.count;
    corpus_report_set_tracked(report, run->tokenizer);
    report->windows = (loupe_corpus_window_params){
        .context = info->n_ctx,
        .stride = chosen->has_stride ? (int)chosen->stride : info->n_ctx / 2,
        .min_context = (int)chosen->min_context,
    };
    if (loupe_corpus_window_check(&report->windows, &error) != LOUPE_OK) {
        cli_fail(&error);
        return CLI_EXIT_USAGE;
    }
    report->stats_params = loupe_corpus_stats_default_params();
    report->stats_params.exact_limit = (int)chosen->exact_limit;
    report->stats_params.sketch_error = chosen->sketch_error;
    report->stats_params.reservoir_size = (int)chosen->reservoir;
    report->stats_params.seed = (uint64_t)chosen->seed;
    report->stats_params.track_ids = chosen->track.ids;
    report->stats_params.n_track = chosen->track.count;
    *token_bytes = malloc((size_t)info->n_vocab * sizeof **token_bytes);
    if (*token_bytes == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    for (int32_t id = 0; id < info->n_vocab; id++) {
        size_t length = 0;
        loupe_tokenizer_token_bytes(run->tokenizer, id, &length);
        (*token_bytes)[id] = length < INT32_MAX ? (int32_t)length : INT32_MAX;
    }
    report->stats_params.token_bytes = *token_bytes;
    if (chosen->counts != NULL) {
        *counts = malloc((size_t)info->n_vocab * sizeof **counts);
        if (*counts == NULL) {
            cli_error("out of memory");
            return CLI_EXIT_FAILURE;
        }
        if (loupe_corpus_counts_load(chosen->counts, info->n_vocab, *counts, &error) != LOUPE_OK)
            return cli_fail(&error);
        report->stats_params.token_counts = *counts;
        report->counts_path = chosen->counts;
    }
    report->subblocks = chosen->subblocks;
    if (!corpus_report_set_rows(report, info->n_layer)) return CLI_EXIT_FAILURE;
    /* each shard samples its reservoir with its own stream (shard 0 with the seed itself) */
    loupe_corpus_stats_params shard_params = report->stats_params;
    shard_params.seed += (uint64_t)chosen->shard * 0x9E3779B97F4A7C15ull;
    if (loupe_corpus_stats_create(report->n_rows, info->n_vocab, &shard_params, &report->stats, &error) != LOUPE_OK)
        return cli_fail(&error);
    report->stats_params.token_counts = NULL; /* copied by the aggregate; freed below */
    report->stats_params.token_bytes = NULL;
    run->lens = loupe_lens_default_params();
    run->lens.topk = 1;
    run->lens.subblocks = chosen->subblocks;
    run->lens.track_ids = chosen->track.ids;
    run->lens.n_track = chosen->track.count;
    run->lens.tuned = report->tuned;
    if (chosen->certify) {
        run->certify = corpus_certify_create(report->n_rows, info->n_layer, chosen->weight_radius);
        if (run->certify == NULL) {
            cli_error("out of memory");
            return CLI_EXIT_FAILURE;
        }
    }
    return 0;
}

/* Writes what a finished run reports: --save-state (the team's merged state
 * when merged is not NULL, else the run's), the table or JSON (with
 * --compare-lenses both lenses'), the plots.
 * Returns the run's exit status given status so far. */
static int write_outputs(corpus_run *run, corpus_report *report, const corpus_state *merged, int status) {
    const corpus_options *chosen = run->chosen;
    if (chosen->save_state != NULL) {
        uint32_t shard;
        corpus_state state = run_state(run, CORPUS_STATE_AGGREGATE, &shard, true);
        state.seconds = report->seconds;
        loupe_error error;
        if (corpus_state_write(chosen->save_state, merged != NULL ? merged : &state, &error) != LOUPE_OK) {
            cli_fail(&error);
            if (status == 0) status = CLI_EXIT_FAILURE;
        }
    }
    corpus_report *logit = run->logit; /* --compare-lenses */
    if (logit != NULL) {
        logit->documents = report->documents;
        logit->skipped_lines = report->skipped_lines;
        logit->seconds = report->seconds;
        logit->partial = report->partial;
    }
    if (report->partial && interrupted)
        cli_error("interrupted: the statistics below cover the %lld positions scored so far (partial)",
                  (long long)report->positions);
    /* the aggregate so far is written even after a failure or Ctrl-C, marked partial */
    bool json = chosen->format == CORPUS_FORMAT_JSON;
    if (chosen->format == CORPUS_FORMAT_CSV) corpus_csv_print(stdout, report); /* refused with logit, certify */
    else if (logit != NULL && json) corpus_compare_json_print(stdout, logit, report);
    else if (logit != NULL) corpus_compare_table_print(stdout, logit, report);
    else corpus_certify_print(stdout, run->certify, report, json);
    if (chosen->plot != NULL) {
        int plot_status = corpus_plot_write(report, chosen->plot);
        if (status == 0) status = plot_status;
    }
    if (status == 0 && interrupted) status = 130; /* the shell's convention for SIGINT */
    return status;
}

/* A team member's end: hands the run's aggregate (ran: the run started) to
 * the team's reduce; on the reporting member the report takes the merged
 * aggregate and counters (its own wall time stays: the members ran side by
 * side). Returns the whole run's status; *reports as reduce sets it. */
static int reduce_team(const corpus_team *team, corpus_run *run, corpus_report *report, bool ran, int status,
                       const int64_t *counts, const int32_t *token_bytes, corpus_state *merged, bool *reports) {
    uint32_t shard;
    corpus_state state = {0};
    if (ran) {
        state = run_state(run, CORPUS_STATE_AGGREGATE, &shard, true);
        state.seconds = report->seconds;
    }
    *reports = false;
    status = team->reduce(team->user, ran ? &state : NULL, status, counts, token_bytes, merged, reports);
    if (*reports) {
        loupe_corpus_stats_free(report->stats);
        report->stats = merged->stats; /* freed with the report: merged lends it */
        report->documents = merged->documents;
        report->n_windows = merged->windows;
        report->positions = merged->positions;
        report->skipped_lines = merged->skipped_lines;
        report->partial = merged->partial;
    }
    return status;
}

/* --compare-lenses: the logit lens's report, the tuned one's (report)
 * without its lens and with an aggregate of its own. */
static int prepare_logit(const corpus_report *report, corpus_report *logit, corpus_run *run,
                         const int64_t *counts, const int32_t *token_bytes) {
    *logit = *report;
    logit->tuned = NULL;
    logit->tuned_directory = NULL;
    logit->stats = NULL;
    loupe_corpus_stats_params params = report->stats_params;
    params.token_counts = counts;
    params.token_bytes = token_bytes;
    loupe_error error;
    if (loupe_corpus_stats_create(logit->n_rows, logit->info->n_vocab, &params, &logit->stats, &error) != LOUPE_OK)
        return cli_fail(&error);
    run->logit = logit;
    return 0;
}

int cmd_corpus(int argc, char **argv) {
    return cmd_corpus_team(argc, argv, NULL);
}

int cmd_corpus_team(int argc, char **argv, const corpus_team *team) {
    corpus_options chosen;
    int status = parse_options(argc, argv, &chosen);
    if (status < 0) status = join_team(team, &chosen);
    if (status >= 0) {
        free(chosen.checkpoint_name);
        return status;
    }

    status = 0;
    if (chosen.plot != NULL) {
        char rarity[4096];
        corpus_plot_rarity_path(chosen.plot, rarity, sizeof rarity);
        if (!plot_output_check(chosen.plot) || (chosen.counts != NULL && !plot_output_check(rarity)))
            status = CLI_EXIT_FAILURE;
    }

    corpus_report report = {.source = &chosen.source, .max_tokens = chosen.max_tokens};
    corpus_run run = {.report = &report, .chosen = &chosen};
    loupe_model_info info;
    int64_t *counts = NULL;
    int32_t *token_bytes = NULL;
    char *directory = NULL;
    if (status == 0) status = prepare(&chosen, &run, &report, &info, &counts, &token_bytes, &directory);
    corpus_report logit = {0};
    if (status == 0 && chosen.compare_lenses) status = prepare_logit(&report, &logit, &run, counts, token_bytes);
    bool finished = false;
    if (status == 0 && (chosen.save_state != NULL || chosen.checkpoint != NULL || team != NULL)) {
        run.identity = corpus_identity_build(&report);
        if (run.identity == NULL) status = CLI_EXIT_FAILURE;
    }
    if (status == 0 && chosen.resume) status = resume_run(&run, counts, token_bytes, &finished);
    bool ran = status == 0;
    if (ran) {
        catch_interrupt();
        corpus_progress_start(&run.progress, chosen.progress, corpus_source_total_bytes(&chosen.source),
                              chosen.max_tokens);
        run.last_checkpoint = run.progress.started;
        bool stopped = false;
        if (!finished) /* a finished checkpoint only reports */
            status = corpus_source_read(&chosen.source, run_document, &run, &report.skipped_lines, &stopped,
                                        &run.bytes_done);
        if (run.status != 0) status = run.status;
        corpus_progress_update(&run.progress, report.documents, report.positions, (double)run.bytes_done, true);
        corpus_progress_finish(&run.progress);
        signal(SIGINT, SIG_DFL);
        report.seconds = run.seconds_before + corpus_progress_now() - run.progress.started;
        if (status != 0) report.partial = true;
        /* the checkpoint: where to go on after Ctrl-C or an error, or the end reached */
        if (!write_checkpoint(&run, finished || !report.partial) && status == 0) status = CLI_EXIT_FAILURE;
    }
    bool reports = team == NULL && ran;
    corpus_state merged = {0};
    if (team != NULL) status = reduce_team(team, &run, &report, ran, status, counts, token_bytes, &merged,
                                                 &reports);
    if (reports) status = write_outputs(&run, &report, team != NULL ? &merged : NULL, status);
    if (reports && team != NULL) merged.stats = NULL; /* lent to the report */
    corpus_state_free(&merged);
    free(run.identity);
    loupe_corpus_stats_free(report.stats);
    loupe_corpus_stats_free(logit.stats);
    corpus_certify_free(run.certify);
    free(report.row_names);
    loupe_tuned_lens_close(report.tuned);
    free(counts);
    free(token_bytes);
    loupe_tokenizer_close(run.tokenizer);
    loupe_model_close(run.model);
    free(directory);
    free(chosen.checkpoint_name);
    return status;
}
