/*
 * cmd_train_lens.c - `loupe train-lens`: trains a tuned lens on a corpus
 * with tuned-lens's loss and optimizer (loupe_lens_trainer, docs/
 * TUNED_LENS.md). Documents are read and cut into windows as `loupe
 * corpus` does; the windows pass through a shuffle buffer seeded by --seed;
 * each step takes exactly --tokens-per-step scored positions (a window is
 * split between steps where it must be). A checkpoint every N steps holds
 * the translators, the momentum and the step count; --resume reads it and
 * replays the data pipeline (no model runs) up to its step, so the run
 * continues exactly as it would have.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "corpus_output.h"
#include "training_data.h"

static const char usage[] =
    "usage: loupe train-lens [--model DIR] --out LENSDIR [options] FILE...\n"
    "\n"
    "Trains a tuned lens for the model on a corpus, as the tuned-lens package does:\n"
    "one affine translator per layer, the loss summed over layers, SGD with Nesterov\n"
    "momentum. Writes LENSDIR in tuned-lens's layout (config.json and\n"
    "params.safetensors), for loupe lens --tuned and loupe corpus --tuned;\n"
    "params.safetensors names the model's final norm and unembedding by a hash, so a\n"
    "model of the same shape with other weights refuses the lens. FILE '-' is\n"
    "standard input (e.g. xz -dc train.txt.xz | loupe train-lens ... -).\n"
    "\n"
    "  --model DIR        a Hugging Face model folder (default: the embedded gpt2-demo)\n"
    "  --out LENSDIR      where to write the lens (required)\n" CORPUS_SOURCE_HELP
    "  --loss kl|ce       KL(final || lens) at each position (default, as tuned-lens)\n"
    "                     or the cross-entropy of the next token\n"
    "  --steps N          optimizer steps (default 250, as tuned-lens)\n"
    "  --tokens-per-step N  positions per step (default 2048; tuned-lens's 262144 is\n"
    "                     for GPUs)\n"
    "  --context N        tokens per window (default: the model's context)\n"
    "  --lr-scale X       SGD's learning rate is X (1 - momentum) (default 1)\n"
    "  --momentum X       Nesterov momentum (default 0.9)\n"
    "  --weight-decay X   default 0.001\n"
    "  --max-grad-norm X  gradient norm clipping (default 1)\n"
    "  --warmup-steps N   linear warm-up (default 0)\n"
    "  --seed N           seed of the shuffle of windows (default 42, as tuned-lens)\n"
    "  --checkpoint-every N  write LENSDIR/checkpoint.safetensors every N steps\n"
    "  --resume FILE      continue from a checkpoint (same corpus and options)\n"
    "  --progress WHEN    auto (default: when stderr is a terminal), always, never\n"
    "  --help             show this help\n";

typedef struct train_options {
    const char *model, *out, *resume, *progress;
    long steps, tokens_per_step, context, warmup, seed, checkpoint_every;
    double lr_scale, momentum, weight_decay, max_grad_norm;
    bool ce;
    corpus_source source;
} train_options;

typedef struct train_run {
    const train_options *chosen;
    loupe_model *model;
    loupe_tokenizer *tokenizer;
    loupe_lens_trainer *trainer;
    int n_layer;
    loupe_corpus_window_params windows;
    training_shuffle shuffle; /* the windows waiting, dealt in --seed's order */
    int64_t step_positions;   /* positions in the step being gathered */
    int steps_done;           /* steps taken (or replayed on --resume) */
    int replay_until;         /* steps only replayed, not computed: those of the checkpoint */
    bool progress;
    double started;
    int status;
    loupe_error error;
} train_run;

