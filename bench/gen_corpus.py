#!/usr/bin/env python3
"""Deterministic corpus of realistic German business mails for the Postkorb benchmarks.

    bench/gen_corpus.py --count 10000 --seed 6 --out /tmp/corpus-10k            # Maildir (cur/new/tmp)
    bench/gen_corpus.py --count 1000 --seed 6 --out /tmp/c.mbox --format mbox    # one mbox file
    bench/gen_corpus.py --count 10000 --stats-only                                # size statistics only
    bench/gen_corpus.py --count 100000 --seed 7 --max-size 200000 --out /tmp/c100k # a 100k corpus that fits a disk

Same seed and count -> byte-identical files (no wall clock, no hash randomisation is used).
The mix (calibrated for --count 10000 -> ~1.98 GB):
  * sizes: median ~30 KB, p95 ~1 MB, max 5 MB; 30 senders (field staff of the office, one
    work address each: sender-NN@<domain>, see --senders-file), 2-3 recipients are the routes' job;
  * ~25 % carry attachments (PDF- or JPEG-like random bytes, base64), 1-3 per mail;
  * text bodies in UTF-8 (8bit, quoted-printable, base64) and ISO-8859-1 (8bit, QP), many with an
    HTML alternative, quoted reply chains, RFC 2047 encoded subjects and display names.
"""

import argparse
import base64
import math
import os
import quopri
import random
import sys

MAX_SIZE = 5 * 1024 * 1024

FIRST = ["Anna", "Bernd", "Clara", "Dieter", "Elke", "Frank", "Gisela", "Hans", "Ingrid", "Jürgen",
         "Karin", "Lothar", "Monika", "Norbert", "Oliver", "Petra", "Rüdiger", "Sabine", "Thomas", "Ursula",
         "Volker", "Waltraud", "Xaver", "Yvonne", "Zoë", "Björn", "Sören", "Jörg", "Käthe", "Günther"]
LAST = ["Außendienst", "Müller", "Schäfer", "Köhler", "Weiß", "Groß", "Bäcker", "Hoffmann", "Schröder",
        "Krüger", "Wölfel", "Jäger", "Lößl", "Fuchs", "Brückner", "Mäurer", "Süß", "Vogel", "Hübner",
        "Kühn", "Öztürk", "Straßer", "Neumann", "Zimmermann", "Hartmann", "Lührs", "Böhm", "Schütz",
        "Günther", "Dürr"]
DOMAINS = ["mustermail.de", "aussendienst-nord.de", "vertrieb-sued.de"]
SUBJECTS = [
    "Schadenmeldung Kfz – Auffahrunfall auf der B{n}", "Vertragsänderung Wohngebäude, Police {n}",
    "Kündigung Hausrat zum 31.12.", "Rückfrage zur Beitragsrechnung {n}", "Neuer Kunde: Familie Größer",
    "Unterlagen Berufsunfähigkeit – bitte prüfen", "Angebot Gewerbe-Haftpflicht Bäckerei Süß",
    "Wasserschaden Küche, Fotos anbei", "Termin Jahresgespräch Fa. Müller & Söhne",
    "Änderung der Bankverbindung (SEPA-Mandat)", "Fahrzeugwechsel – eVB-Nummer benötigt",
    "Glasbruch Schaufenster, Gutachten", "Beitragsanpassung Krankenzusatz ab 01.{m}.",
    "Rechtsschutz: Deckungsanfrage Mietstreit", "Unfallmeldung Baustelle Straßenbau", "AW: Ihre Anfrage vom {d}.{m}.",
    "WG: Schadennummer {n} – Rückruf erbeten", "Bestätigung Übergabeprotokoll", "Fotos vom Hagelschaden",
]
PHRASES = [
    "Sehr geehrte Damen und Herren,", "Hallo zusammen,", "Liebe Kolleginnen und Kollegen,",
    "anbei sende ich Ihnen die Unterlagen zum oben genannten Vorgang.",
    "Der Kunde bittet um eine schnelle Rückmeldung bezüglich der Schadenregulierung.",
    "Die Police wurde zum nächsten Hauptfälligkeitstermin geändert; bitte die Beitragsrechnung prüfen.",
    "Laut Gutachten beläuft sich der Schaden auf ca. {n},00 €, die Selbstbeteiligung beträgt 300 €.",
    "Ich war heute beim Kunden vor Ort, die Fotos der Schäden an Küche und Flur füge ich bei.",
    "Bitte übernehmen Sie die weitere Bearbeitung, ich bin ab Montag wieder im Außendienst.",
    "Größere Änderungen am Vertrag sind nicht gewünscht, nur die Bankverbindung ändert sich.",
    "Für Rückfragen stehe ich Ihnen gerne zur Verfügung.", "Die Unterschrift des Kunden liegt vor.",
    "Zusätzlich möchte die Familie eine Glasversicherung für den Wintergarten abschließen.",
    "Der Termin für die Besichtigung ist am Donnerstag um 14:30 Uhr in der Straße Am Mühlbach 7.",
    "Es handelt sich um einen Vorschaden aus 2019, die Regulierung damals lief über Herrn Köhler.",
    "Bitte beachten Sie die Fristen gemäß § 28 VVG (Obliegenheiten nach Eintritt des Versicherungsfalls).",
    "Mit freundlichen Grüßen", "Viele Grüße aus dem Außendienst", "Beste Grüße",
]
ATTACH_NAMES = ["Schadenfoto_{n}.jpg", "IMG_{n}.jpeg", "Gutachten_{n}.pdf", "Police_{n}.pdf",
                "Übergabeprotokoll_{n}.pdf", "Kostenvoranschlag Glas {n}.pdf", "Führerschein_{n}.jpg"]


