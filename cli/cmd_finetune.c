/*
 * cmd_finetune.c - `loupe finetune`: trains the whole model so that every
 * layer's lens predicts the next token (loupe_finetuner, docs/FINETUNE.md).
 *
 * The documents of the corpus are tokenized and joined into one stream with
 * the end-of-text token between them; the stream is cut into windows of
 * T + 1 tokens every T tokens (each target scored once), which pass through
 * the shuffle buffer seeded by --seed; a step takes --batch-tokens / T
 * windows, in micro-batches of --micro-batch windows. The model folder and
 * a checkpoint (parameters, both moments, the step and the number of
 * windows dealt) are written every --checkpoint-every steps; --resume reads
 * them back and replays the data pipeline (no model runs) to the
 * checkpoint's window, so the run continues exactly as it would have. The
 * per-step losses and the evaluations before the checkpoint come back from
 * the folder's training.json, whose settings must be this run's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "finetune_run.h"

static const char usage[] =
    "usage: loupe finetune [--model DIR] --out DIR [options] FILE...\n"
    "\n"
    "Fine-tunes the whole model on a corpus with the loss\n"
    "  CE(final row) + X * mean over the lens rows S of CE(lens row)\n"
    "(X = --lens-weight; each lens row read through the final norm and the\n"
    "unembedding as loupe lens reads it), AdamW with a warm-up and a cosine\n"
    "schedule. Writes DIR as a Hugging Face model folder (config.json,\n"
    "model.safetensors in F32 with the input's tensor names, the tokenizer files,\n"
    "training.json with the settings, the losses of every step and the\n"
    "evaluations) that every loupe command opens with --model DIR. FILE '-' is\n"
    "standard input. docs/FINETUNE.md has the formulas.\n"
    "\n"
    "  --model DIR        a Hugging Face model folder (default: the embedded gpt2-demo)\n"
    "  --out DIR          the folder to write (new, empty, or one finetune wrote)\n" CORPUS_SOURCE_HELP
    "  --lens-weight X    the weight of the lens rows' mean CE (default 0: ordinary\n"
    "                     fine-tuning, no lens row computed)\n"
    "  --lens-rows ROWS   the lens rows S among 0 .. L-1 (row 0 = the embeddings, row\n"
    "                     l = the output of block l): rows and slices A:B separated\n"
    "                     by commas, negative ones counting from L (default: all)\n"
    "  --steps N          optimizer steps (default 100)\n"
    "  --lr X             peak learning rate (default 3e-4)\n"
    "  --min-lr-fraction X  the cosine ends at X times --lr (default 0.1)\n"
    "  --warmup-steps N   linear warm-up (default 10, below --steps)\n"
    "  --weight-decay X   AdamW's decoupled weight decay of matrices and embeddings\n"
    "                     (default 0.1)\n"
    "  --adam-beta1 X, --adam-beta2 X, --adam-eps X  (default 0.9, 0.95, 1e-8)\n"
    "  --max-grad-norm X  gradient norm clipping (default 1)\n"
    "  --context T        tokens per window (default: 256 or the model's context if\n"
    "                     shorter)\n"
    "  --batch-tokens K   positions per step, a multiple of T (default 8 T)\n"
    "  --micro-batch B    windows per forward and backward pass, dividing K / T\n"
    "                     (default: the largest divisor of K / T up to 8); the memory\n"
    "                     of the saved activations grows with B\n"
    "  --seed S           seed of the shuffle of windows (default 42)\n"
    "  --eval FILE        held-out text: its final and lens CE before the first\n"
    "                     step, after the last and every --eval-every N steps\n"
    "  --eval-every N     see --eval\n"
    "  --checkpoint-every N  write DIR and DIR/checkpoint.safetensors every N steps\n"
    "                     and at the end\n"
    "  --stop-after N     stop after step N (the schedule still runs to --steps):\n"
    "                     write DIR and the checkpoint; --resume continues\n"
    "  --resume           continue from DIR/checkpoint.safetensors (the same corpus\n"
    "                     and options)\n"
    "  --progress WHEN    auto (default: when stderr is a terminal), always, never\n"
    "  --help             show this help\n";

/* The micro-batch when --micro-batch is not given: at most this many windows. */
enum { DEFAULT_MICRO_BATCH = 8 };


