#!/usr/bin/env bash
# loupe lens --contributions on the tiny GPT-2 fixtures (GELU and ReLU),
# against an independent PyTorch GPT-2 written here from transformers'
# modeling_gpt2.py: each block's attention and MLP outputs, read through
# ln_f and the unembedding (the rows hN.attn_out and hN.mlp_out: their
# top-5, the next token's probability and rank), and their direct logit
# attribution as TransformerLens's apply_ln computes it (each component
# centred, divided by ln_f's scale of the final residual); the sum of the
# attributions; the residual rows unchanged. Skipped (77) without PyTorch.
set -euo pipefail
LOUPE=${1:?usage: lens_contributions.sh path/to/loupe}
data=$(cd "$(dirname "$0")/../data" && pwd)
models=$(cd "$(dirname "$0")/../../models" && pwd)
python=
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import torch' 2>/dev/null; then python=$candidate; break; fi
done
[ -n "$python" ] || { echo "PyTorch is not installed: skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PYTHONPATH="$data"
"$python" - "$LOUPE" "$data" "$models" "$work" <<'PY'
import json
import math
import os
import shutil
import struct
import subprocess
import sys

import torch
from lens_reference import check, lens_documents_agree

loupe, data, models, work = sys.argv[1:]
torch.set_grad_enabled(False)

def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = {"F32": torch.float32, "I32": torch.int32}[info["dtype"]]
        out[name] = torch.frombuffer(bytearray(raw[8 + n + begin:8 + n + end]), dtype=dtype).reshape(info["shape"])
    return out

def gpt2(folder, ids):
    """hidden (L+1 raw residuals) and components [embedding, attn_1, mlp_1, ...], each (T, C)."""
    cfg = json.load(open(os.path.join(folder, "config.json")))
    w = read_safetensors(os.path.join(folder, "model.safetensors"))
    C, H, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    T, D = len(ids), cfg["n_embd"] // cfg["n_head"]
    act = {"gelu_new": lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
           "relu": torch.relu}[cfg["activation_function"]]
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (C,), w[p + ".weight"], w[p + ".bias"], eps)
    conv = lambda x, p: x @ w[p + ".weight"] + w[p + ".bias"]  # Conv1D: weight (in, out)
    mask = torch.full((T, T), float("-inf")).triu(1)
    h = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][:T]
    components = [h]
    for n in range(cfg["n_layer"]):
        p = "transformer.h.%d." % n
        q, k, v = conv(ln(h, p + "ln_1"), p + "attn.c_attn").split(C, dim=-1)
        q, k, v = (x.view(T, H, D).transpose(0, 1) for x in (q, k, v))
        heads = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(D) + mask, dim=-1) @ v
        a = conv(heads.transpose(0, 1).reshape(T, C), p + "attn.c_proj")
        h = h + a
        m = conv(act(conv(ln(h, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj")
        h = h + m
        components += [a, m]
    return h, components, w, ln

def lens_json(folder, ids, *args):
    out = subprocess.run([loupe, "lens", "--model", folder, "--ids", ",".join(map(str, ids)), "--format", "json",
                          *args], capture_output=True, check=True).stdout
    return json.loads(out)

# The residual rows: the plain run's bits with the avx512 projection,
# within float32 rounding below it (lens_reference.lens_documents_agree).
compared = 0
for fixture in ("gpt2-tiny-gelu", "gpt2-tiny-relu"):
    folder = os.path.join(work, fixture)
    os.mkdir(folder)
    for name in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(data, fixture, name), folder)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(models, "gpt2-demo", name), folder)
    ids = read_safetensors(os.path.join(data, fixture, "reference.safetensors"))["input_ids"].tolist()
    T = len(ids)
    final, components, w, ln = gpt2(folder, ids)
    L = (len(components) - 1) // 2
    wte = w["transformer.wte.weight"]
    lens = lens_json(folder, ids, "--contributions")
    plain = lens_json(folder, ids)
    check(lens["options"]["contributions"] is True and "contributions" not in plain["options"], "options")
    expected_layers = ["input"] + [name for n in range(1, L + 1) for name in ("h%d.attn_out" % n, "h%d.mlp_out" % n, "h%d" % n)]
    check(lens["layers"] == expected_layers, "layers %r" % lens["layers"])
    for i, name in enumerate(plain["layers"]):
        without = [{k: v for k, v in cell.items() if k != "attribution"} for cell in lens["cells"][lens["layers"].index(name)]]
        check(lens_documents_agree(without, plain["cells"][i]), "row %s changed by --contributions" % name)
    # the rows of the sub-block outputs: the model's head on each output alone
    final_top = (ln(final, "transformer.ln_f") @ wte.T).argmax(-1)
    x = final.double()
    scale = (x.var(-1, unbiased=False, keepdim=True) + 1e-5).sqrt()
    gamma = w["transformer.ln_f.weight"].double()
    totals = torch.zeros(T, 2, dtype=torch.float64)
    for c, d in enumerate(components):
        row = 0 if c == 0 else 3 * ((c + 1) // 2) - 2 + (c + 1) % 2
        name = lens["layers"][row]
        probs = torch.softmax((ln(d, "transformer.ln_f") @ wte.T).double(), dim=-1)
        # apply_ln: centre the component, divide by the final residual's scale
        per_token = ((d.double() - d.double().mean(-1, keepdim=True)) / scale * gamma) @ wte.double().T
        for t in range(T):
            cell = lens["cells"][row][t]
            top = torch.topk(probs[t], 5)
            if c > 0:
                check([i for i, _ in cell["top"]] == top.indices.tolist(), "%s %s t=%d: top %r vs %r" % (fixture, name, t, cell["top"], top.indices.tolist()))
                for (_, got), want in zip(cell["top"], top.values.tolist()):
                    check(abs(got - want) <= 1e-4 * (1 + want), "%s %s t=%d: top prob %g vs %g" % (fixture, name, t, got, want))
                if t + 1 < T:
                    want = probs[t, ids[t + 1]].item()
                    check(abs(cell["target"]["prob"] - want) <= 1e-4 * (1 + want), "%s %s t=%d target prob" % (fixture, name, t))
            targets = [(0, ids[t + 1])] if t + 1 < T else []
            for k, token in targets + [(1, final_top[t].item())]:
                key = "target" if k == 0 else "final_top"
                want = per_token[t, token].item()
                got = cell["attribution"][key]
                check(abs(got - want) <= 1e-4 * (1 + abs(want)), "%s %s t=%d: attribution.%s %r vs %r" % (fixture, name, t, key, got, want))
                totals[t, k] += got
                compared += 1
            check(t + 1 < T or "target" not in cell["attribution"], "attribution.target at the last position")
    # the attributions add up to the final logit less ln_f's bias term
    beta = w["transformer.ln_f.bias"].double()
    for t in range(T):
        for k, token in ([(0, ids[t + 1])] if t + 1 < T else []) + [(1, final_top[t].item())]:
            key = "target" if k == 0 else "final_top"
            logit = lens["cells"][-1][t][key]["logit"]
            bias_term = (wte[token].double() @ beta).item()
            check(abs(totals[t, k].item() - (logit - bias_term)) <= 1e-4 * (1 + abs(logit)),
                  "%s t=%d: attributions sum to %r, final logit less bias %r" % (fixture, t, totals[t, k].item(), logit - bias_term))
    for row, name in enumerate(lens["layers"]):
        check(("attribution" in lens["cells"][row][0]) == (name == "input" or name.endswith("_out")), "attribution in row %s" % name)
print("lens --contributions: %d attributions and the sub-block rows agree with PyTorch" % compared)
PY
