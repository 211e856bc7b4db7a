#!/usr/bin/env python3
"""Writes the small, real attachment samples that attachment_rule_test reads.

Stdlib only, deterministic output (fixed zip timestamps, seeded random
bytes), so re-running it leaves the committed files unchanged.

    python3 tests/data/attachments/make_samples.py [OUTDIR]
"""
import io
import os
import random
import struct
import sys
import zipfile
import zlib

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
ZIP_TIME = (2026, 11, 23, 12, 0, 0)

CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
DOCX_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
DOCM_MAIN = "application/vnd.ms-word.document.macroEnabled.main+xml"


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def zip_bytes(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return buf.getvalue()


def content_types(main_type, extra=""):
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Types xmlns="{CT_NS}">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/word/document.xml" ContentType="{main_type}"/>'
        f"{extra}</Types>"
    )


RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<Relationships xmlns="{REL_NS}">'
    f'<Relationship Id="rId1" Type="{DOC_REL}" Target="word/document.xml"/>'
    "</Relationships>"
)

DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<w:document xmlns:w="{W_NS}"><w:body><w:p><w:r>'
    "<w:t>Your order has shipped.</w:t></w:r></w:p></w:body></w:document>"
)


def docx(main_type=DOCX_MAIN, extra_ct="", extra=()):
    # Word writes [Content_Types].xml first; libmagic's OOXML test relies on it.
    return zip_bytes(
        [
            ("[Content_Types].xml", content_types(main_type, extra_ct)),
            ("_rels/.rels", RELS),
            ("word/document.xml", DOCUMENT),
            *extra,
        ]
    )


