#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<name>/seed_* from the real files in
tests/data and models/gpt2-demo, each small (a few KB): subsets that stay
valid (a safetensors file of a few real tensors, the first merges and the
tokens they need) plus the real small files whole. Run from anywhere:
    python3 fuzz/make_seeds.py
Only seed_* files are rewritten; inputs the fuzzers added are left alone."""
import json
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
DEMO = ROOT / "models" / "gpt2-demo"
CORPUS = ROOT / "fuzz" / "corpus"


def write(name, seed, data):
    folder = CORPUS / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed_{seed}").write_bytes(data if isinstance(data, bytes) else data.encode())


def read_safetensors(path):
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + length]), raw[8 + length:]


def safetensors_bytes(header, data):
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds():
    for model in ("gpt2-tiny-gelu", "gpt2-tiny-bf16", "gpt2-tiny-relu"):
        header, data = read_safetensors(DATA / model / "model.safetensors")
        tensors = [(k, v) for k, v in header.items() if k != "__metadata__"]
        tensors.sort(key=lambda kv: kv[1]["data_offsets"][1] - kv[1]["data_offsets"][0])
        subset, blob = {}, b""
        if "__metadata__" in header:
            subset["__metadata__"] = header["__metadata__"]
        for name, entry in tensors[:6]:  # the smallest real tensors, with their bytes
            begin, end = entry["data_offsets"]
            subset[name] = {"dtype": entry["dtype"], "shape": entry["shape"],
                            "data_offsets": [len(blob), len(blob) + end - begin]}
            blob += data[begin:end]
        write("safetensors", f"{model}_subset", safetensors_bytes(subset, blob))
        # The whole real header with no data: every tensor then runs past the end.
        write("safetensors", f"{model}_header_only", safetensors_bytes(header, b""))
    write("safetensors", "empty_header", safetensors_bytes({}, b""))


def config_seeds():
    for model in ("gpt2-tiny-gelu", "gpt2-tiny-bf16", "gpt2-tiny-relu"):
        write("hf_config", model, (DATA / model / "config.json").read_bytes())
    write("hf_config", "gpt2-demo", (DEMO / "config.json").read_bytes())


def index_seeds():
    text = (DEMO / "model.safetensors.index.json").read_bytes()
    write("shard_index", "gpt2-demo", text)
    index = json.loads(text)
    small = dict(list(index["weight_map"].items())[:4])
    write("shard_index", "gpt2-demo_first4", json.dumps({"metadata": index.get("metadata", {}),
                                                        "weight_map": small}, indent=1))


def tokenizer_subset(n_tokens):
    """The first n_tokens of the GPT-2 vocabulary (ids 0..255 are the bytes)
    and the leading merges whose parts and result all lie in it."""
    vocab = json.loads((DEMO / "vocab.json").read_text(encoding="utf-8"))
    kept = {token: i for token, i in vocab.items() if i < n_tokens}
    lines = ["#version: 0.2"]
    for line in (DEMO / "merges.txt").read_text(encoding="utf-8").splitlines()[1:]:
        left, right = line.split(" ")
        if left in kept and right in kept and left + right in kept:
            lines.append(line)
        if len(lines) > n_tokens:
            break
    return json.dumps(kept, ensure_ascii=False), "\n".join(lines) + "\n"


def texts():
    cases = json.loads((DATA / "gpt2_tokenizer_cases.json").read_text(encoding="utf-8"))["cases"]
    extra = json.loads((DATA / "tokenizer_extra_cases.json").read_text(encoding="utf-8"))
    out = [case["text"].encode() for case in cases]
    out += [bytes.fromhex(case["text_hex"]) for case in extra["encode"] + extra["pretokenizer"]]
    return out


def tokenizer_seeds():
    for n in (300, 1000):
        vocab, merges = tokenizer_subset(n)
        write("vocab", f"gpt2_first{n}", vocab)
        write("tokenizer_files", f"gpt2_first{n}",
              vocab.encode() + b"\0" + merges.encode() + b"\0" + b"The plasma physics department's results")
    merges = (DEMO / "merges.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    for n in (10, 200, 2000):
        write("merges", f"gpt2_first{n}", "".join(merges[:n + 1]))
    for i, text in enumerate(texts()):
        write("bpe_encode", f"case{i:02d}", text)


def hf_added_tokens_seeds():
    """config NUL special map NUL added tokens NUL text: GPT-2's own
    tokenizer_config.json, the legacy files, no files, every flag, and two
    contents of one id."""
    eot = {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False,
           "single_word": False, "special": True}
    gpt2 = {"added_tokens_decoder": {"50256": eot}, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
            "unk_token": "<|endoftext|>", "model_max_length": 1024, "tokenizer_class": "GPT2Tokenizer"}
    legacy_map = {"bos_token": {"content": "<new>", "rstrip": True},
                  "additional_special_tokens": ["<a>", {"content": "<b>", "lstrip": True, "single_word": True}]}
    flags = {"added_tokens_decoder": {"50257": {"content": "[L]", "lstrip": True},
                                      "50258": {"content": "[R]", "rstrip": True, "normalized": False},
                                      "50259": {"content": "w", "single_word": True}}, "pad_token": None}
    seeds = {
        "gpt2_config": [json.dumps(gpt2), "", "", "Hello<|endoftext|> world <|endoftext|"],
        "legacy": [json.dumps({"bos_token": "<|endoftext|>"}), json.dumps(legacy_map),
                   json.dumps({"<new>": 50257, "<plain>": 50258}), "x <new>  y<plain><a> <b> cat<b>"],
        "defaults": ["", "", "", "no files <|endoftext|><|endoftext|>"],
        "flags": [json.dumps(flags), "", "", "a  [L]b[R]  w w. wx"],
        "same_id": [json.dumps({"bos_token": "<|endoftext|>"}), json.dumps(legacy_map),
                    json.dumps({"<new>": 50258, "<plain>": 50258}), "x <new>  y<plain><a> <b> cat<b>"],
    }
    for name, parts in seeds.items():
        write("hf_added_tokens", name, "\0".join(parts).encode())


if __name__ == "__main__":
    safetensors_seeds()
    config_seeds()
    index_seeds()
    tokenizer_seeds()
    hf_added_tokens_seeds()
