"""End-to-end: the MIME content policy over a corpus of real client shapes.

For every message in tests/data/messages (see make_corpus.py and
expected.json), one test method that
  (a) runs `marketplace-milter test -c CONFIG --from SENDER --rcpt ALIAS
      --out OUT MESSAGE` and checks the JSON verdict (decision, codes, rule
      ids, attachments, links, content hits, body_changed) and the message
      it would deliver (OUT), and
  (b) sends the message through the real Postfix + milter and checks what
      reached smtp-sink: stripped attachments replaced by a notice in the
      same place, kept attachments byte-identical once decoded, parts the
      policy had no reason to touch delivered with their bytes, removed
      link domains gone, the body byte-identical when nothing had to
      change; or the SMTP refusal with its code and rule.
The harness's privacy checker runs over every delivered message after the
class (HarnessTestCase.tearDownClass); the `test` outputs get the same check
here.

    cd tests/integration && MM_BINARY=../../build/milter/marketplace-milter \\
        python3 -m unittest -v test_mime
    python3 -m unittest -v test_mime.MimeCorpusTest.test_outlook_html_qp
"""

import email
import email.policy
import json
import os
import quopri
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mmharness import (DOMAIN, CorpusTestCase, Delivery, add_test_per_entry,  # noqa: E402
                       corpus_parties, load_corpus, privacy_violations)

CORPUS_DIR, make_corpus, EXPECTED = load_corpus("messages", "make_corpus", "expected.json")
SELLER, BUYER = corpus_parties(make_corpus)
PLACEHOLDER = make_corpus.PLACEHOLDER.encode()


# --------------------------------------------------------------------------
# bytes and MIME helpers


def lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def split_message(raw: bytes) -> tuple:
    """(header block, body) with LF line endings."""
    data = lf(raw)
    head, sep, body = data.partition(b"\n\n")
    if not sep:
        return data, b""
    return head, body


def with_alias(raw: bytes, alias: str) -> bytes:
    """The corpus message addressed to the real alias (header only)."""
    data = raw.replace(b"\r\n", b"\n")
    head, sep, body = data.partition(b"\n\n")
    head = head.replace(PLACEHOLDER, alias.encode())
    return (head + sep + body).replace(b"\n", b"\r\n")


_corpus_cache: dict = {}


def corpus_bytes(name: str) -> bytes:
    if name not in _corpus_cache:
        gen = EXPECTED[name].get("generated")
        if gen:
            _corpus_cache[name] = getattr(make_corpus, gen)()
        else:
            with open(os.path.join(CORPUS_DIR, name), "rb") as f:
                _corpus_cache[name] = f.read()
    return _corpus_cache[name]


def parse(raw: bytes):
    return email.message_from_bytes(lf(raw), policy=email.policy.compat32)


def leaves(msg, path=()):
    """[(path, part)] of every non-container part, message/rfc822 descended."""
    if msg.get_content_type() == "message/rfc822" or msg.is_multipart():
        payload = msg.get_payload()
        if not isinstance(payload, list):
            return [(path, msg)]
        out = []
        for i, sub in enumerate(payload):
            out += leaves(sub, path + (i + 1,))
        return out
    return [(path, msg)]


def decoded(part) -> bytes:
    return part.get_payload(decode=True) or b""


def text_of(part) -> str:
    charset = part.get_content_charset() or "us-ascii"
    try:
        return decoded(part).decode(charset, "replace")
    except LookupError:
        return decoded(part).decode("latin-1")


def all_text(msg) -> str:
    return "\n".join(text_of(p) for _, p in leaves(msg) if p.get_content_maintype() == "text")


def raw_payload(part) -> str:
    payload = part.get_payload()
    return payload.replace("\r\n", "\n").rstrip("\n") if isinstance(payload, str) else ""


def ctype_params(part) -> tuple:
    params = {k.lower(): (v or "").lower() for k, v in (part.get_params() or [])[1:]}
    return part.get_content_type(), params