/* ------------------------------------------------------------------------
 * Options
 * ---------------------------------------------------------------------- */

static int parse_options(int argc, char **argv, finetune_options *chosen) {
    enum {
        OPTION_LENS_WEIGHT = 0x200, OPTION_LENS_ROWS, OPTION_STEPS, OPTION_LR, OPTION_MIN_LR, OPTION_WARMUP,
        OPTION_WEIGHT_DECAY, OPTION_BETA1, OPTION_BETA2, OPTION_EPS, OPTION_MAX_GRAD_NORM, OPTION_CONTEXT,
        OPTION_BATCH_TOKENS, OPTION_MICRO_BATCH, OPTION_SEED, OPTION_EVAL, OPTION_EVAL_EVERY,
        OPTION_CHECKPOINT_EVERY, OPTION_STOP_AFTER, OPTION_RESUME, OPTION_PROGRESS,
    };
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},
        {"out", required_argument, NULL, 'o'},
        {"lens-weight", required_argument, NULL, OPTION_LENS_WEIGHT},
        {"lens-rows", required_argument, NULL, OPTION_LENS_ROWS},
        {"steps", required_argument, NULL, OPTION_STEPS},
        {"lr", required_argument, NULL, OPTION_LR},
        {"min-lr-fraction", required_argument, NULL, OPTION_MIN_LR},
        {"warmup-steps", required_argument, NULL, OPTION_WARMUP},
        {"weight-decay", required_argument, NULL, OPTION_WEIGHT_DECAY},
        {"adam-beta1", required_argument, NULL, OPTION_BETA1},
        {"adam-beta2", required_argument, NULL, OPTION_BETA2},
        {"adam-eps", required_argument, NULL, OPTION_EPS},
        {"max-grad-norm", required_argument, NULL, OPTION_MAX_GRAD_NORM},
        {"context", required_argument, NULL, OPTION_CONTEXT},
        {"batch-tokens", required_argument, NULL, OPTION_BATCH_TOKENS},
        {"micro-batch", required_argument, NULL, OPTION_MICRO_BATCH},
        {"seed", required_argument, NULL, OPTION_SEED},
        {"eval", required_argument, NULL, OPTION_EVAL},
        {"eval-every", required_argument, NULL, OPTION_EVAL_EVERY},
        {"checkpoint-every", required_argument, NULL, OPTION_CHECKPOINT_EVERY},
        {"stop-after", required_argument, NULL, OPTION_STOP_AFTER},
        {"resume", no_argument, NULL, OPTION_RESUME},
        {"progress", required_argument, NULL, OPTION_PROGRESS},
        {"help", no_argument, NULL, 'h'},
        CORPUS_SOURCE_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    loupe_finetune_params defaults = loupe_finetune_default_params();
    memset(chosen, 0, sizeof *chosen);
    chosen->source.reader = loupe_corpus_reader_default_params();
    chosen->lens_weight = defaults.lens_weight;
    chosen->steps = defaults.steps;
    chosen->lr = defaults.lr;
    chosen->min_lr_fraction = defaults.min_lr_fraction;
    chosen->warmup = defaults.warmup_steps;
    chosen->weight_decay = defaults.weight_decay;
    chosen->beta1 = defaults.beta1;
    chosen->beta2 = defaults.beta2;
    chosen->eps = defaults.eps;
    chosen->max_grad_norm = defaults.max_grad_norm;
    chosen->seed = (long)defaults.seed;
    chosen->progress = "auto";
    bool ok = true;
    int option;
    optind = 1;
    while (ok && (option = getopt_long(argc, argv, "m:o:h", options, NULL)) != -1) {
        if (corpus_source_option(&chosen->source, option, optarg)) continue;
        switch (option) {
        case 'm': chosen->model = optarg; break;
        case 'o': chosen->out = optarg; break;
        case OPTION_LENS_WEIGHT: ok = cli_parse_float("--lens-weight", optarg, 0.0, 1e6, &chosen->lens_weight); break;
        case OPTION_LENS_ROWS: chosen->lens_rows_text = optarg; break;
        case OPTION_STEPS: ok = cli_parse_int("--steps", optarg, 1, 1 << 30, &chosen->steps); break;
        case OPTION_LR: ok = cli_parse_float("--lr", optarg, 1e-12, 10.0, &chosen->lr); break;
        case OPTION_MIN_LR:
            ok = cli_parse_float("--min-lr-fraction", optarg, 0.0, 1.0, &chosen->min_lr_fraction);
            break;
        case OPTION_WARMUP:
            ok = cli_parse_int("--warmup-steps", optarg, 0, 1 << 30, &chosen->warmup);
            chosen->warmup_given = true;
            break;
        case OPTION_WEIGHT_DECAY: ok = cli_parse_float("--weight-decay", optarg, 0.0, 10.0, &chosen->weight_decay); break;
        case OPTION_BETA1: ok = cli_parse_float("--adam-beta1", optarg, 0.0, 0.999999, &chosen->beta1); break;
        case OPTION_BETA2: ok = cli_parse_float("--adam-beta2", optarg, 0.0, 0.999999, &chosen->beta2); break;
        case OPTION_EPS: ok = cli_parse_float("--adam-eps", optarg, 1e-30, 1.0, &chosen->eps); break;
        case OPTION_MAX_GRAD_NORM:
            ok = cli_parse_float("--max-grad-norm", optarg, 1e-6, 1e6, &chosen->max_grad_norm);
            break;
        case OPTION_CONTEXT: ok = cli_parse_int("--context", optarg, 2, 1 << 20, &chosen->context); break;
        case OPTION_BATCH_TOKENS: ok = cli_parse_int("--batch-tokens", optarg, 1, 1 << 30, &chosen->batch_tokens); break;
        case OPTION_MICRO_BATCH: ok = cli_parse_int("--micro-batch", optarg, 1, 1 << 20, &chosen->micro_batch); break;
        case OPTION_SEED: ok = cli_parse_int("--seed", optarg, 0, LONG_MAX, &chosen->seed); break;
        case OPTION_EVAL: chosen->eval = optarg; break;
        case OPTION_EVAL_EVERY: ok = cli_parse_int("--eval-every", optarg, 1, 1 << 30, &chosen->eval_every); break;
        case OPTION_CHECKPOINT_EVERY:
            ok = cli_parse_int("--checkpoint-every", optarg, 1, 1 << 30, &chosen->checkpoint_every);
            break;
        case OPTION_STOP_AFTER: ok = cli_parse_int("--stop-after", optarg, 1, 1 << 30, &chosen->stop_after); break;
        case OPTION_RESUME: chosen->resume = true; break;
        case OPTION_PROGRESS:
            ok = training_progress_option(optarg);
            chosen->progress = optarg;
            break;
        case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
        default: fputs(usage, stderr); return CLI_EXIT_USAGE;
        }
    }
    if (!ok) return CLI_EXIT_USAGE;
    if (chosen->out == NULL) {
        cli_error("finetune: --out DIR is required");
        return CLI_EXIT_USAGE;
    }
    /* a run shorter than the default warm-up: the library shortens it */
    if (chosen->warmup_given && chosen->warmup >= chosen->steps) {
        cli_error("--warmup-steps: must be below --steps (%ld), got %ld", chosen->steps, chosen->warmup);
        return CLI_EXIT_USAGE;
    }
    if (chosen->lens_rows_text != NULL && chosen->lens_weight == 0.0) {
        cli_error("--lens-rows needs --lens-weight above 0 (with 0 no lens row is computed)");
        return CLI_EXIT_USAGE;
    }
    if (chosen->eval_every > 0 && chosen->eval == NULL) {
        cli_error("--eval-every needs --eval FILE");
        return CLI_EXIT_USAGE;
    }
    if (optind >= argc) {
        cli_error("finetune: no corpus file given (use '-' for standard input)");
        return CLI_EXIT_USAGE;
    }
    chosen->source.paths = argv + optind;
    chosen->source.n_paths = argc - optind;
    return -1;
}


