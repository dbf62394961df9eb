#!/usr/bin/env python3
"""The durable floor (issue 19): how close Postkorb's import comes to what the server can send and
the disk can make durable, measured in one run against the same private Dovecot.

    bench/floor.py --corpus CORPUS [--mails 10000] [--reps 3] [--postkorb target/release/postkorb]
                   [--tools raw-null,raw-file,mbsync,postkorb]

Tools (interleaved: rep 1 of every tool, then rep 2, …; the INBOX is rebuilt from the corpus and
indexed by Dovecot before every run, as in bench.py, whose helpers this reuses):

- raw-null: one connection, `UID FETCH 1:* BODY.PEEK[]` of the whole INBOX, every literal read
  and thrown away — what the server can send.
- raw-file: the same, every literal appended to one file, then one `fdatasync` — the durable
  floor: every byte fetched and on disk, with no per-mail work at all.
- mbsync: isync with `FSync yes` into a Maildir (bench.py's settings; skipped if not installed).
- postkorb: `postkorb fetch --once` (bench.py's office: parse, route, raw mails durable, SQLite
  FULL, delete on the server).

Prints the medians and the ratios against issue 19's targets: Postkorb ≤ 1.5× raw-file and
≤ 0.5× mbsync. CPU is user+system of the client only (Dovecot's share comes on top of each).
"""

import argparse
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

LITERAL = re.compile(rb"\{(\d+)\}\r\n$")
CHUNK = 1 << 20


def imap_command(sock, f, tag, command):
    sock.sendall(f"{tag} {command}\r\n".encode())
    while True:
        line = f.readline()
        if not line:
            raise SystemExit(f"connection closed during {command.split()[0]}")
        if line.startswith(tag.encode() + b" "):
            if not line.startswith(tag.encode() + b" OK"):
                raise SystemExit(f"{command.split()[0]} failed: {line!r}")
            return


