#!/usr/bin/env python3
"""Checks that the PyTorch baseline (bench/lens_torch.py --dump) computes the
same statistics as `loupe lens --format json`, before either is timed.

usage: check_torch_agreement.py LOUPE_JSON TORCH_DUMP
Compares every cell: top-1 id, the target/input/final_top ids, ranks (a
rank may differ by the number of near-ties within float32 rounding, so
at most 1% + 1), probabilities and logits (1e-3 absolute + relative),
entropy and the four KLs (1e-3 absolute + relative: PyTorch computes them
in float32). Prints a summary; exits 1 on disagreement.
"""
import json
import sys


def close(a, b, tolerance=1e-3):
    return abs(a - b) <= tolerance * (1.0 + abs(b))


def main():
    with open(sys.argv[1]) as f:
        ours = json.load(f)
    with open(sys.argv[2]) as f:
        torch_rows = json.load(f)
    n_positions = len(ours["tokens"])
    failures, checks, worst = 0, 0, {}
    for r, (cells, row) in enumerate(zip(ours["cells"], torch_rows)):
        for t, cell in enumerate(cells):
            pairs = [(cell[k], row[k][t], k) for k in ("entropy", "kl_final", "kl_final_rev", "kl_first", "kl_first_rev")]
            for name in ("target", "input", "final_top"):
                if name == "target" and t == n_positions - 1:
                    continue
                token = cell[name]
                pairs += [(token["prob"], row[name + "_prob"][t], name + ".prob"),
                          (token["logit"], row[name + "_logit"][t], name + ".logit")]
                rank_ok = abs(token["rank"] - row[name + "_rank"][t]) <= 1 + 0.01 * token["rank"]
                checks += 1
                if not rank_ok:
                    failures += 1
                    print(f"row {r} position {t}: {name} rank {token['rank']} vs {row[name + '_rank'][t]}")
            pairs.append((cell["top"][0][1], row["top_probs"][t][0], "top[0].prob"))
            checks += 1
            if cell["top"][0][0] != row["top_ids"][t][0] and not close(row["top_probs"][t][0], row["top_probs"][t][1], 1e-5):
                failures += 1
                print(f"row {r} position {t}: top-1 {cell['top'][0][0]} vs {row['top_ids'][t][0]}")
            for a, b, name in pairs:
                checks += 1
                worst[name] = max(worst.get(name, 0.0), abs(a - b) / (1.0 + abs(b)))
                if not close(a, b):
                    failures += 1
                    print(f"row {r} position {t}: {name} {a} vs {b}")
    print(f"{checks} checks over {len(ours['cells'])} rows x {n_positions} positions, {failures} failures")
    print("largest relative differences: " + ", ".join(f"{k} {v:.2g}" for k, v in sorted(worst.items())))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