def cte(part) -> str:
    return (part.get("Content-Transfer-Encoding") or "7bit").strip().lower()


def first_difference(a: bytes, b: bytes) -> str:
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return (f"lengths {len(a)} vs {len(b)}; first difference at byte {n}:\n"
            f"  sent:      {a[max(0, n - 80):n + 80]!r}\n"
            f"  delivered: {b[max(0, n - 80):n + 80]!r}")


# --------------------------------------------------------------------------
# the checks


class CorpusChecks:
    """Mixin: what a delivered message must look like, and the `test` JSON."""

    def check_delivered_message(self, name: str, sent: bytes, delivered: bytes, where: str):
        exp = EXPECTED[name]
        ctx = f"{name} ({where})"
        _, sent_body = split_message(sent)
        _, got_body = split_message(delivered)
        if exp["body_unchanged"]:
            self.assertTrue(sent_body == got_body,
                            f"{ctx}: body not byte-identical: {first_difference(sent_body, got_body)}")

        orig, got = parse(sent), parse(delivered)
        # The top-level part is never replaced in this corpus: its MIME
        # headers (in the message header) must come through.
        self.assertEqual(ctype_params(got), ctype_params(orig),
                         f"{ctx}: top-level Content-Type changed; delivered header block:\n"
                         + split_message(delivered)[0].decode("utf-8", "replace"))
        self.assertEqual(cte(got), cte(orig), f"{ctx}: top-level Content-Transfer-Encoding")
        orig_leaves, got_leaves = leaves(orig), leaves(got)
        self.assertEqual([p for p, _ in orig_leaves], [p for p, _ in got_leaves],
                         f"{ctx}: MIME structure changed (leaf paths); delivered:\n"
                         + delivered.decode("utf-8", "replace")[:6000])

        removed = [d.lower() for d in exp.get("removed_domains", [])]
        stripped = set(exp["attachments_stripped"])
        for (path, o), (_, g) in zip(orig_leaves, got_leaves):
            pname = ".".join(map(str, path)) or "1"
            fname = o.get_filename()
            if fname in stripped:
                # Replaced in place by a text/plain notice naming it.
                self.assertEqual(g.get_content_type(), "text/plain",
                                 f"{ctx}: part {pname} ({fname}) not replaced by a notice")
                self.assertIsNone(g.get_filename(), f"{ctx}: notice at {pname} has a file name")
                notice = text_of(g)
                self.assertIn(fname, notice, f"{ctx}: notice at {pname}: {notice!r}")
                self.assertIn("removed", notice.lower(), f"{ctx}: notice at {pname}: {notice!r}")
                continue
            affected = o.get_content_maintype() == "text" and any(
                d in text_of(o).lower() for d in removed)
            if affected:
                # Re-written for its links: same transfer encoding, a charset,
                # and the text around the link intact (checked below).
                self.assertEqual(cte(g), cte(o), f"{ctx}: part {pname} changed its encoding")
                self.assertIsNotNone(g.get_content_charset(), f"{ctx}: part {pname} lost charset")
                self.assertEqual(g.get_content_type(), o.get_content_type(), f"{ctx}: {pname}")
                continue
            # Nothing to change here: the part keeps its bytes and MIME headers.
            self.assertEqual(ctype_params(g), ctype_params(o),
                             f"{ctx}: part {pname} Content-Type changed")
            self.assertEqual(cte(g), cte(o), f"{ctx}: part {pname} encoding changed")
            self.assertTrue(raw_payload(g) == raw_payload(o),
                            f"{ctx}: part {pname} ({o.get_content_type()}) re-encoded: "
                            + first_difference(raw_payload(o).encode("latin-1", "replace"),
                                               raw_payload(g).encode("latin-1", "replace")))

        got_by_name = {p.get_filename(): p for _, p in got_leaves if p.get_filename()}
        orig_by_name = {p.get_filename(): p for _, p in orig_leaves if p.get_filename()}
        for fname in exp["attachments_stripped"]:
            self.assertNotIn(fname, got_by_name, f"{ctx}: {fname} delivered")
            bad = decoded(orig_by_name[fname])
            for path, p in got_leaves:
                self.assertNotIn(bad, decoded(p), f"{ctx}: bytes of {fname} delivered in {path}")
        for fname in exp["attachments_kept"]:
            self.assertIn(fname, got_by_name, f"{ctx}: {fname} missing")
            self.assertEqual(decoded(got_by_name[fname]), decoded(orig_by_name[fname]),
                             f"{ctx}: {fname} bytes changed")

        text = all_text(got)
        views = [delivered.lower().decode("latin-1"),
                 quopri.decodestring(lf(delivered)).lower().decode("latin-1"), text.lower()]
        for d in removed:
            for v in views:
                self.assertNotIn(d, v, f"{ctx}: removed domain {d} still delivered")
        for d in exp.get("kept_domains", []):
            self.assertIn(d, text.lower(), f"{ctx}: allowed link domain {d} lost")
        for s in exp.get("text_contains", []):
            self.assertIn(s, text, f"{ctx}: text {s!r} lost (charset/encoding damage?)")

    def check_verdict_json(self, name: str, v: dict):
        exp = EXPECTED[name]
        ctx = f"{name}: `test` said {json.dumps(v, ensure_ascii=False)[:3000]}"
        self.assertEqual(v.get("decision"), exp["decision"], ctx)
        if "smtp_code" in exp:
            self.assertEqual(v.get("smtp_code"), exp["smtp_code"], ctx)
            self.assertEqual(v.get("enhanced_code"), exp["enhanced_code"], ctx)
            self.assertIn(exp["enhanced_code"], v.get("smtp_reply", ""), ctx)
        ids = [r["id"] for r in v.get("rules", [])]
        for rid in exp["rules_include"]:
            self.assertIn(rid, ids, ctx)
        if exp.get("rules_any"):
            self.assertTrue(set(exp["rules_any"]) & set(ids), ctx)
        for rid in exp.get("rules_exclude", []):
            self.assertNotIn(rid, ids, ctx)
        if exp["decision"] == "reject":
            named = [rid for rid in exp["rules_include"] if f"(rule {rid})" in v["smtp_reply"]]
            if exp["rules_include"]:
                self.assertTrue(named, f"refusal names none of {exp['rules_include']}: {ctx}")
            if "mime.malformed" in exp["rules_include"]:
                self.assertTrue(v.get("malformed"), ctx)
            return
        atts = {a["name"]: a for a in v.get("attachments", [])}
        for fname in exp["attachments_stripped"]:
            self.assertIn(fname, atts, ctx)
            self.assertFalse(atts[fname]["kept"], ctx)
            self.assertTrue(atts[fname]["rule"].startswith("attachment."), ctx)
            self.assertIn(atts[fname]["rule"], ids, ctx)
        for fname in exp["attachments_kept"]:
            self.assertIn(fname, atts, ctx)
            self.assertTrue(atts[fname]["kept"], ctx)
        for fname in exp.get("inline_images", []):
            self.assertTrue(atts[fname]["inline_image"], f"{fname} not seen as inline: {ctx}")
        links = v.get("links_removed", [])
        self.assertGreaterEqual(len(links), exp["links_removed_min"], ctx)
        if "links_removed_max" in exp:
            self.assertLessEqual(len(links), exp["links_removed_max"], ctx)
        for d in exp.get("removed_domains", []):
            self.assertTrue(any(d in (l["domain"] + " " + l["url"]).lower() for l in links),
                            f"no removed link for {d}: {ctx}")
        for why in exp.get("link_reasons", []):
            self.assertIn(why, [l["why"] for l in links], ctx)
        if "content_hits" in exp:
            self.assertEqual(len(v.get("content_hits", [])), exp["content_hits"], ctx)
        self.assertEqual(v.get("body_changed"), not exp["body_unchanged"], ctx)
        self.assertEqual(v.get("malformed"), [], ctx)


