#!/usr/bin/env bash
# loupe lens --format json on the embedded model, checked field by field
# against `loupe info`, `loupe tokenize`, `loupe next` and the properties of
# the metrics (docs/METRICS.md, docs/LENS_JSON.md).
set -euo pipefail
LOUPE=${1:?usage: lens_json.sh path/to/loupe}
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
python3 - "$LOUPE" <<'PY'
import math
import sys
from lens_reference import check, run, run_json

loupe = sys.argv[1]
text = "In the beginning God created the heaven and the earth."
info = run_json(loupe, "info", "--json")
tokens = run_json(loupe, "tokenize", "--json", text)
nxt = run_json(loupe, "next", "--json", "--topk", "3", text)
lens = run_json(loupe, "lens", "--format", "json", text)
L, V = info["n_layer"], info["n_vocab"]
T = len(tokens["ids"])

check(lens["schema"] == "loupe.lens/1", "schema is %r" % lens["schema"])
for key in ("n_layer", "n_embd", "n_head", "n_vocab", "n_ctx", "directory"):
    check(lens["model"][key] == info[key], "model.%s %r != info %r" % (key, lens["model"][key], info[key]))
check(lens["model"]["name"] == info["directory"].rstrip("/").split("/")[-1], "model.name is not the folder's name")
check(lens["options"] == {"topk": 5, "subblocks": False, "precision": "f32"}, "options %r" % lens["options"])
check(lens["rows"] == [0, L + 1] and lens["positions"] == [0, T], "window %r %r" % (lens["rows"], lens["positions"]))
check(lens["layers"] == ["input"] + ["h%d" % i for i in range(1, L + 1)], "layers %r" % lens["layers"])
check([t["id"] for t in lens["tokens"]] == tokens["ids"], "token ids differ from loupe tokenize")
check([t["text"] for t in lens["tokens"]] == tokens["tokens"], "token texts differ from loupe tokenize")
cells = lens["cells"]
check(len(cells) == L + 1 and all(len(row) == T for row in cells),
      "cells are not (%d rows x %d positions)" % (L + 1, T))
check(sum(len(row) for row in cells) == (L + 1) * T, "cell count")

def check_token(where, token, with_logit=True):
    check(0.0 <= token["prob"] <= 1.0, "%s prob %r outside [0, 1]" % (where, token["prob"]))
    check(isinstance(token["rank"], int) and 1 <= token["rank"] <= V, "%s rank %r" % (where, token["rank"]))
    check(0 <= token["id"] < V, "%s id %r" % (where, token["id"]))
    if with_logit:
        check(math.isfinite(token["logit"]), "%s logit %r" % (where, token["logit"]))

for r, row in enumerate(cells):
    for t, cell in enumerate(row):
        where = "cell (%s, %d)" % (lens["layers"][r], t)
        top = cell["top"]
        check(len(top) == 5, where + ": top has %d entries" % len(top))
        probs = [p for _, p in top]
        check(all(0.0 <= p <= 1.0 for p in probs), where + ": top prob outside [0, 1]")
        check(all(probs[i] >= probs[i + 1] for i in range(len(probs) - 1)), where + ": top not sorted")
        check(sum(probs) <= 1.0 + 1e-5, where + ": top probs sum above 1")
        check(len(set(i for i, _ in top)) == len(top), where + ": repeated top id")
        if t + 1 < T:
            check("target" in cell, where + ": no target")
            check(cell["target"]["id"] == tokens["ids"][t + 1], where + ": target is not the next token")
            check_token(where + " target", cell["target"])
            for k, (i, p) in enumerate(top):
                if i == cell["target"]["id"]:
                    check(abs(p - cell["target"]["prob"]) <= 1e-6, where + ": target prob != its top prob")
                    check(cell["target"]["rank"] <= k + 1, where + ": target rank above its top place")
        else:
            check("target" not in cell, where + ": target present at the last position")
        check(cell["input"]["id"] == tokens["ids"][t], where + ": input is not the token at t")
        check_token(where + " input", cell["input"])
        check(cell["final_top"]["id"] == cells[L][t]["top"][0][0], where + ": final_top is not the last row's top-1")
        check_token(where + " final_top", cell["final_top"])
        check(cell["top"][0][1] >= cell["final_top"]["prob"] - 1e-7, where + ": top-1 below final_top")
        check(0.0 <= cell["entropy"] <= math.log(V) + 1e-4, where + ": entropy %r" % cell["entropy"])
        for key in ("kl_final", "kl_final_rev", "kl_first", "kl_first_rev"):
            check(cell[key] >= 0.0, where + ": %s %r < 0" % (key, cell[key]))
        if r == 0:
            check(abs(cell["kl_first"]) <= 1e-6 and abs(cell["kl_first_rev"]) <= 1e-6, where + ": input row kl_first != 0")
        if r == L:
            check(abs(cell["kl_final"]) <= 1e-6 and abs(cell["kl_final_rev"]) <= 1e-6, where + ": last row kl_final != 0")
            check(cell["final_top"]["rank"] == 1, where + ": final_top rank in the last row")

