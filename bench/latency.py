#!/usr/bin/env python3
"""Arrival latency: IMAP APPEND -> Vorgang visible through the API, next to a plain IDLE watcher.

    bench/latency.py --postkorb target/release/postkorb [--mails 200] [--gap 1.0] [--seed 19]
    bench/latency.py --postkorb BUILD --arrivals closed [--pause 0.2]
    options: [--no-phases] [--watcher examine]

Starts a private Dovecot (empty INBOX) and `postkorb serve` (IMAP IDLE, disposal delete, verify off)
with a fresh data dir. A separate raw IMAP connection sits in IDLE and timestamps the server's
untagged reports. For each mail: t0 = just before APPEND is sent; t_case = first poll of
GET /api/v1/cases?all=true (every 2 ms, API token of an employee with „E-Mails automatisch
einlesen“) that lists the mail's subject; t_idle = the watcher's first report (`EXISTS` or
`EXPUNGE`) after the APPEND was answered and before t_case — a sync that reports anything then saw
the mail. A mail Postkorb imported and deleted before the watcher's next sync is never reported to
the watcher at all; its t_idle is taken as t_case, the earliest it can be (in the watcher's
favour), and the script prints how many mails that was. Prints p50/p90/p99/max, Postkorb − watcher
at p50 and p99 (issue 19's target: each ≤ 30 ms) and the median of the per-mail differences.

Arrivals: `open` (default) appends the mails at times of their own — a seeded Poisson stream,
`--gap` s apart on average — as mail from outside comes, never waiting for Postkorb. `closed`
appends the next mail `--pause` s after the last one became visible (the earlier form of this
script). With Dovecot the closed loop measures itself: an IDLE process reports a change 0.5 s
after the first change it notices, and Postkorb's own deletion of a mail (≈ 10 ms after it heard
of it) starts its IDLE process's next timer, so the next mail, sent a fixed pause later, is
always reported ≈ 500 ms − pause − 10 ms after its APPEND (a pause of 0.05 / 0.2 / 0.35 s gives
Postkorb ≈ 457 / 306 / 156 ms at p50), while the watcher's delay sweeps 0–500 ms
(docs/benchmarks.md, „Arrival: the closed loop“).

The watcher SELECTs the INBOX like any client (default); `--watcher examine` opens it read-only.
A read-write watcher writes the index when it syncs a new mail first (taking its Recent flag),
which starts its own next 0.5 s timer at once.

Phases (unless --no-phases): `serve` runs with POSTKORB_LOG=arrival=debug, and the events of that
target (EXISTS seen by Postkorb's IDLE connection, the pass's steps, the commit) between a mail's
APPEND and its visibility are matched to the mail by time; the table gives each event's median and
p99 in ms after APPEND, in the order they happen (with open arrivals a window may hold the events
of an earlier mail too).
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

SENDERS = [("Anna Außendienst", "sender-01@mustermail.de"), ("Bernd Zwei", "sender-02@aussendienst-nord.de")]


class IdleWatcher(threading.Thread):
    """Raw IMAP connection in IDLE; records the monotonic time of every `* n EXISTS`."""

    def __init__(self, port, select="SELECT"):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.f = self.sock.makefile("rb")
        self.f.readline()
        for tag, cmd in (("a1", f"LOGIN {bench.USER} {bench.PASSWORD}"), ("a2", f"{select} INBOX")):
            self.sock.sendall(f"{tag} {cmd}\r\n".encode())
            while not self.f.readline().startswith(tag.encode()):
                pass
        self.sock.sendall(b"a3 IDLE\r\n")
        while not self.f.readline().startswith(b"+"):
            pass
        self.lines = []
        self.lock = threading.Lock()

    def run(self):
        for line in self.f:
            words = line.split()
            if len(words) == 3 and words[0] == b"*" and words[2] in (b"EXISTS", b"EXPUNGE"):
                with self.lock:
                    self.lines.append(time.monotonic())

    def told_of(self, appended, gone):
        """When the watcher knew of a mail appended (APPEND answered) at `appended` and visible
        in Postkorb at `gone` (Postkorb deletes it from the INBOX right after), and whether it
        knew before then. Any report at T in between comes from a sync that saw the mail (a
        server reports expunges and new mails of a sync together). A mail imported and deleted
        before the watcher's next sync is never reported to it: then its time is taken as `gone`,
        the earliest it can be — counted in the watcher's favour."""
        with self.lock:
            t = next((t for t in self.lines if appended <= t < gone), None)
        return (t, True) if t is not None else (gone, False)


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z\s+DEBUG\s+arrival:\s+(.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def arrival_events(path):
    """(wall-clock seconds, event name) of every `arrival` debug line in serve's log."""
    import datetime
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = LOG_LINE.match(ANSI.sub("", line).strip())
            if not m:
                continue
            stamp, rest = m.groups()
            head, _, frac = stamp.partition(".")
            t = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc).timestamp()
            # The event's name is its message: the text before the first ` key=value` field.
            name = re.split(r"\s+\w+=", rest, maxsplit=1)[0].strip()
            out.append((t + float("0." + frac), name))
    return out