/* ------------------------------------------------------------------------
 * Steps, evaluations, checkpoints
 * ---------------------------------------------------------------------- */

/* The --eval windows' losses with the current weights (means over every
 * scored position), recorded and printed. False with run->error set on failure. */
static bool evaluate(finetune_run *run) {
    double began = corpus_progress_now();
    loupe_finetune_losses losses;
    if (loupe_finetuner_evaluate(run->finetuner, run->eval_ids, run->n_eval_windows, &losses, &run->error) !=
        LOUPE_OK)
        return false;
    finetune_evaluation evaluation = {
        .step = run->steps_done, .loss = losses.loss, .final_ce = losses.final_ce, .lens_ce = losses.lens_ce};
    run->eval_seconds += corpus_progress_now() - began;
    if (run->progress) {
        fprintf(stderr, "eval %d/%d  loss %.4f  final %.4f  lens %.4f  (%d windows)\n", run->steps_done,
                run->steps_goal, evaluation.loss, evaluation.final_ce, evaluation.lens_ce, run->n_eval_windows);
        fflush(stderr);
    }
    if (!finetune_add_evaluation(run, &evaluation)) {
        snprintf(run->error.message, sizeof run->error.message, "out of memory");
        return false;
    }
    return true;
}

/* Writes the model folder (with training.json) and then the checkpoint, so
 * that a checkpoint never runs ahead of the folder's record. */
