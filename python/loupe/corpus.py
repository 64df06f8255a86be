"""Model.corpus: the lens over a corpus, aggregated per layer by `loupe
corpus` (docs/CORPUS.md), returned as its loupe.corpus/1 document.

The run is the command's own (the documents, windows, statistics and JSON
are the library's and the command's code, not repeated here); this module
passes the options, shows the command's progress, and turns Ctrl-C into the
command's clean stop with the partial aggregate."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import warnings

from . import _arguments as arguments
from ._paths import executable
from .errors import LoupeError

# Options of `loupe corpus`, by their keyword: (command option, kind).
_OPTIONS = {
    "stride": ("--stride", int), "min_context": ("--min-context", int), "subblocks": ("--subblocks", bool),
    "separator": ("--separator", str), "jsonl": ("--jsonl", bool), "plain": ("--plain", bool),
    "strict": ("--strict", bool), "exact_limit": ("--exact-limit", int), "sketch_error": ("--sketch-error", float),
    "reservoir": ("--reservoir", int), "seed": ("--seed", int), "plot": ("--plot", "path"),
}

# The name the texts passed in memory have in the document's corpus.files.
TEXTS_NAME = "<texts>"

_PERCENT = re.compile(r"\]\s*(\d+)%")


def _command_options(counts, max_tokens, options):
    chosen = []
    if counts is not None:
        chosen += ["--counts", arguments.path(counts, "counts")]
    if max_tokens is not None:
        chosen += ["--max-tokens", str(arguments.integer(max_tokens, "max_tokens", 1))]
    for name, value in options.items():
        if name not in _OPTIONS:
            raise LoupeError(f"corpus: unknown option '{name}' (known: {', '.join(sorted(_OPTIONS))})")
        option, kind = _OPTIONS[name]
        if kind is bool:
            if arguments.flag(value, name):
                chosen.append(option)
        elif kind is int:
            chosen += [option, str(arguments.integer(value, name))]
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise LoupeError(f"{name}: expected a number, got {type(value).__name__}")
            chosen += [option, repr(float(value))]
        elif kind == "path":
            chosen += [option, arguments.path(value, name)]
        else:
            if not isinstance(value, str):
                raise LoupeError(f"{name}: expected a str, got {type(value).__name__}")
            chosen += [option, value]
    return chosen


def _sources(paths_or_texts, folder):
    """The files to read: os.PathLike items are corpus files, str items the
    texts of documents (written as JSONL, one document each, into folder)."""
    items = [paths_or_texts] if isinstance(paths_or_texts, (str, os.PathLike)) else paths_or_texts
    try:
        items = list(items)
    except TypeError:
        raise LoupeError("paths_or_texts: expected texts (str), files (pathlib.Path) or a list of them, "
                         f"got {type(paths_or_texts).__name__}") from None
    if not items:
        raise LoupeError("paths_or_texts: no corpus given")
    files, texts = [], []
    for item in items:
        if isinstance(item, os.PathLike):
            files.append(os.fsdecode(os.fspath(item)))
        elif isinstance(item, str):
            texts.append(item)
        else:
            raise LoupeError(f"paths_or_texts: expected a text (str) or a file (pathlib.Path), "
                             f"got {type(item).__name__}")
    texts_file = None
    if texts:
        texts_file = os.path.join(folder, "texts.jsonl")
        with open(texts_file, "w", encoding="utf-8", errors="surrogatepass") as file:
            for text in texts:
                file.write(json.dumps({"text": text}) + "\n")
        files.append(texts_file)
    return files, texts_file


class _Progress:
    """The command's progress line, shown with tqdm where installed, else
    as a plain line on stderr."""

    def __init__(self, enabled):
        self.bar = None
        self.enabled = enabled
        self.done = 0
        if enabled:
            try:
                with warnings.catch_warnings():  # tqdm.auto warns when a notebook lacks ipywidgets
                    warnings.simplefilter("ignore")
                    from tqdm.auto import tqdm
                self.bar = tqdm(total=100, unit="%", desc="loupe corpus")
            except ImportError:
                pass

    def update(self, line):
        if not self.enabled:
            return
        if self.bar is not None:
            match = _PERCENT.search(line)
            if match:
                percent = int(match.group(1))
                self.bar.update(max(0, percent - self.done))
                self.done = max(self.done, percent)
                self.bar.set_postfix_str(line[match.end():].strip(), refresh=False)
        else:
            sys.stderr.write("\r" + line)
            sys.stderr.flush()

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            sys.stderr.write("\n")


def _read_stderr(stream, progress, messages):
    """Splits the command's stderr into progress lines (drawn) and messages."""
    pending = ""
    while True:
        chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
        if not chunk:
            break
        pending += chunk.decode("utf-8", "replace")
        parts = re.split(r"[\r\n]", pending)
        pending = parts.pop()
        for part in parts:
            part = part.replace("\033[K", "").strip()
            if part.startswith("["):
                progress.update(part)
            elif part:
                messages.append(part)
    pending = pending.replace("\033[K", "").strip()
    if pending:
        messages.append(pending)


def run(model, paths_or_texts, counts=None, max_tokens=None, progress=True, **options):
    """Runs `loupe corpus --format json` with model's folder on the files
    and texts given; returns the loupe.corpus/1 document as a dict. Options
    take the command's names (stride, min_context, subblocks, separator,
    jsonl, plain, strict, exact_limit, sketch_error, reservoir, seed, plot).
    Ctrl-C (KeyboardInterrupt) stops the run between windows and returns
    the aggregate so far, its "partial" true."""
    chosen = _command_options(counts, max_tokens, options)
    progress = arguments.flag(progress, "progress")
    with tempfile.TemporaryDirectory(prefix="loupe-corpus-") as folder:
        files, texts_file = _sources(paths_or_texts, folder)
        command = [executable(), "corpus", "--model", model.directory, "--format", "json",
                   "--progress", "always" if progress else "never", *chosen, "--", *files]
        # its own session: Ctrl-C reaches this process, which stops the command once, cleanly
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        bar = _Progress(progress)
        messages, output = [], []
        readers = [threading.Thread(target=_read_stderr, args=(process.stderr, bar, messages), daemon=True),
                   threading.Thread(target=lambda: output.append(process.stdout.read()), daemon=True)]
        for reader in readers:
            reader.start()
        interrupted = False
        while True:
            try:
                process.wait()
                break
            except KeyboardInterrupt:
                if not interrupted:
                    interrupted = True
                    process.send_signal(signal.SIGINT)
        for reader in readers:
            reader.join()
        bar.close()
    text = output[0] if output else b""
    if process.returncode not in (0, 130) or not text.strip():
        errors = [m for m in messages if m.startswith("loupe: ")] or messages
        raise LoupeError(errors[0].removeprefix("loupe: ") if errors else
                         f"loupe corpus failed with status {process.returncode}")
    document = json.loads(text)
    if texts_file is not None:
        document["corpus"]["files"] = [TEXTS_NAME if f == texts_file else f for f in document["corpus"]["files"]]
    return document
