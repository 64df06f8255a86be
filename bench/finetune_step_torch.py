#!/usr/bin/python3
"""PyTorch's training step of `loupe finetune`, for the speed and memory
comparison of issue 15 (docs/FINETUNE.md): one step is the forward pass,
the loss, the backward pass, gradient-norm clipping and torch.optim.AdamW,
on the embedded gpt2-demo (F16 weights, trained here in float32).

The model is GPT-2 as transformers' modeling_gpt2 defines it (GPT2Model with
the tied GPT2LMHeadModel head): wte + wpe, per block x + attn(ln_1(x)) then
x + mlp(ln_2(x)) with Conv1D projections (y = x W + b, W (in, out)), eager
causal attention scaled by 1/sqrt(D) (torch 1.13 has no
scaled_dot_product_attention), gelu_new (F.gelu's tanh form, the same
function), ln_f, logits = ln_f(h) wte^T. No dropout (loupe trains without).
The loss is the issue's: CE(final row) + lambda (1/L) sum_{l=0}^{L-1}
CE(ln_f(h_l) wte^T), h_0 the embeddings, h_l the output of block l, each CE
the mean over the B*T positions of -log p(next token); lambda = 0 computes
no lens rows. AdamW: lr 3e-4, betas (0.9, 0.95), eps 1e-8, weight decay 0.1
on the matrices and embeddings only (loupe's `decayed`), clip_grad_norm_ 1.0.
float32 throughout, no autocast, torch.set_num_threads(THREADS).

Prints one line: seconds per step (median of STEPS timed steps after one
warm-up, wall clock and CPU), tokens per second and the process's peak
resident memory (resource.getrusage ru_maxrss). Run it once per lambda (a
fresh process each) for each one's peak.

usage: /usr/bin/python3 bench/finetune_step_torch.py [--lens-weight X] [--steps N] [--threads N]
       [--batch B] [--context T] [--model DIR]
"""
import argparse
import json
import math
import os
import resource
import statistics
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser()
parser.add_argument("--lens-weight", type=float, default=0.0)
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--batch", type=int, default=8)
parser.add_argument("--context", type=int, default=256)
parser.add_argument("--model", default=os.path.join(root, "models", "gpt2-demo"))
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.set_num_interop_threads(1)
torch.manual_seed(0)

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "F64": np.float64}


def read_checkpoint(model_dir):
    """{name without 'transformer.': float32 tensor} from model.safetensors or its shards."""
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(single):
        files = [single]
    else:
        index = json.load(open(os.path.join(model_dir, "model.safetensors.index.json")))
        files = sorted({os.path.join(model_dir, f) for f in index["weight_map"].values()})
    tensors = {}
    for path in files:
        data = open(path, "rb").read()
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        for name, info in header.items():
            if name == "__metadata__":
                continue
            begin, end = info["data_offsets"]
            raw = data[8 + n + begin:8 + n + end]
            if info["dtype"] == "BF16":
                values = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
            else:
                values = np.frombuffer(raw, DTYPES[info["dtype"]]).astype(np.float32)
            tensors[name.replace("transformer.", "")] = torch.from_numpy(values.copy()).reshape(info["shape"])
    return tensors


config = json.load(open(os.path.join(args.model, "config.json")))
C, H, L = config["n_embd"], config["n_head"], config["n_layer"]
D, eps = C // H, config.get("layer_norm_epsilon", 1e-5)
weights = read_checkpoint(args.model)
V = weights["wte.weight"].shape[0]
params = {name: torch.nn.Parameter(tensor) for name, tensor in weights.items() if name != "lm_head.weight"
          and not name.endswith(".attn.bias") and not name.endswith(".attn.masked_bias")}
B, T = args.batch, args.context
causal = torch.tril(torch.ones(T, T, dtype=torch.bool)).view(1, 1, T, T)
mask_value = torch.finfo(torch.float32).min


def p(name):
    return params[name]


def conv1d(x, prefix):
    """transformers' Conv1D: x W + b with W (in, out)."""
    return torch.addmm(p(prefix + ".bias"), x.view(-1, x.shape[-1]), p(prefix + ".weight")).view(
        *x.shape[:-1], -1)


def attention(x, prefix):
    """GPT2Attention, eager: causal softmax(q k^T / sqrt(D)) v over H heads, then c_proj."""
    q, k, v = conv1d(x, prefix + ".c_attn").split(C, dim=2)
    q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v))
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D)
    scores = torch.where(causal, scores, torch.tensor(mask_value))
    out = torch.matmul(F.softmax(scores, dim=-1), v)
    return conv1d(out.transpose(1, 2).reshape(B, T, C), prefix + ".c_proj")


def mlp(x, prefix):
    return conv1d(F.gelu(conv1d(x, prefix + ".c_fc"), approximate="tanh"), prefix + ".c_proj")


def row_ce(h, targets):
    """CE of rows h (B, T, C) read through ln_f and the tied wte: mean -log p(next token)."""
    normed = F.layer_norm(h, (C,), p("ln_f.weight"), p("ln_f.bias"), eps)
    return F.cross_entropy((normed @ p("wte.weight").t()).view(-1, V), targets.reshape(-1))


def loss_of(ids):
    inputs, targets = ids[:, :-1], ids[:, 1:]
    h = p("wte.weight")[inputs] + p("wpe.weight")[:T]
    lens = []
    for layer in range(L):
        if args.lens_weight > 0:
            lens.append(row_ce(h, targets))
        prefix = "h.%d" % layer
        ln_1 = F.layer_norm(h, (C,), p(prefix + ".ln_1.weight"), p(prefix + ".ln_1.bias"), eps)
        h = h + attention(ln_1, prefix + ".attn")
        ln_2 = F.layer_norm(h, (C,), p(prefix + ".ln_2.weight"), p(prefix + ".ln_2.bias"), eps)
        h = h + mlp(ln_2, prefix + ".mlp")
    loss = row_ce(h, targets)
    if lens:
        loss = loss + args.lens_weight * torch.stack(lens).mean()
    return loss


decayed = [t for t in params.values() if t.dim() >= 2]
others = [t for t in params.values() if t.dim() < 2]
optimizer = torch.optim.AdamW([{"params": decayed, "weight_decay": 0.1}, {"params": others, "weight_decay": 0.0}],
                              lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
generator = torch.Generator().manual_seed(42)
batches = [torch.randint(0, V, (B, T + 1), generator=generator) for _ in range(args.steps + 1)]


def step(ids):
    optimizer.zero_grad(set_to_none=True)
    loss = loss_of(ids)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
    optimizer.step()
    return loss.item()


step(batches[0])  # warm-up
walls, cpus = [], []
for ids in batches[1:]:
    wall, cpu = time.perf_counter(), time.process_time()
    loss = step(ids)
    walls.append(time.perf_counter() - wall)
    cpus.append(time.process_time() - cpu)
peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
wall, cpu = statistics.median(walls), statistics.median(cpus)
print("pytorch %s finetune step: lambda %g, batch %d x %d tokens, %d threads, %d steps: median %.3f s per step "
      "wall (%.0f tokens/s), %.3f s CPU; peak RSS %.0f MiB (last loss %.4f; steps wall %s)"
      % (torch.__version__, args.lens_weight, B, T, args.threads, args.steps, wall, B * T / wall, cpu, peak_mib, loss,
         " ".join("%.2f" % w for w in walls)))
