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
import math
from lens_reference import check, run, run_json, target_cross_entropy

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

# --compare-lenses in loupe corpus: the two reports are those of the two separate runs, and the table shows
# their numbers side by side with tuned - logit
compare = run_json(loupe, "corpus", "--format", "json", "--tuned", tuned, "--compare-lenses", corpus)
tuned_corpus = run_json(loupe, "corpus", "--format", "json", "--tuned", tuned, corpus)
check(compare["schema"] == "loupe.corpus_compare/1" and compare["partial"] is False, "compare schema")
for document in (compare["logit"], compare["tuned"], tuned_corpus):
    document["corpus"].pop("seconds")
check(compare["logit"] == logit_corpus, "the compared logit lens differs from loupe corpus")
check(compare["tuned"] == tuned_corpus, "the compared tuned lens differs from loupe corpus --tuned")
table, _, _ = run(loupe, "corpus", "--tuned", tuned, "--compare-lenses", corpus)
rows = {}
for line in table.splitlines():
    fields = line.split("|")
    if len(fields) == 6 and fields[0].strip() in tuned_corpus["layers"]:
        rows[fields[0].strip()] = [[float(x) for x in f.split()] for f in fields[1:3]]
check(sorted(rows) == sorted(tuned_corpus["layers"]), "compare table rows %r" % sorted(rows))
def near(printed, value):  # 4 significant digits
    return abs(printed - value) <= 5e-4 * abs(value) + 1e-12
for row, name in enumerate(tuned_corpus["layers"]):
    (ce_a, ce_b, ce_d), (bpb_a, bpb_b, bpb_d) = rows[name]
    a, b = logit_corpus["metrics"]["ce"][row]["mean"], tuned_corpus["metrics"]["ce"][row]["mean"]
    check(near(ce_a, a) and near(ce_b, b) and near(ce_d, b - a), "compare table CE row %s: %r" % (name, rows[name][0]))
    a, b = logit_corpus["ce_bits_per_byte"][row], tuned_corpus["ce_bits_per_byte"][row]
    check(near(bpb_a, a) and near(bpb_b, b) and near(bpb_d, b - a), "compare table bits/byte row %s" % name)
check(rows["h%d" % L][0][2] == 0, "the model's output differs between the lenses")
check(any(rows["h%d" % i][0][2] != 0 for i in range(1, L)), "a random lens changes no layer's CE")

# --compare-lenses in loupe lens: per layer, each lens's mean CE and KL(final || layer) and top-1 agreement,
# computed here from the two lenses' own JSON documents
compare = run_json(loupe, "lens", "--format", "json", "--tuned", tuned, "--compare-lenses", text)
check(compare["schema"] == "loupe.lens_compare/1" and compare["tuned_directory"] == tuned, "lens compare schema")
check(compare["logit"] == logit_json and compare["tuned"] == tuned_json, "the compared lenses differ from loupe lens")
T = len(logit_json["tokens"])
for row, entry in enumerate(compare["per_layer"]):
    check(entry["layer"] == logit_json["layers"][row] and entry["scored"] == T - 1, "per_layer %d" % row)
    for key, lens in (("logit", logit_json), ("tuned", tuned_json)):
        cells = lens["cells"][row][:T - 1]
        ce = sum(target_cross_entropy(c) for c in cells) / (T - 1)
        kl = sum(c["kl_final"] for c in cells) / (T - 1)
        hit = sum(c["top"][0][0] == c["target"]["id"] for c in cells) / (T - 1)
        check(math.isclose(entry["ce"][key], ce, rel_tol=1e-5), "lens compare %s CE row %d: %r vs %r" % (key, row, entry["ce"][key], ce))
        check(math.isclose(entry["kl_final"][key], kl, rel_tol=1e-6, abs_tol=1e-7), "lens compare %s KL row %d" % (key, row))
        check(math.isclose(entry["top1_is_target"][key], hit), "lens compare %s top1 row %d" % (key, row))
        last = lens["cells"][row][T - 1]["top"][0]
        check(entry["next"][key]["id"] == last[0] and math.isclose(entry["next"][key]["prob"], last[1], rel_tol=1e-7),
              "lens compare %s next row %d" % (key, row))
    agree = sum(a["top"][0][0] == b["top"][0][0]
                for a, b in zip(logit_json["cells"][row][:T - 1], tuned_json["cells"][row][:T - 1])) / (T - 1)
    check(math.isclose(entry["top1_agree"], agree), "lens compare agreement row %d" % row)
table, _, _ = run(loupe, "lens", "--tuned", tuned, "--compare-lenses", text)
check(table.startswith("the logit lens beside the tuned lens of %s" % tuned), "lens compare table title")
check(len([l for l in table.splitlines() if l.split("|")[0].strip() in logit_json["layers"]]) == L + 1,
      "lens compare table rows")
print("tuned lens CLI: ok")
PY
