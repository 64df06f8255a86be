#!/usr/bin/python3
"""The PyTorch baseline for `loupe lens`: the same GPT-2 forward pass and the
same statistics (docs/METRICS.md), computed layer by layer as a careful
PyTorch user would: one projection per row, log_softmax, topk, gathers, the
four KLs against the cached final and first rows, entropy and ranks.

usage: /usr/bin/python3 bench/lens_torch.py MODEL_DIR IDS_JSON [--threads N]
                                             [--topk K] [--dump OUT_JSON]
IDS_JSON is a file holding a JSON list of token ids (`loupe tokenize --json`'s
"ids"). Prints one line of JSON with the timings: load_s (safetensors to
float32 tensors), compute_s (forward + every row's statistics). --dump writes
every cell's statistics, for bench/check_torch_agreement.py.

Uses the standard library and torch only (Debian's python3-torch, whose BLAS
is the system's: OpenBLAS with libopenblas0-pthread).
"""
import argparse
import json
import math
import struct
import time

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load_safetensors(path):
    """Every tensor of a .safetensors file as float32, converted once."""
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    buffer = memoryview(data)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        count = math.prod(info["shape"]) if info["shape"] else 1
        flat = torch.frombuffer(buffer[base + start:base + end], dtype=dtype, count=count)
        tensor = flat.reshape(info["shape"])
        # an aligned, writable float32 copy: the file's bytes may sit at any offset
        tensors[name] = tensor.clone() if dtype == torch.float32 else tensor.to(torch.float32)
    return tensors


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def forward_taps(w, config, ids):
    """The raw residual stream after the embeddings and after every block, (L+1, T, C)."""
    n_layer, n_head, eps = config["n_layer"], config["n_head"], config.get("layer_norm_epsilon", 1e-5)
    T = ids.shape[0]
    x = w["transformer.wte.weight"][ids] + w["transformer.wpe.weight"][:T]
    C = x.shape[1]
    taps = [x]
    mask = torch.full((T, T), float("-inf")).triu(1)
    for layer in range(n_layer):
        p = f"transformer.h.{layer}."
        h = torch.nn.functional.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = torch.addmm(w[p + "attn.c_attn.bias"], h, w[p + "attn.c_attn.weight"])
        q, k, v = qkv.split(C, dim=1)
        q = q.view(T, n_head, C // n_head).transpose(0, 1)
        k = k.view(T, n_head, C // n_head).transpose(0, 1)
        v = v.view(T, n_head, C // n_head).transpose(0, 1)
        scores = q @ k.transpose(1, 2) / math.sqrt(C // n_head) + mask
        attn = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(T, C)
        x = x + torch.addmm(w[p + "attn.c_proj.bias"], attn, w[p + "attn.c_proj.weight"])
        h = torch.nn.functional.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        h = gelu_new(torch.addmm(w[p + "mlp.c_fc.bias"], h, w[p + "mlp.c_fc.weight"]))
        x = x + torch.addmm(w[p + "mlp.c_proj.bias"], h, w[p + "mlp.c_proj.weight"])
        taps.append(x)
    return taps


def lens(w, config, ids, topk):
    """Every row's statistics: a list over rows of dicts of (T,) or (T, K) tensors."""
    eps = config.get("layer_norm_epsilon", 1e-5)
    unembedding = w.get("lm_head.weight", w["transformer.wte.weight"])
    taps = forward_taps(w, config, ids)
    C = taps[0].shape[1]

    def project(h):
        normed = torch.nn.functional.layer_norm(h, (C,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
        return normed @ unembedding.T

    final_logits = project(taps[-1])
    final_log_probs = torch.log_softmax(final_logits, dim=-1)
    final_probs = final_log_probs.exp()
    final_top = final_logits.argmax(dim=-1)
    del final_logits
    first_log_probs = torch.log_softmax(project(taps[0]), dim=-1)
    first_probs = first_log_probs.exp()
    target = torch.cat([ids[1:], ids[:1]])  # the last position's target is dropped below
    tokens = {"target": target, "input": ids, "final_top": final_top}
    rows = []
    for tap in taps:
        logits = project(tap)
        log_probs = torch.log_softmax(logits, dim=-1)
        probs = log_probs.exp()
        top_log_probs, top_ids = log_probs.topk(topk, dim=-1)
        row = {
            "top_ids": top_ids,
            "top_probs": top_log_probs.exp(),
            "entropy": -(probs * log_probs).sum(-1),
            "kl_final": (final_probs * (final_log_probs - log_probs)).sum(-1),
            "kl_final_rev": (probs * (log_probs - final_log_probs)).sum(-1),
            "kl_first": (first_probs * (first_log_probs - log_probs)).sum(-1),
            "kl_first_rev": (probs * (log_probs - first_log_probs)).sum(-1),
        }
        for name, token_ids in tokens.items():
            index = token_ids.unsqueeze(1)
            token_logits = logits.gather(1, index)
            row[name + "_logit"] = token_logits.squeeze(1)
            row[name + "_prob"] = log_probs.gather(1, index).exp().squeeze(1)
            row[name + "_rank"] = (logits > token_logits).sum(-1) + 1
        rows.append(row)
        del logits, log_probs, probs
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("ids")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--topk", type=int, default=5)
    parser.add_argument("--dump")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    with open(f"{args.model}/config.json") as f:
        config = json.load(f)
    with open(args.ids) as f:
        ids = torch.tensor(json.load(f), dtype=torch.long)
    start = time.perf_counter()
    w = load_safetensors(f"{args.model}/model.safetensors")
    loaded = time.perf_counter()
    rows = lens(w, config, ids, args.topk)
    done = time.perf_counter()
    print(json.dumps({"tokens": int(ids.shape[0]), "threads": torch.get_num_threads(),
                      "load_s": loaded - start, "compute_s": done - loaded}))
    if args.dump:
        with open(args.dump, "w") as f:
            json.dump([{k: v.tolist() for k, v in row.items()} for row in rows], f)


if __name__ == "__main__":
    main()
