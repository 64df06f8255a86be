#!/usr/bin/env bash
# loupe compare --model A --model B: against each model's own `loupe lens`
# JSON (the target's probability and rank and the top-1 of every cell in
# A and in B, the differences B - A), KL >= 0 in both directions and 0 for a
# model against itself; the table marks '*' exactly where the top-1s
# differ; the SVG heatmap has one cell per row and position, the PNG its
# size. (The KLs themselves are held to transformers' lens logits in
# tests/test_lens_compare.c.)
set -euo pipefail
LOUPE=${1:?usage: compare.sh path/to/loupe}
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
models=${LOUPE_MODELS:-$(cd "$(dirname "$0")/../.." && pwd)/models}
python3 - "$LOUPE" "$models/gpt2-demo" <<'PY'
import json, os, re, struct, sys, tempfile
from lens_reference import check, run, run_json

loupe, gelu = sys.argv[1:3]
work = tempfile.mkdtemp()
# model B: gpt2-demo's weights and tokenizer run with ReLU (a linked folder, its config changed)
relu = os.path.join(work, "gpt2-demo-relu")
os.mkdir(relu)
for name in os.listdir(gelu):
    if name != "config.json": os.symlink(os.path.join(gelu, name), os.path.join(relu, name))
config = json.load(open(os.path.join(gelu, "config.json")))
config["activation_function"] = "relu"
json.dump(config, open(os.path.join(relu, "config.json"), "w"))
text = "In the beginning God created the heaven and the earth."

def close(a, b, tolerance=2e-5):
    return abs(a - b) <= tolerance * max(1.0, abs(b)) or abs(a - b) <= 1e-7

compared = run_json(loupe, "compare", "--model", gelu, "--model", relu, "--format", "json", text)
lens_a = run_json(loupe, "lens", "--model", gelu, "--format", "json", "--topk", "1", text)
lens_b = run_json(loupe, "lens", "--model", relu, "--format", "json", "--topk", "1", text)
check(compared["schema"] == "loupe.compare/1" and compared["tokens"] == lens_a["tokens"], "tokens")
check(compared["layers"] == lens_a["layers"], "layers")
check(compared["models"]["a"]["activation"] == "gelu_new" and compared["models"]["b"]["activation"] == "relu", "models")
T, differing = len(compared["tokens"]), 0
for r, row in enumerate(compared["cells"]):
    for t, cell in enumerate(row):
        a, b = lens_a["cells"][r][t], lens_b["cells"][r][t]
        check(cell["kl_ab"] >= 0 and cell["kl_ba"] >= 0, "KL < 0 at (%d, %d)" % (r, t))
        check(cell["top_a"]["id"] == a["top"][0][0] and cell["top_b"]["id"] == b["top"][0][0], "top-1 at (%d, %d)" % (r, t))
        check(close(cell["top_a"]["prob"], a["top"][0][1]) and close(cell["top_b"]["prob"], b["top"][0][1]),
              "top-1 probability at (%d, %d)" % (r, t))
        differing += cell["top_a"]["id"] != cell["top_b"]["id"]
        if t + 1 < T:
            target = cell["target"]
            check(target["id"] == a["target"]["id"] == b["target"]["id"], "target id at (%d, %d)" % (r, t))
            check(target["rank_a"] == a["target"]["rank"] and target["rank_b"] == b["target"]["rank"],
                  "target rank at (%d, %d)" % (r, t))
            check(close(target["prob_a"], a["target"]["prob"]) and close(target["prob_b"], b["target"]["prob"]),
                  "target probability at (%d, %d): %r vs %r, %r" % (r, t, target, a["target"], b["target"]))
            check(target["rank_diff"] == target["rank_b"] - target["rank_a"], "rank_diff")
            check(close(target["prob_diff"], target["prob_b"] - target["prob_a"]), "prob_diff")
        else:
            check("target" not in cell, "a target at the last position")
check(differing > 0, "GELU and ReLU should disagree somewhere")

itself = run_json(loupe, "compare", "--model", gelu, "--model", gelu, "--format", "json", "--subblocks", text)
check(len(itself["layers"]) == 13 and all(c["kl_ab"] == 0 and c["kl_ba"] == 0 and c["top_a"] == c["top_b"]
                                          for row in itself["cells"] for c in row), "a model against itself")

# the table: KL(A || B) with '*' where the top-1s differ, the last row first
out, _, _ = run(loupe, "compare", "--model", gelu, "--model", relu, text)
lines = out.splitlines()
check(len(lines) == 2 + len(compared["layers"]), "table lines: %d" % len(lines))
for line, r in zip(lines[2:], reversed(range(len(compared["layers"])))):
    words = line.split()
    check(words[0] == compared["layers"][r] and len(words) == 1 + T, "table row %r" % line)
    for t, word in enumerate(words[1:]):
        cell = compared["cells"][r][t]
        check(word.endswith("*") == (cell["top_a"]["id"] != cell["top_b"]["id"]), "marker at (%d, %d)" % (r, t))
        check(close(float(word.rstrip("*")), cell["kl_ab"], 5e-3), "table value at (%d, %d)" % (r, t))

# the heatmap
svg, png = os.path.join(work, "c.svg"), os.path.join(work, "c.png")
out, _, _ = run(loupe, "compare", "--model", gelu, "--model", relu, "--plot", svg, text)
check(out == "", "--plot alone prints nothing")
picture = open(svg).read()
check(picture.count('class="cell"') == T * len(compared["layers"]), "SVG cells")
width = float(re.search(r'<svg[^>]* width="([0-9.]+)', picture).group(1))
run(loupe, "compare", "--model", gelu, "--model", relu, "--plot", png, "--dpi", "192", text)
data = open(png, "rb").read(24)
check(data[:8] == b"\x89PNG\r\n\x1a\n" and abs(struct.unpack(">I", data[16:20])[0] - 2 * width) <= 2, "PNG width")
print("compare: ok")
PY
