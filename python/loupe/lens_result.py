"""loupe.LensResult: a logit lens as numpy arrays, from a run
(Model.lens) or from a saved loupe.lens/1 document (LensResult.from_json)."""
import html
import os
import subprocess
import tempfile

import numpy as np

from . import _arguments as arguments
from ._library import check, ffi, lib, new_error
from .errors import LoupeError

# (field, dtype) of the (R, P) arrays; top_ids and top_probs are (R, P, K).
_CELL_ARRAYS = (
    ("kl_final", np.float64), ("kl_final_rev", np.float64), ("kl_first", np.float64),
    ("kl_first_rev", np.float64), ("entropy", np.float64),
    ("target_prob", np.float64), ("target_logit", np.float64), ("target_rank", np.int32),
    ("input_prob", np.float64), ("input_logit", np.float64), ("input_rank", np.int32),
    ("final_top_prob", np.float64),
)
_C_TYPE = {np.float64: "double[]", np.int32: "int32_t[]"}

# The largest document from_json reads (the command's limit for `loupe plot`).
_MAX_JSON_BYTES = 1 << 30


def _copy_arrays(n_rows, n_positions, topk, copy):
    """Allocates every array and has the library fill them: copy(arrays)
    calls loupe_lens_copy_arrays or loupe_lens_saved_copy_arrays."""
    arrays = {name: np.empty((n_rows, n_positions), dtype=dtype) for name, dtype in _CELL_ARRAYS}
    arrays["top_ids"] = np.empty((n_rows, n_positions, topk), dtype=np.int32)
    arrays["top_probs"] = np.empty((n_rows, n_positions, topk), dtype=np.float64)
    pointers = ffi.new("loupe_lens_arrays *")
    for name, array in arrays.items():
        setattr(pointers, name, ffi.from_buffer(_C_TYPE[array.dtype.type], array))
    copy(pointers)
    return arrays


