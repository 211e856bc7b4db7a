#!/usr/bin/env python3
"""Writes the MIME content-policy corpus: one .eml per shape real mail
clients send, plus expected.json (what the policy must decide for each).

Stdlib only and deterministic (fixed boundaries, dates, Message-IDs), so
re-running it leaves the committed files unchanged; tests/integration/
test_mime.py checks that.  The messages are hand-built byte by byte (not
with the email package's generator) so that they keep the exact quirks of
each client: Gmail's multipart/related around multipart/alternative with
``ii_`` Content-IDs, Outlook's windows-1252 quoted-printable and
``image001.png@01DB...`` signature logo, Apple Mail's tab-folded
parameters and the text part after the attachment, Thunderbird's
forward-as-attachment.  Line endings are CRLF, as on the wire.

    python3 tests/data/messages/make_corpus.py [OUTDIR]

Addresses: sellers write from ``seller@acme.example``, buyers from
``buyer@gmail.example``; the recipient is always
``placeholder@marketplace.example``.  The tests provision parties with
those real addresses and replace the placeholder in the header with the
pair's real alias (``with_alias``), so the harness's privacy check proves
that neither real address reaches the other side.

Attachment bytes come from tests/data/attachments/ (make_samples.py) when
those files exist, else from the minimal builders below (same formats).

The over-size message is not committed: ``big_attachment_message()``
builds it in memory (two 5.5 MiB PDFs: each under the per-file limit, the
total over the 10 MiB per-message limit).
"""
import base64
import json
import os
import quopri
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(os.path.dirname(HERE), "attachments")
sys.path.insert(0, SAMPLES)
import make_samples  # noqa: E402  (its PDF when sample.pdf is missing)

SELLER = "seller@acme.example"
BUYER = "buyer@gmail.example"
PLACEHOLDER = "placeholder@marketplace.example"
DOMAIN = "marketplace.example"


# --------------------------------------------------------------------------
# attachment bytes




def _minimal_png():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _minimal_jpeg():
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes([1] * 64)
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 8, 8, 1) + b"\x01\x11\x00"
    dht_dc = b"\xff\xc4" + struct.pack(">H", 20) + b"\x00" + bytes([1] + [0] * 15) + b"\x00"
    dht_ac = b"\xff\xc4" + struct.pack(">H", 20) + b"\x10" + bytes([1] + [0] * 15) + b"\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + app0 + dqt + sof + dht_dc + dht_ac + sos + b"\x00" + b"\xff\xd9"


def _minimal_pe():
    dos = bytearray(b"MZ" + b"\x90\x00" + b"\x00" * 60)
    struct.pack_into("<I", dos, 0x3C, 0x40)
    coff = struct.pack("<HHIIIHH", 0x14C, 0, 0, 0, 0, 0xE0, 0x0102)
    opt = bytearray(0xE0)
    struct.pack_into("<H", opt, 0, 0x10B)
    struct.pack_into("<H", opt, 68, 2)
    return bytes(dos) + b"PE\x00\x00" + coff + bytes(opt)


def sample(name, fallback):
    path = os.path.join(SAMPLES, name)
    if os.path.exists(path):
        with open(path, "rb") as f:
            return f.read()
    return fallback()


PDF = sample("sample.pdf", make_samples.pdf)
PNG = sample("sample.png", _minimal_png)
JPEG = sample("sample.jpg", _minimal_jpeg)
EXE = sample("sample.exe", _minimal_pe)


# --------------------------------------------------------------------------
# building blocks (everything is bytes; lines joined with CRLF at the end)


def b64(data, width=76):
    s = base64.b64encode(data).decode("ascii")
    return "\n".join(s[i:i + width] for i in range(0, len(s), width))


def qp(text, charset):
    """Quoted-printable as clients write it: soft breaks at 76, '=' as =3D."""
    data = text.replace("\r\n", "\n").encode(charset)
    return quopri.encodestring(data, quotetabs=False).decode("ascii")


def msg(*chunks):
    """Joins str/bytes chunks (LF line endings) and converts to CRLF."""
    out = b"".join(c.encode("utf-8") if isinstance(c, str) else c for c in chunks)
    out = out.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return out


# --------------------------------------------------------------------------
# the messages

TRACK_URL = "https://www.ups.com/track?loc=en_US&tracknum=1Z999AA10123456784&requester=ST/"