static bool write_outputs(finetune_run *run, bool checkpoint) {
    char *json = finetune_record_text(run);
    char *path = checkpoint ? finetune_out_path(run->chosen, "checkpoint.safetensors") : NULL;
    bool ok = json != NULL && (!checkpoint || path != NULL);
    if (!ok) snprintf(run->error.message, sizeof run->error.message, "out of memory");
    ok = ok && loupe_finetuner_write_model(run->finetuner, run->chosen->out, json, &run->error) == LOUPE_OK;
    ok = ok && (!checkpoint ||
                loupe_finetuner_save_checkpoint(run->finetuner, path, run->windows_dealt, &run->error) == LOUPE_OK);
    cJSON_free(json);
    free(path);
    return ok;
}

/* The step's progress line. */
static void report_step(const finetune_run *run, const loupe_finetune_losses *losses) {
    if (!run->progress) return;
    double elapsed = corpus_progress_now() - run->started - run->eval_seconds;
    double tokens = (double)(run->steps_done - run->first_step) * run->windows_per_step * run->context;
    fprintf(stderr, "step %d/%ld  loss %.4f  final %.4f  lens %.4f  grad %.3g  lr %.3g  %.3f s  %.0f tok/s\n",
            run->steps_done, run->chosen->steps, losses->loss, losses->final_ce, losses->lens_ce, losses->grad_norm,
            losses->lr, corpus_progress_now() - run->step_began, elapsed > 0 ? tokens / elapsed : 0.0);
    fflush(stderr);
}

/* Takes the optimizer step over the micro-batches added, records it, and
 * evaluates and checkpoints when due. */
static bool finish_step(finetune_run *run) {
    loupe_finetune_losses losses;
    if (loupe_finetuner_step(run->finetuner, &losses, &run->error) != LOUPE_OK) return false;
    run->micro_batches = 0;
    if (!finetune_grow_history(run, (size_t)run->steps_done + 1)) {
        snprintf(run->error.message, sizeof run->error.message, "out of memory");
        return false;
    }
    run->history[run->steps_done++] = losses;
    report_step(run, &losses);
    const finetune_options *chosen = run->chosen;
    bool last = run->steps_done == chosen->steps;
    if (run->n_eval_windows > 0 && (last || (chosen->eval_every > 0 && run->steps_done % chosen->eval_every == 0)) &&
        !evaluate(run))
        return false;
    bool due = chosen->checkpoint_every > 0 && run->steps_done % chosen->checkpoint_every == 0;
    if (!last && run->steps_done < run->steps_goal && due && !write_outputs(run, true)) return false;
    run->step_began = corpus_progress_now();
    return true;
}

/* Deals one window: counted only while replaying a checkpoint, else added
 * to the micro-batch, which goes to the finetuner once full. */
