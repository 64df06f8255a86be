#!/usr/bin/python3
"""The gradient of `loupe finetune`'s loss on a GPT-2 model, by PyTorch
autograd in float64, against what loupe computes (tools/model_gradient_dump).

The model is written here from transformers' GPT-2 modeling definition
(GPT2Model / GPT2Block / GPT2Attention / GPT2MLP, Conv1D weights [in, out],
evaluation mode): embeddings wte[id] + wpe[position]; per block
h = h + c_proj(attn(ln_1(h))), h = h + mlp(ln_2(h)); attention scores q k^T
divided by sqrt(D) when scale_attn_weights and by layer_idx + 1 when
scale_attn_by_inverse_layer_idx, causal softmax; the MLP act(c_fc) then
c_proj. The loss: CE(ln_f(h_L) wte^T) + lambda * mean over S of
CE(ln_f(h_l) wte^T), each CE the mean over positions, h_l the residual after
block l (h_0 the embeddings). It shares no code with loupe.

usage: gpt2_gradient_check.py DUMP_TOOL MODEL_DIR LAMBDA ROWS B T SEED

ROWS "all" or a comma list. Prints per tensor the max relative difference
over entries with |ref| >= 1e-3 max|ref| of that tensor and the max absolute
difference over the rest; exits 1 when a relative difference exceeds 1e-4
or a loss differs by more than 1e-5 relative, 77 (a skip) without torch.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError:
    print("numpy or torch missing: skipped")
    sys.exit(77)

RELATIVE_TOLERANCE = 1e-4
LOSS_TOLERANCE = 1e-5
TINY_FRACTION = 1e-3


def read_safetensors(path):
    """{name: float64 numpy array} of the float tensors, and the metadata."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    kinds = {"F32": np.float32, "F16": np.float16, "F64": np.float64}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[base + begin:base + end]
        if info["dtype"] == "BF16":
            halves = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            values = halves.view(np.float32)
        elif info["dtype"] in kinds:
            values = np.frombuffer(raw, dtype=np.dtype(kinds[info["dtype"]]).newbyteorder("<"))
        else:
            continue
        out[name] = values.astype(np.float64).reshape(info["shape"])
    return out, header.get("__metadata__", {})


def load_model(model_dir):
    config = json.load(open(os.path.join(model_dir, "config.json")))
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(single):
        files = [single]
    else:
        index = json.load(open(os.path.join(model_dir, "model.safetensors.index.json")))
        files = sorted({os.path.join(model_dir, v) for v in index["weight_map"].values()})
    tensors = {}
    for path in files:
        tensors.update(read_safetensors(path)[0])
    return config, tensors


def activation(name, x):
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name == "relu":
        return torch.relu(x)
    raise ValueError(name)


def loss_of(config, p, ids, lam, rows):
    """p: {short name: leaf tensor}; ids (B, T+1) long. Returns (loss, final, lens, row CEs)."""
    C, H, L = config["n_embd"], config["n_head"], config["n_layer"]
    D = C // H
    eps = config.get("layer_norm_epsilon", 1e-5)
    act = config.get("activation_function", "gelu_new")
    inputs, targets = ids[:, :-1], ids[:, 1:]
    B, T = inputs.shape
    wte = p["wte.weight"]
    unembedding = wte if config.get("tie_word_embeddings", True) else p["lm_head.weight"]
    h = wte[inputs] + p["wpe.weight"][torch.arange(T)]
    hidden = [h]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    ln = lambda x, prefix: torch.nn.functional.layer_norm(x, (C,), p[prefix + ".weight"], p[prefix + ".bias"], eps)
    for layer in range(L):
        g = lambda name: p["h.%d.%s" % (layer, name)]
        qkv = ln(h, "h.%d.ln_1" % layer) @ g("attn.c_attn.weight") + g("attn.c_attn.bias")
        q, k, v = qkv.split(C, dim=-1)
        split = lambda x: x.view(B, T, H, D).transpose(1, 2)
        q, k, v = split(q), split(k), split(v)
        scores = q @ k.transpose(-1, -2)
        if config.get("scale_attn_weights", True):
            scores = scores / (D ** 0.5)
        if config.get("scale_attn_by_inverse_layer_idx", False):
            scores = scores / float(layer + 1)
        scores = scores.masked_fill(~mask, float("-inf"))
        attended = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, C)
        h = h + attended @ g("attn.c_proj.weight") + g("attn.c_proj.bias")
        m = activation(act, ln(h, "h.%d.ln_2" % layer) @ g("mlp.c_fc.weight") + g("mlp.c_fc.bias"))
        h = h + m @ g("mlp.c_proj.weight") + g("mlp.c_proj.bias")
        hidden.append(h)

    def ce(row):
        logits = ln(row, "ln_f") @ unembedding.T
        return torch.nn.functional.cross_entropy(logits.reshape(B * T, -1), targets.reshape(-1))

    final = ce(hidden[L])
    row_ce = [None] * (L + 1)
    row_ce[L] = final.item()
    lens = torch.zeros((), dtype=torch.float64)
    selected = [l for l in range(L) if rows is None or l in rows]
    if lam > 0 and selected:
        parts = []
        for l in selected:
            part = ce(hidden[l])
            row_ce[l] = part.item()
            parts.append(part)
        lens = sum(parts) / len(parts)
    return final + lam * lens, final, lens, row_ce


