#!/usr/bin/env bash
# loupe lens --export: the safetensors file, read back with loupe's own reader
# (tools/safetensors_dump, built beside loupe), against the JSON document of
# the same run (every per-cell field, the top list, the tracked tokens and the
# tokens, value for value, over a window); on the tiny GPT-2 fixture the taps
# against transformers' hidden states and the log-probabilities against the
# log-softmax of transformers' lens logits (tests/data/*/reference.safetensors);
# the header's metadata; the options refused.
set -euo pipefail
LOUPE=${1:?usage: lens_export.sh path/to/loupe}
DUMP=$(dirname "$LOUPE")/safetensors_dump
data=$(cd "$(dirname "$0")/../data" && pwd)
models=$(cd "$(dirname "$0")/../../models" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PYTHONPATH="$data"
python3 - "$LOUPE" "$DUMP" "$data" "$models" "$work" <<'PY'
import json
import math
import os
import shutil
import struct
import subprocess
import sys
from lens_reference import check, run

loupe, dump, data, models, work = sys.argv[1:]

def read(path):
    out = subprocess.run([dump, path], capture_output=True, check=True).stdout
    return {name: t for name, t in json.loads(out).items()}

def header(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    check(n % 8 == 0 and 8 + n <= len(raw), "header length %d" % n)
    return json.loads(raw[8:8 + n])

def reshape(t):
    flat, shape = t["data"], t["shape"]
    def build(offset, dims):
        if not dims:
            return flat[offset]
        step = 1
        for d in dims[1:]:
            step *= d
        return [build(offset + i * step, dims[1:]) for i in range(dims[0])]
    return build(0, shape)

# 1. the demo model: a window of rows and positions, tracked tokens, top-7, contributions
text = "And God said, Let there be light"
path = os.path.join(work, "lens.safetensors")
args = ["--topk", "7", "--layers", "1:", "--positions", "2:", "--track", " the", "--track", "13", "--contributions"]
out, _, _ = run(loupe, "lens", "--format", "json", "--export", path, *args, text)
lens = json.loads(out)
tensors = read(path)
meta = header(path)["__metadata__"]
check(meta["schema"] == "loupe.lens-export/1" and json.loads(meta["layers"]) == lens["layers"], "metadata %r" % meta)
check(json.loads(meta["rows"]) == lens["rows"] and json.loads(meta["positions"]) == lens["positions"], "windows")
R, P = len(lens["layers"]), len(lens["tokens"])
check(tensors["tokens"]["data"] == [t["id"] for t in lens["tokens"]], "tokens")
check(tensors["track"]["data"] == lens["options"]["track"], "track")
fields = {name: reshape(t) for name, t in tensors.items()}
compared = 0
for i in range(R):
    for j in range(P):
        cell = lens["cells"][i][j]
        for token in ("target", "input", "final_top"):
            for field in ("id", "prob", "logit", "rank"):
                got = fields[token + "_" + field][i][j]
                if token not in cell:  # the last position has no next token
                    check(got == {"id": -1, "prob": None, "logit": None, "rank": 0}[field], "absent %s_%s" % (token, field))
                else:
                    check(got == cell[token][field], "%s_%s[%d][%d]: %r vs %r" % (token, field, i, j, got, cell[token][field]))
                    compared += 1
        for name in ("entropy", "kl_final", "kl_final_rev", "kl_first", "kl_first_rev"):
            check(fields[name][i][j] == cell[name], "%s[%d][%d]" % (name, i, j))
        check([[a, b] for a, b in zip(fields["top_ids"][i][j], fields["top_probs"][i][j])] == cell["top"], "top[%d][%d]" % (i, j))
        for key in ("target", "final_top"):
            got = fields["attribution_" + key][i][j]
            want = cell.get("attribution", {}).get(key)
            check(got == want, "attribution_%s[%d][%d]: %r vs %r" % (key, i, j, got, want))
        for k, token in enumerate(cell["tracked"]):
            for field in ("prob", "logit", "rank"):
                check(fields["tracked_" + field][i][j][k] == token[field], "tracked_%s[%d][%d][%d]" % (field, i, j, k))
check(compared > 3 * R * (P - 1) * 3, "too few values compared")
check(tensors["target_prob"]["shape"] == [R, P] and tensors["top_ids"]["shape"] == [R, P, 7] and
      tensors["tracked_rank"]["shape"] == [R, P, 2], "shapes")
check("taps" not in tensors and "logprobs" not in tensors, "taps or logprobs without asking")

# 2. the tiny fixture: taps and log-probabilities against transformers
tiny = os.path.join(work, "tiny")
os.mkdir(tiny)
for name in ("config.json", "model.safetensors"):
    shutil.copy(os.path.join(data, "gpt2-tiny-gelu", name), tiny)
for name in ("vocab.json", "merges.txt"):
    shutil.copy(os.path.join(models, "gpt2-demo", name), tiny)
reference = read(os.path.join(data, "gpt2-tiny-gelu", "reference.safetensors"))
ids = reference["input_ids"]["data"]
T, V = len(ids), reference["lens_logits"]["shape"][2]
L = reference["lens_logits"]["shape"][0] - 1
path = os.path.join(work, "tiny.safetensors")
out, _, _ = run(loupe, "lens", "--model", tiny, "--ids", ",".join(map(str, ids)), "--format", "json",
                "--export", path, "--export-taps", "--export-logprobs", "-2:")
lens = json.loads(out)
tensors = read(path)
C = tensors["taps"]["shape"][2]
check(tensors["taps"]["shape"] == [L + 1, T, C], "taps shape %r" % tensors["taps"]["shape"])
weights = read(os.path.join(tiny, "model.safetensors"))
gamma, beta = weights["transformer.ln_f.weight"]["data"], weights["transformer.ln_f.bias"]["data"]
eps = json.load(open(os.path.join(tiny, "config.json"))).get("layer_norm_epsilon", 1e-5)

def layer_norm(x):
    mean = sum(x) / len(x)
    var = sum((v - mean) ** 2 for v in x) / len(x)
    return [(v - mean) / math.sqrt(var + eps) * g + b for v, g, b in zip(x, gamma, beta)]

worst = 0.0
for row in range(L + 1):
    expected = reference["hidden.%d" % row]["data"]
    got = tensors["taps"]["data"][row * T * C:(row + 1) * T * C]
    if row == L:  # transformers stores the last hidden state after ln_f; the tap is the raw residual
        got = [v for t in range(T) for v in layer_norm(got[t * C:(t + 1) * C])]
    worst = max(worst, max(abs(a - b) for a, b in zip(got, expected)))
check(worst < 1e-4, "taps differ from transformers' hidden states by %g" % worst)
check(tensors["logprob_rows"]["data"] == [L - 1, L], "logprob_rows %r" % tensors["logprob_rows"]["data"])
check(tensors["logprobs"]["shape"] == [2, T, V], "logprobs shape")
worst_lp = 0.0
logits = reference["lens_logits"]["data"]
for s, row in enumerate((L - 1, L)):
    for t in range(T):
        row_logits = logits[(row * T + t) * V:(row * T + t + 1) * V]
        m = max(row_logits)
        lse = m + math.log(sum(math.exp(x - m) for x in row_logits))
        got = tensors["logprobs"]["data"][(s * T + t) * V:(s * T + t + 1) * V]
        worst_lp = max(worst_lp, max(abs(a - (x - lse)) for a, x in zip(got, row_logits)))
        cell = lens["cells"][row][t]
        for token_id, prob in cell["top"]:
            check(abs(math.exp(got[token_id]) - prob) <= 1e-5 * (1 + prob), "top prob vs logprobs at %d %d" % (row, t))
check(worst_lp < 1e-4, "logprobs differ from log_softmax(transformers' lens logits) by %g" % worst_lp)

# 3. refused
for args, status, message in [
        (["--export-taps"], 2, "--export-taps needs --export FILE.safetensors"),
        (["--export", os.path.join(work, "x.npy")], 2, "must end in .safetensors"),
        (["--export", os.path.join(work, "no", "x.safetensors")], 1, "cannot create the file"),
        (["--export", path, "--export-logprobs", "9:"], 2, "--export-logprobs: the slice selects nothing")]:
    _, err, got = run(loupe, "lens", *args, text, expect=None)
    check(got == status and message in err, "%s: status %d, stderr %s" % (args, got, err))
print("lens --export: %d values against the JSON; taps within %.2g, logprobs within %.2g of transformers"
      % (compared, worst, worst_lp))
PY
