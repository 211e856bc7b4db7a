#!/usr/bin/env python3
"""Fit the word model of a content rule (policy.yaml `model:`) on a corpus.

Reads what `classify_eval --concepts OUT.jsonl --features 1` wrote for a
corpus: per message its class, whether a rule refused it, and per scope unit
the distinct features the classifier computes (policy/classify/word_model.h:
`w:<folded word>`, `p:<its first 5 characters>` for longer words), so the
model sees exactly what the milter will sum.  Fits a logistic regression of
"this message is of the rule's class" by stochastic gradient descent (L2,
`--l2`), ordinary mail weighted `--ordinary-weight` (3) and every other
class 1, features seen in fewer than `--min-count` messages dropped, and
writes the model file: a header saying how it was made, `bias`, then the
features by weight, those under `--min-weight` in size left out.

  build/tests/support/classify_eval --policy etc/policy.yaml \\
      --corpus tests/data/classify/tune --concepts /tmp/tune.jsonl --features 1
  tools/fit_word_model.py /tmp/tune.jsonl --rule promo.marketing \\
      --out etc/models/promo.marketing.tsv
  tools/fit_word_model.py /tmp/tune.jsonl --rule promo.marketing \\
      --leave-out 5xx 6xx 7xx 8xx 9xx

--leave-out fits once per round without it and scores the round held out:
the rule's recall by the rules as they are (`refused`) and by them or the
model at each threshold, and the ordinary mail each refuses.  Rounds are the
corpus's number ranges (tests/data/classify/README.md).  Pure Python.
"""

import argparse
import json
import math
import os
import random
import sys
from collections import Counter, defaultdict


def round_of(path):
    """'5xx' for en/promo.marketing/503.eml, '12xx' for 1203.eml."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return stem[:-2] + "xx" if stem.isdigit() and len(stem) >= 3 else "?"


def load(path, senders):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            m = json.loads(line)
            if "features" not in m:
                sys.exit(f"{path}: no features (run classify_eval with --features 1)")
            if m["from"] in senders:
                out.append(m)
    return out


def message_features(msg):
    """The features of the message's units together: one sample per message."""
    out = set()
    for u in msg["features"]["message"]:
        out.update(u)
    return out


def fit(msgs, rule, args):
    counts = Counter()
    for m in msgs:
        counts.update(message_features(m))
    keep = {f for f, n in counts.items() if n >= args.min_count}
    data = []
    for m in msgs:
        y = 1.0 if m["class"] == rule else 0.0
        cw = 1.0 if y else (args.ordinary_weight if m["class"] == "ordinary" else 1.0)
        data.append((sorted(message_features(m) & keep), y, cw))
    w = defaultdict(float)
    b = 0.0
    rng = random.Random(args.seed)
    order = list(range(len(data)))
    for _ in range(args.epochs):
        rng.shuffle(order)
        for i in order:
            f, y, cw = data[i]
            z = b + sum(w[k] for k in f)
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            g = (p - y) * cw
            for k in f:
                w[k] -= args.rate * (g + args.l2 * w[k])
            b -= args.rate * g
    return b, {k: v for k, v in w.items() if abs(v) >= args.min_weight}


def score(msg, scope, bias, weights):
    """The highest log-odds over the message's units, as the milter adds it up."""
    units = msg["features"][scope] or [[]]
    return max(bias + sum(weights.get(f, 0.0) for f in u) for u in units)


