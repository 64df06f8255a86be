#!/usr/bin/env bash
# loupe lens --tuned and loupe corpus --tuned on the embedded model, with
# lens folders written here in tuned-lens's layout (config.json and
# params.safetensors): an all-zero lens must give the logit lens exactly
# (the translator adds h 0 + 0), a random one must change every row but the
# model's output, and the outputs must say which lens they show. The
# numbers of the tuned lens against PyTorch are tests/test_tuned_lens.c's.
set -euo pipefail
LOUPE=${1:?usage: tuned_lens.sh path/to/loupe}
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$here/../data"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$LOUPE" "$work" "$here/../data/corpus_small.txt" <<'PY'
import json
import os
import random
import struct
import sys
from lens_reference import check, run, run_json

loupe, work, corpus = sys.argv[1:4]
info = run_json(loupe, "info", "--json")
C, L = info["n_embd"], info["n_layer"]


def write_lens(folder, scale):
    """A lens for the embedded model: A_i, b_i uniform in +-scale (0: the logit lens)."""
    os.makedirs(folder)
    rng = random.Random(14)
    header, blobs, offset = {}, [], 0
    for i in range(L):
        for name, shape in (("%d.weight" % i, [C, C]), ("%d.bias" % i, [C])):
            n = C * C if len(shape) == 2 else C
            blob = struct.pack("<%df" % n, *[rng.uniform(-scale, scale) for _ in range(n)])
            header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
            blobs.append(blob)
            offset += len(blob)
    text = json.dumps(header).encode()
    with open(os.path.join(folder, "params.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"base_model_name_or_path": "gpt2-demo", "d_model": C, "num_hidden_layers": L, "bias": True,
                   "base_model_revision": None, "unembed_hash": None, "lens_type": "linear_tuned_lens"}, f)
    return folder


zero = write_lens(os.path.join(work, "zero"), 0.0)
tuned = write_lens(os.path.join(work, "random"), 0.05)
text = "In the beginning God created the heaven and the earth."

logit_json = run_json(loupe, "lens", "--format", "json", text)
zero_json = run_json(loupe, "lens", "--format", "json", "--tuned", zero, text)
tuned_json = run_json(loupe, "lens", "--format", "json", "--tuned", tuned, text)
check("lens" not in logit_json, "the logit lens's JSON has a lens field")
check(zero_json.pop("lens") == {"kind": "tuned", "directory": zero}, "the tuned lens's JSON does not name it")
check(zero_json == logit_json, "an all-zero tuned lens is not the logit lens")
check(tuned_json["lens"]["kind"] == "tuned", "lens.kind")
for row in range(L):
    changed = sum(a["top"] != b["top"] for a, b in zip(logit_json["cells"][row], tuned_json["cells"][row]))
    check(changed > 0, "row %d is the logit lens's under a random lens" % row)
for a, b in zip(logit_json["cells"][L], tuned_json["cells"][L]):  # its KLs to the input row do change
    check(all(a[k] == b[k] for k in ("top", "target", "entropy", "kl_final") if k in a),
          "the output row changed: it has no translator")

table, _, _ = run(loupe, "lens", "--color", "never", "--tuned", tuned, text)
check("  lens:   the tuned lens of %s: every row but the last through its translator" % tuned in table.splitlines(),
      "the legend does not say which lens")

logit_corpus = run_json(loupe, "corpus", "--format", "json", corpus)
zero_corpus = run_json(loupe, "corpus", "--format", "json", "--tuned", zero, corpus)
check(zero_corpus.pop("lens") == {"kind": "tuned", "directory": zero}, "corpus JSON does not name the lens")
for document in (logit_corpus, zero_corpus):
    document["corpus"].pop("seconds")
check(zero_corpus == logit_corpus, "corpus statistics of an all-zero tuned lens differ from the logit lens's")
corpus_table, _, _ = run(loupe, "corpus", "--tuned", tuned, corpus)
check("lens: the tuned lens of %s" % tuned in corpus_table.splitlines(), "the corpus table does not say which lens")
print("tuned lens CLI: ok")
PY
