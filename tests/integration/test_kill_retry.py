"""kill -9 of the milter under load, with clients that retry on 4xx as a
sending MTA does (retry_load.py): every message is delivered once or refused,
none is lost, duplicated, delivered unfiltered or refused as a repeat of
itself, though some were committed by a milter killed before its reply
reached Postfix (their retries are judged as they were: alias/delivery.h).

Postfix's milter_default_action is tempfail (mmharness), so a dead milter
means 451 and the client's retry.  This is the short variant that runs in the
normal suite; test_kill_retry_long runs 2,000 messages (label long).
"""

import sys
import unittest

from mmharness import HarnessTestCase, OnePairTestCase, make_message
from retry_load import Load, table


class KillRetryTest(HarnessTestCase):
    harness_name = "kill"
    messages = 300
    kills = 2

    def test_kill_9_under_load_reconciles(self):
        self.assertEqual(self.h.postfix_main_cf()["milter_default_action"], "tempfail")
        load = Load(self.h, messages=self.messages)
        r = load.run(workers=4, kills=self.kills)
        print(f"\nkill -9 reconciliation ({self.messages} messages):\n{table(r)}", file=sys.stderr)
        self.assertEqual(r["kills"], self.kills)
        self.assertEqual(r["sent"], self.messages)
        self.assertEqual(r["gave_up"], 0, r)
        self.assertEqual(r["sent"], r["delivered"] + r["refused"])
        self.assertEqual(r["lost"], [])
        self.assertEqual(r["delivered_though_refused"], [])
        self.assertEqual(r["duplicated"], [])
        self.assertEqual(r["duplicated_message_ids"], [])
        self.assertEqual(r["unknown_at_sink"], 0)
        self.assertEqual(r["at_sink"], r["delivered"])
        self.assertEqual(r["unfiltered"], [])
        self.assertEqual(r["privacy_violations"], [])
        self.assertEqual(r["self_repeats"], [])
        # Every refusal is a marketplace rule the load meets on purpose.
        self.assertLessEqual(set(r["refused_by_rule"]), {"marketplace.unsolicited_limit"}, r)


class SameBytesAgainTest(OnePairTestCase):
    """What the milter sees when its reply was lost after the commit: the
    same bytes from the same envelope again.  Random kills rarely land in
    that window, so it is made here: the retry of the order's one
    unsolicited message is delivered as the first was, under the same
    Message-ID, while a new Message-ID with that text is a repeat."""

    harness_name = "samebytes"

    def test_same_message_again_is_judged_as_the_first(self):
        oid = "404-0000001-0000001"
        self.h.cli_json("order", "add", "--id", oid, "--pair", str(self.pair["pair_id"]),
                        "--kind", "standard", "--fulfilment", "fbm")
        alias = self.pair["buyer_alias"]
        text = "It left our warehouse today in a blue box, reference samebytes1."

        def message(message_id):
            return make_message(from_="Acme Store <support@acme.example>", to=alias,
                                subject=f"Your order {oid}", body=text,
                                date="Mon, 07 Dec 2026 10:00:00 +0000", message_id=message_id)
        first = message("<same-1@client.test>")
        self.assertQueued(self.h.send(self.acme.address, [alias], first))
        [d1] = self.h.wait_delivered(1)
        again = self.h.send(self.acme.address, [alias], first)
        self.assertQueued(again)
        [d2] = self.h.wait_delivered(1)
        self.assertEqual(d2.header("Message-ID"), d1.header("Message-ID"))
        line = self.h.audit_lines()[-1]
        self.assertIn("delivery.retry", [r["id"] for r in line["rules"]], line)
        self.assertNotIn("marketplace.repeat", [r["id"] for r in line["rules"]], line)
        # Another message with the same text: a repeat (and past the limit).
        other = self.h.send(self.acme.address, [alias], message("<same-2@client.test>"))
        self.assertRefused(other, 550, "5.7.1", stages=("data",))
        self.h.assert_nothing_delivered()


if __name__ == "__main__":
    unittest.main()
