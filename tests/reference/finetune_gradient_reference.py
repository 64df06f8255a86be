#!/usr/bin/env python3
"""The fine-tuning loss of `loupe finetune` and every parameter's gradient, in float64 with PyTorch autograd:
an independent reference for src/train/model_gradient.c (tests/train/finetune_gradient.sh).

The model is written from Hugging Face transformers' modeling definitions, sharing no code with loupe:
  GPT-2 (modeling_gpt2.py, GPT2LMHeadModel): wte + wpe; per block x + attn(ln_1(x)), then x + mlp(ln_2(x)) with the
    Conv1D projections (x W + b, W (in, out)), causal attention scaled by 1/sqrt(D), activation_function
    (gelu_new, gelu, relu); ln_f; the head tied to wte unless the checkpoint has an untied lm_head.
  Llama (modeling_llama.py, LlamaForCausalLM): embed_tokens; per block x + attn(rms(x)), then x + mlp(rms(x));
    rotary embeddings from rope_theta (rotate_half), grouped-query attention (repeat_kv), SwiGLU
    down(act(gate(x)) * up(x)); model.norm; lm_head, or embed_tokens when tie_word_embeddings.
The loss (notes of issue 15, docs/FINETUNE.md):
  loss = CE(row L) + lambda * (1/|S|) * sum_{l in S} CE(row l)
row 0 the embeddings, row l the residual after block l, row L the model's output; every row read through the
final norm and the unembedding as `loupe lens` reads it; each CE the mean over the B*T positions of
-log p(next token). Window b's inputs are ids[b, 0 .. T-1], its targets ids[b, 1 .. T].

usage: finetune_gradient_reference.py MODEL_DIR WINDOWS --case LAMBDA ROWS OUT [--case LAMBDA ROWS OUT ...]
  WINDOWS  a safetensors file holding "ids", int32 (B, T+1)
  ROWS     the lens rows S as a Python slice or comma list over 0 .. L-1 ("1:3" = rows 1 and 2), or "all"
  OUT      written: every float parameter's gradient under the checkpoint's tensor name (F32, rounded from the
           float64 result), and the loss in F64: "loss.total", "loss.final_ce", "loss.lens_ce" (0 when lambda = 0),
           "loss.row_ce" (L+1: every row's mean CE, whether in S or not); the case: "case.lens_weight" (F64 1) and
           "case.lens_rows" (I32 |S|, the rows of S)
REFERENCE_FLOAT32=1 computes in float32 instead: a diagnostic of how far float32 arithmetic alone lands from float64
(the bounds of tests/test_finetune_gradient.c rest on it).
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_reference  # noqa: E402  (weight_files: the checkpoint's shards)
import hf_families_reference as families  # noqa: E402  (safetensors, Family, activation, rotary)

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def load_parameters(model_dir):
    """Every float tensor of the checkpoint (all shards) as a leaf of the default dtype (float64) that keeps its
    gradient, by name."""
    params = {}
    for path in gpt2_reference.weight_files(model_dir):
        for name, t in families.read_safetensors(path).items():
            if t.dtype in FLOAT_DTYPES:
                params[name] = t.to(torch.get_default_dtype()).requires_grad_(True)
    return params


def parse_rows(text, L):
    """The lens rows S among 0 .. L-1 as `loupe finetune --lens-rows` reads them (Python slices, negative ends
    counting from L)."""
    if text in ("all", ""):
        return list(range(L))
    rows = set()
    for item in text.split(","):
        if ":" in item:
            a, b = item.split(":")
            rows.update(range(L)[slice(int(a) if a else None, int(b) if b else None)])
        else:
            rows.add(range(L)[int(item)])
    return sorted(rows)


class Weights:
    """The parameters by name, tolerating the "transformer." prefix as loupe's checkpoint_find does."""

    def __init__(self, params):
        self.params = params

    def __getitem__(self, name):
        for candidate in (name, "transformer." + name, name.removeprefix("transformer.")):
            if candidate in self.params:
                return self.params[candidate]
        raise KeyError(name)

    def __contains__(self, name):
        try:
            self[name]
            return True
        except KeyError:
            return False


def causal_attention(q, k, v):
    """q (B, H, T, D), k and v (B, H, T, D) (already repeated for grouped-query): softmax(q k^T / sqrt(D)) v with
    the causal mask, as eager_attention_forward."""
    T, D = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-1, -2) / math.sqrt(D)
    allowed = torch.ones(T, T, dtype=torch.bool).tril()
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def gpt2_rows(cfg, w, inputs):
    """inputs (B, T): the L+1 residual rows (B, T, C), the final norm and the unembedding (V, C)."""
    C, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    D = C // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    act = cfg.get("activation_function", "gelu_new")
    B, T = inputs.shape

    def layer_norm(x, name):
        return torch.nn.functional.layer_norm(x, (C,), w[name + ".weight"], w[name + ".bias"], eps)

    def conv1d(x, name):  # transformers' Conv1D: x W + b, W (in, out)
        return x @ w[name + ".weight"] + w[name + ".bias"]

    def heads(x):  # (B, T, C) -> (B, H, T, D)
        return x.view(B, T, H, D).transpose(1, 2)

    h = w["wte.weight"][inputs] + w["wpe.weight"][:T]
    rows = [h]
    for layer in range(L):
        p = "h.%d." % layer
        q, k, v = conv1d(layer_norm(h, p + "ln_1"), p + "attn.c_attn").split(C, dim=-1)
        a = causal_attention(heads(q), heads(k), heads(v)).transpose(1, 2).reshape(B, T, C)
        h = h + conv1d(a, p + "attn.c_proj")
        m = families.activation(act, conv1d(layer_norm(h, p + "ln_2"), p + "mlp.c_fc"))
        h = h + conv1d(m, p + "mlp.c_proj")
        rows.append(h)
    tied = cfg.get("tie_word_embeddings", True) or "lm_head.weight" not in w
    head = w["wte.weight"] if tied else w["lm_head.weight"]
    return rows, (lambda x: layer_norm(x, "ln_f")), head