def gmail_alternative_inline_image():
    """Gmail web, rich text with a pasted picture: multipart/related around
    multipart/alternative; the picture has an ii_ Content-ID and an
    X-Attachment-Id; a UPS tracking link (carrier: stays)."""
    text = ("Hi Bob,\n\nyour parcel left our workshop this morning. UPS tracking:\n"
            f"{TRACK_URL}\n\nThis is how the engraving turned out:\n[image: engraving.png]\n\n"
            "Best,\nMaria from Acme\n")
    html = ('<div dir="ltr">Hi Bob,<div><br></div><div>your parcel left our workshop this '
            'morning. UPS tracking:<br><a href="' + TRACK_URL.replace("&", "&amp;") + '">'
            '1Z999AA10123456784</a></div><div><br></div><div>This is how the engraving turned '
            'out:</div><div><img src="cid:ii_lq7x1k2m0" alt="engraving.png" width="200" '
            'height="150"><br></div><div><br></div><div>Best,</div><div>Maria from Acme</div>'
            '</div>\n')
    return msg(
        "MIME-Version: 1.0\n"
        "Date: Mon, 23 Nov 2026 10:15:02 +0100\n"
        "Message-ID: <CAF3x9k2Q7mZpL0vR8t6wYbN4sD1hJ5uE2cK9aT0gXoW=pQ@mail.gmail.example>\n"
        "Subject: Your parcel for order 123-4567890\n"
        "From: Acme Store <seller@acme.example>\n"
        f"To: {PLACEHOLDER}\n"
        'Content-Type: multipart/related; boundary="000000000000a1b2c3d4e5f60718"\n'
        "\n"
        "--000000000000a1b2c3d4e5f60718\n"
        'Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f60717"\n'
        "\n"
        "--000000000000a1b2c3d4e5f60717\n"
        'Content-Type: text/plain; charset="UTF-8"\n'
        "\n",
        text,
        "\n--000000000000a1b2c3d4e5f60717\n"
        'Content-Type: text/html; charset="UTF-8"\n'
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n",
        qp(html, "utf-8"),
        "\n--000000000000a1b2c3d4e5f60717--\n"
        "--000000000000a1b2c3d4e5f60718\n"
        'Content-Type: image/png; name="engraving.png"\n'
        'Content-Disposition: inline; filename="engraving.png"\n'
        "Content-Transfer-Encoding: base64\n"
        "Content-ID: <ii_lq7x1k2m0>\n"
        "X-Attachment-Id: ii_lq7x1k2m0\n"
        "\n",
        b64(PNG),
        "\n--000000000000a1b2c3d4e5f60718--\n")


def apple_mail_inline_image():
    """Apple Mail, rich text with an inline picture: multipart/alternative
    whose HTML side is multipart/related (the picture beside the HTML);
    tab-folded parameters, x-unix-mode, UUID Content-Id."""
    text = ("Hello Bob,\n\nhere is the preview of the engraving \u201cFor Grandma\u201d "
            "\u2014 the font is Script, 14 pt.\n\n\n\nDoes it look right to you?\n\nMaria\n")
    html = ('<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8">'
            '</head><body style="overflow-wrap: break-word; -webkit-nbsp-mode: space; '
            'line-break: after-white-space;">Hello Bob,<div><br></div><div>here is the preview '
            'of the engraving \u201cFor Grandma\u201d \u2014 the font is Script, 14 pt.</div>'
            '<div><br></div><div><img apple-inline="yes" id="5A1B2C3D-4E5F-4061-8728-394A5B6C7D8E"'
            ' width="200" height="150" src="cid:6C8E1F2A-3B4D-4E5F-A6B7-C8D9E0F1A2B3"></div>'
            '<div><br></div><div>Does it look right to you?</div><div><br></div><div>Maria</div>'
            '</body></html>')
    return msg(
        "From: Acme Store <seller@acme.example>\n"
        "Content-Type: multipart/alternative;\n"
        '\tboundary="Apple-Mail=_0B1C2D3E-4F50-4162-8374-95A6B7C8D9EA"\n'
        "Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.500.171.1.1\\))\n"
        "Subject: Engraving preview for order 123-4567890\n"
        "Date: Mon, 23 Nov 2026 11:20:31 +0100\n"
        "Message-Id: <2E3F4A5B-6C7D-4E8F-9A0B-1C2D3E4F5A6B@acme.example>\n"
        f"To: {PLACEHOLDER}\n"
        "X-Mailer: Apple Mail (2.3774.500.171.1.1)\n"
        "\n"
        "\n"
        "--Apple-Mail=_0B1C2D3E-4F50-4162-8374-95A6B7C8D9EA\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "Content-Type: text/plain;\n"
        "\tcharset=utf-8\n"
        "\n",
        qp(text, "utf-8"),
        "\n--Apple-Mail=_0B1C2D3E-4F50-4162-8374-95A6B7C8D9EA\n"
        "Content-Transfer-Encoding: 7bit\n"
        "Content-Type: multipart/related;\n"
        '\ttype="text/html";\n'
        '\tboundary="Apple-Mail=_7C8D9EAF-B0C1-42D3-84E5-F60718293A4B"\n'
        "\n"
        "\n"
        "--Apple-Mail=_7C8D9EAF-B0C1-42D3-84E5-F60718293A4B\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "Content-Type: text/html;\n"
        "\tcharset=utf-8\n"
        "\n",
        qp(html, "utf-8"),
        "\n--Apple-Mail=_7C8D9EAF-B0C1-42D3-84E5-F60718293A4B\n"
        "Content-Transfer-Encoding: base64\n"
        "Content-Disposition: inline;\n"
        "\tfilename=engraving.png\n"
        "Content-Type: image/png;\n"
        "\tx-unix-mode=0644;\n"
        '\tname="engraving.png"\n'
        "Content-Id: <6C8E1F2A-3B4D-4E5F-A6B7-C8D9E0F1A2B3>\n"
        "\n",
        b64(PNG),
        "\n--Apple-Mail=_7C8D9EAF-B0C1-42D3-84E5-F60718293A4B--\n"
        "\n"
        "--Apple-Mail=_0B1C2D3E-4F50-4162-8374-95A6B7C8D9EA--\n")


OUTLET_URL = ("https://www.acme-outlet.example/engraving/examples/italic-script-gallery"
              "?utm_source=marketplace&utm_medium=email&utm_campaign=order-1234567890")


