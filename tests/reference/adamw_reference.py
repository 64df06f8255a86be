#!/usr/bin/python3
"""What loupe's AdamW (src/train/adamw.h) must match, from PyTorch.

Run with Debian's python3 (python3-torch, python3-numpy):
    /usr/bin/python3 tests/reference/adamw_reference.py [OUT]
OUT defaults to tests/data/adamw_reference.safetensors; tests/test_adamw.c
reads it (and ctest's slow test adamw_reference_fresh runs this script into
the build folder and the test on its output).

Four random tensors (two matrices, which decay, and two vectors, which do
not, as the trainer decides by n_dims >= 2) take three steps of
torch.optim.AdamW with two parameter groups (weight_decay on the matrices,
0 on the vectors), each step's gradient first clipped by
torch.nn.utils.clip_grad_norm_ over all four, the learning rate set by a
torch.optim.lr_scheduler.LambdaLR whose factor is the schedule's definition:
linear warm-up (s + 1) / W for s < W, then a cosine from 1 down to
min_lr_fraction at the last step s = steps - 1. The second step's gradient
is large (its norm is clipped), the others small (not clipped).

The file holds, all F32:
  param.NAME         the parameters before the first step
  grad{k}.NAME       the gradient of step k = 0, 1, 2 (before clipping)
  stepped.NAME       the parameters after the three steps
  exp_avg.NAME, exp_avg_sq.NAME   the optimizer's moments after them
  grad_norm (3), lr (3)           each step's norm before clipping and rate
  schedule (10)      LambdaLR's rate at every step of a second schedule of
                     10 steps with 3 of warm-up
and in __metadata__ the settings of both schedules as decimal strings.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "data", "adamw_reference.safetensors")

SETTINGS = {
    "lr": 0.01,
    "min_lr_fraction": 0.1,
    "beta1": 0.9,
    "beta2": 0.95,
    "eps": 1e-8,
    "weight_decay": 0.1,
    "max_grad_norm": 1.0,
    "warmup_steps": 2,
    "steps": 3,
}
SCHEDULE = {"lr": 0.003, "min_lr_fraction": 0.25, "warmup_steps": 3, "steps": 10}
SHAPES = [("h.0.attn.c_attn.weight", (6, 5)), ("h.0.ln_1.bias", (5,)), ("wte.weight", (7, 3)), ("ln_f.weight", (3,))]


def factor(step, warmup, steps, floor):
    """The schedule of adamw.h, written from its definition."""
    if step < warmup:
        return (step + 1) / warmup
    last = steps - 1
    progress = (step - warmup) / (last - warmup) if last > warmup else 1.0
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    generator = torch.Generator().manual_seed(20261202)
    params = [torch.nn.Parameter(torch.randn(shape, generator=generator)) for _, shape in SHAPES]
    scales = [0.05, 3.0, 0.02]  # step 1's gradient norm is well above max_grad_norm
    grads = [[torch.randn(shape, generator=generator) * scale for _, shape in SHAPES] for scale in scales]
    tensors = {f"param.{name}": p.detach().clone().numpy() for (name, _), p in zip(SHAPES, params)}
    for k, step_grads in enumerate(grads):
        for (name, _), g in zip(SHAPES, step_grads):
            tensors[f"grad{k}.{name}"] = g.numpy()

    s = SETTINGS
    decayed = [p for (_, shape), p in zip(SHAPES, params) if len(shape) >= 2]
    plain = [p for (_, shape), p in zip(SHAPES, params) if len(shape) < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decayed, "weight_decay": s["weight_decay"]}, {"params": plain, "weight_decay": 0.0}],
        lr=s["lr"], betas=(s["beta1"], s["beta2"]), eps=s["eps"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: factor(step, s["warmup_steps"], s["steps"], s["min_lr_fraction"]))
    norms, rates = [], []
    for step_grads in grads:
        optimizer.zero_grad()
        for p, g in zip(params, step_grads):
            p.grad = g.clone()
        rates.append(optimizer.param_groups[0]["lr"])
        norms.append(float(torch.nn.utils.clip_grad_norm_(params, s["max_grad_norm"])))
        optimizer.step()
        scheduler.step()
    assert norms[1] > s["max_grad_norm"] and norms[0] < s["max_grad_norm"] and norms[2] < s["max_grad_norm"]

    for (name, _), p in zip(SHAPES, params):
        state = optimizer.state[p]
        tensors[f"stepped.{name}"] = p.detach().numpy()
        tensors[f"exp_avg.{name}"] = state["exp_avg"].numpy()
        tensors[f"exp_avg_sq.{name}"] = state["exp_avg_sq"].numpy()
    tensors["grad_norm"] = np.array(norms)
    tensors["lr"] = np.array(rates)

    c = SCHEDULE
    dummy = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=c["lr"])
    schedule = torch.optim.lr_scheduler.LambdaLR(
        dummy, lambda step: factor(step, c["warmup_steps"], c["steps"], c["min_lr_fraction"]))
    rates = []
    for _ in range(c["steps"]):
        rates.append(dummy.param_groups[0]["lr"])
        dummy.step()
        schedule.step()
    tensors["schedule"] = np.array(rates)

    metadata = {key: repr(value) for key, value in SETTINGS.items()}
    metadata.update({f"schedule.{key}": repr(value) for key, value in SCHEDULE.items()})
    write_safetensors(out_path, tensors, metadata)


if __name__ == "__main__":
    main()
