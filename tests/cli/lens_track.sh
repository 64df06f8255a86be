#!/usr/bin/env bash
# loupe lens --track: the tracked tokens of every cell against the other
# fields of the same JSON (the true next token, the top-100 list, whose ranks
# and probabilities come from the lens's own sweep, not from the tracking
# pass); a token given as text against vocab.json; the table's --token
# track:N values against the JSON, and the SVG's cells (PNG: another picture
# than the final top-1's); bad --track values refused with status 2.
# (tests/test_lens.c holds the tracked values to transformers' lens logits.)
set -euo pipefail
LOUPE=${1:?usage: lens_track.sh path/to/loupe}
# under ASan: fontconfig's process-wide caches (used by --plot) are not leaks of ours
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
python3 - "$LOUPE" <<'PY'
import sys
from lens_reference import Vocabulary, check, parse_plain_table, run, run_json

loupe = sys.argv[1]
text = "And God said, Let there be light"
plain = run_json(loupe, "lens", "--format", "json", "--topk", "100", text)
vocab = Vocabulary(plain["model"]["directory"])
ids = [token["id"] for token in plain["tokens"]]
the = next(i for i, raw in vocab.bytes.items() if raw == b" the")
light = ids[-1]
tracked_ids = [the, light, 0, ids[1]]
lens = run_json(loupe, "lens", "--format", "json", "--topk", "100", "--track", " the", "--track", str(light),
                "--track", "0", "--track", str(ids[1]), text)
check(lens["options"]["track"] == tracked_ids, "options.track %s, expected %s" % (lens["options"]["track"], tracked_ids))
check("track" not in plain["options"], "options.track without --track")

def close(a, b, tolerance):
    return abs(a - b) <= tolerance * (1 + abs(b))

compared_top = compared_target = 0
for i, (row, plain_row) in enumerate(zip(lens["cells"], plain["cells"])):
    for j, (cell, plain_cell) in enumerate(zip(row, plain_row)):
        check("tracked" not in plain_cell, "tracked tokens without --track")
        where = "cells[%d][%d]" % (i, j)
        for key in ("top", "input", "final_top", "entropy", "kl_final"):
            check(cell[key] == plain_cell[key], where + ": --track changed " + key)
        check([t["id"] for t in cell["tracked"]] == tracked_ids, where + ": tracked ids")
        top_rank = {token_id: k + 1 for k, (token_id, _) in enumerate(cell["top"])}
        top_prob = dict((token_id, prob) for token_id, prob in cell["top"])
        probs = [prob for _, prob in cell["top"]]
        for token in cell["tracked"]:
            check(0 <= token["prob"] <= 1 and token["rank"] >= 1, where + ": tracked value out of range")
            if token["id"] in top_rank and probs.count(top_prob[token["id"]]) == 1:
                check(token["rank"] == top_rank[token["id"]],
                      "%s: tracked %d has rank %d, top list says %d" % (where, token["id"], token["rank"],
                                                                         top_rank[token["id"]]))
                check(close(token["prob"], top_prob[token["id"]], 1e-5), where + ": tracked prob vs top list")
                compared_top += 1
            if "target" in cell and token["id"] == cell["target"]["id"]:
                target = cell["target"]
                check(close(token["prob"], target["prob"], 1e-5) and close(token["logit"], target["logit"], 1e-5),
                      where + ": tracked target's prob/logit %s vs %s" % (token, target))
                check(abs(token["rank"] - target["rank"]) <= 1, where + ": tracked target's rank")
                compared_target += 1
            if token["id"] == cell["input"]["id"]:
                check(close(token["prob"], cell["input"]["prob"], 1e-5), where + ": tracked input's prob")
check(compared_top >= 10 and compared_target >= 10, "too few cells compared: %d, %d" % (compared_top, compared_target))

# the table coloured by a tracked token's rank shows those ranks
out, _, _ = run(loupe, "lens", "--track", "0", "--track", " the", "--token", "track:2", "--metric", "rank",
                "--values", "--width", "400", text, env={"NO_COLOR": "1"})