def outlook_html_qp():
    """Outlook (Exchange Online), HTML mail with a signature logo:
    multipart/related{multipart/alternative{text/plain, text/html}, image001.png},
    windows-1252, quoted-printable (the long link is split by soft line
    breaks), a link to the seller's own shop (not allowed)."""
    text = ("Dear customer,\n\n"
            "thank you for your question. The engraving costs \u20ac12 \u2013 we can write "
            "\u201cForever\u201d in italic script, that\u2019s no problem.\n"
            f"Photos of earlier engravings<{OUTLET_URL}>\n\n"
            "Kind regards\n\nMaria Keller\nAcme Store\n\n")
    html = (
        '<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:'
        'office:office" xmlns:w="urn:schemas-microsoft-com:office:word" xmlns:m="http://'
        'schemas.microsoft.com/office/2004/12/omml" xmlns="http://www.w3.org/TR/REC-html40">\n'
        '<head>\n<meta http-equiv="Content-Type" content="text/html; charset=Windows-1252">\n'
        '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">\n'
        '<style><!--\n/* Font Definitions */\n@font-face\n\t{font-family:"Cambria Math";\n'
        '\tpanose-1:2 4 5 3 5 4 6 3 2 4;}\np.MsoNormal, li.MsoNormal, div.MsoNormal\n'
        '\t{margin:0cm;\n\tfont-size:11.0pt;\n\tfont-family:"Calibri",sans-serif;}\n'
        'a:link, span.MsoHyperlink\n\t{mso-style-priority:99;\n\tcolor:#0563C1;\n'
        '\ttext-decoration:underline;}\n--></style>\n</head>\n'
        '<body lang="DE" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">\n'
        '<div class="WordSection1">\n'
        '<p class="MsoNormal"><span lang="EN-US">Dear customer,<o:p></o:p></span></p>\n'
        '<p class="MsoNormal"><span lang="EN-US"><o:p>&nbsp;</o:p></span></p>\n'
        '<p class="MsoNormal"><span lang="EN-US">thank you for your question. The engraving '
        'costs \u20ac12 \u2013 we can write \u201cForever\u201d in italic script, that\u2019s '
        'no problem.<o:p></o:p></span></p>\n'
        '<p class="MsoNormal"><span lang="EN-US"><a href="' + OUTLET_URL.replace("&", "&amp;")
        + '">Photos of earlier engravings</a><o:p></o:p></span></p>\n'
        '<p class="MsoNormal"><span lang="EN-US"><o:p>&nbsp;</o:p></span></p>\n'
        '<p class="MsoNormal"><span lang="EN-US">Kind regards<o:p></o:p></span></p>\n'
        '<p class="MsoNormal"><span lang="EN-US"><o:p>&nbsp;</o:p></span></p>\n'
        '<p class="MsoNormal"><span lang="EN-US">Maria Keller<br>Acme Store<o:p></o:p></span>'
        '</p>\n<p class="MsoNormal"><span lang="EN-US"><img width="120" height="40" '
        'style="width:1.25in;height:.4166in" id="Picture_x0020_1" '
        'src="cid:image001.png@01DB3D9A.5E6F7A80" alt="Acme Store"></span><span lang="EN-US">'
        '<o:p></o:p></span></p>\n</div>\n</body>\n</html>\n')
    rel = "_004_AM0PR07MB6123A1B2C3D4E5F6A7B8C9D0E1F2AAM0PR07MB6123eurp_"
    alt = "_000_AM0PR07MB6123A1B2C3D4E5F6A7B8C9D0E1F2AAM0PR07MB6123eurp_"
    return msg(
        "From: Acme Store <seller@acme.example>\n"
        f'To: "{PLACEHOLDER}" <{PLACEHOLDER}>\n'
        "Subject: Engraving options for order 123-4567890\n"
        "Thread-Topic: Engraving options for order 123-4567890\n"
        "Thread-Index: AdnX1f2k3c4b5a6e7f8g9h0iJkLmNo==\n"
        "Date: Mon, 23 Nov 2026 09:41:17 +0000\n"
        "Message-ID:\n"
        " <AM0PR07MB6123A1B2C3D4E5F6A7B8C9D0E1F2A@AM0PR07MB6123.eurprd07.prod.outlook.example>\n"
        "Accept-Language: de-DE, en-US\n"
        "Content-Language: en-US\n"
        "X-MS-Has-Attach: yes\n"
        "X-MS-TNEF-Correlator:\n"
        "Content-Type: multipart/related;\n"
        f'\tboundary="{rel}";\n'
        '\ttype="multipart/alternative"\n'
        "MIME-Version: 1.0\n"
        "\n"
        f"--{rel}\n"
        "Content-Type: multipart/alternative;\n"
        f'\tboundary="{alt}"\n'
        "\n"
        f"--{alt}\n"
        'Content-Type: text/plain; charset="windows-1252"\n'
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n",
        qp(text, "cp1252"),
        f"\n--{alt}\n"
        'Content-Type: text/html; charset="windows-1252"\n'
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n",
        qp(html, "cp1252"),
        f"\n--{alt}--\n"
        "\n"
        f"--{rel}\n"
        'Content-Type: image/png; name="image001.png"\n'
        "Content-Description: image001.png\n"
        f'Content-Disposition: inline; filename="image001.png"; size={len(PNG)};\n'
        '\tcreation-date="Mon, 23 Nov 2026 09:41:16 GMT";\n'
        '\tmodification-date="Mon, 23 Nov 2026 09:41:16 GMT"\n'
        "Content-ID: <image001.png@01DB3D9A.5E6F7A80>\n"
        "Content-Transfer-Encoding: base64\n"
        "\n",
        b64(PNG),
        f"\n\n--{rel}--\n")


