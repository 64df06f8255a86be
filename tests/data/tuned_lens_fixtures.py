#!/usr/bin/python3
"""Writes the tuned-lens fixtures of tests/data from the tiny GPT-2 model.

Run with Debian's python3 (python3-torch, python3-numpy) from the repository
root: /usr/bin/python3 tests/data/tuned_lens_fixtures.py

Each folder is a tuned lens for tests/data/gpt2-tiny-gelu laid out as the
tuned-lens package saves one (TunedLens.save): config.json with the fields
of its TunedLensConfig, and the state dict of its layer_translators, an
nn.ModuleList of nn.Linear(d_model, d_model), keys "0.weight", "0.bias",
..., "{L-1}.bias":
  tuned-tiny-safetensors/  params.safetensors, float32
  tuned-tiny-f32/          params.pt (torch.save), float32
  tuned-tiny-f16/          params.pt, float16
  tuned-tiny-bf16/         params.pt, bfloat16
Beside them, reference.safetensors holds "logits" (L, T, V): the tuned
lens's logits of rows 0 .. L-1 of the model's hidden states (the hidden.i
of the model's reference.safetensors, from transformers), computed as
tuned-lens defines them, unembed(final_norm(h + translator_i(h))), in
float64 from the parameters as stored.

tuned-tiny-f32/training.safetensors holds what training must match, on the
positions 0 .. T-2 of those hidden states (each has a next token):
  kl_grad_weight (L, C, C), kl_grad_bias (L, C), kl_loss (L): the loss of
    tuned-lens's train_loop, per layer the mean over positions of
    KL(p_final || q_i), p_final the model's output distribution, and the
    gradient of its sum over layers by autograd, in float64;
  ce_grad_weight, ce_grad_bias, ce_loss: the same for the cross-entropy of
    the next token;
  stepped_weight (L, C, C), stepped_bias (L, C): the translators after
    three optimizer steps on that batch with the CE loss (whose gradient
    norm, about 1.6, is clipped), in float32, as
    tuned-lens steps: torch.optim.SGD(lr = 1 - 0.9, momentum 0.9, nesterov,
    weight_decay 1e-3), the gradient norm clipped to 1, the learning rate
    scaled by the linear schedule of 3 steps without warm-up.
"""
import copy
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "gpt2-tiny-gelu")