def senders():
    """The 30 senders: (display name, address). Stable across seeds: the routes use them."""
    out = []
    for i in range(30):
        name = f"{FIRST[i]} {LAST[i]}"
        out.append((name, f"sender-{i + 1:02d}@{DOMAINS[i % len(DOMAINS)]}"))
    return out


def target_size(rng, has_att):
    """Encoded size of one mail: log-normal, plain mails small, attachment mails large."""
    if has_att:
        s = rng.lognormvariate(math.log(318 * 1024), 1.3)
    else:
        s = rng.lognormvariate(math.log(23.5 * 1024), 0.75)
    return int(min(max(s, 1500), MAX_SIZE, CAP[0]))


# --max-size: a lower cap than MAX_SIZE (the same random draws, so the mix stays, the big ones shrink).
CAP = [MAX_SIZE]


def to_charset(text, charset):
    """Encodes text; Latin-1 mails write EUR and '-' as Latin-1 mailers do."""
    if charset != "utf-8":
        text = text.replace("€", "EUR").replace("–", "-").replace("·", "-")
    return text.encode(charset, errors="replace")


def enc_word(text, charset):
    """RFC 2047 encoded word (B for UTF-8, Q for Latin-1), or the text if ASCII."""
    try:
        text.encode("ascii")
        return text
    except UnicodeEncodeError:
        pass
    raw = to_charset(text, charset)
    if charset == "utf-8":
        return "=?UTF-8?B?" + base64.b64encode(raw).decode() + "?="
    q = "".join(chr(b) if (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122) else "=%02X" % b for b in raw)
    return "=?ISO-8859-1?Q?" + q + "?="


def paragraph(rng, n_sent):
    return " ".join(rng.choice(PHRASES[3:16]).format(n=rng.randint(100, 99999)) for _ in range(n_sent))


def text_body(rng, target, sender_name):
    """German text of about `target` characters: greeting, paragraphs, signature, quoted history."""
    parts = [rng.choice(PHRASES[:3]), ""]
    while sum(len(p) + 1 for p in parts) < target * 0.5:
        parts.append(paragraph(rng, rng.randint(2, 5)))
        parts.append("")
    parts += [rng.choice(PHRASES[16:]), sender_name, "Außendienst · Tel. 0171 {}".format(rng.randint(1000000, 9999999)), ""]
    # Quoted reply chain fills the rest (real mails grow this way).
    depth = 1
    while sum(len(p) + 1 for p in parts) < target:
        parts.append("-----Ursprüngliche Nachricht-----")
        parts.append(f"Von: {rng.choice(FIRST)} {rng.choice(LAST)}")
        parts.append(f"Gesendet: {rng.randint(1, 28)}.{rng.randint(1, 12)}.2025")
        parts.append("> " * depth + paragraph(rng, rng.randint(2, 4)))
        parts.append("")
        depth = min(depth + 1, 4)
    return "\n".join(parts)