def raw_fetch(port, sink_path):
    """One UID FETCH 1:* BODY.PEEK[] over a raw socket; each literal is read in 1 MiB pieces and
    dropped, or written to `sink_path` (one file, one fdatasync at the end). Returns (mails, bytes)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    f = sock.makefile("rb", buffering=CHUNK)
    f.readline()
    imap_command(sock, f, "a", f"LOGIN {bench.USER} {bench.PASSWORD}")
    imap_command(sock, f, "b", "SELECT INBOX")
    sink = open(sink_path, "wb", buffering=0) if sink_path else None
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    mails = total = 0
    sock.sendall(b"c UID FETCH 1:* BODY.PEEK[]\r\n")
    while True:
        line = f.readline()
        if not line:
            raise SystemExit("connection closed during the fetch")
        if line.startswith(b"c "):
            if not line.startswith(b"c OK"):
                raise SystemExit(f"UID FETCH failed: {line!r}")
            break
        m = LITERAL.search(line)
        if not m:
            continue
        left = int(m.group(1))
        mails += 1
        total += left
        while left:
            k = f.readinto(view[: min(left, CHUNK)])
            if not k:
                raise SystemExit("connection closed inside a literal")
            if sink:
                sink.write(view[:k])
            left -= k
    if sink:
        os.fdatasync(sink.fileno())
        sink.close()
    sock.sendall(b"d LOGOUT\r\n")
    sock.close()
    return mails, total


class RawFetch:
    def __init__(self, work, dovecot, to_file):
        self.work, self.dovecot, self.to_file = work, dovecot, to_file
        self.name = "raw-file" if to_file else "raw-null"
        self.label = ("one UID FETCH 1:* BODY.PEEK[] into one file + one fdatasync (the durable floor)" if to_file
                      else "one UID FETCH 1:* BODY.PEEK[] into nothing")

    def run(self, i, n):
        d = os.path.join(self.work, f"{self.name}-run{i}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        mails, nbytes = raw_fetch(self.dovecot.port, os.path.join(d, "inbox.raw") if self.to_file else None)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
        bench.timed.last_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if mails != n:
            raise SystemExit(f"{self.name} fetched {mails} mails, expected {n}")
        return wall, after.ru_maxrss, f"mails={mails} bytes={nbytes}", d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True, help="Maildir from gen_corpus.py (its new/ is used, sorted)")
    ap.add_argument("--mails", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tools", default="raw-null,raw-file,mbsync,postkorb")
    ap.add_argument("--postkorb", default=os.path.join(bench.REPO, "target", "release", "postkorb"))
    ap.add_argument("--work", default=os.path.join(bench.HERE, "out", "floor"))
    args = ap.parse_args()

    files = sorted(os.path.join(args.corpus, "new", f) for f in os.listdir(os.path.join(args.corpus, "new")))
    if args.mails > len(files):
        raise SystemExit(f"corpus has {len(files)} mails, asked for {args.mails}")
    subset = files[: args.mails]
    senders = [tuple(l.rstrip("\n").split("\t")) for l in open(os.path.join(args.corpus, "senders.tsv"), encoding="utf-8")]
    os.makedirs(args.work, exist_ok=True)
    subprocess.run(["chown", "-R", "nobody:nogroup", args.corpus], check=True)
    dovecot = bench.Dovecot(os.path.join(args.work, "dovecot"))
    runs = {}
    try:
        tools = []
        for t in args.tools.split(","):
            if t in ("raw-null", "raw-file"):
                tools.append(RawFetch(args.work, dovecot, t == "raw-file"))
            elif t == "mbsync":
                if shutil.which("mbsync") is None:
                    bench.log("mbsync is not installed (bench/run.sh installs isync): left out")
                    continue
                tools.append(bench.Mbsync(args.work, dovecot, True))
            elif t == "postkorb":
                tools.append(bench.Postkorb(args.postkorb, args.work, dovecot, senders, 0))
            else:
                raise SystemExit(f"unknown tool {t}")
        nbytes = sum(os.path.getsize(f) for f in subset)
        bench.log(f"== {args.mails} mails, {nbytes / 1e9:.3f} GB ==")
        for rep in range(args.reps):
            for t in tools:
                dovecot.load(subset)
                wall, rss, check, out_dir = t.run(rep, args.mails)
                cpu = getattr(bench.timed, "last_cpu", 0.0)
                r = runs.setdefault(t.name, {"label": t.label, "wall": [], "cpu": [], "check": []})
                r["wall"].append(wall)
                r["cpu"].append(cpu)
                r["check"].append(check)
                bench.log(f"  {t.name:10s} rep {rep + 1}: {wall:7.2f} s  cpu {cpu:6.2f} s  {check}")
                bench.remove_output(out_dir)
    finally:
        dovecot.stop()
    with open(os.path.join(args.work, "floor.json"), "w") as f:
        json.dump({"mails": args.mails, "bytes": nbytes, "runs": runs}, f, indent=1)

    med = {name: statistics.median(r["wall"]) for name, r in runs.items()}
    print(f"\n{args.mails:,} mails, {nbytes / 1e9:.3f} GB, medians of {args.reps} (tools interleaved)\n")
    print("| tool | what | min s | median s | MB/s (median) | client CPU s (median) |")
    print("|---|---|---:|---:|---:|---:|")
    for name, r in runs.items():
        print(f"| {name} | {r['label']} | {min(r['wall']):.2f} | {med[name]:.2f} | {nbytes / 1e6 / med[name]:.0f} | "
              f"{statistics.median(r['cpu']):.2f} |")
    if "postkorb" in med:
        print()
        if "raw-file" in med:
            ratio = med["postkorb"] / med["raw-file"]
            print(f"postkorb ÷ durable floor (raw-file): {ratio:.2f} (target ≤ 1.5: {'met' if ratio <= 1.5 else 'missed'})")
        if "raw-null" in med:
            print(f"postkorb ÷ raw fetch into nothing: {med['postkorb'] / med['raw-null']:.2f}")
        if "mbsync" in med:
            ratio = med["postkorb"] / med["mbsync"]
            print(f"postkorb ÷ mbsync (fsync): {ratio:.2f} (target ≤ 0.5: {'met' if ratio <= 0.5 else 'missed'})")


if __name__ == "__main__":
    main()
