"""End-to-end: the marketplace rules (policy/marketplace/marketplace_rules.h) through
real Postfix -> marketplace-milter -> smtp-sink.

What is checked, with the exact SMTP reply (550 5.7.1 at end of DATA, the
audit id in the text) and the rule ids (X-Marketplace-Audit `rules=` of a
delivered message, the audit log line of every message):

- opt-out (marketplace.optout), [Important] with a critical reason
  (marketplace.critical, texts from tests/data/contact_reasons), [Important]
  misuse (marketplace.important_misuse), the X-Marketplace-Contact-Reason
  header believed only from trusted tooling (a listed client address, or an
  SMTP AUTH login listed in trusted_tooling.senders, through a Postfix with
  Cyrus SASL) and never delivered;
- a thread the opted-out buyer started (marketplace.buyer_thread);
- exempt order kinds (marketplace.exempt_order);
- one unsolicited seller message per order until the buyer writes
  (marketplace.unsolicited_limit), also with two connections at once;
- the same text to the same buyer again (marketplace.repeat);
- the seller's vacation switch and away text (marketplace.vacation);
- FBA orders: the seller only replies (marketplace.fba_reply_only);
- a quarantine that only the commit step decides (another message took the
  seller's last [Important] use of the day meanwhile): the held message's
  X-Marketplace-Audit header and the audit line both say so.

Every test uses parties, pairs and orders of its own, so the tests do not
depend on each other's thread state.  Party attributes are set with the CLI
before the milter resolves the alias they are read through (the milter
caches aliases and orders for cache_ttl_ms)."""