static int parse_options(int argc, char **argv, train_options *chosen) {
    static const struct option options[] = {
        {"model", required_argument, NULL, 'm'},     {"out", required_argument, NULL, 'o'},
        {"loss", required_argument, NULL, 'l'},      {"steps", required_argument, NULL, 's'},
        {"tokens-per-step", required_argument, NULL, 't'}, {"context", required_argument, NULL, 'c'},
        {"lr-scale", required_argument, NULL, 'r'},  {"momentum", required_argument, NULL, 'M'},
        {"weight-decay", required_argument, NULL, 'w'}, {"max-grad-norm", required_argument, NULL, 'g'},
        {"warmup-steps", required_argument, NULL, 'W'}, {"seed", required_argument, NULL, 'd'},
        {"checkpoint-every", required_argument, NULL, 'k'}, {"resume", required_argument, NULL, 'R'},
        {"progress", required_argument, NULL, 'P'},  {"help", no_argument, NULL, 'h'},
        CORPUS_SOURCE_LONG_OPTIONS,                  {NULL, 0, NULL, 0},
    };
    loupe_lens_train_params defaults = loupe_lens_train_default_params();
    memset(chosen, 0, sizeof *chosen);
    chosen->source.reader = loupe_corpus_reader_default_params();
    chosen->steps = defaults.steps;
    chosen->tokens_per_step = 2048;
    chosen->seed = 42;
    chosen->lr_scale = defaults.lr_scale;
    chosen->momentum = defaults.momentum;
    chosen->weight_decay = defaults.weight_decay;
    chosen->max_grad_norm = defaults.max_grad_norm;
    chosen->warmup = defaults.warmup_steps;
    chosen->progress = "auto";
    bool ok = true;
    int option;
    optind = 1;
    while (ok && (option = getopt_long(argc, argv, "m:o:h", options, NULL)) != -1) {
        if (corpus_source_option(&chosen->source, option, optarg)) continue;
        switch (option) {
        case 'm': chosen->model = optarg; break;
        case 'o': chosen->out = optarg; break;
        case 'l':
            if (strcmp(optarg, "ce") == 0) chosen->ce = true;
            else if (strcmp(optarg, "kl") != 0) {
                cli_error("--loss: expected one of kl, ce, got '%s'", optarg);
                ok = false;
            }
            break;
        case 's': ok = cli_parse_int("--steps", optarg, 1, 1 << 30, &chosen->steps); break;
        case 't': ok = cli_parse_int("--tokens-per-step", optarg, 1, 1 << 30, &chosen->tokens_per_step); break;
        case 'c': ok = cli_parse_int("--context", optarg, 2, 1 << 20, &chosen->context); break;
        case 'r': ok = cli_parse_float("--lr-scale", optarg, 1e-6, 1e6, &chosen->lr_scale); break;
        case 'M': ok = cli_parse_float("--momentum", optarg, 0.0, 0.999, &chosen->momentum); break;
        case 'w': ok = cli_parse_float("--weight-decay", optarg, 0.0, 1.0, &chosen->weight_decay); break;
        case 'g': ok = cli_parse_float("--max-grad-norm", optarg, 1e-6, 1e6, &chosen->max_grad_norm); break;
        case 'W': ok = cli_parse_int("--warmup-steps", optarg, 0, 1 << 30, &chosen->warmup); break;
        case 'd': ok = cli_parse_int("--seed", optarg, 0, LONG_MAX, &chosen->seed); break;
        case 'k': ok = cli_parse_int("--checkpoint-every", optarg, 1, 1 << 30, &chosen->checkpoint_every); break;
        case 'R': chosen->resume = optarg; break;
        case 'P':
            ok = training_progress_option(optarg);
            chosen->progress = optarg;
            break;
        case 'h': fputs(usage, stdout); return CLI_EXIT_OK;
        default: fputs(usage, stderr); return CLI_EXIT_USAGE;
        }
    }
    if (!ok) return CLI_EXIT_USAGE;
    if (chosen->out == NULL) {
        cli_error("train-lens: --out LENSDIR is required");
        return CLI_EXIT_USAGE;
    }
    if (chosen->warmup >= chosen->steps) {
        cli_error("--warmup-steps: must be below --steps (%ld), got %ld", chosen->steps, chosen->warmup);
        return CLI_EXIT_USAGE;
    }
    if (optind >= argc) {
        cli_error("train-lens: no corpus file given (use '-' for standard input)");
        return CLI_EXIT_USAGE;
    }
    chosen->source.paths = argv + optind;
    chosen->source.n_paths = argc - optind;
    return -1;
}

/* ------------------------------------------------------------------------
 * Steps
 * ---------------------------------------------------------------------- */

static char *checkpoint_path(const train_run *run) {
    size_t length = strlen(run->chosen->out) + 32;
    char *path = malloc(length);
    if (path != NULL) snprintf(path, length, "%s/checkpoint.safetensors", run->chosen->out);
    return path;
}

