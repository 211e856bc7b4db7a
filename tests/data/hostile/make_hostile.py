#!/usr/bin/env python3
"""Writes the hostile corpus: one message per way around the policy that
issue 14 lists (and a few more), each addressed to PLACEHOLDER (the test puts
the pair's alias there), and expected.yaml, the verdict each must get under
etc/policy.yaml with redaction on in both directions (test_hostile.py).

Messages too big for the repository (thousands of stripped parts, deep
markup) are built by the functions in GENERATED, called by the test.

    python3 make_hostile.py          # rewrites the committed files
"""

import base64
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "attachments"))
import make_samples  # noqa: E402  (its PE header and PDF writer)
SELLER = "owner@acme-hostile.example"
BUYER = "shopper@buyer-hostile.example"
STRANGER = "mallory@evil-hostile.example"
PLACEHOLDER = "placeholder@marketplace.example"
DATE = "Date: Tue, 03 Mar 2026 10:00:00 +0000"


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def head(subject, sender=SELLER, extra=""):
    return (f"From: Acme <{sender}>\nTo: {PLACEHOLDER}\nSubject: {subject}\n{DATE}\n"
            f"Message-ID: <{zlib.crc32(subject.encode())}.hostile@acme-hostile.example>\n"
            f"MIME-Version: 1.0\n{extra}")


def b64(data: bytes) -> str:
    s = base64.b64encode(data).decode()
    return "\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def pe_exe() -> bytes:
    return make_samples.pe_exe() + b"\x90" * 512


def uuencode(data: bytes, name: str) -> str:
    def enc(v):
        return "`" if v == 0 else chr(32 + v)
    out = [f"begin 644 {name}"]
    for i in range(0, len(data), 45):
        chunk = data[i:i + 45]
        line = enc(len(chunk))
        for j in range(0, len(chunk), 3):
            b = chunk[j:j + 3] + b"\x00" * (3 - len(chunk[j:j + 3]))
            line += enc(b[0] >> 2) + enc(((b[0] << 4) | (b[1] >> 4)) & 63)
            line += enc(((b[1] << 2) | (b[2] >> 6)) & 63) + enc(b[2] & 63)
        out.append(line)
    return "\n".join(out + ["`", "end"]) + "\n"


def yencode(data: bytes, name: str) -> str:
    out, line = [f"=ybegin line=128 size={len(data)} name={name}"], ""
    for c in data:
        e = (c + 42) % 256
        if e in (0, 10, 13, 61):
            line += "=" + chr((e + 64) % 256)
        else:
            line += chr(e)
        if len(line) >= 128:
            out.append(line)
            line = ""
    out.append(line)
    out.append(f"=yend size={len(data)}")
    return "\n".join(out) + "\n"


def ole2_with_macros() -> bytes:
    """A Word 97 compound file with a Macros storage (VBA), as file(1) and
    libgsf read it."""
    sector = 512
    hdr = bytearray(sector)
    hdr[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", hdr, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIII", hdr, 0x2C, 1, 1, 0, 0x1000, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    struct.pack_into("<109I", hdr, 0x4C, *([0] + [0xFFFFFFFF] * 108))
    fat = bytearray(b"\xff" * sector)
    struct.pack_into("<III", fat, 0, 0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFE)

    def dirent(name, kind, left=0xFFFFFFFF, child=0xFFFFFFFF, clsid=b"\x00" * 16):
        e = bytearray(128)
        enc = (name + "\x00").encode("utf-16-le")
        e[0:len(enc)] = enc
        struct.pack_into("<HBB", e, 64, len(enc), kind, 1)
        struct.pack_into("<III", e, 68, left, 0xFFFFFFFF, child)
        e[80:96] = clsid
        struct.pack_into("<II", e, 116, 0xFFFFFFFE, 0)
        return bytes(e)

    word = bytes.fromhex("0609020000000000c000000000000046")
    dirs = (dirent("Root Entry", 5, child=1, clsid=word) + dirent("WordDocument", 2, left=2)
            + dirent("Macros", 1))
    dirs += b"\x00" * (sector - len(dirs))
    return bytes(hdr) + bytes(fat) + dirs


def pdf_with_javascript() -> bytes:
    return make_samples.pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        b"<< /S /JavaScript /JS (app.launchURL\\('https://evil-hostile.example/'\\);) >>"])


