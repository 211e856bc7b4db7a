#!/usr/bin/env python3
"""The demo: a private Postfix + smtp-sink + marketplace-milter in one
directory, a buyer and a seller, and four messages that show what the
milter does.  Run through scripts/demo (which builds first).

    python3 tests/integration/demo.py [--workdir var/demo] [--binary PATH]
    python3 tests/integration/demo.py --cleanup var/demo   # stop leftovers

Everything it starts is stopped when it exits, also on failure or Ctrl-C;
the directory (logs, dumps, store, audit log) is kept for a look afterwards.
"""

import argparse
import json
import os
import re
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmharness  # noqa: E402
from mmharness import DOMAIN, Harness, Party, make_message  # noqa: E402

BOLD = "\033[1m" if sys.stdout.isatty() else ""
DIM = "\033[2m" if sys.stdout.isatty() else ""
RED = "\033[31m" if sys.stdout.isatty() else ""
GREEN = "\033[32m" if sys.stdout.isatty() else ""
RESET = "\033[0m" if sys.stdout.isatty() else ""


def title(text):
    print(f"\n{BOLD}{'=' * 78}\n{text}\n{'=' * 78}{RESET}")


def section(text):
    print(f"\n{BOLD}--- {text} ---{RESET}")


def indent(text, prefix="    "):
    return textwrap.indent(text.rstrip("\n"), prefix)


def show_message(raw: bytes):
    text = raw.decode("utf-8", "replace").replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    print(indent(head))
    print(indent(""))
    print(indent(body.rstrip("\n") or "(empty body)"))


class Demo:
    def __init__(self, h: Harness):
        self.h = h

    def audit_for(self, audit_id=None, since=0):
        try:
            if audit_id:
                return self.h.wait_audit(lambda l: l.get("audit_id") == audit_id, since=since,
                                         what=f"audit line {audit_id}")
            return self.h.wait_audit(lambda l: True, since=since, what="an audit line")
        except mmharness.HarnessError:
            return None

    def scenario(self, number, what, mail_from, rcpt, message):
        title(f"{number}. {what}")
        section("sent")
        print(indent(f"MAIL FROM:<{mail_from}>\nRCPT TO:<{rcpt}>"))
        print()
        show_message(message)
        before = len(self.h.audit_lines())
        r = self.h.send(mail_from, [rcpt], message)
        section("SMTP replies")
        print(indent(f"MAIL FROM: {r.mail[0] if r.mail else '-'} {r.mail[1] if r.mail else ''}"))
        for addr, (code, text) in r.rcpts.items():
            print(indent(f"RCPT TO:<{addr}>: {code} {text}"))
        if r.data:
            print(indent(f"DATA: {r.data[0]} {r.data[1]}"))
        if r.error:
            print(indent(f"error: {r.error}"))
        delivered = None
        refusal = r.refusal(rcpt)
        if refusal is None:
            [delivered] = self.h.wait_delivered(1)
            section(f"{GREEN}delivered{RESET}{BOLD} (as the recipient's mail server got it)")
            print(indent(f"envelope sender:     <{delivered.mail_from}>"))
            print(indent("envelope recipients: "
                         + ", ".join(f"<{x}>" for x in delivered.rcpts)))
            print()
            show_message(delivered.raw)
            m = re.search(r"id=([0-9a-f]+)", delivered.header("X-Marketplace-Audit") or "")
            audit = self.audit_for(m.group(1) if m else None, since=before)
        else:
            stage, code, text = refusal
            section(f"{RED}refused{RESET}{BOLD} at {stage.upper()}")
            print(indent(f"{code} {text}"))
            self.h.assert_nothing_delivered()
            print(indent(f"{DIM}(nothing reached the sink){RESET}"))
            m = re.search(r"audit ([0-9a-f]+)", text)
            audit = self.audit_for(m.group(1) if m else None, since=before)
        section("audit log line")
        print(indent(json.dumps(audit, indent=2) if audit else "(none written)"))
        return delivered, r


