"""loupe.Model: a Hugging Face model folder opened by the C library, with
its tokenizer, and the lens, hidden states and next-token distribution of a
text as numpy arrays."""
import threading

import numpy as np

from . import _arguments as arguments
from ._library import check, ffi, lib, new_error
from ._paths import demo_model
from .errors import LoupeError
from .lens_result import LensResult

# The library's forward pass and lens use every core and set OpenBLAS's
# thread count while they run: one runs at a time in a process. The GIL is
# released while one runs (and while a thread waits here).
_compute_lock = threading.Lock()


class Model:
    """A model folder (config.json, safetensors, tokenizer files) opened
    once; every method runs in the C library. Model() opens the embedded
    demo model gpt2-demo ($LOUPE_MODEL overrides it)."""

    def __init__(self, directory=None):
        self.directory = demo_model() if directory is None else arguments.path(directory, "directory")
        error = new_error()
        model = ffi.new("loupe_model **")
        check(lib.loupe_model_open(self.directory.encode(), model, error), error)
        self._model = ffi.gc(model[0], lib.loupe_model_close)
        self._info = ffi.new("loupe_model_info *")
        lib.loupe_model_get_info(self._model, self._info)
        tokenizer = ffi.new("loupe_tokenizer **")
        self._tokenizer_error = None
        if lib.loupe_tokenizer_open(self.directory.encode(), tokenizer, error) == lib.LOUPE_OK:
            self._tokenizer = ffi.gc(tokenizer[0], lib.loupe_tokenizer_close)
        else:
            # a folder without tokenizer files still runs on ids
            self._tokenizer = None
            self._tokenizer_error = (ffi.string(error.message).decode("utf-8", "replace"),
                                     ffi.string(lib.loupe_status_name(error.status)).decode())

    def __repr__(self):
        info = self.info
        return (f"loupe.Model({self.directory!r}: {info['architecture']}, {info['n_layer']} layers, "
                f"width {info['n_embd']}, vocabulary {info['vocab_size']})")

    # ------------------------------------------------------------------
    # The model and its tokenizer
    # ------------------------------------------------------------------

    @property
    def info(self):
        """architecture, model_type, activation, n_layer, n_embd, n_head,
        n_kv_head, head_dim, n_inner, vocab_size, context, dtype (as stored),
        parameters, weight_bytes, tied_unembedding, directory."""
        i = self._info
        text = lambda pointer: ffi.string(pointer).decode("utf-8", "replace")
        return {
            "architecture": text(i.architecture), "model_type": text(i.model_type),
            "activation": text(i.activation), "n_layer": i.n_layer, "n_embd": i.n_embd,
            "n_head": i.n_head, "n_kv_head": i.n_kv_head, "head_dim": i.head_dim, "n_inner": i.n_inner,
            "vocab_size": i.n_vocab, "context": i.n_ctx, "dtype": text(i.dtype),
            "parameters": int(i.n_parameters), "weight_bytes": int(i.weight_bytes),
            "tied_unembedding": bool(i.tied_unembedding), "directory": text(i.directory),
        }

    def _need_tokenizer(self):
        if self._tokenizer is None:
            raise LoupeError(*self._tokenizer_error)
        return self._tokenizer

    def tokenize(self, text, no_special=False, bos=False):
        """The ids of text (str, or bytes taken as they are), as `loupe
        tokenize` gives them: special tokens in the text are their own ids
        and the tokenizer's own BOS is added, unless no_special; bos=True
        puts the BOS token first."""
        tokenizer = self._need_tokenizer()
        if isinstance(text, str):
            data = text.encode("utf-8", "surrogatepass")
        elif isinstance(text, (bytes, bytearray)):
            data = bytes(text)
        else:
            raise LoupeError(f"text: expected a str or bytes, got {type(text).__name__}")
        no_special = arguments.flag(no_special, "no_special")
        bos = arguments.flag(bos, "bos")
        params = ffi.new("loupe_encode_params *", {"match_special": not no_special, "add_special": not no_special})
        ids = ffi.new("int32_t **")
        count = ffi.new("size_t *")
        error = new_error()
        check(lib.loupe_tokenizer_encode_with_params(tokenizer, data, len(data), params, ids, count, error), error)
        try:
            result = list(ffi.unpack(ids[0], count[0])) if count[0] else []
        finally:
            lib.loupe_free(ids[0])
        if bos:
            bos_id = lib.loupe_tokenizer_bos_id(tokenizer)
            if bos_id < 0:
                raise LoupeError(f"bos: the tokenizer of {self.directory} has no BOS token")
            result.insert(0, bos_id)
        return result

    def decode(self, ids):
        """The text of ids (bytes that are not UTF-8 become U+FFFD)."""
        tokenizer = self._need_tokenizer()
        array = arguments.token_ids(ids)
        text = ffi.new("char **")
        length = ffi.new("size_t *")
        error = new_error()
        check(lib.loupe_tokenizer_decode(tokenizer, ffi.from_buffer("int32_t[]", array), array.size, text,
                                         length, error), error)
        try:
            return ffi.unpack(text[0], length[0]).decode("utf-8", "replace")
        finally:
            lib.loupe_free(text[0])

    def token_strings(self, ids):
        """Each token's text as loupe's JSON writes it: its bytes as UTF-8,
        a byte that is not part of valid UTF-8 as <0xNN>; "" for an id that
        is no token."""
        tokenizer = self._need_tokenizer()
        return [token_text(tokenizer, int(i)) for i in arguments.token_ids(ids)]

    def _ids(self, text_or_ids, no_special, bos):
        """A text (tokenized) or ids, as an int32 array (T)."""
        if isinstance(text_or_ids, (str, bytes, bytearray)):
            return np.asarray(self.tokenize(text_or_ids, no_special=no_special, bos=bos), dtype=np.int32)
        array = arguments.token_ids(text_or_ids, "text")
        if arguments.flag(bos, "bos"):
            bos_id = lib.loupe_tokenizer_bos_id(self._need_tokenizer())
            if bos_id < 0:
                raise LoupeError(f"bos: the tokenizer of {self.directory} has no BOS token")
            array = np.concatenate([np.array([bos_id], dtype=np.int32), array])
        return array

    # ------------------------------------------------------------------
    # Running the model
    # ------------------------------------------------------------------

    def next(self, text, k=10, no_special=False, bos=False):
        """The k most likely next tokens after text (or ids): a list of
        (id, token_string, prob), most likely first, as `loupe next`."""
        k = arguments.integer(k, "k", 1, 1000)
        ids = self._ids(text, no_special, bos)
        probs = np.empty(self._info.n_vocab, dtype=np.float32)
        error = new_error()
        with _compute_lock:
            check(lib.loupe_model_next_probs(self._model, ffi.from_buffer("int32_t[]", ids), ids.size, 1.0,
                                             ffi.from_buffer("float[]", probs), error), error)
        best = np.argsort(-probs, kind="stable")[:k]
        strings = self.token_strings(best) if self._tokenizer is not None else [""] * len(best)
        return [(int(i), s, float(probs[i])) for i, s in zip(best, strings)]

    def lens(self, text, topk=5, subblocks=False, layers=None, positions=None, no_special=False, bos=False):
        """The logit lens of text (str) or ids (list of ints): a LensResult
        whose arrays hold every row and position (rows and positions
        windowed with layers= and positions=, slices or "A:B")."""
        topk = arguments.integer(topk, "topk", 1, 100)
        subblocks = arguments.flag(subblocks, "subblocks")
        ids = self._ids(text, no_special, bos)
        params = ffi.new("loupe_lens_params *", lib.loupe_lens_default_params())
        params.topk = topk
        params.subblocks = subblocks
        n_rows = lib.loupe_lens_row_count(self._info.n_layer, subblocks)
        rows = arguments.window(layers, n_rows, "layers")
        columns = arguments.window(positions, max(ids.size, 1), "positions")
        result = ffi.new("loupe_lens_result **")
        error = new_error()
        with _compute_lock:
            check(lib.loupe_lens_run(self._model, ffi.from_buffer("int32_t[]", ids), ids.size, params, result,
                                     error), error)
        return LensResult._from_run(self, ffi.gc(result[0], lib.loupe_lens_free), rows, columns)

    def hidden_states(self, ids, subblocks=False, no_special=False, bos=False):
        """The residual stream the lens reads, raw (before the final norm):
        float32 (R, T, C), R = n_layer + 1 (input, h1 .. hL; with subblocks
        also the hN.attn rows). ids may be a text."""
        subblocks = arguments.flag(subblocks, "subblocks")
        ids = self._ids(ids, no_special, bos)
        n_rows = lib.loupe_lens_row_count(self._info.n_layer, subblocks)
        hidden = np.empty((n_rows, ids.size, self._info.n_embd), dtype=np.float32)
        error = new_error()
        with _compute_lock:
            check(lib.loupe_lens_hidden_states(self._model, ffi.from_buffer("int32_t[]", ids), ids.size,
                                               subblocks, ffi.from_buffer("float[]", hidden), error), error)
        return hidden

    def lens_logits(self, ids, row, subblocks=False, no_special=False, bos=False):
        """One lens row through the final norm and the unembedding: float32
        (T, V). row is an index (negative counts from the last row) or a
        name ("input", "h3", "h3.attn")."""
        subblocks = arguments.flag(subblocks, "subblocks")
        ids = self._ids(ids, no_special, bos)
        n_rows = lib.loupe_lens_row_count(self._info.n_layer, subblocks)
        row = self._row_index(row, n_rows, subblocks)
        logits = np.empty((ids.size, self._info.n_vocab), dtype=np.float32)
        error = new_error()
        with _compute_lock:
            check(lib.loupe_lens_row_logits(self._model, ffi.from_buffer("int32_t[]", ids), ids.size, subblocks,
                                            row, ffi.from_buffer("float[]", logits), error), error)
        return logits

    def _row_index(self, row, n_rows, subblocks):
        if isinstance(row, str):
            names = row_names(self._info.n_layer, subblocks)
            if row not in names:
                raise LoupeError(f"row: '{row}' is not a row of this lens ({', '.join(names)})")
            return names.index(row)
        row = arguments.integer(row, "row", -n_rows, n_rows - 1)
        return row % n_rows

    def corpus(self, paths_or_texts, counts=None, max_tokens=None, progress=True, **options):
        """The lens over a corpus, aggregated per layer: the loupe.corpus/1
        document of `loupe corpus` as a dict (docs/CORPUS.md). See
        loupe.corpus.run for the arguments."""
        from .corpus import run
        return run(self, paths_or_texts, counts=counts, max_tokens=max_tokens, progress=progress, **options)


def token_text(tokenizer, token_id):
    """One token's text through loupe_tokenizer_token_text."""
    needed = lib.loupe_tokenizer_token_text(tokenizer, token_id, ffi.NULL, 0)
    buffer = ffi.new("char[]", needed + 1)
    lib.loupe_tokenizer_token_text(tokenizer, token_id, buffer, needed + 1)
    return ffi.unpack(buffer, needed).decode("utf-8")


def row_names(n_layer, subblocks):
    """The lens's row names, from the library's one definition."""
    buffer = ffi.new("char[64]")
    names = []
    for row in range(lib.loupe_lens_row_count(n_layer, subblocks)):
        lib.loupe_lens_row_label(n_layer, subblocks, row, buffer, 64)
        names.append(ffi.string(buffer).decode())
    return names