def apple_mail_pdf():
    """Apple Mail, plain text with a PDF: multipart/mixed{text/plain,
    application/pdf, text/plain} (Apple puts the text after the attachment
    in a part of its own)."""
    b = "Apple-Mail=_5B2C7E4A-1D3F-4E6A-9B8C-0F1E2D3C4B5A"
    return msg(
        "From: Acme Store <seller@acme.example>\n"
        "Content-Type: multipart/mixed;\n"
        f'\tboundary="{b}"\n'
        "Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.500.171.1.1\\))\n"
        "Subject: Invoice for order 123-4567890\n"
        "Date: Mon, 23 Nov 2026 11:02:45 +0100\n"
        "Message-Id: <7F3A2B1C-9D8E-4F6A-B5C4-D3E2F1A0B9C8@acme.example>\n"
        f"To: {PLACEHOLDER}\n"
        "X-Mailer: Apple Mail (2.3774.500.171.1.1)\n"
        "\n"
        "\n"
        f"--{b}\n"
        "Content-Transfer-Encoding: 7bit\n"
        "Content-Type: text/plain;\n"
        "\tcharset=us-ascii\n"
        "\n"
        "Hello Bob,\n\nas you asked, the invoice for your order 123-4567890 is attached.\n\n\n"
        f"--{b}\n"
        "Content-Disposition: attachment;\n"
        "\tfilename=Invoice-123-4567890.pdf\n"
        "Content-Type: application/pdf;\n"
        "\tx-unix-mode=0644;\n"
        '\tname="Invoice-123-4567890.pdf"\n'
        "Content-Transfer-Encoding: base64\n"
        "\n",
        b64(PDF),
        f"\n--{b}\n"
        "Content-Transfer-Encoding: 7bit\n"
        "Content-Type: text/plain;\n"
        "\tcharset=us-ascii\n"
        "\n"
        "\n\n\nKind regards,\nMaria\nAcme Store\n\n"
        f"--{b}--\n")


def thunderbird_mixed(subject, text, attachments, *, boundary, message_id,
                      date="Mon, 23 Nov 2026 12:00:00 +0100"):
    """Thunderbird 115 shape: multipart/mixed, text/plain format=flowed first."""
    parts = []
    for name, ctype, data in attachments:
        parts.append(
            f"--{boundary}\n"
            f'Content-Type: {ctype}; name="{name}"\n'
            f'Content-Disposition: attachment; filename="{name}"\n'
            "Content-Transfer-Encoding: base64\n"
            "\n" + b64(data) + "\n\n")
    return msg(
        f'Content-Type: multipart/mixed; boundary="{boundary}"\n'
        f"Message-ID: <{message_id}@acme.example>\n"
        f"Date: {date}\n"
        "MIME-Version: 1.0\n"
        "User-Agent: Mozilla Thunderbird\n"
        "Content-Language: en-US\n"
        f"To: {PLACEHOLDER}\n"
        "From: Acme Store <seller@acme.example>\n"
        f"Subject: {subject}\n"
        "\n"
        "This is a multi-part message in MIME format.\n"
        f"--{boundary}\n"
        "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
        "Content-Transfer-Encoding: 7bit\n"
        "\n" + text + "\n",
        *parts,
        f"--{boundary}--\n")


def exe_attachment():
    return thunderbird_mixed(
        "Manual and driver for your label printer",
        "Hello Bob,\n\nattached are the manual (PDF) and the driver installer for the label \n"
        "printer from order 123-4567890.\n\nMaria\n",
        [("manual.pdf", "application/pdf", PDF), ("setup.exe", "application/x-msdownload", EXE)],
        boundary="------------0kP3nT7vQ2xY8zR1sW4uA6bC",
        message_id="d7e8f9a0-1b2c-4d4e-8f6a-7b8c9d0e1f2a")


def renamed_exe():
    """Gmail, an attachment whose name and declared type say PDF but whose
    bytes are a Windows executable."""
    text = "Hi Bob,\n\nplease find the invoice for order 123-4567890 attached.\n\nMaria\n"
    html = ('<div dir="ltr">Hi Bob,<div><br></div><div>please find the invoice for order '
            '123-4567890 attached.</div><div><br></div><div>Maria</div></div>\n')
    return msg(
        "MIME-Version: 1.0\n"
        "Date: Mon, 23 Nov 2026 13:05:44 +0100\n"
        "Message-ID: <CAF3x9k0R2nZpL1vT8u6wYcN4sE1hJ7uF2dK9bT1gYp=qR@mail.gmail.example>\n"
        "Subject: Invoice 123-4567890\n"
        "From: Acme Store <seller@acme.example>\n"
        f"To: {PLACEHOLDER}\n"
        'Content-Type: multipart/mixed; boundary="0000000000009f8e7d6c5b4a3921"\n'
        "\n"
        "--0000000000009f8e7d6c5b4a3921\n"
        'Content-Type: multipart/alternative; boundary="0000000000009f8e7d6c5b4a3920"\n'
        "\n"
        "--0000000000009f8e7d6c5b4a3920\n"
        'Content-Type: text/plain; charset="UTF-8"\n'
        "\n" + text +
        "\n--0000000000009f8e7d6c5b4a3920\n"
        'Content-Type: text/html; charset="UTF-8"\n'
        "\n" + html +
        "\n--0000000000009f8e7d6c5b4a3920--\n"
        "--0000000000009f8e7d6c5b4a3921\n"
        'Content-Type: application/pdf; name="invoice.pdf"\n'
        'Content-Disposition: attachment; filename="invoice.pdf"\n'
        "Content-Transfer-Encoding: base64\n"
        "Content-ID: <f_lq8a2b3c0>\n"
        "X-Attachment-Id: f_lq8a2b3c0\n"
        "\n" + b64(EXE) +
        "\n--0000000000009f8e7d6c5b4a3921--\n")