def wrap(s, width=76):
    return "\r\n".join(s[i:i + width] for i in range(0, len(s), width))


def encode_text(text, charset, cte):
    """Returns (headers, body bytes) for a text part."""
    raw = to_charset(text.replace("\n", "\r\n"), charset)
    if cte == "quoted-printable":
        body = quopri.encodestring(raw.replace(b"\r\n", b"\n")).replace(b"\n", b"\r\n")
    elif cte == "base64":
        body = wrap(base64.b64encode(raw).decode()).encode()
    else:
        body = raw
    return body


def html_of(text):
    esc = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    paras = "".join(f"<p>{p}</p>\n" for p in esc.split("\n\n"))
    return f"<html><head></head><body style=\"font-family:Arial\">\n{paras}</body></html>"


def fake_file(rng, kind, n):
    if kind == "pdf":
        head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        tail = b"\n%%EOF\n"
    else:
        head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00H\x00H\x00\x00"
        tail = b"\xff\xd9"
    return head + rng.randbytes(max(0, n - len(head) - len(tail))) + tail


def make_mail(rng, idx, senders_list):
    has_att = rng.random() < 0.25
    size = target_size(rng, has_att)
    sender_name, sender_addr = senders_list[rng.randrange(len(senders_list))]
    charset, cte = rng.choice([("utf-8", "8bit"), ("utf-8", "quoted-printable"), ("utf-8", "base64"),
                               ("iso-8859-1", "quoted-printable"), ("iso-8859-1", "8bit")])
    with_html = rng.random() < 0.6
    subject = rng.choice(SUBJECTS).format(n=rng.randint(1, 99999), d=rng.randint(1, 28), m=rng.randint(1, 12))
    day = 1 + idx % 28
    boundary = f"----=_Part_{idx}_{rng.randint(10**8, 10**9)}"
    msgid = f"<{idx}.{rng.randint(10**9, 10**10)}@{sender_addr.split('@')[1]}>"
    hcs = "utf-8" if charset == "utf-8" else "iso-8859-1"
    headers = [
        f"Return-Path: <{sender_addr}>",
        f"Received: from mx.{sender_addr.split('@')[1]} (mx [192.0.2.{idx % 250 + 1}]) by mail.example.de"
        f" with ESMTPS id {rng.randint(10**9, 10**10):x}; Mon, {day} Sep 2025 {idx % 24:02d}:{idx % 60:02d}:00 +0200",
        f"From: {enc_word(sender_name, hcs)} <{sender_addr}>",
        "To: Vorgaenge <vorgaenge@example.de>",
        f"Subject: {enc_word(subject, hcs)}",
        f"Date: Mon, {day} Sep 2025 {idx % 24:02d}:{idx % 60:02d}:{idx % 59:02d} +0200",
        f"Message-ID: {msgid}",
        "MIME-Version: 1.0",
        "X-Mailer: Microsoft Outlook 16.0" if idx % 3 else "User-Agent: Mozilla Thunderbird",
    ]
    # Attachments take most of an attachment mail; text gets the rest (a few KB at least).
    att_parts = []
    if has_att:
        n_att = rng.choice([1, 1, 1, 2, 2, 3])
        att_budget = max(size - 9000, 2000) * 57 // 78  # base64: 57 bytes per 76-char line + CRLF
        text_target = rng.randint(800, 4000)
        for a in range(n_att):
            kind = rng.choice(["pdf", "jpeg"])
            name = rng.choice(ATTACH_NAMES).format(n=rng.randint(1, 9999))
            name = name.rsplit(".", 1)[0] + (".pdf" if kind == "pdf" else ".jpg")
            data = fake_file(rng, kind, max(att_budget // n_att, 200))
            ctype = "application/pdf" if kind == "pdf" else "image/jpeg"
            fname = enc_word(name, "utf-8")
            att_parts.append(
                (f"Content-Type: {ctype}; name=\"{fname}\"\r\nContent-Transfer-Encoding: base64\r\n"
                 f"Content-Disposition: attachment; filename=\"{fname}\"\r\n\r\n").encode()
                + wrap(base64.b64encode(data).decode()).encode() + b"\r\n")
    else:
        text_target = size // (2.6 if with_html else 1.1) if cte != "base64" else size // (3.4 if with_html else 1.4)
    text = text_body(rng, int(text_target), sender_name)
    text_part = (f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n").encode() \
        + encode_text(text, charset, cte) + b"\r\n"
    body_part = text_part
    if with_html:
        alt = boundary + "_alt"
        html_part = (f"Content-Type: text/html; charset={charset}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n").encode() \
            + encode_text(html_of(text), charset, cte) + b"\r\n"
        body_part = (f"Content-Type: multipart/alternative; boundary=\"{alt}\"\r\n\r\n").encode() \
            + f"--{alt}\r\n".encode() + text_part + f"--{alt}\r\n".encode() + html_part + f"--{alt}--\r\n".encode()
    head = ("\r\n".join(headers) + "\r\n").encode()
    if att_parts:
        out = head + f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n".encode() \
            + b"This is a multi-part message in MIME format.\r\n"
        for part in [body_part] + att_parts:
            out += f"--{boundary}\r\n".encode() + part
        out += f"--{boundary}--\r\n".encode()
    elif with_html:
        out = head + body_part
    else:
        out = head + text_part
    return out


def pct(sorted_sizes, p):
    return sorted_sizes[min(len(sorted_sizes) - 1, int(len(sorted_sizes) * p))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--out", help="Maildir directory (created) or mbox file")
    ap.add_argument("--format", choices=["maildir", "mbox"], default="maildir")
    ap.add_argument("--senders-file", help="write the 30 senders as 'name<TAB>address' lines here")
    ap.add_argument("--stats-only", action="store_true", help="generate in memory, print size stats only")
    ap.add_argument("--max-size", type=int, default=MAX_SIZE, help="largest encoded size of a mail in bytes")
    args = ap.parse_args()
    CAP[0] = min(args.max_size, MAX_SIZE)

    senders_list = senders()
    if args.senders_file:
        with open(args.senders_file, "w", encoding="utf-8") as f:
            for name, addr in senders_list:
                f.write(f"{name}\t{addr}\n")
    if not args.out and not args.stats_only:
        ap.error("--out is required (or --stats-only)")

    rng = random.Random(args.seed)
    sizes = []
    n_att = 0
    mbox = None
    if args.out and not args.stats_only:
        if args.format == "maildir":
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(args.out, sub), exist_ok=True)
        else:
            mbox = open(args.out, "wb")
    for i in range(args.count):
        mail = make_mail(rng, i, senders_list)
        sizes.append(len(mail))
        n_att += b"Content-Disposition: attachment" in mail
        if args.stats_only:
            continue
        if mbox:
            mbox.write(b"From bench@postkorb  Mon Sep  1 00:00:00 2025\n")
            body = mail.replace(b"\r\n", b"\n")
            # mboxrd quoting of From_ lines
            lines = [(b">" + l if l.lstrip(b">").startswith(b"From ") else l) for l in body.split(b"\n")]
            mbox.write(b"\n".join(lines) + b"\n")
        else:
            # Maildir name: time.pid_seq.host, all fixed so the corpus is reproducible.
            name = f"1756684800.M{i:06d}P6Q{i}.bench,S={len(mail)}"
            with open(os.path.join(args.out, "new", name), "wb") as f:
                f.write(mail)
    if mbox:
        mbox.close()
    s = sorted(sizes)
    total = sum(s)
    print(f"mails={len(s)} total={total / 1e9:.3f} GB ({total / 2**30:.3f} GiB) median={pct(s, .5) / 1024:.1f} KiB "
          f"p95={pct(s, .95) / 1024:.0f} KiB max={s[-1] / 1024:.0f} KiB with_attachments={n_att / len(s) * 100:.1f}% "
          f"senders={len(senders_list)} seed={args.seed}", file=sys.stderr)


if __name__ == "__main__":
    main()
