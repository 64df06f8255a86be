"""The C library underneath: the declarations of include/loupe.h that the
package calls, and where libloupe.so is found.

cffi's ABI mode: nothing is compiled at install time, and every call into the
library releases the GIL while it runs.
"""
import os

import cffi

from .errors import LoupeError

# The subset of include/loupe.h the package uses, as cffi reads it.
DECLARATIONS = """
typedef enum loupe_status {
    LOUPE_OK = 0, LOUPE_ERROR_IO, LOUPE_ERROR_FORMAT, LOUPE_ERROR_UNSUPPORTED,
    LOUPE_ERROR_LIMIT, LOUPE_ERROR_ARGUMENT, LOUPE_ERROR_MEMORY,
} loupe_status;
typedef struct loupe_error { loupe_status status; char message[512]; } loupe_error;
const char *loupe_status_name(loupe_status status);

typedef struct loupe_model loupe_model;
loupe_status loupe_model_open(const char *directory, loupe_model **model_out, loupe_error *error);
void loupe_model_close(loupe_model *model);
typedef struct loupe_model_info {
    const char *architecture; const char *model_type; const char *activation; const char *dtype;
    const char *directory;
    int n_layer; int n_embd; int n_head; int n_inner; int n_vocab; int n_ctx;
    bool tied_unembedding; int64_t n_parameters; int64_t weight_bytes; int n_kv_head; int head_dim;
} loupe_model_info;
void loupe_model_get_info(const loupe_model *model, loupe_model_info *info);
loupe_status loupe_model_next_probs(const loupe_model *model, const int32_t *ids, int n_tokens,
                                    float temperature, float *probs, loupe_error *error);

typedef struct loupe_tokenizer loupe_tokenizer;
loupe_status loupe_tokenizer_open(const char *directory, loupe_tokenizer **tokenizer_out, loupe_error *error);
void loupe_tokenizer_close(loupe_tokenizer *tokenizer);
int loupe_tokenizer_vocab_size(const loupe_tokenizer *tokenizer);
int32_t loupe_tokenizer_bos_id(const loupe_tokenizer *tokenizer);
typedef struct loupe_encode_params { bool match_special; bool add_special; } loupe_encode_params;
loupe_encode_params loupe_encode_default_params(void);
loupe_status loupe_tokenizer_encode_with_params(const loupe_tokenizer *tokenizer, const char *text, size_t length,
                                                const loupe_encode_params *params, int32_t **ids_out,
                                                size_t *count_out, loupe_error *error);
loupe_status loupe_tokenizer_decode(const loupe_tokenizer *tokenizer, const int32_t *ids, size_t count,
                                    char **text_out, size_t *length_out, loupe_error *error);
size_t loupe_tokenizer_token_text(const loupe_tokenizer *tokenizer, int32_t id, char *buffer, size_t capacity);

typedef struct loupe_tuned_lens loupe_tuned_lens;
typedef enum loupe_precision { LOUPE_PRECISION_F32 = 0, LOUPE_PRECISION_BF16 } loupe_precision;
typedef struct loupe_lens_params {
    int topk; bool subblocks; int position_block; loupe_precision precision; const loupe_tuned_lens *tuned;
    const int32_t *track_ids; int n_track; bool contributions; bool keep_taps;
} loupe_lens_params;
loupe_lens_params loupe_lens_default_params(void);
typedef struct loupe_lens_token { int32_t id; float logit; float prob; int32_t rank; float log_prob; } loupe_lens_token;
typedef struct loupe_lens_attribution { float target; float final_top; } loupe_lens_attribution;
typedef struct loupe_lens_cell {
    const int32_t *top_ids; const float *top_probs; int n_top;
    loupe_lens_token target; loupe_lens_token input; loupe_lens_token final_top;
    float entropy; float kl_final; float kl_final_rev; float kl_first; float kl_first_rev;
    const loupe_lens_token *tracked; int n_tracked; const loupe_lens_attribution *attribution;
    float logit_error_bound; bool top1_guaranteed;
} loupe_lens_cell;
typedef struct loupe_lens_result loupe_lens_result;
const int32_t *loupe_lens_ids(const loupe_lens_result *result);
const loupe_lens_cell *loupe_lens_cell_at(const loupe_lens_result *result, int row, int position);
loupe_status loupe_lens_run(const loupe_model *model, const int32_t *ids, int n_tokens,
                            const loupe_lens_params *params, loupe_lens_result **result_out, loupe_error *error);
void loupe_lens_free(loupe_lens_result *result);
int loupe_lens_row_count(int n_layer, bool subblocks);
size_t loupe_lens_row_label(int n_layer, bool subblocks, int row, char *buffer, size_t capacity);
int loupe_lens_n_rows(const loupe_lens_result *result);
int loupe_lens_n_positions(const loupe_lens_result *result);
const char *loupe_lens_row_name(const loupe_lens_result *result, int row);
typedef struct loupe_lens_window { int row_first, row_end; int position_first, position_end; } loupe_lens_window;
typedef struct loupe_lens_arrays {
    double *kl_final, *kl_final_rev, *kl_first, *kl_first_rev, *entropy;
    double *target_prob, *target_logit; int32_t *target_rank;
    double *input_prob, *input_logit; int32_t *input_rank;
    double *final_top_prob;
    int32_t *top_ids; double *top_probs;
} loupe_lens_arrays;
loupe_status loupe_lens_copy_arrays(const loupe_lens_result *result, const loupe_lens_window *window,
                                    const loupe_lens_arrays *arrays, loupe_error *error);
loupe_status loupe_lens_write_json(const loupe_lens_result *result, const loupe_tokenizer *tokenizer,
                                   const loupe_model_info *info, const loupe_lens_window *window,
                                   char **text_out, size_t *length_out, loupe_error *error);
loupe_status loupe_lens_hidden_states(const loupe_model *model, const int32_t *ids, int n_tokens, bool subblocks,
                                      float *hidden, loupe_error *error);
loupe_status loupe_lens_row_logits(const loupe_model *model, const int32_t *ids, int n_tokens, bool subblocks,
                                   int row, float *logits, loupe_error *error);

typedef struct loupe_lens_saved {
    char *model_name; char *model_directory; loupe_model_info info;
    int topk; bool subblocks; bool contributions;
    int row_first, row_end; int position_first, position_end;
    int32_t *ids; char **token_texts; char **row_names;
    loupe_lens_cell *cells; int32_t *top_ids; float *top_probs; int32_t max_id;
    int n_track; int32_t track_ids[16]; loupe_lens_token *tracked;
} loupe_lens_saved;
loupe_status loupe_lens_read_json(const char *text, size_t length, const char *name, loupe_lens_saved **saved_out,
                                  loupe_error *error);
void loupe_lens_saved_free(loupe_lens_saved *saved);
loupe_status loupe_lens_saved_copy_arrays(const loupe_lens_saved *saved, const loupe_lens_arrays *arrays,
                                          loupe_error *error);

void loupe_free(void *pointer);
"""

