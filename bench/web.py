#!/usr/bin/env python3
"""Web and API under load: Startmaske and /api/v1 with 100 and with 100,000 Vorgänge (issue 6).

    bench/web.py --postkorb target/release/postkorb                      # sizes 100 and 100000
    bench/web.py --sizes 100,5000 --duration 3 --warmup 1                # a quick look

For each size N: a fresh data dir (POSTKORB_DATA_DIR) made with the real CLI (employees, sender rows,
logins, API tokens, a Maildir mailbox with `--verify off --storm-max 0`); 48 German sample mails (plain
UTF-8, ISO-8859-1 quoted-printable, HTML alternative, PDF/JPEG attachments) are imported through the
real importer (`postkorb fetch --once`); these Vorgänge are then multiplied with Python's sqlite3 up to
N, every row written as the store writes it (cases, case_candidates, case_events, attachments with
`in_raw`, one raw_messages row with its own bytes and fingerprint per Vorgang, a ledger row), spread
over several assignees, statuses open/done/waiting and twelve months of received_ms. No ANALYZE is run
(Postkorb does not run it either). Then `postkorb serve` on a free loopback port and, per endpoint,
C keep-alive HTTP/1.1 connections (asyncio, raw sockets) send requests back to back: warm-up, then the
measured window. Endpoints:

  start      GET /  (the Startmaske) with the session of a user logged in through the real form
             (POST /anmeldung with a browser's Origin/Sec-Fetch-Site; each connection its own session)
  api        GET /api/v1/cases?limit=25   (my Vorgänge; API token; 25 = the Startmaske's page size,
             so both sizes return full pages — the default limit 100 would return fewer rows at N=100)
  api-all    GET /api/v1/cases?all=true&limit=25   (every Vorgang; token of an employee with
             „E-Mails automatisch einlesen“)
  api-case   GET /api/v1/cases/{id}   (one of my Vorgänge, ids drawn with a fixed seed)

Every response is checked (status 200; the Startmaske: heading, the user's name, the CSRF field,
exactly min(25, my Vorgänge) rows and „Seite 1 von P“; the API: valid JSON, the expected number of rows,
every row mine / the asked-for id). Any error fails the run (exit status 1) after printing the table.
Prints a table (N, endpoint, requests, req/s, p50/p90/p99/max ms, errors) and p99(largest N)/p99(smallest N)
per endpoint. Numbers only: nothing is asserted about times.
"""

import argparse
import asyncio
import atexit
import base64
import hashlib
import json
import math
import os
import quopri
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PASSWORD = "bench-passwort-2026"
DAY_MS = 86_400_000

# ---------------------------------------------------------------------------------------------
# Helpers shared with bench/claims.py


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cli:
    """`postkorb` subcommands against one data dir."""

    def __init__(self, binary, data_dir):
        self.binary, self.data_dir = binary, data_dir
        os.makedirs(data_dir, exist_ok=True)

    def env(self, **extra):
        # POSTKORB_LOG passes through (e.g. `sqlx::query=debug` to time every statement of a view).
        env = {k: v for k, v in os.environ.items() if not k.startswith("POSTKORB_") or k == "POSTKORB_LOG"}
        # Raw mails inside SQLite (blob_dir = ""): the rows multiplied below are copied with their bytes.
        env.update(POSTKORB_DATA_DIR=self.data_dir, POSTKORB_BLOB_DIR="", RUST_LOG=os.environ.get("RUST_LOG", "warn"),
                   **extra)
        return env

    def __call__(self, *args, stdin=None):
        p = subprocess.run([self.binary, *args], env=self.env(), input=stdin, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"postkorb {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p.stdout

    def token(self, who):
        out = self("employee", "token", who, "--label", "bench")
        return out.strip().split()[-1]

    @property
    def db(self):
        return os.path.join(self.data_dir, "postkorb.db")


_SERVERS = []


def _kill_servers():
    for s in list(_SERVERS):
        s.stop()


atexit.register(_kill_servers)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, lambda *_: sys.exit(1))