import email.utils
import itertools
import os
import random
import re
import smtplib
import sqlite3
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmharness import (SENDER_HELO, HarnessTestCase, Party, SendResult, crlf,  # noqa: E402
                       make_message, wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
REASONS_DIR = os.path.join(os.path.dirname(HERE), "data", "contact_reasons")
LANGUAGES = ("en", "de", "fr", "it", "es")
CRITICAL_REASONS = ("delivery_scheduling", "product_customisation", "shipping_address")

AUDIT_RE = re.compile(r"^id=(?P<id>[^;\s]+); decision=(?P<decision>[a-z]+); "
                      r"rules=(?P<rules>[^;]*); bind=(?P<bind>[^;]+); "
                      r"policy=(?P<policy>[^;]+); hmac=(?P<hmac>[0-9a-f]{64})$")
AUDIT_ID_IN_REPLY = re.compile(r"\(audit ([0-9A-Za-z]+)\)")


_ids = itertools.count(1)
_ORDER_MIDDLE = random.randint(1000000, 9999999)


def reason_text(reason: str, lang: str = "en", kind: str = "pos-1") -> str:
    with open(os.path.join(REASONS_DIR, reason, lang, f"{kind}.txt"), encoding="utf-8") as f:
        return f.read().strip()


def new_order_id() -> str:
    """An order id the default order_subject_regex finds (123-1234567-1234567)."""
    return f"402-{_ORDER_MIDDLE:07d}-{next(_ids):07d}"


def token() -> str:
    """A word that makes a text unique for the repeat rule."""
    return "ref" + "".join(random.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(10))


def neutral_text(order_id: str) -> str:
    """A seller text that is no contact reason at all."""
    return (f"Your order {order_id} left our warehouse today in a blue box.\n"
            f"Our internal reference for it is {token()}, keep it for your records.")


# --------------------------------------------------------------------------
# several transactions whose end of DATA reaches the milter at the same time


def send_at_once(port: int, jobs, timeout: float = 120.0) -> list:
    """jobs: [(mail_from, rcpt, message bytes)].  Each job gets its own SMTP
    connection; all of them go up to the DATA payload, wait for each other,
    then send the payload and the final '.' together.  Returns one
    SendResult per job, in order."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(i, mail_from, rcpt, message):
        result = SendResult(mail_from=mail_from, rcpt_list=[rcpt])
        results[i] = result
        client = None
        arrived = False
        try:
            client = smtplib.SMTP(timeout=timeout, local_hostname=SENDER_HELO)
            result.greeting = client.connect("127.0.0.1", port)
            result.ehlo = client.ehlo()
            result.mail = client.mail(mail_from)
            result.rcpts[rcpt] = client.rcpt(rcpt)
            if result.mail[0] != 250 or result.rcpts[rcpt][0] != 250:
                return
            client.putcmd("data")
            code, text = client.getreply()
            if code != 354:
                result.data = (code, text.decode("utf-8", "replace"))
                return
            barrier.wait(30)
            arrived = True
            payload = re.sub(rb"(?m)^\.", b"..", crlf(message))
            if not payload.endswith(b"\r\n"):
                payload += b"\r\n"
            client.send(payload + b".\r\n")
            code, text = client.getreply()
            result.data = (code, text.decode("utf-8", "replace"))
        except (OSError, smtplib.SMTPException, threading.BrokenBarrierError) as e:
            result.error = f"{type(e).__name__}: {e}"
        finally:
            if not arrived:
                barrier.abort()  # do not leave the other connection waiting
            if client is not None:
                try:
                    client.quit()
                except (OSError, smtplib.SMTPException):
                    client.close()

    threads = [threading.Thread(target=run, args=(i, *job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 30)
    for i, r in enumerate(results):
        # smtplib gives (code, bytes); SendResult keeps (code, str)
        for name in ("greeting", "ehlo", "mail"):
            v = getattr(r, name)
            if v is not None and isinstance(v[1], bytes):
                setattr(r, name, (v[0], v[1].decode("utf-8", "replace")))
        r.rcpts = {k: (c, t.decode("utf-8", "replace") if isinstance(t, bytes) else t)
                   for k, (c, t) in r.rcpts.items()}
    return results


# --------------------------------------------------------------------------


class MarketplaceTestCase(HarnessTestCase):
    """Provisioning, sending and assertions for the classes below."""

    def setUp(self):
        if not self.h.milter_running():
            self.h.start_milter()
        self.h.drain()

    # ---- provisioning ----------------------------------------------------------
    def new_pair(self, *, optout: bool = False):
        """A fresh buyer and seller (ids and addresses used nowhere else) and
        their pair.  Returns (pair, buyer Party, seller Party)."""
        n = next(_ids)
        buyer = Party(f"mb{n:04d}", "buyer", f"mb{n:04d}x@gmail.example", f"Buyer {n}")
        seller = Party(f"ms{n:04d}", "seller", f"ms{n:04d}x@acme.example", f"Shop {n}")
        pair = self.h.provision(buyer, seller)
        if optout:
            self.optout(buyer)
        return pair, buyer, seller

    def add_buyer(self, seller: Party, *, optout: bool = False):
        """Another buyer for an existing seller: (pair, buyer)."""
        n = next(_ids)
        buyer = Party(f"mb{n:04d}", "buyer", f"mb{n:04d}x@gmail.example", f"Buyer {n}")
        pair = self.h.provision(buyer, seller.id)
        if optout:
            self.optout(buyer)
        return pair, buyer

    def optout(self, buyer: Party):
        p = self.h.cli_json("optout", "set", "--party", buyer.id, "on")
        self.assertEqual(p["attributes"]["optout"], "on", p)

    def add_order(self, pair, *, kind="standard", fulfilment="fbm") -> str:
        oid = new_order_id()
        o = self.h.cli_json("order", "add", "--id", oid, "--pair", str(pair["pair_id"]),
                            "--kind", kind, "--fulfilment", fulfilment)
        self.assertEqual((o["id"], o["kind"], o["fulfilment"]), (oid, kind, fulfilment), o)
        return oid

    # ---- sending -------------------------------------------------------------------
    def seller_sends(self, pair, seller: Party, subject: str, body: str, headers=()):
        alias = pair["buyer_alias"]
        msg = make_message(from_=f"{seller.name} <{seller.address}>", to=alias,
                           subject=subject, body=body, headers=headers)
        return self.h.send(seller.address, [alias], msg)

    def buyer_sends(self, pair, buyer: Party, subject: str, body: str):
        alias = pair["seller_alias"]
        msg = make_message(from_=f"{buyer.name} <{buyer.address}>", to=alias,
                           subject=subject, body=body)
        return self.h.send(buyer.address, [alias], msg)

    # ---- assertions ------------------------------------------------------------------
    def audit_line(self, audit_id: str) -> dict:
        return self.h.wait_audit(lambda line: line.get("audit_id") == audit_id,
                                 what=f"audit line {audit_id}")

    @staticmethod
    def rule_ids(line: dict) -> list:
        return [r.get("id") for r in line.get("rules", [])]

    def assertRuleRefused(self, result, rule: str, *, text=()) -> dict:
        """Refused at end of DATA with 550 5.7.1, the audit id in the text,
        `rule` in the audit line (decision reject), every string of `text` in
        the reply; nothing delivered.  Returns the audit line."""
        where = f"expected 550 5.7.1 ({rule}) at end of DATA, got: {result}"
        self.assertIsNone(result.error, where)
        self.assertTrue(result.accepted_rcpts, where)
        self.assertIsNotNone(result.data, where)
        code, reply = result.data
        m = AUDIT_ID_IN_REPLY.search(reply)
        line = self.audit_line(m.group(1)) if m else None
        where += f"\naudit line: {line}"
        self.assertEqual(code, 550, where)
        self.assertTrue(reply.startswith("5.7.1 "), where)
        self.assertIsNotNone(m, f"no '(audit ID)' in the reply: {where}")
        self.assertEqual(line.get("decision"), "reject", where)
        self.assertIn(rule, self.rule_ids(line), where)
        for t in text:
            self.assertIn(t, reply, where)
        self.h.assert_nothing_delivered()
        return line

    def assertRuleDelivered(self, result, rcpt_address: str, rules=(), *, not_rules=()):
        """Queued, delivered to rcpt_address (the real address), the valid
        X-Marketplace-Audit header names every rule of `rules` (and none of
        `not_rules`), and so does the audit line.  Returns (Delivery, line)."""
        self.assertTrue(result.queued, f"expected delivery ({', '.join(rules)}), got: {result}"
                        + self._audit_for_result(result))
        [d] = self.h.wait_delivered(1)
        self.assertEqual(d.rcpts, [rcpt_address], d.summary())
        values = d.headers("X-Marketplace-Audit")
        self.assertEqual(len(values), 1, f"X-Marketplace-Audit headers: {values}")
        value = re.sub(r"\s*\n\s*", " ", values[0]).strip()
        m = AUDIT_RE.match(value)
        self.assertIsNotNone(m, f"X-Marketplace-Audit: {value!r}")
        header_rules = [r for r in re.sub(r"\s+", "", m.group("rules")).split(",") if r]
        line = self.audit_line(m.group("id"))
        where = f"X-Marketplace-Audit: {value}\naudit line: {line}"
        self.assertIn(m.group("decision"), ("accept", "modify"), where)
        self.assertEqual(line.get("decision"), m.group("decision"), where)
        for rule in rules:
            self.assertIn(rule, header_rules, where)
            self.assertIn(rule, self.rule_ids(line), where)
        for rule in not_rules:
            self.assertNotIn(rule, header_rules, where)
        # X-Marketplace-* from the sender never reaches the recipient.
        leaked = [n for n in d.header_names()
                  if n.lower().startswith("x-marketplace-") and n.lower() != "x-marketplace-audit"]
        self.assertEqual(leaked, [], f"X-Marketplace-* headers delivered: {leaked}")
        return d, line

    def _audit_for_result(self, result) -> str:
        if result.data is None:
            return ""
        m = AUDIT_ID_IN_REPLY.search(result.data[1])
        if not m:
            return ""
        for line in self.h.audit_lines():
            if line.get("audit_id") == m.group(1):
                return f"\naudit line: {line}"
        return f"\n(no audit line for {m.group(1)})"



class MarketplaceRulesTest(MarketplaceTestCase):
    harness_name = "marketplace"

    # ---- 1. opt-out and [Important] -------------------------------------------------
    def test_optout_refuses_plain_seller_message(self):
        pair, buyer, seller = self.new_pair(optout=True)
        oid = self.add_order(pair)
        r = self.seller_sends(pair, seller, f"Your order {oid}", neutral_text(oid))
        line = self.assertRuleRefused(r, "marketplace.optout",
                                      text=("opt out", "[Important]", oid))
        self.assertEqual((line.get("sender_party"), line.get("recipient_party")),
                         (seller.id, buyer.id), line)
        # "Important:" without the brackets is not the tag.
        r = self.seller_sends(pair, seller, f"Important: your order {oid}",
                              reason_text("delivery_scheduling"))
        self.assertRuleRefused(r, "marketplace.optout")

    def test_optout_important_with_critical_reason_delivered(self):
        pair, buyer, seller = self.new_pair(optout=True)
        oid = self.add_order(pair)
        # Every critical reason in every language (pos-1 examples); critical
        # messages are not limited per order, and the texts differ.
        for reason in CRITICAL_REASONS:
            for lang in LANGUAGES:
                with self.subTest(reason=reason, lang=lang):
                    r = self.seller_sends(pair, seller, f"[Important] Order {oid}",
                                          reason_text(reason, lang))
                    d, line = self.assertRuleDelivered(r, buyer.address,
                                                       ("marketplace.critical",),
                                                       not_rules=("marketplace.optout",))
                    self.assertIn(reason, next(x["detail"] for x in line["rules"]
                                               if x["id"] == "marketplace.critical"), line)
                    self.assertEqual(d.header("Subject"), f"[Important] Order {oid}")
        # The tag matches ignoring case.
        r = self.seller_sends(pair, seller, f"Re: [IMPORTANT] order {oid}",
                              reason_text("delivery_scheduling", "en", "pos-2"))
        self.assertRuleDelivered(r, buyer.address, ("marketplace.critical",))

    def test_optout_important_without_critical_reason_refused(self):
        pair, buyer, seller = self.new_pair(optout=True)
        oid = self.add_order(pair)
        # Not critical on purpose (etc/policy.yaml): an out-of-stock notice, a
        # shipment confirmation, a product inquiry.  (A feedback request is no
        # good here: the content rule review.conditional refuses it first.)
        not_critical = (reason_text("product_customisation", "en", "neg-2"),
                        reason_text("delivery_scheduling", "en", "neg-1"),
                        reason_text("product_inquiry", "en", "pos-1"))
        for text in not_critical:
            with self.subTest(text=text):
                r = self.seller_sends(pair, seller, f"[Important] Order {oid}", text)
                self.assertRuleRefused(r, "marketplace.important_misuse",
                                       text=("[Important] is only for",))
        # Misuse does not depend on the opt-out: a buyer who did not opt out.
        pair2, buyer2 = self.add_buyer(seller)
        oid2 = self.add_order(pair2)
        r = self.seller_sends(pair2, seller, f"[Important] Order {oid2}", not_critical[0])
        self.assertRuleRefused(r, "marketplace.important_misuse")

    def test_contact_reason_header_only_from_trusted_tooling(self):
        pair, buyer, seller = self.new_pair(optout=True)
        oid = self.add_order(pair)
        subject = f"[Important] Order {oid}"
        text = neutral_text(oid)
        header = [("X-Marketplace-Contact-Reason", "delivery_scheduling")]
        # Default policy: trusted_tooling lists nobody, the header is ignored.
        r = self.seller_sends(pair, seller, subject, text, headers=header)
        line = self.assertRuleRefused(r, "marketplace.important_misuse")
        detail = next(x["detail"] for x in line["rules"]
                      if x["id"] == "marketplace.important_misuse")
        self.assertIn("untrusted header ignored", detail, line)

        with open(self.h.policy_path, encoding="utf-8") as f:
            original = f.read()
        trusted, n = re.subn(r"(\n  trusted_tooling:\n    clients: )\[\]", r'\1["127.0.0.1"]',
                             original)
        self.assertEqual(n, 1, "etc/policy.yaml: no 'trusted_tooling: clients: []' to change")
        try:
            with open(self.h.policy_path, "w", encoding="utf-8") as f:
                f.write(trusted)
            self.h.restart_milter()
            r = self.seller_sends(pair, seller, subject, text, headers=header)
            d, line = self.assertRuleDelivered(r, buyer.address, ("marketplace.critical",),
                                               not_rules=("marketplace.optout",))
            detail = next(x["detail"] for x in line["rules"] if x["id"] == "marketplace.critical")
            self.assertIn("delivery_scheduling", detail, line)
            self.assertIn("trusted header", detail, line)
            self.assertEqual(d.headers("X-Marketplace-Contact-Reason"), [])
            self.assertNotIn(b"contact-reason", d.raw.lower())
            # A non-critical reason from trusted tooling is still misuse.
            r = self.seller_sends(pair, seller, subject, neutral_text(oid),
                                  headers=[("X-Marketplace-Contact-Reason", "product_inquiry")])
            self.assertRuleRefused(r, "marketplace.important_misuse")
        finally:
            with open(self.h.policy_path, "w", encoding="utf-8") as f:
                f.write(original)
            self.h.restart_milter()

    # ---- 2. a thread the buyer started -----------------------------------------------
    def test_optout_buyer_started_thread_gets_answers(self):
        pair, buyer, seller = self.new_pair(optout=True)
        oid = self.add_order(pair)
        r = self.buyer_sends(pair, buyer, f"Question about order {oid}",
                             "Can you tell me if the lamp has a dimmer switch?")
        self.assertRuleDelivered(r, seller.address, ("marketplace.buyer_message",))
        r = self.seller_sends(pair, seller, f"Re: Question about order {oid}",
                              "Yes, the lamp has a dimmer switch on the cable.")
        self.assertRuleDelivered(r, buyer.address, ("marketplace.buyer_thread",),
                                 not_rules=("marketplace.optout",))
        # Another order of the same pair is another thread: still opted out.
        oid2 = self.add_order(pair)
        r = self.seller_sends(pair, seller, f"Your order {oid2}", neutral_text(oid2))
        self.assertRuleRefused(r, "marketplace.optout", text=(oid2,))

    # ---- 3. exempt orders ------------------------------------------------------------
    def test_optout_exempt_order_kinds_delivered(self):
        pair, buyer, seller = self.new_pair(optout=True)
        for kind in ("handmade", "custom", "wine"):
            with self.subTest(kind=kind):
                oid = self.add_order(pair, kind=kind)
                r = self.seller_sends(pair, seller, f"Your order {oid}", neutral_text(oid))
                _, line = self.assertRuleDelivered(r, buyer.address,
                                                   ("marketplace.exempt_order",),
                                                   not_rules=("marketplace.optout",))
                detail = next(x["detail"] for x in line["rules"]
                              if x["id"] == "marketplace.exempt_order")
                self.assertIn(kind, detail, line)
        # The control: a standard order of the same pair is not exempt.
        oid = self.add_order(pair, kind="standard")
        r = self.seller_sends(pair, seller, f"Your order {oid}", neutral_text(oid))
        self.assertRuleRefused(r, "marketplace.optout")

    # ---- 4. unsolicited messages per order ---------------------------------------------
    def test_unsolicited_limit_until_the_buyer_writes(self):
        pair, buyer, seller = self.new_pair()
        oid = self.add_order(pair)
        r = self.seller_sends(pair, seller, f"Your order {oid}", neutral_text(oid))
        self.assertRuleDelivered(r, buyer.address, ("marketplace.unsolicited_limit",))
        r = self.seller_sends(pair, seller, f"Your order {oid} again", neutral_text(oid))
        self.assertRuleRefused(r, "marketplace.unsolicited_limit",
                               text=("at most 1 unsolicited", oid))
        # Another order of the pair has its own count.
        oid2 = self.add_order(pair)
        r = self.seller_sends(pair, seller, f"Your order {oid2}", neutral_text(oid2))
        self.assertRuleDelivered(r, buyer.address, ("marketplace.unsolicited_limit",))
        # The buyer writes in the first order's thread: the seller may write again.
        r = self.buyer_sends(pair, buyer, f"Re: Your order {oid}", "Thanks, when will it arrive?")
        self.assertRuleDelivered(r, seller.address, ("marketplace.buyer_message",))
        r = self.seller_sends(pair, seller, f"Re: Your order {oid}",
                              f"It should arrive within three working days. {token()}")
        self.assertRuleDelivered(r, buyer.address)
        # ... and the second order's thread is still at its limit.
        r = self.seller_sends(pair, seller, f"Your order {oid2} again", neutral_text(oid2))
        self.assertRuleRefused(r, "marketplace.unsolicited_limit", text=(oid2,))

    # ---- 5. repeats --------------------------------------------------------------------
    def test_repeat_same_text_to_same_buyer_refused(self):
        pair, buyer, seller = self.new_pair()
        o1, o2, o3, o4 = (self.add_order(pair) for _ in range(4))
        core = (f"The replacement filter for your coffee machine ({token()}) is now in stock.\n"
                "We can send it together with the descaling tablets at no extra cost.")
        first = f"Hello {buyer.name},\n\n{core}\n\nBest regards,\n{seller.name}"
        second = ("Hi there!\n\n  " + core.replace(" ", "   ").replace("\n", "\n\n")
                  + "\n\nKind regards,\nThe team at " + seller.name)
        # Different orders (threads), so the per-order limit is not what refuses.
        r = self.seller_sends(pair, seller, f"Your order {o1}", first)
        self.assertRuleDelivered(r, buyer.address)
        r = self.seller_sends(pair, seller, f"Your order {o2}", second)
        self.assertRuleRefused(r, "marketplace.repeat", text=("72 hours",))
        # A different text in that thread goes through (the refusal was not counted).
        r = self.seller_sends(pair, seller, f"Your order {o2}", neutral_text(o2))
        self.assertRuleDelivered(r, buyer.address, ("marketplace.unsolicited_limit",))
        # The same text to another buyer of the seller is no repeat.
        pair_b, buyer_b = self.add_buyer(seller)
        ob = self.add_order(pair_b)
        r = self.seller_sends(pair_b, seller, f"Your order {ob}", first)
        self.assertRuleDelivered(r, buyer_b.address, not_rules=("marketplace.repeat",))
        # The subject is not the text: the first message's subject again (in
        # thread o3, named by X-Marketplace-Order) with another text is no repeat.
        r = self.seller_sends(pair, seller, f"Your order {o1}", neutral_text(o3),
                              headers=[("X-Marketplace-Order", o3)])
        self.assertRuleDelivered(r, buyer.address, ("marketplace.unsolicited_limit",),
                                 not_rules=("marketplace.repeat",))
        # And the first text to the first buyer once more, in a fourth thread:
        # still a repeat.
        r = self.seller_sends(pair, seller, f"Your order {o4}", first)
        self.assertRuleRefused(r, "marketplace.repeat")

    # ---- 6. vacation ---------------------------------------------------------------------
    def test_vacation_refuses_new_buyers_only(self):
        pair_old, buyer_old, seller = self.new_pair()
        pair_new, buyer_new = self.add_buyer(seller)
        oid_old, oid_new = self.add_order(pair_old), self.add_order(pair_new)
        # An existing thread, started by the seller before the vacation.
        r = self.seller_sends(pair_old, seller, f"Your order {oid_old}", neutral_text(oid_old))
        self.assertRuleDelivered(r, buyer_old.address)
        p = self.h.cli_json("party", "set", "--id", seller.id, "--messaging", "off",
                            "--away-text", "Back on Monday")
        self.assertEqual(p["attributes"].get("messaging"), "off", p)
        # A buyer without a thread: refused with the seller's own away text.
        r = self.buyer_sends(pair_new, buyer_new, f"Question about order {oid_new}",
                             "Is the table available in oak?")
        self.assertRuleRefused(r, "marketplace.vacation", text=("Back on Monday",))
        # The buyer with a thread gets through.
        r = self.buyer_sends(pair_old, buyer_old, f"Re: Your order {oid_old}",
                             "Thanks, could you add a receipt to the parcel?")
        self.assertRuleDelivered(r, seller.address,
                                 ("marketplace.vacation", "marketplace.buyer_message"))

    # ---- 7. FBA ----------------------------------------------------------------------------
    def test_fba_seller_may_only_reply(self):
        pair, buyer, seller = self.new_pair()
        oid = self.add_order(pair, fulfilment="fba")
        r = self.seller_sends(pair, seller, f"Your order {oid}", neutral_text(oid))
        self.assertRuleRefused(r, "marketplace.fba_reply_only",
                               text=("fulfilled by the marketplace", oid))
        r = self.buyer_sends(pair, buyer, f"Re: Your order {oid}",
                             "Does the charger work with a 110 V outlet?")
        self.assertRuleDelivered(r, seller.address, ("marketplace.buyer_message",))
        r = self.seller_sends(pair, seller, f"Re: Your order {oid}",
                              "Yes, it works with 110 V and 230 V outlets.")
        self.assertRuleDelivered(r, buyer.address, ("marketplace.fba_reply_only",))
        # A product inquiry may start a thread on another FBA order.
        oid2 = self.add_order(pair, fulfilment="fba")
        r = self.seller_sends(pair, seller, f"Your order {oid2}",
                              reason_text("product_inquiry", "en", "pos-1"))
        self.assertRuleDelivered(r, buyer.address, ("marketplace.fba_reply_only",))

    # ---- 8. two connections at once ---------------------------------------------------------
    def test_unsolicited_limit_holds_under_concurrency(self):
        pair, buyer, seller = self.new_pair()
        alias = pair["buyer_alias"]
        for round_ in range(3):
            with self.subTest(round=round_):
                oid = self.add_order(pair)
                jobs = [(seller.address, alias,
                         make_message(from_=f"{seller.name} <{seller.address}>", to=alias,
                                      subject=f"Your order {oid} ({i})",
                                      body=neutral_text(oid),
                                      message_id=email.utils.make_msgid(domain="client.test")))
                        for i in range(2)]
                results = send_at_once(self.h.smtpd_port, jobs)
                queued = [r for r in results if r.queued]
                refused = [r for r in results if not r.queued]
                summary = "\n".join(str(r) for r in results)
                self.assertEqual((len(queued), len(refused)), (1, 1),
                                 f"expected exactly one delivered, one refused:\n{summary}")
                # the delivery first: assertRuleRefused wants nothing (more) delivered
                self.assertRuleDelivered(queued[0], buyer.address,
                                         ("marketplace.unsolicited_limit",))
                self.assertRuleRefused(refused[0], "marketplace.unsolicited_limit",
                                       text=(oid,))



class CommitStepTest(MarketplaceTestCase):
    """The marketplace rules run twice for a message: read-only while it is
    evaluated, then for real inside the store's write transaction, after the
    edits (and the X-Marketplace-Audit header) went out.  When another
    message changes the thread in between, the second run decides, and the
    message must say what was decided, not what the first run thought."""
    harness_name = "marketplace-commit"
    policy_overrides = {"marketplace.important_daily_threshold": 1}

    def held_message(self) -> bytes:
        wait_for(lambda: self.h.hold_queue(), 30, "a message in the hold queue",
                 on_timeout=self.h.diagnostics)
        [path] = self.h.hold_queue()
        r = subprocess.run(["/usr/sbin/postcat", "-c", self.h.conf_dir, "-hb", path],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_quarantine_decided_at_commit_is_in_the_held_message(self):
        pair, buyer, seller = self.new_pair()
        oid = self.add_order(pair)
        alias = pair["buyer_alias"]
        jobs = [(seller.address, alias,
                 make_message(from_=f"{seller.name} <{seller.address}>", to=alias,
                              subject=f"[Important] Order {oid}", body=reason_text(reason)))
                for reason in ("delivery_scheduling", "shipping_address")]
        # Another process holds the store's write lock: both messages are
        # evaluated (their read-only runs see no [Important] use today), then
        # both wait to commit.  Released, one commits (the day's one use) and
        # the other's commit crosses the threshold of 1: quarantine.
        hold_s = 1.5
        store = sqlite3.connect(self.h.store_path, isolation_level=None, timeout=10)
        try:
            store.execute("BEGIN IMMEDIATE")
            results = []
            sender = threading.Thread(
                target=lambda: results.extend(send_at_once(self.h.smtpd_port, jobs)))
            sender.start()
            time.sleep(hold_s)  # both ends of message reach the commit meanwhile (~1 ms)
            store.execute("ROLLBACK")
            sender.join(120)
        finally:
            store.close()
        summary = "\n".join(str(r) for r in results)
        self.assertEqual([r.queued for r in results], [True, True], summary)
        [delivered] = self.h.wait_delivered(1)
        self.assertEqual(delivered.rcpts, [buyer.address])
        held_raw = self.held_message()
        held = held_raw.decode("utf-8", "replace")
        m = re.search(r"(?m)^X-Marketplace-Audit: (.*(?:\n[ \t].*)*)", held)
        self.assertIsNotNone(m, held)
        value = re.sub(r"\s*\n\s*", " ", m.group(1)).strip()
        header = AUDIT_RE.match(value)
        self.assertIsNotNone(header, value)
        line = self.audit_line(header.group("id"))
        where = f"X-Marketplace-Audit: {value}\naudit line: {line}"
        # The test is only worth something if the race happened: both
        # messages were inside end of message while the lock was held.
        self.assertGreaterEqual(line["milter_us"], hold_s * 1e6 / 2, where)
        self.assertEqual(header.group("decision"), "quarantine", where)
        self.assertEqual(line["decision"], "quarantine", where)
        self.assertIn("marketplace.important_quarantine", header.group("rules"), where)
        self.assertIn("marketplace.important_quarantine", self.rule_ids(line), where)
        # Changed at commit, the header is still bound to the message it is on.
        path = self.h.p("held.eml")
        with open(path, "wb") as f:
            f.write(held_raw)
        r = self.h.cli("audit", "verify", "--rcpt", buyer.address, path, check=False)
        self.assertEqual(r.returncode, 0, r.stdout.decode(errors="replace") + where)
        subprocess.run(["/usr/sbin/postsuper", "-c", self.h.conf_dir, "-d", "ALL", "hold"],
                       capture_output=True, timeout=30)



class SaslTrustTest(MarketplaceTestCase):
    """trusted_tooling.senders: a client that logged in with SMTP AUTH as a
    listed login may name the contact reason in X-Marketplace-Contact-Reason
    (Postfix hands the login to the milter as {auth_authen}); another login,
    or none, may not."""
    harness_name = "marketplace-sasl"
    sasl_users = {"tooling@acme.example": "tooling-secret", "clerk@acme.example": "clerk-secret"}

    def test_contact_reason_header_only_from_a_trusted_login(self):
        pair, buyer, seller = self.new_pair(optout=True)
        oid = self.add_order(pair)
        alias = pair["buyer_alias"]
        header = [("X-Marketplace-Contact-Reason", "delivery_scheduling")]

        def send(auth):
            msg = make_message(from_=f"{seller.name} <{seller.address}>", to=alias,
                               subject=f"[Important] Order {oid}", body=neutral_text(oid),
                               headers=header)
            return self.h.send(seller.address, [alias], msg, auth=auth)

        with open(self.h.policy_path, encoding="utf-8") as f:
            original = f.read()
        trusted, n = re.subn(r"(\n  trusted_tooling:\n    clients: \[\]\n    senders: )\[\]",
                             r'\1["tooling@acme.example"]', original)
        self.assertEqual(n, 1, "etc/policy.yaml: no 'trusted_tooling: ... senders: []' to change")
        try:
            with open(self.h.policy_path, "w", encoding="utf-8") as f:
                f.write(trusted)
            self.h.restart_milter()
            d, line = self.assertRuleDelivered(
                send(("tooling@acme.example", "tooling-secret")), buyer.address,
                ("marketplace.critical",), not_rules=("marketplace.optout",))
            detail = next(x["detail"] for x in line["rules"] if x["id"] == "marketplace.critical")
            self.assertIn("trusted header", detail, line)
            self.assertEqual(d.headers("X-Marketplace-Contact-Reason"), [])
            # Another login of the same shop, and no login: the header is ignored.
            for auth in (("clerk@acme.example", "clerk-secret"), None):
                with self.subTest(login=auth and auth[0]):
                    line = self.assertRuleRefused(send(auth), "marketplace.important_misuse")
                    detail = next(x["detail"] for x in line["rules"]
                                  if x["id"] == "marketplace.important_misuse")
                    self.assertIn("untrusted header ignored", detail, line)
        finally:
            with open(self.h.policy_path, "w", encoding="utf-8") as f:
                f.write(original)
            self.h.restart_milter()

if __name__ == "__main__":
    unittest.main()
