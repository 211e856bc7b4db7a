#!/usr/bin/env python3
"""worst_case.py: the most expensive messages of at most 10 MB we could build,
for `marketplace-milter test` under /usr/bin/time -v (bench/README.md,
"Worst cases"): over the daemon config's default `limits:`, and the worst
still inside them.  Each is a seller's message to a buyer's alias, so the
whole evaluation runs on it.

    python3 bench/worst_case.py OUTDIR --from SELLER --to ALIAS
"""

import argparse
import os

LIMIT = 10 * 1000 * 1000  # Postfix's default message_size_limit (10240000) with room


def head(sender: str, to: str, content_type: str) -> str:
    return (f"From: Seller <{sender}>\r\nTo: <{to}>\r\nSubject: worst case\r\n"
            f"Message-ID: <worst.{os.getpid()}@acme.example>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: {content_type}\r\n")


def many_headers(sender: str, to: str, n: int = 100_000) -> str:
    fields = "".join(f"X-Filler-{i}: value {i}\r\n" for i in range(n))
    return head(sender, to, "text/plain") + fields + "\r\nhello\r\n"


def many_parts(sender: str, to: str, n: int = 100_000) -> str:
    part = "--b\r\nContent-Type: text/plain\r\n\r\nx http://e.example/\r\n"
    return (head(sender, to, 'multipart/mixed; boundary="b"') + "\r\n" + part * n + "--b--\r\n")


def deep_multipart(sender: str, to: str) -> str:
    out = [head(sender, to, 'multipart/mixed; boundary="b0"'), "\r\n"]
    size, i = 0, 0
    while size < LIMIT - 200:
        line = f"--b{i}\r\nContent-Type: multipart/mixed; boundary=\"b{i + 1}\"\r\n\r\n"
        out.append(line)
        size += len(line)
        i += 1
    out.append(f"--b{i}\r\n\r\nbottom\r\n")
    return "".join(out)


def deep_rfc822(sender: str, to: str) -> str:
    level = "Content-Type: message/rfc822\r\n\r\n"
    n = (LIMIT - 1000) // len(level)
    return head(sender, to, "message/rfc822") + "\r\n" + level * n + "Subject: x\r\n\r\nbottom\r\n"


def forwarded_headers(sender: str, to: str, n: int = 300_000) -> str:
    inner = "".join(f"X-F{i}: v\r\n" for i in range(n))
    return (head(sender, to, 'multipart/mixed; boundary="b"') +
            "\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner +
            "Subject: inner\r\n\r\ninner body\r\n--b--\r\n")


