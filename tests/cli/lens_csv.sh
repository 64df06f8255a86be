#!/usr/bin/env bash
# loupe lens --format csv, read back with Python's csv module and compared
# value by value with the JSON of the same run; the text holds commas and
# quotes so that RFC 4180 quoting is exercised.
set -euo pipefail
LOUPE=${1:?usage: lens_csv.sh path/to/loupe}
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
python3 - "$LOUPE" <<'PY'
import csv
import io
import sys
from lens_reference import Vocabulary, check, run, run_json

loupe = sys.argv[1]
text = 'And God said, "Let there be light," and there was light.'
columns = ["layer_index", "layer", "position", "input_id", "input_text", "target_id", "target_text", "top1_id",
           "top1_text", "top1_prob", "target_prob", "target_logit", "target_rank", "input_prob", "input_rank",
           "final_top_id", "final_top_prob", "final_top_rank", "entropy", "kl_final", "kl_final_rev", "kl_first",
           "kl_first_rev"]

def compare(args, top_columns=1):
    """CSV against JSON of the same args; top_columns K > 1: the run gives --topk K (in args), which adds
    top2_* .. topK_* after the other columns."""
    lens = run_json(loupe, "lens", "--format", "json", *args, text)
    out, _, _ = run(loupe, "lens", "--format", "csv", *args, text)
    vocab = Vocabulary(lens["model"]["directory"])
    records = list(csv.reader(io.StringIO(out, newline="")))
    extra = ["top%d_%s" % (k, what) for k in range(2, top_columns + 1) for what in ("id", "text", "prob")]
    check(records[0] == columns + extra, "header %r" % records[0])
    rows, positions = range(*lens["rows"]), range(*lens["positions"])
    check(len(records) - 1 == len(rows) * len(positions), "%d data lines for %d cells" % (len(records) - 1, len(rows) * len(positions)))
    T_all = None
    full = run_json(loupe, "tokenize", "--json", text)
    ids, texts = full["ids"], full["tokens"]
    T_all = len(ids)
    at = 1
    for i, r in enumerate(rows):
        for j, t in enumerate(positions):
            record = dict(zip(columns + extra, records[at]))
            check(len(records[at]) == len(columns + extra), "line %d has %d fields" % (at, len(records[at])))
            at += 1
            cell = lens["cells"][i][j]
            where = "csv (%d, %d)" % (r, t)
            def same_float(name, value):
                check(float(record[name]) == value, "%s: %s %s != json %r" % (where, name, record[name], value))
            check(int(record["layer_index"]) == r and record["layer"] == lens["layers"][i], where + ": layer")
            check(int(record["position"]) == t, where + ": position")
            check(int(record["input_id"]) == ids[t] and record["input_text"] == texts[t], where + ": input %r" % record["input_text"])
            if t + 1 < T_all:
                check(int(record["target_id"]) == cell["target"]["id"] == ids[t + 1], where + ": target_id")
                check(record["target_text"] == texts[t + 1], where + ": target_text %r" % record["target_text"])
                same_float("target_prob", cell["target"]["prob"])
                same_float("target_logit", cell["target"]["logit"])
                check(int(record["target_rank"]) == cell["target"]["rank"], where + ": target_rank")
            else:
                for name in ("target_id", "target_text", "target_prob", "target_logit", "target_rank"):
                    check(record[name] == "", where + ": %s not empty at the last position" % name)
            check(int(record["top1_id"]) == cell["top"][0][0], where + ": top1_id")
            check(record["top1_text"] == vocab.text(cell["top"][0][0]), where + ": top1_text %r" % record["top1_text"])
            same_float("top1_prob", cell["top"][0][1])
            same_float("input_prob", cell["input"]["prob"])
            check(int(record["input_rank"]) == cell["input"]["rank"], where + ": input_rank")
            check(int(record["final_top_id"]) == cell["final_top"]["id"], where + ": final_top_id")
            same_float("final_top_prob", cell["final_top"]["prob"])
            check(int(record["final_top_rank"]) == cell["final_top"]["rank"], where + ": final_top_rank")
            for name in ("entropy", "kl_final", "kl_final_rev", "kl_first", "kl_first_rev"):
                same_float(name, cell[name])
            check(len(cell["top"]) >= top_columns, where + ": the JSON has %d top tokens" % len(cell["top"]))
            for k in range(2, top_columns + 1):
                top_id, top_prob = cell["top"][k - 1]
                check(int(record["top%d_id" % k]) == top_id, where + ": top%d_id" % k)
                check(record["top%d_text" % k] == vocab.text(top_id), where + ": top%d_text %r" % (k, record["top%d_text" % k]))
                same_float("top%d_prob" % k, top_prob)
    return out, texts

out, texts = compare([])
# the text really exercised the quoting: a token that is a quote and one with a comma
check(' "' in texts and ',"' in texts and "," in texts, "the text tokenized differently: %r" % texts)
# RFC 4180 by hand: ' "' -> " """, ',"' -> ",""", ',' -> ","
for field in ('," """,', ',",""",', ',",",'):
    check(field in out, "no field %s in the CSV" % field)
for line in out.split("\n")[1:]:
    check("\r" not in line, "CR in a line")
compare(["--layers", "-2:", "--positions", "3:7", "--subblocks"])
# --topk K adds the top2 .. topK columns; --topk 1 and no --topk leave the header as it is
compare(["--topk", "4"], top_columns=4)
compare(["--topk", "3", "--layers", "2:4", "--positions", "-3:"], top_columns=3)
compare(["--topk", "1"])
print("ok: lens csv matches json")
PY