def forwarded_rfc822():
    """Thunderbird "Forward as Attachment": message/rfc822 whose inner
    message carries an .exe; the forward itself must survive, the .exe
    not."""
    outer = "------------F1w2D3x4E5y6G7z8H9a0B1c2"
    inner = "------------inner7c1d2e3f4a5b6c7d8e9f"
    forwarded = (
        "Return-Path: <dispatch@supplier.example>\n"
        "From: Supplier Dispatch <dispatch@supplier.example>\n"
        "To: Warehouse <warehouse@supplier.example>\n"
        "Subject: Firmware update for the KX-200 scale\n"
        "Date: Fri, 20 Nov 2026 16:12:09 +0100\n"
        "Message-ID: <20261120151209.4F2A1C@supplier.example>\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/mixed; boundary="{inner}"\n'
        "\n"
        f"--{inner}\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "Content-Transfer-Encoding: 7bit\n"
        "\n"
        "Run the attached tool with the scale connected by USB to update the firmware.\n"
        "\n"
        f"--{inner}\n"
        'Content-Type: application/octet-stream; name="fwupdate.exe"\n'
        'Content-Disposition: attachment; filename="fwupdate.exe"\n'
        "Content-Transfer-Encoding: base64\n"
        "\n" + b64(EXE) + "\n"
        f"--{inner}--\n")
    return msg(
        f'Content-Type: multipart/mixed; boundary="{outer}"\n'
        "Message-ID: <5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d@acme.example>\n"
        "Date: Mon, 23 Nov 2026 14:30:00 +0100\n"
        "MIME-Version: 1.0\n"
        "User-Agent: Mozilla Thunderbird\n"
        "Content-Language: en-US\n"
        f"To: {PLACEHOLDER}\n"
        "From: Acme Store <seller@acme.example>\n"
        "Subject: Fwd: Firmware update for the KX-200 scale\n"
        "\n"
        "This is a multi-part message in MIME format.\n"
        f"--{outer}\n"
        "Content-Type: text/plain; charset=UTF-8; format=flowed\n"
        "Content-Transfer-Encoding: 7bit\n"
        "\n"
        "Hello Bob,\n\nbelow is our supplier's note about the firmware of your scale.\n\nMaria\n"
        "\n"
        f"--{outer}\n"
        'Content-Type: message/rfc822; charset=UTF-8; name="Firmware update.eml"\n'
        'Content-Disposition: attachment; filename="Firmware update.eml"\n'
        "\n", forwarded,
        f"\n--{outer}--\n")


def iso8859_plain():
    """A German seller's old client: one text/plain part, ISO-8859-1, 8bit,
    RFC 2047 subject."""
    body = ("Sehr geehrte Kundin, sehr geehrter Kunde,\n\n"
            "Ihre Bestellung 123-4567890 wird am Dienstag zwischen 10 und 14 Uhr geliefert.\n"
            "Passt Ihnen dieser Termin, oder möchten Sie einen anderen Tag wählen?\n"
            "Die Gravur «Für Oma» ist fertig; bitte prüfen Sie die Schreibweise.\n\n"
            "Mit freundlichen Grüßen\nIhr Acme-Team\n")
    return msg(
        "From: Acme Store <seller@acme.example>\n"
        f"To: {PLACEHOLDER}\n"
        "Subject: =?iso-8859-1?Q?Lieferung_Ihrer_Bestellung_=28Gravur_f=FCr_Oma=29?=\n"
        "Date: Mon, 23 Nov 2026 08:30:00 +0100\n"
        "Message-ID: <000801db3d9a$5e6f7a80$1b2c3d4e$@acme.example>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: 8bit\n"
        "X-Mailer: Microsoft Outlook 14.0\n"
        "\n", body.encode("iso-8859-1"))


def gmail_alternative(subject, text, html, *, sender, message_id, date, boundary):
    """Gmail, no attachments: multipart/alternative, both sides QP UTF-8."""
    return msg(
        "MIME-Version: 1.0\n"
        f"Date: {date}\n"
        f"Message-ID: <{message_id}@mail.gmail.example>\n"
        f"Subject: {subject}\n"
        f"From: {sender}\n"
        f"To: {PLACEHOLDER}\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\n'
        "\n"
        f"--{boundary}\n"
        'Content-Type: text/plain; charset="UTF-8"\n'
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n", qp(text, "utf-8"),
        f"\n--{boundary}\n"
        'Content-Type: text/html; charset="UTF-8"\n'
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n", qp(html, "utf-8"),
        f"\n--{boundary}--\n")


