"""`marketplace-milter export` and `import` through the binary, without
Postfix: a store provisioned with the CLI moves to a second, empty store and
exports identically; a bad file is refused with its FILE:LINE and leaves the
store empty; a store that holds rows is refused.

Uses the harness's milter files (config, policy, key) for two stores; no
daemon is started, so this runs without root."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmharness  # noqa: E402
from mmharness import Harness, Party  # noqa: E402


def cli_files(name: str, root: str) -> Harness:
    h = Harness(name, workdir=None, with_milter=False)
    if not os.access(h.binary, os.X_OK):
        raise unittest.SkipTest(f"milter binary {h.binary} missing: build first")
    h.dir = os.path.join(root, name)
    os.makedirs(h.dir)
    h.milter_port = mmharness.free_port()
    h._write_milter_files()
    return h


class TransferCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="mm-cli-transfer-", dir=os.environ.get("MM_TMPDIR"))
        cls.a = cli_files("a", cls.tmp)
        a = cls.a
        cls.pair = a.provision(Party("bob", "buyer", "bob@gmail.example", "Bob Ünal"),
                               Party("acme", "seller", "support@acme.example", "Acme",
                                     senders=["orders@acme.example"]))
        a.cli_json("order", "add", "--id", "111-0000001-0000001", "--buyer", "bob",
                   "--seller", "acme", "--kind", "wine", "--fulfilment", "fba")
        a.cli_json("optout", "set", "--party", "bob", "on")
        a.cli_json("party", "set", "--id", "acme", "--messaging", "off", "--away-text",
                   "Back on Monday")
        cls.export = os.path.join(cls.tmp, "store.jsonl")
        cls.summary = a.cli_json("export", "--out", cls.export)

    @classmethod
    def tearDownClass(cls):
        if not os.environ.get("MM_KEEP_TMP"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def fresh(self, name: str) -> Harness:
        return cli_files(name, self.tmp)

    def lines(self) -> list:
        with open(self.export, encoding="utf-8") as f:
            return f.read().splitlines()

    def test_export_writes_a_header_and_one_line_per_row(self):
        lines = self.lines()
        header = json.loads(lines[0])
        self.assertEqual(header["format"], "marketplace-milter-store")
        self.assertEqual(header["schema_version"], 4)
        self.assertEqual(header["counts"], self.summary["counts"])
        self.assertEqual(len(lines) - 1, sum(header["counts"].values()))
        self.assertEqual((header["counts"]["party"], header["counts"]["pair"],
                          header["counts"]["orders"]), (2, 1, 1))
        rows = [json.loads(line) for line in lines[1:]]
        self.assertEqual(rows[0]["table"], "party")
        bob = next(r["row"] for r in rows if r["table"] == "party" and r["row"]["id"] == "bob")
        self.assertEqual(bob["display_name"], "Bob Ünal")
        self.assertEqual(json.loads(bob["attributes"]), {"optout": "on"})
        # The same store exported to stdout gives the same bytes.
        with open(self.export, "rb") as f:
            self.assertEqual(self.a.cli("export").stdout, f.read())

    def test_round_trip_into_a_fresh_store(self):
        b = self.fresh("round-trip")
        imported = b.cli_json("import", self.export)
        self.assertEqual(imported["imported"], self.summary["counts"])
        self.assertEqual(b.cli("export").stdout, self.a.cli("export").stdout)
        shown = b.cli_json("pair", "show", "--alias", self.pair["buyer_alias"])
        self.assertEqual((shown["pair_id"], shown["buyer"], shown["seller"]),
                         (self.pair["pair_id"], "bob", "acme"))
        self.assertEqual(b.cli_json("optout", "show", "--party", "bob")["optout"], "on")
        order = b.cli_json("order", "show", "--id", "111-0000001-0000001")
        self.assertEqual((order["kind"], order["fulfilment"]), ("wine", "fba"))

    def test_import_from_stdin(self):
        b = self.fresh("stdin")
        with open(self.export, "rb") as f:
            r = b.cli("import", "-", input=f.read())
        self.assertEqual(json.loads(r.stdout)["imported"], self.summary["counts"])

    def test_a_store_with_rows_is_refused(self):
        r = self.a.cli("import", self.export, check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"holds rows", r.stderr)
        self.assertIn(b"import only into an empty store", r.stderr)

    def test_bad_lines_are_refused_with_file_and_line_and_nothing_is_imported(self):
        lines = self.lines()
        bad_row = json.loads(lines[2])
        bad_row["row"]["created"] = "yesterday"
        cases = [
            (3, json.dumps(bad_row), "party.created: expected an integer"),
            (3, "{not json", "not JSON"),
            (len(lines), '{"table":"deliveries"}', "expected {\"table\""),
        ]
        for number, text, message in cases:
            with self.subTest(line=number):
                broken = list(lines)
                broken[number - 1] = text
                path = os.path.join(self.tmp, f"bad-{number}.jsonl")
                with open(path, "w", encoding="utf-8") as f:
                    f.write("\n".join(broken) + "\n")
                b = self.fresh(f"bad-{number}-{len(message)}")
                r = b.cli("import", path, check=False)
                self.assertEqual(r.returncode, 2, r.stderr)
                err = r.stderr.decode()
                self.assertIn(f"{path}:{number}: ", err)
                self.assertIn(message, err)
                header = json.loads(b.cli("export").stdout.splitlines()[0])
                self.assertEqual(sum(header["counts"].values()), 0, "rows were imported")

    def test_exporting_a_store_that_does_not_exist_fails(self):
        b = self.fresh("missing")
        r = b.cli("export", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"does not exist: nothing to export", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(b.dir, "milter", "store.db")))

    def test_cli_reference_lists_the_subcommands(self):
        ref = json.loads(subprocess.run([self.a.binary, "--cli-reference"],
                                        capture_output=True, check=True).stdout)
        names = {s["name"]: s for s in ref["subcommands"]}
        self.assertIn("export", names)
        self.assertIn("import", names)
        self.assertIn("--out", [o["names"] for o in names["export"]["options"]])


if __name__ == "__main__":
    unittest.main()