ffi = cffi.FFI()
ffi.cdef(DECLARATIONS)


def _candidates():
    """Where libloupe.so may be, in order: $LOUPE_LIBRARY, the library the
    package was installed with, the build folder of the source tree this
    package sits in, then the system's search path."""
    explicit = os.environ.get("LOUPE_LIBRARY")
    if explicit:
        return [explicit]
    paths = []
    try:
        from . import _install_paths
        paths.append(_install_paths.LIBRARY)
    except ImportError:
        pass
    tree = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths.append(os.path.join(tree, "build", "libloupe.so"))
    paths.append("libloupe.so.0")
    return paths


def _open():
    tried = []
    explicit = "LOUPE_LIBRARY" in os.environ and os.environ["LOUPE_LIBRARY"]
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} (absent)")
            continue
        try:
            return ffi.dlopen(path), path
        except OSError as exception:
            tried.append(f"{path} ({exception})")
    where = "$LOUPE_LIBRARY" if explicit else "libloupe.so"
    raise ImportError(f"loupe: cannot load {where}: tried " + "; ".join(tried) +
                      " (build loupe with scripts/setup.sh, or set LOUPE_LIBRARY)")


lib, LIBRARY_PATH = _open()


def check(status, error):
    """Raises LoupeError with the library's one-line message unless status is
    LOUPE_OK."""
    if status != lib.LOUPE_OK:
        raise LoupeError(ffi.string(error.message).decode("utf-8", "replace"),
                         ffi.string(lib.loupe_status_name(status)).decode())


def new_error():
    return ffi.new("loupe_error *")
