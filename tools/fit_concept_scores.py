#!/usr/bin/env python3
"""Fit the `score:` weights of a content rule on a labelled corpus.

Reads what `classify_eval --concepts OUT.jsonl` wrote for a corpus (per
message: its class, whether a rule refused it by `when` or a pattern, and
the concepts present in each scope unit), fits a regularised logistic
regression of "this message is of the rule's class" on the concepts present,
rounds the weights to halves so operators can read and tune them, and picks
the lowest threshold at which no message that must pass is refused by the
score: no ordinary message, and no message of another class that was not
refused before.  Prints the `score:` block as YAML.

  build/tests/classify_eval --policy etc/policy.yaml \\
      --corpus tests/data/classify/tune --concepts /tmp/tune.jsonl
  tools/fit_concept_scores.py /tmp/tune.jsonl --rule promo.marketing
  tools/fit_concept_scores.py /tmp/tune.jsonl --rule promo.marketing \\
      --leave-out 5xx 6xx 7xx 9xx

--leave-out fits once per round without it and scores the round held out:
the rule's recall by `when` alone and by `when` or the score, and what the
score refuses that must pass.  Rounds are the corpus's number ranges
(tests/data/classify/README.md): 0xx is 001-010, 1xx 101-199 and so on.
Pure Python: no numpy needed.
"""

import argparse
import json
import math
import os
import sys
from collections import Counter, defaultdict


def round_of(path):
    """'5xx' for tune/en/promo.marketing/503.eml."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return stem[0] + "xx" if stem.isdigit() and len(stem) == 3 else "?"


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def units_of(msg, scope):
    return [frozenset(u) for u in msg["units"].get(scope, [])]


def features(msg, scope):
    """The concepts of the message's units together: one sample per message."""
    out = set()
    for u in units_of(msg, scope):
        out |= u
    return frozenset(out)


def score_of(msg, scope, weights):
    """The highest sum over the message's units, as the milter adds it up."""
    best = 0.0
    for u in units_of(msg, scope):
        best = max(best, sum(weights.get(c, 0.0) for c in u))
    return best


def sample_weights(msgs, rule, ordinary_share, others_share):
    """Positives weigh 1 together with `ordinary_share` for ordinary mail and
    `others_share` for every other class, each share spread over its messages."""
    pos = [m for m in msgs if m["class"] == rule]
    ordinary = [m for m in msgs if m["class"] == "ordinary"]
    others = [m for m in msgs if m["class"] not in (rule, "ordinary")]
    n = max(len(pos), 1)
    out = []
    for group, share, label in ((pos, 1.0, 1), (ordinary, ordinary_share, 0),
                                (others, others_share, 0)):
        for m in group:
            out.append((m, label, share * n / max(len(group), 1)))
    return out


def fit(samples, scope, l1, l2, iterations, rate):
    """Proximal gradient descent on the weighted logistic loss with an L1 and
    an L2 penalty; identical concept sets are one sample of summed weight."""
    grouped = defaultdict(lambda: [0.0, 0.0])  # features -> [weight of 1, weight of 0]
    for m, label, w in samples:
        grouped[features(m, scope)][0 if label else 1] += w
    rows = [(sorted(f), wp, wn) for f, (wp, wn) in grouped.items()]
    total = sum(wp + wn for _, wp, wn in rows)
    names = sorted({c for f, _, _ in rows for c in f})
    w = {c: 0.0 for c in names}
    b = 0.0
    for _ in range(iterations):
        grad = dict.fromkeys(names, 0.0)
        gb = 0.0
        for f, wp, wn in rows:
            z = b + sum(w[c] for c in f)
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            g = (p * (wp + wn) - wp) / total  # d loss / d z
            gb += g
            for c in f:
                grad[c] += g
        b -= rate * gb
        for c in names:
            v = w[c] - rate * (grad[c] + l2 * w[c])
            # Soft threshold: L1 drives the weak concepts to exactly 0.
            w[c] = math.copysign(max(abs(v) - rate * l1, 0.0), v)
    return w, b


def rounded(w):
    out = {c: round(v * 2) / 2 for c, v in w.items()}
    return {c: v for c, v in out.items() if v != 0}