def review_bribe_es():
    text = ("Hola Bob:\n\n¡Gracias por su compra! Si nos deja una reseña de 5 estrellas en el "
            "marketplace, le enviaremos una tarjeta regalo de 10 € como agradecimiento. "
            "Solo tiene que responder a este correo con una captura de la reseña.\n\n"
            "Un saludo,\nMaría\n")
    html = ('<div dir="ltr">Hola Bob:<div><br></div><div>¡Gracias por su compra! Si nos deja '
            'una reseña de 5 estrellas en el marketplace, le enviaremos una tarjeta regalo de '
            '10 € como agradecimiento. Solo tiene que responder a este correo con una captura '
            'de la reseña.</div><div><br></div><div>Un saludo,</div><div>María</div></div>\n')
    return gmail_alternative(
        "Un regalo para usted", text, html, sender="Acme Store <seller@acme.example>",
        message_id="CAF3x9k5S8oZpM2wU9v7xZdO5tF2iK8vG3eL0cU2hZq=rS",
        date="Mon, 23 Nov 2026 15:01:10 +0100", boundary="00000000000012ab34cd56ef7890")


def promo_de():
    text = ("Hallo Bob,\n\nHerbst-Sale in unserem Shop: Mit dem Rabattcode HERBST20 erhalten "
            "Sie 20 % Rabatt auf alle Artikel. Nur bis Sonntag – jetzt zugreifen!\n\n"
            "Viele Grüße\nIhr Acme-Team\n")
    html = ('<div dir="ltr"><p>Hallo Bob,</p><p><b>Herbst-Sale in unserem Shop:</b> Mit dem '
            'Rabattcode <b>HERBST20</b> erhalten Sie 20 % Rabatt auf alle Artikel. Nur bis '
            'Sonntag – jetzt zugreifen!</p><p>Viele Grüße<br>Ihr Acme-Team</p></div>\n')
    return gmail_alternative(
        "Herbst-Sale: 20 % auf alles", text, html, sender="Acme Store <seller@acme.example>",
        message_id="CAF3x9k6T9pZpN3xV0w8yAeP6uG3jL9wH4fM1dV3iAr=sT",
        date="Mon, 23 Nov 2026 15:30:00 +0100", boundary="00000000000023bc45de67f08901")


def buyer_refund_request():
    """Gmail mobile: the buyer writes to the seller with a photo (JPEG) of a
    broken item and asks for a refund; "refund" must not trip the
    review-for-reward rules."""
    text = ("Hello,\n\nthe mug from order 123-4567890 arrived broken, see the attached photo. "
            "I would like a refund or a replacement, whichever is quicker for you.\n\n"
            "Thanks,\nBob\n")
    html = ('<div dir="auto">Hello,<div dir="auto"><br></div><div dir="auto">the mug from order '
            '123-4567890 arrived broken, see the attached photo. I would like a refund or a '
            'replacement, whichever is quicker for you.</div><div dir="auto"><br></div>'
            '<div dir="auto">Thanks,</div><div dir="auto">Bob</div></div>\n')
    return msg(
        "MIME-Version: 1.0\n"
        "Date: Mon, 23 Nov 2026 16:44:03 +0100\n"
        "Message-ID: <CAH7yZ1mU0qZpO4yW1x9zBfQ7vH4kM0xI5gN2eW4jBs=tU@mail.gmail.example>\n"
        "Subject: Broken mug - order 123-4567890\n"
        "From: Bob Buyer <buyer@gmail.example>\n"
        f"To: {PLACEHOLDER}\n"
        'Content-Type: multipart/mixed; boundary="000000000000f0e1d2c3b4a59687"\n'
        "\n"
        "--000000000000f0e1d2c3b4a59687\n"
        'Content-Type: multipart/alternative; boundary="000000000000f0e1d2c3b4a59686"\n'
        "\n"
        "--000000000000f0e1d2c3b4a59686\n"
        'Content-Type: text/plain; charset="UTF-8"\n'
        "\n" + text +
        "\n--000000000000f0e1d2c3b4a59686\n"
        'Content-Type: text/html; charset="UTF-8"\n'
        "\n" + html +
        "\n--000000000000f0e1d2c3b4a59686--\n"
        "--000000000000f0e1d2c3b4a59687\n"
        'Content-Type: image/jpeg; name="IMG_20261123_164112.jpg"\n'
        'Content-Disposition: attachment; filename="IMG_20261123_164112.jpg"\n'
        "Content-Transfer-Encoding: base64\n"
        "Content-ID: <f_lq9b3c4d0>\n"
        "X-Attachment-Id: f_lq9b3c4d0\n"
        "\n" + b64(JPEG) +
        "\n--000000000000f0e1d2c3b4a59687--\n")


def no_boundary():
    return msg(
        "From: Acme Store <seller@acme.example>\n"
        f"To: {PLACEHOLDER}\n"
        "Subject: Your documents\n"
        "Date: Mon, 23 Nov 2026 17:00:00 +0100\n"
        "Message-ID: <nb-20261123170000@acme.example>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed\n"
        "\n"
        "--frontier\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "Hello Bob, the documents for order 123-4567890 are attached.\n"
        "--frontier\n"
        'Content-Type: application/octet-stream; name="docs.bin"\n'
        "Content-Transfer-Encoding: base64\n"
        "\n" + b64(EXE) + "\n"
        "--frontier--\n")


PIXEL_URL = "https://mailtrack.io/trace/mail/3f9a0c6e1d2b4a77c0ffee.png?u=8831201"


