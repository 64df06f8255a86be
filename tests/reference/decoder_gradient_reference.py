"""An independent PyTorch autograd reference for the gradient of `loupe finetune`'s loss on the rotary decoder
families loupe trains (llama, mistral, qwen2), written from transformers' LlamaForCausalLM (modeling_llama.py:
LlamaRMSNorm, LlamaRotaryEmbedding, apply_rotary_pos_emb, repeat_kv, eager_attention_forward, LlamaMLP,
LlamaDecoderLayer) and Mistral's sliding window and Qwen2's q/k/v biases, in float64 throughout (transformers
upcasts norms and softmax to float32; in a float64 model that is a downcast, left out here). Only the rotary
angles stay float32 as transformers computes them (inv_freq and position_ids .float(), then cos and sin).

The loss (docs/FINETUNE.md): CE(final row) + lambda / |S| sum_{l in S} CE(lens row l), each CE the mean over the
B T positions of -log p(next token); lens row l = lm_head(norm(hidden_states[l])), hidden_states[0] the
embeddings. Windows: ids (B, T+1), inputs ids[:, :T], targets ids[:, 1:].

usage: python3 decoder_gradient_reference.py B T SEED JOB...
JOB: MODEL_DIR:OUT.safetensors:LAMBDA[:ROWS], ROWS comma-separated lens rows (default: 0 .. L-1); one process
for every job (PyTorch starts once). Each OUT gets input_ids (B, T+1) int32 (random, from SEED), loss, final_ce and
lens_ce, each a double as two float32 (hi, lo) so the C side can compare them to 1e-12, row_ce (L+1, NaN for rows
not in the loss) and grad.NAME for every parameter NAME of model.safetensors (a tied head's gradient is the
embedding's), float32 copies of the float64 values. REFERENCE_FLOAT32=1 runs everything in float32 instead (a
diagnostic: how far float32 arithmetic alone lands from float64).
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_families_reference import Family, activation, read_safetensors, write_safetensors  # noqa: E402


def job(folder, out_path, B, T, seed, lens_weight, rows_text):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    f = Family(cfg)
    if f.type not in ("llama", "mistral", "qwen2"):
        raise SystemExit(f"reference: model type {f.type} not written")
    rows = [int(x) for x in rows_text.split(",")] if rows_text else list(range(f.L))
    raw = read_safetensors(os.path.join(folder, "model.safetensors"))
    dtype = torch.float32 if os.environ.get("REFERENCE_FLOAT32") else torch.float64  # float32: a diagnostic
    w = {name: t.to(dtype).requires_grad_(True) for name, t in raw.items() if t.dtype != torch.int32}
    V = w["model.embed_tokens.weight"].shape[0]
    ids = torch.randint(0, V, (B, T + 1), generator=torch.Generator().manual_seed(seed))
    inputs, targets = ids[:, :T], ids[:, 1:]

    # LlamaRMSNorm: weight * x * rsqrt(mean(x^2) + eps)
    def norm(x, name):
        return w[name + ".weight"] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + f.eps))

    def linear(x, name):
        return torch.nn.functional.linear(x, w[name + ".weight"], w.get(name + ".bias"))

    # LlamaRotaryEmbedding.forward: freqs = inv_freq.float() @ position_ids.float(), emb = cat(freqs, freqs)
    inv = f.inv_freq()
    freqs = torch.arange(T).float()[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)

    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    def rope(x):  # apply_rotary_pos_emb on (B, heads, T, D), partial rotary as in the families that have it
        R = cos.shape[-1]
        rot, rest = x[..., :R], x[..., R:]
        return torch.cat((rot * cos + rotate_half(rot) * sin, rest), dim=-1)

    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    allowed = j <= i
    if f.window:
        allowed = allowed & (j > i - f.window)
    mask = torch.zeros(T, T, dtype=dtype).masked_fill(~allowed, float("-inf"))

    def attention(x, p):  # LlamaAttention with eager_attention_forward
        q = linear(x, p + "self_attn.q_proj").view(B, T, f.H, f.D).transpose(1, 2)
        k = linear(x, p + "self_attn.k_proj").view(B, T, f.KV, f.D).transpose(1, 2)
        v = linear(x, p + "self_attn.v_proj").view(B, T, f.KV, f.D).transpose(1, 2)
        q, k = rope(q), rope(k)
        groups = f.H // f.KV  # repeat_kv
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        scores = q @ k.transpose(2, 3) * f.D ** -0.5 + mask
        out = torch.softmax(scores, dim=-1) @ v
        return linear(out.transpose(1, 2).reshape(B, T, f.H * f.D), p + "self_attn.o_proj")

    def mlp(x, p):  # LlamaMLP: down(act(gate(x)) * up(x))
        return linear(activation(f.act, linear(x, p + "mlp.gate_proj")) * linear(x, p + "mlp.up_proj"),
                      p + "mlp.down_proj")

    h = w["model.embed_tokens.weight"][inputs]
    hidden = [h]
    for layer in range(f.L):  # LlamaDecoderLayer
        p = f"model.layers.{layer}."
        h = h + attention(norm(h, p + "input_layernorm"), p)
        h = h + mlp(norm(h, p + "post_attention_layernorm"), p)
        hidden.append(h)
    head = w["model.embed_tokens.weight"] if f.tied else w["lm_head.weight"]

    def mean_ce(x):
        logits = norm(x, "model.norm") @ head.T
        return torch.nn.functional.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T))

    row_ce = torch.full((f.L + 1,), float("nan"), dtype=dtype)
    final = mean_ce(hidden[-1])
    row_ce[f.L] = final.detach()
    loss = final
    lens_ce = torch.zeros((), dtype=dtype)
    if lens_weight > 0 and rows:
        terms = []
        for r in rows:
            ce = mean_ce(hidden[r])
            row_ce[r] = ce.detach()
            terms.append(ce)
        lens_ce = torch.stack(terms).mean()
        loss = final + lens_weight * lens_ce
    loss.backward()

    def split(x):  # a double as two floats, hi + lo
        hi = torch.tensor([float(x)], dtype=torch.float32)
        lo = torch.tensor([float(x) - float(hi)], dtype=torch.float32)
        return torch.cat((hi, lo))

    out = {"input_ids": ids.to(torch.int32), "loss": split(loss), "final_ce": split(final), "lens_ce": split(lens_ce),
           "row_ce": row_ce.float()}
    for name, t in w.items():
        grad = t.grad if t.grad is not None else torch.zeros_like(t)
        out["grad." + name] = grad.float()
    write_safetensors(out_path, out)
    print(f"reference {folder}: loss {float(loss):.10f} final CE {float(final):.10f} lens CE {float(lens_ce):.10f}")


if __name__ == "__main__":
    B, T, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    for spec in sys.argv[4:]:
        parts = spec.split(":")
        job(parts[0], parts[1], B, T, seed, float(parts[2]), parts[3] if len(parts) > 3 else "")