static bool feed_window(finetune_run *run, const int32_t *ids) {
    if (run->windows_dealt++ < run->replay_windows) return true;
    size_t width = (size_t)run->context + 1;
    memcpy(run->batch + (size_t)run->batch_windows * width, ids, width * sizeof(int32_t));
    if (++run->batch_windows < run->micro_batch) return true;
    run->batch_windows = 0;
    if (loupe_finetuner_add(run->finetuner, run->batch, run->micro_batch, &run->error) != LOUPE_OK) return false;
    if (++run->micro_batches < run->accumulation) return true;
    return finish_step(run);
}

/* Whether the run still takes windows. */
static bool wants_windows(const finetune_run *run) { return run->status == 0 && run->steps_done < run->steps_goal; }

/* Takes a random window out of the shuffle buffer and deals it. */
static bool feed_random_window(finetune_run *run) {
    training_window window = training_shuffle_take(&run->shuffle);
    bool ok = feed_window(run, window.ids);
    free(window.ids);
    return ok;
}

/* ------------------------------------------------------------------------
 * The token stream
 * ---------------------------------------------------------------------- */

/* Appends n ids to the stream (the pending tokens moved to the front
 * first); false when out of memory. */
static bool stream_append(token_stream *stream, const int32_t *ids, size_t n) {
    if (stream->first > 0) {
        memmove(stream->ids, stream->ids + stream->first, (stream->count - stream->first) * sizeof(int32_t));
        stream->count -= stream->first;
        stream->first = 0;
    }
    if (stream->count + n > stream->capacity) {
        size_t capacity = stream->capacity ? stream->capacity : 4096;
        while (capacity < stream->count + n) capacity *= 2;
        int32_t *grown = realloc(stream->ids, capacity * sizeof(int32_t));
        if (grown == NULL) return false;
        stream->ids = grown;
        stream->capacity = capacity;
    }
    memcpy(stream->ids + stream->count, ids, n * sizeof(int32_t));
    stream->count += n;
    return true;
}

/* A document's ids into the stream, after the end-of-text token when a
 * document came before: every id must be one of the model's. Returns 0 or
 * an exit status with the message printed. */
static int add_document(finetune_run *run, token_stream *stream, const int32_t *ids, size_t n, const char *path,
                        int64_t line) {
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= run->n_vocab) {
            cli_error("%s:%lld: token %d (at token %zu of the document) is outside the model's vocabulary of %d",
                      path, (long long)line, ids[i], i, run->n_vocab);
            return CLI_EXIT_FAILURE;
        }
    if (n == 0) return 0;
    if (stream->started) {
        if (run->end_of_text < 0 || run->end_of_text >= run->n_vocab) {
            cli_error("%s:%lld: no end-of-text token of the model's vocabulary to put between documents (the "
                      "tokenizer's is %d, the model has %d tokens): give the corpus as one document",
                      path, (long long)line, run->end_of_text, run->n_vocab);
            return CLI_EXIT_FAILURE;
        }
        if (!stream_append(stream, &run->end_of_text, 1)) {
            cli_error("out of memory");
            return CLI_EXIT_FAILURE;
        }
    }
    stream->started = true;
    if (!stream_append(stream, ids, n)) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

/* Encodes a document; 0 or an exit status with the message printed. */
static int encode_document(const finetune_run *run, const loupe_corpus_document *document, const char *path,
                           int32_t **ids, size_t *n) {
    loupe_error error;
    if (loupe_tokenizer_encode(run->tokenizer, document->text, document->length, ids, n, &error) != LOUPE_OK) {
        cli_error("%s:%lld: %s", path, (long long)document->line, error.message);
        return CLI_EXIT_FAILURE;
    }
    return 0;
}

static bool on_document(void *user, const loupe_corpus_document *document, const char *path) {
    finetune_run *run = user;
    int32_t *ids = NULL;
    size_t n = 0;
    run->status = encode_document(run, document, path, &ids, &n);
    if (run->status == 0) run->status = add_document(run, &run->stream, ids, n, path, document->line);
    loupe_free(ids);
    token_stream *stream = &run->stream;
    size_t width = (size_t)run->context + 1;
    while (wants_windows(run) && stream->count - stream->first >= width) {
        if (!training_shuffle_push(&run->shuffle, stream->ids + stream->first, (int)width, 0, run->context)) {
            cli_error("out of memory");
            run->status = CLI_EXIT_FAILURE;
            break;
        }
        stream->first += (size_t)run->context; /* stride T: the last token is the next window's first */
        if (training_shuffle_full(&run->shuffle) && !feed_random_window(run)) run->status = cli_fail(&run->error);
    }
    return wants_windows(run);
}