def run(args) -> int:
    h = Harness("demo", binary=args.binary, workdir=args.workdir, keep=True)
    print(f"{BOLD}marketplace-milter demo{RESET}: private Postfix + smtp-sink + milter in "
          f"{os.path.abspath(args.workdir)}")
    h.start()
    try:
        print(indent(f"Postfix smtpd   127.0.0.1:{h.smtpd_port}  (config {h.conf_dir}, log {h.maillog})\n"
                     f"milter          127.0.0.1:{h.milter_port}  (config {h.milter_config})\n"
                     f"smtp-sink       127.0.0.1:{h.sink_port}  (one file per message in {h.dump_dir})"))

        title("Provisioning (marketplace-milter party add / pair add)")
        bob = Party("bob", "buyer", "bob@gmail.example", "Bob Buyer")
        acme = Party("acme", "seller", "support@acme.example", "Acme Store")
        for p in (bob, acme):
            out = h.add_party(p)
            print(indent(f"party add --id {p.id} --role {p.role} --address {p.address} "
                         f"--name {p.name!r}\n  -> {json.dumps(out)}"))
        pair = h.provision("bob", "acme")
        print(indent(f"pair add --buyer bob --seller acme\n  -> {json.dumps(pair)}"))
        buyer_alias, seller_alias = pair["buyer_alias"], pair["seller_alias"]
        print(indent(f"\nThe seller writes to {buyer_alias} to reach Bob;\n"
                     f"Bob writes to {seller_alias} to reach Acme Store."))

        demo = Demo(h)
        first, _ = demo.scenario(
            1, "Seller -> buyer: real addresses replaced, leaking headers removed",
            "support@acme.example", buyer_alias,
            make_message(from_="Acme Support <support@acme.example>", to=buyer_alias,
                         subject="Your engraving for order 123-4567",
                         body="Hello Bob,\n\nwhich colour would you like for the engraving?\n\n"
                              "Acme Store",
                         headers=[("Reply-To", "support@acme.example"),
                                  ("X-Originating-IP", "[192.0.2.7]"),
                                  ("X-Marketplace-Audit", "id=forged; decision=accept")]))
        if first is not None:
            reply_to = first.from_address[1]
            demo.scenario(
                2, "Buyer replies to the From: of what he got: it routes back to the seller",
                "bob@gmail.example", reply_to,
                make_message(from_="Bob <bob@gmail.example>", to=first.header("From"),
                             subject="Re: Your engraving for order 123-4567",
                             body="Blue, please.\n\nBob",
                             headers=[("In-Reply-To", first.header("Message-ID") or "")]))
        demo.scenario(
            3, "A stranger writes to the buyer's alias: refused (5.7.1)",
            "mallory@evil.example", buyer_alias,
            make_message(from_="Acme Store <support@acme.example>", to=buyer_alias,
                         subject="Verify your account", body="Click here."))
        unknown = "0000000000000000@" + DOMAIN
        demo.scenario(
            4, "Mail to an alias that does not exist: refused (5.1.1)",
            "support@acme.example", unknown,
            make_message(from_="support@acme.example", to=unknown, subject="Hello?",
                         body="Anyone there?"))

        title("Privacy check over everything delivered")
        violations = h.privacy_violations()
        if violations:
            print(indent(f"{RED}LEAKS:{RESET}\n" + "\n".join(violations)))
            return 1
        print(indent(f"{GREEN}ok{RESET}: no real address of Bob or Acme Store in any of the "
                     f"{len(h.all_deliveries())} delivered message(s), outside the envelope "
                     "recipient"))
        print(f"\nFiles kept in {h.dir} (maillog, dump/, milter/audit.log, milter/milter.stderr).")
        return 0
    finally:
        h.stop()
        print("demo: stopped Postfix, smtp-sink and the milter")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default=os.path.join(mmharness.REPO_ROOT, "var", "demo"))
    ap.add_argument("--binary", default=None, help="marketplace-milter (default: MM_BINARY "
                    "or build/milter/marketplace-milter)")
    ap.add_argument("--cleanup", metavar="DIR", help="stop what a killed demo left running in DIR")
    args = ap.parse_args()
    if args.cleanup:
        if os.path.isdir(args.cleanup):
            mmharness.reap_dir(os.path.abspath(args.cleanup))
        return 0
    try:
        return run(args)
    except mmharness.HarnessError as e:
        print(f"\ndemo failed: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
