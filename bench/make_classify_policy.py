#!/usr/bin/env python3
"""Writes a policy for policy_bench with a lexicon of realistic size: etc/policy.yaml
plus `concepts:` (30 concepts x 5 languages x 20 entries: stems, phrases with and
without gaps, prefixes, suffixes, exact words, a few shapes) and ten content rules and
three contact reasons with `when:`.  Some entries are words of the bench's messages
("parcel", "warehouse", "offer", "track") so that matching and the windows do work.

    bench/make_classify_policy.py [--syllables] OUTDIR
    MM_POLICY=OUTDIR/policy.yaml build/bench/policy_bench
"""
import os
import random
import sys

import yaml

LANGS = ["en", "de", "fr", "it", "es"]
REAL = {"en": ["parcel", "warehouse", "offer", "track", "arrive", "friday", "item", "today"],
        "de": ["paket", "lager", "angebot"], "fr": ["colis", "offre"], "it": ["pacco"],
        "es": ["paquete"]}


def word(rng, syllables=False):
    """A made-up word: random letters (as spread over the alphabet as a real lexicon's
    words), or with --syllables consonant-vowel pairs, whose few three-letter starts
    collide with most short words of a text (the worst case for the token filter)."""
    if syllables:
        c, v = "bcdfghklmnprstvz", "aeiou"
        return "".join(rng.choice(c) + rng.choice(v) for _ in range(rng.randint(3, 5)))
    letters = "abcdefghijklmnopqrstuvwxyz"
    while True:
        w = "".join(rng.choice(letters) for _ in range(rng.randint(5, 9)))
        if any(ch in "aeiou" for ch in w):
            return w


SYLLABLES = "--syllables" in sys.argv


def entries(rng, lang, k):
    out = []
    real = REAL[lang]
    for i in range(20):
        kind = i % 10
        if i == 0 and k < len(real):
            out.append(real[k])  # each word of the messages in one concept, as in a real lexicon
        elif kind < 5:
            out.append(word(rng, SYLLABLES))
        elif kind < 7:
            out.append(word(rng, SYLLABLES) + " " + word(rng, SYLLABLES))
        elif kind == 7:
            out.append(word(rng, SYLLABLES) + " ... " + word(rng, SYLLABLES))
        elif kind == 8:
            out.append(word(rng, SYLLABLES) + "*" if i % 2 else "*" + word(rng, SYLLABLES))
        else:
            out.append("=" + word(rng, SYLLABLES))
    return out


def main(outdir):
    rng = random.Random(15)
    concepts = {}
    for k in range(30):
        c = {"description": "synthetic concept %d" % k}
        for lang in LANGS:
            c[lang] = entries(rng, lang, k)
        if k % 10 == 9:
            c["shape"] = [r"\d+(?:[.,]\d{1,2})?\s?(?:€|eur|\$|usd|£)"]
        concepts["C%02d" % k] = c
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "concepts.yaml"), "w") as f:
        yaml.safe_dump({"languages": LANGS, "concepts": concepts}, f, allow_unicode=True)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "etc", "policy.yaml")) as f:
        policy = yaml.safe_load(f)
    policy["concepts"] = "concepts.yaml"
    for r in range(10):
        a, b, c = (3 * r) % 30, (3 * r + 1) % 30, (3 * r + 2) % 30
        policy["content"]["rules"].append({
            "id": "synthetic.%d" % r, "action": "reject",
            "when": "C%02d & (C%02d | C%02d)" % (a, b, c) if r % 3 else "C%02d & !C%02d & C%02d" % (a, b, c),
            "scope": ["sentence", "paragraph", "message"][r % 3], "window": 30})
    for i, reason in enumerate(policy["marketplace"]["contact_reasons"][:3]):
        reason["when"] = "C%02d & C%02d" % (20 + i, 25 + i)
    with open(os.path.join(outdir, "policy.yaml"), "w") as f:
        yaml.safe_dump(policy, f, allow_unicode=True, sort_keys=False)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(args[0] if args else "build/classify-bench")
