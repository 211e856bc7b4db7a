"""End-to-end: the daemon config's `limits:` through Postfix.

A message over a bound (header fields, header bytes, MIME parts, the CPU
budget of its evaluation) is refused with the bound named in the reply and
one audit line, nothing is delivered, and the next ordinary message goes
through as before.  Postfix's own bounds are per field (header_size_limit
102400) and on Received fields (hopcount_limit 50), so every message here
reaches the milter whole."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mmharness import HarnessTestCase, Party, make_message, unique_line  # noqa: E402

SELLER = "support@acme.example"


class LimitsTest(HarnessTestCase):
    harness_name = "limits"

    bob = Party("bob", "buyer", "bob@gmail.example", "Bob Buyer")
    acme = Party("acme", "seller", SELLER, "Acme Store")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pair = cls.h.provision(cls.bob, cls.acme)
        cls.alias = cls.pair["buyer_alias"]

    def setUp(self):
        if not self.h.milter_running():
            self.h.start_milter()
        self.h.drain()

    # ---- helpers -----------------------------------------------------------
    def message(self, headers=(), body=None):
        return make_message(from_=f"Acme Store <{SELLER}>", to=self.alias,
                            subject="About your order 123-4567",
                            body=body or f"Your parcel left today. {unique_line()}",
                            headers=headers)

    def multipart(self, parts):
        """A multipart/mixed message of `parts` short text parts."""
        body = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\nPart {i} of the manual, see "
                       f"https://docs.example.org/p{i}\r\n" for i in range(parts))
        head = self.message().split(b"\r\n\r\n", 1)[0].decode()
        head = head.replace("Content-Type: text/plain; charset=utf-8",
                            'Content-Type: multipart/mixed; boundary="b"')
        return (head + "\r\n\r\n" + body + f"{unique_line()}\r\n--b--\r\n").encode()

    def assert_refused_over(self, msg, rule, text):
        """Refused at end of message with `text` and the audit id, one audit
        line naming `rule`, nothing delivered."""
        before = len(self.h.audit_lines())
        r = self.h.send(SELLER, [self.alias], msg)
        self.assertRefused(r, 552, "5.3.4", stages=("data",))
        self.assertIn(text, r.data[1], r)
        line = self.h.wait_audit(lambda l: l.get("decision") == "reject", since=before,
                                 what=f"the audit line of {rule}")
        self.assertEqual([x["id"] for x in line["rules"]], [rule], line)
        self.assertTrue(line["reply"].startswith(f"552 5.3.4 {text} (audit "), line)
        self.assertIn(f"(audit {line['audit_id']})", r.data[1])
        self.h.assert_nothing_delivered()
        return line

    def assert_delivered(self):
        self.assertQueued(self.h.send(SELLER, [self.alias], self.message()))
        [d] = self.h.wait_delivered(1)
        self.assertEqual(d.rcpts, ["bob@gmail.example"])

    # ---- the bounds --------------------------------------------------------
    def test_too_many_headers_552_and_audited_then_normal_mail_delivered(self):
        fields = [(f"X-Filler-{i}", f"value {i}") for i in range(1500)]
        self.assert_refused_over(
            self.message(headers=fields), "limits.max_header_count",
            "Message header exceeds 1000 headers (limit limits.max_header_count)")
        self.assert_delivered()

    def test_header_bytes_over_the_bound_552(self):
        # 20 fields of 60 KB: each within Postfix's header_size_limit.
        fields = [(f"X-Big-{i}", "x" * 60000) for i in range(20)]
        self.assert_refused_over(
            self.message(headers=fields), "limits.max_header_bytes",
            "Message header exceeds 1048576 bytes (limit limits.max_header_bytes)")
        self.assert_delivered()

    def test_too_many_mime_parts_552(self):
        self.assert_refused_over(
            self.multipart(1100), "limits.max_mime_parts",
            "Message has more than 1000 MIME parts (limit limits.max_mime_parts)")
        self.assert_delivered()

    def test_cpu_budget_spent_552_or_tempfail_as_configured(self):
        msg = self.multipart(900)
        self.h.restart_milter(limits={"cpu_budget_ms": 1})
        try:
            self.assert_refused_over(
                msg, "limits.cpu_budget_ms",
                "Message too complex to check within the time limit (limit limits.cpu_budget_ms)")
            self.h.restart_milter(limits={"cpu_budget_ms": 1, "over_budget_action": "tempfail"})
            before = len(self.h.audit_lines())
            r = self.h.send(SELLER, [self.alias], msg)
            self.assertRefused(r, 451, "4.3.0", stages=("data",))
            line = self.h.wait_audit(lambda l: l.get("decision") == "tempfail", since=before)
            self.assertEqual([x["id"] for x in line["rules"]], ["limits.cpu_budget_ms"], line)
            self.h.assert_nothing_delivered()
        finally:
            self.h.restart_milter()
        # With the default budget the same message is judged and delivered.
        self.assertQueued(self.h.send(SELLER, [self.alias], msg))
        self.h.wait_delivered(1)


if __name__ == "__main__":
    unittest.main()