def mixed(subject, parts, sender=SELLER, extra=""):
    body = head(subject, sender, extra) + 'Content-Type: multipart/mixed; boundary="hb"\n\n'
    for headers, content in parts:
        body += f"--hb\n{headers}\n\n{content}\n"
    return crlf(body + "--hb--\n")


TEXT = "Content-Type: text/plain; charset=utf-8"
HTML = "Content-Type: text/html; charset=utf-8"


def messages() -> dict:
    exe = pe_exe()
    m = {}
    m["fake_bounce.eml"] = crlf(
        f"From: Mail Delivery System <MAILER-DAEMON@evil-hostile.example>\nTo: {PLACEHOLDER}\n"
        f"Subject: Undelivered Mail Returned to Sender\n{DATE}\nMIME-Version: 1.0\n"
        "Auto-Submitted: auto-replied\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="db"\n\n'
        "--db\nContent-Type: text/plain\n\nYour order could not be delivered. Claim a $20 gift "
        "card for a 5-star review: https://evil-hostile.example/claim\n"
        "--db\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.evil-hostile.example\n\n"
        "Final-Recipient: rfc822; someone@evil-hostile.example\nAction: failed\nStatus: 5.1.1\n"
        "--db\nContent-Type: application/octet-stream; name=\"label.exe\"\n"
        "Content-Transfer-Encoding: base64\n\n" + b64(exe) + "\n--db--\n")
    m["rfc6533_bounce.eml"] = crlf(
        f"From: MAILER-DAEMON@mx.evil-hostile.example\nTo: {PLACEHOLDER}\n"
        f"Subject: Delivery Status Notification (Failure)\n{DATE}\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=global-delivery-status; boundary="gb"\n\n'
        "--gb\nContent-Type: text/plain; charset=utf-8\n\nDelivery to the following recipient "
        "failed permanently: owner@acme-hostile.example [2001:db8::25]\n"
        "--gb\nContent-Type: message/global-delivery-status\n\nReporting-MTA: dns; mx\n\n"
        "Final-Recipient: utf-8; owner@acme-hostile.example\nAction: failed\nStatus: 5.1.1\n"
        "--gb\nContent-Type: message/global-headers\n\nReceived: from mail.acme-hostile.example "
        "by mx for <owner@acme-hostile.example>\nDelivered-To: owner@acme-hostile.example\n"
        "Message-ID: <never-delivered@marketplace.example>\nSubject: hello\n--gb--\n")
    m["stranger_autoreply.eml"] = crlf(
        f"From: Mallory <{STRANGER}>\nTo: {PLACEHOLDER}\nSubject: Out of office\n{DATE}\n"
        "Auto-Submitted: auto-replied\nMIME-Version: 1.0\nContent-Type: text/plain\n\n"
        "I am away. Meanwhile shop at https://evil-hostile.example/deals\n")
    m["text_attachment_links.eml"] = mixed("Your invoice", [
        (TEXT, "Thanks for your order."),
        (TEXT + '; name="terms.txt"\nContent-Disposition: attachment; filename="terms.txt"',
         "Our terms, in full: https://acme-hostile-shop.example/terms")])
    m["uuencode_exe.eml"] = mixed("Tool", [(TEXT, "Run this:\n" + uuencode(exe, "setup.exe"))])
    # yEnc is 8-bit: its bytes are the file's plus 42, not UTF-8.
    m["yenc_exe.eml"] = (head("Tool") + "Content-Type: text/plain; charset=iso-8859-1\n"
                         "Content-Transfer-Encoding: 8bit\n\n" + yencode(exe, "setup.exe")
                         ).replace("\n", "\r\n").encode("latin-1")
    m["binhex.eml"] = mixed("Mac file", [(TEXT, "(This file must be converted with BinHex 4.0)\n"
                                          ":$f*TEQKPH#jdCA0-B@jQ9%9B9!!!!!!!!!!!!!!!!!!!!!!!!!!!:")])
    # Other words than uuencode_exe's: the same text twice is a repeat.
    m["uuencode_in_html.eml"] = mixed("Tool", [(HTML, "<p>The installer:</p><pre>" + uuencode(
        exe, "setup.exe").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        + "</pre>")])
    m["bare_domain_link.eml"] = mixed("Deal", [(TEXT, "Have a look at acme-hostile-shop.com/deal "
                                                "for the spare parts.")])
    m["ole2_macro.eml"] = mixed("Invoice", [
        (TEXT, "The invoice is attached."),
        ('Content-Type: application/msword; name="invoice.doc"\nContent-Transfer-Encoding: '
         'base64\nContent-Disposition: attachment; filename="invoice.doc"',
         b64(ole2_with_macros()))])
    m["pdf_javascript.eml"] = mixed("Label", [
        (TEXT, "The shipping label is attached."),
        ('Content-Type: application/pdf; name="label.pdf"\nContent-Transfer-Encoding: base64\n'
         'Content-Disposition: attachment; filename="label.pdf"', b64(pdf_with_javascript()))])
    m["name_disagreement.eml"] = mixed("Readme", [
        (TEXT, "See the attached notes."),
        ('Content-Type: text/plain; name="notes.txt"\nContent-Disposition: attachment; '
         'filename="notes.js"', "WScript.Echo('hello');")])
    m["forwarded_received.eml"] = mixed("Fwd: your question", [
        (TEXT, "Forwarding the mail below."),
        ("Content-Type: message/rfc822",
         "Received: from laptop.acme-hostile.example ([192.0.2.44]) by mail.acme-hostile.example "
         "for <owner@acme-hostile.example>; Tue, 03 Mar 2026 09:00:00 +0000\n"
         "Delivered-To: owner@acme-hostile.example\nX-Original-To: owner@acme-hostile.example\n"
         "From: Acme <orders@acme-partner.example>\nSubject: question\n\nIs the part in stock?")])
    m["content_id_host.eml"] = crlf(
        head("Photo") + 'Content-Type: multipart/related; boundary="rb"\n\n'
        "--rb\n" + HTML + "\n\n<p>Your engraving:</p><img src=\"cid:part1.0409.0106@laptop."
        "acme-hostile.example\">\n--rb\nContent-Type: image/gif; name=\"e.gif\"\n"
        "Content-Transfer-Encoding: base64\nContent-ID: <part1.0409.0106@laptop.acme-hostile."
        "example>\nContent-Disposition: inline; filename=\"e.gif\"\n\n"
        "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7\n--rb--\n")
    m["html_entity_email.eml"] = mixed("Contact", [
        (HTML, "<p>Write to owner&#64;acme-hostile.example or call +44&nbsp;20&nbsp;7946&nbsp;"
               "0958</p>")])
    m["zero_width_bribe.eml"] = mixed("Thanks", [
        (TEXT, "Leave a 5-star r\u200be\u00advi\u0435w and we send you a $20 gift card for "
               "your review.")])
    m["nested_markup.eml"] = mixed("Catalogue", [
        (HTML, "<div>" * 1500 + "<a href=\"https://evil-hostile.example/\">catalogue</a>"
         + "</div>" * 1500)])
    # Hidden text (CSS or the hidden attribute) between the pieces: a client
    # that applies CSS shows them joined.
    m["html_hidden_split_phone.eml"] = mixed("Your order", [
        (HTML, '<p>Call me: 0176<span style="display:none">-x-</span>12345678 or '
               '0151<span style="font-size:0px">.</span>98765432</p>')])
    m["html_hidden_split_email.eml"] = mixed("Your order", [
        (HTML, '<p>Write to john.smith<span style="DISPLAY: none !important"> </span>'
               '@acme-mail.example or jane<span hidden>@</span>@acme-mail.example</p>')])
    m["html_hidden_split_bribe.eml"] = mixed("Thanks", [
        (HTML, '<p>Leave us a 5-star re<span style="display:none">x</span>view and we send you '
               'a gi<span style="opacity:0">x</span>ft card.</p>')])
    # Words that only CSS puts on the page.
    m["html_css_content_bribe.eml"] = mixed("Thanks", [
        (HTML, '<html><head><style>.r::after{content:"review"} .g::after{content:"gift"}</style>'
               '</head><body><p>Leave us a <span class="r"></span> and we send you a '
               '<span class="g"></span> card.</p></body></html>')])
    m["dkim_pass_forged.eml"] = crlf(
        "Authentication-Results: mx.evil-hostile.example; dkim=pass header.d=acme-hostile.example\n"
        + head("Order shipped") + TEXT + "\n\nYour order has shipped.\n")
    # format=flowed (RFC 3676): the reader joins a line ending in a space to
    # the next and, under DelSp=yes, deletes that space.
    flowed = "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes"
    m["flowed_delsp_bribe.eml"] = mixed("About your order", [
        (flowed, "Leave us a rev \niew and we send you a gi \nft card.")])
    m["flowed_delsp_email.eml"] = mixed("Contact", [
        (flowed, "Write to me: john.smith@gm \nail.example if the parcel is late.")])
    m["flowed_quoted_link.eml"] = mixed("Re: spare parts", [
        (flowed, "See below.\n\n> The manual at https://acme-hostile-sh \n> op.example/manual "
                 "explains the  \n> fitting.")])
    # Contact details a reader puts together: spread over blanks, spelled
    # out, a label glued to the number (review 14).
    m["spread_contacts.eml"] = mixed("About your parcel", [
        (TEXT, "If the parcel is late, write to j o h n . s m i t h @ p o s t . d e or "
               "anna(at)post(dot)de, or call 0 1 7 6 9 8 7 6 5 4 3 2 or Tel:0176 2468 1357.")])
    return m