def tracking_pixel():
    """Gmail with a read-tracking extension (Mailtrack-style): a 1x1 remote
    image at the end of the HTML; the plain side has no trace of it."""
    text = ("Hi Bob,\n\nthe engraving is done; your order 123-4567890 ships tomorrow "
            "morning.\n\nMaria\n")
    html = ('<div dir="ltr">Hi Bob,<div><br></div><div>the engraving is done; your order '
            '123-4567890 ships tomorrow morning.</div><div><br></div><div>Maria</div></div>'
            '<img width="1" height="1" class="mailtrack-img" alt="" style="display:flex" '
            f'src="{PIXEL_URL}">\n')
    return gmail_alternative(
        "Engraving done", text, html, sender="Acme Store <seller@acme.example>",
        message_id="CAF3x9k7U0qZpP4yW1x9zBfQ7vH4kM0xI5gN2eW4jBs=uV",
        date="Mon, 23 Nov 2026 17:30:00 +0100", boundary="00000000000034cd56ef78091a2b")


BIG_PART = 5_767_168  # 5.5 MiB: under max_file_bytes, two of them over max_total_bytes


def big_attachment_message(part_size=BIG_PART, count=2):
    """Not committed (about 15 MB once base64-encoded): two PDFs whose total
    is over the 10 MiB limit -> 552 5.3.4."""
    pad = PDF.rstrip(b"\n") + b"\n%"
    atts = []
    for i in range(count):
        filler = (b"%% catalogue page filler %04d\n" % i) * (part_size // 29 + 1)
        atts.append((f"catalogue-{i + 1}.pdf", "application/pdf", (pad + filler)[:part_size]))
    return thunderbird_mixed(
        "Our full catalogue", "Hello Bob,\n\nthe catalogue you asked for is attached.\n\nMaria\n",
        atts, boundary="------------BigAtt0123456789abcdef0123", message_id="big-20261123")


# --------------------------------------------------------------------------
# expectations
#
# Per file:
#   direction            seller_to_buyer | buyer_to_seller (who sends it)
#   decision             modify | reject  (the `test` JSON's decision; every
#                        delivered pair message is "modify": the aliases change)
#   smtp_code, enhanced_code   for refusals
#   rules_include        rule ids that must all be among the verdict's rules
#   rules_any            at least one of these must be among them
#   rules_exclude        none of these may be
#   attachments_stripped file names replaced by a notice
#   attachments_kept     file names delivered with their decoded bytes intact
#   inline_images        file names the verdict must report as inline_image
#   links_removed_min/max  how many links_removed entries
#   content_hits         exact number of content rule hits (when given)
#   body_unchanged       the body is delivered byte for byte as sent
#   removed_domains      must not appear anywhere in the delivered message
#   kept_domains         must still appear in the delivered (decoded) text
#   text_contains        decoded text that must survive (charset checks)
#   link_reasons         each must be the "why" of some links_removed entry
#   generated            built at test time by the named function, not a file

CONTENT_RULES = ["review.conditional", "review.compensation", "promo.marketing",
                 "referral.third_party", "optout.link"]
ATTACHMENT_RULES = ["attachment.type", "attachment.mismatch", "attachment.macro",
                    "attachment.size", "attachment.count"]

CORPUS = {
    "gmail_alternative_inline_image.eml": (gmail_alternative_inline_image, {
        "direction": "seller_to_buyer", "decision": "modify",
        "rules_include": ["alias.rewrite"],
        "rules_exclude": ATTACHMENT_RULES + CONTENT_RULES + ["links.removed", "mime.malformed"],
        "attachments_stripped": [], "attachments_kept": ["engraving.png"],
        "inline_images": ["engraving.png"],
        "links_removed_min": 0, "links_removed_max": 0, "content_hits": 0,
        "body_unchanged": True, "kept_domains": ["ups.com"]}),
    "apple_mail_inline_image.eml": (apple_mail_inline_image, {
        "direction": "seller_to_buyer", "decision": "modify",
        "rules_include": ["alias.rewrite"],
        "rules_exclude": ATTACHMENT_RULES + CONTENT_RULES + ["links.removed", "mime.malformed"],
        "attachments_stripped": [], "attachments_kept": ["engraving.png"],
        "inline_images": ["engraving.png"],
        "links_removed_min": 0, "links_removed_max": 0, "content_hits": 0,
        "body_unchanged": True, "text_contains": ["\u201cFor Grandma\u201d \u2014"]}),
    "outlook_html_qp.eml": (outlook_html_qp, {
        "direction": "seller_to_buyer", "decision": "modify",
        "rules_include": ["alias.rewrite", "links.removed"],
        "rules_exclude": ATTACHMENT_RULES + CONTENT_RULES + ["mime.malformed"],
        "attachments_stripped": [], "attachments_kept": ["image001.png"],
        "inline_images": ["image001.png"],
        "links_removed_min": 2, "content_hits": 0, "body_unchanged": False,
        "removed_domains": ["acme-outlet.example"],
        "text_contains": ["costs \u20ac12 \u2013 we can write \u201cForever\u201d",
                          "that\u2019s no problem", "Photos of earlier engravings"]}),
    "apple_mail_pdf.eml": (apple_mail_pdf, {
        "direction": "seller_to_buyer", "decision": "modify",
        "rules_include": ["alias.rewrite"],
        "rules_exclude": ATTACHMENT_RULES + CONTENT_RULES + ["links.removed", "mime.malformed"],
        "attachments_stripped": [], "attachments_kept": ["Invoice-123-4567890.pdf"],
        "links_removed_min": 0, "links_removed_max": 0, "content_hits": 0,
        "body_unchanged": True}),
    "exe_attachment.eml": (exe_attachment, {
        "direction": "seller_to_buyer", "decision": "modify",
        "rules_include": ["alias.rewrite"], "rules_any": ["attachment.type"],
        "rules_exclude": CONTENT_RULES + ["mime.malformed"],
        "attachments_stripped": ["setup.exe"], "attachments_kept": ["manual.pdf"],
        "links_removed_min": 0, "links_removed_max": 0, "content_hits": 0,
        "body_unchanged": False}),
    "renamed_exe.eml": (renamed_exe, {
        "direction": "seller_to_buyer", "decision": "modify",
        "rules_include": ["alias.rewrite"],
        "rules_any": ["attachment.mismatch", "attachment.type"],
        "rules_exclude": CONTENT_RULES + ["mime.malformed"],
        "attachments_stripped": ["invoice.pdf"], "attachments_kept": [],
        "links_removed_min": 0, "links_removed_max": 0, "content_hits": 0,
        "body_unchanged": False}),
    "forwarded_rfc822.eml": (forwarded_rfc822, {
        "direction": "seller_to_buyer", "decision": "modify",
        "rules_include": ["alias.rewrite"], "rules_any": ["attachment.type"],
        "rules_exclude": CONTENT_RULES + ["mime.malformed"],
        "attachments_stripped": ["fwupdate.exe"], "attachments_kept": [],
        "links_removed_min": 0, "links_removed_max": 0, "content_hits": 0,
        "body_unchanged": False,
        "text_contains": ["Run the attached tool with the scale connected by USB",
                          "below is our supplier's note"]}),
    "iso8859_plain.eml": (iso8859_plain, {
        "direction": "seller_to_buyer", "decision": "modify",
        "rules_include": ["alias.rewrite"],
        "rules_exclude": ATTACHMENT_RULES + CONTENT_RULES + ["links.removed", "mime.malformed"],
        "attachments_stripped": [], "attachments_kept": [],
        "links_removed_min": 0, "links_removed_max": 0, "content_hits": 0,
        "body_unchanged": True,
        "text_contains": ["möchten Sie einen anderen Tag wählen", "Grüßen", "«Für Oma»"]}),
    "review_bribe_es.eml": (review_bribe_es, {
        "direction": "seller_to_buyer", "decision": "reject",
        "smtp_code": "550", "enhanced_code": "5.7.1",
        "rules_include": ["review.compensation"],
        "attachments_stripped": [], "attachments_kept": [], "links_removed_min": 0,
        "body_unchanged": True}),
    "promo_de.eml": (promo_de, {
        "direction": "seller_to_buyer", "decision": "reject",
        "smtp_code": "550", "enhanced_code": "5.7.1",
        "rules_include": ["promo.marketing"],
        "attachments_stripped": [], "attachments_kept": [], "links_removed_min": 0,
        "body_unchanged": True}),
    "buyer_refund_request.eml": (buyer_refund_request, {
        "direction": "buyer_to_seller", "decision": "modify",
        "rules_include": ["alias.rewrite"],
        "rules_exclude": ATTACHMENT_RULES + CONTENT_RULES + ["links.removed", "mime.malformed"],
        "attachments_stripped": [], "attachments_kept": ["IMG_20261123_164112.jpg"],
        "links_removed_min": 0, "links_removed_max": 0, "content_hits": 0,
        "body_unchanged": True}),
    "big_attachment.eml": (None, {
        "generated": "big_attachment_message",
        "direction": "seller_to_buyer", "decision": "reject",
        "smtp_code": "552", "enhanced_code": "5.3.4",
        "rules_include": [], "attachments_stripped": [], "attachments_kept": [],
        "links_removed_min": 0, "body_unchanged": True}),
    "no_boundary.eml": (no_boundary, {
        "direction": "seller_to_buyer", "decision": "reject",
        "smtp_code": "550", "enhanced_code": "5.6.0",
        "rules_include": ["mime.malformed"],
        "attachments_stripped": [], "attachments_kept": [], "links_removed_min": 0,
        "body_unchanged": True}),
    "tracking_pixel.eml": (tracking_pixel, {
        "direction": "seller_to_buyer", "decision": "modify",
        "rules_include": ["alias.rewrite", "links.removed"],
        "rules_exclude": ATTACHMENT_RULES + CONTENT_RULES + ["mime.malformed"],
        "attachments_stripped": [], "attachments_kept": [],
        "links_removed_min": 1, "content_hits": 0, "body_unchanged": False,
        "removed_domains": ["mailtrack.io"], "link_reasons": ["remote image"],
        "text_contains": ["ships tomorrow morning"]}),
}


def expected():
    return {name: exp for name, (_, exp) in CORPUS.items()}


def build_all():
    """{file name: bytes} of every committed file (messages + expected.json)."""
    out = {name: build() for name, (build, _) in CORPUS.items() if build is not None}
    out["expected.json"] = (json.dumps(expected(), indent=2, ensure_ascii=False) + "\n").encode()
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else HERE
    os.makedirs(outdir, exist_ok=True)
    for name, data in build_all().items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
