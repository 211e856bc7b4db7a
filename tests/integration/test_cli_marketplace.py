"""The marketplace-rules CLI without Postfix: optout, order, party set
--messaging/--away-text and report response-times round trips and exit codes.

Uses the harness's milter files (config, policy, key) and its cli helpers; no
Postfix, sink or daemon is started, so this runs without root.  The
response-time log is filled through the store's tables directly (the milter
writes it at end of message; see alias/thread_state.h)."""

import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmharness  # noqa: E402
from mmharness import Harness, Party  # noqa: E402


class MarketplaceCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mm-cli-mkt-", dir=os.environ.get("MM_TMPDIR"))
        h = Harness("cli-mkt", workdir=None, with_milter=False)
        if not os.access(h.binary, os.X_OK):
            raise unittest.SkipTest(f"milter binary {h.binary} missing: build first")
        h.dir = cls.tmp
        h.milter_port = mmharness.free_port()
        h._write_milter_files()  # config + policy + key: all the CLI needs
        cls.h = h
        cls.pair = h.provision(Party("bob", "buyer", "bob@gmail.example", "Bob"),
                               Party("acme", "seller", "support@acme.example", "Acme"))
        cls.zed_pair = h.provision("bob", Party("zed", "seller", "zed@zed.example", "Zed"))
        h.add_party(Party("lonely", "seller", "lonely@shop.example", "Lonely"))  # no pair

    @classmethod
    def tearDownClass(cls):
        if not os.environ.get("MM_KEEP_TMP"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def fails(self, code, *args):
        r = self.h.cli(*args, check=False)
        self.assertEqual(r.returncode, code, f"{args}: {r.stdout!r} {r.stderr!r}")
        self.assertTrue(r.stderr.startswith(b"marketplace-milter: ") or code == 2, r.stderr)
        return r.stderr.decode(errors="replace")

    # ---- optout -----------------------------------------------------------------
    def test_optout_round_trip(self):
        self.assertEqual(self.h.cli_json("optout", "show", "--party", "bob"),
                         {"party": "bob", "optout": "off"})
        party = self.h.cli_json("optout", "set", "--party", "bob", "on")
        self.assertEqual(party["id"], "bob")
        self.assertEqual(party["attributes"]["optout"], "on")
        self.assertEqual(self.h.cli_json("optout", "show", "--party", "bob")["optout"], "on")
        self.assertEqual(self.h.cli_json("party", "show", "--id", "bob")["attributes"]["optout"],
                         "on")
        self.h.cli_json("optout", "set", "--party", "bob", "off")
        self.assertEqual(self.h.cli_json("optout", "show", "--party", "bob")["optout"], "off")

    def test_optout_errors(self):
        self.assertIn("buyer", self.fails(2, "optout", "set", "--party", "acme", "on"))
        self.assertIn("no party", self.fails(2, "optout", "set", "--party", "nobody", "on"))
        self.fails(2, "optout", "set", "--party", "bob", "maybe")
        self.fails(2, "optout", "set", "--party", "bob")
        self.fails(2, "optout", "show", "--party", "acme")

    # ---- orders -----------------------------------------------------------------
    def test_order_by_pair_id_and_by_parties(self):
        o = self.h.cli_json("order", "add", "--id", "111-0000001-0000001",
                            "--pair", str(self.pair["pair_id"]), "--kind", "wine",
                            "--fulfilment", "fba")
        self.assertEqual((o["id"], o["pair_id"], o["kind"], o["fulfilment"]),
                         ("111-0000001-0000001", self.pair["pair_id"], "wine", "fba"))
        o2 = self.h.cli_json("order", "add", "--id", "111-0000001-0000002", "--buyer", "bob",
                             "--seller", "acme", "--kind", "gift-return", "--fulfilment", "fbm")
        self.assertEqual((o2["buyer"], o2["seller"], o2["pair_id"]),
                         ("bob", "acme", self.pair["pair_id"]))
        shown = self.h.cli_json("order", "show", "--id", "111-0000001-0000001")
        self.assertEqual(shown["kind"], "wine")
        self.assertEqual(shown["fulfilment"], "fba")
        self.assertRegex(shown["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

    def test_order_errors(self):
        base = ["--kind", "standard", "--fulfilment", "fbm"]
        self.h.cli_json("order", "add", "--id", "dup-1", "--pair", str(self.pair["pair_id"]),
                        *base)
        self.assertIn("exists", self.fails(2, "order", "add", "--id", "dup-1", "--pair",
                                           str(self.pair["pair_id"]), *base))
        self.assertIn("not found", self.fails(2, "order", "add", "--id", "o-x", "--pair",
                                              "99999", *base))
        self.fails(2, "order", "add", "--id", "o-x", "--buyer", "bob", "--seller", "lonely", *base)
        self.fails(2, "order", "add", "--id", "o-x", "--pair", str(self.pair["pair_id"]),
                   "--kind", "pizza", "--fulfilment", "fbm")
        self.fails(2, "order", "add", "--id", "o-x", "--pair", str(self.pair["pair_id"]),
                   "--kind", "standard", "--fulfilment", "drone")
        self.fails(2, "order", "add", "--id", "o x", "--pair", str(self.pair["pair_id"]), *base)
        self.fails(2, "order", "add", "--id", "o-x", *base)  # no pair
        self.fails(2, "order", "add", "--id", "o-x", "--pair", "1", "--buyer", "bob",
                   "--seller", "acme", *base)
        self.fails(2, "order", "show", "--id", "nope")

    # ---- party set --messaging / --away-text ------------------------------------------
    def test_seller_vacation(self):
        p = self.h.cli_json("party", "set", "--id", "zed", "--messaging", "off",
                            "--away-text", "Back on Monday.\nThanks!")
        self.assertEqual(p["attributes"]["messaging"], "off")
        self.assertEqual(p["attributes"]["away_text"], "Back on Monday.\nThanks!")
        p = self.h.cli_json("party", "show", "--id", "zed")
        self.assertEqual(p["attributes"]["away_text"], "Back on Monday.\nThanks!")
        p = self.h.cli_json("party", "set", "--id", "zed", "--messaging", "on",
                            "--away-text", "")
        self.assertEqual(p["attributes"]["messaging"], "on")
        self.assertNotIn("away_text", p["attributes"])
        self.assertEqual(p["address"], "zed@zed.example")  # the rest is kept

    def test_vacation_errors(self):
        self.assertIn("seller", self.fails(2, "party", "set", "--id", "bob", "--messaging", "off"))
        self.fails(2, "party", "set", "--id", "bob", "--away-text", "x")
        self.fails(2, "party", "set", "--id", "zed", "--messaging", "sometimes")
        self.fails(2, "party", "set", "--id", "zed", "--away-text", "x" * 5000)

    # ---- report response-times ----------------------------------------------------------
    def fill_log(self, rows):
        db = sqlite3.connect(self.h.store_path, timeout=10)
        try:
            with db:
                db.execute("DELETE FROM response_log")
                db.executemany("INSERT INTO response_log (pair_id, seller_id, buyer_message_at,"
                               " first_reply_at) VALUES (?, ?, ?, ?)", rows)
        finally:
            db.close()

    def test_report(self):
        now = int(time.time())
        day = 86400
        pid, zid = self.pair["pair_id"], self.zed_pair["pair_id"]
        self.fill_log([
            (pid, "acme", now - 10 * day, now - 10 * day + 2 * 3600),    # 2 h
            (pid, "acme", now - 9 * day, now - 9 * day + 4 * 3600),      # 4 h
            (pid, "acme", now - 8 * day, now - 8 * day + 30 * 3600),     # 30 h
            (pid, "acme", now - 7 * day, None),                          # never
            (zid, "zed", now - 3 * day, now - 3 * day + 1800),           # 0.5 h
            (zid, "zed", now - 3600, None),                              # pending
        ])
        rep = self.h.cli_json("report", "response-times", "--json")
        self.assertEqual(rep["within_hours"], 24)
        by = {s["seller"]: s for s in rep["sellers"]}
        self.assertEqual(sorted(by), ["acme", "zed"])
        a = by["acme"]
        self.assertEqual((a["buyer_messages"], a["answered"], a["answered_within"], a["pending"]),
                         (4, 3, 2, 0))
        self.assertEqual(a["median_hours"], 4.0)
        self.assertEqual(a["p90_hours"], 24.8)
        self.assertAlmostEqual(a["share_within"], 0.5)
        z = by["zed"]
        self.assertEqual((z["buyer_messages"], z["pending"], z["median_hours"]), (2, 1, 0.5))
        self.assertAlmostEqual(z["share_within"], 1.0)

        only = self.h.cli_json("report", "response-times", "--seller", "zed", "--json")
        self.assertEqual([s["seller"] for s in only["sellers"]], ["zed"])

        since = time.strftime("%Y-%m-%d", time.gmtime(now - 5 * day))
        recent = self.h.cli_json("report", "response-times", "--since", since, "--json")
        self.assertEqual([s["seller"] for s in recent["sellers"]], ["zed"])
        self.assertEqual(recent["since"], since)

        wide = self.h.cli_json("report", "response-times", "--within-hours", "48", "--json")
        self.assertAlmostEqual({s["seller"]: s for s in wide["sellers"]}["acme"]["share_within"],
                               0.75)

        text = self.h.cli("report", "response-times").stdout.decode()
        lines = text.splitlines()
        self.assertIn("median_h", lines[0])
        self.assertIn("<=24.0h", lines[0])
        acme = next(line for line in lines if line.startswith("acme"))
        self.assertEqual(acme.split(), ["acme", "4", "3", "0", "4.0", "24.8", "50.0%"])

    def test_report_empty_and_errors(self):
        self.fill_log([])
        rep = self.h.cli_json("report", "response-times", "--seller", "acme", "--json")
        self.assertEqual(rep["sellers"][0]["buyer_messages"], 0)
        self.assertIsNone(rep["sellers"][0]["median_hours"])
        self.assertIn("no buyer messages",
                      self.h.cli("report", "response-times", "--since", "2030-01-01")
                      .stdout.decode())
        self.fails(2, "report", "response-times", "--since", "2024-02-30")
        self.fails(2, "report", "response-times", "--since", "yesterday")
        self.fails(2, "report", "response-times", "--within-hours", "0")
        self.fails(2, "report", "response-times", "--seller", "nobody")
        self.fails(2, "report", "response-times", "--seller", "bob")


if __name__ == "__main__":
    unittest.main()
