#!/usr/bin/python3
"""The PyTorch baseline for `loupe lens`: the same forward pass (GPT-2, or
the Llama family through tests/reference/hf_families_reference.py's
rotary embeddings, written from transformers' modeling files) and the same
statistics (docs/METRICS.md), computed layer by layer as a careful PyTorch
user would: one projection per row, log_softmax, topk, gathers, the four KLs
against the cached final and first rows, entropy and ranks.

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
import os
import struct
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from hf_families_reference import Family, activation, apply_rotary  # noqa: E402

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def load_safetensors(path, keep_dtype=False):
    """Every tensor of a .safetensors file as float32, converted once (or as
    stored, with keep_dtype)."""
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
        tensors[name] = tensor.clone() if dtype == torch.float32 or keep_dtype else tensor.to(torch.float32)
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


def forward_taps_llama(w, config, ids):
    """The Llama family (RMSNorm, rotary grouped-query attention, gated MLP):
    the residual stream after the embeddings and after every block."""
    f = Family(config)
    T = ids.shape[0]
    dtype = w["model.embed_tokens.weight"].dtype
    inv = f.inv_freq()
    freqs = torch.arange(T).float()[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)
    mask = torch.full((T, T), float("-inf")).triu(1).to(dtype)
    x = w["model.embed_tokens.weight"][ids]
    taps = [x]
    for layer in range(f.L):
        p = f"model.layers.{layer}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], f.eps)
        q = torch.nn.functional.linear(h, w[p + "self_attn.q_proj.weight"]).view(T, f.H, f.D).transpose(0, 1)
        k = torch.nn.functional.linear(h, w[p + "self_attn.k_proj.weight"]).view(T, f.KV, f.D).transpose(0, 1)
        v = torch.nn.functional.linear(h, w[p + "self_attn.v_proj.weight"]).view(T, f.KV, f.D).transpose(0, 1)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        groups = f.H // f.KV
        k, v = k.repeat_interleave(groups, dim=0), v.repeat_interleave(groups, dim=0)
        scores = q @ k.transpose(1, 2) * f.D ** -0.5 + mask
        attn = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(T, f.H * f.D)
        x = x + torch.nn.functional.linear(attn, w[p + "self_attn.o_proj.weight"])
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], f.eps)
        gated = activation(f.act, torch.nn.functional.linear(h, w[p + "mlp.gate_proj.weight"]))
        gated = gated * torch.nn.functional.linear(h, w[p + "mlp.up_proj.weight"])
        x = x + torch.nn.functional.linear(gated, w[p + "mlp.down_proj.weight"])
        taps.append(x)
    return taps


def rms_norm(x, weight, eps):
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def lens(w, config, ids, topk):
    """Every row's statistics: a list over rows of dicts of (T,) or (T, K) tensors."""
    if config["model_type"] == "gpt2":
        eps = config.get("layer_norm_epsilon", 1e-5)
        unembedding = w.get("lm_head.weight", w["transformer.wte.weight"])
        taps = forward_taps(w, config, ids)
        C = taps[0].shape[1]

        def final_norm(h):
            return torch.nn.functional.layer_norm(h, (C,), w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
    elif config["model_type"] == "llama":
        unembedding = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        taps = forward_taps_llama(w, config, ids)

        def final_norm(h):
            return rms_norm(h, w["model.norm.weight"], config.get("rms_norm_eps", 1e-6))
    else:
        raise SystemExit(f"lens_torch: model_type {config['model_type']} not written")

    def project(h):
        # the statistics in float32 whatever the weights' type, as loupe's
        return (final_norm(h) @ unembedding.T).float()

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
    parser.add_argument("--dtype", choices=["float32", "stored"], default="float32",
                        help="compute in float32 (weights converted at load) or in the checkpoint's own type")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    with open(f"{args.model}/config.json") as f:
        config = json.load(f)
    with open(args.ids) as f:
        ids = torch.tensor(json.load(f), dtype=torch.long)
    start = time.perf_counter()
    w = load_safetensors(f"{args.model}/model.safetensors", keep_dtype=args.dtype == "stored")
    loaded = time.perf_counter()
    rows = lens(w, config, ids, args.topk)
    done = time.perf_counter()
    print(json.dumps({"tokens": int(ids.shape[0]), "threads": torch.get_num_threads(), "dtype": args.dtype,
                      "load_s": loaded - start, "compute_s": done - loaded}))
    if args.dump:
        with open(args.dump, "w") as f:
            json.dump([{k: v.tolist() for k, v in row.items()} for row in rows], f)


if __name__ == "__main__":
    main()