/* The --eval file's windows (no shuffle), cut as the corpus is. */
typedef struct eval_reader {
    finetune_run *run;
    token_stream stream;
    int status;
} eval_reader;

static bool on_eval_document(void *user, const loupe_corpus_document *document, const char *path) {
    eval_reader *reader = user;
    int32_t *ids = NULL;
    size_t n = 0;
    reader->status = encode_document(reader->run, document, path, &ids, &n);
    if (reader->status == 0) reader->status = add_document(reader->run, &reader->stream, ids, n, path, document->line);
    loupe_free(ids);
    return reader->status == 0;
}

/* Reads --eval into run->eval_ids; 0 or an exit status, message printed. */
static int read_eval(finetune_run *run) {
    char *paths[] = {(char *)run->chosen->eval};
    corpus_source source = run->chosen->source;
    source.paths = paths;
    source.n_paths = 1;
    eval_reader reader = {.run = run};
    bool stopped = false;
    int64_t skipped = 0;
    int status = corpus_source_read(&source, on_eval_document, &reader, &skipped, &stopped, NULL);
    if (status == 0) status = reader.status;
    size_t width = (size_t)run->context + 1, n = reader.stream.count;
    size_t windows = n >= width ? (n - 1) / (size_t)run->context : 0;
    if (status == 0 && windows == 0) {
        cli_error("--eval: %s has %zu tokens, fewer than one window of --context %d + 1", run->chosen->eval, n,
                  run->context);
        status = CLI_EXIT_FAILURE;
    }
    if (status == 0 && windows > INT_MAX / width) {
        cli_error("--eval: %s is too long (%zu windows)", run->chosen->eval, windows);
        status = CLI_EXIT_FAILURE;
    }
    if (status == 0 && (run->eval_ids = malloc(windows * width * sizeof(int32_t))) == NULL) {
        cli_error("out of memory");
        status = CLI_EXIT_FAILURE;
    }
    for (size_t w = 0; status == 0 && w < windows; w++)
        memcpy(run->eval_ids + w * width, reader.stream.ids + w * (size_t)run->context, width * sizeof(int32_t));
    if (status == 0) run->n_eval_windows = (int)windows;
    free(reader.stream.ids);
    return status;
}

/* ------------------------------------------------------------------------
 * The command
 * ---------------------------------------------------------------------- */

/* The token put between documents: "<|endoftext|>" when the vocabulary has
 * it, else the BOS token (the Llama families' document boundary), else -1. */
static int32_t find_end_of_text(const loupe_tokenizer *tokenizer) {
    static const char text[] = "<|endoftext|>";
    loupe_encode_params params = loupe_encode_default_params();
    params.match_special = true;
    params.add_special = false;
    int32_t *ids = NULL;
    size_t n = 0;
    loupe_error error;
    int32_t id = -1;
    if (loupe_tokenizer_encode_with_params(tokenizer, text, sizeof text - 1, &params, &ids, &n, &error) == LOUPE_OK &&
        n == 1)
        id = ids[0];
    loupe_free(ids);
    return id >= 0 ? id : loupe_tokenizer_bos_id(tokenizer);
}

/* Sizes the windows and the batches from the options and the model;
 * 0 or CLI_EXIT_USAGE with the message printed. */