def stripped_parts(n: int) -> bytes:
    """n tiny executables: one attachment.type hit each, and an audit header
    that must stay within libmilter's bound (issue 14, item 11)."""
    parts = [(TEXT, "Many files.")]
    small = b64(pe_exe()[:128])
    for i in range(n):
        parts.append((f'Content-Type: application/octet-stream; name="f{i}.exe"\n'
                      "Content-Transfer-Encoding: base64", small))
    return mixed("Files", parts)


def encoded_files(parts: int, per_part: int) -> bytes:
    """Text parts full of small uuencoded executables: thousands of
    attachment.type hits within the part limit, one audit header."""
    blocks = "".join(uuencode(pe_exe()[:200], f"f{i}.exe") for i in range(per_part))
    return mixed("Files", [(TEXT, f"Files {k}:\n" + blocks) for k in range(parts)])


def deep_markup_bomb(depth=200_000) -> bytes:
    return mixed("Catalogue", [(HTML, "<svg>" + "<script>" * depth + "x" + "</script>" * depth
                               + "<a href=\"https://evil-hostile.example/\">x</a>")])


def word_flood(words=600_000) -> bytes:
    """More words than limits.max_text_words (500,000 by default) before a
    bribe: each word costs the classifier memory, so the message is refused
    rather than read in part."""
    return mixed("Notes", [(TEXT, "word " * words + "\nLeave us a 5-star review and we will send "
                            "you a 20 EUR gift card.")])


def redaction_flood(addresses=2_000) -> bytes:
    """More contact details than limits.max_redactions (1,000): each
    replacement is kept until the part is rewritten, so the message is
    refused rather than redacted in part."""
    return mixed("Addresses", [(TEXT, " ".join(f"p{i}@post.example" for i in range(addresses)))])


# Just under limits.max_mime_parts (1000 in etc/policy.yaml), every part
# stripped; thousands, refused by that limit before any is judged; and 4,800
# encoded files in 80 parts (the audit header counts them per rule).
GENERATED = {"stripped_parts_under_the_limit": lambda: stripped_parts(990),
             "thousands_of_parts": lambda: stripped_parts(3000),
             "encoded_files_in_many_parts": lambda: encoded_files(80, 60),
             "deep_markup_bomb": deep_markup_bomb,
             "word_flood": word_flood,
             "redaction_flood": redaction_flood}


def main():
    for name, data in messages().items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
