#!/usr/bin/python3
"""The Python package against the command and the PyTorch baseline, in
interleaved rounds: `loupe lens --format json` (a process: load, tokenize,
lens, JSON) against the same work in one Python process (loupe.Model, m.lens,
r.to_json), and m.lens alone, its copy into numpy (LensResult from the
result the library returned) and bench/lens_torch.py's lens on the same ids
in the same process.

usage: OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/lens_python.py MODEL_DIR TEXT_FILE [--rounds N]
Prints one line per round and the medians; bench/lens_python.sh makes the
GPT-2-small-shaped checkpoint and the 512-token text.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
sys.path.insert(0, HERE)

import torch  # noqa: E402

import lens_torch  # noqa: E402
import loupe  # noqa: E402
from loupe import _library  # noqa: E402
from loupe.lens_result import LensResult  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("text")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch's threads (default: every CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open(args.text, encoding="utf-8") as f:
        text = f.read()
    command = os.path.join(os.path.dirname(_library.LIBRARY_PATH), "loupe")
    with open(os.path.join(args.model, "config.json")) as f:
        config = json.load(f)
    weights = lens_torch.load_safetensors(os.path.join(args.model, "model.safetensors"))
    ffi, lib = _library.ffi, _library.lib
    timings = {"cli_json": [], "python_json": [], "python_lens": [], "library_lens": [], "numpy_copy": [],
               "torch_lens": []}
    n_tokens = None
    for round_index in range(args.rounds):
        start = time.perf_counter()
        subprocess.run([command, "lens", "--model", args.model, "--format", "json", "--file", args.text],
                       stdout=subprocess.DEVNULL, check=True)
        timings["cli_json"].append(time.perf_counter() - start)

        start = time.perf_counter()
        model = loupe.Model(args.model)
        document = model.lens(text).to_json()
        timings["python_json"].append(time.perf_counter() - start)
        assert document.startswith('{"schema": "loupe.lens/1"')

        start = time.perf_counter()
        result = model.lens(text)
        timings["python_lens"].append(time.perf_counter() - start)
        n_tokens = len(result.ids)

        # the library's own call on the same ids, and the copy of its result into numpy
        ids = model._ids(text, False, False)
        out = ffi.new("loupe_lens_result **")
        error = _library.new_error()
        start = time.perf_counter()
        _library.check(lib.loupe_lens_run(model._model, ffi.from_buffer("int32_t[]", ids), ids.size, ffi.NULL, out,
                                          error), error)
        timings["library_lens"].append(time.perf_counter() - start)
        handle = ffi.gc(out[0], lib.loupe_lens_free)
        start = time.perf_counter()
        LensResult._from_run(model, handle, (0, lib.loupe_lens_n_rows(handle)), (0, ids.size))
        timings["numpy_copy"].append(time.perf_counter() - start)

        start = time.perf_counter()
        lens_torch.lens(weights, config, torch.tensor(ids.tolist(), dtype=torch.long), 5)
        timings["torch_lens"].append(time.perf_counter() - start)
        print(f"round {round_index + 1}: " + "  ".join(f"{k} {v[-1]:.3f} s" for k, v in timings.items()), flush=True)
    medians = {k: statistics.median(v) for k, v in timings.items()}
    print(json.dumps({"tokens": n_tokens, "rounds": args.rounds, "load_average": os.getloadavg(),
                      "torch_threads": torch.get_num_threads(),
                      "median_s": medians,
                      "python_json_over_cli_json": medians["python_json"] / medians["cli_json"],
                      "python_lens_over_library_lens": medians["python_lens"] / medians["library_lens"],
                      "torch_lens_over_python_lens": medians["torch_lens"] / medians["python_lens"]}))


if __name__ == "__main__":
    main()