def part_headers(sender: str, to: str) -> str:
    fields = "a: b\r\n" * ((LIMIT - 1000) // 6)
    return (head(sender, to, 'multipart/mixed; boundary="b"') + "\r\n--b\r\n" + fields +
            "\r\nx\r\n--b--\r\n")


# Inside the default limits: what a message that is evaluated can cost.
def within_headers(sender: str, to: str) -> str:
    fields = "".join(f"X-Filler-{i}: {'v' * 990}\r\n" for i in range(990))
    return head(sender, to, "text/plain") + fields + "\r\nhello\r\n"


def within_part_headers(sender: str, to: str) -> str:
    part = "--b\r\n" + "a: b\r\n" * 999 + "\r\nx\r\n"  # 174 x 999 fields: just under 1 MiB
    return head(sender, to, 'multipart/mixed; boundary="b"') + "\r\n" + part * 174 + "--b--\r\n"


def within_text_links(sender: str, to: str) -> str:
    # 999 parts of 30 links: inside limits.max_text_words (each link is 8 words).
    text = " ".join(f"see https://s{i}.example.net/x and word" for i in range(30))
    part = "--b\r\nContent-Type: text/plain\r\n\r\n" + text + "\r\n"
    return head(sender, to, 'multipart/mixed; boundary="b"') + "\r\n" + part * 999 + "--b--\r\n"


def within_html(sender: str, to: str) -> str:
    links = "".join(f'<p><a href="https://s{i}.example.net/p">link {i}</a> text</p>\n'
                    for i in range(148000))
    return head(sender, to, "text/html") + "\r\n<html><body>" + links + "</body></html>\r\n"


# The classifier reads every text a reader sees: words it must intern,
# amounts its shapes match, and concept words in every window.  A seller's
# text is read twice (content rules, contact reasons), and
# limits.max_text_words (500,000) bounds the sum: 240,000 words fit.
def distinct_words(n: int) -> str:
    return " ".join(f"aaaaaaaa{i:07d}bbbbbbbb" for i in range(n))


def text_words_over_limit(sender: str, to: str) -> str:
    return head(sender, to, "text/plain; charset=utf-8") + "\r\n" + distinct_words(400_000) + "\r\n"


def within_text_distinct_words(sender: str, to: str) -> str:
    return head(sender, to, "text/plain; charset=utf-8") + "\r\n" + distinct_words(240_000) + "\r\n"


def within_text_shapes(sender: str, to: str) -> str:
    words = " ".join(f"{i % 97},99 EUR 15% CODE{i:06d}" for i in range(48_000))
    return head(sender, to, "text/plain; charset=utf-8") + "\r\n" + words + "\r\n"


def within_text_concepts(sender: str, to: str) -> str:
    sentence = ("Leave us a review and get a gift card, a voucher or cashback on your next "
                "order from our new collection at a discount. ")
    return (head(sender, to, "text/plain; charset=utf-8") + "\r\n" + sentence * 10_500 + "\r\n")


def within_letter_spacing(sender: str, to: str) -> str:
    return head(sender, to, "text/plain") + "\r\n" + "a " * ((LIMIT - 1000) // 2) + "\r\n"


# Normalisation: a letter and five million combining marks (ICU reorders a
# segment's marks in quadratic time), and a text whose other readings ("1"
# as "i" or "l", a letter-spaced word after an article) each copy it with an
# offset map of two pieces every three bytes.
def within_combining_marks(sender: str, to: str) -> str:
    marks = "\u0301\u0316" * ((LIMIT - 1000) // 8)
    return head(sender, to, "text/plain; charset=utf-8") + "\r\na" + marks + "\r\n"


def within_other_readings(sender: str, to: str) -> str:
    text = "h1gh a r e v i e w\r\n" + "b\u0430" * ((LIMIT - 1000) // 3)
    return head(sender, to, "text/plain; charset=utf-8") + "\r\n" + text + "\r\n"


# format=flowed (RFC 3676): millions of one-letter soft-broken lines joined
# into one, after a split address that makes the part rewritten unflowed.
def within_flowed(sender: str, to: str) -> str:
    text = "Write to john.smith@gm \r\nail.example\r\n" + "a \r\n" * ((LIMIT - 1000) // 4)
    return (head(sender, to, "text/plain; charset=utf-8; format=flowed; delsp=yes") + "\r\n" +
            text + "end.\r\n")


# Letter spacing: a chain of single characters that is no spaced word
# ("1 1 1 …"), once scanned again from each of its members; as many as
# limits.max_text_words lets through.
def within_digit_chain(sender: str, to: str) -> str:
    return head(sender, to, "text/plain") + "\r\n" + "1 " * 200_000 + "\r\n"


CASES = {
    "headers_100k": many_headers,
    "parts_100k": many_parts,
    "deep_multipart": deep_multipart,
    "deep_rfc822": deep_rfc822,
    "forwarded_headers_300k": forwarded_headers,
    "part_headers_1.6M": part_headers,
    "text_words_over_limit": text_words_over_limit,
    "within_headers_1MiB": within_headers,
    "within_part_headers": within_part_headers,
    "within_parts_text_links": within_text_links,
    "within_html_9MB": within_html,
    "within_text_distinct_words": within_text_distinct_words,
    "within_text_shapes": within_text_shapes,
    "within_text_concepts": within_text_concepts,
    "within_letter_spacing_10MB": within_letter_spacing,
    "within_combining_marks": within_combining_marks,
    "within_other_readings": within_other_readings,
    "within_flowed_10MB": within_flowed,
    "within_digit_chain": within_digit_chain,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--from", dest="sender", default="support@acme.example")
    ap.add_argument("--to", required=True)
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    for name, build in CASES.items():
        data = build(args.sender, args.to).encode()
        assert len(data) <= LIMIT + 2000, (name, len(data))
        with open(os.path.join(args.outdir, name + ".eml"), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