/* The step's progress line: step, positions per second, the loss per layer. */
static void report_step(const train_run *run, const double *losses) {
    if (!run->progress) return;
    double elapsed = corpus_progress_now() - run->started;
    int computed = run->steps_done - run->replay_until;
    fprintf(stderr, "step %d/%ld  %.0f tok/s  loss", run->steps_done, run->chosen->steps,
            elapsed > 0 ? (double)computed * (double)run->chosen->tokens_per_step / elapsed : 0.0);
    double total = 0;
    for (int i = 0; i < run->n_layer; i++) {
        fprintf(stderr, " %.3f", losses[i]);
        total += losses[i];
    }
    fprintf(stderr, "  sum %.3f\n", total);
    fflush(stderr);
}

/* Takes the step once the positions are gathered (or only counts it while
 * replaying), and writes a checkpoint when due. */
static bool finish_step(train_run *run) {
    run->step_positions = 0;
    if (run->steps_done < run->replay_until) {
        run->steps_done++;
        return true;
    }
    double losses[LOUPE_LENS_SAVED_MAX_LAYERS];
    if (loupe_lens_trainer_step(run->trainer, losses, &run->error) != LOUPE_OK) return false;
    run->steps_done++;
    report_step(run, losses);
    long every = run->chosen->checkpoint_every;
    if (every > 0 && run->steps_done % every == 0 && run->steps_done < run->chosen->steps) {
        char *path = checkpoint_path(run);
        loupe_status status = path ? loupe_lens_trainer_save_checkpoint(run->trainer, path, &run->error)
                                   : LOUPE_ERROR_MEMORY;
        free(path);
        if (status != LOUPE_OK) return false;
    }
    return true;
}

/* Feeds a window's scored positions to the steps, splitting it where a step
 * fills up. */
static bool feed_window(train_run *run, const training_window *window) {
    int begin = window->begin;
    while (begin < window->end && run->steps_done < run->chosen->steps) {
        int64_t room = run->chosen->tokens_per_step - run->step_positions;
        int end = window->end - begin > room ? begin + (int)room : window->end;
        if (run->steps_done >= run->replay_until &&
            loupe_lens_trainer_add(run->trainer, window->ids, window->n_tokens, begin, end, &run->error) != LOUPE_OK)
            return false;
        run->step_positions += end - begin;
        begin = end;
        if (run->step_positions == run->chosen->tokens_per_step && !finish_step(run)) return false;
    }
    return true;
}

/* Takes a random window out of the shuffle buffer and feeds it. */
static bool feed_random_window(train_run *run) {
    training_window window = training_shuffle_take(&run->shuffle);
    bool ok = feed_window(run, &window);
    free(window.ids);
    return ok;
}

static bool on_document(void *user, const loupe_corpus_document *document, const char *path) {
    train_run *run = user;
    int32_t *ids = NULL;
    size_t n = 0;
    if (loupe_tokenizer_encode(run->tokenizer, document->text, document->length, &ids, &n, &run->error) !=
        LOUPE_OK) {
        cli_error("%s:%lld: %s", path, (long long)document->line, run->error.message);
        run->status = CLI_EXIT_FAILURE;
        return false;
    }
    loupe_corpus_window window = {0};
    bool ok = true;
    while (ok && run->steps_done < run->chosen->steps &&
           loupe_corpus_window_next((int)n, &run->windows, &window)) {
        if (window.score_end <= window.score_begin) continue;
        int n_tokens = window.score_end + 1 - window.start; /* causal: later tokens change nothing */
        if (!training_shuffle_push(&run->shuffle, ids + window.start, n_tokens, window.score_begin - window.start,
                                   window.score_end - window.start)) {
            snprintf(run->error.message, sizeof run->error.message, "out of memory");
            ok = false;
            break;
        }
        if (training_shuffle_full(&run->shuffle)) ok = feed_random_window(run);
    }
    loupe_free(ids);
    if (!ok && run->status == 0) {
        cli_error("%s", run->error.message);
        run->status = CLI_EXIT_FAILURE;
    }
    return ok && run->steps_done < run->chosen->steps;
}

/* ------------------------------------------------------------------------
 * The command
 * ---------------------------------------------------------------------- */