def read_safetensors(path):
    """{name: numpy array} of a safetensors file (F32 and I32 only)."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = {"F32": np.float32, "I32": np.int32}[info["dtype"]]
        out[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
    return out


def write_safetensors(path, tensors):
    """tensors: {name: torch tensor (float32, float16 or bfloat16)}, in order."""
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    header, blobs, offset = {}, [], 0
    for name, tensor in tensors.items():
        blob = tensor.contiguous().view(torch.uint8).numpy().tobytes() if tensor.dtype == torch.bfloat16 \
            else tensor.contiguous().numpy().tobytes()
        header[name] = {"dtype": names[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    config = json.load(open(os.path.join(MODEL, "config.json")))
    C, L, eps = config["n_embd"], config["n_layer"], config["layer_norm_epsilon"]
    weights = read_safetensors(os.path.join(MODEL, "model.safetensors"))
    reference = read_safetensors(os.path.join(MODEL, "reference.safetensors"))
    prefix = "transformer." if "transformer.wte.weight" in weights else ""
    wte = torch.tensor(weights[prefix + "wte.weight"], dtype=torch.float64)
    ln_w = torch.tensor(weights[prefix + "ln_f.weight"], dtype=torch.float64)
    ln_b = torch.tensor(weights[prefix + "ln_f.bias"], dtype=torch.float64)

    torch.manual_seed(14)
    translators = torch.nn.ModuleList([torch.nn.Linear(C, C) for _ in range(L)])
    with torch.no_grad():
        for translator in translators:
            translator.weight.copy_(torch.randn(C, C) * 0.5 / C ** 0.5)
            translator.bias.copy_(torch.randn(C) * 0.5)

    for folder, dtype, fmt in (("tuned-tiny-safetensors", torch.float32, "safetensors"),
                               ("tuned-tiny-f32", torch.float32, "pt"),
                               ("tuned-tiny-f16", torch.float16, "pt"),
                               ("tuned-tiny-bf16", torch.bfloat16, "pt")):
        out = os.path.join(HERE, folder)
        os.makedirs(out, exist_ok=True)
        state = translators.to(dtype).state_dict()
        if fmt == "pt":
            torch.save(state, os.path.join(out, "params.pt"))
        else:
            write_safetensors(os.path.join(out, "params.safetensors"), state)
        lens_config = {"base_model_name_or_path": "gpt2-tiny-gelu", "d_model": C, "num_hidden_layers": L,
                       "bias": True, "base_model_revision": None, "unembed_hash": None,
                       "lens_type": "linear_tuned_lens"}
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(lens_config, f)
        rows = []
        for i in range(L):
            h = torch.tensor(reference["hidden.%d" % i], dtype=torch.float64)
            weight, bias = state["%d.weight" % i].double(), state["%d.bias" % i].double()
            translated = h + h @ weight.T + bias
            normed = torch.nn.functional.layer_norm(translated, (C,), ln_w, ln_b, eps)
            rows.append(normed @ wte.T)
        write_safetensors(os.path.join(out, "reference.safetensors"),
                          {"logits": torch.stack(rows).float()})
        translators.float()
    write_training(translators, reference, wte, ln_w, ln_b, eps, C, L)


def lens_losses(translators, hidden, final_log_p, ids, wte, ln_w, ln_b, eps, C, kind):
    """Per-layer losses (L) of tuned-lens's train_loop on positions 0 .. T-2."""
    losses = []
    for i, translator in enumerate(translators):
        h = hidden[i][:-1]
        normed = torch.nn.functional.layer_norm(h + translator(h), (C,), ln_w, ln_b, eps)
        log_q = (normed @ wte.T).log_softmax(-1)
        if kind == "kl":
            losses.append(torch.sum(final_log_p.exp() * (final_log_p - log_q), dim=-1).mean())
        else:
            losses.append(torch.nn.functional.nll_loss(log_q, ids[1:]))
    return torch.stack(losses)


def write_training(translators, reference, wte, ln_w, ln_b, eps, C, L):
    # the float32 translators as saved (those in memory went through float16 and bfloat16)
    translators.load_state_dict(torch.load(os.path.join(HERE, "tuned-tiny-f32", "params.pt")))
    ids = torch.tensor(reference["input_ids"], dtype=torch.int64)
    hidden = [torch.tensor(reference["hidden.%d" % i], dtype=torch.float64) for i in range(L)]
    final_log_p = torch.tensor(reference["lens_logits"][L], dtype=torch.float64)[:-1].log_softmax(-1)
    out = {}
    for kind in ("kl", "ce"):
        model = copy.deepcopy(translators).double()
        losses = lens_losses(model, hidden, final_log_p, ids, wte, ln_w, ln_b, eps, C, kind)
        losses.sum().backward()
        out[kind + "_grad_weight"] = torch.stack([t.weight.grad for t in model]).float()
        out[kind + "_grad_bias"] = torch.stack([t.bias.grad for t in model]).float()
        out[kind + "_loss"] = losses.detach().float()
    model = copy.deepcopy(translators).float()
    steps = 3
    optimizer = torch.optim.SGD(model.parameters(), lr=1 - 0.9, momentum=0.9, nesterov=True, weight_decay=1e-3)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: max(0.0, (steps - k) / steps))
    args = ([h.float() for h in hidden], final_log_p.float(), ids, wte.float(), ln_w.float(), ln_b.float(), eps, C)
    for _ in range(steps):
        optimizer.zero_grad()
        lens_losses(model, *args, kind="ce").sum().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    out["stepped_weight"] = torch.stack([t.weight.detach() for t in model])
    out["stepped_bias"] = torch.stack([t.bias.detach() for t in model])
    write_safetensors(os.path.join(HERE, "tuned-tiny-f32", "training.safetensors"), out)


if __name__ == "__main__":
    main()