class Server:
    """`postkorb serve` on a free loopback port; killed on stop() and at exit."""

    def __init__(self, cli):
        self.cli = cli
        self.port = free_port()
        self.log_path = os.path.join(cli.data_dir, "serve.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([cli.binary, "serve"], env=cli.env(POSTKORB_LISTEN=f"127.0.0.1:{self.port}"),
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _SERVERS.append(self)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"postkorb serve exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200 and json.load(r).get("status") == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"postkorb serve did not answer /health within 60 s:\n{self.tail()}")
            time.sleep(0.05)

    def cpu_seconds(self):
        """User and system CPU time of `serve` so far (all its threads), from /proc."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def context_switches(self):
        """Voluntary and involuntary context switches of all of `serve`'s threads so far (/proc);
        threads that ended are not counted, so read it over a window in which none end."""
        total = 0
        for task in os.listdir(f"/proc/{self.proc.pid}/task"):
            try:
                with open(f"/proc/{self.proc.pid}/task/{task}/status") as f:
                    total += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
            except OSError:
                pass
        return total

    def tail(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read()[-3000:].decode("utf-8", "replace")

    def stop(self):
        if self in _SERVERS:
            _SERVERS.remove(self)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class HttpConn:
    """One keep-alive HTTP/1.1 connection (asyncio streams); reconnects after an error."""

    def __init__(self, port):
        self.port = port
        self.host = f"127.0.0.1:{port}"
        self.r = self.w = None

    async def close(self):
        if self.w is not None:
            self.w.close()
            try:
                await self.w.wait_closed()
            except OSError:
                pass
        self.r = self.w = None

    async def request(self, method, path, headers=(), body=b""):
        if self.w is None:
            self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 22)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        head += [f"{k}: {v}" for k, v in headers]
        if body or method != "GET":
            head.append(f"Content-Length: {len(body)}")
        self.w.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        try:
            raw = await self.r.readuntil(b"\r\n\r\n")
            lines = raw[:-4].decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            hdrs = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                hdrs.setdefault(k.strip().lower(), []).append(v.strip())
            if "content-length" in hdrs:
                data = await self.r.readexactly(int(hdrs["content-length"][0]))
            elif "chunked" in ",".join(hdrs.get("transfer-encoding", [])).lower():
                parts = []
                while True:
                    size = int((await self.r.readline()).split(b";")[0].strip(), 16)
                    if size == 0:
                        while (await self.r.readline()) not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    parts.append(await self.r.readexactly(size))
                    await self.r.readline()
                data = b"".join(parts)
            elif status in (204, 304) or method == "HEAD":
                data = b""
            else:
                data = await self.r.read()
                await self.close()
            if "close" in ",".join(hdrs.get("connection", [])).lower():
                await self.close()
            return status, hdrs, data
        except BaseException:
            await self.close()
            raise


def pct(sorted_xs, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_xs:
        return float("nan")
    k = max(0, min(len(sorted_xs) - 1, math.ceil(p * len(sorted_xs)) - 1))
    return sorted_xs[k]


def q_word(text):
    """An RFC 2047 encoded word (Q, UTF-8) if the text is not plain ASCII."""
    if text.isascii():
        return text
    enc = "".join(chr(b) if (chr(b).isalnum() and b < 128) else ("_" if b == 32 else f"={b:02X}")
                  for b in text.encode("utf-8"))
    return f"=?UTF-8?Q?{enc}?="


def q_phrase(text):
    """A header phrase with each run of non-ASCII words as one encoded word (ASCII words stay plain,
    so the whitespace between them survives decoding)."""
    out, run = [], []
    for w in text.split():
        if w.isascii():
            if run:
                out.append(q_word(" ".join(run)))
                run = []
            out.append(w)
        else:
            run.append(w)
    if run:
        out.append(q_word(" ".join(run)))
    return " ".join(out)


# ---------------------------------------------------------------------------------------------
# Sample mails

SUBJECTS = [
    ("Schadenmeldung", "Kfz Auffahrunfall"),
    ("Vertragsänderung", "Hausrat Wohnfläche"),
    ("Adressänderung", "Umzug nach München"),
    ("Kündigung", "Rechtsschutz zum Jahresende"),
    ("Terminbestätigung", "Beratung Altersvorsorge"),
    ("Rückfrage", "zum Angebot Wohngebäude"),
    ("Schadenmeldung", "Leitungswasser Küche"),
    ("Beitragsanpassung", "Private Haftpflicht"),
]
PARAGRAPHS = [
    "anbei die Unterlagen zum Vorgang {token}. Die Kundin hat heute Vormittag angerufen und bittet um eine "
    "kurze Rückmeldung, ob noch etwas fehlt. Die Schadenhöhe schätzt sie auf etwa 2.400 Euro.",
    "der Kunde möchte die Änderung zum nächsten Monatsersten. Bitte prüfen Sie, ob sich der Beitrag "
    "dadurch ändert, und schicken Sie ihm ein neues Angebot. Vertragsnummer: {token}.",
    "Rückruf erbeten unter 089 1234567 (werktags ab 14 Uhr). Die Fotos vom Schaden reiche ich nach, "
    "sobald der Gutachter da war. Bezug: {token}, Außendienst Süd.",
    "zur Info: Frau Müller aus der Schäferstraße hat die Police {token} gekündigt, weil sie ins Ausland "
    "zieht. Bitte Kündigungsbestätigung schicken und den Bestand bereinigen.",
]
QUOTE = ("\n\n-----Ursprüngliche Nachricht-----\nVon: Kundenservice\nGesendet: Montag, 3. März 2025 10:15\n"
         "Betreff: Ihre Anfrage\n\n> Sehr geehrte Damen und Herren,\n> vielen Dank für Ihre Nachricht. "
         "Wir melden uns in Kürze.\n> Mit freundlichen Grüßen\n> Ihr Versicherungsbüro\n")


def make_mail(rng, index, sender_name, sender_addr, token, date_s):
    """One German sample mail (bytes). Variant by index: plain UTF-8 8bit, ISO-8859-1 QP, HTML
    alternative, a PDF attachment, a PDF and a JPEG. The token (e.g. V-900012) appears as plain ASCII
    in Subject, text and HTML, so copies can replace it byte for byte."""
    word, rest = SUBJECTS[index % len(SUBJECTS)]
    subject = q_phrase(f"{word} {rest} {token}")
    paras = [rng.choice(PARAGRAPHS).format(token=token) for _ in range(2 + index % 3)]
    text = "Hallo zusammen,\n\n" + "\n\n".join(paras) + f"\n\nViele Grüße\n{sender_name}\nAußendienst"
    if index % 4 == 1:
        text += QUOTE
    headers = [
        f"From: {q_phrase(sender_name)} <{sender_addr}>",
        "To: vorgaenge@buero-beispiel.de",
        f"Subject: {subject}",
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(date_s))}",
        f"Message-ID: <tmpl-{index:04d}.{sender_addr.split('@')[0]}@mustermail.de>",
        "MIME-Version: 1.0",
    ]
    variant = index % 5
    if variant == 0:
        headers += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
        body = text.encode("utf-8")
    elif variant == 1:
        headers += ["Content-Type: text/plain; charset=iso-8859-1", "Content-Transfer-Encoding: quoted-printable"]
        body = quopri.encodestring(text.encode("latin-1"))
    else:
        boundary = f"----=_Part_{index:04d}_bench"
        parts = [b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + text.encode()]
        if variant == 2:
            html = "<html><body>" + "".join(f"<p>{p}</p>" for p in text.split("\n\n")) + "</body></html>"
            inner = f"----=_Alt_{index:04d}_bench"
            alt = (f"Content-Type: multipart/alternative; boundary=\"{inner}\"\n\n--{inner}\n").encode()
            alt += parts[0] + f"\n--{inner}\nContent-Type: text/html; charset=utf-8\n".encode()
            alt += b"Content-Transfer-Encoding: quoted-printable\n\n" + quopri.encodestring(html.encode())
            alt += f"\n--{inner}--\n".encode()
            parts = [alt]
        else:
            files = [("Schadenmeldung.pdf", "application/pdf", b"%PDF-1.4\n", rng.randint(3000, 9000))]
            if variant == 4:
                files.append(("Foto_Schaden.jpg", "image/jpeg", b"\xff\xd8\xff\xe0", rng.randint(4000, 12000)))
            for name, ctype, magic, size in files:
                data = magic + rng.randbytes(size)
                b64 = base64.encodebytes(data).replace(b"\r\n", b"\n")
                parts.append(f"Content-Type: {ctype}; name=\"{name}\"\nContent-Transfer-Encoding: base64\n"
                             f"Content-Disposition: attachment; filename=\"{name}\"\n\n".encode() + b64)
        headers.append(f"Content-Type: multipart/mixed; boundary=\"{boundary}\"")
        body = b"This is a multi-part message in MIME format.\n"
        for p in parts:
            body += f"\n--{boundary}\n".encode() + p
        body += f"\n--{boundary}--\n".encode()
    return ("\n".join(headers) + "\n\n").encode() + body + (b"" if body.endswith(b"\n") else b"\n")


def write_maildir(path, mails):
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    for i, raw in enumerate(mails):
        with open(os.path.join(path, "new", f"17000{i:05d}.bench{i}.postkorb"), "wb") as f:
            f.write(raw)


def fingerprint(raw, message_id):
    """Same as postkorb_mail::fingerprint: SHA-256 of the bytes, a NUL, the lower-cased Message-ID."""
    mid = (message_id or "").strip().lstrip("<").rstrip(">").strip().lower()
    return hashlib.sha256(raw + b"\0" + mid.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# The office of this benchmark

RECIPIENTS = [  # (name, username, weight of direct senders) — b1..b4 are the ones who log in
    ("Bernd Berater", "b1"), ("Clara Sachbearbeiterin", "b2"), ("Dieter Dörfler", "b3"), ("Eva Ehrlich", "b4"),
    ("Frank Förster", "b5"), ("Gisela Groß", "b6"), ("Hans Hübner", "b7"), ("Ilse Iser", "b8"),
]
LOGIN_USERS = ["b1", "b2", "b3", "b4"]
SENDERS = [(f"{first} Außendienst", f"ad{i + 1:02d}@mustermail.de") for i, first in enumerate(
    ["Anna", "Ben", "Carla", "David", "Emma", "Felix", "Greta", "Hugo", "Ida", "Jonas", "Klara", "Lukas",
     "Mia", "Noah", "Olga", "Paul"])]
# Sender i → recipients: 12 direct rows (one An each), 4 pools (several An: waiting until claimed).
ROUTES = [["b1"], ["b1"], ["b1"], ["b2"], ["b2"], ["b2"], ["b3"], ["b3"], ["b4"], ["b4"], ["b5"], ["b6"],
          ["b1", "b2", "b3"], ["b3", "b4"], ["b5", "b6", "b7"], ["b7", "b8"]]
MAILS_PER_SENDER = 3


def make_template(cli, seed):
    """Employees, sender rows, logins, tokens, the Maildir mailbox, 48 mails through the importer."""
    rng = random.Random(seed)
    for i, (name, user) in enumerate(RECIPIENTS):
        cli("employee", "add", "--name", name, "--username", user, "--license", f"TAU-{i + 1:04d}")
        if user in LOGIN_USERS:
            cli("employee", "set", user, "--password-stdin", stdin=PASSWORD + "\n")
    cli("employee", "add", "--name", "Lena Leitung", "--username", "leitung", "--permissions", "mail_import")
    for (name, addr), tos in zip(SENDERS, ROUTES):
        cli("employee", "add", "--name", name, "--email", addr)
        for to in tos:
            cli("route", "add", "--from", name, "--to", to)
    tokens = {u: cli.token(u) for u in LOGIN_USERS + ["leitung"]}
    maildir = os.path.join(cli.data_dir, "maildir")
    now_s = time.time()
    mails, index = [], 0
    for s, (name, addr) in enumerate(SENDERS):
        for k in range(MAILS_PER_SENDER):
            mails.append(make_mail(rng, index, name, addr, f"V-{900000 + index:06d}", now_s - 3600 + index))
            index += 1
    write_maildir(maildir, mails)
    cli("mailbox", "set", "--protocol", "maildir", "--path", maildir, "--disposal", "delete", "--verify", "off",
        "--storm-max", "0", "--poll-secs", "60")
    cli("fetch", "--once")
    with sqlite3.connect(cli.db) as db:
        cases = db.execute("SELECT count(*) FROM cases").fetchone()[0]
        kept = db.execute("SELECT count(*), group_concat(reason_code) FROM kept").fetchone()
    if cases != len(mails) or kept[0]:
        raise SystemExit(f"template import: {cases} Vorgänge, kept {kept}; expected {len(mails)} Vorgänge")
    with open(os.path.join(cli.data_dir, "bench-tokens.json"), "w") as f:
        json.dump(tokens, f)
    return tokens


def multiply(db_path, n, seed, now_ms, waiting=20):
    """Adds Vorgänge (copies of the imported ones, each with its own raw bytes) until there are n.
    The newest `waiting` pooled copies whose candidates never log in here stay waiting; all other
    pooled ones were claimed. (Waiting Vorgänge do not pile up with the years: every login and
    „Synchronisieren“ of a candidate claims them, so their number does not grow with n.)"""
    rng = random.Random(seed * 7919 + n)
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA synchronous = OFF")
    have = db.execute("SELECT count(*) FROM cases").fetchone()[0]
    if n < have:
        raise SystemExit(f"--sizes: {n} is less than the {have} imported sample mails")
    emp = {r["username"] or r["name"]: r["id"] for r in db.execute("SELECT id, name, username FROM employees")}
    login_ids = {emp[u] for u in LOGIN_USERS}
    routes = {}
    for r in db.execute("SELECT from_employee, to_employee FROM sender_routes ORDER BY to_employee"):
        routes.setdefault(r["from_employee"], []).append(r["to_employee"])
    templates = []
    for c in db.execute("SELECT c.*, r.data AS raw FROM cases c JOIN raw_messages r ON r.id = c.raw_id ORDER BY c.id"):
        c = dict(c)
        c["attachments"] = [dict(a) for a in db.execute(
            "SELECT position, name, content_type, content_id, size FROM attachments WHERE case_id = ? "
            "ORDER BY position", (c["id"],))]
        c["token"] = re.search(r"V-9\d{5}", c["subject"]).group(0)
        c["mid"] = re.search(rb"^Message-ID: (.*)$", c["raw"], re.M).group(1).decode()
        c["date_line"] = re.search(rb"^Date: .*$", c["raw"], re.M).group(0)
        templates.append(c)
    by_sender = {}
    for t in templates:
        by_sender.setdefault(t["sender_employee"], []).append(t)
    senders = sorted(by_sender)
    mailbox_id = templates[0]["mailbox_id"]
    next_id = db.execute("SELECT max(id) FROM cases").fetchone()[0] + 1
    next_raw = db.execute("SELECT max(id) FROM raw_messages").fetchone()[0] + 1
    count = n - have
    # Received times over the last 12 months, oldest first (ids grow with time, as in real use).
    times = sorted(now_ms - 3600_000 - int(rng.random() * 365 * DAY_MS) for _ in range(count))
    cases, raws, cands, events, atts, ledger = [], [], [], [], [], []

    def flush():
        db.executemany("INSERT INTO raw_messages (id, fingerprint, size, data, blob) VALUES (?, ?, ?, ?, NULL)", raws)
        db.executemany(
            "INSERT INTO cases (id, mailbox_id, raw_id, subject, from_addr, from_name, sender_employee, sent_ms, "
            "received_ms, body_text, body_html, forwarded_json, warnings_json, status, assignee, claimed_ms, "
            "closed_ms, body_in_raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", cases)
        db.executemany("INSERT INTO case_candidates (case_id, employee_id) VALUES (?, ?)", cands)
        db.executemany(
            "INSERT INTO attachments (case_id, position, name, content_type, content_id, size, data, blob, in_raw) "
            "VALUES (?, ?, ?, ?, ?, ?, X'', NULL, 1)", atts)
        db.executemany("INSERT INTO case_events (case_id, at_ms, kind, employee_id, detail) VALUES (?, ?, ?, ?, ?)",
                       events)
        db.executemany(
            "INSERT INTO ledger (mailbox_id, source_key, fingerprint, message_id, outcome, case_id, imported_ms, "
            "disposed_ms) VALUES (?, ?, ?, ?, 'case', ?, ?, ?)", ledger)
        for xs in (cases, raws, cands, events, atts, ledger):
            xs.clear()

    picks = [rng.choice(by_sender[rng.choice(senders)]) for _ in times]
    stay_waiting = set()
    for i in range(count - 1, -1, -1):
        if len(stay_waiting) >= waiting:
            break
        pool = routes[picks[i]["sender_employee"]]
        if len(pool) > 1 and not (set(pool) & login_ids):
            stay_waiting.add(i)
    stats = {"open": 0, "done": 0, "waiting": 0}
    for i, received in enumerate(times):
        t = picks[i]
        cid, rid = next_id + i, next_raw + i
        token = f"V-{rng.randrange(100000, 1000000):06d}"
        sent = (received - rng.randrange(5_000, 2 * 3600_000)) // 1000 * 1000  # Date: has seconds
        mid = f"<pk-{cid}.{t['id']}@mustermail.de>"
        raw = t["raw"].replace(t["token"].encode(), token.encode())
        head, sep, body = raw.partition(b"\n\n")
        head = head.replace(f"Message-ID: {t['mid']}".encode(), f"Message-ID: {mid}".encode(), 1)
        head = head.replace(t["date_line"], time.strftime("Date: %a, %d %b %Y %H:%M:%S +0000",
                                                          time.gmtime(sent // 1000)).encode(), 1)
        raw = head + sep + body
        fp = fingerprint(raw, mid)
        raws.append((rid, fp, len(raw), raw))
        candidates = routes[t["sender_employee"]]
        age = now_ms - received
        p_done = 0.97 if age > 60 * DAY_MS else 0.85 if age > 14 * DAY_MS else 0.35
        events.append((cid, received, "created", None, ""))
        detail = ",".join(map(str, candidates))
        if len(candidates) == 1:
            assignee, claimed = candidates[0], received
            events.append((cid, received, "assigned", assignee, detail))
        elif i in stay_waiting:
            # A pool none of the logged-in users is in: still waiting (they would claim it at login).
            assignee = claimed = None
            events.append((cid, received, "waiting", None, detail))
        else:
            assignee, claimed = rng.choice(candidates), received + rng.randrange(60_000, 2 * DAY_MS)
            claimed = min(claimed, now_ms - 60_000)
            events.append((cid, received, "waiting", None, detail))
            events.append((cid, claimed, "claimed", assignee, ""))
        closed = None
        if assignee is None:
            status = "waiting"
        elif rng.random() < p_done:
            status, closed = "done", min(claimed + rng.randrange(3600_000, 20 * DAY_MS), now_ms - 30_000)
            events.append((cid, closed, "closed", assignee, ""))
        else:
            status = "open"
        stats[status] += 1
        cases.append((cid, mailbox_id, rid, t["subject"].replace(t["token"], token), t["from_addr"], t["from_name"],
                      t["sender_employee"], sent, received, t["body_text"].replace(t["token"], token),
                      t["body_html"].replace(t["token"], token) if t["body_html"] else None, t["forwarded_json"],
                      t["warnings_json"], status, assignee, claimed, closed, t["body_in_raw"]))
        cands.extend((cid, c) for c in candidates)
        atts.extend((cid, a["position"], a["name"], a["content_type"], a["content_id"], a["size"])
                    for a in t["attachments"])
        ledger.append((mailbox_id, f"maildir:bench-{cid}", fp, mid.strip("<>"), cid, received, received + 1000))
        if len(cases) >= 5000:
            flush()
    flush()
    # The per-employee numbers the store keeps beside the rows (migration 0011), if this binary has them.
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'case_counts'").fetchone():
        db.execute("DELETE FROM case_counts")
        db.execute("INSERT INTO case_counts (employee_id, cases) SELECT assignee, COUNT(*) FROM cases "
                   "WHERE assignee IS NOT NULL AND status <> 'moved' GROUP BY assignee")
    db.commit()
    problems = db.execute("PRAGMA foreign_key_check").fetchall()
    if problems:
        raise SystemExit(f"seeded rows break foreign keys: {problems[:5]}")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return stats


async def login(port, username):
    """Logs in through the form like a browser; returns (conn, cookie header, csrf)."""
    conn = HttpConn(port)
    st, _, body = await conn.request("GET", "/anmeldung")
    if st != 200 or b'name="username"' not in body:
        raise SystemExit(f"GET /anmeldung: {st} {body[:300]!r}")
    form = f"username={username}&password={PASSWORD.replace(' ', '+')}".encode()
    st, hdrs, body = await conn.request("POST", "/anmeldung", [
        ("Content-Type", "application/x-www-form-urlencoded"), ("Origin", f"http://{conn.host}"),
        ("Sec-Fetch-Site", "same-origin")], form)
    cookie = next((c.split(";")[0] for c in hdrs.get("set-cookie", []) if c.startswith("postkorb_session=")), None)
    if st != 303 or cookie is None or hdrs.get("location") != ["/"]:
        raise SystemExit(f"login {username}: {st} {hdrs} {body[:300]!r}")
    st, _, body = await conn.request("GET", "/", [("Cookie", cookie)])
    m = re.search(rb'name="csrf" value="([^"]+)"', body)
    if st != 200 or not m:
        raise SystemExit(f"Startmaske after login: {st} {body[:300]!r}")
    return conn, cookie, m.group(1).decode()


async def load(port, connections, warmup, duration, make, cpu=None):
    """`make(i)` → (conn, next_request() → (method, path, headers), check(status, body) → error or None).
    Runs all connections back to back; returns (latencies in ms of requests started in the window,
    window length, errors). With `cpu` (a dict holding a `read()` of the server's CPU seconds), its
    `window` is set to the server's CPU seconds from the window's start until the last answer; with
    a `switches()` in it too, `switched` to the server threads' context switches in that time."""
    setups = [await make(i) for i in range(connections)]
    lat, errors = [], []
    if cpu is not None:
        async def mark():
            await asyncio.sleep(warmup)
            cpu["start"] = cpu["read"]()
            if "switches" in cpu:
                cpu["switches_start"] = cpu["switches"]()
        marker = asyncio.ensure_future(mark())
    t_start = time.perf_counter()
    t_measure, t_end = t_start + warmup, t_start + warmup + duration
    last_done = [t_measure]

    async def worker(conn, next_request, check):
        while True:
            t0 = time.perf_counter()
            if t0 >= t_end:
                return
            method, path, headers = next_request()
            try:
                st, _, body = await conn.request(method, path, headers)
                err = check(st, body)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
                err = f"{type(e).__name__}: {e}"
            t1 = time.perf_counter()
            if err:
                errors.append(f"{method} {path}: {err}")
            if t0 >= t_measure:
                lat.append((t1 - t0) * 1000)
                last_done[0] = max(last_done[0], t1)

    await asyncio.gather(*(worker(*s) for s in setups))
    if cpu is not None:
        await marker
        cpu["window"] = cpu["read"]() - cpu["start"]
        if "switches" in cpu:
            cpu["switched"] = cpu["switches"]() - cpu["switches_start"]
    for conn, _, _ in setups:
        await conn.close()
    return lat, last_done[0] - t_measure, errors


def user_facts(db_path):
    """Per login user: employee id, name, number of visible Vorgänge and up to 2000 of their ids."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        facts = {}
        for u in LOGIN_USERS:
            eid, name = db.execute("SELECT id, name FROM employees WHERE username = ?", (u,)).fetchone()
            n = db.execute("SELECT count(*) FROM cases WHERE assignee = ? AND status <> 'moved'", (eid,)).fetchone()[0]
            ids = [r[0] for r in db.execute("SELECT id FROM cases WHERE assignee = ? ORDER BY id LIMIT 2000", (eid,))]
            facts[u] = (eid, name, n, ids)
        total = db.execute("SELECT count(*) FROM cases WHERE status <> 'moved'").fetchone()[0]
    return facts, total


def html_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")


async def run_size(args, n, tokens, data_dir):
    cli = Cli(args.postkorb, data_dir)
    server = Server(cli)
    rows = []
    try:
        port = server.port
        # Log every connection in once (each its own session), before anything is measured: the
        # login also claims what waits for the user (the imported pool mails of b1..b4).
        sessions = []
        for i in range(args.connections):
            sessions.append(await login(port, LOGIN_USERS[i % len(LOGIN_USERS)]))
        facts, total = user_facts(cli.db)

        async def make_start(i):
            conn, cookie, csrf = sessions[i]
            user = LOGIN_USERS[i % len(LOGIN_USERS)]
            _, name, count, _ = facts[user]
            rows_expected = min(25, count)
            pages = max(1, -(-count // 25))
            must = [b"<h1>Startmaske</h1>", f'<span class="who">{html_escape(name)}</span>'.encode(),
                    f'name="csrf" value="{csrf}"'.encode(), f"Seite 1 von {pages}\n".encode()]
            req = ("GET", "/", [("Cookie", cookie)])

            def check(st, body):
                if st != 200:
                    return f"status {st}: {body[:200]!r}"
                missing = [m for m in must if m not in body]
                if missing:
                    return f"missing {missing[0]!r}"
                got = body.count(b'<tr class="')
                return None if got == rows_expected else f"{got} rows, expected {rows_expected}"

            return conn, lambda: req, check

        def api_list(all_):
            async def make(i):
                conn = HttpConn(port)
                user = "leitung" if all_ else LOGIN_USERS[i % len(LOGIN_USERS)]
                eid = None if all_ else facts[user][0]
                expected = min(25, total if all_ else facts[user][2])
                path = "/api/v1/cases?all=true&limit=25" if all_ else "/api/v1/cases?limit=25"
                req = ("GET", path, [("Authorization", f"Bearer {tokens[user]}")])

                def check(st, body):
                    if st != 200:
                        return f"status {st}: {body[:200]!r}"
                    rows = json.loads(body)
                    if len(rows) != expected:
                        return f"{len(rows)} rows, expected {expected}"
                    if eid is not None and any(r["assignee"] != eid for r in rows):
                        return "a row that is not mine"
                    if not all(r["subject"] and r["from_addr"] for r in rows):
                        return "a row without subject or sender"
                    return None

                return conn, lambda: req, check
            return make

        async def make_case(i):
            conn = HttpConn(port)
            user = LOGIN_USERS[i % len(LOGIN_USERS)]
            eid, _, _, ids = facts[user]
            rng = random.Random(args.seed * 1000 + i)
            auth = [("Authorization", f"Bearer {tokens[user]}")]
            state = {}

            def next_request():
                state["id"] = rng.choice(ids)
                return ("GET", f"/api/v1/cases/{state['id']}", auth)

            def check(st, body):
                if st != 200:
                    return f"status {st}: {body[:200]!r}"
                c = json.loads(body)
                s = c["summary"]
                if s["id"] != state["id"] or s["assignee"] != eid or not c["text"] or not c["events"]:
                    return f"wrong Vorgang {s['id']} for {state['id']}"
                return None

            return conn, next_request, check

        makers = {"start": make_start, "api": api_list(False), "api-all": api_list(True), "api-case": make_case}
        for ep in args.endpoints:
            lat, window, errors = await load(port, args.connections, args.warmup, args.duration, makers[ep])
            lat.sort()
            rows.append(dict(n=n, endpoint=ep, requests=len(lat), rps=len(lat) / window if window else 0,
                             p50=pct(lat, 0.50), p90=pct(lat, 0.90), p99=pct(lat, 0.99), max=lat[-1] if lat else 0,
                             errors=len(errors), first_error=errors[0] if errors else ""))
            print(f"  N={n:>7} {ep:<9} {len(lat):>7} req  {rows[-1]['rps']:8.1f} req/s  p99 {rows[-1]['p99']:7.2f} ms"
                  f"  errors {len(errors)}", flush=True)
        for conn, _, _ in sessions:
            await conn.close()
        if server.proc.poll() is not None:
            raise SystemExit(f"postkorb serve died:\n{server.tail()}")
    finally:
        server.stop()
    return rows, facts, total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postkorb", default=os.path.join(ROOT, "target/release/postkorb"),
                    help="the binary (built with `cargo build --release -p postkorb-app` only if missing)")
    ap.add_argument("--sizes", default="100,100000", help="numbers of Vorgänge, comma-separated (default 100,100000)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds per endpoint before measuring")
    ap.add_argument("--duration", type=float, default=10.0, help="measured seconds per endpoint")
    ap.add_argument("--endpoints", default="start,api,api-all,api-case",
                    help="comma-separated: start, api, api-all, api-case")
    ap.add_argument("--waiting", type=int, default=20,
                    help="pooled Vorgänge left waiting (for employees who do not log in here); default 20 at every N")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--work", default=os.path.join(HERE, "out", "web"), help="data dirs go here (replaced)")
    ap.add_argument("--keep", action="store_true", help="keep the data dirs afterwards")
    args = ap.parse_args()
    args.endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    for e in args.endpoints:
        if e not in ("start", "api", "api-all", "api-case"):
            ap.error(f"unknown endpoint {e}")
    sizes = [int(s) for s in args.sizes.split(",")]
    if not os.path.exists(args.postkorb):
        subprocess.run(["cargo", "build", "--release", "-p", "postkorb-app"], cwd=ROOT, check=True)
    args.postkorb = os.path.abspath(args.postkorb)

    if os.path.exists(args.work):
        shutil.rmtree(args.work)
    template = os.path.join(args.work, "template")
    t0 = time.monotonic()
    tokens = make_template(Cli(args.postkorb, template), args.seed)
    print(f"template: {len(SENDERS) * MAILS_PER_SENDER} sample mails imported through `postkorb fetch --once` "
          f"({time.monotonic() - t0:.1f} s)", flush=True)
    now_ms = int(time.time() * 1000)
    results, notes = [], []
    for n in sizes:
        d = os.path.join(args.work, f"n{n}")
        shutil.copytree(template, d)
        t0 = time.monotonic()
        stats = multiply(os.path.join(d, "postkorb.db"), n, args.seed, now_ms, args.waiting)
        mb = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.startswith("postkorb.db")) / 1e6
        print(f"N={n}: seeded in {time.monotonic() - t0:.1f} s, database {mb:.0f} MB, copies {stats}", flush=True)
        rows, facts, total = asyncio.run(run_size(args, n, tokens, d))
        results += rows
        with sqlite3.connect(os.path.join(d, "postkorb.db")) as db:
            by_status = dict(db.execute("SELECT status, count(*) FROM cases GROUP BY status").fetchall())
        notes.append(f"N={n}: {total} Vorgänge {by_status}; logged-in users have " + ", ".join(
            f"{u}: {facts[u][2]}" for u in LOGIN_USERS))
        if not args.keep:
            shutil.rmtree(d)
    if not args.keep:
        shutil.rmtree(template)

    print()
    print(f"{args.connections} connections, warm-up {args.warmup:g} s, measured {args.duration:g} s per endpoint")
    for line in notes:
        print(line)
    print()
    print("| N | endpoint | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['n']:,} | {r['endpoint']} | {r['requests']:,} | {r['rps']:.1f} | {r['p50']:.2f} | {r['p90']:.2f} "
              f"| {r['p99']:.2f} | {r['max']:.2f} | {r['errors']} |")
    if len(sizes) > 1:
        lo, hi = min(sizes), max(sizes)
        print()
        print(f"| endpoint | p99 at {hi:,} ÷ p99 at {lo:,} | req/s at {hi:,} ÷ req/s at {lo:,} |")
        print("|---|---:|---:|")
        for ep in args.endpoints:
            a = next(r for r in results if r["n"] == lo and r["endpoint"] == ep)
            b = next(r for r in results if r["n"] == hi and r["endpoint"] == ep)
            print(f"| {ep} | {b['p99'] / a['p99']:.2f} | {b['rps'] / a['rps']:.2f} |")
    failed = [r for r in results if r["errors"]]
    if failed:
        print()
        for r in failed:
            print(f"FAILED: N={r['n']} {r['endpoint']}: {r['errors']} errors, first: {r['first_error']}")
        sys.exit(1)


if __name__ == "__main__":
    main()
