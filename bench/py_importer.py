#!/usr/bin/env python3
"""The peer "what PHP/Python helpdesks do": imaplib + email + sqlite3.

For every message in INBOX: UID FETCH BODY.PEEK[] (one round trip per mail), parse with the
standard library's email package, store the raw bytes, the text/HTML bodies and the attachments
(decoded) in SQLite, commit (per message by default, durable: journal WAL + synchronous=FULL like
Postkorb), then flag the server copy \\Deleted; one EXPUNGE at the end (like `--disposal delete`).

    py_importer.py --host 127.0.0.1 --port 10143 --user bench --password-stdin --db /tmp/x.sqlite [--batch 1]
"""

import argparse
import email
import email.header
import email.utils
import imaplib
import sqlite3
import sys
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY, uid INTEGER UNIQUE, message_id TEXT, from_addr TEXT, subject TEXT,
  date TEXT, size INTEGER, raw BLOB, body_text TEXT, body_html TEXT, imported REAL);
CREATE TABLE IF NOT EXISTS attachments (
  id INTEGER PRIMARY KEY, message INTEGER REFERENCES messages(id), filename TEXT, content_type TEXT,
  size INTEGER, data BLOB);
"""


def decode_text(part):
    data = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "us-ascii"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("latin-1")


def parse_and_store(db, uid, raw):
    # email's default (compat32) policy, as most helpdesk code calls it: message_from_bytes + walk().
    msg = email.message_from_bytes(raw)
    text = html = None
    attachments = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename()
        if filename or part.get("Content-Disposition", "").lower().startswith("attachment"):
            data = part.get_payload(decode=True) or b""
            attachments.append((str(email.header.make_header(email.header.decode_header(filename or ""))), ctype, data))
        elif ctype == "text/plain" and text is None:
            text = decode_text(part)
        elif ctype == "text/html" and html is None:
            html = decode_text(part)
    from_addr = email.utils.parseaddr(msg.get("From", ""))[1]
    subject = str(email.header.make_header(email.header.decode_header(msg.get("Subject", ""))))
    cur = db.execute(
        "INSERT INTO messages (uid, message_id, from_addr, subject, date, size, raw, body_text, body_html, imported)"
        " VALUES (?,?,?,?,?,?,?,?,?,?)",
        (uid, msg.get("Message-ID", ""), from_addr, subject, msg.get("Date", ""), len(raw), raw, text, html,
         time.time()))
    mid = cur.lastrowid
    for filename, ctype, data in attachments:
        db.execute("INSERT INTO attachments (message, filename, content_type, size, data) VALUES (?,?,?,?,?)",
                   (mid, filename, ctype, len(data), data))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-stdin", action="store_true")
    ap.add_argument("--db", required=True)
    ap.add_argument("--batch", type=int, default=1, help="messages per transaction (1 = commit per message)")
    ap.add_argument("--keep", action="store_true", help="do not delete the server copies")
    args = ap.parse_args()
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else ""

    db = sqlite3.connect(args.db)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.executescript(SCHEMA)

    t0 = time.monotonic()
    imap = imaplib.IMAP4(args.host, args.port)
    imap.login(args.user, password)
    typ, _ = imap.select("INBOX")
    assert typ == "OK"
    typ, data = imap.uid("SEARCH", None, "ALL")
    uids = [int(u) for u in data[0].split()]
    pending = 0
    done = []
    for uid in uids:
        typ, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
        raw = next(item[1] for item in data if isinstance(item, tuple))
        parse_and_store(db, uid, raw)
        pending += 1
        done.append(uid)
        if pending >= args.batch:
            db.commit()
            pending = 0
            if not args.keep:
                imap.uid("STORE", ",".join(map(str, done)), "+FLAGS.SILENT", r"(\Deleted)")
            done = []
    db.commit()
    if not args.keep:
        if done:
            imap.uid("STORE", ",".join(map(str, done)), "+FLAGS.SILENT", r"(\Deleted)")
        imap.expunge()
    imap.logout()
    n = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    na = db.execute("SELECT count(*) FROM attachments").fetchone()[0]
    print(f"py_importer: {len(uids)} fetched, {n} messages, {na} attachments in {time.monotonic() - t0:.2f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