static int size_batches(const finetune_options *chosen, const loupe_model_info *info, finetune_run *run) {
    if (chosen->context > info->n_ctx) {
        cli_error("--context: at most the model's context of %d tokens, got %ld", info->n_ctx, chosen->context);
        return CLI_EXIT_USAGE;
    }
    run->context = chosen->context > 0 ? (int)chosen->context : (info->n_ctx < 256 ? info->n_ctx : 256);
    long tokens = chosen->batch_tokens > 0 ? chosen->batch_tokens : (long)DEFAULT_MICRO_BATCH * run->context;
    if (tokens % run->context != 0) {
        long lower = tokens / run->context * run->context;
        cli_error("--batch-tokens: %ld is not a multiple of --context %d (take %ld or %ld)", tokens, run->context,
                  lower > 0 ? lower : run->context, lower + run->context);
        return CLI_EXIT_USAGE;
    }
    run->windows_per_step = (int)(tokens / run->context);
    if (chosen->micro_batch > 0) {
        if (run->windows_per_step % chosen->micro_batch != 0) {
            cli_error("--micro-batch: %ld does not divide the %d windows of a step (--batch-tokens %ld / --context "
                      "%d)",
                      chosen->micro_batch, run->windows_per_step, tokens, run->context);
            return CLI_EXIT_USAGE;
        }
        run->micro_batch = (int)chosen->micro_batch;
    } else {
        run->micro_batch = 1;
        for (int b = DEFAULT_MICRO_BATCH; b >= 1 && run->micro_batch == 1; b--)
            if (run->windows_per_step % b == 0) run->micro_batch = b;
    }
    run->accumulation = run->windows_per_step / run->micro_batch;
    return 0;
}

static int prepare(const finetune_options *chosen, finetune_run *run, char **directory) {
    loupe_error error;
    *directory = cli_model_directory(chosen->model);
    if (*directory == NULL) return CLI_EXIT_FAILURE;
    if (loupe_model_open(*directory, &run->model, &error) != LOUPE_OK) return cli_fail(&error);
    loupe_model_info info;
    loupe_model_get_info(run->model, &info);
    run->n_layer = info.n_layer;
    run->n_vocab = info.n_vocab;
    int status = size_batches(chosen, &info, run);
    if (status != 0) return status;
    if (!chosen->resume && (status = finetune_check_out_folder(chosen)) != 0) return status;
    if (!chosen->resume) {
        /* a new run in a folder finetune wrote: an earlier run's checkpoint must not be resumed into this one */
        char *stale = finetune_out_path(chosen, "checkpoint.safetensors");
        if (stale == NULL || (unlink(stale) != 0 && errno != ENOENT)) {
            cli_error("--out: %s/checkpoint.safetensors: cannot remove the earlier run's checkpoint: %s", chosen->out,
                      stale ? strerror(errno) : "out of memory");
            free(stale);
            return CLI_EXIT_FAILURE;
        }
        free(stale);
    }

    loupe_finetune_params params = loupe_finetune_default_params();
    params.lens_weight = chosen->lens_weight;
    params.lens_rows = chosen->lens_rows_text;
    params.lr = chosen->lr;
    params.min_lr_fraction = chosen->min_lr_fraction;
    params.beta1 = chosen->beta1;
    params.beta2 = chosen->beta2;
    params.eps = chosen->eps;
    params.weight_decay = chosen->weight_decay;
    params.max_grad_norm = chosen->max_grad_norm;
    if (chosen->warmup_given) params.warmup_steps = (int)chosen->warmup;
    params.steps = (int)chosen->steps;
    params.context = run->context;
    params.batch_windows = run->micro_batch;
    params.accumulation = run->accumulation;
    params.seed = (uint64_t)chosen->seed;
    /* first the family (a model it cannot train is refused before anything else is read) */
    if (loupe_finetuner_create(run->model, &params, &run->finetuner, &error) != LOUPE_OK) return cli_fail(&error);
    if (loupe_tokenizer_open(*directory, &run->tokenizer, &error) != LOUPE_OK) return cli_fail(&error);
    run->end_of_text = find_end_of_text(run->tokenizer);
    run->batch = malloc((size_t)run->micro_batch * ((size_t)run->context + 1) * sizeof(int32_t));
    if (run->batch == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAILURE;
    }
    run->steps_goal = chosen->stop_after > 0 && chosen->stop_after < chosen->steps ? (int)chosen->stop_after
                                                                                   : (int)chosen->steps;
    if (chosen->resume) {
        char *path = finetune_out_path(chosen, "checkpoint.safetensors");
        struct stat file;
        if (path == NULL || stat(path, &file) != 0) {
            cli_error("--resume: %s/checkpoint.safetensors not found (nothing to resume: run without --resume)",
                      chosen->out);
            free(path);
            return CLI_EXIT_FAILURE;
        }
        cJSON *record = NULL;
        if ((status = finetune_resume_settings(run, &record)) != 0) {
            free(path);
            return status;
        }
        int64_t position = 0;
        loupe_status loaded = loupe_finetuner_load_checkpoint(run->finetuner, path, &position, &error);
        free(path);
        if (loaded != LOUPE_OK) {
            cJSON_Delete(record);
            return cli_fail(&error);
        }
        run->steps_done = run->first_step = loupe_finetuner_steps_done(run->finetuner);
        status = finetune_resume_history(run, record);
        cJSON_Delete(record);
        if (status != 0) return status;
        if (run->steps_done >= run->steps_goal) {
            cli_error("--resume: %s/checkpoint.safetensors is at step %d of %d already", chosen->out,
                      run->steps_done, run->steps_goal);
            return CLI_EXIT_USAGE;
        }
        if (position != (int64_t)run->steps_done * run->windows_per_step) {
            cli_error("--resume: %s/checkpoint.safetensors is at window %lld, not at the %lld windows of its %d "
                      "steps",
                      chosen->out, (long long)position, (long long)run->steps_done * run->windows_per_step,
                      run->steps_done);
            return CLI_EXIT_FAILURE;
        }
        run->replay_windows = position;
    }
    if (chosen->eval != NULL && (status = read_eval(run)) != 0) return status;
    training_shuffle_init(&run->shuffle, (uint64_t)chosen->seed);
    run->progress = training_progress_enabled(chosen->progress);
    return 0;
}