def write_model(out, bias, weights, args, corpus):
    lines = [
        f"# Word model for content rule {args.rule} (policy.yaml `model:`), written by",
        "# tools/fit_word_model.py: logistic regression by SGD on the classifier's features",
        f"# (w:word, p:first five characters) of {corpus}.",
        f"# Positives: {args.rule}; negatives: every other class, ordinary mail weighted "
        f"{args.ordinary_weight:g}; senders: {','.join(args.senders)}.",
        f"# l2 {args.l2:g}, rate {args.rate:g}, {args.epochs} epochs, seed {args.seed}, "
        f"features in at least {args.min_count} messages, |weight| >= {args.min_weight:g} kept.",
        f"bias\t{bias:.4f}",
    ]
    for k, v in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"{k}\t{v:.4f}")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def leave_out(msgs, args):
    """Per round held out: counts of the rule's class and of ordinary mail
    refused by the rules, by the model alone and by either, at each threshold."""
    thresholds = [float(t) for t in args.thresholds.split(",")]
    t0 = thresholds[0]
    print(f"| round | {args.rule} | by the rules | model alone | either "
          f"| ordinary | refused by the rules | by the model | by either |")
    print("|---|---|---|---|---|---|---|---|---|")
    tot = defaultdict(int)

    def line(name, row):
        print(f"| {name} | {row['pos']} | {row['pos_rules']} | {row[f'pos_model_{t0}']} "
              f"| {row[f'pos_{t0}']} | {row['ord']} | {row['ord_rules']} "
              f"| {row[f'ord_model_{t0}']} | {row[f'ord_{t0}']} |")

    for r in args.leave_out:
        train = [m for m in msgs if round_of(m["file"]) != r]
        held = [m for m in msgs if round_of(m["file"]) == r]
        bias, weights = fit(train, args.rule, args)
        pos = [m for m in held if m["class"] == args.rule]
        ordi = [m for m in held if m["class"] == "ordinary"]
        s = {id(m): score(m, args.scope, bias, weights) for m in pos + ordi}
        row = {"pos": len(pos), "ord": len(ordi),
               "pos_rules": sum(m["refused"] for m in pos),
               "ord_rules": sum(m["refused"] for m in ordi)}
        for t in thresholds:
            for name, group in (("pos", pos), ("ord", ordi)):
                row[f"{name}_model_{t}"] = sum(s[id(m)] >= t for m in group)
                row[f"{name}_{t}"] = sum(m["refused"] or s[id(m)] >= t for m in group)
        for k, v in row.items():
            tot[k] += v
        line(r, row)
        if args.show:
            for m in ordi:
                if s[id(m)] >= t0:
                    print(f"  ordinary refused by the model: {m['file']} {s[id(m)]:.2f}")
    line("all", tot)
    print()
    for t in thresholds:
        print(f"threshold {t:g}: {args.rule} {tot[f'pos_{t}']}/{tot['pos']} "
              f"(model alone {tot[f'pos_model_{t}']}), ordinary refused "
              f"{tot[f'ord_{t}']}/{tot['ord']} (model alone {tot[f'ord_model_{t}']})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("jsonl")
    ap.add_argument("--rule", required=True)
    ap.add_argument("--out", help="the model file to write")
    ap.add_argument("--corpus-name", default="the tune half (tests/data/classify/tune)")
    ap.add_argument("--senders", nargs="+", default=["seller"])
    ap.add_argument("--scope", default="message", choices=["sentence", "paragraph", "message"])
    ap.add_argument("--l2", type=float, default=0.01)
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ordinary-weight", type=float, default=3.0)
    ap.add_argument("--min-count", type=int, default=3)
    ap.add_argument("--min-weight", type=float, default=0.05)
    ap.add_argument("--leave-out", nargs="+", metavar="ROUND")
    ap.add_argument("--show", action="store_true", help="list ordinary mail the model refuses")
    ap.add_argument("--thresholds", default="0,0.5,1,1.5,2",
                    help="log-odds thresholds --leave-out reports, the first in the table")
    args = ap.parse_args()
    msgs = load(args.jsonl, set(args.senders))
    if args.leave_out:
        leave_out(msgs, args)
        return
    bias, weights = fit(msgs, args.rule, args)
    if args.out:
        write_model(args.out, bias, weights, args, args.corpus_name)
    print(f"{len(weights)} features, bias {bias:.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