static int prepare(const train_options *chosen, train_run *run, char **directory) {
    loupe_error error;
    *directory = cli_model_directory(chosen->model);
    if (*directory == NULL) return CLI_EXIT_FAILURE;
    if (loupe_model_open(*directory, &run->model, &error) != LOUPE_OK) return cli_fail(&error);
    if (loupe_tokenizer_open(*directory, &run->tokenizer, &error) != LOUPE_OK) return cli_fail(&error);
    loupe_model_info info;
    loupe_model_get_info(run->model, &info);
    run->n_layer = info.n_layer;
    int context = chosen->context > 0 && chosen->context < info.n_ctx ? (int)chosen->context : info.n_ctx;
    run->windows = (loupe_corpus_window_params){.context = context, .stride = context / 2, .min_context = 0};
    loupe_lens_train_params params = loupe_lens_train_default_params();
    params.loss = chosen->ce ? LOUPE_LENS_LOSS_CE : LOUPE_LENS_LOSS_KL;
    params.steps = (int)chosen->steps;
    params.lr_scale = chosen->lr_scale;
    params.momentum = chosen->momentum;
    params.weight_decay = chosen->weight_decay;
    params.max_grad_norm = chosen->max_grad_norm;
    params.warmup_steps = (int)chosen->warmup;
    if (loupe_lens_trainer_create(run->model, &params, context, &run->trainer, &error) != LOUPE_OK)
        return cli_fail(&error);
    if (chosen->checkpoint_every > 0 && mkdir(chosen->out, 0777) != 0 && errno != EEXIST) {
        cli_error("%s: cannot create: %s", chosen->out, strerror(errno));
        return CLI_EXIT_FAILURE;
    }
    if (chosen->resume != NULL) {
        if (loupe_lens_trainer_load_checkpoint(run->trainer, chosen->resume, &error) != LOUPE_OK)
            return cli_fail(&error);
        run->replay_until = loupe_lens_trainer_steps_done(run->trainer);
        if (run->replay_until >= chosen->steps) {
            cli_error("--resume: %s is at step %d of %ld already", chosen->resume, run->replay_until, chosen->steps);
            return CLI_EXIT_USAGE;
        }
    }
    training_shuffle_init(&run->shuffle, (uint64_t)chosen->seed);
    run->progress = training_progress_enabled(chosen->progress);
    return 0;
}

int cmd_train_lens(int argc, char **argv) {
    train_options chosen;
    int status = parse_options(argc, argv, &chosen);
    if (status >= 0) return status;
    train_run run = {.chosen = &chosen};
    char *directory = NULL;
    status = prepare(&chosen, &run, &directory);
    if (status == 0) {
        run.started = corpus_progress_now();
        bool stopped = false;
        int64_t skipped = 0;
        status = corpus_source_read(&chosen.source, on_document, &run, &skipped, &stopped, NULL);
        if (run.status != 0) status = run.status;
        while (status == 0 && run.shuffle.count > 0 && run.steps_done < chosen.steps)
            if (!feed_random_window(&run)) status = cli_fail(&run.error);
        if (status == 0 && run.step_positions > 0 && run.steps_done < chosen.steps && !finish_step(&run))
            status = cli_fail(&run.error);
        if (status == 0 && run.steps_done < chosen.steps)
            fprintf(stderr, "loupe: warning: the corpus ran out after %d of %ld steps\n", run.steps_done,
                    chosen.steps);
        loupe_model_info info;
        loupe_model_get_info(run.model, &info);
        loupe_error error;
        const char *name = strrchr(info.directory, '/');
        name = name && name[1] ? name + 1 : info.directory;
        if (status == 0 && loupe_tuned_lens_save(loupe_lens_trainer_lens(run.trainer), run.model, chosen.out, name,
                                                 &error) != LOUPE_OK)
            status = cli_fail(&error);
        if (status == 0 && run.progress)
            fprintf(stderr, "wrote %s after %d steps of %ld positions in %.1f s\n", chosen.out, run.steps_done,
                    chosen.tokens_per_step, corpus_progress_now() - run.started);
    }
    training_shuffle_free(&run.shuffle);
    loupe_lens_trainer_free(run.trainer);
    loupe_tokenizer_close(run.tokenizer);
    loupe_model_close(run.model);
    free(directory);
    return status;
}