def phase_table(events, windows):
    """Per event name: ms after APPEND of its first occurrence within each mail's window."""
    per = {}
    for w0, w1 in windows:
        seen = {}
        for t, name in events:
            if w0 <= t <= w1 and name not in seen:
                seen[name] = (t - w0) * 1000
        for name, ms in seen.items():
            per.setdefault(name, []).append(ms)
    return sorted(per.items(), key=lambda kv: statistics.median(kv[1]))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def mail(i):
    subject = f"Latenz {i:04d} Schadenmeldung"
    name, addr = SENDERS[i % len(SENDERS)]
    raw = (f"From: {addr}\r\nTo: vorgaenge@example.de\r\nSubject: {subject}\r\n"
           f"Message-ID: <lat-{i}-{time.time_ns()}@bench>\r\nDate: Mon, 1 Sep 2025 10:00:00 +0200\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           "Hallo, bitte den Schaden prüfen. Grüße\r\n").encode()
    return subject, raw


def closed_loop(args, appender, watcher, req):
    """One mail at a time: the next is appended `--pause` s after the last became visible."""
    wall = time.time() - time.monotonic()  # monotonic → wall clock, for serve's log
    idle_ms, case_ms, windows = [], [], []
    unseen = 0
    for i in range(args.mails):
        subject, raw = mail(i)
        t0 = time.monotonic()
        appender.append("INBOX", None, None, raw)
        t_done = time.monotonic()
        t_case = None
        while t_case is None:
            body = urllib.request.urlopen(req, timeout=5).read()
            if subject.encode() in body:
                t_case = time.monotonic()
            elif time.monotonic() - t0 > 30:
                raise SystemExit(f"mail {i} not visible after 30 s")
            else:
                time.sleep(0.002)
        t_idle, seen = watcher.told_of(t_done, t_case)
        unseen += not seen
        case_ms.append((t_case - t0) * 1000)
        windows.append((t0 + wall, t_case + wall))
        idle_ms.append((t_idle - t0) * 1000)
        time.sleep(args.pause)
    print(f"{unseen} of {args.mails} mails were imported and deleted before the watcher's next report "
          "(counted as known to it when Postkorb showed them)")
    return idle_ms, case_ms, windows


def open_loop(args, appender, watcher, req):
    """Mails at times of their own (a seeded Poisson stream, `--gap` s apart on average, at least
    10 ms): an APPEND never waits for Postkorb or the watcher, as mail from outside does not; a
    second thread polls the API every 2 ms for every mail not yet visible."""
    import random
    rng = random.Random(args.seed)
    wall = time.time() - time.monotonic()
    sent = {}  # subject -> (index, t0)
    done_at = {}  # subject -> APPEND answered
    visible = {}
    done = threading.Event()
    lock = threading.Lock()

    def poll():
        while not done.is_set():
            body = urllib.request.urlopen(req, timeout=5).read()
            now = time.monotonic()
            with lock:
                for subject in sent:
                    if subject not in visible and subject.encode() in body:
                        visible[subject] = now
            time.sleep(0.002)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    t_next = time.monotonic() + 0.5
    order = []
    for i in range(args.mails):
        subject, raw = mail(i)
        while time.monotonic() < t_next:
            time.sleep(min(0.001, max(0.0, t_next - time.monotonic())))
        t0 = time.monotonic()
        with lock:
            sent[subject] = (i, t0)
        appender.append("INBOX", None, None, raw)
        with lock:
            done_at[subject] = time.monotonic()
        order.append(subject)
        t_next = t0 + max(0.01, rng.expovariate(1.0 / args.gap))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if len(visible) == len(sent):
                break
        time.sleep(0.01)
    done.set()
    poller.join(timeout=10)
    if len(visible) < len(sent):
        raise SystemExit(f"{len(sent) - len(visible)} mails not visible after 30 s")
    idle_ms, case_ms, windows = [], [], []
    unseen = 0
    for subject in order:
        _, t0 = sent[subject]
        t_idle, seen = watcher.told_of(done_at[subject], visible[subject])
        unseen += not seen
        idle_ms.append((t_idle - t0) * 1000)
        case_ms.append((visible[subject] - t0) * 1000)
        windows.append((t0 + wall, visible[subject] + wall))
    print(f"{unseen} of {len(order)} mails were imported and deleted before the watcher's next report "
          "(counted as known to it when Postkorb showed them)")
    return idle_ms, case_ms, windows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postkorb", default=os.path.join(bench.REPO, "target", "release", "postkorb"))
    ap.add_argument("--mails", type=int, default=200)
    ap.add_argument("--work", default=os.path.join(bench.HERE, "out", "latency"))
    ap.add_argument("--no-phases", action="store_true", help="serve without the arrival debug log")
    ap.add_argument("--arrivals", choices=("open", "closed"), default="open",
                    help="open: mails at random times of their own (default); closed: the next mail "
                         "--pause s after the last one became visible")
    ap.add_argument("--gap", type=float, default=1.0, help="open: mean seconds between mails")
    ap.add_argument("--seed", type=int, default=19, help="open: the seed of the arrival times")
    ap.add_argument("--pause", type=float, default=0.2, help="closed: seconds after a mail became visible")
    ap.add_argument("--watcher", choices=("select", "examine"), default="select",
                    help="how the plain IDLE watcher opens the INBOX (read-write SELECT or read-only EXAMINE)")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)

    dovecot = bench.Dovecot(os.path.join(args.work, "dovecot"))
    serve = None
    try:
        dovecot.load([])
        pk = bench.Postkorb(args.postkorb, args.work, dovecot, SENDERS, 0)
        data = pk.template
        env = pk.env(data)
        port = bench.free_port()
        env["POSTKORB_LISTEN"] = f"127.0.0.1:{port}"
        if not args.no_phases:
            env["POSTKORB_LOG"] = "arrival=debug,postkorb=info,warn"
        subprocess.run([args.postkorb, "employee", "set", "bernd", "--permissions", "mail_import"], env=env,
                       check=True, capture_output=True)
        tok = subprocess.run([args.postkorb, "employee", "token", "bernd"], env=env, check=True,
                             capture_output=True, text=True).stdout
        token = [w for w in tok.split() if len(w) >= 20][-1]
        serve = subprocess.Popen([args.postkorb, "serve"], env=env, stdout=open(os.path.join(args.work, "serve.log"), "w"),
                                 stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/api/v1/cases?all=true&limit=20"
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(req, timeout=2).read()
                break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("postkorb serve did not answer:\n" + open(os.path.join(args.work, "serve.log")).read())
                time.sleep(0.1)
        time.sleep(2)  # let the importer reach IDLE
        watcher = IdleWatcher(dovecot.port, args.watcher.upper())
        watcher.start()
        appender = dovecot.imap()
        if args.arrivals == "closed":
            idle_ms, case_ms, windows = closed_loop(args, appender, watcher, req)
        else:
            idle_ms, case_ms, windows = open_loop(args, appender, watcher, req)
        appender.logout()
        res = {"mails": args.mails, "arrivals": args.arrivals, "idle_ms": idle_ms, "case_ms": case_ms}
        phases = [] if args.no_phases else phase_table(arrival_events(os.path.join(args.work, "serve.log")), windows)
        res["phases"] = {name: xs for name, xs in phases}
        with open(os.path.join(args.work, "latency.json"), "w") as f:
            json.dump(res, f)
        how = (f"one at a time, {args.pause} s apart" if args.arrivals == "closed"
               else f"open arrivals, {args.gap} s apart on average, seed {args.seed}")
        print(f"| measure ({args.mails} mails, {how}) | p50 ms | p90 ms | p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|")
        for label, xs in ((f"plain IDLE watcher ({args.watcher.upper()}): APPEND → `* EXISTS`", idle_ms),
                          ("Postkorb: APPEND → Vorgang in GET /api/v1/cases", case_ms)):
            print(f"| {label} | {pct(xs, .5):.0f} | {pct(xs, .9):.0f} | {pct(xs, .99):.0f} | {max(xs):.0f} |")
        d50, d99 = pct(case_ms, .5) - pct(idle_ms, .5), pct(case_ms, .99) - pct(idle_ms, .99)
        print(f"\nPostkorb − watcher: p50 {d50:+.0f} ms, p99 {d99:+.0f} ms (target: each ≤ 30 ms: "
              f"{'met' if d50 <= 30 and d99 <= 30 else 'missed'}); median of the per-mail differences "
              f"{statistics.median(c - i for c, i in zip(case_ms, idle_ms)):+.0f} ms")
        if phases:
            print("\n| arrival event in serve's log (first after APPEND) | mails | p50 ms | p99 ms |")
            print("|---|---:|---:|---:|")
            for name, xs in phases:
                print(f"| {name} | {len(xs)} | {pct(xs, .5):.1f} | {pct(xs, .99):.1f} |")
            print(f"| visible in GET /api/v1/cases | {len(case_ms)} | {pct(case_ms, .5):.1f} | {pct(case_ms, .99):.1f} |")
    finally:
        if serve:
            serve.terminate()
            serve.wait(timeout=20)
        dovecot.stop()


if __name__ == "__main__":
    main()