def pdf_from_objects(objs, trailer_extra=b""):
    """A PDF file of the given objects (numbered from 1, the first the
    catalog) with a correct xref table; trailer_extra goes into the trailer
    dictionary (e.g. b" /Info 7 0 R").  Also used by bench/workloads.py and
    tests/data/messages/make_corpus.py."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += (b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objs) + 1, trailer_extra, xref))
    return bytes(out)


def pdf():
    return pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
    ])


def png():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))  # 2x2 red, filter 0
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def jpeg():
    # A real baseline 8x8 grey JPEG (one DC-only block), hand-assembled.
    soi = b"\xff\xd8"
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes([1] * 64)
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 8, 8, 1) + b"\x01\x11\x00"
    # DC table: one code of length 1 for category 0; AC table: one code for EOB.
    dht_dc = b"\xff\xc4" + struct.pack(">H", 20) + b"\x00" + bytes([1] + [0] * 15) + b"\x00"
    dht_ac = b"\xff\xc4" + struct.pack(">H", 20) + b"\x10" + bytes([1] + [0] * 15) + b"\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    scan = b"\x00"  # DC diff 0 ("0"), EOB ("0"), padded with zeros
    eoi = b"\xff\xd9"
    return soi + app0 + dqt + sof + dht_dc + dht_ac + sos + scan + eoi


def gif():
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0)
        + b"\x00\x00\x00\xff\xff\xff"
        + b"\x2c"
        + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
        + b"\x02\x02\x44\x01\x00"
        + b"\x3b"
    )


def webp():
    # Lossless (VP8L) 1x1 image.
    vp8l = b"\x2f\x00\x00\x00\x00\x88\x88\x08\x00"
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
    if len(vp8l) % 2:
        body += b"\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pe_exe():
    dos = bytearray(b"MZ" + b"\x90\x00" + b"\x00" * 60)
    struct.pack_into("<I", dos, 0x3C, 0x40)  # e_lfanew
    coff = struct.pack("<HHIIIHH", 0x14C, 0, 0, 0, 0, 0xE0, 0x0102)
    opt = bytearray(0xE0)
    struct.pack_into("<H", opt, 0, 0x10B)  # PE32
    struct.pack_into("<H", opt, 68, 2)  # subsystem: Windows GUI
    return bytes(dos) + b"PE\x00\x00" + coff + bytes(opt)


def ole2_doc():
    # Compound File header + one FAT sector + a directory naming a
    # "WordDocument" stream, which is what file(1) looks for.
    sector = 512
    hdr = bytearray(sector)
    hdr[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", hdr, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIII", hdr, 0x2C, 1, 1, 0, 0x1000, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
    difat = [0] + [0xFFFFFFFF] * 108
    struct.pack_into("<109I", hdr, 0x4C, *difat)
    fat = bytearray(b"\xff" * sector)
    struct.pack_into("<III", fat, 0, 0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFE)

    def dirent(name, kind, child=0xFFFFFFFF, start=0xFFFFFFFE, size=0, clsid=b"\x00" * 16):
        e = bytearray(128)
        enc = (name + "\x00").encode("utf-16-le")
        e[0 : len(enc)] = enc
        struct.pack_into("<HBB", e, 64, len(enc), kind, 1)
        struct.pack_into("<III", e, 68, 0xFFFFFFFF, 0xFFFFFFFF, child)
        e[80:96] = clsid
        struct.pack_into("<II", e, 116, start, size)
        return bytes(e)

    word_clsid = bytes.fromhex("0609020000000000c000000000000046")
    dirs = dirent("Root Entry", 5, child=1, clsid=word_clsid) + dirent("WordDocument", 2)
    dirs += b"\x00" * (sector - len(dirs))
    return bytes(hdr) + bytes(fat) + dirs


def size_bomb():
    # A docx whose central directory claims one entry inflates to ~4 GiB:
    # the classifier must refuse on the declared sizes, before inflating.
    data = bytearray(docx(extra=[("word/media/big.xml", b"\x00" * 1024)]))
    cd = data.rfind(b"PK\x01\x02")
    assert data[cd + 46 : cd + 46 + 18] == b"word/media/big.xml"
    struct.pack_into("<I", data, cd + 24, 0xFFFFFFF0)  # uncompressed size
    return bytes(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    write("sample.pdf", pdf())
    write("sample.png", png())
    write("sample.jpg", jpeg())
    write("sample.gif", gif())
    write("sample.webp", webp())
    write("sample.txt", b"Hello,\nyour parcel left our warehouse today.\nThank you.\n")
    write("sample.docx", docx())
    write(
        "macro.docm",
        docx(
            DOCM_MAIN,
            '<Override PartName="/word/vbaProject.bin" '
            'ContentType="application/vnd.ms-office.vbaProject"/>',
            [("word/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)],
        ),
    )
    # A .docx name and the plain docx content type, but a vbaProject.bin inside.
    write("hidden_macro.docx", docx(extra=[("word/vbaProject.bin", b"\x00" * 64)]))
    write("ole_object.docx", docx(extra=[("word/embeddings/oleObject1.bin", ole2_doc())]))
    write("embedded_exe.docx", docx(extra=[("word/embeddings/setup.exe", pe_exe())]))
    write(
        "fake.docx",
        zip_bytes(
            [
                ("[Content_Types].xml", content_types(DOCX_MAIN)),
                ("_rels/.rels", RELS),
                ("payload.js", "WScript.Echo('hi');"),
            ]
        ),
    )
    write("plain.zip", zip_bytes([("readme.txt", "hello"), ("data.csv", "a,b\n1,2\n")]))
    # More entries than any real letter has (the classifier stops at 1,000).
    write("many_entries.docx", docx(extra=[(f"word/m/{i}.xml", b"") for i in range(1100)]))
    write("size_bomb.docx", size_bomb())
    # Written by a tool that puts a large part before word/: libmagic sees
    # only a zip, the classifier must still recognise the Word document.
    late = zip_bytes(
        [
            ("[Content_Types].xml", content_types(DOCX_MAIN)),
            ("_rels/.rels", RELS),
            ("docProps/thumbnail.bin", random.Random(7).randbytes(80 * 1024)),
            ("word/document.xml", DOCUMENT),
        ]
    )
    write("late_word.docx", late)
    write("sample.exe", pe_exe())
    write("sample.doc", ole2_doc())
    write("random.bin", random.Random(20261123).randbytes(4096))


if __name__ == "__main__":
    main()
