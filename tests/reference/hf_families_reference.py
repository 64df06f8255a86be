"""An independent PyTorch reference for loupe's rotary families (llama, mistral, qwen2, qwen3, gemma,
gpt_neox), written from the definitions in Hugging Face transformers' modeling_<family>.py and
modeling_rope_utils.py: reads a model folder (config.json + model.safetensors), runs the model on fixed ids
in float32 and writes reference.safetensors in the layout of the transformers fixtures in tests/data:
  input_ids (T) int32
  hidden.0 .. hidden.L (T, C): hidden_states as transformers returns them (the last after the final norm)
  attn.1 .. attn.L (T, C): the residual after each block's attention sub-block (parallel residual: x + attn)
  lens_logits (L + 1, T, V): head(final_norm(hidden.i)) for i < L, then the model's own logits
  attn_out.1 .. attn_out.L, mlp_out.1 .. mlp_out.L (T, C): what each block's attention and MLP add to the residual
  attribution (1 + 2L, T, 2): the direct logit attribution of the embedding, then of attn_out.N and mlp_out.N for
    each N, to the next token's logit (NaN at the last position) and to the final top-1's, as TransformerLens's
    apply_ln: each component centred (LayerNorm) and divided by the final norm's scale of the final residual

usage: python3 hf_families_reference.py MODEL_DIR [IDS]
IDS: comma-separated token ids (default: 16 fixed pseudo-random ones)
"""
import json
import math
import os
import struct
import sys

import torch