def main():
    tool, model_dir, lam, rows_text, B, T, seed = sys.argv[1:8]
    lam, B, T, seed = float(lam), int(B), int(T), int(seed)
    rows = None if rows_text == "all" else {int(r) for r in rows_text.split(",")}
    config, tensors = load_model(model_dir)
    rng = np.random.RandomState(seed)
    ids = rng.randint(0, config["vocab_size"], size=(B, T + 1))
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "gradient.safetensors")
        subprocess.run([tool, model_dir, out, repr(lam), rows_text, str(B), str(T)] + [str(i) for i in ids.reshape(-1)],
                       check=True)
        loupe, metadata = read_safetensors(out)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    short = {name: name[len("transformer."):] if name.startswith("transformer.") else name for name in tensors}
    p = {short[name]: torch.tensor(value, dtype=torch.float64, requires_grad=True) for name, value in tensors.items()}
    loss, final, lens, row_ce = loss_of(config, p, torch.tensor(ids, dtype=torch.long), lam, rows)
    loss.backward()

    failures = 0
    for label, ours, theirs in (("loss", float(metadata["loss"]), loss.item()),
                                ("final_ce", float(metadata["final_ce"]), final.item()),
                                ("lens_ce", float(metadata["lens_ce"]), lens.item())):
        difference = abs(ours - theirs) / max(abs(theirs), 1e-12)
        print("%-10s loupe %.10f torch %.10f relative difference %.2e" % (label, ours, theirs, difference))
        if difference > LOSS_TOLERANCE and not (theirs == 0 and ours == 0):
            failures += 1
    ours_rows = json.loads(metadata["row_ce"])
    for l, (a, b) in enumerate(zip(ours_rows, row_ce)):
        if (a is None) != (b is None) or (a is not None and abs(a - b) > LOSS_TOLERANCE * abs(b)):
            print("row %d CE: loupe %s torch %s" % (l, a, b))
            failures += 1
    worst_relative, worst_tiny = 0.0, 0.0
    for name in tensors:
        reference = p[short[name]].grad
        reference = np.zeros(tensors[name].shape) if reference is None else reference.numpy()
        got = loupe[name]
        if got.shape != reference.shape:
            print("%s: shape %s, expected %s" % (name, got.shape, reference.shape))
            failures += 1
            continue
        scale = np.abs(reference).max()
        large = np.abs(reference) >= TINY_FRACTION * scale if scale > 0 else np.zeros(reference.shape, bool)
        relative = (np.abs(got - reference)[large] / np.abs(reference)[large]).max() if large.any() else 0.0
        tiny = np.abs(got - reference)[~large].max() if (~large).any() else 0.0
        worst_relative, worst_tiny = max(worst_relative, relative), max(worst_tiny, tiny)
        if relative > RELATIVE_TOLERANCE or not np.isfinite(got).all() or (scale == 0 and np.abs(got).max() > 0):
            print("%s: max relative difference %.2e (max |ref| %.3e), tiny entries' max abs %.2e" %
                  (name, relative, scale, tiny))
            failures += 1
    print("%s lambda %g rows %s B %d T %d: max relative difference %.2e over %d tensors, "
          "max absolute difference on tiny entries %.2e" %
          (os.path.basename(model_dir.rstrip("/")), lam, rows_text, B, T, worst_relative, len(tensors), worst_tiny))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