def llama_rows(cfg, w, inputs):
    """inputs (B, T): the L+1 residual rows (B, T, C), the final norm and the unembedding (V, C)."""
    f = families.Family(cfg)
    if f.type != "llama":
        raise SystemExit("finetune_gradient_reference: family %s not written" % f.type)
    B, T = inputs.shape
    H, KV, D = f.H, f.KV, f.D

    def rms_norm(x, name):  # LlamaRMSNorm: weight * x / sqrt(mean(x^2) + eps)
        return w[name + ".weight"] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + f.eps))

    def linear(x, name):  # nn.Linear without bias (attention_bias, mlp_bias false): x W^T, W (out, in)
        b = w[name + ".bias"] if name + ".bias" in w else None
        return torch.nn.functional.linear(x, w[name + ".weight"], b)

    inv = f.inv_freq().to(torch.get_default_dtype())  # computed in float32, as LlamaRotaryEmbedding does
    freqs = torch.arange(T, dtype=inv.dtype)[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    h = w["model.embed_tokens.weight"][inputs]
    rows = [h]
    for layer in range(f.L):
        p = "model.layers.%d." % layer
        x = rms_norm(h, p + "input_layernorm")
        q = linear(x, p + "self_attn.q_proj").view(B, T, H, D).transpose(1, 2)
        k = linear(x, p + "self_attn.k_proj").view(B, T, KV, D).transpose(1, 2)
        v = linear(x, p + "self_attn.v_proj").view(B, T, KV, D).transpose(1, 2)
        q, k = families.apply_rotary(q, cos, sin), families.apply_rotary(k, cos, sin)
        k, v = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)  # repeat_kv
        a = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, H * D)
        h = h + linear(a, p + "self_attn.o_proj")
        x = rms_norm(h, p + "post_attention_layernorm")
        gated = families.activation(f.act, linear(x, p + "mlp.gate_proj")) * linear(x, p + "mlp.up_proj")
        h = h + linear(gated, p + "mlp.down_proj")
        rows.append(h)
    head = w["model.embed_tokens.weight"] if f.tied else w["lm_head.weight"]
    return rows, (lambda x: rms_norm(x, "model.norm")), head


def loss_and_gradients(cfg, params, ids, lens_weight, lens_rows):
    """ids (B, T+1): the loss parts and every parameter's gradient (name -> float64 tensor, zeros for a
    parameter the loss does not reach)."""
    for t in params.values():
        t.grad = None
    inputs, targets = ids[:, :-1].long(), ids[:, 1:].long()
    w = Weights(params)
    family = cfg.get("model_type")
    rows, final_norm, head = (gpt2_rows if family == "gpt2" else llama_rows)(cfg, w, inputs)
    V = head.shape[0]

    def row_ce(x):  # the mean over the B*T positions of -log p(next token), through the lens
        logits = final_norm(x) @ head.T
        return torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))

    ces = [row_ce(x) for x in rows]
    L = len(rows) - 1
    final_ce = ces[L]
    lens_ce = sum(ces[l] for l in lens_rows) / len(lens_rows) if lens_weight != 0 and lens_rows else None
    loss = final_ce + lens_weight * lens_ce if lens_ce is not None else final_ce
    loss.backward()
    grads = {name: (t.grad if t.grad is not None else torch.zeros_like(t)).detach() for name, t in params.items()}
    parts = {"loss.total": loss.detach().reshape(1), "loss.final_ce": final_ce.detach().reshape(1),
             "loss.lens_ce": (lens_ce.detach() if lens_ce is not None else torch.zeros((), dtype=torch.float64)).reshape(1),
             "loss.row_ce": torch.stack([c.detach() for c in ces])}
    return {k: v.to(torch.float64) for k, v in parts.items()}, grads


def main(argv):
    if len(argv) < 5 or (len(argv) - 2) % 4 != 0 or any(a != "--case" for a in argv[2::4]):
        raise SystemExit(__doc__)
    model_dir, windows = argv[0], argv[1]
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    L = cfg.get("n_layer", cfg.get("num_hidden_layers"))
    params = load_parameters(model_dir)
    ids = families.read_safetensors(windows)["ids"]
    if ids.dim() != 2 or ids.shape[1] < 2:
        raise SystemExit("%s: ids must be (B, T+1) with T >= 1" % windows)
    for k in range(2, len(argv), 4):
        lens_weight, rows_text, out_path = float(argv[k + 1]), argv[k + 2], argv[k + 3]
        lens_rows = parse_rows(rows_text, L)
        parts, grads = loss_and_gradients(cfg, params, ids, lens_weight, lens_rows)
        out = {name: g.to(torch.float32) for name, g in grads.items()}
        out.update(parts)
        out["case.lens_weight"] = torch.tensor([lens_weight], dtype=torch.float64)
        out["case.lens_rows"] = torch.tensor(lens_rows, dtype=torch.int32)
        families.write_safetensors(out_path, out)
        print("reference: lambda %g rows %s: loss %.9f final CE %.9f lens CE %.9f" % (
            lens_weight, rows_text, float(parts["loss.total"]), float(parts["loss.final_ce"]),
            float(parts["loss.lens_ce"])))


if __name__ == "__main__":
    torch.set_default_dtype(torch.float32 if os.environ.get("REFERENCE_FLOAT32") == "1" else torch.float64)
    main(sys.argv[1:])