# the last row is the model's own output: compare with `loupe next`
last = cells[L][T - 1]
check(last["top"][0][0] == nxt["next"][0]["id"], "last row top-1 %d != loupe next %d" % (last["top"][0][0], nxt["next"][0]["id"]))
for k in range(3):
    check(last["top"][k][0] == nxt["next"][k]["id"], "last row top-%d differs from loupe next" % (k + 1))
    check(abs(last["top"][k][1] - nxt["next"][k]["prob"]) <= 1e-5, "last row top-%d prob %r vs loupe next %r"
          % (k + 1, last["top"][k][1], nxt["next"][k]["prob"]))

# --topk
small = run_json(loupe, "lens", "--format", "json", "--topk", "2", text)
check(small["options"]["topk"] == 2, "--topk 2 options")
for r in range(L + 1):
    for t in range(T):
        check(small["cells"][r][t]["top"] == cells[r][t]["top"][:2], "--topk 2 is not the first two of --topk 5")

# --subblocks: 2 L + 1 rows, the block rows equal to the plain run's
sub = run_json(loupe, "lens", "--format", "json", "--subblocks", text)
names = ["input"]
for i in range(1, L + 1):
    names += ["h%d.attn" % i, "h%d" % i]
check(sub["layers"] == names, "--subblocks layers %r" % sub["layers"])
check(sub["options"]["subblocks"] is True, "--subblocks option")
check(len(sub["cells"]) == 2 * L + 1 and all(len(row) == T for row in sub["cells"]), "--subblocks cell count")
for i, name in enumerate(lens["layers"]):
    row = sub["cells"][names.index(name)]
    for t in range(T):
        check(row[t]["top"][0][0] == cells[i][t]["top"][0][0], "--subblocks row %s differs at %d" % (name, t))
        # within float32 rounding, relative: BLAS may sum a logit in another
        # order at 2 L + 1 rows (tests/test_lens.c, projection_tolerance);
        # an input-row KL of 47 differs by 1.1e-5 (3 ulps) on OpenBLAS's Zen kernels
        check(abs(row[t]["kl_final"] - cells[i][t]["kl_final"]) <= 1e-5 * (1 + abs(cells[i][t]["kl_final"])),
              "--subblocks %s kl_final at %d" % (name, t))

# windows: the same cells, only fewer of them, with the window stated
window = run_json(loupe, "lens", "--format", "json", "--layers", "1:3", "--positions", "-4:", text)
check(window["rows"] == [1, 3] and window["positions"] == [T - 4, T], "window bounds %r %r" % (window["rows"], window["positions"]))
check(window["layers"] == ["h1", "h2"], "window layers %r" % window["layers"])
check(window["tokens"] == lens["tokens"][T - 4:], "window tokens")
check(window["cells"] == [row[T - 4:] for row in cells[1:3]], "window cells differ from the full run's")
print("ok: lens json, %d rows x %d positions" % (L + 1, T))
PY