# --------------------------------------------------------------------------
# the corpus files themselves (no binary needed)


class CorpusFilesTest(unittest.TestCase):
    def test_committed_files_are_make_corpus_output(self):
        for name, data in make_corpus.build_all().items():
            with self.subTest(name):
                path = os.path.join(CORPUS_DIR, name)
                self.assertTrue(os.path.exists(path), f"{path} missing: run make_corpus.py")
                with open(path, "rb") as f:
                    self.assertTrue(f.read() == data,
                                    f"{name} differs from make_corpus.py's output: regenerate")

    def test_every_message_has_expectations(self):
        files = sorted(n for n in os.listdir(CORPUS_DIR) if n.endswith(".eml"))
        self.assertEqual(files, sorted(n for n, e in EXPECTED.items() if not e.get("generated")))

    def test_big_attachment_is_over_the_total_but_not_the_file_limit(self):
        msg = parse(corpus_bytes("big_attachment.eml"))
        sizes = [len(decoded(p)) for _, p in leaves(msg) if p.get_filename()]
        self.assertGreater(sum(sizes), 10 << 20)
        self.assertTrue(all(s <= 10 << 20 for s in sizes), sizes)


# --------------------------------------------------------------------------
# through `test` and through Postfix


class MimeCorpusTest(CorpusChecks, CorpusTestCase):
    harness_name = "mime"
    maxDiff = None
    seller, buyer = SELLER, BUYER

    def route(self, name: str) -> tuple:
        """(envelope sender, alias written to, real address it reaches)."""
        if EXPECTED[name]["direction"] == "seller_to_buyer":
            return SELLER.address, self.pair["buyer_alias"], BUYER.address
        return BUYER.address, self.pair["seller_alias"], SELLER.address

    def run_corpus_message(self, name: str):
        exp = EXPECTED[name]
        sender, alias, owner = self.route(name)
        data = with_alias(corpus_bytes(name), alias)
        stem = name.rsplit(".", 1)[0]
        self.check_cli(name, data, sender, alias, stem)
        with self.subTest("postfix", message=name):
            self.check_postfix(name, data, sender, alias, owner)

    def check_cli(self, name, data, sender, alias, stem):
        src = os.path.join(self.outdir, stem + ".in.eml")
        out = os.path.join(self.outdir, stem + ".out.eml")
        with open(src, "wb") as f:
            f.write(data)
        r = self.h.cli("test", "--from", sender, "--rcpt", alias, "--out", out, src,
                       check=False, timeout=120)
        self.assertEqual(r.returncode, 0, f"{name}: exit {r.returncode}: "
                         + r.stderr.decode(errors="replace"))
        v = json.loads(r.stdout)
        with self.subTest("test: the message --out writes", message=name):
            if EXPECTED[name]["decision"] == "reject":
                self.assertFalse(os.path.exists(out), f"{name}: --out written for a refusal")
            else:
                self.assertTrue(os.path.exists(out), f"{name}: no --out file: {v}")
                with open(out, "rb") as f:
                    written = f.read()
                d = Delivery(path=out, mail_from="", mail_args="", rcpts=[], rcpt_args=[],
                             raw=lf(written), sink_lines=[], file_bytes=written)
                self.assertEqual(privacy_violations([d], self.h.real_addresses()), [])
                self.check_delivered_message(name, data, written, "test --out")
        with self.subTest("test: JSON verdict", message=name):
            self.check_verdict_json(name, v)

    def check_postfix(self, name, data, sender, alias, owner):
        exp = EXPECTED[name]
        d = self.send_and_check_verdict(name, data, sender, alias, owner,
                                        decision=exp["decision"],
                                        code=exp.get("smtp_code", ""),
                                        enhanced=exp.get("enhanced_code", "5."),
                                        rules=exp["rules_include"])
        if d is not None:
            self.check_delivered_message(name, data, d.raw, "delivered by Postfix")


add_test_per_entry(MimeCorpusTest, EXPECTED, "run_corpus_message")


if __name__ == "__main__":
    unittest.main()