class LensResult:
    """The lens of one text: R rows (input, h1 .. hL, hN.attn with
    subblocks) by T positions, as the window asked for.

    rows, ids, tokens: the row names, the input ids and their texts.
    kl_final, kl_final_rev, kl_first, kl_first_rev, entropy,
    target_prob, target_logit, target_rank (NaN / -1 at the last position),
    input_prob, input_logit, input_rank, final_top_prob: (R, T) arrays;
    top_ids, top_probs: (R, T, topk). Every number is the library's.
    """

    def __init__(self):
        raise LoupeError("a LensResult comes from Model.lens or LensResult.from_json")

    @classmethod
    def _make(cls, fields):
        self = object.__new__(cls)
        self.__dict__.update(fields)
        return self

    @classmethod
    def _from_run(cls, model, result, rows, positions):
        window = ffi.new("loupe_lens_window *", {"row_first": rows[0], "row_end": rows[1],
                                                 "position_first": positions[0], "position_end": positions[1]})
        n_rows, n_positions = rows[1] - rows[0], positions[1] - positions[0]
        topk = lib.loupe_lens_cell_at(result, 0, 0).n_top  # min(topk, V), as every cell holds
        error = new_error()
        arrays = _copy_arrays(n_rows, n_positions, topk,
                              lambda pointers: check(lib.loupe_lens_copy_arrays(result, window, pointers, error),
                                                     error))
        all_ids = ffi.unpack(lib.loupe_lens_ids(result), lib.loupe_lens_n_positions(result))
        ids = [int(i) for i in all_ids[positions[0]:positions[1]]]
        from .model import token_text
        fields = dict(arrays)
        fields.update(
            rows=[ffi.string(lib.loupe_lens_row_name(result, r)).decode() for r in range(*rows)],
            ids=ids,
            tokens=[token_text(model._tokenizer, i) for i in ids] if model._tokenizer is not None else [""] * len(ids),
            model_directory=model.directory, topk=topk,
            subblocks=lib.loupe_lens_n_rows(result) != lib.loupe_lens_row_count(model._info.n_layer, False),
            row_range=tuple(rows), position_range=tuple(positions),
            _model=model, _result=result, _window=window, _json=None)
        return cls._make(fields)

    @classmethod
    def from_json(cls, source):
        """A lens saved with `loupe lens --format json` (or to_json): a
        path (str or os.PathLike), or the document itself (a str or bytes
        starting with '{'). Every field is validated by the library."""
        if isinstance(source, (bytes, bytearray)):
            text, name = bytes(source), "<document>"
        elif isinstance(source, str) and source.lstrip().startswith("{"):
            text, name = source.encode("utf-8", "surrogatepass"), "<document>"
        else:
            name = arguments.path(source, "source")
            try:
                with open(name, "rb") as file:
                    text = file.read(_MAX_JSON_BYTES + 1)
            except OSError as exception:
                raise LoupeError(f"{name}: {exception.strerror}", "i/o error") from None
            if len(text) > _MAX_JSON_BYTES:
                raise LoupeError(f"{name}: more than {_MAX_JSON_BYTES} bytes", "limit exceeded")
        saved = ffi.new("loupe_lens_saved **")
        error = new_error()
        check(lib.loupe_lens_read_json(text, len(text), os.fsencode(name), saved, error), error)
        saved = ffi.gc(saved[0], lib.loupe_lens_saved_free)
        n_rows, n_positions = saved.row_end - saved.row_first, saved.position_end - saved.position_first
        arrays = _copy_arrays(n_rows, n_positions, saved.topk,
                              lambda pointers: check(lib.loupe_lens_saved_copy_arrays(saved, pointers, error),
                                                     error))
        fields = dict(arrays)
        fields.update(
            rows=[ffi.string(saved.row_names[r]).decode("utf-8", "replace") for r in range(n_rows)],
            ids=[int(i) for i in ffi.unpack(saved.ids, n_positions)],
            tokens=[ffi.string(saved.token_texts[t]).decode("utf-8", "replace") for t in range(n_positions)],
            model_directory=ffi.string(saved.model_directory).decode("utf-8", "replace"), topk=saved.topk,
            subblocks=bool(saved.subblocks), row_range=(saved.row_first, saved.row_end),
            position_range=(saved.position_first, saved.position_end),
            _model=None, _result=None, _window=None, _json=text.decode("utf-8", "replace"))
        return cls._make(fields)

    def __repr__(self):
        return (f"<loupe.LensResult {len(self.rows)} rows x {len(self.ids)} positions, topk {self.topk}, "
                f"model {os.path.basename(self.model_directory.rstrip('/'))}>")

    def to_json(self):
        """The loupe.lens/1 document (docs/LENS_JSON.md), byte for byte what
        `loupe lens --format json` prints for the same text and options."""
        if self._json is not None:
            return self._json
        text = ffi.new("char **")
        length = ffi.new("size_t *")
        error = new_error()
        check(lib.loupe_lens_write_json(self._result, self._model._tokenizer or ffi.NULL, self._model._info,
                                        self._window, text, length, error), error)
        try:
            return ffi.unpack(text[0], length[0]).decode("utf-8")
        finally:
            lib.loupe_free(text[0])

    def plot(self, path, metric="prob", vs="final", kl="forward", token="final-top", top_down=False, dpi=144,
             summary=None):
        """Draws the heatmap to path (.png, .svg or .html, an interactive
        page), and with summary= the per-layer line plots, exactly as
        `loupe lens --plot` does: the saved document is drawn by `loupe
        plot` (docs/PLOTS.md). metric: prob, logit, rank, kl or entropy;
        vs: final or first; kl: forward or reverse; token: final-top or
        target."""
        from ._paths import executable
        options = ["--plot", arguments.path(path, "path")]
        if summary is not None:
            options += ["--summary", arguments.path(summary, "summary")]
        for name, value in (("metric", metric), ("vs", vs), ("kl", kl), ("token", token)):
            if not isinstance(value, str):
                raise LoupeError(f"{name}: expected a str, got {type(value).__name__}")
            options += [f"--{name}", value]
        options += ["--dpi", str(arguments.integer(dpi, "dpi", 36, 1200))]
        if arguments.flag(top_down, "top_down"):
            options.append("--top-down")
        if self._model is not None:
            options += ["--model", self._model.directory]
        with tempfile.TemporaryDirectory(prefix="loupe-") as folder:
            document = os.path.join(folder, "lens.json")
            with open(document, "w", encoding="utf-8") as file:
                file.write(self.to_json())
            done = subprocess.run([executable(), "plot", *options, document], capture_output=True, text=True,
                                  errors="replace", env={**os.environ, "NO_COLOR": "1"})
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            message = lines[0] if lines else f"loupe plot failed with status {done.returncode}"
            raise LoupeError(message.removeprefix("loupe: "))

    def _repr_html_(self):
        """The interactive heatmap (the .html of plot) inline in a notebook,
        in an iframe so that its script and styles stay its own."""
        with tempfile.TemporaryDirectory(prefix="loupe-") as folder:
            page = os.path.join(folder, "lens.html")
            self.plot(page)
            with open(page, encoding="utf-8") as file:
                document = file.read()
        height = 120 + 28 * len(self.rows)
        return (f'<iframe srcdoc="{html.escape(document, quote=True)}" '
                f'style="width: 100%; height: {height}px; border: none;"></iframe>')