DTYPES = {"F64": (torch.float64, 8), "F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2), "I32": (torch.int32, 4)}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, size = DTYPES[info["dtype"]]
        start, end = info["data_offsets"]
        raw = bytearray(data[base + start:base + end])
        if dtype == torch.bfloat16:  # bf16 -> f32: the 16 bits become the high half
            halves = torch.frombuffer(raw, dtype=torch.int16).to(torch.int32) & 0xFFFF
            t = (halves << 16).view(torch.float32)
        else:
            t = torch.frombuffer(raw, dtype=dtype)
            t = t if dtype in (torch.int32, torch.float64) else t.to(torch.float32)
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        code = {torch.int32: "I32", torch.float64: "F64"}.get(t.dtype, "F32")
        blob = (t if code != "F32" else t.to(torch.float32)).numpy().tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


class Family:
    """What each family's modeling file does differently."""

    def __init__(self, cfg):
        t = cfg["model_type"]
        self.type = t
        self.C = cfg["hidden_size"]
        self.H = cfg["num_attention_heads"]
        self.KV = cfg.get("num_key_value_heads") or self.H
        default_head_dim = {"qwen3": 128, "gemma": 256}.get(t, self.C // self.H)
        self.D = cfg.get("head_dim") or default_head_dim
        self.L = cfg["num_hidden_layers"]
        if t == "gpt_neox":
            self.eps = cfg.get("layer_norm_eps", 1e-5)
            self.act = cfg.get("hidden_act", "gelu")
            self.parallel = cfg.get("use_parallel_residual", True)
            self.partial = cfg.get("rotary_pct", cfg.get("partial_rotary_factor", 0.25))
            self.theta = cfg.get("rotary_emb_base", cfg.get("rope_theta", 10000.0))
        else:
            self.eps = cfg.get("rms_norm_eps", 1e-6)
            self.act = (cfg.get("hidden_activation") or "gelu_pytorch_tanh") if t == "gemma" else cfg.get("hidden_act", "silu")
            self.parallel = False
            self.partial = cfg.get("partial_rotary_factor", 1.0)
            self.theta = cfg.get("rope_theta", 10000.0)
        rope = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
        if "rope_parameters" in cfg and cfg["rope_parameters"]:
            self.theta = rope.get("rope_theta", self.theta)
            self.partial = rope.get("partial_rotary_factor", self.partial)
        self.rope = rope
        self.rope_type = rope.get("rope_type", rope.get("type", "default"))
        self.window = cfg.get("sliding_window") if t == "mistral" else None
        if t == "mistral" and "sliding_window" not in cfg:
            self.window = 4096
        self.tied = cfg.get("tie_word_embeddings", t == "gemma")
        self.dtype = cfg.get("dtype") or cfg.get("torch_dtype") or "float32"

    # modeling_rope_utils.py: _compute_default/linear/llama3_rope_parameters
    def inv_freq(self):
        dim = int(self.D * self.partial)
        inv = 1.0 / (self.theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
        if self.rope_type == "linear":
            inv = inv / self.rope["factor"]
        elif self.rope_type == "llama3":
            factor, low, high = self.rope["factor"], self.rope["low_freq_factor"], self.rope["high_freq_factor"]
            old = self.rope["original_max_position_embeddings"]
            low_wavelen, high_wavelen = old / low, old / high
            wavelen = 2 * math.pi / inv
            scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
            smooth = (old / wavelen - low) / (high - low)
            smoothed = (1 - smooth) * scaled / factor + smooth * scaled
            medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
            inv = torch.where(medium, smoothed, scaled)
        elif self.rope_type != "default":
            raise SystemExit(f"reference: rope type {self.rope_type} not written")
        return inv


def activation(name, x):
    if name == "silu":
        return torch.nn.functional.silu(x)
    if name in ("gelu_pytorch_tanh", "gelu_new"):
        return torch.nn.functional.gelu(x, approximate="tanh")
    if name == "gelu":
        return torch.nn.functional.gelu(x)
    if name == "relu":
        return torch.relu(x)
    raise SystemExit(f"reference: activation {name} not written")


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x, cos, sin):
    """x (heads, T, D); cos, sin (T, R): the first R dimensions turn (partial rotary), the rest pass."""
    R = cos.shape[-1]
    rot, rest = x[..., :R], x[..., R:]
    return torch.cat((rot * cos + rotate_half(rot) * sin, rest), dim=-1)


def run(folder, given_ids):
    cfg = json.load(open(os.path.join(folder, "config.json")))
    f = Family(cfg)
    w = read_safetensors(os.path.join(folder, "model.safetensors"))
    neox = f.type == "gpt_neox"
    pre = "gpt_neox." if neox else "model."
    V = w[pre + ("embed_in" if neox else "embed_tokens") + ".weight"].shape[0]
    if given_ids is None:
        ids = torch.randint(0, V, (16,), generator=torch.Generator().manual_seed(5))
    else:
        ids = torch.tensor(given_ids, dtype=torch.int64)
    T = len(ids)

    def norm(x, name):
        weight = w[name + ".weight"]
        if neox:
            return torch.nn.functional.layer_norm(x, (f.C,), weight, w[name + ".bias"], f.eps)
        scaled = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + f.eps)
        return scaled * (1.0 + weight) if f.type == "gemma" else weight * scaled

    def linear(x, name, bias=True):
        b = w.get(name + ".bias") if bias else None
        return torch.nn.functional.linear(x, w[name + ".weight"], b)

    inv = f.inv_freq()
    freqs = torch.arange(T).float()[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    allowed = j <= i
    if f.window:
        allowed = allowed & (j > i - f.window)  # masking_utils.sliding_window_overlay
    mask = torch.zeros(T, T).masked_fill(~allowed, float("-inf"))

    def attention(x, p):
        if neox:
            qkv = linear(x, p + "attention.query_key_value").view(T, f.H, 3 * f.D).transpose(0, 1)
            q, k, v = qkv.chunk(3, dim=-1)
        else:
            q = linear(x, p + "self_attn.q_proj").view(T, f.H, f.D).transpose(0, 1)
            k = linear(x, p + "self_attn.k_proj").view(T, f.KV, f.D).transpose(0, 1)
            v = linear(x, p + "self_attn.v_proj").view(T, f.KV, f.D).transpose(0, 1)
            if f.type == "qwen3":
                q, k = norm(q, p + "self_attn.q_norm"), norm(k, p + "self_attn.k_norm")
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        groups = f.H // f.KV
        k, v = k.repeat_interleave(groups, dim=0), v.repeat_interleave(groups, dim=0)
        scores = q @ k.transpose(1, 2) * f.D ** -0.5 + mask
        out = torch.softmax(scores, dim=-1, dtype=torch.float32) @ v
        out = out.transpose(0, 1).reshape(T, f.H * f.D)
        return linear(out, p + ("attention.dense" if neox else "self_attn.o_proj"))

    def mlp(x, p):
        if neox:
            return linear(activation(f.act, linear(x, p + "mlp.dense_h_to_4h")), p + "mlp.dense_4h_to_h")
        gated = activation(f.act, linear(x, p + "mlp.gate_proj")) * linear(x, p + "mlp.up_proj")
        return linear(gated, p + "mlp.down_proj")

    h = w[pre + ("embed_in" if neox else "embed_tokens") + ".weight"][ids]
    if f.type == "gemma":  # normalizer = torch.tensor(hidden_size ** 0.5, dtype=hidden_states.dtype)
        dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(f.dtype, torch.float32)
        h = h * torch.tensor(f.C ** 0.5, dtype=dtype).float()
    hidden, attn_taps, components = [h], [], [h]
    for layer in range(f.L):
        p = f"{pre}layers.{layer}."
        a = attention(norm(h, p + "input_layernorm"), p)
        if f.parallel:
            m = mlp(norm(h, p + "post_attention_layernorm"), p)
            attn_taps.append(h + a)
            h = m + a + h
        else:
            h = h + a
            attn_taps.append(h)
            m = mlp(norm(h, p + "post_attention_layernorm"), p)
            h = h + m
        components += [a, m]
        hidden.append(h)
    final_norm = pre + ("final_layer_norm" if neox else "norm")
    head = w[pre + "embed_tokens.weight"] if f.tied else w["embed_out.weight" if neox else "lm_head.weight"]
    lens = torch.stack([norm(x, final_norm) @ head.T for x in hidden])
    out = {"input_ids": ids.to(torch.int32)}
    for n, x in enumerate(hidden[:-1]):
        out[f"hidden.{n}"] = x
    out[f"hidden.{f.L}"] = norm(hidden[-1], final_norm)
    for n, x in enumerate(attn_taps):
        out[f"attn.{n + 1}"] = x
    out["lens_logits"] = lens
    for n in range(f.L):
        out[f"attn_out.{n + 1}"], out[f"mlp_out.{n + 1}"] = components[1 + 2 * n], components[2 + 2 * n]
    x = hidden[-1]
    weight = w[final_norm + ".weight"] + (1.0 if f.type == "gemma" else 0.0)
    if neox:
        scale = (x.var(-1, unbiased=False, keepdim=True) + f.eps).sqrt()
        center = lambda d: d - d.mean(-1, keepdim=True)
    else:
        scale = (x.pow(2).mean(-1, keepdim=True) + f.eps).sqrt()
        center = lambda d: d
    target = torch.cat([ids[1:], ids[:1]])
    final_top = lens[-1].argmax(-1)
    attribution = torch.zeros(len(components), T, 2)
    for n, d in enumerate(components):
        per_token = (center(d) / scale * weight) @ head.T  # (T, V)
        attribution[n, :, 0] = per_token.gather(1, target[:, None])[:, 0]
        attribution[n, :, 1] = per_token.gather(1, final_top[:, None])[:, 0]
    attribution[:, T - 1, 0] = float("nan")
    out["attribution"] = attribution
    write_safetensors(os.path.join(folder, "reference.safetensors"), out)


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    run(sys.argv[1], [int(x) for x in sys.argv[2].split(",")] if len(sys.argv) > 2 else None)
