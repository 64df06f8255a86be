#!/usr/bin/env bash
# loupe plot on broken lens documents: each is refused with status 1 and a
# one-line message naming the file and the field at fault; never a crash.
set -euo pipefail
LOUPE=${1:?usage: plot_json.sh path/to/loupe}
# under ASan: fontconfig's process-wide caches are not leaks of ours
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")" && pwd)/plot_lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export PYTHONPATH="$(cd "$(dirname "$0")/../data" && pwd)"
python3 - "$LOUPE" <<'PY'
import copy, json, os, sys, tempfile
from lens_reference import check, run

loupe = sys.argv[1]
work = tempfile.mkdtemp()
good = json.loads(run(loupe, "lens", "--format", "json", "--topk", "2", "And God said, Let there")[0])

def broken(name, change, field):
    doc = copy.deepcopy(good)
    text = change(doc)
    path = os.path.join(work, "case%d.json" % len(os.listdir(work)))
    with open(path, "w") as f:
        f.write(text if isinstance(text, str) else json.dumps(doc))
    _, err, code = run(loupe, "plot", "--plot", os.path.join(work, "x.svg"), path, expect=1)
    check(err.count("\n") == 1 and path in err and field in err, "%s: message %r does not name %s" % (name, err, field))

broken("schema", lambda d: d.update(schema="loupe.lens/2"), "schema")
broken("layers", lambda d: d["layers"].__delitem__(-1), "layers")
broken("cells", lambda d: d["cells"][3].__delitem__(-1), "cells[3]")
broken("prob", lambda d: d["cells"][1][2]["top"][0].__setitem__(1, 1.5), "cells[1][2].top[0][1]")
broken("rank", lambda d: d["cells"][0][0]["input"].__setitem__("rank", 0), "cells[0][0].input.rank")
broken("id", lambda d: d["cells"][2][1]["final_top"].__setitem__("id", 10 ** 6), "cells[2][1].final_top.id")
broken("target", lambda d: d["cells"][2][1]["target"].__setitem__("id", 7), "cells[2][1].target.id")
broken("no_target", lambda d: d["cells"][2][1].__delitem__("target"), "cells[2][1].target")
broken("kl", lambda d: d["cells"][0][3].__setitem__("kl_final", None), "cells[0][3].kl_final")
broken("topk", lambda d: d["cells"][0][0]["top"].extend([[1, 0.1], [2, 0.1]]), "cells[0][0].top")
broken("window", lambda d: d.update(rows=[0, 99]), "rows[1]")
broken("tokens", lambda d: d["tokens"][0].__delitem__("text"), "tokens[0].text")
broken("truncated", lambda d: json.dumps(d)[:500], "byte offset")
broken("not_object", lambda d: "[1, 2]", "document")

# a good document plots; an empty command line and no output are usage errors
path = os.path.join(work, "good.json")
json.dump(good, open(path, "w"))
run(loupe, "plot", "--plot", os.path.join(work, "good.png"), path)
run(loupe, "plot", path, expect=2)
run(loupe, "plot", "--plot", os.path.join(work, "g.svg"), expect=2)
print("plot_json: ok")
PY