def must_pass(msgs, rule, senders):
    """Messages the score must not refuse: ordinary mail, and any other class
    not refused before; a sender the rule does not judge cannot be refused."""
    return [m for m in msgs
            if m["from"] in senders and m["class"] != rule
            and (m["class"] == "ordinary" or not m["refused_when"])]


def pick_threshold(msgs, rule, scope, weights, senders):
    worst = max([score_of(m, scope, weights) for m in must_pass(msgs, rule, senders)] + [0.0])
    return math.floor(worst * 2 + 1e-9) / 2 + 0.5


def fit_rule(msgs, args):
    samples = sample_weights(msgs, args.rule, args.ordinary_share, args.others_share)
    w, _ = fit(samples, args.scope, args.l1, args.l2, args.iterations, args.rate)
    weights = rounded(w)
    return weights, pick_threshold(msgs, args.rule, args.scope, weights, args.senders)


def as_yaml(weights, threshold, scope):
    items = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
    body = ", ".join(f"{c}: {v:g}" for c, v in items)
    return (f"score:\n  threshold: {threshold:g}\n  scope: {scope}\n"
            f"  weights: {{ {body} }}\n")


def leave_out(msgs, args):
    print(f"| held out | {args.rule} | when | score | when or score "
          f"| must pass refused by score | ordinary refused by score | threshold | weights |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in args.leave_out:
        train = [m for m in msgs if round_of(m["file"]) != r]
        test = [m for m in msgs if round_of(m["file"]) == r]
        weights, threshold = fit_rule(train, args)

        def by_score(m):
            return m["from"] in args.senders and \
                score_of(m, args.scope, weights) + 1e-9 >= threshold

        pos = [m for m in test if m["class"] == args.rule]
        when = sum(m["refused_when"] for m in pos)
        alone = sum(by_score(m) for m in pos)
        either = sum(m["refused_when"] or by_score(m) for m in pos)
        guard = must_pass(test, args.rule, args.senders)
        wrong = [m for m in guard if by_score(m)]
        ordinary = [m for m in test if m["class"] == "ordinary"]
        wrong_ord = sum(by_score(m) for m in ordinary)
        print(f"| {r} | {len(pos)} | {when} | {alone} | {either} | {len(wrong)}/{len(guard)} "
              f"| {wrong_ord}/{len(ordinary)} | {threshold:g} | {len(weights)} |")
        for m in wrong:
            print(f"  refused: {m['file']}", file=sys.stderr)
        if args.verbose:
            for m in pos:
                if not m["refused_when"]:
                    print(f"  {m['file']}: score {score_of(m, args.scope, weights):g}"
                          f"{' caught' if by_score(m) else ''}", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("concepts", help="the JSON lines of classify_eval --concepts")
    p.add_argument("--rule", required=True, help="the content rule, also its class")
    p.add_argument("--scope", default="message", choices=["sentence", "paragraph", "message"])
    p.add_argument("--senders", nargs="+", default=["seller"], help="whom the rule judges")
    p.add_argument("--ordinary-share", type=float, default=3.0,
                   help="ordinary mail's weight against the positives' 1")
    p.add_argument("--others-share", type=float, default=1.0,
                   help="every other class's weight against the positives' 1")
    p.add_argument("--l1", type=float, default=0.002)
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--iterations", type=int, default=1500)
    p.add_argument("--rate", type=float, default=2.0)
    p.add_argument("--leave-out", nargs="+", metavar="ROUND",
                   help="rounds (5xx ...) to hold out one at a time")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    msgs = load(args.concepts)
    if not any(m["class"] == args.rule for m in msgs):
        sys.exit(f"fit_concept_scores: no message of class {args.rule}")
    if args.leave_out:
        leave_out(msgs, args)
        return
    weights, threshold = fit_rule(msgs, args)
    counts = Counter(m["class"] for m in msgs)
    print(f"# {args.rule}: fitted on {counts[args.rule]} of its messages and "
          f"{sum(counts.values()) - counts[args.rule]} others")
    sys.stdout.write(as_yaml(weights, threshold, args.scope))


if __name__ == "__main__":
    main()
