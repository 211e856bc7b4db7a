"""End-to-end: the hostile corpus (tests/data/hostile, issue 14).

For every message in tests/data/hostile/expected.yaml, one test method that
  (a) runs `marketplace-milter test` and checks the JSON verdict (decision,
      SMTP code, the rules named) and that the message it would deliver
      (--out) carries no real address and none of the strings listed as
      `absent`;
  (b) sends it through the real Postfix + milter and checks the SMTP reply,
      or the delivered message: the audit header's decision and rules, the
      `absent` strings gone.
The harness's privacy checker (no real address of either party, no client
host) runs over everything delivered after the class.  Redaction is on in
both directions (expected.yaml says so).

    cd tests/integration && MM_BINARY=../../build/milter/marketplace-milter \\
        python3 -m unittest -v test_hostile
"""

import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mmharness import (CorpusTestCase, Delivery, add_test_per_entry,  # noqa: E402
                       corpus_parties, load_corpus, privacy_violations)

HOSTILE_DIR, make_hostile, EXPECTED = load_corpus("hostile", "make_hostile", "expected.yaml")
SELLER, BUYER = corpus_parties(make_hostile)


def message_bytes(name: str, alias: str) -> bytes:
    exp = EXPECTED[name]
    if exp.get("generated"):
        data = make_hostile.GENERATED[exp["generated"]]()
    else:
        with open(os.path.join(HOSTILE_DIR, name), "rb") as f:
            data = f.read()
    return data.replace(make_hostile.PLACEHOLDER.encode(), alias.encode())


class HostileCorpusTest(CorpusTestCase):
    harness_name = "hostile"
    policy_overrides = {"privacy.redact.seller_to_buyer": True,
                        "privacy.redact.buyer_to_seller": True}
    maxDiff = None
    seller, buyer = SELLER, BUYER

    def route(self, exp: dict) -> tuple:
        """(envelope sender, alias written to, real address it reaches)."""
        sender = {"seller": SELLER.address, "buyer": BUYER.address, "<>": ""}[exp["from"]]
        if exp["to"] == "buyer":
            return sender, self.pair["buyer_alias"], BUYER.address
        return sender, self.pair["seller_alias"], SELLER.address

    def assert_absent(self, name: str, exp: dict, raw: bytes, where: str):
        for s in exp.get("absent", []):
            self.assertNotIn(s.encode(), raw, f"{name}: {s!r} {where}")

    def run_message(self, name: str):
        exp = EXPECTED[name]
        sender, alias, owner = self.route(exp)
        data = message_bytes(name, alias)
        with self.subTest("test", message=name):
            self.check_cli(name, exp, data, sender, alias)
        with self.subTest("postfix", message=name):
            self.check_postfix(name, exp, data, sender, alias, owner)

    def check_cli(self, name, exp, data, sender, alias):
        stem = name.rsplit(".", 1)[0]
        src = os.path.join(self.outdir, stem + ".in.eml")
        out = os.path.join(self.outdir, stem + ".out.eml")
        with open(src, "wb") as f:
            f.write(data)
        r = self.h.cli("test", "--from", sender or "<>", "--rcpt", alias, "--out", out, src,
                       check=False, timeout=120)
        self.assertEqual(r.returncode, 0, f"{name}: exit {r.returncode}: "
                         + r.stderr.decode(errors="replace"))
        v = json.loads(r.stdout)
        ctx = f"{name}: `test` said {json.dumps(v)[:2000]}"
        self.assertEqual(v.get("decision"), exp["decision"], ctx)
        ids = [x["id"] for x in v.get("rules", [])]
        for rid in exp["rules"]:
            self.assertIn(rid, ids, ctx)
        if exp["decision"] == "reject":
            self.assertEqual(v.get("smtp_code"), exp["code"], ctx)
            self.assertTrue(any(f"({kind} {rid})" in v.get("smtp_reply", "")
                                for rid in exp["rules"] for kind in ("rule", "limit")), ctx)
            self.assertFalse(os.path.exists(out), f"{name}: --out written for a refusal")
            return
        with open(out, "rb") as f:
            written = f.read()
        d = Delivery(path=out, mail_from="", mail_args="", rcpts=[], rcpt_args=[],
                     raw=written.replace(b"\r\n", b"\n"), sink_lines=[], file_bytes=written)
        self.assertEqual(privacy_violations([d], self.h.real_addresses()), [], name)
        self.assert_absent(name, exp, written, "in `test --out`")

    def check_postfix(self, name, exp, data, sender, alias, owner):
        d = self.send_and_check_verdict(name, data, sender, alias, owner,
                                        decision=exp["decision"], code=exp.get("code", ""),
                                        rules=exp["rules"])
        if d is not None:
            self.assert_absent(name, exp, d.file_bytes, "delivered by Postfix")


add_test_per_entry(HostileCorpusTest, EXPECTED, "run_message")


if __name__ == "__main__":
    unittest.main()
