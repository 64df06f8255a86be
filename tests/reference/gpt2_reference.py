#!/usr/bin/env python3
"""An independent GPT-2 forward pass in plain Python (standard library only).

Reads a Hugging Face GPT-2 folder (config.json, model.safetensors or the
sharded index; F32/F16/BF16) and prints, as JSON, the next-token
probabilities after the given token ids: {"top": [[id, prob], ...]}.
It shares no code with loupe, so it serves as a reference for tests. Slow
(pure Python) but exact enough: float64 throughout.

usage: gpt2_reference.py MODEL_DIR ID [ID ...] [--topk K]
"""
import json
import math
import os
import struct
import sys


def read_safetensors(path, wanted):
    """Returns {name: (shape, flat list of floats)} for the names in wanted."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, info in header.items():
            if name == "__metadata__" or name not in wanted:
                continue
            begin, end = info["data_offsets"]
            f.seek(base + begin)
            raw = f.read(end - begin)
            dtype = info["dtype"]
            if dtype == "F32":
                values = struct.unpack("<%df" % (len(raw) // 4), raw)
            elif dtype == "F16":
                values = struct.unpack("<%de" % (len(raw) // 2), raw)
            elif dtype == "BF16":
                halves = struct.unpack("<%dH" % (len(raw) // 2), raw)
                values = struct.unpack("<%df" % len(halves), struct.pack("<%dI" % len(halves), *[h << 16 for h in halves]))
            else:
                raise ValueError("%s: dtype %s" % (name, dtype))
            out[name] = (info["shape"], list(values))
        return out


def weight_files(model_dir):
    """The checkpoint's files: model.safetensors, or the shards its index names, in name order."""
    single = os.path.join(model_dir, "model.safetensors")
    return [single] if os.path.exists(single) else sorted(
        {os.path.join(model_dir, v) for v in json.load(open(os.path.join(model_dir, "model.safetensors.index.json")))["weight_map"].values()})


def load(model_dir):
    config = json.load(open(os.path.join(model_dir, "config.json")))
    tensors = {}
    for path in weight_files(model_dir):
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            names = set(json.loads(f.read(n)).keys())
        tensors.update(read_safetensors(path, names))
    return config, {k.replace("transformer.", ""): v for k, v in tensors.items()}


def rows(flat, n_cols):
    return [flat[i:i + n_cols] for i in range(0, len(flat), n_cols)]


def layer_norm(x, weight, bias, eps):
    mean = sum(x) / len(x)
    var = sum((v - mean) ** 2 for v in x) / len(x)
    inv = 1.0 / math.sqrt(var + eps)
    return [(v - mean) * inv * w + b for v, w, b in zip(x, weight, bias)]


def linear(x, weight_rows, bias):
    """x (K) times weight (K, N) stored as K rows of N, plus bias (N)."""
    out = list(bias)
    for xk, row in zip(x, weight_rows):
        if xk != 0.0:
            for j, w in enumerate(row):
                out[j] += xk * w
    return out


def activation(name, v):
    if name in ("gelu_new", "gelu_pytorch_tanh", "gelu_fast"):
        return 0.5 * v * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (v + 0.044715 * v ** 3)))
    if name == "gelu":
        return 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0)))
    if name == "relu":
        return max(v, 0.0)
    raise ValueError(name)


def forward_last(config, t, ids):
    C, H, L = config["n_embd"], config["n_head"], config["n_layer"]
    D = C // H
    eps = config.get("layer_norm_epsilon", 1e-5)
    act = config.get("activation_function", "gelu_new")
    wte = rows(t["wte.weight"][1], C)
    wpe = rows(t["wpe.weight"][1], C)
    h = [[a + b for a, b in zip(wte[i], wpe[p])] for p, i in enumerate(ids)]
    for l in range(L):
        g = lambda name: t["h.%d.%s" % (l, name)][1]
        c_attn = rows(g("attn.c_attn.weight"), 3 * C)
        c_proj = rows(g("attn.c_proj.weight"), C)
        c_fc = rows(g("mlp.c_fc.weight"), len(g("mlp.c_fc.bias")))
        m_proj = rows(g("mlp.c_proj.weight"), C)
        qkv = [linear(layer_norm(x, g("ln_1.weight"), g("ln_1.bias"), eps), c_attn, g("attn.c_attn.bias")) for x in h]
        heads = [[0.0] * C for _ in h]
        for head in range(H):
            lo = head * D
            for i in range(len(h)):
                q = qkv[i][lo:lo + D]
                scores = [sum(a * b for a, b in zip(q, qkv[j][C + lo:C + lo + D])) / math.sqrt(D) for j in range(i + 1)]
                top = max(scores)
                weights = [math.exp(s - top) for s in scores]
                total = sum(weights)
                for d in range(D):
                    heads[i][lo + d] = sum(w * qkv[j][2 * C + lo + d] for j, w in enumerate(weights)) / total
        h = [[a + b for a, b in zip(x, linear(y, c_proj, g("attn.c_proj.bias")))] for x, y in zip(h, heads)]
        for i, x in enumerate(h):
            hidden = [activation(act, v) for v in linear(layer_norm(x, g("ln_2.weight"), g("ln_2.bias"), eps), c_fc, g("mlp.c_fc.bias"))]
            h[i] = [a + b for a, b in zip(x, linear(hidden, m_proj, g("mlp.c_proj.bias")))]
    last = layer_norm(h[-1], t["ln_f.weight"][1], t["ln_f.bias"][1], eps)
    head = rows(t["lm_head.weight"][1], C) if "lm_head.weight" in t and not config.get("tie_word_embeddings", True) else wte
    return [sum(a * b for a, b in zip(row, last)) for row in head]


def main():
    args = sys.argv[1:]
    topk = 10
    if "--topk" in args:
        i = args.index("--topk")
        topk = int(args[i + 1])
        del args[i:i + 2]
    model_dir, ids = args[0], [int(a) for a in args[1:]]
    config, tensors = load(model_dir)
    logits = forward_last(config, tensors, ids)
    top = max(logits)
    total = sum(math.exp(v - top) for v in logits)
    probs = [math.exp(v - top) / total for v in logits]
    order = sorted(range(len(probs)), key=lambda v: (-probs[v], v))[:topk]
    json.dump({"top": [[v, probs[v]] for v in order]}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
