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

from mmharness import HarnessTestCase
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


if __name__ == "__main__":
    unittest.main()
