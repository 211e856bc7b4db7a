"""End-to-end: Message-ID mapping through real Postfix.

Every message between a pair is delivered with a marketplace Message-ID; the
original id is kept in the store, and In-Reply-To / References are mapped so
that each side sees only its own original ids and the marketplace ids of the
messages it received, and both mail clients thread the conversation.  A
reply is recognised by its mapped ids (rule thread.reply in the audit)."""

import os
import re
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmharness import DOMAIN, HarnessTestCase, Party, make_message  # noqa: E402

MARKETPLACE_ID = re.compile(r"<[0-9a-f]{24}@" + re.escape(DOMAIN) + r">")
ANGLE_IDS = re.compile(r"<[^<>\s]*>")


def ids(value):
    """The <...> ids of an In-Reply-To / References value, in order."""
    return ANGLE_IDS.findall(value or "")


class ThreadingTest(HarnessTestCase):
    harness_name = "threading"

    bob = Party("bob", "buyer", "bob@gmail.example", "Bob Buyer")
    acme = Party("acme", "seller", "support@acme.example", "Acme Store")
    carol = Party("carol", "buyer", "carol@gmail.example", "Carol Client")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pair = cls.h.provision(cls.bob, cls.acme)
        cls.pair2 = cls.h.provision(cls.carol, cls.acme)

    def setUp(self):
        if not self.h.milter_running():
            self.h.start_milter()
        self.h.drain()

    # ---- helpers -----------------------------------------------------------
    def send_one(self, sender, alias, *, subject, body, message_id, in_reply_to=None,
                 references=None, drop_message_id=False):
        headers = []
        if in_reply_to is not None:
            headers.append(("In-Reply-To", in_reply_to))
        if references is not None:
            headers.append(("References", references))
        msg = make_message(from_=sender, to=alias, subject=subject, body=body,
                           headers=headers, message_id=message_id)
        if drop_message_id:
            msg = re.sub(rb"(?m)^Message-ID: [^\r\n]*\r\n", b"", msg)
            assert not re.search(rb"(?mi)^Message-ID:", msg)
        r = self.h.send(sender, [alias], msg)
        self.assertQueued(r, [alias])
        [d] = self.h.wait_delivered(1)
        return d

    def assert_only_known_ids(self, d, allowed_originals, forbidden):
        """Delivered Message-ID is a marketplace id; In-Reply-To and References
        hold only marketplace ids or the recipient's own original ids."""
        mids = d.headers("Message-ID")
        self.assertEqual(len(mids), 1, f"Message-ID fields: {mids}")
        self.assertRegex(mids[0].strip(), r"^" + MARKETPLACE_ID.pattern + r"$")
        for name in ("In-Reply-To", "References"):
            for v in d.headers(name):
                for i in ids(v):
                    self.assertTrue(MARKETPLACE_ID.fullmatch(i) or i in allowed_originals,
                                    f"{name} of {d.summary()} holds {i}")
        raw = d.raw.decode("utf-8", "replace")
        for f in forbidden:
            self.assertNotIn(f.strip("<>"), raw, f"{f} delivered in {d.summary()}")
        return mids[0].strip()

    def audit_rules(self, d):
        value = re.sub(r"\s*\n\s*", " ", d.header("X-Marketplace-Audit") or "")
        m = re.search(r"rules=([^;]*);", value)
        self.assertIsNotNone(m, value)
        return m.group(1).split(",")

    # ---- the conversation --------------------------------------------------
    def test_conversation_threads_on_both_sides(self):
        seller_alias, buyer_alias = self.pair["seller_alias"], self.pair["buyer_alias"]
        s1, b1 = "<orig-s1.7f3a@mx.acme.example>", "<orig-b1.91c2@laptop.gmail.example>"
        s2, b2 = "<orig-s2.0d4e@mx.acme.example>", "<orig-b2.5e6f@laptop.gmail.example>"
        seller_ids, buyer_ids = {s1, s2}, {b1, b2}

        # 1. Acme -> Bob.
        d1 = self.send_one("support@acme.example", buyer_alias, subject="Engraving",
                           body="Which colour for the engraving?", message_id=s1)
        self.assertEqual(d1.rcpts, ["bob@gmail.example"])
        m1 = self.assert_only_known_ids(d1, buyer_ids, seller_ids)
        self.assertEqual(d1.headers("In-Reply-To") + d1.headers("References"), [])
        self.assertNotIn("thread.reply", self.audit_rules(d1))

        # 2. Bob's client answers what he got; Acme's client gets its own id back.
        d2 = self.send_one("bob@gmail.example", seller_alias, subject="Re: Engraving",
                           body="Blue, please.", message_id=b1, in_reply_to=m1, references=m1)
        self.assertEqual(d2.rcpts, ["support@acme.example"])
        m2 = self.assert_only_known_ids(d2, seller_ids, buyer_ids)
        self.assertNotEqual(m2, m1)
        self.assertEqual(d2.header("In-Reply-To").strip(), s1)
        self.assertEqual(ids(d2.header("References")), [s1])
        self.assertIn("thread.reply", self.audit_rules(d2))

        # 3. Acme's client answers: References = its own original + what it got.
        d3 = self.send_one("support@acme.example", buyer_alias, subject="Re: Engraving",
                           body="Blue it is.", message_id=s2, in_reply_to=m2,
                           references=f"{s1} {m2}")
        m3 = self.assert_only_known_ids(d3, buyer_ids, seller_ids)
        self.assertEqual(d3.header("In-Reply-To").strip(), b1)
        self.assertEqual(ids(d3.header("References")), [m1, b1])
        self.assertIn("thread.reply", self.audit_rules(d3))

        # 4. Bob's client answers again, References folded over lines.
        d4 = self.send_one("bob@gmail.example", seller_alias, subject="Re: Engraving",
                           body="Thanks!", message_id=b2, in_reply_to=m3,
                           references=f"{m1}\r\n\t{b1}\r\n\t{m3}")
        m4 = self.assert_only_known_ids(d4, seller_ids, buyer_ids)
        self.assertEqual(d4.header("In-Reply-To").strip(), s2)
        self.assertEqual(ids(d4.header("References")), [s1, m2, s2])
        self.assertEqual(len({m1, m2, m3, m4}), 4)

        # The store holds each mapping once, with its pair and sender role.
        rows = {r[0]: r[1:] for r in self.store_rows(
            "SELECT marketplace_id, original_id, pair_id, sender_role FROM message_id")}
        pid = self.pair["pair_id"]
        for mid, orig, role in ((m1, s1, "seller"), (m2, b1, "buyer"), (m3, s2, "seller"),
                                (m4, b2, "buyer")):
            self.assertEqual(rows.get(mid.strip("<>")), (orig.strip("<>"), pid, role), mid)

    def test_foreign_and_other_pair_ids_are_dropped(self):
        # Acme writes to Carol (another pair); Bob cites that id, a foreign
        # mailing-list id and Acme's original id he cannot legitimately know.
        sc = "<orig-carol.1@mx.acme.example>"
        dc = self.send_one("support@acme.example", self.pair2["buyer_alias"],
                           subject="Your order", body="Shipped today.", message_id=sc)
        carol_mid = self.assert_only_known_ids(dc, set(), {sc})
        db = self.send_one("bob@gmail.example", self.pair["seller_alias"],
                           subject="Hello", body="A question.",
                           message_id="<orig-b9@laptop.gmail.example>",
                           in_reply_to=carol_mid,
                           references=f"<list.42@lists.example> {carol_mid} {sc} <a b@broken>")
        self.assert_only_known_ids(db, set(), {"orig-b9", "orig-carol", "list.42"})
        self.assertEqual(db.headers("In-Reply-To"), [])
        self.assertEqual(db.headers("References"), [])
        self.assertNotIn(carol_mid.strip("<>"), db.raw.decode("utf-8", "replace"))
        self.assertNotIn("thread.reply", self.audit_rules(db))

    def test_message_without_message_id_gets_one(self):
        d = self.send_one("support@acme.example", self.pair["buyer_alias"], subject="No id",
                          body="This client sets no message id.", message_id=None,
                          drop_message_id=True)
        mid = self.assert_only_known_ids(d, set(), set())
        # Postfix's cleanup adds a Message-ID of its own (myhostname) for a
        # client in local_header_rewrite_clients before the milter sees the
        # message; for any other client the milter adds one.  Either way the
        # original is ours or empty, never a party's.
        [original] = self.store_rows("SELECT original_id FROM message_id WHERE marketplace_id = ?",
                                     mid.strip("<>"))
        self.assertTrue(original[0] == "" or original[0].endswith("@mx." + DOMAIN), original)
        # Bob's answer to it is recognised as a reply, and Acme gets only that id back.
        r = self.send_one("bob@gmail.example", self.pair["seller_alias"], subject="Re: No id",
                          body="Noted.", message_id="<orig-b7@laptop.gmail.example>",
                          in_reply_to=mid, references=mid)
        known = {f"<{original[0]}>"} if original[0] else set()
        self.assert_only_known_ids(r, known, {"orig-b7"})
        self.assertEqual(r.headers("In-Reply-To"), list(known))
        self.assertIn("thread.reply", self.audit_rules(r))

    def test_store_unavailable_at_end_of_data_tempfails(self):
        # The alias comes from the directory cache, so RCPT passes; the
        # Message-ID lookups then find the store locked: 451, nothing
        # delivered, nothing recorded.
        self.h.restart_milter(cache_ttl_ms=60000, store={"busy_timeout_ms": 200})
        try:
            alias = self.pair["buyer_alias"]
            first = self.send_one("support@acme.example", alias, subject="Warm-up",
                                  body="First.", message_id="<orig-s8@mx.acme.example>")
            m1 = self.assert_only_known_ids(first, set(), {"orig-s8"})
            [(count,)] = self.store_rows("SELECT count(*) FROM message_id")
            before = len(self.h.audit_lines())
            msg = make_message(from_="support@acme.example", to=alias, subject="Re: Warm-up",
                               body="Second.", message_id="<orig-s9@mx.acme.example>",
                               headers=[("In-Reply-To", "<orig-s8@mx.acme.example>")])
            with self.h.lock_store():
                r = self.h.send("support@acme.example", [alias], msg)
            self.assertRefused(r, 451, "4.3.0", stages=("data",))
            self.h.assert_nothing_delivered()
            line = self.h.wait_audit(lambda l: l.get("decision") == "tempfail", since=before,
                                     what="a tempfail audit line")
            self.assertIn("store.unavailable", [x["id"] for x in line["rules"]], line)
            self.assertEqual(self.store_rows("SELECT count(*) FROM message_id"), [(count,)])
            # The retry goes through and threads on the id Bob saw.
            r = self.h.send("support@acme.example", [alias], msg)
            self.assertQueued(r, [alias])
            [d] = self.h.wait_delivered(1)
            self.assertEqual(ids(d.header("In-Reply-To")), [m1])
        finally:
            self.h.restart_milter()

    def store_rows(self, sql, *params):
        db = sqlite3.connect(f"file:{self.h.store_path}?mode=ro", uri=True)
        try:
            return list(db.execute(sql, params))
        finally:
            db.close()


if __name__ == "__main__":
    unittest.main()
