#!/usr/bin/env python3
"""Deterministic benchmark messages for scripts/bench (stdlib only).

Every message is a buyer writing to a seller's alias, in the words of an
ordinary buyer: no review requests, promotions, opt-out language, phone
numbers or e-mail addresses in the text, so the default policy
(etc/policy.yaml) modifies every message (alias rewrite, links, attachments)
and refuses none.

    small  ~2 KB   text/plain, one allowed carrier link (ups.com)
    mime   ~110 KB multipart/mixed: multipart/alternative (text + an HTML
                   part full of links, most to domains that are not
                   allow-listed, e.g. shop-example.net, a few to carriers
                   such as ups.com) and a real PDF (~100 KB of base64)
    strip  ~121 KB mime + an 8 KB setup.exe with a real PE header, which the
                   default policy replaces by a notice
    big    ~10 MB  text + a ~7.3 MB PDF (memory scenario)

The same arguments give the same bytes (seeded random.Random, zlib), so runs
on different days send identical messages.  Files use LF line endings;
smtp-source -F sends every line with CRLF.

    python3 bench/workloads.py OUTDIR --from buyer@x.example --to ALIAS@marketplace.example
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import struct
import sys
import textwrap
import zlib

# The PDF assembler of the test samples (the bench already uses the tests'
# integration harness).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "data", "attachments"))
import make_samples  # noqa: E402

SEED = 20261123
ORDER = "114-3941689-8772232"

# Sentences a buyer writes about a parcel.  Checked against the content rules
# of etc/policy.yaml (scripts/bench runs `marketplace-milter test` on every
# workload and stops if the decision is not the expected one).
SENTENCES = [
    "The parcel arrived this morning and everything was packed very carefully.",
    "The box had a small dent on one corner, but the contents are fine.",
    "I am writing about the assembly instructions that came with the lamp.",
    "The leaflet in the box is printed in German only, and my German is not very good.",
    "Is there an English version of the instructions that you could send me?",
    "The base and the shade fit together, but I am not sure which screw goes where.",
    "There are four long screws and two short ones in the little bag.",
    "The picture on page two shows three short screws, so I may be missing one.",
    "It is not urgent; the lamp works, it just wobbles a little on the table.",
    "I attached the invoice the courier handed over, in case you need the details.",
    "The tracking page said the parcel was delivered at the neighbour's, which was right.",
    "My neighbour kept it for me and brought it over in the evening.",
    "The colour is exactly as in the photos, a warm grey with a brass switch.",
    "Thank you for answering so quickly last time.",
    "Kind regards, and have a good week.",
]

# Links in the HTML and text parts.  The default policy removes every link
# whose registrable domain is not in links.allow_domains.
STRIPPED = [
    "https://shop-example.net/lamps/brass-table-lamp-grey?ref=mail",
    "https://www.shop-example.net/help/assembly/lamp-b2",
    "https://cdn.shop-example.net/manuals/lamp-b2-de.pdf",
    "http://photos.example-cdn.net/u/8812/lamp-wobble.jpg",
    "https://forum.diy-example.org/t/lamp-screws/4411",
    "https://shop-example.net/account/orders/4411",
    "https://docs.example-files.com/d/1HqK2/view",
    "http://tinyurl-example.net/lmp82",
]
ALLOWED = [
    "https://www.ups.com/track?tracknum=1Z999AA10123456784",
    "https://www.ups.com/us/en/support.page",
    "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html",
]


def _rnd(tag: str) -> random.Random:
    return random.Random(f"{SEED}:{tag}")


def headers(sender: str, recipient: str, content_type: str, extra: str = "") -> str:
    # No Message-ID: smtp-source replays this one file N times, and Postfix
    # (cleanup) gives each copy its own.  Date is fixed for reproducibility.
    return (f"From: Bob Buyer <{sender}>\n"
            f"To: <{recipient}>\n"
            f"Subject: Lamp instructions for order {ORDER}\n"
            "Date: Mon, 23 Nov 2026 09:12:44 +0100\n"
            "MIME-Version: 1.0\n"
            f"Content-Type: {content_type}\n" + extra + "\n")


def paragraphs(tag: str, nbytes: int) -> str:
    """Paragraphs of SENTENCES, wrapped at 72, about nbytes long."""
    rnd = _rnd(tag)
    out, size = [], 0
    while size < nbytes:
        para = " ".join(rnd.sample(SENTENCES, 4))
        text = textwrap.fill(para, 72)
        out.append(text)
        size += len(text) + 2
    return "\n\n".join(out) + "\n"


def html_part(tag: str, nlinks: int = 24) -> str:
    """An HTML body with nlinks anchors (mostly STRIPPED, every sixth one
    ALLOWED) and two remote images, the kind of markup a webmail writes."""
    rnd = _rnd(tag)
    rows = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\">",
            "<style>p{font-family:Arial,sans-serif;font-size:14px}</style></head><body>",
            "<p>Hello,</p>"]
    for i in range(nlinks):
        url = ALLOWED[i // 6 % len(ALLOWED)] if i % 6 == 5 else STRIPPED[i % len(STRIPPED)]
        words = " ".join(rnd.sample(SENTENCES, 2))
        rows.append(f'<p>{words} <a href="{url}" target="_blank">this page</a></p>')
        if i % 12 == 3:
            rows.append(f'<p><img src="https://img.shop-example.net/p/{i}.jpg" '
                        'width="320" height="240" alt="photo"></p>')
    rows += ["<p>Kind regards,<br>Bob</p>", "</body></html>"]
    return "\n".join(textwrap.fill(r, 76, break_long_words=False, break_on_hyphens=False)
                     for r in rows) + "\n"


def b64(data: bytes) -> str:
    enc = base64.b64encode(data).decode("ascii")
    return "\n".join(enc[i:i + 76] for i in range(0, len(enc), 76)) + "\n"


def pdf(tag: str, image_bytes: int) -> bytes:
    """A valid one-page PDF 1.4 (catalog, page, Helvetica text, a Flate RGB
    image of image_bytes random pixels, a correct xref table): libmagic
    reports application/pdf and a viewer opens it."""
    rnd = _rnd(tag)
    width = 600
    height = max(1, image_bytes // (3 * width))
    pixels = zlib.compress(rnd.randbytes(3 * width * height), 6)
    content = (b"BT /F1 18 Tf 72 780 Td (Invoice " + ORDER.encode() + b") Tj ET\n"
               b"BT /F1 11 Tf 72 760 Td (Brass table lamp, grey - 1 x 49.90 EUR) Tj ET\n"
               b"q 451 0 0 300 72 420 cm /Im1 Do Q\n")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n"
        % (width, height, len(pixels)) + pixels + b"\nendstream",
        b"<< /Producer (bench/workloads.py) /Title (Invoice) >>",
    ]
    return make_samples.pdf_from_objects(objects, b" /Info 7 0 R")


def pe_exe(tag: str, size: int = 8192) -> bytes:
    """A Windows PE32 executable header (DOS stub, "PE\\0\\0", COFF header,
    optional header, three sections) padded with random bytes to size:
    libmagic reports a PE32 executable whatever the file is called."""
    rnd = _rnd(tag)
    dos = bytearray(0x80)
    dos[0:2] = b"MZ"
    struct.pack_into("<HHHHHHHHHH", dos, 2, 0x90, 3, 0, 4, 0, 0xFFFF, 0, 0xB8, 0, 0)
    struct.pack_into("<H", dos, 0x18, 0x40)       # e_lfarlc: new-style executable
    struct.pack_into("<I", dos, 0x3C, 0x80)       # e_lfanew: where "PE\0\0" is
    stub = b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21" \
           b"This program cannot be run in DOS mode.\r\r\n$"
    dos[0x40:0x40 + len(stub)] = stub
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", 0x14C, 3, 0x6553F100, 0, 0, 0xE0, 0x0102)
    opt = bytearray(0xE0)
    struct.pack_into("<HBBIIIIIII", opt, 0, 0x10B, 14, 0, 0x1000, 0x800, 0, 0x1010,
                     0x1000, 0x2000, 0x400000)
    struct.pack_into("<IIHHHHHHIIIIHHIIIIII", opt, 32, 0x1000, 0x200, 6, 0, 0, 0, 6, 0, 0,
                     0x4000, 0x400, 0, 2, 0x8140, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    sections = b""
    for i, (name, flags) in enumerate(((b".text", 0x60000020), (b".rdata", 0x40000040),
                                       (b".data", 0xC0000040))):
        sections += struct.pack("<8sIIIIIIHHI", name, 0x800, 0x1000 * (i + 1), 0x800,
                                0x400 + 0x800 * i, 0, 0, 0, 0, flags)
    head = bytes(dos) + coff + bytes(opt) + sections
    head += bytes(0x400 - len(head))
    return head + rnd.randbytes(size - len(head))


def attachment(boundary: str, ctype: str, name: str, data: bytes) -> str:
    return (f"--{boundary}\nContent-Type: {ctype}; name=\"{name}\"\n"
            "Content-Transfer-Encoding: base64\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\n\n" + b64(data) + "\n")


def text_with_links(tag: str) -> str:
    body = "Hello,\n\n" + paragraphs(tag, 900)
    body += f"\nThe shop page: {STRIPPED[0]}\nTracking: {ALLOWED[0]}\n"
    return body + "\nKind regards,\nBob\n"


def small(sender: str, recipient: str) -> bytes:
    body = "Hello,\n\n" + paragraphs("small", 1500)
    body += f"\nTracking, for reference: {ALLOWED[0]}\n\nKind regards,\nBob\n"
    return (headers(sender, recipient, "text/plain; charset=utf-8",
                    "Content-Transfer-Encoding: 8bit\n") + body).encode()


def multipart(sender: str, recipient: str, *, with_exe: bool, pdf_bytes: int = 75 * 1024,
              tag: str = "mime") -> bytes:
    mixed, alt = "=_bench_mixed_7f3a", "=_bench_alt_19c2"
    s = headers(sender, recipient, f'multipart/mixed; boundary="{mixed}"')
    s += "This is a multi-part message in MIME format.\n\n"
    s += f'--{mixed}\nContent-Type: multipart/alternative; boundary="{alt}"\n\n'
    s += (f"--{alt}\nContent-Type: text/plain; charset=utf-8\n"
          "Content-Transfer-Encoding: 8bit\n\n" + text_with_links(tag) + "\n")
    s += (f"--{alt}\nContent-Type: text/html; charset=utf-8\n"
          "Content-Transfer-Encoding: 8bit\n\n" + html_part(tag) + "\n")
    s += f"--{alt}--\n\n"
    s += attachment(mixed, "application/pdf", f"invoice-{ORDER}.pdf", pdf(tag, pdf_bytes))
    if with_exe:
        s += attachment(mixed, "application/octet-stream", "setup.exe", pe_exe(tag))
    s += f"--{mixed}--\n"
    return s.encode()


def mime(sender: str, recipient: str) -> bytes:
    return multipart(sender, recipient, with_exe=False)


def strip(sender: str, recipient: str) -> bytes:
    return multipart(sender, recipient, with_exe=True, tag="strip")


def big(sender: str, recipient: str, pdf_bytes: int = 7_300_000) -> bytes:
    """Memory scenario: ~10 MB on the wire (a ~7.3 MB PDF in base64)."""
    return multipart(sender, recipient, with_exe=False, pdf_bytes=pdf_bytes, tag="big")


WORKLOADS = {"small": small, "mime": mime, "strip": strip}


def write(path: str, data: bytes) -> int:
    with open(path, "wb") as f:
        f.write(data)
    return len(data)


def main() -> None:
    ap = argparse.ArgumentParser(description="write the benchmark messages into OUTDIR")
    ap.add_argument("outdir")
    ap.add_argument("--from", dest="sender", default="bob@gmail.example")
    ap.add_argument("--to", dest="recipient", default="0123456789abcdef@marketplace.example")
    ap.add_argument("--big", action="store_true", help="also write big.eml (~10 MB)")
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    makers = dict(WORKLOADS, big=big) if args.big else WORKLOADS
    for name, make in makers.items():
        path = os.path.join(args.outdir, f"{name}.eml")
        print(f"{path}: {write(path, make(args.sender, args.recipient))} bytes")


if __name__ == "__main__":
    main()