blocks = parse_plain_table(out, len(lens["layers"]))
check(len(blocks) == 1, "the table wrapped")
for name, words in blocks[0]["rows"]:
    i = lens["layers"].index(name)
    values = [int(word) for _, word in words[1::2]]
    expected = [cell["tracked"][0]["rank"] for cell in lens["cells"][i]]
    check(values == expected, "row %s: table ranks %s, JSON %s" % (name, values, expected))
check("  token:  track:2 = \u2423the (id %d)" % the in out.split("\n"), "the legend does not name track:2")

# loupe plot of the saved JSON draws the same picture as the run
import json, os, tempfile
with tempfile.TemporaryDirectory() as tmp:
    saved = os.path.join(tmp, "lens.json")
    out, _, _ = run(loupe, "lens", "--format", "json", "--track", " the", text)
    open(saved, "w", encoding="utf-8").write(out)
    run(loupe, "lens", "--track", " the", "--token", "track:1", "--metric", "rank", "--plot", os.path.join(tmp, "a.svg"), text)
    run(loupe, "plot", "--token", "track:1", "--metric", "rank", "--plot", os.path.join(tmp, "b.svg"), saved)
    check(open(os.path.join(tmp, "a.svg"), "rb").read() == open(os.path.join(tmp, "b.svg"), "rb").read(),
          "loupe plot of the saved lens draws another picture than the run")
    # the SVG's cells carry the tracked token's ranks, and its title names the token
    import xml.etree.ElementTree as ET
    svg = ET.parse(os.path.join(tmp, "a.svg")).getroot()
    saved_lens = json.loads(out)
    ns = "{http://www.w3.org/2000/svg}"
    drawn = 0
    for g in svg.iter(ns + "g"):
        if g.get("class") != "cell":
            continue
        row = saved_lens["layers"].index(g.get("data-layer"))
        position = int(g.get("data-position")) - saved_lens["positions"][0]
        rank = saved_lens["cells"][row][position]["tracked"][0]["rank"]
        check(g.get("data-value") == str(rank), "SVG cell %s/%d: value %s, tracked rank %d" % (g.get("data-layer"), position, g.get("data-value"), rank))
        drawn += 1
    check(drawn == len(saved_lens["layers"]) * len(saved_lens["tokens"]), "%d SVG cells" % drawn)
    title = "".join(svg.find(ns + "title").itertext())
    check(("track:1 = \u2423the (id %d)" % the) in title, "the SVG's title does not name track:1: " + title)
    # a PNG follows the tracked token too: another picture than the final top-1's
    run(loupe, "lens", "--track", " the", "--token", "track:1", "--metric", "rank", "--plot", os.path.join(tmp, "t.png"), text)
    run(loupe, "lens", "--track", " the", "--metric", "rank", "--plot", os.path.join(tmp, "f.png"), text)
    png = open(os.path.join(tmp, "t.png"), "rb").read()
    check(png[:8] == b"\x89PNG\r\n\x1a\n" and png != open(os.path.join(tmp, "f.png"), "rb").read(),
          "the PNG with --token track:1 is the final top-1's picture")
    _, err, status = run(loupe, "plot", "--token", "track:2", "--plot", os.path.join(tmp, "c.svg"), saved, expect=None)
    check(status == 2 and "only 1 token is tracked" in err, "plot --token track:2: %d %s" % (status, err))

# refused: more than one token, an id beyond the vocabulary, track:N beyond the tracked tokens
for args, message in [(["--track", " Paris Hilton"], "is 2 tokens, not one"),
                      (["--track", "50257"], "50257 is not a token id below 50257"),
                      (["--track", "5", "--token", "track:2"], "only 1 token is tracked"),
                      (["--token", "track:0"], "expected a whole number from 1 to 16")]:
    _, err, status = run(loupe, "lens", *args, text, expect=None)
    check(status == 2 and message in err, "%s: status %d, stderr %s" % (args, status, err))
print("lens --track: %d cells against the top list, %d against the target" % (compared_top, compared_target))
PY