/* Reads the corpus through the steps; the folder (and the checkpoint) at the
 * end. Returns an exit status. */
static int train(finetune_run *run) {
    const finetune_options *chosen = run->chosen;
    run->started = corpus_progress_now();
    if (run->n_eval_windows > 0 && run->steps_done == 0 && !evaluate(run)) return cli_fail(&run->error);
    run->step_began = corpus_progress_now();
    bool stopped = false;
    int64_t skipped = 0;
    int status = corpus_source_read(&chosen->source, on_document, run, &skipped, &stopped, NULL);
    if (run->status != 0) status = run->status;
    while (status == 0 && run->shuffle.count > 0 && wants_windows(run))
        if (!feed_random_window(run)) status = cli_fail(&run->error);
    if (status != 0) return status;
    if (run->steps_done == run->first_step) {
        cli_error("finetune: the corpus holds fewer than the %d windows of --context %d + 1 tokens of one step",
                  run->windows_per_step, run->context);
        return CLI_EXIT_FAILURE;
    }
    if (run->steps_done < run->steps_goal) {
        fprintf(stderr, "loupe: warning: the corpus ran out after %d of %ld steps\n", run->steps_done, chosen->steps);
        if (run->n_eval_windows > 0 && (run->n_evaluations == 0 ||
                                        run->evaluations[run->n_evaluations - 1].step != run->steps_done) &&
            !evaluate(run))
            return cli_fail(&run->error);
    }
    /* a corpus that ran out leaves a step half gathered: no checkpoint of it */
    bool checkpoint = run->steps_done == run->steps_goal &&
                      (chosen->checkpoint_every > 0 || run->steps_done < chosen->steps);
    if (!write_outputs(run, checkpoint)) return cli_fail(&run->error);
    if (run->progress)
        fprintf(stderr, "wrote %s after %d of %ld steps of %d tokens in %.1f s\n", chosen->out, run->steps_done,
                chosen->steps, run->windows_per_step * run->context, corpus_progress_now() - run->started);
    return 0;
}

int cmd_finetune(int argc, char **argv) {
    finetune_options chosen;
    int status = parse_options(argc, argv, &chosen);
    if (status >= 0) return status;
    finetune_run run = {.chosen = &chosen};
    char *directory = NULL;
    status = prepare(&chosen, &run, &directory);
    if (status == 0) status = train(&run);
    training_shuffle_free(&run.shuffle);
    free(run.stream.ids);
    free(run.batch);
    free(run.history);
    free(run.evaluations);
    free(run.eval_ids);
    loupe_finetuner_free(run.finetuner);
    loupe_tokenizer_close(run.tokenizer);
    loupe_model_close(run.model);
    free(directory);
    return status;
}
